"""arena-hard-auto scores equal an independent re-implementation of its show_result.

The re-implementation below is written straight from arena-hard-auto's ``show_result.py`` +
``utils_math.py`` (v0.1) and ``show_result.py`` (v2.0) — sklearn logistic regression on the
doubled design, pandas resampling — and shares no code with arena.ratings.arena_hard. The
judgment files are synthetic but in arena-hard's exact layout (two games, null scores).
"""

from __future__ import annotations

import json
import math
import warnings
from glob import glob
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.ratings.arena_hard import (
    arena_hard_battles,
    arena_hard_v01,
    arena_hard_v2,
    arena_hard_v2_style,
)

LABELS = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]


def _write(root: Path, v2: bool = False) -> Path:
    rng = np.random.default_rng(7)
    d = root / "model_judgment" / "gpt-4-1106-preview"
    d.mkdir(parents=True)
    skill = {"m-strong": 1.2, "m-mid": 0.2, "m-weak": -0.9, "m-tie": 0.0}
    for m, s in skill.items():
        rows = []
        for q in range(60):
            games = []
            for g in range(2):
                x = s + rng.normal(0, 1.2)
                k = int(np.digitize(x, [-1.5, -0.5, 0.5, 1.5]))  # 4 = the model much better
                lab = LABELS[k] if g == 0 else LABELS[4 - k]  # game 1 shows the baseline as A
                score = None if rng.uniform() < 0.04 else lab
                games.append(
                    {
                        "user_prompt": "<|User Prompt|>\nq",
                        "judgment": f"[[{score}]]",
                        "score": score,
                    }
                )
            key = (
                {"uid": f"u{q:03d}", "category": "hard_prompt" if q % 3 else "creative_writing"}
                if v2
                else {"question_id": f"q{q:03d}"}
            )
            rows.append({**key, "model": m, "judge": "gpt-4-1106-preview", "games": games})
        (d / f"{m}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


# ---------------------------------------------------------------- re-implementation (v0.1)
def _ref_battles_from_row(row, multiplier, baseline):
    results = []
    for g, flip in ((0, False), (1, True)):
        out = {"question_id": row["question_id"], "model_a": baseline, "model_b": row["model"]}
        s = row["games"][g]["score"]
        weight = 1
        if s == "A=B":
            out["winner"] = "tie"
        elif s in ("A>B", "A>>B"):
            out["winner"] = "model_b" if flip else "model_a"
            weight = multiplier if s == "A>>B" else 1
        elif s in ("B>A", "B>>A"):
            out["winner"] = "model_a" if flip else "model_b"
            weight = multiplier if s == "B>>A" else 1
        else:
            weight = 0
        if weight:
            results += [out] * weight
    return results


def _ref_compute_mle_elo(df, baseline, SCALE=400, BASE=10, INIT_RATING=1000):
    from sklearn.linear_model import LogisticRegression

    models = pd.concat([df["model_a"], df["model_b"]]).unique()
    models = pd.Series(np.arange(len(models)), index=models)
    df = pd.concat([df, df], ignore_index=True)
    n = df.shape[0]
    X = np.zeros([n, len(models)])
    X[np.arange(n), models[df["model_a"]]] = +math.log(BASE)
    X[np.arange(n), models[df["model_b"]]] = -math.log(BASE)
    Y = np.zeros(n)
    Y[df["winner"] == "model_a"] = 1.0
    tie_idx = (df["winner"] == "tie") | (df["winner"] == "tie (bothbad)")
    tie_idx[len(tie_idx) // 2 :] = False
    Y[tie_idx] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lr = LogisticRegression(fit_intercept=False, penalty=None, tol=1e-8)
        lr.fit(X, Y)
    elo = SCALE * lr.coef_[0] + INIT_RATING
    elo += 1000 - elo[models[baseline]]
    return pd.Series(elo, index=models.index)


def _ref_v01(judge_dir: Path, baseline: str) -> pd.DataFrame:
    judgments = pd.concat(
        [pd.read_json(f, lines=True) for f in sorted(glob(f"{judge_dir}/*jsonl"))]
    )
    b = judgments.apply(lambda r: _ref_battles_from_row(r, 3, baseline), axis=1)
    battles = pd.DataFrame(b[b.map(len) > 0].explode().tolist())
    point = _ref_compute_mle_elo(battles, baseline)
    np.random.seed(42)
    boot = pd.DataFrame(
        [_ref_compute_mle_elo(battles.sample(frac=1.0, replace=True), baseline) for _ in range(100)]
    )
    rows = {}
    for m in point.index:
        lo, hi = np.percentile(boot[m], 2.5), np.percentile(boot[m], 97.5)
        wr = [1 / (1 + 10 ** ((1000 - x) / 400)) * 100 for x in (point[m], lo, hi)]
        rows[m] = dict(zip(("score", "lower", "upper"), wr))
    return pd.DataFrame.from_dict(rows, orient="index")


def test_v01_equals_reimplementation_of_show_result(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    d = _write(tmp_path / "arena-hard-v0.1")
    judgments = pd.concat(
        [pd.read_json(f, lines=True) for f in sorted(d.glob("*.jsonl"))], ignore_index=True
    )
    ours = arena_hard_v01(judgments, "gpt-4-0314")
    ref = _ref_v01(d, "gpt-4-0314")
    assert set(ours.index) == set(ref.index)
    diff = (ours.loc[ref.index, ["score", "lower", "upper"]] - ref).abs().to_numpy().max()
    assert diff < 1e-4, diff
    assert ours.loc["gpt-4-0314", "score"] == 50.0
    assert ours.loc["m-strong", "score"] > 70 > 30 > ours.loc["m-weak", "score"]
    # strong verdicts are repeated, null games dropped (one game only, not the question)
    b = arena_hard_battles(judgments, "gpt-4-0314")
    n_games = sum(g["score"] is not None for gs in judgments["games"] for g in gs)
    n_strong = sum(g["score"] in ("A>>B", "B>>A") for gs in judgments["games"] for g in gs)
    assert len(b) == n_games + 2 * n_strong
    assert len(arena_hard_battles(judgments, "gpt-4-0314", weight=1)) == n_games


def _ref_v2(judge_dir: Path, baselines: dict[str, str], seed: int) -> pd.DataFrame:
    data = pd.concat(
        [pd.read_json(f, lines=True) for f in sorted(glob(f"{judge_dir}/*.jsonl"))]
    ).reset_index(drop=True)
    null = data.games.map(
        lambda x: x[0] is None or x[1] is None or x[0]["score"] is None or x[1]["score"] is None
    )
    data = data[~null].reset_index(drop=True)
    w = 3
    l2s = {
        "A>B": [1],
        "A>>B": [1] * w,
        "A=B": [0.5],
        "A<<B": [0] * w,
        "A<B": [0],
        "B>A": [0],
        "B>>A": [0] * w,
        "B=A": [0.5],
        "B<<A": [1] * w,
        "B<A": [1],
    }
    data["scores"] = data.games.map(
        lambda x: l2s[x[1]["score"]] + [1 - s for s in l2s[x[0]["score"]]]
    )
    battles = data[["uid", "model", "category", "scores"]].explode("scores").reset_index(drop=True)
    rs = np.random.RandomState(seed)
    out = []
    for cat in sorted(battles.category.unique()):
        b = battles[battles.category == cat].reset_index(drop=True)[["model", "scores"]]
        b["scores"] = b["scores"].astype(float)
        boots = pd.concat(
            [
                b.groupby("model")
                .sample(frac=1.0, replace=True, random_state=rs)
                .groupby("model")
                .mean()
                for _ in range(100)
            ]
        )
        t = (
            pd.DataFrame(
                {
                    "score": boots.groupby("model")["scores"].mean(),
                    "lower": boots.groupby("model")["scores"].quantile(0.05),
                    "upper": boots.groupby("model")["scores"].quantile(0.95),
                }
            )
            * 100
        )
        t.loc[baselines[cat]] = 50.0
        out.append(t.assign(category=cat))
    return pd.concat(out)


def test_v2_equals_reimplementation_with_a_baseline_per_category(tmp_path: Path) -> None:
    d = _write(tmp_path / "arena-hard-v2.0", v2=True)
    judgments = pd.concat(
        [pd.read_json(f, lines=True) for f in sorted(d.glob("*.jsonl"))], ignore_index=True
    )
    baselines = {"hard_prompt": "o3-mini-2025-01-31", "creative_writing": "gemini-2.0-flash-001"}
    ours = arena_hard_v2(judgments, baselines, seed=3).set_index(["category", "model"])
    ref = _ref_v2(d, baselines, 3).reset_index(names="model").set_index(["category", "model"])
    assert set(ours.index) == set(ref.index)
    diff = (
        (ours.loc[ref.index, ["score", "lower", "upper"]] - ref[["score", "lower", "upper"]])
        .abs()
        .max()
        .max()
    )
    assert diff < 1e-9
    assert ours.loc[("creative_writing", "gemini-2.0-flash-001"), "score"] == 50.0


# ---------------------------------------------------------------- re-implementation (v2.0 style)
def _ref_v2_style(
    judge_dir: Path, meta: dict, baseline: str, seed: int, rounds: int
) -> pd.DataFrame:
    torch = pytest.importorskip("torch")
    data = pd.concat(
        [pd.read_json(f, lines=True) for f in sorted(glob(f"{judge_dir}/*.jsonl"))]
    ).reset_index(drop=True)
    null = data.games.map(
        lambda x: x[0] is None or x[1] is None or x[0]["score"] is None or x[1]["score"] is None
    )
    data = data[~null].reset_index(drop=True)
    w = 3
    l2s = {
        "A>B": [1],
        "A>>B": [1] * w,
        "A=B": [0.5],
        "A<<B": [0] * w,
        "A<B": [0],
        "B>A": [0],
        "B>>A": [0] * w,
        "B=A": [0.5],
        "B<<A": [1] * w,
        "B<A": [1],
    }
    data["scores"] = data.games.map(
        lambda x: l2s[x[1]["score"]] + [1 - s for s in l2s[x[0]["score"]]]
    )
    battles = data[["uid", "model", "category", "scores"]].explode("scores").reset_index(drop=True)
    mf = battles.apply(lambda r: meta[r["model"]][r["uid"]], axis=1).tolist()
    bf = battles.apply(lambda r: meta[baseline][r["uid"]], axis=1).tolist()
    mt = torch.tensor(
        [[v if isinstance(v, int) else sum(v.values()) for k, v in m.items()] for m in mf],
        dtype=torch.float32,
    )
    bt = torch.tensor(
        [[v if isinstance(v, int) else sum(v.values()) for k, v in m.items()] for m in bf],
        dtype=torch.float32,
    )
    final = torch.zeros_like(mt)
    final[:, 0] = (mt[:, 0] - bt[:, 0]) / (mt[:, 0] + bt[:, 0])
    md, bd = mt[:, 1:] / mt[:, :1], bt[:, 1:] / bt[:, :1]
    final[:, 1:] = (md - bd) / (md + bd + 1)
    norm = (final - torch.mean(final, axis=0)) / torch.std(final, axis=0)
    outcomes = torch.tensor(battles.scores.tolist())
    items = battles.model.tolist()
    uniq = sorted(set(items + [baseline]))
    onehot = torch.tensor(
        [[1 if u == it else (-1 if u == baseline else 0) for u in uniq] for it in items],
        dtype=torch.float32,
    )
    feats = torch.cat([onehot, norm], dim=1)
    np.random.seed(seed)
    idxs = np.random.randint(low=0, high=feats.shape[0], size=(rounds, feats.shape[0]))
    stacks = []
    for i in range(rounds):
        x, y = feats[idxs[i]], outcomes[idxs[i]]
        logits = torch.nn.Parameter(torch.nn.init.constant_(torch.empty(x.shape[1]), 0.5))
        opt = torch.optim.LBFGS(
            [logits], lr=1.0, max_iter=50, tolerance_grad=1e-9, tolerance_change=1e-9
        )

        def closure(opt=opt, x=x, y=y, logits=logits):
            opt.zero_grad()
            p = torch.sigmoid(x @ logits)
            loss = -(torch.log(p) * y + torch.log(1.0 - p) * (1.0 - y)).sum()
            loss.backward()
            return loss

        opt.step(closure)
        stacks.append(logits.detach())
    coefs = torch.stack(stacks)[:, :-4]
    e = torch.exp(coefs)
    bi = uniq.index(baseline)
    probs = torch.stack([e[:, i] / (e[:, i] + e[:, bi]) for i in range(len(uniq))], dim=1)
    table = pd.DataFrame(columns=uniq, data=probs.tolist())
    return (
        pd.DataFrame(
            {
                "score": table.quantile(0.5),
                "lower": table.quantile(0.05),
                "upper": table.quantile(0.95),
            }
        )
        * 100
    )


def test_v2_style_control_equals_reimplementation(tmp_path: Path) -> None:
    d = _write(tmp_path / "arena-hard-v2.0", v2=True)
    rng = np.random.default_rng(5)
    meta = {
        m: {
            f"u{q:03d}": {
                "token_len": int(rng.integers(50, 900) * (1.5 if m == "m-strong" else 1)),
                "header_count": {f"h{k}": int(rng.integers(0, 3)) for k in range(1, 7)},
                "list_count": {
                    "ordered": int(rng.integers(0, 6)),
                    "unordered": int(rng.integers(0, 6)),
                },
                "bold_count": {"**": int(rng.integers(0, 5)), "__": 0},
            }
            for q in range(60)
        }
        for m in ("m-strong", "m-mid", "m-weak", "m-tie", "base")
    }
    judgments = pd.concat(
        [pd.read_json(f, lines=True) for f in sorted(d.glob("*.jsonl"))], ignore_index=True
    )
    judgments["category"] = "hard_prompt"
    for f in d.glob("*.jsonl"):  # one category, so that the re-implementation sees the same battles
        rows = [json.loads(x) | {"category": "hard_prompt"} for x in f.read_text().splitlines()]
        f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ours = arena_hard_v2_style(judgments, meta, "base", n_rounds=20, seed=4).set_index("model")
    ref = _ref_v2_style(d, meta, "base", 4, 20)
    diff = (ours.loc[ref.index, ["score", "lower", "upper"]] - ref).abs().max().max()
    assert diff < 0.02, (
        diff
    )  # upstream fits in float32 with at most 50 L-BFGS steps (measured 0.006)
    assert ours.loc["base", "score"] == 50.0
    assert len(ours.attrs["coefs"]["hard_prompt"]) == 4
