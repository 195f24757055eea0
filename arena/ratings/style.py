"""Bradley-Terry with style control (Chatbot Arena's recipe).

The logit of ``model_a`` beating ``model_b`` is ``theta_a - theta_b + sum_k beta_k * z_k`` where
``z_k`` is a z-scored style difference. For each feature ``f`` with columns ``f_a`` and ``f_b``
the raw difference is normalised as in Chatbot Arena, ``(f_a - f_b) / (f_a + f_b)`` (0 when both
are 0), then z-scored over the battles (a feature with zero spread is dropped). Default features
are :data:`DEFAULT_STYLE_FEATURES` (``len`` = answer length, ``header``/``list``/``bold`` =
markdown counts), whichever are present. Reported ratings are the model coefficients
``theta`` on the Elo scale (the rating "with style controlled"); the style coefficients are in
``StyleFit.coefs`` (natural log-odds per standard deviation). Regularisation, disconnected graphs
and unseen models behave as in :mod:`arena.ratings.bradley_terry`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from .bootstrap import leaderboard_frame
from .bradley_terry import DEFAULT_L2, _check_graph, pair_stats, to_elo_scale
from .io import DedupBattles, encode_battles

__all__ = [
    "DEFAULT_STYLE_FEATURES",
    "StyleFit",
    "fit_bt_style",
    "style_features",
    "style_leaderboard",
]

DEFAULT_STYLE_FEATURES = ("len", "header", "list", "bold")


@dataclass(frozen=True)
class StyleFit:
    """Style-controlled fit: Elo-scale model ratings and style coefficients."""

    models: list[str]
    theta: np.ndarray
    ratings: np.ndarray
    coefs: pd.Series
    n_battles: np.ndarray


@dataclass(frozen=True)
class _Rows:
    d: DedupBattles
    z: np.ndarray  # (rows, features)
    features: list[str]


def style_features(
    battles: pd.DataFrame, features: tuple[str, ...] | list[str] | None = None
) -> pd.DataFrame:
    """Z-scored normalised style differences, one column per usable feature.

    Raises:
        ValueError: no requested feature has both ``_a`` and ``_b`` columns.
    """
    names = [
        f
        for f in (features or DEFAULT_STYLE_FEATURES)
        if f"{f}_a" in battles.columns and f"{f}_b" in battles.columns
    ]
    if not names:
        wanted = features or DEFAULT_STYLE_FEATURES
        raise ValueError(f"style control needs <feature>_a/_b columns for one of {list(wanted)}")
    out = {}
    for f in names:
        xa = battles[f"{f}_a"].to_numpy(float)
        xb = battles[f"{f}_b"].to_numpy(float)
        tot = xa + xb
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.where(tot != 0, (xa - xb) / np.where(tot != 0, tot, 1.0), 0.0)
        sd = diff.std()
        if sd > 0:
            out[f] = (diff - diff.mean()) / sd
    return pd.DataFrame(out, index=battles.index)


def _dedup_rows(battles: pd.DataFrame, features, models) -> _Rows:
    enc = encode_battles(battles, models)
    z = style_features(battles, features)
    frame = pd.DataFrame({"a": enc.a, "b": enc.b, "s": enc.score, "w": enc.weight})
    frame = pd.concat([frame, z.reset_index(drop=True)], axis=1)
    grouped = frame.groupby(list(frame.columns), sort=True).size().reset_index(name="count")
    d = DedupBattles(
        enc.models,
        grouped["a"].to_numpy(),
        grouped["b"].to_numpy(),
        grouped["s"].to_numpy(float),
        grouped["w"].to_numpy(float),
        grouped["count"].to_numpy(),
    )
    return _Rows(d, grouped[list(z.columns)].to_numpy(float), list(z.columns))


def _loss_grad(params, rows: _Rows, cw: np.ndarray, total: float, l2: float):
    m = len(rows.d.models)
    theta, beta = params[:m], params[m:]
    d = theta[rows.d.a] - theta[rows.d.b] + rows.z @ beta
    s = rows.d.score
    loss = np.dot(cw * s, np.logaddexp(0.0, -d)) + np.dot(cw * (1 - s), np.logaddexp(0.0, d))
    g = cw * (1.0 / (1.0 + np.exp(-d)) - s)
    g_theta = np.bincount(rows.d.a, g, m) - np.bincount(rows.d.b, g, m)
    lam = l2 / total  # penalty in units of battles, like fit_bt
    grad = np.concatenate([g_theta, rows.z.T @ g]) / total + lam * params
    return loss / total + 0.5 * lam * params @ params, grad


def _fit(rows: _Rows, counts: np.ndarray, x0: np.ndarray | None, l2: float) -> np.ndarray:
    cw = counts * rows.d.weight
    x0 = np.zeros(len(rows.d.models) + len(rows.features)) if x0 is None else x0
    res = minimize(
        _loss_grad,
        x0,
        args=(rows, cw, float(cw.sum()) or 1.0, l2),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10},
    )
    return res.x


def _fit_style(battles, features, models, anchor, scale, base, init_rating, l2, allow):
    rows = _dedup_rows(battles, features, models)
    d, m = rows.d, len(rows.d.models)
    n_battles = np.bincount(d.a, d.count, m) + np.bincount(d.b, d.count, m)
    seen = n_battles > 0
    _check_graph(pair_stats(d), d.models, seen, allow)
    params = _fit(rows, d.count, None, l2)
    theta = params[:m].copy()
    theta[~seen] = np.nan
    idx = d.models.index(anchor) if anchor is not None else None
    ratings = to_elo_scale(theta, idx, scale, base, init_rating)
    fit = StyleFit(d.models, theta, ratings, pd.Series(params[m:], index=rows.features), n_battles)
    return fit, rows, params


def fit_bt_style(
    battles: pd.DataFrame,
    *,
    features: tuple[str, ...] | list[str] | None = None,
    models: list[str] | None = None,
    anchor: str | None = None,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    l2: float = DEFAULT_L2,
    allow_disconnected: bool = False,
) -> StyleFit:
    """Fit style-controlled Bradley-Terry (see module docstring; arguments as ``fit_bt``)."""
    fit, _, _ = _fit_style(
        battles, features, models, anchor, scale, base, init_rating, l2, allow_disconnected
    )
    return fit


def style_leaderboard(
    battles: pd.DataFrame,
    *,
    features: tuple[str, ...] | list[str] | None = None,
    n_bootstrap: int = 100,
    seed: int = 0,
    anchor: str | None = None,
    scale: float = 400.0,
    base: float = 10.0,
    init_rating: float = 1000.0,
    l2: float = DEFAULT_L2,
    allow_disconnected: bool = False,
    level: float = 0.95,
) -> pd.DataFrame:
    """Style-controlled leaderboard with multinomial bootstrap CIs over deduplicated rows.

    Returns:
        DataFrame ``model, rating, lower, upper, rank, n_battles``; the style coefficients
        are in ``df.attrs["style_coefficients"]`` (dict feature -> coefficient).
    """
    fit, rows, params = _fit_style(
        battles, features, None, anchor, scale, base, init_rating, l2, allow_disconnected
    )
    m = len(fit.models)
    samples = None
    if n_bootstrap > 0:
        rng = np.random.default_rng(seed)
        total = rows.d.n_battles
        thetas = np.empty((n_bootstrap, m))
        for r in range(n_bootstrap):
            counts = rng.multinomial(total, rows.d.count / total)
            thetas[r] = _fit(rows, counts, params, l2)[:m]
        thetas[:, np.isnan(fit.theta)] = np.nan
        idx = fit.models.index(anchor) if anchor is not None else None
        samples = to_elo_scale(thetas, idx, scale, base, init_rating)
    df = leaderboard_frame(fit.models, fit.ratings, fit.n_battles, samples, level)
    df.attrs["style_coefficients"] = fit.coefs.to_dict()
    return df
