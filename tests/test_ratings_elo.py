"""Online Elo: hand-computed updates, order dependence, conservation, bootstrap CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena.ratings import compute_elo, elo_leaderboard, elo_ratings


def _by_hand(rows, k=4.0):
    r = {"A": 1000.0, "B": 1000.0, "C": 1000.0}
    for a, b, s in rows:
        ea = 1 / (1 + 10 ** ((r[b] - r[a]) / 400))
        r[a] += k * (s - ea)
        r[b] -= k * (s - ea)
    return r


def test_elo_matches_textbook_updates_and_is_order_dependent():
    rows = [("A", "B", 1.0), ("B", "C", 0.5), ("C", "A", 1.0), ("A", "B", 0.0)]
    winner = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}
    df = pd.DataFrame(
        [(a, b, winner[s]) for a, b, s in rows], columns=["model_a", "model_b", "winner"]
    )
    got = compute_elo(df, k=32)
    for m, v in _by_hand(rows, k=32).items():
        assert got[m] == pytest.approx(v, abs=1e-9)
    rev = compute_elo(df.iloc[::-1], k=32)
    assert not np.allclose(rev.sort_index(), got.sort_index())


def test_elo_conserves_total_and_weights_scale_k():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 1000)
    b = (a + rng.integers(1, 5, 1000)) % 5
    s = rng.choice([0.0, 0.5, 1.0], 1000)
    r = elo_ratings(a, b, s, 5, k=16)
    assert r.sum() == pytest.approx(5000)
    np.testing.assert_allclose(
        elo_ratings(a, b, s, 5, k=8, weight=np.full(1000, 2.0)), r, atol=1e-9
    )


def test_elo_leaderboard_bootstrap():
    rng = np.random.default_rng(1)
    n = 2000
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(1, 3, n)) % 3
    strong = np.array([2.0, 0.0, -2.0])
    win = rng.random(n) < 1 / (1 + np.exp(strong[b] - strong[a]))
    names = np.array(["A", "B", "C"])
    df = pd.DataFrame(
        {"model_a": names[a], "model_b": names[b], "winner": np.where(win, "model_a", "model_b")}
    )
    lb = elo_leaderboard(df, n_bootstrap=20, seed=0)
    assert lb["model"].tolist() == ["A", "B", "C"]
    assert (lb["lower"] <= lb["upper"]).all() and lb["rank"].tolist() == [1, 2, 3]
    assert lb["n_battles"].sum() == 2 * n
    plain = elo_leaderboard(df)
    assert plain["lower"].isna().all() and plain["rank"].tolist() == [1, 2, 3]
