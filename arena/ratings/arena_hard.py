"""arena-hard-auto scores, v0.1 and v2.0, as its ``show_result.py`` computes them.

Input: judgment rows as arena-hard writes them (``model_judgment/<judge>/<model>.jsonl``): the
judged ``model``, ``question_id`` (v0.1) or ``uid`` (v2.0), optional ``category`` and ``games``,
two games per question: game 1 shows the baseline as A, game 2 shows the model as A. Labels are
``A>>B, A>B, A=B, B>A, B>>A`` (v2.0 also ``A<<B, A<B, B<A, B<<A``).

v0.1 (``show_result.py`` with ``utils_math.py``): each game is a battle baseline vs model, a
strong verdict (``>>``) repeated ``weight`` times (default 3), an unknown or null label drops
that game only. Bradley-Terry by maximum likelihood (no penalty; a tie is one win each way),
anchored so that the baseline is 1000; the score is the predicted win rate against the baseline
x 100. CIs: ``n_rounds`` bootstrap resamples of the battle rows (``numpy.random.RandomState(42)``
draws, as the module-level ``np.random.seed(42)`` upstream gives), 2.5 / 97.5 percentiles of each
model's rating, turned into win rates against the baseline's (anchored) rating. The upstream
bootstrap passes the anchor under a wrong keyword, so it always anchors ``gpt-4-0314``: with
another baseline our CIs (anchored on the baseline, as intended) differ from its printout.

v2.0 (``show_result.py`` with ``utils/math_utils.py``): a question whose two games are not both
judged is dropped; each question gives the model's scores ``s(game 2) + [1 - s(game 1)]`` with
``A>B`` = 1, ``A=B`` = 0.5 (game 2, model shown first; reversed for game 1) and strong verdicts
repeated ``weight`` times. The score is the mean over ``n_rounds`` per-model bootstrap means
(``groupby("model").sample(frac=1, replace=True)``), CIs their 5% / 95% quantiles, x 100; the
baseline gets 50. Each category has its own baseline (``baselines``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .bradley_terry import fit_bt

__all__ = [
    "STRONG",
    "arena_hard_battles",
    "arena_hard_v01",
    "arena_hard_v2",
    "arena_hard_v2_style",
    "style_features",
]

#: label -> (winner in baseline-vs-model terms for game 1, strong?)
_GAME1 = {
    "A>>B": ("model_a", True),
    "A>B": ("model_a", False),
    "A=B": ("tie", False),
    "B>A": ("model_b", False),
    "B>>A": ("model_b", True),
}
_FLIP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
STRONG = {"A>>B", "B>>A", "A<<B", "B<<A"}
#: v2.0: label -> score of the model shown as A (before repeating strong verdicts)
_V2_SCORE = {
    "A>B": 1.0,
    "A>>B": 1.0,
    "A=B": 0.5,
    "A<<B": 0.0,
    "A<B": 0.0,
    "B>A": 0.0,
    "B>>A": 0.0,
    "B=A": 0.5,
    "B<<A": 1.0,
    "B<A": 1.0,
}


def _label(game: object) -> str | None:
    return game.get("score") if isinstance(game, dict) else None


def arena_hard_battles(
    judgments: pd.DataFrame, baseline: str, weight: int = 3, first_game_only: bool = False
) -> pd.DataFrame:
    """v0.1 battles (``model_a`` = baseline), one row per game, strong verdicts ``weight`` times."""
    rows = []
    qcol = "question_id" if "question_id" in judgments.columns else "uid"
    for _, r in judgments.iterrows():
        games = list(r["games"])[: 1 if first_game_only else 2]
        for g, game in enumerate(games):
            hit = _GAME1.get(_label(game) or "")
            if hit is None:
                continue
            winner = hit[0] if g == 0 else _FLIP[hit[0]]
            row = {
                "question_id": r[qcol],
                "model_a": baseline,
                "model_b": r["model"],
                "winner": winner,
                "category": r.get("category"),
            }
            rows += [row] * (weight if hit[1] else 1)
    return pd.DataFrame(rows, columns=["question_id", "model_a", "model_b", "winner", "category"])


def _mle_elo(battles: pd.DataFrame, baseline: str) -> pd.Series:
    return fit_bt(battles, anchor=baseline, l2=0.0).as_series()


def _win_rate(ratings: pd.Series, baseline: str) -> pd.Series:
    return 100.0 / (1.0 + 10.0 ** ((ratings[baseline] - ratings) / 400.0))


def arena_hard_v01(
    judgments: pd.DataFrame,
    baseline: str = "gpt-4-0314",
    *,
    weight: int = 3,
    n_rounds: int = 100,
    seed: int = 42,
    first_game_only: bool = False,
) -> pd.DataFrame:
    """arena-hard-auto v0.1 leaderboard: ``score``, ``lower``, ``upper`` (win rate vs baseline,
    0-100; the baseline is 50) and ``rating`` (BT, baseline = 1000), best first."""
    battles = arena_hard_battles(judgments, baseline, weight, first_game_only)
    point = _mle_elo(battles, baseline)
    rs = np.random.RandomState(seed)
    n = len(battles)
    boot = pd.DataFrame(
        [_mle_elo(battles.iloc[rs.randint(0, n, size=n)], baseline) for _ in range(n_rounds)]
    )
    lower = boot.apply(lambda c: np.percentile(c.dropna(), 2.5))
    upper = boot.apply(lambda c: np.percentile(c.dropna(), 97.5))
    out = pd.DataFrame(
        {
            "score": _win_rate(point, baseline),
            "lower": _win_rate(lower, baseline),
            "upper": _win_rate(upper, baseline),
            "rating": point,
        }
    )
    out.index.name = "model"
    return out.sort_values("score", ascending=False)


def _v2_game_scores(games: Iterable[dict], weight: int) -> list[float]:
    """v2.0's scores of one judged pair (both games, a strong verdict counted `weight` times),
    model's point of view; empty when a game has no verdict."""
    g = list(games)
    if len(g) < 2 or _label(g[0]) is None or _label(g[1]) is None:
        return []
    l1, l2 = _label(g[0]), _label(g[1])
    s2 = [_V2_SCORE[l2]] * (weight if l2 in STRONG else 1)
    s1 = [1.0 - _V2_SCORE[l1]] * (weight if l1 in STRONG else 1)
    return s2 + s1


def _v2_scores(judgments: pd.DataFrame, weight: int) -> pd.DataFrame:
    rows = []
    for _, r in judgments.iterrows():
        rows += [{"model": r["model"], "category": r.get("category"), "scores": s}
                 for s in _v2_game_scores(r["games"], weight)]
    return pd.DataFrame(rows, columns=["model", "category", "scores"])


def arena_hard_v2(
    judgments: pd.DataFrame,
    baselines: dict[str, str] | str,
    *,
    weight: int = 3,
    n_rounds: int = 100,
    seed: int = 0,
) -> pd.DataFrame:
    """arena-hard-auto v2.0 leaderboard per category: ``category, model, score, lower, upper``
    (0-100; each category's baseline gets 50 with an empty CI)."""
    battles = _v2_scores(judgments, weight)
    if isinstance(baselines, str):
        baselines = {c: baselines for c in battles["category"].unique()}
    out = []
    rs = np.random.RandomState(seed)
    for cat, g in battles.groupby("category", sort=True):
        g = g[["model", "scores"]].reset_index(drop=True)
        g["model"] = g["model"].map(lambda m: str(m).split("/")[-1])
        boot = pd.concat(
            [
                g.groupby("model")
                .sample(frac=1.0, replace=True, random_state=rs)
                .groupby("model")
                .mean()
                for _ in range(n_rounds)
            ]
        )
        stats = boot.groupby("model")["scores"]
        t = (
            pd.DataFrame(
                {
                    "score": stats.mean(),
                    "lower": stats.quantile(0.05),
                    "upper": stats.quantile(0.95),
                }
            )
            * 100
        )
        t.loc[baselines[cat]] = [50.0, 50.0, 50.0]
        out.append(t.assign(category=cat))
    res = pd.concat(out).reset_index(names="model")
    return res.sort_values(["category", "score"], ascending=[True, False]).reset_index(drop=True)


# ------------------------------------------------------------------ v2.0 style control
STYLE_KEYS = ("token_len", "header_count", "list_count", "bold_count")


def _style_vector(meta: dict) -> np.ndarray:
    """``token_len`` and the markdown counts of one answer (a dict of counts is summed)."""
    return np.array(
        [
            float(sum(v.values())) if isinstance(v, dict) else float(v)
            for v in (meta[k] for k in STYLE_KEYS)
        ]
    )


def style_features(model_meta: np.ndarray, baseline_meta: np.ndarray) -> np.ndarray:
    """arena-hard v2.0's style features, z-scored (``std`` with ddof 1): the length ratio
    ``(m - b) / (m + b)`` and, for headers/lists/bold, the markdown *density* (count / length)
    as ``(dm - db) / (dm + db + 1)``."""
    out = np.zeros_like(model_meta)
    out[:, 0] = (model_meta[:, 0] - baseline_meta[:, 0]) / (model_meta[:, 0] + baseline_meta[:, 0])
    dm = model_meta[:, 1:] / model_meta[:, :1]
    db = baseline_meta[:, 1:] / baseline_meta[:, :1]
    out[:, 1:] = (dm - db) / (dm + db + 1)
    return (out - out.mean(axis=0)) / out.std(axis=0, ddof=1)


def _fit_style_bt(codes: np.ndarray, n_models: int, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Max-likelihood ``logit = theta[model] + z @ beta`` (theta of the baseline fixed at 0)."""
    from scipy.optimize import minimize

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        t = params[codes] + z @ params[n_models:]
        p = 1.0 / (1.0 + np.exp(-t))
        f = -np.sum(
            y * np.log(np.clip(p, 1e-300, None)) + (1 - y) * np.log(np.clip(1 - p, 1e-300, None))
        )
        g = p - y
        return f, np.concatenate([np.bincount(codes, g, n_models), z.T @ g])

    res = minimize(
        loss,
        np.zeros(n_models + z.shape[1]),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10},
    )
    return res.x


def arena_hard_v2_style(
    judgments: pd.DataFrame,
    answers_meta: dict[str, dict[str, dict]],
    baselines: dict[str, str] | str,
    *,
    weight: int = 3,
    n_rounds: int = 100,
    seed: int = 0,
) -> pd.DataFrame:
    """arena-hard-auto v2.0 with style control (length and markdown density), per category.

    Args:
        judgments: judgment rows (``uid``, ``model``, ``category``, ``games``).
        answers_meta: model -> uid -> the answer's ``metadata`` (``token_len``, ``header_count``,
            ``list_count``, ``bold_count``), as in arena-hard's ``model_answer`` files.
        baselines: baseline per category (or one for all).
        weight, n_rounds, seed: as :func:`arena_hard_v2` (resamples drawn with
            ``RandomState(seed).randint(0, n, (n_rounds, n))`` like its ``bootstrap_pairwise_model``).

    Returns:
        ``category, model, score, lower, upper``: the median, 5% and 95% quantiles over the
        bootstrap fits of the predicted win rate against the baseline x 100 (there is no point
        fit upstream either); the baseline gets 50. Style coefficients are in ``attrs["coefs"]``.
        (arena-hard's length-only and markdown-only options slice the wrong columns upstream;
        only the combined control is reproduced.)
    """
    uid_col = "uid" if "uid" in judgments.columns else "question_id"
    rows = []
    for _, r in judgments.iterrows():
        rows += [
            {"uid": r[uid_col], "model": r["model"], "category": r.get("category"), "scores": s}
            for s in _v2_game_scores(r["games"], weight)
        ]
    battles = pd.DataFrame(rows)
    if isinstance(baselines, str):
        baselines = {c: baselines for c in battles["category"].unique()}
    out, coefs = [], {}
    rs = np.random.RandomState(seed)
    for cat, b in battles.groupby("category", sort=True):
        base = baselines[cat]
        b = b.reset_index(drop=True)
        m = np.array([_style_vector(answers_meta[x][u]) for x, u in zip(b["model"], b["uid"])])
        bm = np.array([_style_vector(answers_meta[base][u]) for u in b["uid"]])
        z = style_features(m, bm)
        names = [str(x).split("/")[-1] for x in b["model"]]
        models = sorted(set(names) | {base})
        others = [x for x in models if x != base]
        idx = {x: i for i, x in enumerate(others)}
        codes = np.array([idx[x] for x in names])
        y = b["scores"].to_numpy(float)
        n = len(y)
        boots = []
        for k in rs.randint(0, n, size=(n_rounds, n)):
            params = _fit_style_bt(codes[k], len(others), z[k], y[k])
            boots.append(np.append(1.0 / (1.0 + np.exp(-params[: len(others)])), 0.5))
            coefs.setdefault(cat, []).append(params[len(others) :])
        table = pd.DataFrame(boots, columns=[*others, base])
        t = (
            pd.DataFrame(
                {
                    "score": table.quantile(0.5),
                    "lower": table.quantile(0.05),
                    "upper": table.quantile(0.95),
                }
            )
            * 100
        )
        out.append(t.assign(category=cat))
    res = pd.concat(out).reset_index(names="model")
    res = res.sort_values(["category", "score"], ascending=[True, False]).reset_index(drop=True)
    res.attrs["coefs"] = {c: np.median(np.array(v), axis=0).tolist() for c, v in coefs.items()}
    return res
