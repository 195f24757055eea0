"""Kill -9 in the middle of a 200-judgment run, rerun: exactly 200, no repeated calls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from arena.core.records import Battle, Judgment, write_jsonl
from arena.core.store import Store
from arena.models.testserver import FakeOpenAIServer
from judges.tasks import prompt_text
from tests.judges_fixtures import honest_pair_judge, questions, seeded_store

MODELS = ["m0", "m1", "m2", "m3", "m4"]  # 10 pairs x 10 questions x 2 orders = 200


def _cmd(server: FakeOpenAIServer, qfile: Path, store: Path) -> list[str]:
    return [sys.executable, "-c", "from arena.cli import main; main()", "judge",
            "--judge", "judge-x", "--judge-base-url", server.base_url, "--judge-config", "mt-bench-pair",
            *[x for m in MODELS for x in ("--models", m)],
            "--questions", str(qfile), "--store", str(store), "--no-cache"]


def test_kill9_then_rerun_resumes_exactly(tmp_path: Path) -> None:
    qs = questions(10, two_turn=False)
    qfile = tmp_path / "tq.jsonl"
    write_jsonl(qfile, qs)
    db = tmp_path / "s.sqlite"
    seeded_store(db, MODELS, qs).close()
    env = {**os.environ, "ARENA_CACHE_DIR": str(tmp_path / "cache"), "OPENAI_API_KEY": ""}
    with FakeOpenAIServer(responder=honest_pair_judge, delay=0.15) as server:
        proc = subprocess.Popen(_cmd(server, qfile, db), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        store = Store(db)
        deadline = time.time() + 60
        while store.count(Judgment) < 60 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = {j.prompt for j in store.all(Judgment)}
        assert 60 <= len(before) < 200, proc.stdout.read().decode()[-2000:]
        assert store.count(Battle) == 0  # killed before the end
        first_run_requests = server.requests
        assert first_run_requests >= len(before)
        server.reset_counters()
        out = subprocess.run(_cmd(server, qfile, db), env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        second = [prompt_text(b["messages"]) for b in server.bodies]
    assert len(second) == 200 - len(before)  # only the unfinished ones were sent again
    assert not set(second) & before
    js = store.all(Judgment)
    assert len(js) == 200 == len({(j.question_id, j.model_a, j.model_b, j.order) for j in js})
    assert store.count(Battle) == 100 and all(j.parse_error is None for j in js)
    assert "200 judgments" in out.stdout and f"{len(before)} stored before" in out.stdout
