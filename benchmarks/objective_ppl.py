"""Benchmark: ppl scoring with shared-prefix KV-cache reuse vs the naive per-option way.

A 4-option multiple-choice set (mmlu_mini, the option texts as continuations) behind a
long shared 8-shot context, on SmolLM2-135M on CPU. Both ways run in the same process on
the same requests; their per-option NLLs are asserted equal within 1e-4.

`--lm-eval-prompts` builds lm-eval's prompts instead (`Question: ...\nAnswer:` + " " + the
option text, a few-shot preamble drawn per question, so no two questions share a prefix);
`benchmarks/peers/lm_eval.sh` exports those (`--export`) and scores them with Arena's
production ppl path (`--dump`: `objective.ppl.score_choices`).

    .venv/bin/python benchmarks/objective_ppl.py [--n 40] [--lm-eval-prompts] [--export data.jsonl] [--dump ours.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_items(n: int) -> tuple[list[tuple[str, list[str]]], list[int]]:
    """(prompt, option continuations) and gold indices, prompts rendered by our templates."""
    from objective.datasets import load_dataset
    from objective.templates import PromptBuilder

    ds = load_dataset("mmlu_mini_ppl")
    b = PromptBuilder(ds.card.template, ds.dev, shots=len(ds.dev), seed=0, per_subset=False,
                      continuation="text")
    samples = ds.samples[:n]
    return [(b.prompt(s), b.continuations(s)) for s in samples], [int(s.answer) for s in samples]


def build_lm_eval_items(n: int, shots: int = 5) -> tuple[list[tuple[str, list[str]]], list[int]]:
    """lm-eval's multiple-choice form: per-question few-shot preambles, " " + option text.

    Each question draws its own `shots` examples (seeded by its index) from the dev split
    plus the other test questions, so contexts differ from the first example on.
    """
    import random

    from objective.datasets import load_dataset

    ds = load_dataset("mmlu_mini_ppl")
    samples = ds.samples[:n]

    def block(s, with_answer: bool) -> str:
        q = f"Question: {s.question}\nAnswer:"
        return q + " " + s.choices[int(s.answer)] if with_answer else q

    items, gold = [], []
    for i, s in enumerate(samples):
        pool = list(ds.dev) + [t for t in ds.samples if t.id != s.id]
        examples = random.Random(i).sample(pool, shots)
        prompt = "\n\n".join([block(e, True) for e in examples] + [block(s, False)])
        items.append((prompt, [" " + c for c in s.choices]))
        gold.append(int(s.answer))
    return items, gold


def accuracy(nlls: list[list[float]], gold: list[int]) -> float:
    return 100.0 * sum(min(range(len(v)), key=v.__getitem__) == g for v, g in zip(nlls, gold)) / len(gold)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--export", help="write the rendered data for lm-eval (JSONL) and exit")
    ap.add_argument("--dump", help="write our per-option NLLs (JSON)")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    ap.add_argument("--lm-eval-prompts", action="store_true",
                    help="lm-eval's prompt form: per-question 5-shot preambles, ' ' + option text")
    args = ap.parse_args()
    items, gold = build_lm_eval_items(args.n) if args.lm_eval_prompts else build_items(args.n)
    if args.export:
        with open(args.export, "w", encoding="utf-8") as fh:
            for (ctx, conts), g in zip(items, gold):
                # lm-eval adds target_delimiter " " itself: export the bare option texts
                choices = [c[1:] for c in conts] if args.lm_eval_prompts else conts
                fh.write(json.dumps({"prompt": ctx, "choices": choices, "gold": g}) + "\n")
        print(f"exported {len(items)} questions to {args.export}")
        return
    if args.lm_eval_prompts:
        dump_production(items, gold, args)
        return

    import torch

    from arena.models.bundled import ensure_smollm2
    from arena.models.hf import HFModel
    from arena.models.prefix import PrefixScorer, naive_nll, truncate_group

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = HFModel(ensure_smollm2(), name="smollm2-135m", device="cpu", batch_size=args.batch_size)
    groups = [(model.token_ids(c, "")[0], [model.token_ids(c, o)[1] for o in opts]) for c, opts in items]
    ctx_tokens = sum(len(g[0]) for g in groups) / len(groups)
    scorer = PrefixScorer(model.model, model.max_seq_len, args.batch_size)
    t0 = time.perf_counter()
    ours = [[r.nll for r in rs] for rs in scorer.score(groups)]
    t_ours = time.perf_counter() - t0
    print(f"{len(items)} questions x 4 options, mean context {ctx_tokens:.0f} tokens, SmolLM2-135M fp32 CPU, "
          f"{torch.get_num_threads()} threads")
    print(f"ours  (shared prefix + KV cache): {t_ours:7.2f} s  accuracy {accuracy(ours, gold):5.1f}%  "
          f"tokens fed {scorer.stats.tokens} in {scorer.stats.forwards} forwards")
    if args.dump:
        Path(args.dump).write_text(json.dumps({"nll": ours, "gold": gold, "acc": accuracy(ours, gold)}))
    if args.skip_naive:
        return
    pairs = [(truncate_group(c, opts, model.max_seq_len), o) for c, opts in groups for o in opts]
    t0 = time.perf_counter()
    flat = iter(r.nll for r in naive_nll(model.model, pairs))
    naive = [[next(flat) for _ in opts] for _, opts in groups]
    t_naive = time.perf_counter() - t0
    naive_tokens = sum(len(c) + len(o) - 1 for c, o in pairs)
    diff = max(abs(a - b) for x, y in zip(ours, naive) for a, b in zip(x, y))
    print(f"naive (one forward per option):   {t_naive:7.2f} s  accuracy {accuracy(naive, gold):5.1f}%  "
          f"tokens fed {naive_tokens} in {len(pairs)} forwards")
    print(f"max |NLL ours - naive| = {diff:.2e}   speed-up x{t_naive / t_ours:.1f}")
    assert diff < 1e-4, f"NLLs differ by {diff}"


def dump_production(items: list[tuple[str, list[str]]], gold: list[int], args: argparse.Namespace) -> None:
    """Score with Arena's production ppl path (what `arena eval` runs) and dump the NLLs."""
    import torch

    from arena.models.bundled import ensure_smollm2
    from arena.models.hf import HFModel
    from objective.ppl import score_choices

    if args.threads:
        torch.set_num_threads(args.threads)
    model = HFModel(ensure_smollm2(), name="smollm2-135m", device="cpu", batch_size=args.batch_size)
    t0 = time.perf_counter()
    nll = [[r.nll for r in rs] for rs in score_choices(model, items, batch_size=args.batch_size)]
    t = time.perf_counter() - t0
    print(f"{len(items)} questions, lm-eval prompts, scored in {t:.2f} s, accuracy {accuracy(nll, gold):.1f}%")
    if args.dump:
        Path(args.dump).write_text(json.dumps({"nll": nll, "gold": gold, "acc": accuracy(nll, gold),
                                               "score_seconds": t}))


if __name__ == "__main__":
    main()
