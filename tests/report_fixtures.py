"""A small, plausible store for report tests: 3 models, 2 datasets with subsets, a pairwise
judge that saw both orders (with a first-position bias and a few parse failures), a scoring
judge, human votes and stage statistics. Deterministic (seeded) and built in well under a second.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from arena.core.records import Battle, DatasetResult, Judgment, Score
from arena.core.store import Store

MODELS = ["llama-3-8b-instruct", "qwen2-7b-instruct", "smollm2-135m-instruct"]
STRENGTH = {"llama-3-8b-instruct": 0.8, "qwen2-7b-instruct": 0.5, "smollm2-135m-instruct": -1.0}
CATEGORIES = ["writing", "reasoning", "coding"]
QUESTIONS = [f"q{i:02d}" for i in range(24)]
JUDGE = "pairwise-v1@gpt-4o-mini"
SCORER = "single-v1@prometheus-7b"
RUN = "run-2024-demo"
GROUPS = {"mmlu": {"stem": ["abstract_algebra", "astronomy"]}}
BASELINE = "smollm2-135m-instruct"
BAD_OUTPUT = "<script>alert('pwned')</script> I think both answers are fine | maybe [[C]]"

STAGE_STATS = {
    "infer": {"seconds": 412.5, "calls": 1830, "cached": 120, "tokens": 951_230, "cost": 0.0},
    "evaluate": {"seconds": 3.2, "calls": 0, "cached": 0, "tokens": 0, "cost": 0.0},
    "judge": {"seconds": 268.0, "calls": 312, "cached": 24, "tokens": 402_115, "cost": 0.4127},
    "report": {"seconds": 1.4, "calls": 0, "cached": 0, "tokens": 0, "cost": 0.0},
}

CONFIG = {
    "run": RUN,
    "models": [
        {"name": m, "backend": "openai", "base_url": "http://127.0.0.1:8000/v1",
         "api_key": "sk-live-0123456789abcdefABCDEF", "max_tokens": 512} for m in MODELS
    ],
    "datasets": ["mmlu", "gsm8k"],
    "judges": [{"name": "pairwise-v1", "model": "gpt-4o-mini", "both_orders": True, "api_key_env": "OPENAI_API_KEY"}],
    "store": "postgresql://arena:hunter2@db.internal:5432/arena",
    "report": {"baseline": BASELINE, "groups": GROUPS},
}

_SUBSETS = {"mmlu": ["abstract_algebra", "anatomy", "astronomy"], "gsm8k": ["easy", "hard"]}
_BASE = {"mmlu": 62.0, "gsm8k": 48.0}


def dataset_results() -> list[DatasetResult]:
    """What objective's runner writes: a whole-dataset row, one row per subset (0-1 accuracy),
    and for the ppl dataset the accuracy under another length normalisation."""
    out = []
    for ds, subsets in _SUBSETS.items():
        mode = "ppl" if ds == "mmlu" else "gen"
        base = {"dataset": ds, "version": "4d2f1a", "metric": "accuracy", "mode": mode}
        for mi, model in enumerate(MODELS):
            rows = []
            for si, sub in enumerate(subsets):
                value = round((_BASE[ds] + 12 * STRENGTH[model] - 4 * si + 1.5 * mi) / 100, 4)
                rows.append(DatasetResult(model=model, subset=sub, value=value, n=100 + 37 * si, **base))
            n = sum(r.n for r in rows)
            whole = sum(r.value * r.n for r in rows) / n
            out.append(DatasetResult(model=model, value=whole, n=n, **base))
            out += rows
            if mode == "ppl":
                out.append(DatasetResult(model=model, value=whole - 0.0123, n=n,
                                         **{**base, "metric": "accuracy_token"}))
    return out


def _verdict(rng: np.random.Generator, first: str, second: str) -> str:
    """A judge verdict on (shown first, shown second) in shown terms, biased to the first."""
    if rng.random() < 0.15:
        return "model_a"
    p = 1 / (1 + np.exp(-(STRENGTH[first] - STRENGTH[second]) * 1.6))
    u = rng.random()
    return "model_a" if u < p - 0.08 else "model_b" if u > p + 0.08 else "tie"


def judge_records(rng: np.random.Generator) -> tuple[list[Judgment], list[Battle]]:
    """Both orders of every (question, pair); every 13th call fails to parse.

    Verdicts are positional labels ("A" = the answer shown first), as the judges write them,
    and battles come from the judges package's own consolidation of the two orders.
    """
    from judges.pairwise import judgments_to_battles

    judgments = []
    i = 0
    for q, (a, b) in itertools.product(QUESTIONS, itertools.combinations(MODELS, 2)):
        for order, first, second in (("AB", a, b), ("BA", b, a)):
            i += 1
            label = {"model_a": "A", "model_b": "B", "tie": "C"}[_verdict(rng, first, second)]
            failed = i % 13 == 0
            judgments.append(Judgment(
                judge=JUDGE, judge_hash="j1", mode="pairwise", question_id=q, model_a=a, model_b=b,
                order=order, raw_output=BAD_OUTPUT if failed else f"My verdict: [[{label}]]",
                verdict=None if failed else label, parse_error="no [[A]]/[[B]]/[[C]] tag" if failed else None,
                prompt_tokens=700 + i % 50, completion_tokens=40 + i % 7, cost=0.00031, latency=1.2 + (i % 5) / 10,
            ))
    return judgments, judgments_to_battles(judgments)


def human_battles(rng: np.random.Generator) -> list[Battle]:
    out = []
    for q, (a, b) in itertools.product(QUESTIONS[:16], itertools.combinations(MODELS, 2)):
        first, second = (a, b) if rng.random() < 0.5 else (b, a)
        p = 1 / (1 + np.exp(-(STRENGTH[first] - STRENGTH[second]) * 1.3))
        u = rng.random()
        winner = "model_a" if u < p - 0.1 else "model_b" if u > p + 0.1 else "tie"
        out.append(Battle(source="human", question_id=q, model_a=first, model_b=second, winner=winner,
                          features={"len_a": 310.0, "len_b": 305.0}))
    return out


def score_records(rng: np.random.Generator) -> tuple[list[Score], list[Judgment]]:
    scores, judgments = [], []
    for qi, q in enumerate(QUESTIONS):
        cat = CATEGORIES[qi % len(CATEGORIES)]
        for m in MODELS:
            s = float(np.clip(np.round(6.5 + 2 * STRENGTH[m] + rng.normal(0, 1.2)), 1, 10))
            scores.append(Score(source=f"judge:{SCORER}", model=m, question_id=q, category=cat, score=s))
            judgments.append(Judgment(judge=SCORER, judge_hash="s1", mode="single", question_id=q,
                                      model_a=m, order="A", raw_output=f"Rating: [[{s:.0f}]]",
                                      score=s, prompt_tokens=500, completion_tokens=30, latency=0.8))
    return scores, judgments


def make_store(path: str | Path, run: str = RUN) -> Store:
    """A fresh SQLite store at ``path`` holding the whole fixture under run id ``run``."""
    rng = np.random.default_rng(7)
    store = Store(path)
    judgments, judge_battles = judge_records(rng)
    scores, score_judgments = score_records(rng)
    store.put_many(dataset_results(), run)
    store.put_many(judgments + score_judgments, run)
    store.put_many(judge_battles + human_battles(rng) + scores, run)
    # A record of another run that the report of RUN must leave out.
    store.put(DatasetResult(model="other-run-model", dataset="mmlu", metric="accuracy", mode="ppl",
                            value=1.0, n=1), "another-run")
    return store
