"""kill -9 during `arena judge` at concurrency 8: the rerun re-pays at most the 8 calls in flight.

Re-paid calls are counted at the loopback server: prompts it received in the killed run
and again in the rerun (the call cache is off, so nothing hides a repeated call).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arena.core.records import Judgment, write_jsonl
from arena.core.store import Store
from arena.models.testserver import FakeOpenAIServer
from judges.tasks import prompt_text
from tests.judges_fixtures import honest_pair_judge, questions, seeded_store

MODELS = ["m0", "m1", "m2", "m3", "m4"]
N_QUESTIONS = 40  # 10 pairs x 40 questions x 2 orders = 800 calls
CONCURRENCY = 8


def _cmd(server: FakeOpenAIServer, qfile: Path, store: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from arena.cli import main; main()",
        "judge",
        "--judge",
        "judge-x",
        "--judge-base-url",
        server.base_url,
        "--judge-config",
        "mt-bench-pair",
        "--models",
        *MODELS,
        "--questions",
        str(qfile),
        "--store",
        str(store),
        "--no-cache",
        "--concurrency",
        str(CONCURRENCY),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [150, 450])
def test_kill9_repays_at_most_the_calls_in_flight(tmp_path: Path, kill_at: int) -> None:
    qs = questions(N_QUESTIONS, two_turn=False)
    qfile = tmp_path / "tq.jsonl"
    write_jsonl(qfile, qs)
    db = tmp_path / "s.sqlite"
    seeded_store(db, MODELS, qs).close()
    total = len(MODELS) * (len(MODELS) - 1) // 2 * N_QUESTIONS * 2
    env = {**os.environ, "ARENA_CACHE_DIR": str(tmp_path / "cache"), "OPENAI_API_KEY": ""}
    with FakeOpenAIServer(responder=honest_pair_judge) as server:  # as fast as it can answer
        proc = subprocess.Popen(
            _cmd(server, qfile, db),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 120
        while server.requests < kill_at and time.time() < deadline and proc.poll() is None:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        first = [prompt_text(b["messages"]) for b in server.bodies]
        assert server.max_in_flight <= CONCURRENCY
        stored = Store(db).count(Judgment)
        assert kill_at <= len(first) < total and stored < total, proc.stdout.read().decode()[-2000:]
        server.reset_counters()
        out = subprocess.run(
            _cmd(server, qfile, db), env=env, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, out.stdout + out.stderr
        second = [prompt_text(b["messages"]) for b in server.bodies]
    repaid = len(set(first) & set(second))
    print(f"kill at {len(first)} calls: {stored} judgments stored, re-paid {repaid} calls")
    assert repaid <= CONCURRENCY
    assert len(second) == total - stored and len(set(first) | set(second)) == total
    assert Store(db).count(Judgment) == total
