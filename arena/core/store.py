"""Durable storage of records on SQLAlchemy: a SQLite file by default, any URL otherwise.

SQLite runs in WAL mode with `synchronous=FULL`, so a committed row survives a killed
process; PostgreSQL is reached by URL for shared deployments (several UI processes).
Schema changes are numbered migrations recorded in `schema_migrations`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from arena.core.records import Record
from arena.core.sqlite_retry import retry_locked
from arena.core.store_schema import (  # noqa: F401  (re-exported: the store's public schema)
    FIELD_COLUMNS,
    MIGRATIONS,
    RECORD_TABLES,
    Migration,
    cache_table,
    fetch_tuples,
    metadata,
    migrations_table,
    record_row,
    register_migration,
)

R = TypeVar("R", bound=Record)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects at once.

    Reading 200k records allocates millions of containers, and each full collection walks
    every live object again: most of a bulk read's time went to the collector. Refcounting
    still frees everything. Re-entrant.

    When the outermost pause ends, the objects it built (all still in the youngest
    generation) are moved to the oldest one without a walk (``gc.freeze`` then
    ``gc.unfreeze``): otherwise the next young collection walks them all at once (0.6 s
    after loading 200k judgments). Cycles among them are found by the next full collection.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            if gc.get_freeze_count() == 0:  # leave a caller's own frozen objects frozen
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def to_url(target: str | Path) -> str:
    """A path becomes a SQLite URL; anything with '://' is taken as an SQLAlchemy URL."""
    s = str(target)
    if "://" in s:
        return s
    Path(s).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(s).expanduser()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    retry_locked(lambda: cur.execute("PRAGMA journal_mode=WAL"))
    cur.execute("PRAGMA synchronous=FULL")
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

    def migrate(self, attempts: int = 10) -> None:
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
            by_table.setdefault(rec.table, []).append(record_row(rec, run, now))
        n = 0
        with self.engine.begin() as conn:
            for name, rows in by_table.items():
                for i in range(0, len(rows), 20_000):
                    n += self._insert_ignore(conn, RECORD_TABLES[name], rows[i : i + 20_000])
        return n

    def replace(self, record: Record, run: str | None = None) -> None:
        """Insert or overwrite a record (e.g. a retried judgment that now parses)."""
        self.upsert_many([record], run)

    def upsert_many(self, records: Iterable[Record], run: str | None = None) -> int:
        """Insert or overwrite records in one transaction (derived rows such as results or
        battles, whose key stays the same when what they were derived from changes)."""
        by_table: dict[str, dict[str, dict]] = {}
        now = time.time()
        for rec in records:
            row = record_row(rec, run, now)
            by_table.setdefault(rec.table, {})[row["key"]] = row
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

    # --- queries: filters run in SQL on the field columns ------------------------------------
    def _filter(self, cls: type[Record], run: str | None, where: dict[str, Any]
                ) -> tuple[list[Any], dict[str, Any]]:
        """SQL conditions for `run` and `where`, and what only Python can test (blob fields).

        A value that is a list, tuple or set matches any of its items; None matches NULL.
        """
        table = RECORD_TABLES[cls.table]
        conds: list[Any] = [] if run is None else [table.c.run == run]
        cols = {fc.field: fc for fc in FIELD_COLUMNS[cls.table]}
        rest: dict[str, Any] = {}
        for k, v in where.items():
            if k not in cls.model_fields:
                raise ValueError(f"{cls.__name__} has no field {k!r}")
            fc = cols.get(k)
            many = isinstance(v, (list, tuple, set, frozenset))
            if fc is None or fc.kind == "json" or (many and len(v) > 20_000):
                rest[k] = v
            elif many:
                conds.append(table.c[fc.column].in_(list(v)))
            else:
                conds.append(table.c[fc.column].is_(None) if v is None else table.c[fc.column] == v)
        return conds, rest

    @staticmethod
    def _matches(rec: Record, rest: dict[str, Any]) -> bool:
        for k, v in rest.items():
            got = getattr(rec, k)
            many = isinstance(v, (list, tuple, set, frozenset)) and not isinstance(got, list)
            if (got not in v) if many else (got != v):
                return False
        return True

    def _records(self, cls: type[R], run: str | None, where: dict[str, Any]) -> Iterator[tuple[str, R]]:
        """(key, record) in insertion order, filtered in SQL, then on blob fields in Python."""
        table = RECORD_TABLES[cls.table]
        conds, rest = self._filter(cls, run, where)
        q = sa.select(table.c.key, table.c.data).where(*conds).order_by(*self.order(table))
        validate = cls.__pydantic_validator__.validate_json
        with self.engine.connect() as conn, gc_paused():
            rows = fetch_tuples(conn, q)
            recs = [(key, validate(data)) for key, data in rows]
        del rows
        for key, rec in recs:
            if not rest or self._matches(rec, rest):
                yield key, rec

    def all(self, cls: type[R], run: str | None = None, **where: Any) -> list[R]:
        """Records of a type (optionally of one run) whose fields equal `where`, in insertion order."""
        return [rec for _, rec in self._records(cls, run, where)]

    def by_key(self, cls: type[R], run: str | None = None, **where: Any) -> dict[str, R]:
        """Like `all`, keyed by the stored key (no hashing of each record again)."""
        return dict(self._records(cls, run, where))

    def keys(self, cls: type[Record], run: str | None = None, **where: Any) -> set[str]:
        conds, rest = self._filter(cls, run, where)
        if rest:
            return set(self.by_key(cls, run, **where))
        table = RECORD_TABLES[cls.table]
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.select(table.c.key).where(*conds))}

    def count(self, cls: type[Record], run: str | None = None, **where: Any) -> int:
        conds, rest = self._filter(cls, run, where)
        if rest:
            return len(self.all(cls, run, **where))
        table = RECORD_TABLES[cls.table]
        q = sa.select(sa.func.count()).select_from(table).where(*conds)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def order(self, table: sa.Table) -> list[Any]:
        """Insertion order: SQLite's rowid (a plain table scan), PostgreSQL's `seq` column
        (added by migration 3), elsewhere (created_at, key)."""
        dialect = self.engine.dialect.name
        if dialect in ("sqlite", "postgresql"):
            return [sa.literal_column("rowid" if dialect == "sqlite" else "seq")]
        return [table.c.created_at, table.c.key]

    def iter(self, cls: type[R], run: str | None = None, batch: int = 5000, **where: Any) -> Iterator[R]:
        """Every matching record in insertion order, `batch` rows per query (keyset
        pagination on the order columns): exports of any size in constant memory."""
        table = RECORD_TABLES[cls.table]
        conds, rest = self._filter(cls, run, where)
        order = self.order(table)
        after: tuple | None = None
        while True:
            page = [*conds] if after is None else [*conds, sa.tuple_(*order) > sa.tuple_(*after)]
            q = sa.select(*order, table.c.data).where(*page).order_by(*order).limit(batch)
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
            for row in rows:
                rec = cls.model_validate_json(row[-1])
                if not rest or self._matches(rec, rest):
                    yield rec
            if len(rows) < batch:
                return
            after = tuple(rows[-1][:-1])

    def frame(self, cls: type[Record], run: str | None = None, columns: Iterable[str] | None = None,
              **where: Any):  # -> pandas.DataFrame
        """A DataFrame of the records' fields, built column by column from the field columns
        (no per-row validation); blob fields, when asked for, come from the JSON document."""
        from arena.core.store_frame import build_frame

        with gc_paused():
            return build_frame(self, cls, run, list(columns or cls.model_fields), where)

    def close(self) -> None:
        from arena.core import store_arrow

        store_arrow.close(self)
        self.engine.dispose()
