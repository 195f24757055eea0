"""`arena demo` on its real config, cut down to a few items: real SmolLM2 through every stage."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from arena.cli import app


@pytest.mark.slow
def test_demo_config_runs_every_stage_and_resumes(tmp_path, monkeypatch, smollm2_dir):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    args = ["demo", "-w", str(tmp_path / "demo"), "--set", "eval.limit=2", "--set", "question_limit=1",
            "--set", "answer.max_tokens=24"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "report:" in first.output and "mmlu_mini_ppl" in first.output
    runs = list((tmp_path / "demo").iterdir())
    assert len(runs) == 1 and (runs[0] / "report.html").is_file()
    # the second demo resumes the same run and prints the same table
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    assert list((tmp_path / "demo").iterdir()) == runs

    def table(out: str) -> str:
        return out[out.index("dataset"): out.index("report:")]

    assert table(second.output).split("Tokens")[0] == table(first.output).split("Tokens")[0]
