"""Length-controlled win rate (the GLM of AlpacaEval 2), with difficulty from the data in hand.

For model ``m`` against the baseline on instruction ``q`` the GLM is::

    logit P(m wins) = theta_m * tanh(dlen / std_m(dlen)) + phi_m * gamma_q + psi_m

with ``dlen = len(model answer) - len(baseline answer)`` (characters for AlpacaEval files,
``len_a``/``len_b`` otherwise) and soft targets ``preference - 1`` (fractional preferences are
fitted as probabilities). The length-controlled win rate sets the length term to zero::

    LC_m = 100 * mean_q sigmoid(psi_m + phi_m * gamma_q)

AlpacaEval downloads an instruction difficulty fitted on many models; we estimate it from the
annotations in hand instead: ``gamma_q`` is a per-instruction fixed effect fitted *jointly over
all models* (``logit = psi_m + theta_m * tanh(.) + gamma_q``) with an N(0, 1) prior
(``difficulty_l2 = 1``) so that instructions seen by few models are shrunk to the average.
Each per-model GLM then has an L2 penalty ``l2`` (default 0.1, i.e. a N(0, 10) prior) on its
three coefficients, which keeps them finite when a model wins or loses everything (AlpacaEval
uses a regularisation towards the baseline for the same purpose). The baseline itself gets 50.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from .winrate import WINRATE_COLUMNS, baseline_preferences, describe_preferences

__all__ = ["instruction_difficulty", "length_controlled_win_rate"]


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def _length_feature(df: pd.DataFrame) -> np.ndarray:
    """``tanh(dlen / std(dlen))`` with the std taken per model, as AlpacaEval does."""
    dlen = (df["len_model"] - df["len_baseline"]).astype(float)
    std = dlen.groupby(df["model"]).transform(lambda s: s.std(ddof=1))
    std = std.where(std > 0, np.nan)
    return np.tanh((dlen / std).fillna(0.0).to_numpy())


def _joint_loss(params, mi, qi, t, y, n_m, n_q, l2_q, l2):
    psi, theta, gamma = params[:n_m], params[n_m : 2 * n_m], params[2 * n_m :]
    z = psi[mi] + theta[mi] * t + gamma[qi]
    loss = np.sum(y * _softplus(-z) + (1 - y) * _softplus(z))
    g = expit(z) - y
    grad = np.concatenate(
        [
            np.bincount(mi, g, n_m) + l2 * psi,
            np.bincount(mi, g * t, n_m) + l2 * theta,
            np.bincount(qi, g, n_q) + l2_q * gamma,
        ]
    )
    pen = 0.5 * (l2 * (psi @ psi + theta @ theta) + l2_q * gamma @ gamma)
    n = len(y)
    return (loss + pen) / n, grad / n


def instruction_difficulty(oriented: pd.DataFrame, difficulty_l2: float = 1.0) -> pd.Series:
    """Per-instruction fixed effect on the log-odds of beating the baseline.

    Args:
        oriented: output of :func:`arena.ratings.winrate.baseline_preferences` with lengths.
        difficulty_l2: L2 (prior precision) on the effects.

    Returns:
        Series indexed by ``question_id`` (higher = easier to beat the baseline).
    """
    mi, models = pd.factorize(oriented["model"])
    qi, questions = pd.factorize(oriented["question_id"])
    t = _length_feature(oriented)
    y = oriented["preference"].to_numpy(float) - 1.0
    n_m, n_q = len(models), len(questions)
    res = minimize(
        _joint_loss,
        np.zeros(2 * n_m + n_q),
        args=(mi, qi, t, y, n_m, n_q, difficulty_l2, 1e-3),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-8},
    )
    return pd.Series(res.x[2 * n_m :], index=questions, name="difficulty")


def _glm_loss(beta, x, y, l2):
    z = x @ beta
    loss = np.sum(y * _softplus(-z) + (1 - y) * _softplus(z)) + 0.5 * l2 * beta @ beta
    return loss / len(y), (x.T @ (expit(z) - y) + l2 * beta) / len(y)


def _fit_glm(t: np.ndarray, gamma: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    x = np.column_stack([t, gamma, np.ones_like(t)])
    res = minimize(
        _glm_loss,
        np.zeros(3),
        args=(x, y, l2),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 1000, "ftol": 1e-14, "gtol": 1e-10},
    )
    return res.x  # theta (length), phi (difficulty), psi (model)


def length_controlled_win_rate(
    battles: pd.DataFrame,
    baseline: str,
    *,
    l2: float = 0.1,
    difficulty_l2: float = 1.0,
) -> pd.DataFrame:
    """Win rates plus the length-controlled win rate of every model against ``baseline``.

    Args:
        battles: battles with ``len_a``/``len_b`` and ``question_id`` (instruction); a
            ``preference`` column is used when present (see :mod:`arena.ratings.winrate`).
        baseline: the reference model (AlpacaEval's ``generator_1``).
        l2: L2 penalty on each model's GLM coefficients.
        difficulty_l2: prior precision of the instruction difficulties.

    Returns:
        DataFrame indexed by model with :data:`~arena.ratings.winrate.WINRATE_COLUMNS`,
        ``length_controlled_winrate`` and the GLM coefficients ``length_coef``,
        ``difficulty_coef``, ``model_coef``; best LC first.
    """
    if not {"len_a", "len_b"} <= set(battles.columns):
        raise ValueError("length-controlled win rate needs len_a and len_b columns")
    if "question_id" not in battles.columns:
        battles = battles.assign(question_id=np.arange(len(battles)))
    oriented = baseline_preferences(battles, baseline)
    oriented = oriented[oriented["preference"].notna()].reset_index(drop=True)
    if oriented.empty:
        raise KeyError(f"baseline {baseline!r} appears in no battle with a preference")
    gamma = instruction_difficulty(oriented, difficulty_l2)
    oriented["t"] = _length_feature(oriented)
    rows = {}
    for model, g in oriented.groupby("model"):
        gq = gamma.loc[g["question_id"]].to_numpy()
        y = g["preference"].to_numpy(float) - 1.0
        coef = _fit_glm(g["t"].to_numpy(), gq, y, l2)
        lc = 100.0 * float(np.mean(expit(coef[2] + coef[1] * gq)))
        rows[model] = {
            **describe_preferences(g["preference"]),
            "length_controlled_winrate": lc,
            "length_coef": coef[0],
            "difficulty_coef": coef[1],
            "model_coef": coef[2],
        }
    cols = [*WINRATE_COLUMNS, "length_controlled_winrate"]
    df = pd.DataFrame.from_dict(rows, orient="index")
    df = df[cols + ["length_coef", "difficulty_coef", "model_coef"]]
    df.index.name = "model"
    return df.sort_values("length_controlled_winrate", ascending=False)
