"""Bradley-Terry: recovery with CI coverage, invariances, ties, unseen/disconnected models."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from arena.ratings import (
    DisconnectedGraphError,
    SeparationWarning,
    bt_leaderboard,
    dedup_battles,
    fit_bt,
    predicted_win_matrix,
)

C = 400 / math.log(10)


def simulate(true_elo: np.ndarray, n: int, rng: np.random.Generator, tie_rate: float = 0.0):
    """Battles from a BT model with Elo-scale strengths; ties drawn independently."""
    m = len(true_elo)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p = 1 / (1 + 10 ** ((true_elo[b] - true_elo[a]) / 400))
    win = rng.random(n) < p
    tie = rng.random(n) < tie_rate
    winner = np.where(tie, "tie", np.where(win, "model_a", "model_b"))
    names = np.array([f"m{i}" for i in range(m)])
    return pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})


def test_recovers_known_ratings_with_ci_coverage():
    true = np.array([1150.0, 1080.0, 1000.0, 950.0, 820.0])
    true = true - true.mean() + 1000  # ratings are anchored at the mean
    inside, reps = [], 50
    for seed in range(reps):
        rng = np.random.default_rng(seed)
        lb = bt_leaderboard(simulate(true, 1500, rng), n_bootstrap=100, seed=seed)
        lb = lb.set_index("model").loc[[f"m{i}" for i in range(len(true))]]
        inside.append((lb["lower"].to_numpy() <= true) & (true <= lb["upper"].to_numpy()))
    inside = np.array(inside)
    # per model and repetition, the 95% interval holds the true value >= 90% of the time
    assert inside.mean() >= 0.90, inside.mean()
    assert inside.mean(axis=0).min() >= 0.84
    # and the ranks of a well-separated set come out right on average
    point = fit_bt(simulate(true, 20000, np.random.default_rng(1))).ratings
    assert np.abs(point - true).max() < 25


def test_invariant_to_row_order_and_side_swap():
    rng = np.random.default_rng(3)
    df = simulate(np.array([1100.0, 1000.0, 900.0, 1050.0]), 3000, rng, tie_rate=0.2)
    base = fit_bt(df).ratings
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    flip = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
    swapped = df.rename(columns={"model_a": "model_b", "model_b": "model_a"})
    swapped["winner"] = swapped["winner"].map(flip)
    np.testing.assert_allclose(fit_bt(shuffled).ratings, base, atol=1e-6)
    np.testing.assert_allclose(fit_bt(swapped).ratings, base, atol=1e-6)


def test_ties_count_half_each_way():
    # A beats B twice, B beats A once, plus 2 ties -> A has 3 of 5 "wins": odds 3:2
    df = pd.DataFrame(
        {
            "model_a": ["A", "A", "B", "A", "B"],
            "model_b": ["B", "B", "A", "B", "A"],
            "winner": ["model_a", "model_a", "model_a", "tie", "tie (bothbad)"],
        }
    )
    r = fit_bt(df, l2=0.0).as_series()  # exact MLE; the default prior moves it ~0.1 point
    assert r["A"] - r["B"] == pytest.approx(400 * math.log10(3 / 2), abs=1e-3)
    assert fit_bt(df).as_series()["A"] - r["A"] == pytest.approx(0, abs=0.5)
    assert (r["A"] + r["B"]) / 2 == pytest.approx(1000)


def test_anchor_and_weights():
    df = pd.DataFrame(
        {"model_a": ["A", "B"], "model_b": ["B", "A"], "winner": ["model_a", "model_a"]}
    )
    df["weight"] = [3.0, 1.0]  # weighted: A 3 wins, B 1 win -> odds 3
    r = fit_bt(df, anchor="B", l2=0.0).as_series()
    assert r["B"] == pytest.approx(1000)
    assert r["A"] - r["B"] == pytest.approx(400 * math.log10(3), abs=1e-3)


def test_dedup_counts_identical_rows():
    df = pd.DataFrame(
        {
            "model_a": ["A", "A", "A", "B"],
            "model_b": ["B", "B", "B", "A"],
            "winner": ["model_a", "model_a", "tie", "model_a"],
        }
    )
    d = dedup_battles(df)
    assert d.n_battles == 4 and len(d.count) == 3 and sorted(d.count.tolist()) == [1, 1, 2]


def test_disconnected_graph_raises_or_warns():
    df = pd.DataFrame(
        {
            "model_a": ["A", "B", "C", "D"],
            "model_b": ["B", "A", "D", "C"],
            "winner": ["model_a", "model_a", "model_a", "tie"],
        }
    )
    with pytest.raises(DisconnectedGraphError) as err:
        fit_bt(df)
    assert len(err.value.components) == 2
    with pytest.warns(UserWarning, match="disconnected"):
        r = fit_bt(df, allow_disconnected=True).as_series()
    # each component is centred on 1000
    assert (r["A"] + r["B"]) / 2 == pytest.approx(1000, abs=1e-3)
    assert (r["C"] + r["D"]) / 2 == pytest.approx(1000, abs=1e-3)


def test_perfect_separation_is_finite_and_warns():
    df = pd.DataFrame(
        {
            "model_a": ["A", "A", "B", "B", "C"],
            "model_b": ["B", "C", "C", "A", "A"],
            "winner": ["model_a", "model_a", "tie", "model_b", "model_b"],
        }
    )
    with pytest.warns(SeparationWarning):
        fit = fit_bt(df)
    assert np.isfinite(fit.ratings).all()
    assert fit.as_series().index[0] == "A"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lb = bt_leaderboard(df.iloc[[2]], n_bootstrap=20)  # B-C tie only: no warning
    assert np.isfinite(lb["lower"]).all()


def test_unseen_models_get_nan_and_rank_zero():
    df = simulate(np.array([1100.0, 1000.0, 900.0]), 300, np.random.default_rng(0))
    fit = fit_bt(df, models=["m0", "m1", "m2", "zzz"])
    r = fit.as_series()
    assert math.isnan(r["zzz"]) and np.isfinite(r.drop("zzz")).all()
    assert r.drop("zzz").mean() == pytest.approx(1000)
    lb = bt_leaderboard(df, models=["m0", "m1", "m2", "zzz"], n_bootstrap=10).set_index("model")
    assert lb.loc["zzz", "rank"] == 0 and lb.loc["zzz", "n_battles"] == 0


def test_rank_uses_ci_and_bootstrap_is_seeded():
    df = simulate(np.array([1300.0, 1000.0, 995.0, 700.0]), 4000, np.random.default_rng(5))
    a = bt_leaderboard(df, n_bootstrap=50, seed=7)
    b = bt_leaderboard(df, n_bootstrap=50, seed=7)
    pd.testing.assert_frame_equal(a, b)
    ranks = a.set_index("model")["rank"]
    assert ranks["m0"] == 1 and ranks["m3"] == 4
    assert ranks["m1"] == ranks["m2"] == 2  # overlapping intervals share a rank


def test_predicted_win_matrix():
    r = pd.Series({"A": 1400.0, "B": 1000.0})
    p = predicted_win_matrix(r)
    assert p.loc["A", "B"] == pytest.approx(10 / 11)
    assert p.loc["A", "B"] + p.loc["B", "A"] == pytest.approx(1)
    assert math.isnan(p.loc["A", "A"])
