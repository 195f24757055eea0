"""Bradley-Terry maximum likelihood ratings on the Elo scale.

Model: ``P(a beats b) = 1 / (1 + base ** ((R_b - R_a) / scale))``; a tie counts as half a win
each way (the FastChat convention). The fit minimises the weighted log-loss with L-BFGS
(``scipy.optimize.minimize(..., jac=True)``) on *sufficient statistics*: identical battles are
first merged with counts (:func:`arena.ratings.io.dedup_battles`), then each unordered pair of
models is reduced to (total weight, weighted wins of the lower-coded model). The loss is exactly
the per-battle loss, so 1M battles among 50 models cost one fit over at most 1,225 pairs.

Regularisation and degenerate data (documented behaviour):

* A tiny L2 penalty ``l2 / 2 * sum(theta ** 2)`` (theta in natural log-odds units) is added to
  the *summed* weighted log-loss, i.e. a N(0, 1/l2) prior worth ``l2`` battles (default
  ``l2 = 1e-3``). It keeps ratings finite under perfect separation (a model that won or lost
  all its battles) and pins the otherwise free overall shift; on 1M battles its effect is about
  1e-4 rating points, and on a few hundred battles still far below 0.1. Under separation a
  :class:`SeparationWarning` is emitted and the separated ratings are large but finite.
* A disconnected comparison graph raises :class:`DisconnectedGraphError` (ratings of different
  components are not comparable). With ``allow_disconnected=True`` a warning is emitted instead
  and every component is centred on ``init_rating`` by the L2 penalty.
* Models passed in ``models=`` that have no battles ("unseen") get ``NaN``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .io import DedupBattles, dedup_battles, encode_battles

__all__ = [
    "BTFit",
    "DisconnectedGraphError",
    "FASTCHAT_L2",
    "PairStats",
    "SeparationWarning",
    "fit_bt",
    "fit_bt_dedup",
    "fastchat_bt",
    "fit_theta",
    "pair_stats",
    "predicted_win_matrix",
    "to_elo_scale",
]

DEFAULT_L2 = 1e-3


class DisconnectedGraphError(ValueError):
    """The comparison graph has several components, so ratings are not identified."""

    def __init__(self, components: list[list[str]]):
        self.components = components
        shown = "; ".join(", ".join(c[:5]) + (" ..." if len(c) > 5 else "") for c in components)
        super().__init__(
            f"comparison graph is disconnected ({len(components)} components: {shown}); "
            "pass allow_disconnected=True to rate each component around the anchor"
        )


class SeparationWarning(UserWarning):
    """Some models won (or lost) every comparison against a group of others."""


@dataclass(frozen=True)
class PairStats:
    """Per unordered pair ``i < j``: total weight ``n`` and weighted wins ``w`` of ``i``."""

    i: np.ndarray
    j: np.ndarray
    n: np.ndarray
    w: np.ndarray
    n_models: int


@dataclass(frozen=True)
class BTFit:
    """A point fit: models, natural-unit parameters and Elo-scale ratings (NaN if unseen)."""

    models: list[str]
    theta: np.ndarray
    ratings: np.ndarray
    n_battles: np.ndarray
    dedup: DedupBattles

    def as_series(self) -> pd.Series:
        """Ratings as a Series indexed by model, best first."""
        return pd.Series(self.ratings, index=self.models, name="rating").sort_values(
            ascending=False
        )


def pair_stats(d: DedupBattles, counts: np.ndarray | None = None) -> PairStats:
    """Reduce deduplicated rows (optionally re-weighted bootstrap ``counts``) to pair totals."""
    m = len(d.models)
    c = d.count if counts is None else counts
    w = c * d.weight
    lo = np.minimum(d.a, d.b)
    hi = np.maximum(d.a, d.b)
    s_lo = np.where(d.a == lo, d.score, 1.0 - d.score)  # score of the lower-coded model
    key = lo * m + hi
    n = np.bincount(key, weights=w, minlength=m * m)
    wins = np.bincount(key, weights=w * s_lo, minlength=m * m)
    keep = np.flatnonzero(n > 0)
    i, j = np.divmod(keep, m)
    return PairStats(i, j, n[keep], wins[keep], m)


def _loss_grad(theta: np.ndarray, p: PairStats, total: float, l2: float):
    d = theta[p.i] - theta[p.j]
    # log sigmoid(d) = -logaddexp(0, -d); the loss uses wins of i and wins of j (= n - w)
    loss = np.dot(p.w, np.logaddexp(0.0, -d)) + np.dot(p.n - p.w, np.logaddexp(0.0, d))
    g_pair = p.n / (1.0 + np.exp(-d)) - p.w  # d loss / d d
    grad = np.bincount(p.i, g_pair, p.n_models) - np.bincount(p.j, g_pair, p.n_models)
    lam = l2 / total  # the loss is averaged per unit weight, so is the penalty
    return loss / total + 0.5 * lam * theta @ theta, grad / total + lam * theta


def fit_theta(p: PairStats, x0: np.ndarray | None = None, l2: float = DEFAULT_L2) -> np.ndarray:
    """Fit natural-unit BT parameters on pair statistics with L-BFGS.

    Args:
        p: pair statistics from :func:`pair_stats`.
        x0: warm start (e.g. the point estimate when bootstrapping).
        l2: L2 penalty on the parameters (see module docstring).
    """
    total = float(p.n.sum()) or 1.0
    x0 = np.zeros(p.n_models) if x0 is None else np.asarray(x0, float)
    res = minimize(
        _loss_grad,
        x0,
        args=(p, total, l2),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10},
    )
    return res.x


def to_elo_scale(
    theta: np.ndarray,
    anchor: int | None = None,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
) -> np.ndarray:
    """Map natural-unit parameters (last axis = models) to Elo points.

    ``anchor`` is a model index pinned at ``init_rating``; ``None`` pins the mean of the
    finite entries instead.
    """
    r = np.asarray(theta, float) * (scale / math.log(base))
    ref = r[..., anchor] if anchor is not None else np.nanmean(r, axis=-1)
    return r - np.expand_dims(ref, -1) + init_rating


def _check_graph(p: PairStats, models: list[str], seen: np.ndarray, allow: bool) -> None:
    m = p.n_models
    both = coo_matrix((np.ones(len(p.i)), (p.i, p.j)), shape=(m, m))
    n_comp, labels = connected_components(both, directed=False)
    comps = [[models[k] for k in np.flatnonzero(labels == c)] for c in range(n_comp)]
    comps = [c for c in comps if any(seen[models.index(x)] for x in c)]
    if len(comps) > 1:
        if not allow:
            raise DisconnectedGraphError(comps)
        warnings.warn(str(DisconnectedGraphError(comps)), stacklevel=3)
        return
    # strong connectivity of "beat or tied" edges is the condition for a finite MLE
    rows = np.concatenate([p.i[p.w > 0], p.j[p.n - p.w > 0]])
    cols = np.concatenate([p.j[p.w > 0], p.i[p.n - p.w > 0]])
    beat = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(m, m))
    n_strong, _ = connected_components(beat, directed=True, connection="strong")
    if n_strong - int((~seen).sum()) > 1:
        warnings.warn(
            "perfect separation: some models won or lost all comparisons against others; "
            "their ratings are finite only through the tiny L2 penalty",
            SeparationWarning,
            stacklevel=3,
        )


def fit_bt_dedup(
    d: DedupBattles,
    *,
    anchor: str | None = None,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    l2: float = DEFAULT_L2,
    allow_disconnected: bool = False,
) -> BTFit:
    """Fit Bradley-Terry on already deduplicated battles (see :func:`fit_bt`)."""
    p = pair_stats(d)
    n_battles = np.bincount(d.a, d.count, len(d.models)) + np.bincount(d.b, d.count, len(d.models))
    seen = n_battles > 0
    if anchor is not None and (anchor not in d.models or not seen[d.models.index(anchor)]):
        raise KeyError(f"anchor model {anchor!r} has no battles")
    _check_graph(p, d.models, seen, allow_disconnected)
    theta = fit_theta(p, l2=l2)
    theta[~seen] = np.nan
    idx = d.models.index(anchor) if anchor is not None else None
    ratings = to_elo_scale(theta, idx, scale, base, init_rating)
    return BTFit(list(d.models), theta, ratings, n_battles.astype(int), d)


def fit_bt(
    battles: pd.DataFrame,
    *,
    models: list[str] | None = None,
    anchor: str | None = None,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    l2: float = DEFAULT_L2,
    allow_disconnected: bool = False,
) -> BTFit:
    """Fit Bradley-Terry ratings by maximum likelihood.

    Args:
        battles: battles table (``model_a``, ``model_b``, ``winner``, optional ``weight``).
        models: optional full model list; models without battles get NaN.
        anchor: model pinned at ``init_rating``; default pins the mean rating.
        scale: rating points per factor ``base`` in odds (400 for Elo).
        base: odds base (10 for Elo).
        init_rating: rating of the anchor (or mean).
        l2: tiny L2 penalty in natural units (see module docstring).
        allow_disconnected: warn instead of raising on a disconnected comparison graph.

    Returns:
        A :class:`BTFit`; ``fit.as_series()`` gives ratings best first.

    Raises:
        DisconnectedGraphError: the comparison graph is disconnected (and not allowed).
    """
    d = dedup_battles(encode_battles(battles, models))
    return fit_bt_dedup(
        d,
        anchor=anchor,
        scale=scale,
        base=base,
        init_rating=init_rating,
        l2=l2,
        allow_disconnected=allow_disconnected,
    )


def predicted_win_matrix(
    ratings: pd.Series, scale: float = 400.0, base: float = 10.0
) -> pd.DataFrame:
    """Win probability of the row model over the column model implied by BT ratings."""
    r = ratings.to_numpy(float)
    diff = (r[None, :] - r[:, None]) / scale
    p = 1.0 / (1.0 + np.power(base, diff))
    np.fill_diagonal(p, np.nan)
    return pd.DataFrame(p, index=ratings.index, columns=ratings.index)


#: FastChat's ``LogisticRegression(C=1)`` ridge on its doubled design, in our units: each
#: battle is two rows and the coefficients are ``theta / ln(10)``, so the penalty
#: ``0.5 * ||theta / ln 10||^2`` over 2 rows per battle is ``l2 = 0.5 / ln(10)^2`` per battle.
FASTCHAT_L2 = 0.5 / math.log(10) ** 2


def fastchat_bt(
    battles: pd.DataFrame,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    calibrate: tuple[str, float] | None = ("llama-13b", 800.0),
    solver: str = "auto",
) -> pd.Series:
    """FastChat 0.2.36's ``compute_elo_mle_with_tie`` (``compute_mle_elo`` in later FastChat).

    A tie counts as one win each way, the ratings carry FastChat's ridge (:data:`FASTCHAT_L2`),
    their mean is ``init_rating`` and, when ``calibrate=(model, rating)`` names a model
    present, everything is shifted so that model gets that rating (FastChat pins llama-13b at
    800). ``solver="exact"`` solves the problem to machine precision with our L-BFGS;
    ``"sklearn"`` runs scikit-learn's ``LogisticRegression(fit_intercept=False)`` on FastChat's
    doubled design with its default ``tol=1e-4``, which stops where FastChat stops (up to
    ~0.1 Elo from the optimum); ``"auto"`` is ``sklearn`` when scikit-learn is installed.

    Returns:
        Ratings by model, best first.
    """
    if solver == "auto":
        try:
            import sklearn  # noqa: F401

            solver = "sklearn"
        except ImportError:
            solver = "exact"
    if solver == "sklearn":
        r = _fastchat_sklearn(battles, scale, base, init_rating)
    else:
        fit = fit_bt(battles, scale=scale, base=base, init_rating=init_rating, l2=FASTCHAT_L2)
        r = pd.Series(fit.ratings, index=fit.models).dropna()
    if calibrate is not None and calibrate[0] in r.index:
        r = r + (calibrate[1] - r[calibrate[0]])
    return r.sort_values(ascending=False)


def _fastchat_sklearn(
    battles: pd.DataFrame, scale: float, base: float, init_rating: float
) -> pd.Series:
    from sklearn.linear_model import LogisticRegression

    encode_battles(battles)  # validates the columns and winners
    models = pd.Series(pd.concat([battles["model_a"], battles["model_b"]]).unique())
    code = pd.Series(np.arange(len(models)), index=models)
    n = len(battles)
    x = np.zeros((2 * n, len(models)))
    rows = np.arange(2 * n)
    x[rows, np.tile(code[battles["model_a"]].to_numpy(), 2)] = math.log(base)
    x[rows, np.tile(code[battles["model_b"]].to_numpy(), 2)] = -math.log(base)
    winner = np.tile(battles["winner"].to_numpy(), 2)
    y = (winner == "model_a").astype(float)
    tie = np.isin(winner, ["tie", "tie (bothbad)"])
    tie[n:] = False  # one tie = one win for a (first copy) and one for b (second copy)
    y[tie] = 1.0
    lr = LogisticRegression(fit_intercept=False)
    lr.fit(x, y)
    return pd.Series(scale * lr.coef_[0] + init_rating, index=models.to_numpy())
