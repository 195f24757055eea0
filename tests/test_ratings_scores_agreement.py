"""Single-score aggregation and agreement / position bias."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from arena.ratings import (
    aggregate_scores,
    agreement,
    agreement_matrix,
    cohen_kappa,
    pairwise_agreement,
    position_flip_rate,
)


def test_aggregate_scores_means_and_cis():
    scores = pd.DataFrame(
        {
            "model": ["A"] * 4 + ["B"] * 4 + ["A"],
            "question_id": [1, 2, 3, 4, 1, 2, 3, 4, 1],
            "category": ["x", "x", "y", "y"] * 2 + ["x"],
            "score": [8, 6, 4, 2, 5, 5, 5, 5, 10],  # A has two scores on question 1
        }
    )
    out = aggregate_scores(scores, n_bootstrap=200, seed=0)
    overall = out[out["category"] == "overall"].set_index("model")
    assert overall.loc["A", "score"] == pytest.approx((9 + 6 + 4 + 2) / 4)
    assert overall.loc["B", "lower"] == overall.loc["B", "upper"] == 5
    assert overall.loc["A", "lower"] < overall.loc["A", "score"] < overall.loc["A", "upper"]
    x = out[out["category"] == "x"].set_index("model")
    assert x.loc["A", "score"] == 7.5 and x.loc["A", "n_questions"] == 2
    again = aggregate_scores(scores, n_bootstrap=200, seed=0)
    pd.testing.assert_frame_equal(out, again)


def test_cohen_kappa_by_hand():
    x = ["a", "a", "b", "b", "a", "b"]
    y = ["a", "b", "b", "b", "a", "a"]
    po = 4 / 6
    pe = 0.5 * 0.5 + 0.5 * 0.5
    assert cohen_kappa(x, y) == pytest.approx((po - pe) / (1 - pe))
    assert math.isnan(cohen_kappa([], []))


def test_agreement_with_and_without_ties():
    x = ["model_a", "tie", "model_b", "model_a"]
    y = ["model_a", "tie (bothbad)", "model_a", "tie"]
    with_ties = agreement(x, y)
    assert with_ties.rate == 0.5 and with_ties.n == 4
    no_ties = agreement(x, y, include_ties=False)
    assert no_ties.n == 2 and no_ties.rate == 0.5


def _judged():
    rows = [
        # question, model_a, model_b, winner, source
        (1, "A", "B", "model_a", "judge:g"),
        (1, "B", "A", "model_b", "human"),  # same verdict (A wins), other side
        (2, "A", "B", "tie", "judge:g"),
        (2, "A", "B", "model_b", "human"),
        (3, "A", "C", "model_b", "judge:g"),
        (3, "C", "A", "model_a", "human"),  # C wins in both
        (4, "B", "C", "model_a", "human"),  # no judge verdict
    ]
    return pd.DataFrame(rows, columns=["question_id", "model_a", "model_b", "winner", "source"])


def test_judge_human_agreement_is_side_invariant():
    df = _judged()
    res = pairwise_agreement(df, "judge:g", "human")
    assert res.n == 3 and res.rate == pytest.approx(2 / 3)
    res = pairwise_agreement(df, "judge:g", "human", include_ties=False)
    assert res.n == 2 and res.rate == 1.0
    mat = agreement_matrix(df)
    assert mat.loc["human", "judge:g"] == pytest.approx(2 / 3)


def test_position_flip_rate_from_both_orders():
    rows = [
        (1, "A", "B", "model_a"),
        (1, "B", "A", "model_a"),  # flips: each order prefers the first shown
        (2, "A", "B", "model_a"),
        (2, "B", "A", "model_b"),  # consistent: A both times
        (3, "A", "B", "model_b"),
        (3, "B", "A", "model_b"),  # flips: prefers second
        (4, "A", "B", "tie"),
    ]
    df = pd.DataFrame(rows, columns=["question_id", "model_a", "model_b", "winner"])
    res = position_flip_rate(df)
    assert (res.n_pairs, res.n_flips, res.prefers_first, res.prefers_second) == (3, 2, 1, 1)
    mt = pd.DataFrame(
        {"g1_winner": ["model_a", "model_a", "tie"], "g2_winner": ["model_b", "model_a", "tie"]}
    )
    res = position_flip_rate(mt)
    assert res.flip_rate == pytest.approx(1 / 3) and res.prefers_first == 1
    assert np.isnan(position_flip_rate(mt.iloc[:0]).flip_rate)
