"""Report numbers of issue 14: one win-rate definition with CIs, separation warnings,
position-bias direction, cost paid and saved, judges vs human votes, panels."""

from __future__ import annotations

import numpy as np
import pytest

from arena.core.records import Battle, Judgment
from arena.report import compute_report
from tests import report_extra as rx
from tests import report_fixtures as fx


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    store = rx.make_store(tmp_path_factory.mktemp("r14") / "arena.sqlite")
    return store, compute_report(store, fx.RUN, baseline=fx.BASELINE, n_bootstrap=100)


def _tab(data, tid):
    return next(t for t in data.tables if t.id == tid)


def test_one_win_rate_definition_in_leaderboard_and_heatmap(data):
    store, d = data
    label = "combined"
    lb = d.leaderboards[label].set_index("model")
    mat = d.win_matrices[label].set_index("model")
    for m in lb.index:
        if m != fx.BASELINE:  # the leaderboard's number is the heatmap's cell x 100
            assert lb.loc[m, "win rate %"] == pytest.approx(100 * mat.loc[m, fx.BASELINE], abs=1e-9)
            assert lb.loc[m, "wr ci low"] <= lb.loc[m, "win rate %"] <= lb.loc[m, "wr ci high"]
    # independent: weighted share of battle weight won vs the baseline, ties half
    bs = [b for b in store.all(Battle, fx.RUN)]
    won = tot = 0.0
    for b in bs:
        if {b.model_a, b.model_b} == {"llama-3-8b-instruct", fx.BASELINE}:
            s = {"model_a": 1.0, "model_b": 0.0}.get(b.winner, 0.5)
            won += b.weight * (s if b.model_a == "llama-3-8b-instruct" else 1 - s)
            tot += b.weight
    assert lb.loc["llama-3-8b-instruct", "win rate %"] == pytest.approx(100 * won / tot, abs=1e-9)
    for t in d.tables:  # every table with a win rate says which definition in its caption
        if any("win rate" in str(c) for c in t.frame.columns) and t.section in (
            "subjective",
            "winrate",
        ):
            assert "weighted" in t.note.lower() and "ties" in t.note.lower(), t.id
    rates = d.win_intervals[label]
    assert (
        (rates["ci low"] <= rates["win rate"] + 1e-12)
        & (rates["win rate"] <= rates["ci high"] + 1e-12)
    ).all()
    assert (rates["ci high"] - rates["ci low"]).max() > 0.05  # real intervals, not points


def test_separation_warning_beside_the_rating(data):
    _, d = data
    for label in ("human", "combined", fx.JUDGE):
        lb = d.leaderboards[label].set_index("model")
        assert "unbounded below" in lb.loc[rx.ODD, "warning"]
        assert lb["warning"].notna().sum() == 1  # only the odd one out
        assert rx.ODD in d.separation[label]
    t = _tab(d, "table-subjective-combined")
    assert "warning" in t.frame.columns and "Separation" in t.note


def test_position_bias_direction_and_costs(data):
    store, d = data
    rows = _tab(d, "table-judges").frame.set_index("judge")
    js = [j for j in store.all(Judgment, fx.RUN) if j.judge == fx.JUDGE and not j.parse_error]
    decided = [j for j in js if j.verdict in ("A", "B")]
    first = sum(j.verdict == "A" for j in decided)
    assert rows.loc[fx.JUDGE, "first shown wins %"] == pytest.approx(100 * first / len(decided))
    assert (
        rows.loc[fx.JUDGE, "first shown wins %"] > 50
    )  # the fixture judge leans to the first answer
    assert rows.loc[fx.JUDGE, "cost paid"] == pytest.approx(0.00031 * 144)
    assert rows.loc["cached-judge@gpt-4o", "cost paid"] == 0
    assert rows.loc["cached-judge@gpt-4o", "saved by cache"] == pytest.approx(0.002 * 15)
    assert d.counts["saved by cache"] == "$0.0300"


def test_agreement_table_equals_arena_agreement_on_the_store(data):
    store, d = data
    from arena.agreement_data import store_result

    res = store_result(store, fx.RUN)
    t = _tab(d, "table-agreement").frame.set_index("judge")
    got = res[f"judge:{fx.JUDGE}"]
    assert t.loc[fx.JUDGE, "n"] == got["n"] > 0
    assert t.loc[fx.JUDGE, "accuracy %"] == pytest.approx(100 * got["accuracy"])
    assert t.loc[fx.JUDGE, "kappa"] == pytest.approx(got["kappa"])
    assert (
        "Fleiss" in _tab(d, "table-agreement").note
        and "alice vs bob" in _tab(d, "table-agreement").note
    )


def test_panel_table_and_leaderboard(data):
    _, d = data
    assert "panel-majority" in d.leaderboards
    p = _tab(d, "table-panels").frame
    row = p[p["judge"] == fx.JUDGE].iloc[0]
    assert row["agree %"] == 100.0 and row["n"] > 0  # the fixture panel copies that judge


def test_win_rates_bootstrap_units_keep_split_verdicts_together():
    import pandas as pd

    from arena.report.tables import win_rates

    b = pd.DataFrame(
        {
            "model_a": ["x"] * 4,
            "model_b": ["y"] * 4,
            "question_id": ["1", "1", "2", "3"],
            "winner": ["model_a", "model_b", "model_a", "model_a"],
            "weight": [0.5, 0.5, 3.0, 1.0],
        }
    )
    r = win_rates(b, n_bootstrap=200).set_index(["model", "opponent"])
    assert r.loc[("x", "y"), "win rate"] == pytest.approx((0.5 + 3 + 1) / 5)
    assert r.loc[("y", "x"), "win rate"] == pytest.approx(0.5 / 5)
    assert r.loc[("x", "y"), "battles"] == 4
    # question 1 is one unit worth 0.5/1.0; resampling never splits it, so the lowest share is 0.5
    assert r.loc[("x", "y"), "ci low"] >= 0.5 - 1e-12
    assert np.isfinite(r["ci high"]).all()
