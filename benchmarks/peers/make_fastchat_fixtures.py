"""Write small FastChat files in fschat 0.2.36's exact layouts (synthetic, seeded).

OUT (default ``tests/golden/fastchat``) gets:

* ``battles.json``: Chatbot Arena battles as ``clean_battle_data.py`` writes them (a JSON list;
  ``model_a, model_b, winner`` in ``model_a|model_b|tie|tie (bothbad)``, ``judge`` (the rater),
  ``turn, anony, language, tstamp, question_id`` and ``conv_metadata`` with token and markdown
  counts).
* ``model_judgment/gpt-4_single.jsonl`` and ``gpt-4_pair.jsonl``: MT-Bench judgments as
  ``gen_judgment.py`` writes them (``score`` -1 and winner ``"error"`` when the judge's output
  did not parse).

Usage: ``.venv/bin/python benchmarks/peers/make_fastchat_fixtures.py [OUT]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

MODELS = [
    "vicuna-13b",
    "koala-13b",
    "alpaca-13b",
    "llama-13b",
    "chatglm-6b",
    "dolly-v2-12b",
    "gpt-4",
    "claude-v1",
]
SKILL = dict(zip(MODELS, [0.6, 0.3, 0.0, -0.8, -0.2, -1.0, 1.5, 1.2]))
LANGS = ["English", "English", "English", "Chinese", "German"]


def _battles(rng: np.random.Generator, n: int) -> list[dict]:
    out = []
    for i in range(n):
        a, b = rng.choice(len(MODELS), 2, replace=False)
        ma, mb = MODELS[a], MODELS[b]
        p = 1 / (1 + np.exp(-(SKILL[ma] - SKILL[mb])))
        u = rng.uniform()
        winner = (
            "tie"
            if u < 0.12
            else "tie (bothbad)"
            if u < 0.2
            else "model_a"
            if rng.uniform() < p
            else "model_b"
        )
        meta = {
            "sum_user_tokens": int(rng.integers(5, 80)),
            "sum_assistant_a_tokens": int(rng.integers(20, 900)),
            "sum_assistant_b_tokens": int(rng.integers(20, 900)),
            "context_a_tokens": 0,
            "context_b_tokens": 0,
            "turns": 1,
            "header_count_a": {f"h{k}": int(rng.integers(0, 3)) for k in range(1, 7)},
            "list_count_a": {
                "ordered": int(rng.integers(0, 6)),
                "unordered": int(rng.integers(0, 6)),
            },
            "bold_count_a": {"**": int(rng.integers(0, 5)), "__": 0},
            "header_count_b": {f"h{k}": int(rng.integers(0, 3)) for k in range(1, 7)},
            "list_count_b": {
                "ordered": int(rng.integers(0, 6)),
                "unordered": int(rng.integers(0, 6)),
            },
            "bold_count_b": {"**": int(rng.integers(0, 5)), "__": 0},
        }
        out.append(
            {
                "question_id": f"{rng.integers(16**8):08x}",
                "model_a": ma,
                "model_b": mb,
                "winner": winner,
                "judge": f"arena_user_{rng.integers(40)}",
                "turn": int(rng.integers(1, 3)),
                "anony": bool(rng.uniform() < 0.8),
                "language": LANGS[i % len(LANGS)],
                "tstamp": round(1682000000.0 + 137.25 * i, 4),
                "conv_metadata": meta,
                "is_code": bool(rng.uniform() < 0.2),
                "is_refusal": False,
            }
        )
    return out


def _mt_bench(rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    single, pair = [], []
    models = MODELS[:5]
    for q in range(81, 101):
        for m in models:
            for turn in (1, 2):
                s = int(np.clip(round(rng.normal(6 + 2 * SKILL[m], 1.5)), 1, 10))
                bad = rng.uniform() < 0.05
                single.append(
                    {
                        "question_id": q,
                        "model": m,
                        "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"],
                        "user_prompt": f"[Question]\nQ{q}",
                        "judgment": "garbled" if bad else f"Rating: [[{s}]]",
                        "score": -1 if bad else s,
                        "turn": turn,
                        "tstamp": 1687000000.0 + q,
                    }
                )
        for m in models[1:]:
            for turn in (1, 2):
                g = []
                for _ in range(2):
                    u = rng.uniform()
                    g.append(
                        "error"
                        if u < 0.04
                        else "tie"
                        if u < 0.25
                        else "model_1"
                        if rng.uniform() < 1 / (1 + np.exp(SKILL[m] - SKILL[models[0]]))
                        else "model_2"
                    )
                pair.append(
                    {
                        "question_id": q,
                        "model_1": models[0],
                        "model_2": m,
                        "g1_winner": g[0],
                        "g2_winner": g[1],
                        "judge": ["gpt-4", "pair-v2" if turn == 1 else "pair-v2-multi-turn"],
                        "g1_user_prompt": "p1",
                        "g1_judgment": "[[A]]",
                        "g2_user_prompt": "p2",
                        "g2_judgment": "[[B]]",
                        "turn": turn,
                        "tstamp": 1688000000.0 + q,
                    }
                )
    return single, pair


def main(out: Path) -> None:
    rng = np.random.default_rng(20230503)
    out.mkdir(parents=True, exist_ok=True)
    (out / "battles.json").write_text(json.dumps(_battles(rng, 300)) + "\n", encoding="utf-8")
    single, pair = _mt_bench(rng)
    (out / "model_judgment").mkdir(exist_ok=True)
    for name, rows in (("gpt-4_single.jsonl", single), ("gpt-4_pair.jsonl", pair)):
        (out / "model_judgment" / name).write_text(
            "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
        )


if __name__ == "__main__":
    main(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).parents[2] / "tests/golden/fastchat"
    )
