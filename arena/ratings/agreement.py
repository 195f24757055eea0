"""Agreement between judges and humans (or any two raters) and a judge's position bias.

Verdicts are compared at the *model* level: each battle's winner is oriented to the pair
sorted by name, so ``(A vs B, model_a)`` and ``(B vs A, model_b)`` are the same verdict.
``tie`` and ``tie (bothbad)`` are one category. Two sources are matched on
(``question_id``, unordered model pair, and ``turn`` if present); when a key has several
verdicts per source, every cross pair counts (as in MT-Bench's agreement analysis).
"Without ties" drops the pairs in which either verdict is a tie.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Agreement",
    "PositionBias",
    "agreement",
    "agreement_matrix",
    "cohen_kappa",
    "pairwise_agreement",
    "position_flip_rate",
]

_NORMAL = {
    "model_a": "model_a",
    "a": "model_a",
    "model_b": "model_b",
    "b": "model_b",
    "tie": "tie",
    "tie (bothbad)": "tie",
    "tie_bothbad": "tie",
}


@dataclass(frozen=True)
class Agreement:
    """Agreement rate, Cohen's kappa and the number of compared verdict pairs."""

    rate: float
    kappa: float
    n: int


@dataclass(frozen=True)
class PositionBias:
    """Flip rate over pairs judged in both orders, and where the flips lean."""

    flip_rate: float
    n_pairs: int
    n_flips: int
    prefers_first: int  # flips where each order picked the answer shown first
    prefers_second: int


def cohen_kappa(x: np.ndarray | pd.Series, y: np.ndarray | pd.Series) -> float:
    """Cohen's kappa of two label sequences (NaN if undefined, e.g. no data)."""
    x, y = np.asarray(x, dtype=object), np.asarray(y, dtype=object)
    if len(x) == 0:
        return float("nan")
    labels = sorted(set(x) | set(y))
    po = float(np.mean(x == y))
    pe = sum(float(np.mean(x == lab)) * float(np.mean(y == lab)) for lab in labels)
    return float("nan") if pe == 1.0 else (po - pe) / (1.0 - pe)


def agreement(x, y, include_ties: bool = True) -> Agreement:
    """Agreement of two aligned verdict sequences (winner values, see module docstring)."""
    x = pd.Series(np.asarray(x, dtype=object)).map(_NORMAL)
    y = pd.Series(np.asarray(y, dtype=object)).map(_NORMAL)
    if not include_ties:
        keep = (x != "tie") & (y != "tie")
        x, y = x[keep], y[keep]
    n = len(x)
    rate = float((x.to_numpy() == y.to_numpy()).mean()) if n else float("nan")
    return Agreement(rate, cohen_kappa(x, y), n)


def _oriented(battles: pd.DataFrame) -> pd.DataFrame:
    """Key columns plus the verdict oriented to the name-sorted pair."""
    swap = battles["model_a"] > battles["model_b"]
    verdict = battles["winner"].map(_NORMAL)
    flipped = verdict.map({"model_a": "model_b", "model_b": "model_a", "tie": "tie"})
    out = pd.DataFrame(
        {
            "question_id": battles["question_id"],
            "first": np.where(swap, battles["model_b"], battles["model_a"]),
            "second": np.where(swap, battles["model_a"], battles["model_b"]),
            "verdict": np.where(swap, flipped, verdict),
        }
    )
    if "turn" in battles.columns:
        out["turn"] = battles["turn"]
    return out


def pairwise_agreement(
    battles: pd.DataFrame, source_1: str, source_2: str, include_ties: bool = True
) -> Agreement:
    """Agreement between two sources (e.g. ``judge:gpt-4`` vs ``human``) on shared battles.

    Raises:
        ValueError: the table lacks ``source`` or ``question_id``.
    """
    if not {"source", "question_id"} <= set(battles.columns):
        raise ValueError("agreement needs 'source' and 'question_id' columns")
    x = _oriented(battles[battles["source"] == source_1])
    y = _oriented(battles[battles["source"] == source_2])
    keys = [c for c in ("question_id", "first", "second", "turn") if c in x.columns]
    merged = x.merge(y, on=keys, suffixes=("_1", "_2"))
    return agreement(merged["verdict_1"], merged["verdict_2"], include_ties)


def agreement_matrix(battles: pd.DataFrame, include_ties: bool = True) -> pd.DataFrame:
    """Agreement rate between every two sources (NaN where they share no battle)."""
    sources = sorted(battles["source"].dropna().unique())
    mat = pd.DataFrame(np.nan, index=sources, columns=sources)
    for i, s1 in enumerate(sources):
        for s2 in sources[i + 1 :]:
            rate = pairwise_agreement(battles, s1, s2, include_ties).rate
            mat.loc[s1, s2] = mat.loc[s2, s1] = rate
    return mat


def _bias(g1: pd.Series, g2: pd.Series) -> PositionBias:
    """g1: verdict with model_a shown first; g2: same pair shown the other way (model terms)."""
    flips = g1.to_numpy() != g2.to_numpy()
    first = (g1.to_numpy() == "model_a") & (g2.to_numpy() == "model_b")
    second = (g1.to_numpy() == "model_b") & (g2.to_numpy() == "model_a")
    n = len(g1)
    return PositionBias(
        float(flips.mean()) if n else float("nan"),
        n,
        int(flips.sum()),
        int(first.sum()),
        int(second.sum()),
    )


def position_flip_rate(judgments: pd.DataFrame, source: str | None = None) -> PositionBias:
    """How often a judge changes its verdict when the two answers swap places.

    Accepts either MT-Bench style rows with ``g1_winner``/``g2_winner`` (both in model
    terms, as :func:`arena.ratings.io.load_battles` gives them) or battles holding both
    orders of the same (question, pair[, turn]); the first row of each order is used.
    """
    df = judgments if source is None else judgments[judgments["source"] == source]
    if {"g1_winner", "g2_winner"} <= set(df.columns):
        return _bias(df["g1_winner"].map(_NORMAL), df["g2_winner"].map(_NORMAL))
    o = _oriented(df)
    o["shown_first"] = df["model_a"].to_numpy() == o["first"].to_numpy()
    keys = [c for c in ("question_id", "first", "second", "turn") if c in o.columns]
    a = o[o["shown_first"]].drop_duplicates(keys)
    b = o[~o["shown_first"]].drop_duplicates(keys)
    m = a.merge(b, on=keys, suffixes=("_1", "_2"))
    return _bias(m["verdict_1"], m["verdict_2"])
