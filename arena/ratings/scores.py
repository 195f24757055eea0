"""Single-answer score aggregation with bootstrap CIs over questions.

Input: a scores table with ``model``, ``question_id``, ``score`` and optional ``category`` and
``source``. Scores of one model on one question (several turns, judges or raters) are first
averaged, so every question counts once. The bootstrap resamples *questions* with replacement,
the same resample for all models (paired), B rounds from one seeded Generator; a model that
did not answer a resampled question simply has fewer terms in that round's mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["aggregate_scores", "bootstrap_means"]


def bootstrap_means(matrix: np.ndarray, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap row means of a (models x questions) matrix with NaN for missing.

    Returns:
        Array ``(n_bootstrap, n_models)``.
    """
    n_q = matrix.shape[1]
    counts = rng.multinomial(n_q, np.full(n_q, 1.0 / n_q), size=n_bootstrap).astype(float)
    mask = ~np.isnan(matrix)
    filled = np.where(mask, matrix, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ filled.T) / (counts @ mask.T)


def _summarise(matrix: pd.DataFrame, n_bootstrap: int, rng, level: float) -> pd.DataFrame:
    values = matrix.to_numpy(float)
    out = pd.DataFrame(
        {
            "model": matrix.index,
            "score": np.nanmean(values, axis=1),
            "n_questions": (~np.isnan(values)).sum(axis=1),
        }
    )
    if n_bootstrap > 0:
        boot = bootstrap_means(values, n_bootstrap, rng)
        alpha = (1 - level) / 2
        out["lower"] = np.nanquantile(boot, alpha, axis=0)
        out["upper"] = np.nanquantile(boot, 1 - alpha, axis=0)
    else:
        out["lower"] = out["upper"] = np.nan
    return out


def aggregate_scores(
    scores: pd.DataFrame, *, n_bootstrap: int = 1000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """Mean score per model, overall and per category, with bootstrap CIs over questions.

    Args:
        scores: ``model``, ``question_id``, ``score`` and optional ``category``.
        n_bootstrap: bootstrap rounds (0 = no CIs, NaN bounds).
        seed: seed of the Generator.
        level: interval level.

    Returns:
        DataFrame ``model, category, score, lower, upper, n_questions``; the overall rows have
        ``category == "overall"``; sorted by category then best score.
    """
    missing = {"model", "question_id", "score"} - set(scores.columns)
    if missing:
        raise ValueError(f"scores table is missing column(s) {sorted(missing)}")
    rng = np.random.default_rng(seed)
    per_q = scores.groupby(["model", "question_id"], sort=True)["score"].mean()
    matrix = per_q.unstack("question_id")
    parts = [_summarise(matrix, n_bootstrap, rng, level).assign(category="overall")]
    if "category" in scores.columns:
        cat_of = scores.groupby("question_id")["category"].first()
        for cat in sorted(cat_of.dropna().unique()):
            cols = [q for q in matrix.columns if cat_of.get(q) == cat]
            sub = matrix[cols].dropna(how="all")
            parts.append(_summarise(sub, n_bootstrap, rng, level).assign(category=cat))
    df = pd.concat(parts, ignore_index=True)
    df = df[["model", "category", "score", "lower", "upper", "n_questions"]]
    df["_overall"] = df["category"] != "overall"
    df = df.sort_values(["_overall", "category", "score"], ascending=[True, True, False])
    return df.drop(columns="_overall").reset_index(drop=True)
