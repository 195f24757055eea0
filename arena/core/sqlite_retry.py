"""Retrying SQLite statements that fail at once with "database is locked".

SQLite's busy handler covers ordinary lock waits, but some steps skip it and fail at
once: switching a fresh file to WAL while other processes open it, WAL recovery, and a
read lock upgraded to a write lock while another writer waits. Stdlib only, so light
worker processes can use it.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def retry_locked(op: Callable[[], T], deadline_s: float = 30.0,
                 errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)) -> T:
    """Run `op`, retrying with jittered backoff while SQLite reports the file locked or busy
    (`errors`: the exception types that carry SQLite's message, e.g. an ADBC driver's)."""
    end = time.monotonic() + deadline_s
    delay = 0.005
    while True:
        try:
            return op()
        except errors as err:
            msg = str(err).lower()
            if ("locked" not in msg and "busy" not in msg) or time.monotonic() > end:
                raise
        time.sleep(delay + random.random() * delay)
        delay = min(delay * 2, 0.2)
