"""The columnar (ADBC) read path of `Store.frame` gives the same frame as the DBAPI path.

The thresholds are lowered so small stores take the columnar path, in several parallel
parts on SQLite: NULLs before strings, quotes, commas, newlines and non-ASCII text in
strings and in JSON, filters, blob fields and run labels must all come back the same.
"""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

import arena.core.store_arrow as store_arrow
from arena.core.records import Battle, Judgment
from arena.core.store import RECORD_TABLES, Store


def _battles(n: int = 90) -> list[Battle]:
    odd = ['he said "hi", then\nleft', "naïve, 日本語", "a,b", "", "x\\y"]
    return [
        Battle(
            source="human" if i % 2 else "judge:x",
            question_id=f"q{i % 7}" if i % 11 else odd[i % 5],
            model_a=f"m{i % 3}",
            model_b=f"m{(i + 1) % 3}",
            winner=("model_a", "model_b", "tie", "tie (bothbad)")[i % 4],
            turn=1 + i % 2,
            weight=1.0 + (i % 5 == 0) * 0.25,
            ref=str(i),
            # a column NULL in its first rows, then text: the driver must not type it by them
            language=None if i < 40 else odd[i % 5],
            features={"len_a": float(i), odd[i % 5]: -i / 3, "big": 1e300} if i % 4 else {},
            anony=None if i % 3 else bool(i % 2),
            tstamp=None if i % 6 == 0 else 1.7e9 + i / 7,
        )
        for i in range(n)
    ]


def _both(monkeypatch, store: Store, *args, **where) -> tuple[pd.DataFrame, pd.DataFrame]:
    calls = []
    real = store_arrow.read_arrow

    def spy(*a, **k):
        out = real(*a, **k)
        calls.append(out is not None)
        return out

    monkeypatch.setattr("arena.core.store_frame.read_arrow", spy)
    monkeypatch.setattr(store_arrow, "MIN_ROWS", 1)
    monkeypatch.setattr(store_arrow, "SPLIT_ROWS", 20)  # several parallel parts on SQLite
    fast = store.frame(*args, **where)
    assert calls == [True], "the columnar path did not run"
    monkeypatch.setattr(store_arrow, "MIN_ROWS", 10**12)
    plain = store.frame(*args, **where)
    return fast, plain


def _same(fast: pd.DataFrame, plain: pd.DataFrame) -> None:
    assert list(fast.columns) == list(plain.columns)
    assert fast.dtypes.to_dict() == plain.dtypes.to_dict()
    for c in fast.columns:
        a, b = fast[c].tolist(), plain[c].tolist()
        assert [None if x != x else x for x in a] == [None if x != x else x for x in b], c


def test_columnar_frame_equals_the_plain_one(store, monkeypatch):
    bs = _battles()
    store.put_many(bs[:50], run="r1")
    store.put_many(bs[50:], run="r2")
    fast, plain = _both(monkeypatch, store, Battle)
    _same(fast, plain)
    assert len(fast) == 90 and fast["ref"].tolist() == [str(i) for i in range(90)]  # insertion order
    assert fast["features"][6] == {"len_a": 6.0, "naïve, 日本語": -2.0, "big": 1e300}
    assert fast["language"][:40].isna().all() and fast["language"][41] == "naïve, 日本語"
    assert fast["anony"].tolist()[:4] == [False, None, None, True]


@pytest.mark.parametrize("where", [{"model_a": "m1"}, {"model_a": ["m0", "m2"], "turn": 2}, {"language": None}])
def test_columnar_frame_filters_like_the_plain_one(store, monkeypatch, where):
    store.put_many(_battles(), run="r1")
    fast, plain = _both(monkeypatch, store, Battle, None, None, **where)
    _same(fast, plain)
    assert 0 < len(fast) < 90


def test_columnar_frame_of_a_run_with_blob_fields(store, monkeypatch):
    js = [
        Judgment(judge="j", judge_hash="h", mode="pairwise", question_id=f"q{i}", model_a="a", model_b="b",
                 prompt=f"prompt, {i}\n\"quoted\"", raw_output=None if i % 2 else "[[A>B]]", verdict="A>B")
        for i in range(30)
    ]
    store.put_many(js[:10], run="r1")
    store.put_many(js[10:], run="r2")
    fast, plain = _both(monkeypatch, store, Judgment, "r2", ["question_id", "prompt", "raw_output", "extra"])
    _same(fast, plain)
    assert fast["prompt"][0] == 'prompt, 10\n"quoted"' and len(fast) == 20


def test_in_memory_store_takes_the_plain_path(monkeypatch):
    s = Store("sqlite://")
    s.put_many(_battles(10))
    monkeypatch.setattr(store_arrow, "MIN_ROWS", 1)
    assert len(s.frame(Battle)) == 10


def test_columnar_connections_open_ahead_are_reused_and_closed(store, monkeypatch):
    """PostgreSQL: a connection is opened while the aggregate pass runs, kept for the next
    frame and closed with the store. SQLite needs none of this (no-op)."""
    store.put_many(_battles(), run="r1")
    monkeypatch.setattr(store_arrow, "MIN_ROWS", 1)
    opened = []
    real = store_arrow._connect_pg
    monkeypatch.setattr(store_arrow, "_connect_pg", lambda s: opened.append(1) or real(s))
    pg = store.engine.dialect.name == "postgresql"
    assert store_arrow.likely_large(store, RECORD_TABLES["battles"]) is pg
    first, second = store.frame(Battle), store.frame(Battle, columns=["model_a", "features"])
    assert len(first) == len(second) == 90 and second["features"].tolist() == first["features"].tolist()
    assert len(opened) == (1 if pg else 0)
    assert len(store.__dict__.get("_adbc_idle", [])) == (1 if pg else 0)
    if pg:  # the kept connection does not sit "idle in transaction" (holding back vacuum)
        (con,) = store.__dict__["_adbc_idle"]
        with con.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        with store.engine.connect() as conn:
            q = sa.text("SELECT state FROM pg_stat_activity WHERE pid = :pid")
            assert conn.execute(q, {"pid": pid}).scalar() == "idle"
    store.close()
    assert store.__dict__.get("_adbc_idle", []) == []
