"""The judges commands through the real `arena` CLI (typer runner, loopback server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arena.cli import app
from arena.core.records import Answer, Battle, Judgment, Score, write_jsonl
from arena.core.store import Store
from arena.models.testserver import FakeOpenAIServer
from tests.judges_fixtures import honest_pair_judge, honest_single_judge, questions, seeded_store

runner = CliRunner()


def test_list_shows_question_sets_and_judges() -> None:
    out = runner.invoke(app, ["list", "--json"])
    cat = json.loads(out.stdout)
    assert {"mt_bench", "arena_bilingual"} <= set(cat["questions"])
    assert {"mt-bench-single", "mt-bench-pair", "arena-hard", "alpaca-eval", "rubric-single"} <= set(cat["judges"])


def test_bundled_question_sets() -> None:
    from judges.questions import load_questions

    mt = load_questions("mt_bench")
    assert len(mt) == 80 and all(len(q.turns) == 2 for q in mt)
    assert sum(1 for q in mt if q.category in ("math", "reasoning", "coding") and q.reference) == 30
    bi = load_questions("arena_bilingual")
    assert 16 <= len(bi) <= 24 and {q.language for q in bi} == {"en", "zh"}
    assert {q.category for q in bi} >= {"writing", "roleplay", "reasoning", "math", "coding", "extraction",
                                        "knowledge", "safety"}
    assert all(q.reference for q in bi if q.category in ("math", "reasoning", "coding"))


@pytest.mark.parametrize("mode", ["single", "pairwise"])
def test_judge_command_writes_judgments_and_battles_or_scores(tmp_path: Path, mode: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    qs = questions(2, two_turn=False)
    write_jsonl(tmp_path / "tq.jsonl", qs)
    db = tmp_path / "s.sqlite"
    seeded_store(db, ["m0", "m1"], qs).close()
    responder = honest_single_judge if mode == "single" else honest_pair_judge
    with FakeOpenAIServer(responder=responder) as server:
        res = runner.invoke(app, ["judge", "--judge", "gpt-4", "--judge-base-url", server.base_url,
                                  "--models", "m0", "--models", "m1", "--questions", str(tmp_path / "tq.jsonl"),
                                  "--mode", mode, "--store", str(db)])
    assert res.exit_code == 0, res.output
    store = Store(db)
    if mode == "single":
        assert store.count(Judgment) == 4 and store.count(Score) == 4
        assert "scores: 4 (source judge:mt-bench-single@gpt-4)" in res.output
    else:
        assert store.count(Judgment) == 4 and store.count(Battle) == 2
        assert all(b.winner == "model_b" for b in store.all(Battle))


def test_judge_command_missing_key_fails_before_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    db = tmp_path / "s.sqlite"
    res = runner.invoke(app, ["judge", "--judge", "gpt-4", "--models", "a", "--models", "b", "--store", str(db)])
    assert res.exit_code != 0 and "OPENAI_API_KEY" in str(res.exception)
    assert not db.exists()  # nothing was opened or written


def test_generate_command_and_import_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "models").mkdir(parents=True)
    with FakeOpenAIServer() as server:
        (tmp_path / "home" / "models" / "echo.yaml").write_text(
            f"name: echo\nbackend: openai\nmodel: echo\nbase_url: {server.base_url}\n")
        db = tmp_path / "s.sqlite"
        res = runner.invoke(app, ["generate", "--models", "echo", "--questions", "arena_bilingual",
                                  "--limit", "3", "--store", str(db), "--max-tokens", "16"])
        assert res.exit_code == 0, res.output
        assert server.requests == sum(len(q.turns) for q in __import__("judges.questions").questions
                                      .load_questions("arena_bilingual", 3))
    assert Store(db).count(Answer) == 3 and "echo: 3 answers" in res.output
    res = runner.invoke(app, ["export", "mt-bench", "--out", str(tmp_path / "out"), "--store", str(db)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "model_answer" / "echo.jsonl").exists()
    res = runner.invoke(app, ["import", "mt-bench", str(tmp_path / "out"), "--store", str(tmp_path / "t.sqlite"),
                              "--question-set", "arena_bilingual"])
    assert res.exit_code == 0 and "answers: 3" in res.output, res.output


def _judge_args(server: FakeOpenAIServer, qfile: Path, db: Path, *extra: str) -> list[str]:
    return ["judge", "--judge-base-url", server.base_url, "--questions", str(qfile), "--store", str(db), *extra]


@pytest.mark.parametrize("style", ["space", "comma", "repeat"])
def test_models_as_the_readme_writes_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, style: str) -> None:
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    qs = questions(2, two_turn=False)
    write_jsonl(tmp_path / "tq.jsonl", qs)
    db = tmp_path / "s.sqlite"
    seeded_store(db, ["m0", "m1", "m2"], qs).close()
    models = {"space": ["--models", "m0", "m1", "m2"], "comma": ["--models", "m0,m1,m2"],
              "repeat": ["-m", "m0", "-m", "m1", "--models", "m2"]}[style]
    with FakeOpenAIServer(responder=honest_pair_judge) as server:
        res = runner.invoke(app, _judge_args(server, tmp_path / "tq.jsonl", db, "--judge", "gpt-4",
                                             "--mode", "pairwise", *models))
        assert res.exit_code == 0, res.output
        assert server.requests == 3 * 2 * 2  # 3 pairs x 2 questions x 2 orders
    assert Store(db).count(Battle) == 6


def test_nothing_to_judge_is_an_error_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    qs = questions(2, two_turn=False)
    write_jsonl(tmp_path / "tq.jsonl", qs)
    db = tmp_path / "s.sqlite"
    seeded_store(db, ["m0", "m1"], qs).close()
    with FakeOpenAIServer(responder=honest_pair_judge) as server:
        res = runner.invoke(app, _judge_args(server, tmp_path / "tq.jsonl", db, "--judge", "gpt-4",
                                             "--mode", "pairwise", "--models", "x0", "x1"))
        assert res.exit_code != 0 and server.requests == 0
        msg = str(res.exception)
        assert "nothing to judge" in msg and "x0 (2/2 missing)" in msg and "arena generate" in msg
        res = runner.invoke(app, _judge_args(server, tmp_path / "tq.jsonl", db, "--judge", "gpt-4",
                                             "--mode", "pairwise", "--models", "m0"))
        assert res.exit_code != 0 and "needs two models or a --baseline" in str(res.exception)


def test_retry_failures_asks_the_model_again_through_the_cache(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))  # the call cache is ON
    qs = questions(1, two_turn=False)
    write_jsonl(tmp_path / "tq.jsonl", qs)
    db = tmp_path / "s.sqlite"
    seeded_store(db, ["m0"], qs).close()
    with FakeOpenAIServer(replies=["no idea"] * 3, responder=honest_single_judge) as server:
        args = _judge_args(server, tmp_path / "tq.jsonl", db, "--judge", "gpt-4", "--mode", "single", "-m", "m0")
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and server.requests == 3  # the first try and 2 parse retries
        assert Store(db).all(Judgment)[0].parse_error
        res = runner.invoke(app, args)  # a plain rerun keeps the failure: no call
        assert res.exit_code == 0 and server.requests == 3
        res = runner.invoke(app, [*args, "--retry-failures"])  # same server, same cache
        assert res.exit_code == 0, res.output
        assert server.requests == 4  # asked again (new seed), not replayed from the cache
    [j] = Store(db).all(Judgment)
    assert j.parse_error is None and j.score is not None and j.attempts == 4
    assert Store(db).count(Score) == 1


def test_panel_of_two_judges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    qs = questions(3, two_turn=False)
    write_jsonl(tmp_path / "tq.jsonl", qs)
    db = tmp_path / "s.sqlite"
    seeded_store(db, ["m0", "m1"], qs).close()

    def two_judges(body: dict) -> str:  # judge "ja" is honest, "jb" always answers tie
        return honest_pair_judge(body) if body["model"] == "ja" else "Same. [[C]]"

    with FakeOpenAIServer(responder=two_judges) as server:
        res = runner.invoke(app, _judge_args(server, tmp_path / "tq.jsonl", db, "--judge", "ja", "jb",
                                             "--mode", "pairwise", "--models", "m0", "m1", "--panel", "mean"))
    assert res.exit_code == 0, res.output
    st = Store(db)
    panel = [b for b in st.all(Battle) if b.source == "judge:panel-mean"]
    # ja: m1 wins (1.0 for model_b), jb: tie (0.5) -> mean share of m0 0.25 -> m1 wins
    assert len(panel) == 3 and all(b.winner == "model_b" for b in panel)
    assert "judges disagree on 3/3 items" in res.output
    assert {b.source for b in st.all(Battle)} == {"judge:mt-bench-pair@ja", "judge:mt-bench-pair@jb",
                                                 "judge:panel-mean"}
