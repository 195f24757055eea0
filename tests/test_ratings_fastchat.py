"""FastChat parity: BT, online Elo and MT-Bench tables equal fschat==0.2.36's on its file formats.

Golden: tests/golden/fastchat/peer_fschat_0.2.36.json, made by FastChat itself with
``/work/venvs/fschat/bin/python benchmarks/peers/fschat_peer.py tests/golden/fastchat
tests/golden/fastchat/peer_fschat_0.2.36.json`` (fixtures: benchmarks/peers/make_fastchat_fixtures.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from arena.ratings.bradley_terry import fastchat_bt
from arena.ratings.elo import compute_elo
from arena.ratings.io import BattleFormatError, filter_battles, load_battles
from arena.ratings.mt_bench import mt_bench_pairwise_table, mt_bench_single_table

G = Path(__file__).parent / "golden" / "fastchat"
PEER = json.loads((G / "peer_fschat_0.2.36.json").read_text())


def test_bt_equals_fastchat_compute_mle_elo() -> None:
    pytest.importorskip("sklearn")
    battles = load_battles(G / "battles.json")
    for name, df in (("bt_all", battles), ("bt_anony", filter_battles(battles, {"anony": "true"}))):
        r = fastchat_bt(df)
        assert max(abs(r[m] - v) for m, v in PEER[name].items()) <= 0.01
        exact = fastchat_bt(df, solver="exact")  # the optimum; FastChat's lbfgs stops at tol 1e-4
        assert max(abs(exact[m] - v) for m, v in PEER[name].items()) <= 0.2
    assert r["llama-13b"] == pytest.approx(800.0)


def test_online_elo_and_mt_bench_tables_equal_fastchat() -> None:
    elo = compute_elo(load_battles(G / "battles.json"))
    assert max(abs(float(elo[m]) - v) for m, v in PEER["elo_online"].items()) < 1e-9
    single = mt_bench_single_table(
        pd.read_json(G / "model_judgment/gpt-4_single.jsonl", lines=True)
    )
    for name, col in (("turn1", "turn_1"), ("turn2", "turn_2"), ("average", "average")):
        for key, v in PEER["mt_single"][name].items():
            assert single.loc[key.split("|")[0], col] == pytest.approx(v, abs=1e-12)
    pair = mt_bench_pairwise_table(pd.read_json(G / "model_judgment/gpt-4_pair.jsonl", lines=True))
    for m, row in PEER["mt_pair"].items():
        for k, v in row.items():
            assert pair.loc[m, k] == pytest.approx(v, abs=1e-12)


def test_chatbot_arena_fields_are_kept_and_filterable() -> None:
    b = load_battles(G / "battles.json")
    raw = json.loads((G / "battles.json").read_text())
    assert list(b["rater"]) == [r["judge"] for r in raw]
    assert list(b["tstamp"]) == [r["tstamp"] for r in raw]
    en = filter_battles(b, {"language": "English", "anony": True})
    assert len(en) == sum(r["language"] == "English" and r["anony"] for r in raw) > 0
    assert (b["winner"] == "tie (bothbad)").any()
    with pytest.raises(BattleFormatError, match="no such column"):
        filter_battles(b, {"country": "x"})


def test_mt_bench_error_winners_are_skipped_and_counted(tmp_path: Path) -> None:
    from arena.cli import app

    b = load_battles(G / "model_judgment/gpt-4_pair.jsonl")
    raw = [json.loads(x) for x in (G / "model_judgment/gpt-4_pair.jsonl").read_text().splitlines()]
    n_err = sum("error" in (r["g1_winner"], r["g2_winner"]) for r in raw)
    assert n_err > 0 and b.attrs["skipped"] == n_err and len(b) == len(raw) - n_err
    res = CliRunner().invoke(
        app,
        [
            "ratings",
            "bt",
            str(G / "model_judgment/gpt-4_pair.jsonl"),
            "--format",
            "mt-bench",
            "--bootstrap",
            "0",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.stdout)["models"]) == {r["model_2"] for r in raw} | {
        raw[0]["model_1"]
    }
