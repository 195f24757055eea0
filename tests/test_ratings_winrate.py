"""Win rates against a baseline (hand-computed), matrices, and length-controlled win rate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from arena.ratings import (
    battle_count_matrix,
    describe_preferences,
    length_controlled_win_rate,
    pairwise_win_matrix,
    win_rate_vs_baseline,
)


def test_win_rate_matches_hand_computation_with_fractions_and_draws():
    # model "m" is output_2 vs baseline "base" (output_1); AlpacaEval preferences
    prefs = [2.0, 1.0, 1.5, 1.75, 1.2, 2.0, 0.0]  # 0.0 is AlpacaEval's legacy draw
    df = pd.DataFrame({"model_a": "base", "model_b": "m", "preference": prefs})
    df["winner"] = "tie"  # ignored: preference wins
    # by hand: p - 1 = [1, 0, .5, .75, .2, 1, .5]; mean = 3.95 / 7
    x = np.array([1, 0, 0.5, 0.75, 0.2, 1, 0.5])
    mean = 3.95 / 7
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / 6)
    out = win_rate_vs_baseline(df, "base").loc["m"]
    assert out["win_rate"] == pytest.approx(100 * mean)
    assert out["standard_error"] == pytest.approx(100 * sd / math.sqrt(7))
    assert (out["n_wins"], out["n_wins_base"], out["n_draws"], out["n_total"]) == (3, 2, 2, 7)
    assert out["discrete_win_rate"] == pytest.approx(100 * (3 + 2 / 2) / 7)


def test_win_rate_orients_sides_and_uses_winner_without_preference():
    df = pd.DataFrame(
        {
            "model_a": ["base", "m", "base", "m", "x"],
            "model_b": ["m", "base", "m", "base", "base"],
            "winner": ["model_b", "model_b", "tie", "model_a", "model_a"],
        }
    )
    out = win_rate_vs_baseline(df, "base")
    # m: win, loss (base won as model_b), draw, win -> [1, 0, .5, 1]
    assert out.loc["m", "win_rate"] == pytest.approx(62.5)
    assert out.loc["m", "n_wins"] == 2 and out.loc["m", "n_draws"] == 1
    sd = np.std([1, 0, 0.5, 1], ddof=1)
    assert out.loc["m", "standard_error"] == pytest.approx(100 * sd / 2)
    assert out.loc["x", "win_rate"] == 100 and math.isnan(out.loc["x", "standard_error"])
    assert "base" not in out.index
    with pytest.raises(KeyError):
        win_rate_vs_baseline(df, "nobody")


def test_describe_preferences_drops_missing():
    out = describe_preferences([2.0, np.nan, 1.0])
    assert out["n_total"] == 2 and out["win_rate"] == 50 and out["discrete_win_rate"] == 50


def test_pairwise_matrices():
    df = pd.DataFrame(
        {
            "model_a": ["A", "B", "A", "C"],
            "model_b": ["B", "A", "B", "A"],
            "winner": ["model_a", "model_a", "tie", "model_b"],
        }
    )
    w = pairwise_win_matrix(df)
    n = battle_count_matrix(df)
    assert n.loc["A", "B"] == 3 and n.loc["B", "A"] == 3 and n.loc["B", "C"] == 0
    assert w.loc["A", "B"] == pytest.approx(1.5 / 3)
    assert w.loc["A", "C"] == 1.0 and w.loc["C", "A"] == 0.0
    assert math.isnan(w.loc["B", "C"])


def _lc_data(seed: int = 0, n_q: int = 400):
    """Model "verbose" wins only through length; "good" wins on quality at equal length."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 1, n_q)
    base_len = rng.integers(300, 800, n_q).astype(float)
    frames = []
    for model, skill, mean_extra in (("verbose", 0.0, 600), ("good", 1.0, 0), ("same", 0.0, 0)):
        dlen = np.maximum(rng.normal(mean_extra, 400, n_q), -base_len + 10)
        std_len = dlen / dlen.std(ddof=1)
        logit = skill + 1.5 * np.tanh(std_len) + 0.5 * difficulty
        frames.append(
            pd.DataFrame(
                {
                    "model_a": "base",
                    "model_b": model,
                    "preference": 1 + 1 / (1 + np.exp(-logit)),  # fractional preference
                    "question_id": np.arange(n_q),
                    "len_a": base_len,
                    "len_b": base_len + dlen,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_length_controlled_win_rate_removes_length_advantage():
    df = _lc_data()
    out = length_controlled_win_rate(df, "base")
    assert out.loc["verbose", "win_rate"] > 70  # raw win rate rewards verbosity
    assert abs(out.loc["verbose", "length_controlled_winrate"] - 50) < 8
    assert out.loc["good", "length_controlled_winrate"] > 65
    assert abs(out.loc["same", "length_controlled_winrate"] - 50) < 8
    assert out.index[0] == "good"
    raw = win_rate_vs_baseline(df, "base")
    np.testing.assert_allclose(out.loc[raw.index, "win_rate"], raw["win_rate"])


def test_length_controlled_win_rate_is_finite_when_a_model_always_wins():
    df = pd.DataFrame(
        {
            "model_a": "base",
            "model_b": "m",
            "preference": 2.0,
            "question_id": range(20),
            "len_a": 100,
            "len_b": np.arange(20) * 10 + 50,
        }
    )
    out = length_controlled_win_rate(df, "base")
    assert 50 < out.loc["m", "length_controlled_winrate"] < 100
    with pytest.raises(ValueError, match="len_a"):
        length_controlled_win_rate(df.drop(columns=["len_a"]), "base")
