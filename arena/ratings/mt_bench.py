"""MT-Bench tables as FastChat's ``llm_judge/show_result.py`` prints them.

Single-answer grading (``*_single.jsonl`` rows or our Scores): rows with score ``-1`` (the
judge's output did not parse) are dropped; the table is the mean score per model for turn 1,
for turn 2, and over all remaining rows of both turns (the mean of all scores, not of the two
turn means). Pairwise (``*_pair.jsonl``): rows where either game's winner is ``"error"`` are
dropped; a row is a tie for both models when game 1 is a tie or the two games disagree, else a
win and a loss; ``win_rate = win / n``, ``loss_rate = loss / n``, ``win_rate_adjusted = (win +
tie / 2) / n`` per model; with ``baseline`` only rows involving it count and it is left out.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["mt_bench_pairwise_table", "mt_bench_single_table"]


def mt_bench_single_table(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with ``model``, ``score``, ``turn`` -> ``turn_1``, ``turn_2``, ``average``,
    ``n`` (valid scores) per model, best average first."""
    df = scores[scores["score"] != -1].dropna(subset=["score"])
    by_turn = df.groupby(["model", "turn"])["score"].mean().unstack("turn")
    out = pd.DataFrame(
        {
            "turn_1": by_turn.get(1),
            "turn_2": by_turn.get(2),
            "average": df.groupby("model")["score"].mean(),
            "n": df.groupby("model")["score"].size(),
        }
    )
    out.index.name = "model"
    return out.sort_values("average", ascending=False)


def mt_bench_pairwise_table(pairs: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """``pairs`` with ``model_1, model_2, g1_winner, g2_winner`` -> win/loss/tie and rates."""
    df = pairs[(pairs["g1_winner"] != "error") & (pairs["g2_winner"] != "error")]
    if baseline is not None:
        df = df[(df["model_1"] == baseline) | (df["model_2"] == baseline)]
    tie = (df["g1_winner"] == "tie") | (df["g1_winner"] != df["g2_winner"])
    first = df["g1_winner"] == "model_1"
    winner = df["model_1"].where(first, df["model_2"])
    loser = df["model_2"].where(first, df["model_1"])
    rows = pd.concat(
        [
            pd.DataFrame({"model": df["model_1"][tie], "win": 0, "loss": 0, "tie": 1}),
            pd.DataFrame({"model": df["model_2"][tie], "win": 0, "loss": 0, "tie": 1}),
            pd.DataFrame({"model": winner[~tie], "win": 1, "loss": 0, "tie": 0}),
            pd.DataFrame({"model": loser[~tie], "win": 0, "loss": 1, "tie": 0}),
        ]
    )
    out = rows.groupby("model")[["win", "loss", "tie"]].sum()
    if baseline is not None:
        out = out[out.index != baseline]
    n = out["win"] + out["loss"] + out["tie"]
    out["win_rate"] = out["win"] / n
    out["loss_rate"] = out["loss"] / n
    out["win_rate_adjusted"] = (out["win"] + 0.5 * out["tie"]) / n
    return out.sort_values("win_rate_adjusted", ascending=False)
