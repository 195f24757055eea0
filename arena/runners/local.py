"""N worker processes on one machine, each keeping its loaded model across tasks.

OpenCompass's local runner starts a process per task, so a model is loaded once per
task; here a worker lives for the whole run and the scheduler sends it tasks of the
model it holds. Workers write their records straight to the run's SQLite store (WAL lets
several processes write) and talk to the parent over one pipe each: a worker killed in
the middle of a message cannot corrupt a queue the others share. A dead worker is
replaced and its task retried; what it stored before dying is not redone.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import shutil
import subprocess
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from arena.core.errors import ConfigError
from arena.runners.base import RunnerReport, Scheduler
from arena.runners.tasks import Task, TaskStats, WorkerState, execute

log = logging.getLogger("arena.runners")


def visible_gpus() -> list[str]:
    """GPU ids this process may use: CUDA_VISIBLE_DEVICES if set, else what nvidia-smi lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g for g in env.split(",") if g.strip() and g.strip() != "-1"]
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def gpu_slices(workers: int, per_worker: int, gpus: list[str]) -> list[str | None]:
    """CUDA_VISIBLE_DEVICES of each worker: disjoint slices of `per_worker` GPUs.

    Raises:
        ConfigError: fewer GPUs than one worker needs. With fewer than `workers` slices
            the caller runs fewer workers.
    """
    if per_worker <= 0:
        return [None] * workers
    n = len(gpus) // per_worker
    if n == 0:
        raise ConfigError(f"a task needs {per_worker} GPU(s) but {len(gpus)} are visible "
                          f"({','.join(gpus) or 'none'}); lower --num-gpus or set CUDA_VISIBLE_DEVICES")
    return [",".join(gpus[i * per_worker:(i + 1) * per_worker]) for i in range(min(workers, n))]


def _worker_main(index: int, conn: Connection, state: WorkerState, gpus: str | None) -> None:
    """A worker's loop: receive a task, run it, report; None ends the loop."""
    if gpus is not None:  # before torch initialises CUDA
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus
    # N workers each using every core would fight over them: share the cores out
    threads = str(max(1, (os.cpu_count() or 1) // max(1, state.workers)))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, threads)
    handler = logging.FileHandler(state.run_dir / "logs" / "infer" / f"worker-{index}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore", "openai", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from arena.core.store import Store

    store = Store(state.run_dir / "arena.sqlite")
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the parent is gone
            return
        if task is None:
            return
        try:  # an eval's state runs its own shards; stage tasks go through `execute`
            run = getattr(state, "run_task", None)
            stats = run(task, store, index) if run else execute(state, task, store, index)
            conn.send(("done", task.id, stats))
        except BaseException:  # report everything; the parent decides about retries
            conn.send(("error", task.id, traceback.format_exc()))


@dataclass
class _Worker:
    index: int
    proc: Any
    conn: Connection
    gpus: str | None
    held: str | None = None  # model key of the model it has loaded
    task: Task | None = None


class LocalRunner:
    """A pool of worker processes that lives for the whole run (models stay loaded).

    Args:
        state: what every worker needs (config, run directory, rate-limit directory).
        max_workers: most processes. num_gpus: GPUs per worker (and per task).
        max_retries: extra attempts of a failed task (worker error or death).
        gpus: the GPU ids to slice among workers (default: every visible GPU).
    """

    name = "local"

    def __init__(self, state: WorkerState, max_workers: int = 2, num_gpus: int = 0, max_retries: int = 2,
                 on_done: Any = None, gpus: list[str] | None = None) -> None:
        self.state, self.max_retries, self.on_done = state, max_retries, on_done
        if gpus is None:
            gpus = visible_gpus() if num_gpus else []
        self.slices = gpu_slices(max_workers, num_gpus, gpus)
        self.workers: list[_Worker] = []
        self._ctx = mp.get_context("spawn")  # fork would copy threads and CUDA state

    def _spawn(self, index: int) -> _Worker:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(index, child, self.state, self.slices[index]),
                                 name=f"arena-worker-{index}", daemon=True)
        proc.start()
        child.close()
        return _Worker(index, proc, parent, self.slices[index])

    def run(self, tasks: list[Task]) -> RunnerReport:
        """Run `tasks` to completion (retrying failures); raises TaskFailedError at the end."""
        sched = Scheduler(tasks, self.max_retries)
        while len(self.workers) < min(len(self.slices), len(tasks)):  # kept for later waves
            self.workers.append(self._spawn(len(self.workers)))
        stats: list[TaskStats] = []
        while sched.pending or any(w.task for w in self.workers):
            self._assign(sched)
            busy = [w for w in self.workers if w.task]
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=5)
            for w in busy:  # once per worker: a dead one shows as both EOF and sentinel
                if w.task is not None and (w.conn in ready or w.proc.sentinel in ready):
                    self._collect(w, sched, stats)
        return sched.report(len(self.workers), stats)

    def _assign(self, sched: Scheduler) -> None:
        for w in self.workers:
            if w.task is not None:
                continue
            others = {o.held for o in self.workers if o is not w and o.held}
            task = sched.next_for(w.held, others)
            if task is None:
                return
            w.task, w.held = task, task.model_key
            w.conn.send(task)

    def _collect(self, w: _Worker, sched: Scheduler, stats: list[TaskStats]) -> None:
        assert w.task is not None
        try:
            if w.conn.poll():
                kind, _tid, payload = w.conn.recv()
                if kind == "done":
                    stats.append(payload)
                    if self.on_done:
                        self.on_done(payload)
                else:
                    sched.fail(w.task, payload)
                w.task = None
                return
        except (EOFError, OSError):
            pass
        if w.proc.is_alive():
            return
        w.proc.join()
        sched.fail(w.task, f"worker {w.index} (pid {w.proc.pid}) died with exit code {w.proc.exitcode}")
        w.task = None
        log.warning("worker %d died (exit %s); starting a new one", w.index, w.proc.exitcode)
        w.conn.close()
        self.workers[w.index] = self._spawn(w.index)

    def close(self) -> None:
        for w in self.workers:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
        for w in self.workers:
            w.proc.join(timeout=10)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join()
            w.conn.close()
        self.workers = []

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers if w.proc.pid]
