"""`arena ratings arena-hard | mt-bench | lc` on upstream files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from arena.ratings.arena_hard import arena_hard_v01
from arena.ratings.cli import app

G = Path(__file__).parent / "golden"
RUN = CliRunner()


def _bench(root: Path, v2: bool) -> Path:
    d = root / "model_judgment" / "gpt-4.1"
    d.mkdir(parents=True)
    labels = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]
    for m, ks in (("m1", [4, 3, 3, 2, 1, 0, 3, 3]), ("m2", [0, 1, 1, 2, 2, 3, 1, 0])):
        rows = []
        for q, k in enumerate(ks):
            key = (
                {"uid": f"u{q}", "category": "hard_prompt" if q % 2 else "creative_writing"}
                if v2
                else {"question_id": f"q{q}"}
            )
            games = [
                {"user_prompt": "p", "judgment": "j", "score": labels[k]},
                {"user_prompt": "p", "judgment": "j", "score": labels[4 - k] if q != 5 else None},
            ]
            rows.append({**key, "model": m, "judge": "gpt-4.1", "games": games})
        (d / f"{m}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_arena_hard_v01_and_v2_commands(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    bench = _bench(tmp_path / "arena-hard-v0.1", v2=False)
    res = RUN.invoke(app, ["arena-hard", str(bench), "--rounds", "10", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)["models"]
    judgments = pd.concat(
        [pd.read_json(f, lines=True) for f in sorted((bench / "model_judgment/gpt-4.1").glob("*"))]
    )
    want = arena_hard_v01(judgments.reset_index(drop=True), "gpt-4-0314", n_rounds=10)
    assert (
        got["m1"]["score"] == pytest.approx(want.loc["m1", "score"])
        and got["gpt-4-0314"]["score"] == 50.0
    )
    assert got["m1"]["score"] > 50 > got["m2"]["score"]
    v2 = _bench(tmp_path / "arena-hard-v2.0", v2=True)
    res = RUN.invoke(
        app,
        [
            "arena-hard",
            str(v2),
            "--version",
            "v2.0",
            "--baseline",
            "o3-mini",
            "--category-baseline",
            "creative_writing=gemini-2.0-flash",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)["models"]
    assert (
        got["creative_writing/gemini-2.0-flash"]["score"] == 50.0
        and got["hard_prompt/o3-mini"]["score"] == 50.0
    )
    assert "creative_writing/o3-mini" not in got
    bad = RUN.invoke(app, ["arena-hard", str(tmp_path), "--json"])
    assert bad.exit_code != 0 and "--judge" in bad.output


def test_mt_bench_command_equals_fastchat() -> None:
    peer = json.loads((G / "fastchat" / "peer_fschat_0.2.36.json").read_text())
    res = RUN.invoke(
        app, ["mt-bench", str(G / "fastchat/model_judgment/gpt-4_single.jsonl"), "--json"]
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)["models"]
    for m, v in peer["mt_single"]["average"].items():
        assert got[m]["average"] == pytest.approx(v, abs=1e-12)
    res = RUN.invoke(
        app, ["mt-bench", str(G / "fastchat/model_judgment/gpt-4_pair.jsonl"), "--json"]
    )
    got = json.loads(res.stdout)["models"]
    for m, row in peer["mt_pair"].items():
        assert (got[m]["win"], got[m]["loss"], got[m]["tie"]) == (
            row["win"],
            row["loss"],
            row["tie"],
        )


def test_lc_command_reports_what_it_approximated(tmp_path: Path) -> None:
    rows = json.loads((G / "alpaca_eval/verbose-13b/annotations.json").read_text()) + json.loads(
        (G / "alpaca_eval/gpt4_1106_preview/annotations.json").read_text()
    )
    f = tmp_path / "annotations.json"
    f.write_text(json.dumps(rows))
    res = RUN.invoke(app, ["lc", str(f), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert any("difficulty estimated" in n for n in out["notes"])
    assert out["models"]["gpt4_1106_preview"]["length_controlled_winrate"] == 50.0
    pytest.importorskip("sklearn")
    res = RUN.invoke(app, ["lc", str(f), "--gamed", str(G / "alpaca_eval/df_gamed.csv"), "--json"])
    out = json.loads(res.stdout)
    peer = json.loads((G / "alpaca_eval/peer_alpaca_eval_0.6.6.json").read_text())[
        "length_controlled_v1"
    ]
    assert "notes" not in out
    assert out["models"]["verbose-13b"]["length_controlled_winrate"] == pytest.approx(
        peer["verbose-13b"]["length_controlled_winrate"], abs=1e-6
    )


def test_bt_fastchat_flag_equals_compute_mle_elo_on_filtered_battles() -> None:
    pytest.importorskip("sklearn")
    peer = json.loads((G / "fastchat" / "peer_fschat_0.2.36.json").read_text())
    res = RUN.invoke(
        app,
        [
            "bt",
            str(G / "fastchat/battles.json"),
            "--fastchat",
            "--bootstrap",
            "5",
            "--where",
            "anony=true",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)["models"]
    assert max(abs(got[m]["rating"] - v) for m, v in peer["bt_anony"].items()) <= 0.01
    assert all(got[m]["lower"] < got[m]["upper"] for m in got if m != "llama-13b")  # pinned at 800
