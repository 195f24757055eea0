"""Style-controlled Bradley-Terry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena.ratings import fit_bt, fit_bt_style, style_leaderboard
from arena.ratings.style import style_features


def _battles(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """Equal-quality models; "long" writes 3x longer answers and length sways the voters."""
    rng = np.random.default_rng(seed)
    names = np.array(["long", "short", "mid"])
    base_len = np.array([900.0, 300.0, 300.0])
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(1, 3, n)) % 3
    len_a = base_len[a] * rng.lognormal(0, 0.3, n)
    len_b = base_len[b] * rng.lognormal(0, 0.3, n)
    z = (len_a - len_b) / (len_a + len_b)
    p = 1 / (1 + np.exp(-2.0 * z / 0.4))
    win = rng.random(n) < p
    return pd.DataFrame(
        {
            "model_a": names[a],
            "model_b": names[b],
            "winner": np.where(win, "model_a", "model_b"),
            "len_a": len_a,
            "len_b": len_b,
            "bold_a": rng.poisson(2, n),
            "bold_b": rng.poisson(2, n),
        }
    )


def test_style_control_removes_length_advantage():
    df = _battles()
    raw = fit_bt(df).as_series()
    styled = fit_bt_style(df)
    r = pd.Series(styled.ratings, index=styled.models)
    assert raw["long"] - raw["short"] > 100
    assert abs(r["long"] - r["short"]) < 40
    assert styled.coefs["len"] > 0.5 and abs(styled.coefs["bold"]) < 0.1


def test_style_features_and_errors():
    df = _battles(200)
    z = style_features(df)
    assert list(z.columns) == ["len", "bold"]
    np.testing.assert_allclose(z.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(ddof=0), 1)
    with pytest.raises(ValueError, match="style control"):
        style_features(df[["model_a", "model_b", "winner"]])


def test_style_leaderboard_is_seeded_and_reports_coefficients():
    df = _battles(1500, seed=2)
    a = style_leaderboard(df, n_bootstrap=20, seed=1)
    b = style_leaderboard(df, n_bootstrap=20, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert set(a.attrs["style_coefficients"]) == {"len", "bold"}
    assert (a["lower"] <= a["rating"] + 1e-6).all() and (a["rating"] <= a["upper"] + 1e-6).all()
