"""Durable storage of records on SQLAlchemy: a SQLite file by default, any URL otherwise.

SQLite runs in WAL mode with `synchronous=FULL`, so a committed row survives a killed
process; PostgreSQL is reached by URL for shared deployments (several UI processes).
Schema changes are numbered migrations recorded in `schema_migrations`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from arena.core.records import RECORD_TYPES, Record

R = TypeVar("R", bound=Record)

metadata = sa.MetaData()


def _record_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("run", sa.String(200), index=True, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )


RECORD_TABLES: dict[str, sa.Table] = {cls.table: _record_table(cls.table) for cls in RECORD_TYPES}

cache_table = sa.Table(
    "model_cache",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("backend", sa.String(100), nullable=False),
    sa.Column("model", sa.String(500), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("value", sa.Text, nullable=False),
)

migrations_table = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _create(*tables: sa.Table) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        for t in tables:
            t.create(conn, checkfirst=True)

    return run


# Append only: a released migration is never edited, a new one gets the next number.
MIGRATIONS: list[Migration] = [
    Migration(1, "record tables and model cache", _create(*RECORD_TABLES.values(), cache_table)),
]


def register_migration(migration: Migration) -> None:
    """Add a migration (used by modules that own extra tables, e.g. the UI's battle state)."""
    if any(m.version == migration.version for m in MIGRATIONS):
        return
    MIGRATIONS.append(migration)
    MIGRATIONS.sort(key=lambda m: m.version)


def to_url(target: str | Path) -> str:
    """A path becomes a SQLite URL; anything with '://' is taken as an SQLAlchemy URL."""
    s = str(target)
    if "://" in s:
        return s
    Path(s).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(s).expanduser()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # a pool as large as a busy server's worker threads: overflow connections are closed
        # after use and reopened (with their PRAGMAs) on the next request otherwise
        pool = {} if url in ("sqlite://", "sqlite:///:memory:") else {"pool_size": 20, "max_overflow": 40}
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return sa.create_engine(url, pool_pre_ping=True)


class Store:
    """Records in SQL tables (key = content hash). Safe across processes and restarts."""

    def __init__(self, target: str | Path) -> None:
        self.url = to_url(target)
        self.engine = make_engine(self.url)
        self.migrate()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def migrate(self, attempts: int = 5) -> None:
        """Apply every migration not yet recorded, each in its own transaction.

        Several processes may open a new store at once; the loser of a CREATE race sees
        "already exists", waits, and finds the work done on its next pass.
        """
        for attempt in range(attempts):
            try:
                return self._migrate_once()
            except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _migrate_once(self) -> None:
        with self.engine.begin() as conn:
            migrations_table.create(conn, checkfirst=True)
        for m in MIGRATIONS:
            with self.engine.begin() as conn:
                done = conn.execute(
                    sa.select(migrations_table.c.version).where(migrations_table.c.version == m.version)
                ).first()
                if done:
                    continue
                m.apply(conn)
                self._insert_ignore(
                    conn, migrations_table, [{"version": m.version, "name": m.name, "applied_at": time.time()}]
                )

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            v = conn.execute(sa.select(sa.func.max(migrations_table.c.version))).scalar()
        return int(v or 0)

    def _insert_ignore(self, conn: Connection, table: sa.Table, rows: list[dict]) -> int:
        if not rows:
            return 0
        name = conn.dialect.name
        if name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        elif name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:  # pragma: no cover - other databases: check then insert
            existing = {r[0] for r in conn.execute(sa.select(table.primary_key.columns.values()[0]))}
            pk = table.primary_key.columns.values()[0].name
            rows = [r for r in rows if r[pk] not in existing]
            return conn.execute(table.insert(), rows).rowcount if rows else 0
        pk = table.primary_key.columns.values()[0]
        stmt = insert(table).on_conflict_do_nothing().returning(pk)
        # RETURNING counts what was really inserted, also in batches (rowcount is -1 there)
        return len(conn.execute(stmt, rows).all())

    # --- records -------------------------------------------------------------------------
    def put(self, record: Record, run: str | None = None) -> bool:
        """Store one record unless one with the same key exists; True when inserted."""
        return self.put_many([record], run) == 1

    def put_many(self, records: Iterable[Record], run: str | None = None) -> int:
        """Store records in one transaction; existing keys are left as they are."""
        by_table: dict[str, list[dict]] = {}
        now = time.time()
        for rec in records:
            row = {"key": rec.key(), "run": run, "created_at": now, "data": rec.model_dump_json()}
            by_table.setdefault(rec.table, []).append(row)
        n = 0
        with self.engine.begin() as conn:
            for name, rows in by_table.items():
                n += self._insert_ignore(conn, RECORD_TABLES[name], rows)
        return n

    def replace(self, record: Record, run: str | None = None) -> None:
        """Insert or overwrite a record (e.g. a retried judgment that now parses)."""
        table = RECORD_TABLES[record.table]
        with self.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.key == record.key()))
            conn.execute(
                table.insert(),
                [{"key": record.key(), "run": run, "created_at": time.time(), "data": record.model_dump_json()}],
            )

    def upsert_many(self, records: Iterable[Record], run: str | None = None) -> int:
        """Insert or overwrite records in one transaction (derived rows such as results or
        battles, whose key stays the same when what they were derived from changes)."""
        by_table: dict[str, dict[str, dict]] = {}
        now = time.time()
        for rec in records:
            key = rec.key()
            by_table.setdefault(rec.table, {})[key] = {
                "key": key, "run": run, "created_at": now, "data": rec.model_dump_json()}
        with self.engine.begin() as conn:
            for name, rows in by_table.items():
                table = RECORD_TABLES[name]
                keys = list(rows)
                for i in range(0, len(keys), 500):
                    conn.execute(table.delete().where(table.c.key.in_(keys[i : i + 500])))
                conn.execute(table.insert(), list(rows.values()))
        return sum(len(r) for r in by_table.values())

    def claim(self, records: Iterable[Record], run: str) -> None:
        """Mark existing records as part of `run` (what a report of that run shows)."""
        by_table: dict[str, list[str]] = {}
        for rec in records:
            by_table.setdefault(rec.table, []).append(rec.key())
        with self.engine.begin() as conn:
            for name, keys in by_table.items():
                table = RECORD_TABLES[name]
                for i in range(0, len(keys), 500):
                    conn.execute(table.update().where(table.c.key.in_(keys[i : i + 500])).values(run=run))

    def release(self, run: str) -> None:
        """Untag every record of `run`; a resumed run claims again what it still uses."""
        with self.engine.begin() as conn:
            for table in RECORD_TABLES.values():
                conn.execute(table.update().where(table.c.run == run).values(run=None))

    def get(self, cls: type[R], key: str) -> R | None:
        table = RECORD_TABLES[cls.table]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table.c.data).where(table.c.key == key)).first()
        return cls.model_validate_json(row[0]) if row else None

    def keys(self, cls: type[Record], run: str | None = None) -> set[str]:
        table = RECORD_TABLES[cls.table]
        q = sa.select(table.c.key)
        if run is not None:
            q = q.where(table.c.run == run)
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(q)}

    def all(self, cls: type[R], run: str | None = None, **where: Any) -> list[R]:
        """Every record of a type (optionally of one run), filtered on field equality."""
        table = RECORD_TABLES[cls.table]
        q = sa.select(table.c.data).order_by(table.c.created_at, table.c.key)
        if run is not None:
            q = q.where(table.c.run == run)
        with self.engine.connect() as conn:
            recs = [cls.model_validate_json(r[0]) for r in conn.execute(q)]
        return [r for r in recs if all(getattr(r, k) == v for k, v in where.items())]

    def count(self, cls: type[Record], run: str | None = None) -> int:
        table = RECORD_TABLES[cls.table]
        q = sa.select(sa.func.count()).select_from(table)
        if run is not None:
            q = q.where(table.c.run == run)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def frame(self, cls: type[Record], run: str | None = None):  # -> pandas.DataFrame
        import pandas as pd

        rows = [json.loads(r.model_dump_json()) for r in self.all(cls, run)]
        return pd.DataFrame(rows, columns=list(cls.model_fields) if not rows else None)

    def close(self) -> None:
        self.engine.dispose()
