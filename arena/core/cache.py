"""Content-hash cache of model calls: an identical call is never paid twice.

The key covers the backend, the model, the request and the parameters. Only successful
results are stored; errors are never cached, so a retry really calls the model again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from arena.core.records import content_hash
from arena.core.store import Store, cache_table


def default_cache_path() -> Path:
    """`$ARENA_CACHE_DIR/cache.sqlite`, else `~/.cache/arena/cache.sqlite`."""
    root = os.environ.get("ARENA_CACHE_DIR") or Path.home() / ".cache" / "arena"
    return Path(root) / "cache.sqlite"


class Cache:
    """A table of (key -> JSON value) in a Store, with hit and miss counters."""

    def __init__(self, store: Store | str | Path | None = None) -> None:
        if store is None:
            store = default_cache_path()
        self.store = store if isinstance(store, Store) else Store(store)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    @staticmethod
    def make_key(backend: str, model: str, request: Any, params: Any = None) -> str:
        return content_hash({"b": backend, "m": model, "r": request, "p": params}, 64)

    def get(self, key: str) -> Any | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(cache_table.c.value).where(cache_table.c.key == key)).first()
        with self._lock:
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, backend: str, model: str, value: Any) -> None:
        row = {"key": key, "backend": backend, "model": model, "created_at": time.time(),
               "value": json.dumps(value, ensure_ascii=False)}
        with self.store.engine.begin() as conn:
            self.store._insert_ignore(conn, cache_table, [row])

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}
