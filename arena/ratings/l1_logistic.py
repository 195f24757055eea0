"""L1-penalised logistic regression with soft targets, and alpaca_eval's CV over its strength.

``argmin ||beta||_1 + C * sum_i w_i * [p_i * softplus(-x_i beta) + (1 - p_i) * softplus(x_i beta)]``
is solved either exactly (L-BFGS-B on the split variables ``beta = u - v``, then Newton steps on
the active set) or by liblinear through scikit-learn, configured as alpaca_eval configures it,
which reproduces alpaca_eval's numbers digit for digit (liblinear stops at ``tol=1e-4``, up to
~0.05 LC points from the exact optimum). Used by :mod:`arena.ratings.length_control`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

__all__ = ["CS", "N_SPLITS", "fit_glm_cv", "fit_l1_liblinear", "fit_l1_logistic"]

CS = np.logspace(-4, 4, 10)  # LogisticRegressionCV's default grid (Cs=10)
N_SPLITS = 5


def _l1_objective(uv, x, p, w, c, scale):
    k = x.shape[1]
    beta = uv[:k] - uv[k:]
    z = x @ beta
    loss = np.dot(w, p * np.logaddexp(0.0, -z) + (1.0 - p) * np.logaddexp(0.0, z))
    g = x.T @ (w * (expit(z) - p))
    f = (uv.sum() + c * loss) / scale
    grad = np.concatenate([1.0 + c * g, 1.0 - c * g]) / scale
    return f, grad


def _newton_polish(beta, x, p, w, c):
    """Newton steps on the non-zero coordinates (the L1 term is linear there)."""
    for _ in range(20):
        act = np.flatnonzero(beta != 0)
        if act.size == 0:
            return beta
        z = x @ beta
        q = expit(z)
        g = c * (x[:, act].T @ (w * (q - p))) + np.sign(beta[act])
        h = c * (x[:, act].T * (w * q * (1 - q))) @ x[:, act]
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            return beta
        new = beta.copy()
        new[act] -= step
        if np.any(np.sign(new[act]) != np.sign(beta[act])):
            return beta  # the active set would change: keep the first-order solution
        beta = new
        if np.max(np.abs(step)) < 1e-15 * (1 + np.max(np.abs(beta))):
            break
    return beta


def fit_l1_logistic(x: np.ndarray, p: np.ndarray, w: np.ndarray, c: float) -> np.ndarray:
    """``argmin ||beta||_1 + c * sum_i w_i * logloss(p_i, sigmoid(x_i beta))`` (soft targets)."""
    k = x.shape[1]
    scale = max(c * float(w.sum()), 1e-12)
    res = minimize(
        _l1_objective,
        np.zeros(2 * k),
        args=(x, p, w, c, scale),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0, None)] * (2 * k),
        options={"maxiter": 10_000, "ftol": 1e-16, "gtol": 1e-13, "maxcor": 20},
    )
    beta = res.x[:k] - res.x[k:]
    beta[np.abs(beta) < 1e-12] = 0.0
    return _newton_polish(beta, x, p, w, c)


def fit_l1_liblinear(
    x: np.ndarray,
    p: np.ndarray,
    w: np.ndarray,
    c: float,
    random_state: np.random.RandomState | None = None,
) -> np.ndarray:
    """The same problem solved by liblinear as alpaca_eval does (scikit-learn's
    ``LogisticRegression(penalty="l1", solver="liblinear", tol=1e-4, random_state=123)`` on the
    rows doubled into ``y = 1`` / ``y = 0`` copies): liblinear stops at its own tolerance, so
    this reproduces alpaca_eval's numbers to the last digit rather than the exact optimum.
    liblinear's seed is one draw from ``random_state`` (a fresh ``RandomState(123)`` by
    default); scikit-learn's CV path draws once per C from one ``RandomState(123)`` per fold."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    m = len(p)
    xd = np.vstack([x, x])
    yd = np.concatenate([np.ones(m, int), np.zeros(m, int)])
    wd = np.concatenate([p * w, (1.0 - p) * w])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(
            penalty="l1",
            solver="liblinear",
            C=c,
            fit_intercept=False,
            dual=False,
            tol=1e-4,
            random_state=random_state or np.random.RandomState(123),
        )
        model.fit(xd, yd, sample_weight=wd)
    return np.asarray(model.coef_[0], float)


def _solver(name: str):
    if name == "exact":
        return fit_l1_logistic
    try:
        import sklearn  # noqa: F401
    except ImportError:
        if name == "liblinear":
            raise
        return fit_l1_logistic
    return fit_l1_liblinear


def _cv_scores(x, p, w, folds, fit) -> np.ndarray:
    """Minus the weighted log-loss of each held-out fold (rows) for each C (columns)."""
    out = np.zeros((N_SPLITS, len(CS)))
    for f in range(N_SPLITS):
        test = folds == f
        rs = np.random.RandomState(123)  # one per fold, one draw per C (scikit-learn's path)
        for k, c in enumerate(CS):
            beta = (
                fit(x[~test], p[~test], w[~test], c, rs)
                if fit is fit_l1_liblinear
                else fit(x[~test], p[~test], w[~test], c)
            )
            q = np.clip(expit(x[test] @ beta), 1e-15, 1 - 1e-15)
            out[f, k] = np.mean(w[test] * (p[test] * np.log(q) + (1 - p[test]) * np.log(1 - q)))
    return out


def fit_glm_cv(
    x: np.ndarray, p: np.ndarray, w: np.ndarray, solver: str = "auto"
) -> tuple[np.ndarray, float]:
    """alpaca_eval's ``fit_LogisticRegressionCV`` (soft targets): best C by grouped 5-fold CV.

    ``solver``: ``liblinear`` (scikit-learn, alpaca_eval's own solver and tolerance),
    ``exact`` (ours, to machine precision) or ``auto`` (liblinear when scikit-learn is installed).
    """
    fit = _solver(solver)
    m = len(p)
    folds = (m - 1 - np.arange(m)) % N_SPLITS  # GroupKFold with equal-sized groups, rows in order
    scores = _cv_scores(x, p, w, folds, fit).sum(axis=0)
    best = float(CS[int(np.argmax(scores))])
    return fit(x, p, w, best), best
