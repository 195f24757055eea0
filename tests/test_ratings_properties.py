"""Hypothesis properties of the pure rating functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from arena.ratings import (
    describe_preferences,
    elo_ratings,
    fit_bt,
    pairwise_win_matrix,
    rank_with_ci,
)

MODELS = ["A", "B", "C", "D"]
WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)"]
FLIP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie", "tie (bothbad)": "tie (bothbad)"}

battle = st.tuples(
    st.sampled_from(MODELS), st.sampled_from(MODELS), st.sampled_from(WINNERS)
).filter(lambda t: t[0] != t[1])


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])


def _connected(rows) -> list:
    # a cycle through all models keeps the graph connected and the MLE finite
    ring = [(m, MODELS[(i + 1) % 4], w) for i, m in enumerate(MODELS) for w in ("model_a", "tie")]
    return ring + list(rows)


@settings(max_examples=40, deadline=None)
@given(st.lists(battle, max_size=40), st.randoms(use_true_random=False), st.data())
def test_bt_invariant_to_permutation_and_side_swap(rows, rnd, data):
    rows = _connected(rows)
    base = fit_bt(_frame(rows)).as_series().sort_index()
    perm = rows[:]
    rnd.shuffle(perm)
    swap = data.draw(st.lists(st.booleans(), min_size=len(perm), max_size=len(perm)))
    perm = [(b, a, FLIP[w]) if s else (a, b, w) for (a, b, w), s in zip(perm, swap)]
    other = fit_bt(_frame(perm)).as_series().sort_index()
    np.testing.assert_allclose(other.to_numpy(), base.to_numpy(), atol=1e-4)
    assert abs(base.mean() - 1000) < 1e-6


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(1, 4), st.sampled_from([0.0, 0.5, 1.0]))),
    st.floats(1, 64),
)
def test_elo_conserves_total_rating(rows, k):
    a = np.array([r[0] for r in rows], dtype=np.int64)
    b = (a + np.array([r[1] for r in rows], dtype=np.int64)) % 5
    s = np.array([r[2] for r in rows], dtype=float)
    r = elo_ratings(a, b, s, 5, k=k)
    assert abs(r.sum() - 5000) < 1e-6
    assert np.all(np.abs(r - 1000) <= k * len(rows) + 1e-9)


prefs = st.lists(
    st.one_of(st.floats(1, 2), st.sampled_from([1.0, 1.5, 2.0])), min_size=1, max_size=50
)


@given(prefs)
def test_win_rate_bounds_and_consistency(p):
    out = describe_preferences(p)
    assert 0 <= out["win_rate"] <= 100 and 0 <= out["discrete_win_rate"] <= 100
    assert out["n_wins"] + out["n_wins_base"] + out["n_draws"] == out["n_total"] == len(p)
    flipped = describe_preferences([3 - x for x in p])
    assert abs(out["win_rate"] + flipped["win_rate"] - 100) < 1e-9
    assert abs(out["discrete_win_rate"] + flipped["discrete_win_rate"] - 100) < 1e-9


@given(st.lists(battle, min_size=1, max_size=40))
def test_pairwise_win_matrix_complements(rows):
    w = pairwise_win_matrix(_frame(rows)).to_numpy()
    defined = ~np.isnan(w)
    assert np.all((w[defined] >= 0) & (w[defined] <= 1))
    np.testing.assert_allclose((w + w.T)[defined], 1.0)


@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(0, 50)), min_size=1, max_size=20))
def test_rank_with_ci_is_between_one_and_n_and_monotone(intervals):
    lo = np.array([c - h for c, h in intervals])
    hi = np.array([c + h for c, h in intervals])
    ranks = rank_with_ci(lo, hi)
    assert ranks.min() == 1 and ranks.max() <= len(intervals)
    for i in range(len(lo)):
        for j in range(len(lo)):
            if lo[j] > hi[i]:  # j is clearly better than i
                assert ranks[j] < ranks[i]
