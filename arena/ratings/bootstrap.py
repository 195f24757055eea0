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
from scipy import sparse
from scipy.optimize import minimize

from .bradley_terry import DEFAULT_L2, BTFit, fit_bt_dedup, to_elo_scale
from .io import DedupBattles, dedup_battles, encode_battles

__all__ = [
    "bootstrap_bt",
    "bt_leaderboard",
    "confidence_intervals",
    "leaderboard_frame",
    "multinomial_counts",
    "rank_with_ci",
]


def multinomial_counts(
    count: np.ndarray, rng: np.random.Generator, size: int | None = None
) -> np.ndarray:
    """Bootstrap draws of row counts: resample ``count.sum()`` battles over the rows."""
    total = int(count.sum())
    return rng.multinomial(total, count / total, size=size)


def _pair_design(d: DedupBattles) -> tuple[np.ndarray, np.ndarray, sparse.csr_matrix, ...]:
    """Pairs ``i < j`` seen in ``d`` and sparse maps from row counts to pair totals/wins."""
    m = len(d.models)
    lo, hi = np.minimum(d.a, d.b), np.maximum(d.a, d.b)
    s_lo = np.where(d.a == lo, d.score, 1.0 - d.score)
    keys, pair = np.unique(lo * m + hi, return_inverse=True)
    shape = (len(d.count), len(keys))
    rows = np.arange(len(d.count))
    to_n = sparse.csr_matrix((d.weight, (rows, pair)), shape=shape)
    to_w = sparse.csr_matrix((d.weight * s_lo, (rows, pair)), shape=shape)
    i, j = np.divmod(keys, m)
    return i, j, to_n, to_w


def _batch_loss(x, i, j, inc, n, w, total, lam, shape):
    """Sum over rounds of each round's BT loss; rounds are independent blocks."""
    theta = x.reshape(shape)
    d = theta[:, i] - theta[:, j]
    loss = (w * np.logaddexp(0.0, -d) + (n - w) * np.logaddexp(0.0, d)).sum(axis=1)
    g_pair = n / (1.0 + np.exp(-d)) - w
    grad = (inc.T @ g_pair.T).T / total[:, None] + lam[:, None] * theta
    value = loss / total + 0.5 * lam * (theta * theta).sum(axis=1)
    return float(value.sum()), grad.ravel()


def fit_theta_batch(
    i: np.ndarray,
    j: np.ndarray,
    n: np.ndarray,
    w: np.ndarray,
    x0: np.ndarray,
    l2: float = DEFAULT_L2,
) -> np.ndarray:
    """Fit B independent BT problems (rows of ``n``/``w``, shape ``(B, pairs)``) in one L-BFGS.

    The objective is the sum of the B losses, so its minimum is every round's own minimum;
    one vectorised evaluation per step replaces B Python-level optimiser loops.
    """
    shape = x0.shape
    m = shape[1]
    pairs = np.arange(len(i))
    inc = sparse.csr_matrix(  # +1 at i, -1 at j: pair gradients -> model gradients
        (np.r_[np.ones(len(i)), -np.ones(len(j))], (np.r_[pairs, pairs], np.r_[i, j])),
        shape=(len(i), m),
    )
    total = np.maximum(n.sum(axis=1), 1e-300)
    res = minimize(
        _batch_loss,
        x0.ravel(),
        args=(i, j, inc, n, w, total, l2 / total, shape),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10},
    )
    return res.x.reshape(shape)


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

    All rounds' multinomial counts are drawn at once, mapped to pair totals with a sparse
    product and fitted jointly (:func:`fit_theta_batch`), warm-started from the point estimate.

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
    i, j, to_n, to_w = _pair_design(d)
    counts = multinomial_counts(d.count, rng, size=n_rounds).astype(float)
    n = (to_n.T @ counts.T).T
    w = (to_w.T @ counts.T).T
    x0 = np.tile(np.nan_to_num(fit.theta), (n_rounds, 1))
    out = fit_theta_batch(i, j, n, w, x0, l2)
    out[:, np.isnan(fit.theta)] = np.nan
    idx = d.models.index(anchor) if anchor is not None else None
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
    l2: float = DEFAULT_L2,
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
