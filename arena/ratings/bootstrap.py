"""Bootstrap confidence intervals and leaderboards for Bradley-Terry ratings.

Resampling is multinomial over the *deduplicated* rows: a bootstrap round draws
``N ~ Multinomial(n_battles, count / n_battles)`` new counts (weights, not copies of rows),
reduces them to pair statistics and refits, warm-started from the point estimate. Rounds are
seeded with one :class:`numpy.random.Generator`, so results are reproducible.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .bradley_terry import DEFAULT_L2, BTFit, fit_bt_dedup, fit_theta, pair_stats, to_elo_scale
from .io import DedupBattles, dedup_battles, encode_battles

__all__ = [
    "bootstrap_bt",
    "bt_leaderboard",
    "confidence_intervals",
    "leaderboard_frame",
    "multinomial_counts",
    "rank_with_ci",
]


def multinomial_counts(count: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One bootstrap draw of row counts: resample ``count.sum()`` battles over the rows."""
    total = int(count.sum())
    return rng.multinomial(total, count / total)


def bootstrap_bt(
    fit: BTFit,
    n_rounds: int = 100,
    seed: int | np.random.Generator | None = 0,
    *,
    anchor: str | None = None,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    l2: float = DEFAULT_L2,
) -> np.ndarray:
    """Bootstrap Bradley-Terry ratings.

    Args:
        fit: the point fit (its deduplicated rows are resampled; it is the warm start).
        n_rounds: number of bootstrap rounds ``B``.
        seed: seed or Generator.
        anchor, scale, base, init_rating, l2: as in :func:`arena.ratings.fit_bt`.

    Returns:
        Array ``(B, n_models)`` of Elo-scale ratings (NaN for models without battles).
    """
    rng = np.random.default_rng(seed)
    d = fit.dedup
    x0 = np.nan_to_num(fit.theta)
    idx = d.models.index(anchor) if anchor is not None else None
    out = np.empty((n_rounds, len(d.models)))
    for r in range(n_rounds):
        theta = fit_theta(pair_stats(d, multinomial_counts(d.count, rng)), x0=x0, l2=l2)
        out[r] = theta
    out[:, np.isnan(fit.theta)] = np.nan
    return to_elo_scale(out, idx, scale, base, init_rating)


def confidence_intervals(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, ...]:
    """Percentile intervals per column of ``samples`` (``(B, n)``)."""
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of unseen models
        lo = np.nanquantile(samples, alpha, axis=0)
        hi = np.nanquantile(samples, 1.0 - alpha, axis=0)
    return lo, hi


def rank_with_ci(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Rank = 1 + number of models whose lower bound is above this model's upper bound.

    Models with NaN bounds (no battles) get rank 0 ("unranked").
    """
    lower = np.asarray(lower, float)
    upper = np.asarray(upper, float)
    better = np.nan_to_num(lower, nan=-np.inf)[None, :] > upper[:, None]
    ranks = 1 + better.sum(axis=1)
    ranks[np.isnan(upper)] = 0
    return ranks.astype(int)


def leaderboard_frame(
    models: list[str],
    ratings: np.ndarray,
    n_battles: np.ndarray,
    samples: np.ndarray | None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Assemble ``model, rating, lower, upper, rank, n_battles`` sorted best first.

    Without samples, ``lower``/``upper`` are NaN and rank = 1 + number of strictly higher
    ratings.
    """
    ratings = np.asarray(ratings, float)
    if samples is not None and len(samples):
        lo, hi = confidence_intervals(samples, level)
        rank = rank_with_ci(lo, hi)
    else:
        lo = hi = np.full(len(models), np.nan)
        rank = rank_with_ci(ratings, ratings)
    df = pd.DataFrame(
        {
            "model": models,
            "rating": ratings,
            "lower": lo,
            "upper": hi,
            "rank": rank,
            "n_battles": np.asarray(n_battles, int),
        }
    )
    return df.sort_values(["rating", "model"], ascending=[False, True]).reset_index(drop=True)


def bt_leaderboard(
    battles: pd.DataFrame | DedupBattles,
    *,
    n_bootstrap: int = 100,
    seed: int = 0,
    anchor: str | None = None,
    models: list[str] | None = None,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    l2: float = 1e-6,
    allow_disconnected: bool = False,
    level: float = 0.95,
) -> pd.DataFrame:
    """Bradley-Terry leaderboard with bootstrap CIs and CI-aware ranks.

    Returns:
        DataFrame ``model, rating, lower, upper, rank, n_battles`` best first.
    """
    d = (
        battles
        if isinstance(battles, DedupBattles)
        else dedup_battles(encode_battles(battles, models))
    )
    fit = fit_bt_dedup(
        d,
        anchor=anchor,
        scale=scale,
        base=base,
        init_rating=init_rating,
        l2=l2,
        allow_disconnected=allow_disconnected,
    )
    samples = None
    if n_bootstrap > 0:
        samples = bootstrap_bt(
            fit,
            n_bootstrap,
            seed,
            anchor=anchor,
            scale=scale,
            base=base,
            init_rating=init_rating,
            l2=l2,
        )
    return leaderboard_frame(fit.models, fit.ratings, fit.n_battles, samples, level)
