"""Win rates: against a baseline (AlpacaEval's numbers) and pairwise matrices.

Baseline win rates follow AlpacaEval: each battle of model ``m`` against the baseline gives a
preference ``p`` in [1, 2] oriented so that 1 = baseline wins, 2 = ``m`` wins, 1.5 = draw
(fractional = weighted; AlpacaEval's legacy ``0`` also means a draw). Then

* ``win_rate = 100 * mean(p - 1)``, ``standard_error = 100 * sem(p - 1)`` (ddof = 1),
* ``n_wins = #(p > 1.5)``, ``n_wins_base = #(p < 1.5)``, ``n_draws = #(p == 1.5)``,
  ``n_total`` = number of non-missing preferences,
* ``discrete_win_rate = 100 * (n_wins + n_draws / 2) / n_total``.

Without a ``preference`` column it is derived from ``winner`` (model_a → 1, model_b → 2,
ties → 1.5). Battles where the model is ``model_a`` and the baseline ``model_b`` are flipped
(``p → 3 - p``). Battles ``weight`` is ignored here (AlpacaEval parity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .io import WINNER_SCORES, encode_battles

__all__ = [
    "WINRATE_COLUMNS",
    "baseline_preferences",
    "battle_count_matrix",
    "describe_preferences",
    "pairwise_win_matrix",
    "win_rate_vs_baseline",
]

WINRATE_COLUMNS = [
    "win_rate",
    "standard_error",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    "discrete_win_rate",
]


def _preferences(battles: pd.DataFrame) -> pd.Series:
    """Preference of each battle in [1, 2] from model_b's point of view."""
    if "preference" in battles.columns:
        pref = battles["preference"].astype(float).replace({0.0: 1.5})
        if "winner" in battles.columns:  # rows without a preference fall back to the winner
            from_winner = 2.0 - battles["winner"].map(WINNER_SCORES)
            pref = pref.fillna(from_winner)
        return pref
    return 2.0 - battles["winner"].map(WINNER_SCORES).astype(float)


def baseline_preferences(battles: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Battles against ``baseline``, oriented as (model, question_id, preference, lengths).

    Returns:
        DataFrame with ``model``, ``preference`` (2 = model wins), ``question_id`` (if any),
        ``len_model``/``len_baseline`` (if lengths are present).
    """
    pref = _preferences(battles)
    is_b = battles["model_a"] == baseline  # baseline is output_1: already oriented
    is_a = (battles["model_b"] == baseline) & ~is_b
    keep = is_a | is_b
    out = pd.DataFrame(
        {
            "model": np.where(is_b, battles["model_b"], battles["model_a"]),
            "preference": np.where(is_b, pref, 3.0 - pref),
        },
        index=battles.index,
    )
    if "question_id" in battles.columns:
        out["question_id"] = battles["question_id"]
    if {"len_a", "len_b"} <= set(battles.columns):
        out["len_model"] = np.where(is_b, battles["len_b"], battles["len_a"])
        out["len_baseline"] = np.where(is_b, battles["len_a"], battles["len_b"])
    return out[keep & (out["model"] != baseline)].reset_index(drop=True)


def describe_preferences(pref: pd.Series | np.ndarray) -> dict[str, float]:
    """AlpacaEval head-to-head numbers for preferences in [1, 2] (2 = model wins)."""
    p = pd.Series(pref, dtype=float).replace({0.0: 1.5})
    n_draws = int((p == 1.5).sum())
    p = p.dropna() - 1.0
    n_total = len(p)
    n_wins = int((p > 0.5).sum())
    return {
        "win_rate": float(p.mean() * 100) if n_total else float("nan"),
        "standard_error": float(p.sem() * 100) if n_total > 1 else float("nan"),
        "n_wins": n_wins,
        "n_wins_base": int((p < 0.5).sum()),
        "n_draws": n_draws,
        "n_total": n_total,
        "discrete_win_rate": (n_wins + n_draws / 2) / n_total * 100 if n_total else float("nan"),
    }


def win_rate_vs_baseline(battles: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Win rate of every model against ``baseline`` (AlpacaEval definitions, 0-100 scale).

    Returns:
        DataFrame indexed by model with :data:`WINRATE_COLUMNS`, best win rate first.

    Raises:
        KeyError: the baseline appears in no battle.
    """
    if not ((battles["model_a"] == baseline) | (battles["model_b"] == baseline)).any():
        raise KeyError(f"baseline {baseline!r} appears in no battle")
    oriented = baseline_preferences(battles, baseline)
    rows = {m: describe_preferences(g["preference"]) for m, g in oriented.groupby("model")}
    df = pd.DataFrame.from_dict(rows, orient="index", columns=WINRATE_COLUMNS)
    df.index.name = "model"
    return df.sort_values("win_rate", ascending=False)


def _pair_sums(battles: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    enc = encode_battles(battles)
    m = len(enc.models)
    n = np.bincount(enc.a * m + enc.b, enc.weight, m * m).reshape(m, m)
    wins = np.bincount(enc.a * m + enc.b, enc.weight * enc.score, m * m).reshape(m, m)
    return enc.models, n + n.T, wins + (n - wins).T


def battle_count_matrix(battles: pd.DataFrame) -> pd.DataFrame:
    """Symmetric matrix of (weighted) battle counts between each pair of models."""
    models, n, _ = _pair_sums(battles)
    return pd.DataFrame(n, index=models, columns=models)


def pairwise_win_matrix(battles: pd.DataFrame) -> pd.DataFrame:
    """Fraction of battles the row model won against the column model (ties count half).

    Pairs that never met are NaN; ``W + W.T == 1`` wherever defined.
    """
    models, n, wins = _pair_sums(battles)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(n > 0, wins / n, np.nan)
    return pd.DataFrame(frac, index=models, columns=models)
