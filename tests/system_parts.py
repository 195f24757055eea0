"""Skip-or-fail for tests that need a system part (chromium, PostgreSQL).

Outside CI such a test skips with a printed reason; in CI (`ARENA_REQUIRE_SYSTEM_PARTS=1`,
set by .ci/run, which installs the parts) a missing part is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import uuid

import pytest


def need(available: bool, reason: str) -> None:
    if available:
        return
    if os.environ.get("ARENA_REQUIRE_SYSTEM_PARTS") == "1":
        pytest.fail(f"required in CI but missing: {reason}")
    pytest.skip(reason)


def pg_url_with_fresh_schema() -> str:
    """A URL on $ARENA_TEST_PG_URL whose search_path is a new, empty schema."""
    base = os.environ.get("ARENA_TEST_PG_URL", "")
    need(bool(base), "ARENA_TEST_PG_URL not set (bash tests/pg_throwaway.sh start)")
    import sqlalchemy as sa

    from arena.core.store import make_engine

    schema = "t_" + uuid.uuid4().hex[:12]
    engine = make_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"
