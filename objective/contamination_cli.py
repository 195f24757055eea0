"""`arena contamination`: n-gram overlap with a corpus, Min-K% Prob and perplexity gaps.

    arena contamination --datasets mmlu_mini_ppl --corpus crawl/ --ngram 13
    arena contamination --datasets mmlu_mini_ppl --models smollm2-135m --min-k-threshold -6

Writes `<work-dir>/contamination/{summary.json, labels.jsonl}`; the labels feed
`arena eval --contamination-labels`, the summary the report's contamination section
(`arena report <run dir>` when the work dir is a run directory).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import typer


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="arena contamination",
        description="Is a benchmark in a training corpus, or known to a model?",
    )
    p.add_argument(
        "--datasets", nargs="+", required=True, help="registered names or card/data paths"
    )
    p.add_argument(
        "--corpus", nargs="*", default=[], help="JSONL/TXT/parquet files or folders (streamed)"
    )
    p.add_argument("--text-field", default="text", help="text field of JSONL/parquet corpora")
    p.add_argument("--index", help="a saved n-gram index (.npy) instead of streaming --corpus")
    p.add_argument(
        "--save-index", help="build the corpus n-gram index and save it (.npy) for reuse"
    )
    p.add_argument("--ngram", type=int, default=13, help="n of the overlap (13: GPT-3; 8: Llama 2)")
    p.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="dirty when the share of words in shared n-grams exceeds this (0: any overlap; "
        "Llama 2 uses 0.8)",
    )
    p.add_argument(
        "--models",
        nargs="*",
        default=[],
        help="models: accuracy on clean vs dirty items; "
        "local ones also Min-K%% Prob and the perplexity gap",
    )
    p.add_argument("--min-k", type=float, default=0.2, help="k of Min-K%% Prob (share of tokens)")
    p.add_argument(
        "--min-k-threshold", type=float, help="flag items whose Min-K%% score exceeds this"
    )
    p.add_argument(
        "--gap-threshold", type=float, help="flag items whose perplexity gap exceeds this (nats)"
    )
    p.add_argument(
        "--rewritten", help="JSONL {id, question}: meaning-preserving rewrites for the gap"
    )
    p.add_argument("--limit", type=int, help="only the first N samples of each dataset")
    p.add_argument("--work-dir", default="outputs/contamination")
    p.add_argument("--json", action="store_true")
    p.add_argument("--debug", action="store_true")
    return p


def _progress(label: str):  # noqa: ANN202
    start = time.perf_counter()

    def report(done: int) -> None:
        mb = done / 1e6
        print(
            f"\r{label}: {mb:,.0f} MB ({mb / max(time.perf_counter() - start, 1e-9):.1f} MB/s)",
            end="",
            file=sys.stderr,
            flush=True,
        )

    return report


def _corpus_index(args: argparse.Namespace) -> Any:
    import numpy as np

    from objective import ngrams

    if args.index:
        return np.load(args.index, mmap_mode="r")
    if args.save_index:
        index = ngrams.build_index(args.corpus, args.ngram, args.text_field, _progress("indexing"))
        print(file=sys.stderr)
        np.save(args.save_index, index)
        return index
    return None


def run_contamination(args: argparse.Namespace) -> dict[str, Any]:
    from arena.core.errors import ConfigError
    from objective import contamination as C
    from objective.datasets import load_dataset

    if not args.corpus and not args.index and not args.models:
        raise ConfigError(
            "give --corpus (n-gram overlap) and/or --models (Min-K% Prob, accuracy)", field="corpus"
        )
    datasets = [load_dataset(d) for d in args.datasets]
    th = C.Thresholds(args.threshold, args.min_k_threshold, args.gap_threshold)
    index = _corpus_index(args) if (args.corpus or args.index) else None
    sigs = []
    for ds in datasets:
        samples = ds.samples[: args.limit] if args.limit else list(ds.samples)
        sig = C.ItemSignals(ds.name, [s.id for s in samples])
        if args.corpus or args.index:
            sig.ngram = C.ngram_overlap(
                samples,
                args.corpus,
                args.ngram,
                index=index,
                text_field=args.text_field,
                progress=None if index is not None else _progress(f"scanning ({ds.name})"),
            )
            if index is None:
                print(file=sys.stderr)
        sigs.append((ds, samples, sig))
    if args.models:
        _model_signals(args, sigs)
    return _write(args, sigs, th)


def _model_signals(args: argparse.Namespace, sigs: list) -> None:
    from arena.core.registry import resolve_model
    from arena.core.store import Store
    from arena.models.factory import build_model
    from objective import contamination as C
    from objective.runner import EvalConfig, evaluate_dataset

    work = Path(args.work_dir)
    rewritten = C.read_rewritten(args.rewritten)
    store = Store(work / "arena.sqlite")
    try:
        for name in args.models:
            spec = resolve_model(name)
            model = build_model(spec)
            for ds, samples, sig in sigs:
                evaluate_dataset(
                    model, ds, work_dir=work, store=store, config=EvalConfig(limit=args.limit)
                )
                from arena.core.records import Prediction

                preds = store.all(Prediction, model=model.name, dataset=ds.name)
                sig.correct[spec.label] = {p.sample_id: p.correct or 0.0 for p in preds}
                if spec.backend == "hf":
                    texts = [C.item_text(s) for s in samples]
                    lps = C.token_logprobs(model, texts, spec.batch_size)
                    sig.min_k[spec.label] = [C.min_k_prob(lp, args.min_k) for lp in lps]
                    sig.gap[spec.label] = C.ppl_gaps(
                        model, samples, rewritten, batch_size=spec.batch_size
                    )
            del model
    finally:
        store.close()


def _write(args: argparse.Namespace, sigs: list, th: Any) -> dict[str, Any]:
    from objective import contamination as C

    rows, labels = [], []
    for _, _, sig in sigs:
        rows += C.summary_rows(sig, th)
        labels += C.label_rows(sig, th)
    out = Path(args.work_dir) / "contamination"
    out.mkdir(parents=True, exist_ok=True)
    note = (
        f"{args.ngram}-gram overlap: dirty when more than {th.ngram:g} of an item's words lie in "
        f"n-grams found in the corpus; Min-K% Prob with k={args.min_k:g}; ppl gap = NLL/token of "
        "the shuffled (or rewritten) item minus the published one. Accuracy on clean/dirty items."
    )
    summary = {
        "rows": _clean(rows),
        "note": note,
        "ngram": args.ngram,
        "threshold": th.ngram,
        "corpus": [str(c) for c in args.corpus],
        "index": args.index or args.save_index,
    }
    (out / "summary.json").write_text(
        json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    (out / "labels.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in labels), encoding="utf-8"
    )
    return {"rows": rows, "labels": out / "labels.jsonl", "summary": out / "summary.json"}


def _clean(rows: list[dict]) -> list[dict]:
    import math

    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in rows
    ]


def _print(rows: list[dict]) -> None:
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    cells = [cols] + [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def _main(argv: list[str]) -> None:
    from arena.core.errors import ArenaError

    args = build_parser().parse_args(argv)
    try:
        out = run_contamination(args)
    except ArenaError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    if args.json:
        print(
            json.dumps(
                {"rows": _clean(out["rows"]), "labels": str(out["labels"])},
                indent=1,
                ensure_ascii=False,
            )
        )
        return
    _print(out["rows"])
    print(f"labels: {out['labels']}\nsummary: {out['summary']}")


def register(app: typer.Typer) -> None:
    """Add `arena contamination` to the CLI."""

    @app.command(
        "contamination",
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        help="Contamination: n-gram overlap with a corpus, Min-K% Prob, perplexity gap; clean/dirty "
        "labels. See `arena contamination --help`.",
    )
    def contamination(ctx: typer.Context) -> None:
        _main(list(ctx.args))
