"""Group commit for the rating service: concurrent writes share one transaction.

With SQLite in WAL mode and `synchronous=FULL`, every commit waits for an fsync (~5 ms here)
and writers queue behind one lock, so 50 raters voting at once would wait ~50 fsyncs each.
A writer thread takes every job that is waiting, runs them in one transaction and commits
once; each caller gets its result only after that commit, so an acknowledged vote is on disk.
Nothing acknowledged ever lives only in memory: the queue holds requests still in flight.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sqlalchemy.engine import Connection, Engine

from arena.core.errors import ArenaError

Job = Callable[[Connection], Any]


class GroupCommit:
    """Run write jobs in shared transactions (up to `max_batch` jobs per commit).

    A job must not write before it raises an `ArenaError` (that error goes to its caller and
    the batch goes on). Any other exception fails the batch, which is then retried one job per
    transaction so that one bad job cannot fail the others.
    """

    def __init__(self, engine: Engine, max_batch: int = 128, max_normal: int = 16) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.max_normal = max_normal
        self._urgent: deque[tuple[Job, Future]] = deque()
        self._normal: deque[tuple[Job, Future]] = deque()
        self._ready = threading.Semaphore(0)  # one permit per queued job
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def run(self, job: Job, urgent: bool = False) -> Any:
        """Run `job(conn)` in the next batch; returns its result after the commit."""
        return self.submit(job, urgent).result()

    def submit(self, job: Job, urgent: bool = False) -> Future:
        """Queue `job(conn)` for the next batch; the future resolves after the commit.

        Urgent jobs (votes: a rater waits for the acknowledgement) all go into the next
        batch; other jobs (issuing battles) at most `max_normal` per batch, so a batch stays
        short while votes wait.
        """
        fut: Future = Future()
        (self._urgent if urgent else self._normal).append((job, fut))
        self._ready.release()
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._loop, name="arena-commit", daemon=True
                    )
                    self._thread.start()
        return fut

    def _take(self) -> list[tuple[Job, Future]]:
        """The next batch: every waiting urgent job, then up to `max_normal` others."""
        self._ready.acquire()  # at least one job is queued
        jobs: list[tuple[Job, Future]] = []
        for source, cap in ((self._urgent, self.max_batch), (self._normal, self.max_normal)):
            taken = 0
            while taken < cap and len(jobs) < self.max_batch:
                try:
                    jobs.append(source.popleft())
                except IndexError:
                    break
                taken += 1
        for _ in range(len(jobs) - 1):  # the permits of the other jobs taken (released soon
            self._ready.acquire()  # after their append if not yet)
        return jobs

    def _loop(self) -> None:
        while True:
            jobs = self._take()
            if not jobs:  # pragma: no cover - a permit always comes with a queued job
                continue
            try:
                with self.engine.begin() as conn:
                    outcomes = [self._one(conn, job) for job, _ in jobs]
            except Exception:  # noqa: BLE001 - retried alone below, each caller gets its own error
                for job, fut in jobs:
                    self._alone(job, fut)
                continue
            for (_, fut), (ok, value) in zip(jobs, outcomes):
                fut.set_result(value) if ok else fut.set_exception(value)

    @staticmethod
    def _one(conn: Connection, job: Job) -> tuple[bool, Any]:
        try:
            return True, job(conn)
        except ArenaError as exc:
            return False, exc

    def _alone(self, job: Job, fut: Future) -> None:
        try:
            with self.engine.begin() as conn:
                value = job(conn)
        except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
            fut.set_exception(exc)
            return
        fut.set_result(value)  # only after the commit
