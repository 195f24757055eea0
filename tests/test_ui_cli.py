"""`arena ui` plumbing: users file, binding rule, answers loading, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from arena.core.errors import ConfigError, DataError
from arena.core.records import Answer
from arena.core.store import Store
from arena.service import hash_password, verify_password
from ui.auth import check_bind, load_users
from ui.cli import load_answers, load_questions

ARENA = str(Path(sys.executable).parent / "arena")


def test_users_file(tmp_path):
    h = hash_password("pw")
    f = tmp_path / "users.txt"
    f.write_text(f"# comment\n\nann admin {h}\nbob rater {h}\n", encoding="utf-8")
    assert [(n, r) for n, r, _ in load_users(f)] == [("ann", "admin"), ("bob", "rater")]
    f.write_text(f"ann boss {h}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="role"):
        load_users(f)
    f.write_text("ann admin plaintext\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_users(f)
    assert "users.txt" in str(err.value) and "1" in str(err.value)


def test_bind_rule():
    check_bind("127.0.0.1", False)
    check_bind("0.0.0.0", True)
    with pytest.raises(ConfigError):
        check_bind("0.0.0.0", False)


def test_answers_from_jsonl_and_run_dir(tmp_path):
    simple = tmp_path / "answers.jsonl"
    rows = [
        {"model": "m1", "question_id": "q1", "answer": "hi"},
        {"model": "m2", "question_id": "q1", "answer": ["t1", "t2"]},
    ]
    simple.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    got = load_answers(str(simple), None)
    assert [(a.model, a.turns) for a in got] == [("m1", ["hi"]), ("m2", ["t1", "t2"])]
    simple.write_text('{"model": "m1"}\n', encoding="utf-8")
    with pytest.raises(DataError):
        load_answers(str(simple), None)
    run = tmp_path / "run1"
    Store(run / "store.sqlite").put(Answer(model="m3", question_id="q1", turns=["x"]))
    assert [a.model for a in load_answers(str(run), None)] == ["m3"]


def test_questions_need_a_source(tmp_path):
    with pytest.raises(ConfigError):
        load_questions("no-such-set", Store(tmp_path / "s.sqlite"))


def test_cli_stays_light_and_hashes_passwords():
    code = "import sys, arena.cli; print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    r = subprocess.run(
        [ARENA, "ui", "hash-password"], input="s3cret\n", capture_output=True, text=True
    )
    assert r.returncode == 0 and verify_password("s3cret", r.stdout.strip())
    r = subprocess.run(
        [ARENA, "ui", "--questions", "x", "--host", "0.0.0.0"], capture_output=True, text=True
    )
    assert r.returncode != 0 and "--users" in (r.stdout + r.stderr)
