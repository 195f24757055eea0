"""Kill -9 `arena run` in the infer stage and in the judge stage; `--reuse` finishes the run
with the same summary as an uninterrupted one, and no finished unit is paid for twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from arena.core.records import Judgment, Prediction
from arena.core.store import Store
from arena.experiment import load_experiment
from arena.pipeline import run_experiment
from tests.pipeline_fixtures import body_text, fake_server, write_config
from tests.test_pipeline import comparable_summary

ARENA = [sys.executable, "-c", "from arena.cli import main; main()"]


def start(cfg: Path, work: Path, cache: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "ARENA_CACHE_DIR": str(cache)}
    return subprocess.Popen([*ARENA, "run", str(cfg), "-w", str(work), *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def count(work: Path, cls) -> int:
    stores = list(work.glob("*/arena.sqlite"))
    if not stores:
        return 0
    try:
        return Store(stores[0]).count(cls)
    except Exception:  # the store is being created
        return 0


def kill_when(proc: subprocess.Popen, work: Path, cls, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while count(work, cls) < at_least:
        assert proc.poll() is None, f"run ended before the kill: {proc.stderr.read() if proc.stderr else ''}"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: its summary is what every resumed run must reproduce."""
    tmp = tmp_path_factory.mktemp("ref")
    with fake_server() as srv:
        cfg = write_config(tmp / "exp.yaml", srv.base_url, concurrency=2)
        os.environ["ARENA_CACHE_DIR"] = str(tmp / "cache")
        try:
            result = run_experiment(load_experiment(cfg), work_dir=tmp / "out", console=Console(quiet=True))
        finally:
            del os.environ["ARENA_CACHE_DIR"]
        return comparable_summary(result.run_dir), srv.requests


def finished_texts(work: Path, cls) -> set[str]:
    store = Store(next(work.glob("*/arena.sqlite")))
    return {r.prompt for r in store.all(cls) if r.prompt}


@pytest.mark.parametrize("stage, cls, at_least", [("infer", Prediction, 12), ("judge", Judgment, 6)])
def test_kill9_then_reuse_gives_the_same_summary(tmp_path, reference, stage, cls, at_least):
    ref_summary, ref_requests = reference
    with fake_server(delay=0.05) as srv:
        cfg = write_config(tmp_path / "exp.yaml", srv.base_url, concurrency=2)
        work, cache = tmp_path / "out", tmp_path / "cache"
        kill_when(start(cfg, work, cache), work, cls, at_least)
        done_before = finished_texts(work, cls)
        assert done_before, "the kill came before any unit was stored"
        before = srv.requests
        srv.reset_counters()
        proc = start(cfg, work, cache, "--reuse")
        assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
        rerun_bodies = [body_text(b) for b in srv.bodies]
        runs = [p for p in work.iterdir() if p.is_dir()]
        assert len(runs) == 1, "--reuse continued in the same run directory"
        assert comparable_summary(runs[0]) == ref_summary
        # no finished unit was sent again: its prompt is not in any request of the rerun
        repeated = [t for t in done_before if any(t in b for b in rerun_bodies)]
        assert repeated == []
        # and the two halves together cost about one full run (at most the in-flight calls lost)
        assert before + srv.requests <= ref_requests + 2 * 3
        assert srv.requests < ref_requests
        if stage == "judge":
            store = Store(runs[0] / "arena.sqlite")
            keys = [j.key() for j in store.all(Judgment)]
            assert len(keys) == len(set(keys))
