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
        return self.get_many([key])[0]

    def get_many(self, keys: list[str]) -> list[Any | None]:
        """Look up many keys in few queries (batches of 500); counts hits and misses."""
        found: dict[str, Any] = {}
        with self.store.engine.connect() as conn:
            for i in range(0, len(keys), 500):
                q = sa.select(cache_table.c.key, cache_table.c.value).where(
                    cache_table.c.key.in_(keys[i : i + 500]))
                found.update({k: json.loads(v) for k, v in conn.execute(q)})
        hits = sum(k in found for k in keys)
        with self._lock:
            self.hits += hits
            self.misses += len(keys) - hits
        return [found.get(k) for k in keys]

    @staticmethod
    def row(key: str, backend: str, model: str, value: Any) -> dict[str, Any]:
        """A cache row for `put_many`."""
        return {"key": key, "backend": backend, "model": model, "created_at": time.time(),
                "value": json.dumps(value, ensure_ascii=False)}

    def put(self, key: str, backend: str, model: str, value: Any) -> None:
        self.put_many([self.row(key, backend, model, value)])

    def put_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert many rows (from `Cache.row`) in one transaction; existing keys are kept."""
        with self.store.engine.begin() as conn:
            self.store._insert_ignore(conn, cache_table, rows)

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}
