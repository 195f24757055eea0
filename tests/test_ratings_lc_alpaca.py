"""AlpacaEval LC and win rate equal alpaca-eval==0.6.6's on files in its exact layout.

The golden numbers (tests/golden/alpaca_eval/peer_alpaca_eval_0.6.6.json) were computed by the
peer itself: ``/work/venvs/alpaca-eval/bin/python benchmarks/peers/alpaca_eval_peer.py
tests/golden/alpaca_eval tests/golden/alpaca_eval/peer_alpaca_eval_0.6.6.json`` (fixtures from
``benchmarks/peers/make_alpaca_eval_fixtures.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.ratings.io import load_battles
from arena.ratings.length_control import LCInputs, length_controlled_win_rate, load_lc_inputs

GOLDEN = Path(__file__).parent / "golden" / "alpaca_eval"
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks" / "peers"))
KEYS = (
    "win_rate",
    "standard_error",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    "discrete_win_rate",
    "length_controlled_winrate",
    "lc_standard_error",
)


def _battles() -> pd.DataFrame:
    return pd.concat(
        [load_battles(f) for f in sorted(GOLDEN.glob("*/annotations.json"))], ignore_index=True
    )


@pytest.mark.parametrize("glm", ["length_controlled_v1", "length_controlled_noreg"])
def test_lc_and_win_rate_equal_alpaca_eval(glm: str) -> None:
    pytest.importorskip("sklearn")
    peer = json.loads((GOLDEN / "peer_alpaca_eval_0.6.6.json").read_text())[glm]
    ours = length_controlled_win_rate(
        _battles(), "gpt4_1106_preview", glm=glm, inputs=load_lc_inputs(GOLDEN / "df_gamed.csv")
    )
    assert set(ours.index) == set(peer)
    diffs = [abs(float(ours.loc[m, k]) - v[k]) for m, v in peer.items() for k in KEYS]
    assert max(diffs) <= 1e-6
    assert (
        ours.loc["gpt4_1106_preview", "length_controlled_winrate"] == 50.0
    )  # the baseline's own file
    assert ours.attrs["notes"] == []
    # the LC really moved away from the raw win rate (the test could fail)
    assert (
        abs(
            ours.loc["verbose-13b", "length_controlled_winrate"]
            - ours.loc["verbose-13b", "win_rate"]
        )
        > 4
    )


def test_exact_solver_is_close_and_missing_inputs_are_reported() -> None:
    peer = json.loads((GOLDEN / "peer_alpaca_eval_0.6.6.json").read_text())[
        "length_controlled_noreg"
    ]
    from arena.ratings import length_control as lc

    b = _battles()
    gamed = load_lc_inputs(GOLDEN / "df_gamed.csv").gamed
    rows = b[b["model_b"] == "concise-70b"]
    diff = gamed.drop_duplicates("index")["instruction_difficulty"].loc[rows["position"]].to_numpy()
    exact = lc.alpaca_length_controlled(
        rows["len_a"].to_numpy(),
        rows["len_b"].to_numpy(),
        rows["preference"].to_numpy(),
        diff,
        None,
        None,
        solver="exact",
    )
    assert exact["length_controlled_winrate"] == pytest.approx(
        peer["concise-70b"]["length_controlled_winrate"], abs=0.05
    )
    # without df_gamed.csv: difficulty estimated, no regularisation, both said
    approx = length_controlled_win_rate(b, "gpt4_1106_preview")
    assert any("difficulty estimated" in n for n in approx.attrs["notes"])
    assert any("no regularisation" in n for n in approx.attrs["notes"])
    # a difficulty file (index = row position) replaces the estimate
    with_file = length_controlled_win_rate(
        b,
        "gpt4_1106_preview",
        glm="length_controlled_noreg",
        inputs=load_lc_inputs(None, GOLDEN / "instruction_difficulty.csv"),
    )
    assert with_file.attrs["notes"] == []
    assert np.allclose(
        with_file["length_controlled_winrate"].sort_index(),
        pd.Series({m: v["length_controlled_winrate"] for m, v in peer.items()}).sort_index(),
        atol=1e-6,
    )
    assert approx.loc["gpt4_1106_preview", "length_controlled_winrate"] == 50.0
    assert isinstance(LCInputs(), LCInputs)


def test_null_preferences_are_kept_for_lc_but_not_counted() -> None:
    b = load_battles(GOLDEN / "alpaca-7b" / "annotations.json")
    raw = json.loads((GOLDEN / "alpaca-7b" / "annotations.json").read_text())
    assert (
        len(b) == len(raw)
        and b["preference"].isna().sum() == sum(r["preference"] is None for r in raw) > 0
    )
    assert b["winner"].isna().sum() == b["preference"].isna().sum()
    assert list(b["position"]) == list(range(len(raw)))
