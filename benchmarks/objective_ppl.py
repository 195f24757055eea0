"""Benchmark: ppl scoring with shared-prefix KV-cache reuse vs the naive per-option way.

A 4-option multiple-choice set (mmlu_mini, the option texts as continuations) behind a
long shared 8-shot context, on SmolLM2-135M on CPU. Both ways run in the same process on
the same requests; their per-option NLLs are asserted equal within 1e-4.

    .venv/bin/python benchmarks/objective_ppl.py [--n 40] [--export data.jsonl] [--dump ours.json]
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
    args = ap.parse_args()
    items, gold = build_items(args.n)
    if args.export:
        with open(args.export, "w", encoding="utf-8") as fh:
            for (ctx, conts), g in zip(items, gold):
                fh.write(json.dumps({"prompt": ctx, "choices": conts, "gold": g}) + "\n")
        print(f"exported {len(items)} questions to {args.export}")
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


if __name__ == "__main__":
    main()
