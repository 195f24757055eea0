"""Rate limits for API backends: a queries-per-second bucket and a concurrency limit.

The buckets follow GCRA: a caller takes a slot only if it is free *now*, otherwise it
learns how long to sleep and asks again. Booking future slots instead would let requests
that were delayed on their way out (a blocked event loop, a slow first connection) reach
the server in a clump. A bucket holds no asyncio object, works from any event loop or
thread, and the same arithmetic runs over a shared SQLite row when several worker
processes must respect one global limit (`SharedTokenBucket`).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Protocol

from arena.core.sqlite_retry import retry_locked


class Bucket(Protocol):
    """Anything that books send times at a fixed rate."""

    def try_acquire(self) -> float:
        """Take a slot if one is free now (return 0.0), else return seconds to wait."""
        ...


def _gcra(tat: float, now: float, interval: float, burst: int) -> tuple[float, float]:
    """One GCRA step: (0.0 and the new theoretical arrival time) or (wait, unchanged tat)."""
    allowed_at = tat - (burst - 1) * interval
    if now < allowed_at:
        return allowed_at - now, tat
    return 0.0, max(tat, now) + interval


class TokenBucket:
    """In-process bucket: at most `rate` sends per second, `burst` of them back to back.

    Thread-safe and not bound to an event loop.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.rate, self.burst = rate, max(1, int(burst))
        self._interval = 1.0 / rate
        self._tat = 0.0
        self._lock = threading.Lock()

    def try_acquire(self) -> float:
        with self._lock:
            wait, self._tat = _gcra(self._tat, time.monotonic(), self._interval, self.burst)
        return wait


class SharedTokenBucket:
    """A bucket shared by every process that opens the same `name` in the same `directory`.

    The booking is a short `BEGIN IMMEDIATE` transaction on a SQLite file, whose lock
    serialises processes; wall-clock time is used because monotonic clocks differ across
    processes. Intended for one machine (a local file system), e.g. a pool of workers.
    """

    def __init__(self, directory: str | Path, name: str, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.rate, self.burst, self.name = rate, max(1, int(burst)), name
        self._interval = 1.0 / rate
        Path(directory).mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:100]
        self.path = Path(directory) / f"ratelimit-{safe}.sqlite"
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            # Switching a fresh file to WAL while other processes open it can fail with
            # "database is locked" at once (SQLite skips the busy handler there): retry.
            retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            retry_locked(lambda: conn.execute(
                "CREATE TABLE IF NOT EXISTS bucket (name TEXT PRIMARY KEY, tat REAL)"))
            self._local.conn = conn
        return conn

    def try_acquire(self) -> float:
        conn = self._conn()
        retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            row = conn.execute("SELECT tat FROM bucket WHERE name = ?", (self.name,)).fetchone()
            wait, tat = _gcra(row[0] if row else 0.0, time.time(), self._interval, self.burst)
            conn.execute("INSERT OR REPLACE INTO bucket (name, tat) VALUES (?, ?)", (self.name, tat))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return wait


class RateLimiter:
    """Concurrency limit plus an optional qps bucket, used as `async with limiter:`.

    The semaphore is created per event loop (asyncio primitives belong to one loop), so a
    model object can be used from `asyncio.run` in several threads one after another.
    """

    def __init__(self, concurrency: int = 8, bucket: Bucket | None = None) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.concurrency, self.bucket = concurrency, bucket
        self._sems: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _sem(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._lock:
            sem = self._sems.get(loop)
            if sem is None:
                sem = self._sems[loop] = asyncio.Semaphore(self.concurrency)
        return sem

    async def wait_turn(self) -> None:
        """Sleep until the qps bucket lets the next request go (no-op without a bucket)."""
        if self.bucket is None:
            return
        # SQLite may wait on another process's lock, a remote bucket on the network
        shared = isinstance(self.bucket, SharedTokenBucket) or getattr(self.bucket, "blocking", False)
        while True:
            # SQLite may wait on another process's lock: keep that off the event loop.
            wait = await asyncio.to_thread(self.bucket.try_acquire) if shared else self.bucket.try_acquire()
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    async def __aenter__(self) -> RateLimiter:
        await self._sem().acquire()
        try:
            await self.wait_turn()
        except BaseException:
            self._sem().release()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._sem().release()


def make_limiter(
    concurrency: int, qps: float | None, shared_dir: str | Path | None = None, name: str = "default"
) -> RateLimiter:
    """A RateLimiter; with `shared_dir` the qps limit is global across processes on `name`."""
    bucket: Bucket | None = None
    if qps and _BUCKET_FACTORY is not None:  # e.g. a Ray actor shared by a whole cluster
        bucket = _BUCKET_FACTORY(name, qps)
    elif qps:
        bucket = SharedTokenBucket(shared_dir, name, qps) if shared_dir else TokenBucket(qps)
    return RateLimiter(concurrency, bucket)


_BUCKET_FACTORY = None


def set_bucket_factory(factory: object) -> None:
    """Make every qps bucket of this process with `factory(name, qps) -> Bucket` (None: the default).

    The Ray runner's actors use it so that all of them book one limit held by a limiter actor.
    """
    global _BUCKET_FACTORY
    _BUCKET_FACTORY = factory
