"""Length-controlled win rate: AlpacaEval 2's GLM, as alpaca_eval 0.6.6 computes it.

For one model's annotations against the baseline (``output_1`` = baseline, ``output_2`` =
model; ``p = preference - 1`` in [0, 1], the legacy draw ``0`` read as 1.5) the GLM
``length_controlled_v1`` is a logistic regression without intercept on three features::

    tanh(std_delta_len),  instruction_difficulty,  not_gamed_baseline (1 for the model's rows)

with ``std_delta_len = (len(output_1) - len(output_2)) / std`` (characters; the standard
deviation over the model's rows, ddof 1). Soft targets are fitted as two rows (``y = 1`` with
weight ``p * w`` and ``y = 0`` with ``(1 - p) * w``) under an L1 penalty, ``||beta||_1 + C *
sum(weighted log-loss)``, with ``C`` chosen among ``logspace(-4, 4, 10)`` by 5-fold grouped
cross-validation (sklearn's ``GroupKFold`` assignment, groups = rows, the sum of the folds'
weighted log-loss) and a refit on all rows. *Regularisation towards the gamed baselines*: the
rows of ``df_gamed.csv`` (two length-gamed versions of the baseline, ``not_gamed_baseline`` =
0) join the training set with weight ``lambda / 2 = 0.1``. The instruction difficulty of row
``i`` is ``df_gamed``'s value for ``index == i`` (the row's position in the model's file). The
LC win rate sets the length term to zero::

    LC = 100 * mean_i sigmoid(beta_difficulty * difficulty_i + beta_model)

over every row (rows with a null preference too); ``lc_standard_error`` is the standard error
of those predictions. The baseline's own annotations give 50. GLMs ``length_controlled_noreg``
(no gamed rows) and ``length_controlled_minimal`` (no difficulty either) are alpaca_eval's too.

Without ``df_gamed.csv`` the difficulty comes from an ``instruction_difficulty.csv`` when given,
else it is *estimated* from the annotations in hand (:func:`instruction_difficulty`, a joint
fit over all models), and the gamed-baseline regularisation is skipped; each approximation is
listed in the result's ``attrs["notes"]``. The L1 fits use liblinear as alpaca_eval does when
scikit-learn is installed (equal to the digit), else the exact optimum (within ~0.05 LC points);
see :mod:`arena.ratings.l1_logistic`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from .l1_logistic import fit_glm_cv
from .winrate import WINRATE_COLUMNS, describe_preferences

__all__ = [
    "GLMS",
    "LCInputs",
    "alpaca_length_controlled",
    "instruction_difficulty",
    "length_controlled_win_rate",
    "load_lc_inputs",
]

#: GLM name -> (uses instruction difficulty, regularisation lambda towards gamed baselines)
GLMS: dict[str, tuple[bool, float | None]] = {
    "length_controlled_v1": (True, 0.2),
    "length_controlled_noreg": (True, None),
    "length_controlled_minimal": (False, None),
}
LC_COLUMNS = [*WINRATE_COLUMNS, "length_controlled_winrate", "lc_standard_error"]
COEF_COLUMNS = ["length_coef", "difficulty_coef", "model_coef"]


@dataclass(frozen=True)
class LCInputs:
    """Auxiliary inputs of the GLM: alpaca_eval's ``df_gamed.csv`` and/or a difficulty table."""

    gamed: pd.DataFrame | None = None
    difficulty: pd.Series | None = None  # indexed by row position (AlpacaEval) or question_id


def load_lc_inputs(
    gamed: str | Path | None = None, difficulty: str | Path | None = None
) -> LCInputs:
    """Read ``df_gamed.csv`` (columns ``model, index, preference, std_delta_len,
    instruction_difficulty, not_gamed_baseline``) and/or ``instruction_difficulty.csv``
    (first column the index, second the difficulty)."""
    g = pd.read_csv(gamed).drop(columns=["model"]) if gamed else None
    d = pd.read_csv(difficulty, index_col=0).squeeze("columns") if difficulty else None
    return LCInputs(g, d)


# ------------------------------------------------------------------ per-model GLM
def alpaca_length_controlled(
    len_baseline: np.ndarray,
    len_model: np.ndarray,
    preference: np.ndarray,
    difficulty: np.ndarray | None,
    gamed: pd.DataFrame | None = None,
    reg_lambda: float | None = 0.2,
    solver: str = "auto",
) -> dict[str, float]:
    """LC win rate of one model's rows (in the order of its annotations file).

    Args:
        len_baseline: characters of ``output_1`` per row.
        len_model: characters of ``output_2`` per row.
        preference: AlpacaEval preference per row (1 baseline, 2 model; NaN = failed).
        difficulty: instruction difficulty per row, or None (the minimal GLM).
        gamed: ``df_gamed.csv`` rows (without ``model``) to regularise towards, or None.
        reg_lambda: weight of the gamed rows is ``reg_lambda / 2``.
        solver: see :func:`fit_glm_cv`.

    Returns:
        ``length_controlled_winrate``, ``lc_standard_error`` and the three coefficients.
    """
    delta = pd.Series(np.asarray(len_baseline, float) - np.asarray(len_model, float))
    std_delta = (delta / delta.std()).to_numpy()
    p = pd.Series(preference, dtype=float).replace({0.0: 1.5}).to_numpy() - 1.0
    n = len(p)
    diff = np.zeros(n) if difficulty is None else np.asarray(difficulty, float)
    x = np.column_stack([np.tanh(std_delta), diff, np.ones(n)])
    w = np.ones(n)
    if gamed is not None and reg_lambda:
        gx = np.column_stack(
            [
                np.tanh(gamed["std_delta_len"].to_numpy(float)),
                gamed["instruction_difficulty"].to_numpy(float)
                if difficulty is not None
                else np.zeros(len(gamed)),
                gamed["not_gamed_baseline"].astype(float).to_numpy(),
            ]
        )
        x = np.vstack([gx, x])
        p = np.concatenate([gamed["preference"].to_numpy(float), p])
        w = np.concatenate([np.full(len(gamed), reg_lambda / 2), w])
    keep = ~np.isnan(p)
    if difficulty is None:
        x = x[:, [0, 2]]
    beta, c = fit_glm_cv(x[keep], p[keep], w[keep], solver)
    if difficulty is None:
        beta = np.array([beta[0], 0.0, beta[1]])
    q = expit(beta[1] * diff + beta[2])
    return {
        "length_controlled_winrate": float(q.mean() * 100),
        "lc_standard_error": float(pd.Series(q).sem() * 100),
        "length_coef": float(beta[0]),
        "difficulty_coef": float(beta[1]),
        "model_coef": float(beta[2]),
        "C": c,
    }


# ------------------------------------------------------------------ approximated difficulty
def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


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
    return (loss + pen) / len(y), grad / len(y)


def instruction_difficulty(oriented: pd.DataFrame, difficulty_l2: float = 1.0) -> pd.Series:
    """Per-instruction difficulty estimated from the annotations in hand (an approximation).

    A joint logistic fit over all models, ``logit = psi_m + theta_m * tanh(dlen / std_m) +
    gamma_q``, with an N(0, 1) prior on ``gamma``; returns ``gamma`` indexed by ``question_id``
    (its sign does not matter: the GLM fits a coefficient on it).
    """
    mi, models = pd.factorize(oriented["model"])
    qi, questions = pd.factorize(oriented["question_id"])
    dlen = (oriented["len_model"] - oriented["len_baseline"]).astype(float)
    std = dlen.groupby(oriented["model"]).transform(lambda s: s.std(ddof=1))
    t = np.tanh((dlen / std.where(std > 0)).fillna(0.0).to_numpy())
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


# ------------------------------------------------------------------ battles table entry point
def _oriented(battles: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Rows against ``baseline`` as (model, preference, len_baseline, len_model, position, qid);
    the baseline's rows against itself are kept (model = baseline)."""
    pref = (
        battles["preference"].astype(float)
        if "preference" in battles.columns
        else 2.0
        - battles["winner"].map({"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5})
    )
    base_first = battles["model_a"] == baseline
    base_second = (battles["model_b"] == baseline) & ~base_first
    keep = base_first | base_second
    qid = (
        battles["question_id"]
        if "question_id" in battles.columns
        else pd.Series(np.arange(len(battles)))
    )
    out = pd.DataFrame(
        {
            "model": np.where(base_first, battles["model_b"], battles["model_a"]),
            "preference": np.where(base_first, pref, 3.0 - pref),
            "len_baseline": np.where(base_first, battles["len_a"], battles["len_b"]),
            "len_model": np.where(base_first, battles["len_b"], battles["len_a"]),
            "question_id": qid.to_numpy(),
        },
        index=battles.index,
    )
    out = out[keep.to_numpy()]
    if "position" in battles.columns:
        out["position"] = battles.loc[out.index, "position"].to_numpy()
    else:
        out["position"] = out.groupby("model").cumcount().to_numpy()
    return out.reset_index(drop=True)


def _difficulty_for(g: pd.DataFrame, inputs: LCInputs, estimated: pd.Series | None) -> np.ndarray:
    if inputs.gamed is not None:  # as alpaca_eval: first row per `index`, looked up by position
        table = inputs.gamed.drop_duplicates("index")["instruction_difficulty"]
        return table.loc[g["position"].to_numpy()].to_numpy(float)
    if inputs.difficulty is not None:
        key = "position" if inputs.difficulty.index.dtype.kind in "iu" else "question_id"
        return inputs.difficulty.loc[g[key].to_numpy()].to_numpy(float)
    # instructions no model has a preference on get the prior mean
    return estimated.reindex(g["question_id"].to_numpy()).fillna(0.0).to_numpy(float)  # type: ignore[union-attr]


def length_controlled_win_rate(
    battles: pd.DataFrame,
    baseline: str,
    *,
    glm: str = "length_controlled_v1",
    inputs: LCInputs | None = None,
    solver: str = "auto",
) -> pd.DataFrame:
    """Win rates plus AlpacaEval's length-controlled win rate of every model vs ``baseline``.

    Args:
        battles: battles with ``len_a``/``len_b``, ``preference`` (or ``winner``), optional
            ``question_id`` and ``position`` (the row's index in the model's annotations file).
        baseline: the reference model (AlpacaEval's ``generator_1``).
        glm: one of :data:`GLMS`.
        inputs: ``df_gamed.csv`` and/or instruction difficulties (see :func:`load_lc_inputs`).
        solver: ``auto`` | ``liblinear`` | ``exact`` (see :func:`fit_glm_cv`).

    Returns:
        DataFrame indexed by model with :data:`LC_COLUMNS` and the GLM coefficients, best LC
        first; ``attrs["notes"]`` lists what was approximated because an input was missing.
    """
    if glm not in GLMS:
        raise ValueError(f"unknown GLM {glm!r}; expected one of {sorted(GLMS)}")
    if not {"len_a", "len_b"} <= set(battles.columns):
        raise ValueError("length-controlled win rate needs len_a and len_b columns")
    inputs = inputs or LCInputs()
    use_diff, reg = GLMS[glm]
    oriented = _oriented(battles, baseline)
    if oriented.empty:
        raise KeyError(f"baseline {baseline!r} appears in no battle")
    notes: list[str] = []
    if solver == "auto" and importlib.util.find_spec("sklearn") is None:
        notes.append(
            "scikit-learn is not installed: exact L1 fits instead of alpaca_eval's liblinear "
            "(within ~0.05 points; pip install scikit-learn)"
        )
    estimated = None
    if use_diff and inputs.gamed is None and inputs.difficulty is None:
        others = oriented[(oriented["model"] != baseline) & oriented["preference"].notna()]
        estimated = instruction_difficulty(others) if not others.empty else None
        notes.append(
            "instruction difficulty estimated from these annotations (alpaca_eval reads it "
            "from df_gamed.csv; pass --gamed or --difficulty)"
        )
    if reg and inputs.gamed is None:
        notes.append(
            "no regularisation towards the gamed baselines (alpaca_eval's df_gamed.csv; "
            "pass --gamed)"
        )
    rows = {}
    for model, g in oriented.groupby("model", sort=True):
        stats = describe_preferences(g["preference"])
        if model == baseline:
            q = np.full(len(g), 0.5)
            lc = {
                "length_controlled_winrate": 50.0,
                "lc_standard_error": float(pd.Series(q).sem() * 100),
                "length_coef": 0.0,
                "difficulty_coef": 0.0,
                "model_coef": 0.0,
            }
        else:
            diff = (
                _difficulty_for(g, inputs, estimated)
                if use_diff
                and (
                    estimated is not None
                    or inputs.gamed is not None
                    or inputs.difficulty is not None
                )
                else None
            )
            lc = alpaca_length_controlled(
                g["len_baseline"].to_numpy(float),
                g["len_model"].to_numpy(float),
                g["preference"].to_numpy(float),
                diff,
                inputs.gamed,
                reg,
                solver=solver,
            )
        rows[model] = {**stats, **lc}
    df = pd.DataFrame.from_dict(rows, orient="index")[LC_COLUMNS + COEF_COLUMNS]
    df.index.name = "model"
    df = df.sort_values("length_controlled_winrate", ascending=False)
    df.attrs["notes"] = notes
    return df
