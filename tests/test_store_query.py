"""Store queries in SQL: filters on field columns, column-wise frames, keyset pages, old stores migrate."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
import sqlalchemy as sa

from arena.core.records import Answer, Battle, Judgment, Vote
from arena.core.store import MIGRATIONS, RECORD_TABLES, Store
from tests.system_parts import pg_url_with_fresh_schema


def _battles(n: int = 60) -> list[Battle]:
    winners = ("model_a", "model_b", "tie", "tie (bothbad)")
    return [
        Battle(
            source="human" if i % 2 else "judge:x",
            question_id=f"q{i % 7}",
            model_a=f"m{i % 3}",
            model_b=f"m{(i + 1) % 3}",
            winner=winners[i % 4],
            turn=1 + i % 2,
            weight=1.0 + (i % 5 == 0),
            ref=str(i),
            features={"len_a": float(i), "len_b": float(2 * i)} if i % 4 else {},
            anony=None if i % 3 else bool(i % 2),
        )
        for i in range(n)
    ]


def test_filters_run_in_sql_and_match_python(store):
    bs = _battles()
    store.put_many(bs[:30], run="r1")
    store.put_many(bs[30:], run="r2")
    cases = [
        {"model_a": "m1"},
        {"model_a": "m1", "source": "human"},
        {"question_id": ["q1", "q3"]},
        {"anony": None},
        {"anony": True},
        {"turn": 2, "winner": {"tie", "model_b"}},
        {"features": {}},  # a JSON column: filtered in Python
    ]
    for where in cases:

        def ok(b: Battle, where=where) -> bool:
            return all(
                (getattr(b, k) in v) if isinstance(v, (list, set)) else getattr(b, k) == v
                for k, v in where.items()
            )

        want = [b for b in bs if ok(b)]
        assert want, where
        assert store.all(Battle, **where) == want, where
        assert store.count(Battle, **where) == len(want), where
        assert store.keys(Battle, **where) == {b.key() for b in want}, where
        got = store.frame(Battle, **where)
        assert got["ref"].tolist() == [b.ref for b in want] and len(got) == len(want), where
    assert store.all(Battle, "r2", model_a="m0") == [b for b in bs[30:] if b.model_a == "m0"]
    assert store.count(Battle, run="r1") == 30
    with pytest.raises(ValueError, match="has no field 'nope'"):
        store.all(Battle, nope=1)


def test_frame_is_the_records_column_by_column(store):
    bs = _battles()
    store.put_many(bs)
    df = store.frame(Battle)
    assert list(df.columns) == list(Battle.model_fields)
    want = [json.loads(b.model_dump_json()) for b in bs]
    got = df.to_dict("records")
    for g, w in zip(got, want):
        g = {k: (None if isinstance(v, float) and v != v else v) for k, v in g.items()}
        assert g == w
    assert df["turn"].dtype.kind == "i" and df["weight"].dtype.kind == "f"
    # a constant or all-NULL column is filled in, not fetched: same values either way
    only = store.frame(
        Battle, model_a="m0", columns=["model_a", "rater", "schema_version", "features"]
    )
    assert set(only["model_a"]) == {"m0"} and set(only["rater"]) == {""}
    assert set(only["schema_version"]) == {1} and len(only) == 20
    empty = store.frame(Battle, model_a="nobody")
    assert len(empty) == 0 and list(empty.columns) == list(Battle.model_fields)


def test_blob_fields_stay_in_the_document_and_can_still_be_framed(store):
    js = [
        Judgment(
            judge="j",
            judge_hash="h",
            mode="pairwise",
            question_id=f"q{i}",
            model_a="a",
            model_b="b",
            prompt=f"prompt {i}",
            raw_output=f"[[A>B]] {i}",
            verdict="A>B",
        )
        for i in range(5)
    ]
    store.put_many(js)
    table = RECORD_TABLES["judgments"]
    assert "prompt" not in table.c and "judge" in table.c and "f_created_at" in table.c
    df = store.frame(Judgment, columns=["question_id", "prompt", "created_at"])
    assert df["prompt"].tolist() == [j.prompt for j in js]
    assert df["created_at"].tolist() == [j.created_at for j in js]
    assert store.all(Judgment, raw_output="[[A>B]] 3") == [js[3]]
    assert store.by_key(Judgment, judge="j") == {j.key(): j for j in js}


def test_keyset_iteration_pages_in_insertion_order(store):
    bs = _battles(57)
    for i in range(0, 57, 10):  # several batches (several created_at values)
        store.put_many(bs[i : i + 10])
    assert list(store.iter(Battle, batch=7)) == bs
    assert list(store.iter(Battle, batch=4, model_a="m2")) == [b for b in bs if b.model_a == "m2"]
    store.upsert_many([bs[0].model_copy(update={"winner": "tie"})])  # rewritten: now the newest
    assert [b.ref for b in store.iter(Battle, batch=5)][-1] == bs[0].ref


def test_writers_fill_the_field_columns(store):
    v = Vote(
        battle_id="b1",
        rater="ann",
        question_set="s",
        question_id="q",
        model_a="x",
        model_b="y",
        winner="tie",
    )
    store.put(v)
    store.replace(Answer(model="m", question_set="s", question_id="q", turns=["hi"]))
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(RECORD_TABLES["votes"]).where(RECORD_TABLES["votes"].c.rater == "ann")
        ).one()
    assert row.f_created_at == v.created_at and row.winner == "tie"
    assert store.all(Answer, model="m", question_set="s")[0].turns == ["hi"]


def _v1_store(path, battles: list[Battle], votes: list[Vote]) -> None:
    """A store as the first release wrote it: key, run, created_at, data; migration 1 only."""
    con = sqlite3.connect(path)
    for t in RECORD_TABLES:
        con.execute(
            f"CREATE TABLE {t} (key VARCHAR(64) PRIMARY KEY, run VARCHAR(200), "
            "created_at FLOAT NOT NULL, data TEXT NOT NULL)"
        )
        con.execute(f"CREATE INDEX ix_{t}_run ON {t} (run)")
    con.execute(
        "CREATE TABLE model_cache (key VARCHAR(64) PRIMARY KEY, backend VARCHAR(100) NOT NULL, "
        "model VARCHAR(500) NOT NULL, created_at FLOAT NOT NULL, value TEXT NOT NULL)"
    )
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, "
        "applied_at FLOAT NOT NULL)"
    )
    con.execute(
        "INSERT INTO schema_migrations VALUES (1, 'record tables and model cache', ?)",
        (time.time(),),
    )
    for rec in [*battles, *votes]:
        con.execute(
            f"INSERT INTO {rec.table} VALUES (?, 'old', ?, ?)",
            (rec.key(), time.time(), rec.model_dump_json()),
        )
    con.commit()
    con.close()


def test_an_old_store_opens_migrates_and_filters(tmp_path):
    path = tmp_path / "old.sqlite"
    bs = _battles(20)
    votes = [
        Vote(
            battle_id=f"b{i}",
            rater=f"r{i % 2}",
            question_id="q",
            model_a="x",
            model_b="y",
            winner="tie",
        )
        for i in range(4)
    ]
    _v1_store(path, bs, votes)
    store = Store(path)
    assert store.schema_version() == max(m.version for m in MIGRATIONS)
    assert store.all(Battle, model_a="m1") == [b for b in bs if b.model_a == "m1"]
    assert store.count(Vote, rater="r1") == 2 and store.count(Battle, run="old") == 20
    assert store.frame(Battle)["features"].tolist() == [b.features for b in bs]
    names = {ix["name"] for ix in sa.inspect(store.engine).get_indexes("battles")}
    assert {"ix_battles_model_a", "ix_battles_created_at_key", "ix_battles_run"} <= names
    store.close()
    assert Store(path).count(Battle, source="human") == 10  # reopening applies nothing twice


def test_ratings_read_a_store_as_they_read_its_jsonl_export(tmp_path):
    from typer.testing import CliRunner

    from arena.cli import app
    from arena.core.records import write_jsonl

    path = tmp_path / "s.sqlite"
    store = Store(path)
    store.put_many(_battles(90))
    write_jsonl(tmp_path / "battles.jsonl", store.iter(Battle))
    store.close()
    runner = CliRunner()
    for cmd in (["bt"], ["elo"], ["bt", "--where", "source=human"]):
        a = runner.invoke(app, ["ratings", *cmd, str(path), "--json", "--bootstrap", "0"])
        b = runner.invoke(
            app, ["ratings", *cmd, str(tmp_path / "battles.jsonl"), "--json", "--bootstrap", "0"]
        )
        assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
        assert json.loads(a.stdout)["models"].keys() == {"m0", "m1", "m2"}
        assert json.loads(a.stdout) == json.loads(b.stdout), cmd
    # length features come out of the store as columns, so style control can use them
    sc = runner.invoke(
        app, ["ratings", "bt", "--style-control", str(path), "--json", "--bootstrap", "0"]
    )
    assert sc.exit_code == 0, sc.output
    assert json.loads(sc.stdout)["models"].keys() == {"m0", "m1", "m2"}


def test_ratings_read_a_postgresql_store_by_url(tmp_path):
    from typer.testing import CliRunner

    from arena.cli import app

    url = pg_url_with_fresh_schema()
    pg, lite = Store(url), Store(tmp_path / "s.sqlite")
    for s in (pg, lite):
        s.put_many(_battles(90))
        s.close()
    runner = CliRunner()
    a = runner.invoke(app, ["ratings", "bt", url, "--json", "--bootstrap", "0"])
    b = runner.invoke(
        app, ["ratings", "bt", str(tmp_path / "s.sqlite"), "--json", "--bootstrap", "0"]
    )
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    assert json.loads(a.stdout) == json.loads(b.stdout)
    missing = runner.invoke(app, ["ratings", "bt", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_an_old_store_migrates_on_both_databases(store_url_any):
    """The first release's schema, made with SQLAlchemy on SQLite or PostgreSQL, then opened."""
    from arena.core.store import make_engine, migrations_table, to_url
    from arena.core.store_schema import _v1_tables

    bs = _battles(12)
    engine = make_engine(to_url(store_url_any))
    with engine.begin() as conn:
        migrations_table.create(conn)
        for t in _v1_tables():
            t.create(conn)
        conn.execute(migrations_table.insert(), [{"version": 1, "name": "v1", "applied_at": 0.0}])
        conn.execute(
            sa.table(
                "battles",
                sa.column("key"),
                sa.column("run"),
                sa.column("created_at"),
                sa.column("data"),
            ).insert(),
            [
                {"key": b.key(), "run": "old", "created_at": float(i), "data": b.model_dump_json()}
                for i, b in enumerate(bs)
            ],
        )
    engine.dispose()
    store = Store(store_url_any)
    assert store.all(Battle, model_a="m2") == [b for b in bs if b.model_a == "m2"]
    assert list(store.iter(Battle, batch=5)) == bs  # insertion order survives the migration
    assert store.frame(Battle, run="old")["ref"].tolist() == [b.ref for b in bs]
    store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url_any(request, tmp_path) -> str:
    return (
        str(tmp_path / "old2.sqlite") if request.param == "sqlite" else pg_url_with_fresh_schema()
    )
