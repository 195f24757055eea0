"""File loaders (four formats, errors with file/line/field) and the `ratings` CLI."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arena.ratings import BattleFormatError, load_battles
from arena.ratings.cli import app

RUNNER = CliRunner()


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture
def arena_file(tmp_path: Path) -> Path:
    rows = [
        {
            "model_a": "A",
            "model_b": "B",
            "winner": "model_a",
            "question_id": i,
            "len_a": 10 + i,
            "len_b": 20,
        }
        for i in range(6)
    ]
    rows += [
        {"model_a": "B", "model_b": "C", "winner": "tie", "question_id": 9, "len_a": 3, "len_b": 4},
        {
            "model_a": "C",
            "model_b": "A",
            "winner": "model_b",
            "question_id": 8,
            "len_a": 5,
            "len_b": 6,
        },
        {
            "model_a": "B",
            "model_b": "A",
            "winner": "model_a",
            "question_id": 7,
            "len_a": 5,
            "len_b": 9,
        },
    ]
    return _write_jsonl(tmp_path / "battles.jsonl", rows)


@pytest.fixture
def alpaca_file(tmp_path: Path) -> Path:
    prefs = [2.0, 1.0, 1.5, 1.75, 1.2, 2.0]
    rows = [
        {
            "instruction": f"q{i}",
            "generator_1": "gpt4",
            "generator_2": "mine",
            "output_1": "x" * (50 + i),
            "output_2": "y" * (40 + 7 * i),
            "preference": p,
        }
        for i, p in enumerate(prefs)
    ]
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(rows))
    return path


def test_detects_all_formats(tmp_path: Path, arena_file: Path, alpaca_file: Path):
    assert load_battles(arena_file).attrs["format"] == "arena"
    df = load_battles(alpaca_file)
    assert df.attrs["format"] == "alpaca-eval"
    assert df["len_a"].tolist()[:2] == [50.0, 51.0] and df["winner"].iloc[0] == "model_b"
    ca = tmp_path / "clean_battles.json"
    ca.write_text(
        json.dumps(
            [
                {
                    "model_a": "A",
                    "model_b": "B",
                    "winner": "tie (bothbad)",
                    "conv_metadata": {
                        "sum_assistant_a_tokens": 5,
                        "sum_assistant_b_tokens": 7,
                        "header_count_a": {"h1": 1, "h2": 2},
                        "header_count_b": {"h1": 0},
                    },
                }
            ]
        )
    )
    df = load_battles(ca)
    assert df.attrs["format"] == "chatbot-arena" and df["header_a"].iloc[0] == 3
    mt = _write_jsonl(
        tmp_path / "gpt-4_pair.jsonl",
        [
            {
                "question_id": 81,
                "model_1": "A",
                "model_2": "B",
                "g1_winner": "model_1",
                "g2_winner": "model_1",
                "judge": ["gpt-4", "pair-v2"],
                "turn": 1,
            },
            {
                "question_id": 82,
                "model_1": "A",
                "model_2": "B",
                "g1_winner": "model_1",
                "g2_winner": "model_2",
                "judge": ["gpt-4", "pair-v2"],
                "turn": 1,
            },
        ],
    )
    df = load_battles(mt)
    assert df.attrs["format"] == "mt-bench"
    assert df["winner"].tolist() == ["model_a", "tie"] and df["source"].iloc[0] == "judge:gpt-4"


def test_errors_name_file_line_and_field(tmp_path: Path):
    bad = _write_jsonl(
        tmp_path / "b.jsonl",
        [
            {"model_a": "A", "model_b": "B", "winner": "model_a"},
            {"model_a": "A", "model_b": "B", "winner": "A wins"},
        ],
    )
    with pytest.raises(BattleFormatError, match=r"b\.jsonl: line 2: field 'winner'"):
        load_battles(bad)
    missing = _write_jsonl(tmp_path / "m.jsonl", [{"model_a": "A", "winner": "tie"}])
    with pytest.raises(BattleFormatError, match=r"m\.jsonl: line 1: missing field 'model_b'"):
        load_battles(missing)
    broken = tmp_path / "x.jsonl"
    broken.write_text('{"model_a": "A"}\n{oops\n')
    with pytest.raises(BattleFormatError, match="line 2: invalid JSON"):
        load_battles(broken)
    ae = tmp_path / "a.json"
    ae.write_text(json.dumps([{"generator_1": "g", "generator_2": "h", "preference": 3}]))
    with pytest.raises(BattleFormatError, match="item 0: field 'preference'"):
        load_battles(ae)


def test_cli_bt_and_elo_json(arena_file: Path):
    res = RUNNER.invoke(app, ["bt", str(arena_file), "--bootstrap", "20", "--json"])
    assert res.exit_code == 0, res.output
    models = json.loads(res.output)["models"]
    assert set(models) == {"A", "B", "C"}
    assert set(models["A"]) == {"rating", "lower", "upper", "rank", "n_battles"}
    assert models["A"]["n_battles"] == 8 and models["A"]["rank"] == 1
    assert isinstance(models["A"]["rank"], int) and isinstance(models["A"]["rating"], float)
    res = RUNNER.invoke(app, ["elo", str(arena_file), "--bootstrap", "0", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["models"]["A"]["lower"] is None
    res = RUNNER.invoke(app, ["bt", str(arena_file), "--style-control", "--bootstrap", "5"])
    assert res.exit_code == 0 and "style controlled" in res.output


def test_cli_winrate_and_lc(alpaca_file: Path):
    res = RUNNER.invoke(app, ["winrate", str(alpaca_file), "--json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)["models"]["mine"]
    assert m["win_rate"] == pytest.approx(100 * 3.45 / 6)
    assert (m["n_wins"], m["n_wins_base"], m["n_draws"], m["n_total"]) == (3, 2, 1, 6)
    assert m["discrete_win_rate"] == pytest.approx(100 * 3.5 / 6)
    res = RUNNER.invoke(app, ["lc", str(alpaca_file), "--baseline", "gpt4"])
    assert res.exit_code == 0, res.output
    assert "mine" in res.output


def test_cli_reports_bad_files(tmp_path: Path):
    bad = _write_jsonl(tmp_path / "b.jsonl", [{"model_a": "A", "model_b": "B", "winner": "?"}])
    res = RUNNER.invoke(app, ["bt", str(bad)])
    assert res.exit_code != 0 and "line 1" in res.output


def test_ratings_imports_only_allowed_modules():
    root = Path(__file__).resolve().parents[1] / "arena" / "ratings"
    forbidden = ("objective", "judges", "ui", "arena.pipeline", "arena.cli", "arena.service")
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
