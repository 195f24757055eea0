"""`arena eval`: objective evaluation with OpenCompass-style flags.

Flags take several values like OpenCompass's (`--datasets a b --models x y`), so the
arguments are parsed with argparse inside the typer command; heavy imports stay inside.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer


def _batch_size(value: str) -> int | str:
    if value.lower() == "auto":
        return "auto"
    try:
        return max(1, int(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, got {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="arena eval", description="Evaluate models on objective datasets (ppl/gen).")
    p.add_argument("--datasets", nargs="+", required=True, help="registered names or .yaml/.jsonl/.csv paths")
    p.add_argument("--models", nargs="+", default=[], help="registered model names (HF or API)")
    p.add_argument("--hf-path", help="a local transformers model folder")
    p.add_argument("--hf-abbr", help="display name of the --hf-path model")
    p.add_argument("--tokenizer-path")
    p.add_argument("--tokenizer-kwargs", nargs="*", default=[], metavar="K=V")
    p.add_argument("--model-kwargs", nargs="*", default=[], metavar="K=V")
    p.add_argument("--max-seq-len", type=int)
    p.add_argument("--max-out-len", type=int)
    p.add_argument("--batch-size", type=_batch_size, default=8,
                   help="questions/prompts per forward pass, or auto (the largest that fits in free memory)")
    p.add_argument("--num-gpus", type=int, default=0,
                   help="N >= 2: N local workers, one GPU each, share the samples (a model larger than one "
                        "GPU: --model-kwargs device_map=auto instead)")
    p.add_argument("--shots", type=int, help="override the cards' number of few-shot examples")
    p.add_argument("--cot", action="store_true", help="chain-of-thought prompts (gen datasets)")
    p.add_argument("--prompt-style", choices=["auto", "base", "chat"], default="auto")
    p.add_argument("--limit", type=int, help="evaluate only the first N samples of each dataset "
                   "(of each subject for C-Eval, CMMLU and MMLU)")
    p.add_argument("--data-dir", help="root of published data sets laid out as OpenCompassData-core "
                   "(default: $ARENA_DATA_DIR, else ./data)")
    p.add_argument("--needle-lengths", help="needle datasets: context lengths, e.g. 1k,2k,4k,8k")
    p.add_argument("--needle-depths", help="needle datasets: depths in %%, e.g. 0:100:10 or 0,50,100")
    p.add_argument("--contamination-labels", metavar="FILE",
                   help="labels.jsonl of `arena contamination`: also report each dataset on clean/dirty samples")
    p.add_argument("--circular", action="store_true",
                   help="CircularEval on multiple-choice datasets: every cyclic rotation of the options; "
                        "reports original, mean-rotation and circular (all rotations right) accuracy")
    p.add_argument("--variants", type=int, default=0, metavar="N",
                   help="N prompt variants (card templates, few-shot seeds, option orders): mean, std, "
                        "min, max of each metric and answer stability")
    p.add_argument("--temperature", type=float, help="gen sampling temperature (default: the model's, else 0)")
    p.add_argument("--seed", type=int, help="few-shot order and sampling seed")
    p.add_argument("--work-dir", default="outputs/default", help="runs go to WORK_DIR/<timestamp>/")
    p.add_argument("--reuse", "-r", nargs="?", const="latest", metavar="RUN",
                   help="resume the latest run in --work-dir (or the named timestamp)")
    p.add_argument("--dry-run", action="store_true", help="print samples, calls and estimated tokens; run nothing")
    p.add_argument("--debug", action="store_true", help="full tracebacks, sequential, logs on stderr")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    return p


def parse_kv(items: list[str], flag: str) -> dict[str, Any]:
    """`k=v` pairs; values are read as YAML scalars (numbers, booleans, strings)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            from arena.core.errors import ConfigError

            raise ConfigError(f"expected key=value, got '{item}'", field=flag)
        k, v = item.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


def _specs(args: argparse.Namespace) -> list[Any]:
    from arena.core.errors import ConfigError
    from arena.core.registry import ModelSpec, resolve_model

    over = {"max_seq_len": args.max_seq_len, "batch_size": args.batch_size}
    specs = [resolve_model(n, **over) for n in args.models]
    if args.hf_path:
        folder = Path(args.hf_path).expanduser()
        if not folder.is_dir() or not (folder / "config.json").is_file():
            why = "does not exist" if not folder.exists() else "has no config.json (not a transformers model folder)"
            raise ConfigError(f"--hf-path {args.hf_path} {why}", field="hf-path")
        specs.append(ModelSpec(
            name=args.hf_abbr or folder.name, backend="hf", path=args.hf_path,
            tokenizer_path=args.tokenizer_path, num_gpus=args.num_gpus,
            tokenizer_kwargs=parse_kv(args.tokenizer_kwargs, "--tokenizer-kwargs"),
            model_kwargs=parse_kv(args.model_kwargs, "--model-kwargs"),
            max_seq_len=args.max_seq_len or 2048, batch_size=args.batch_size))
    if not specs:
        raise ConfigError("give --hf-path DIR or --models NAME ...", field="models")
    return specs


def run_eval(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate every model on every dataset; write predictions and summaries."""
    from objective.datasets import load_dataset
    from objective.eval_run import EvalRun, check_unique
    from objective.loaders import using_data_dir
    from objective.runner import EvalConfig
    from objective.summarizer import summarize, write_summary

    with using_data_dir(args.data_dir):  # bad data fails before any model loads
        datasets = [load_dataset(d) for d in args.datasets]
    if args.needle_lengths or args.needle_depths:
        from objective.needle import with_grid

        datasets = with_grid(datasets, args.needle_lengths, args.needle_depths)
    specs = _specs(args)
    check_unique(specs, datasets)
    sampling = {k: getattr(args, k) for k in ("temperature", "seed") if getattr(args, k) is not None}
    config = EvalConfig(batch_size=args.batch_size, max_out_len=args.max_out_len, shots=args.shots,
                        cot=args.cot, prompt_style=args.prompt_style, limit=args.limit, **sampling)
    if args.dry_run:
        from objective.estimate import plan_eval

        return {"plan": plan_eval(specs, datasets, config)}
    run = EvalRun(args.work_dir, args.reuse, debug=args.debug)
    from objective.robustness import RobustOptions

    run.robust = RobustOptions(circular=getattr(args, "circular", False), variants=getattr(args, "variants", 0))
    try:
        run.write_config(vars(args), specs, config)
        if args.num_gpus > 1 and not args.debug:  # workers fill the store; the table is made below
            _run_on_gpus(args.num_gpus, specs, datasets, config, run)
        results = run.evaluate(specs, datasets, config)
    except BaseException:
        run.close()
        raise
    store, work = run.store, run.dir
    if args.contamination_labels:
        from objective.contamination import split_by_labels
        from objective.robustness import is_robustness_metric

        plain = [r for r in results if not is_robustness_metric(r.metric)]  # clean/dirty of the main rows
        results += split_by_labels(plain, store, args.contamination_labels)
    from objective.robustness import is_robustness_metric
    from objective.robustness_summary import robustness_rows, write_robustness

    table = summarize([r for r in results if not is_robustness_metric(r.metric)])
    paths = write_summary(table, work / "summary")
    robust = robustness_rows(results)
    paths |= write_robustness(robust, work / "summary")
    run.close()
    return {"results": results, "table": table, "robustness": robust, "paths": paths, "run_dir": work,
            **run.calls(),
            "tokens": run.tokens, "truncated": run.truncated}


#: how `--num-gpus N` runs its shards: `arena.runners.eval_shards.run_on_gpus`, wired in by
#: the `arena` command (arena.cli), since objective/ does not import the runners above it
GPU_SHARDS: Callable[..., None] | None = None


def _run_on_gpus(n: int, specs: list[Any], datasets: list[Any], config: Any, run: Any) -> None:
    if GPU_SHARDS is None:
        from arena.core.errors import ArenaError

        raise ArenaError("--num-gpus needs the `arena` command (it runs the GPU workers)")
    GPU_SHARDS(n, specs, datasets, config, run)


def _main(argv: list[str]) -> None:
    from arena.core.errors import ArenaError

    args = build_parser().parse_args(argv)
    try:
        out = run_eval(args)
    except ArenaError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    if "plan" in out:
        _print_plan(out["plan"], args.json)
        return
    if args.json:
        keys = ("dataset", "subset", "metric", "mode", "model", "value", "n")
        rows = [{k: getattr(r, k) for k in keys} for r in out["results"]]
        extra = {k: out[k] for k in ("calls", "cached", "tokens", "truncated")}
        print(json.dumps({"results": rows, "run_dir": str(out["run_dir"]), **extra}, ensure_ascii=False,
                         indent=1))
        return
    from objective.summarizer import to_text

    print(to_text(out["table"]), end="")
    if out.get("robustness"):
        from objective import robustness_summary

        print("\n" + robustness_summary.to_text(out["robustness"]), end="")
    print(f"model calls: {out['calls']} ({out['cached']} served by the cache); run: {out['run_dir']}")
    print("summary: " + ", ".join(str(p) for p in out["paths"].values()))


def _print_plan(plan: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"plan": plan, "total_tokens": sum(r["est_tokens"] for r in plan)}, indent=1))
        return
    cols = ("model", "dataset", "mode", "samples", "calls", "est_prompt_tokens", "est_out_tokens", "est_tokens")
    cells = [list(cols)] + [[str(r[c]) for c in cols] for r in plan]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    print(f"total: {sum(r['calls'] for r in plan)} model calls, ~{sum(r['est_tokens'] for r in plan)} tokens")


def register(app: typer.Typer) -> None:
    """Add `arena eval` to the CLI."""

    @app.command(
        "eval", add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        help="Evaluate models on objective datasets (ppl/gen), OpenCompass-style flags. "
             "See `arena eval --help`.",
    )
    def eval_(ctx: typer.Context) -> None:
        _main(list(ctx.args))
