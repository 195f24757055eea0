"""List options take `--opt A B` (README style) as well as repeated flags, and leave positionals alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from arena.cli import app
from arena.cli_lists import ListOptionsGroup, expand_list_options
from arena.core.records import Answer
from arena.core.store import Store
from arena.models.testserver import FakeOpenAIServer

demo = typer.Typer(cls=ListOptionsGroup)
seen: dict = {}


@demo.command("cmd")
def _cmd(
    src: str = typer.Argument(...),
    dst: str = typer.Argument(...),
    models: list[str] = typer.Option(None, "--models", "-m"),
    flag: bool = typer.Option(False, "--flag"),
    one: str = typer.Option(None, "--one"),
) -> None:
    seen.update(src=src, dst=dst, models=models, flag=flag, one=one)


@demo.command("other")
def _other() -> None:  # a second command, so `cmd` is a subcommand as in `arena`
    pass


@pytest.mark.parametrize(
    "args, models, src, dst",
    [
        (["a", "b", "--models", "x", "y", "z"], ["x", "y", "z"], "a", "b"),
        (
            ["--models", "x", "y", "a", "b"],
            ["x", "y"],
            "a",
            "b",
        ),  # the last words are the positionals
        (["a", "--models", "x", "y", "b"], ["x", "y"], "a", "b"),
        (["-m", "x", "-m", "y", "--flag", "a", "b"], ["x", "y"], "a", "b"),
        (["a", "b", "--models=x", "--one", "v", "-m", "y", "w"], ["x", "y", "w"], "a", "b"),
        (["-m", "x", "--", "a", "-b"], ["x"], "a", "-b"),
        (
            ["a", "b", "--models", "x,y", "z"],
            ["x", "y", "z"],
            "a",
            "b",
        ),  # names split on commas too
        (["--models=x,y", "a", "b"], ["x", "y"], "a", "b"),
    ],
)
def test_expansion(args: list[str], models: list[str], src: str, dst: str) -> None:
    seen.clear()
    res = CliRunner().invoke(demo, ["cmd", *args])
    assert res.exit_code == 0, res.output
    assert (seen["models"], seen["src"], seen["dst"]) == (models, src, dst)


def test_expand_is_a_no_op_without_list_options() -> None:
    cmd = typer.main.get_command(demo).commands["other"]
    assert expand_list_options(cmd, ["x", "--y"]) == ["x", "--y"]


def test_generate_models_space_separated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "models").mkdir(parents=True)
    with FakeOpenAIServer() as server:
        for n in ("e1", "e2"):
            (tmp_path / "home" / "models" / f"{n}.yaml").write_text(
                f"name: {n}\nbackend: openai\nmodel: {n}\nbase_url: {server.base_url}\n"
            )
        db = tmp_path / "s.sqlite"
        res = CliRunner().invoke(
            app,
            [
                "generate",
                "--models",
                "e1",
                "e2",
                "--questions",
                "arena_bilingual",
                "--limit",
                "2",
                "--store",
                str(db),
                "--max-tokens",
                "8",
            ],
        )
    assert res.exit_code == 0, res.output
    assert {a.model for a in Store(db).all(Answer)} == {"e1", "e2"}
