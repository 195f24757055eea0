"""Store: records round-trip, dedupe by key, migrations, durability under SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from arena.core.cache import Cache
from arena.core.records import Battle, Judgment, Score, read_jsonl, write_jsonl
from arena.core.store import MIGRATIONS, Store
from tests.system_parts import pg_url_with_fresh_schema


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "arena.sqlite")
    return pg_url_with_fresh_schema()


def _battle(i: int, winner: str = "model_a") -> Battle:
    return Battle(source="human", question_id=str(i), model_a="a", model_b="b", winner=winner)


def test_put_is_idempotent_and_roundtrips(store_url):
    store = Store(store_url)
    assert store.schema_version() == max(m.version for m in MIGRATIONS)
    assert store.put_many([_battle(i) for i in range(10)]) == 10
    assert store.put_many([_battle(i) for i in range(12)]) == 2  # only the new ones
    assert store.count(Battle) == 12
    got = store.get(Battle, _battle(3).key())
    assert got == _battle(3)
    assert {b.question_id for b in store.all(Battle, question_id="5")} == {"5"}
    frame = store.frame(Battle)
    assert len(frame) == 12 and set(frame["winner"]) == {"model_a"}


def test_runs_and_replace(store_url):
    store = Store(store_url)
    j = Judgment(judge="j", judge_hash="h", mode="single", question_id="q", model_a="m",
                 parse_error="no rating")
    store.put(j, run="r1")
    store.replace(j.model_copy(update={"parse_error": None, "score": 7.0}), run="r1")
    [only] = store.all(Judgment, run="r1")
    assert only.score == 7.0 and only.parse_error is None
    assert store.all(Judgment, run="other") == []


def test_reopen_does_not_reapply_migrations(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).put(_battle(1))
    store = Store(path)
    assert store.count(Battle) == 1 and store.schema_version() >= 1


def test_cache_counts_hits_and_misses(store_url):
    cache = Cache(Store(store_url))
    key = cache.make_key("openai", "m", [{"role": "user", "content": "hi"}], {"t": 0})
    assert key != cache.make_key("openai", "m", [{"role": "user", "content": "hi"}], {"t": 1})
    assert cache.get(key) is None
    cache.put(key, "openai", "m", {"text": "hello"})
    cache.put(key, "openai", "m", {"text": "other"})  # first write wins
    assert cache.get(key) == {"text": "hello"}
    assert cache.stats() == {"hits": 1, "misses": 1}


def test_jsonl_export_roundtrip(tmp_path):
    scores = [Score(source="judge:x", model="m", question_id=str(i), score=i / 2) for i in range(5)]
    path = tmp_path / "scores.jsonl"
    assert write_jsonl(path, scores) == 5
    assert read_jsonl(path, Score) == scores


WRITER = textwrap.dedent(
    """
    import sys
    from arena.core.records import Battle
    from arena.core.store import Store
    store = Store(sys.argv[1])
    i = 0
    while True:
        store.put(Battle(source="human", question_id=str(i), model_a="a", model_b="b", winner="tie"))
        print(i, flush=True)   # printed only after the commit returned
        i += 1
    """
)


def test_sigkilled_writer_leaves_every_committed_row(store_url):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, store_url], stdout=subprocess.PIPE,
                            text=True, cwd=os.getcwd())
    last = -1
    assert proc.stdout is not None
    for line in proc.stdout:
        last = int(line)
        if last >= 150:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store = Store(store_url)
    rows = store.all(Battle)
    ids = {int(b.question_id) for b in rows}
    assert set(range(last + 1)) <= ids  # every acknowledged commit survived
    assert all(b.winner == "tie" for b in rows)  # and every row is readable


OPENER = textwrap.dedent(
    """
    import sys
    from arena.core.store import Store
    Store(sys.argv[1]).put(__import__("arena.core.records", fromlist=["x"]).Battle(
        source="human", question_id=sys.argv[2], model_a="a", model_b="b", winner="tie"))
    """
)


def test_processes_creating_one_store_at_once(tmp_path):
    path = str(tmp_path / "new.sqlite")
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, path, str(i)], stderr=subprocess.PIPE, text=True)
             for i in range(6)]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    assert Store(path).count(Battle) == 6
