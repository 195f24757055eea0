"""Write small AlpacaEval files in alpaca_eval 0.6.6's exact layouts (synthetic, seeded).

Writes into OUT (default ``tests/golden/alpaca_eval``):

* ``<model>/annotations.json``: one list per model, as ``alpaca_eval evaluate`` writes them
  (``dataset, instruction, output_1, generator_1, output_2, generator_2, annotator,
  preference, price_per_example, time_per_example, raw_completion``); ``raw_completion`` is a
  dict (the logprobs-weighted annotator's) or a string, some ``preference`` values are null,
  fractional, exactly 1.5 or the legacy draw ``0``; the baseline's own file compares it with
  itself.
* ``<model>/model_outputs.json`` (``instruction, output, generator, dataset``, plus an odd
  extra field).
* ``df_gamed.csv`` (the layout of the ``tatsu-lab/alpaca_eval`` dataset file the LC GLM
  regularises towards: ``model, index, preference, std_delta_len, instruction_difficulty,
  not_gamed_baseline``) and ``instruction_difficulty.csv`` (``index, instruction_difficulty``).

Usage: ``.venv/bin/python benchmarks/peers/make_alpaca_eval_fixtures.py [OUT]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BASELINE = "gpt4_1106_preview"
ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"
N_INSTRUCTIONS = 40
DATASETS = ("helpful_base", "koala", "oasst", "selfinstruct", "vicuna")
# name -> (skill, verbosity): verbosity multiplies the answer length
MODELS = {
    "alpaca-7b": (-1.6, 0.5),
    "verbose-13b": (-0.4, 2.2),
    "concise-70b": (0.3, 0.6),
    "strong-chat": (0.9, 1.3),
    "perfect-bot": (6.0, 1.0),
}
WORDS = "the model answers each question with some words of varying length here".split()


def _text(rng: np.random.Generator, n_chars: int) -> str:
    out = []
    while sum(len(w) + 1 for w in out) < n_chars:
        out.append(str(rng.choice(WORDS)))
    return " ".join(out)


def _raw(rng: np.random.Generator, i: int, pref: float | None) -> dict | str:
    if i % 3 == 0:
        return "m" if (pref or 1.5) < 1.5 else "M"
    lp = float(np.log(max(min((pref or 1.5) - 1.0, 1 - 1e-9), 1e-9)))
    return {
        "finish_reason": "length",
        "index": 0,
        "logprobs": {
            "content": [
                {
                    "bytes": [77],
                    "logprob": lp,
                    "token": "M",
                    "top_logprobs": [{"bytes": [77], "logprob": lp, "token": "M"}],
                }
            ]
        },
        "message": {"content": "M", "role": "assistant", "function_call": None, "tool_calls": None},
        "text": "M",
        "total_tokens": int(rng.integers(600, 1400)),
    }


def main(out: Path) -> None:
    rng = np.random.default_rng(20240406)
    instructions = [
        f"Instruction {i}: {_text(rng, int(rng.integers(20, 80)))}?" for i in range(N_INSTRUCTIONS)
    ]
    datasets = [DATASETS[i % len(DATASETS)] for i in range(N_INSTRUCTIONS)]
    difficulty = rng.normal(0.0, 1.0, N_INSTRUCTIONS)
    base_len = rng.integers(20, 300, N_INSTRUCTIONS)
    base_out = [_text(rng, int(n)) for n in base_len]
    out.mkdir(parents=True, exist_ok=True)
    _write(
        out / BASELINE / "model_outputs.json",
        [
            {"instruction": q, "output": o, "generator": BASELINE, "dataset": d}
            for q, o, d in zip(instructions, base_out, datasets)
        ],
    )
    for name, (skill, verbosity) in {BASELINE: (0.0, 1.0), **MODELS}.items():
        rows, outs = [], []
        for i, q in enumerate(instructions):
            if name == BASELINE:
                o = base_out[i]
            else:
                o = _text(rng, int(base_len[i] * verbosity * rng.uniform(0.6, 1.4)))
            outs.append(
                {
                    "instruction": q,
                    "output": o,
                    "generator": name,
                    "dataset": datasets[i],
                    **({"pretty_name": name.title()} if i == 0 else {}),
                }
            )
            dlen = (len(o) - len(base_out[i])) / 120.0
            logit = skill + 0.8 * np.tanh(dlen) - 0.7 * difficulty[i]
            pref: float | None = 1.0 + float(1.0 / (1.0 + np.exp(-logit + rng.normal(0, 1.0))))
            if name == BASELINE:
                pref = 1.5
            elif i % 17 == 5:
                pref = None  # the annotator failed
            elif i % 13 == 4:
                pref = 0  # legacy draw code
            elif i % 11 == 3:
                pref = 1.5
            elif i % 7 == 2:
                pref = float(round(pref))  # a hard 1/2 preference
            rows.append(
                {
                    "dataset": datasets[i],
                    "instruction": q,
                    "output_1": base_out[i],
                    "generator_1": BASELINE,
                    "output_2": o,
                    "generator_2": name,
                    "annotator": ANNOTATOR,
                    "preference": pref,
                    "price_per_example": 0.0135 if pref is not None else None,
                    "time_per_example": round(float(rng.uniform(0.3, 1.2)), 6),
                    "raw_completion": _raw(rng, i, pref),
                }
            )
        if name != BASELINE:
            _write(out / name / "model_outputs.json", outs)
        _write(out / name / "annotations.json", rows)
    gamed = []
    for gname, verb in (("gpt4_gamed_verbose", 2.5), ("gpt4_gamed_concise", 0.3)):
        for i in range(N_INSTRUCTIONS):
            g_len = base_len[i] * verb * rng.uniform(0.8, 1.2)
            gamed.append(
                {
                    "model": gname,
                    "index": i,
                    "preference": float(rng.uniform(0, 1)),
                    "delta": base_len[i] - g_len,
                    "instruction_difficulty": difficulty[i],
                    "not_gamed_baseline": False,
                }
            )
    g = pd.DataFrame(gamed)
    g["std_delta_len"] = g.groupby("model")["delta"].transform(lambda s: s / s.std())
    g = g[
        [
            "model",
            "index",
            "preference",
            "std_delta_len",
            "instruction_difficulty",
            "not_gamed_baseline",
        ]
    ]
    g.to_csv(out / "df_gamed.csv", index=False)
    pd.Series(difficulty, name="instruction_difficulty").rename_axis("index").to_csv(
        out / "instruction_difficulty.csv"
    )


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).parents[2] / "tests/golden/alpaca_eval"
    )
