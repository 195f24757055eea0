"""The store's tables and numbered migrations.

A record table holds the full record as JSON (``data``) plus one column per record field
that is not a blob (see ``Record.blob_fields``): strings, numbers and literals as typed
columns, small nested values (a battle's ``features``) as JSON text. The fields code filters
on (``Record.indexed``) and ``(created_at, key)`` (insertion order, keyset pagination) are
indexed, so the store filters in SQL and builds frames column by column.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from arena.core.records import RECORD_TYPES, Record

metadata = sa.MetaData()
RESERVED = ("key", "run", "created_at", "data")


@dataclass(frozen=True)
class FieldColumn:
    """A record field stored as a column: ``kind`` is str, int, float, bool or json."""

    field: str
    column: str
    kind: str
    optional: bool = True  # has a default (so often one value in every row, e.g. "" or None)


def _kind(annotation: Any) -> str:
    """Column kind of a pydantic field annotation (Optional[X] as X; anything else json)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _kind(args[0]) if len(args) == 1 else "json"
    if origin is Literal:
        return "str" if all(isinstance(a, str) for a in typing.get_args(annotation)) else "json"
    return {str: "str", bool: "bool", int: "int", float: "float"}.get(annotation, "json")


def field_columns(cls: type[Record]) -> tuple[FieldColumn, ...]:
    """The record's non-blob fields as columns (a reserved name gets an ``f_`` prefix)."""
    out = []
    for name, info in cls.model_fields.items():
        if name in cls.blob_fields:
            continue
        col = f"f_{name}" if name in RESERVED else name
        out.append(FieldColumn(name, col, _kind(info.annotation), not info.is_required()))
    return tuple(out)


_SA_TYPES = {
    "str": sa.Text,
    "int": sa.BigInteger,
    "float": sa.Float,
    "bool": sa.Boolean,
    "json": sa.Text,
}


def _record_table(cls: type[Record]) -> sa.Table:
    name = cls.table
    cols = [sa.Column(fc.column, _SA_TYPES[fc.kind](), nullable=True) for fc in field_columns(cls)]
    indexes = [sa.Index(f"ix_{name}_{f}", f) for f in cls.indexed]
    return sa.Table(
        name,
        metadata,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("run", sa.String(200), index=True, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        *cols,
        sa.Index(f"ix_{name}_created_at_key", "created_at", "key"),
        *indexes,
    )


RECORD_CLASSES: dict[str, type[Record]] = {cls.table: cls for cls in RECORD_TYPES}
RECORD_TABLES: dict[str, sa.Table] = {cls.table: _record_table(cls) for cls in RECORD_TYPES}
FIELD_COLUMNS: dict[str, tuple[FieldColumn, ...]] = {
    c.table: field_columns(c) for c in RECORD_TYPES
}

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


def column_values(rec: Record) -> dict[str, Any]:
    """The field columns of one record (JSON text for nested values)."""
    out: dict[str, Any] = {}
    for fc in FIELD_COLUMNS[rec.table]:
        v = getattr(rec, fc.field)
        out[fc.column] = json.dumps(v, sort_keys=True) if fc.kind == "json" and v is not None else v
    return out


def record_row(rec: Record, run: str | None, now: float) -> dict[str, Any]:
    """The full row of a record table for `rec` (what every writer inserts)."""
    return {
        "key": rec.key(),
        "run": run,
        "created_at": now,
        "data": rec.model_dump_json(),
        **column_values(rec),
    }


# --- migrations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _v1_tables() -> list[sa.Table]:
    """The schema as migration 1 created it (frozen: key, run, created_at, data)."""
    md = sa.MetaData()
    tables = [
        sa.Table(
            cls.table,
            md,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("run", sa.String(200), index=True, nullable=True),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("data", sa.Text, nullable=False),
        )
        for cls in RECORD_TYPES
    ]
    return [*tables, cache_table.to_metadata(md)]


def _create_v1(conn: Connection) -> None:
    for t in _v1_tables():
        t.create(conn, checkfirst=True)


def add_record_columns(conn: Connection) -> None:
    """Add every missing field column and index, filling new columns from ``data``.

    Idempotent (it checks what exists), so a later migration that adds record fields can
    call it again, and a process that lost a migration race finds the work done.
    """
    for name, table in RECORD_TABLES.items():
        insp = sa.inspect(conn)
        if not insp.has_table(name):
            table.create(conn)
        have = {c["name"] for c in insp.get_columns(name)}
        new = [c for c in table.columns if c.name not in have]
        prep = conn.dialect.identifier_preparer
        for c in new:
            conn.execute(
                sa.text(
                    f"ALTER TABLE {prep.quote(name)} ADD COLUMN {prep.quote(c.name)} "
                    f"{c.type.compile(conn.dialect)}"
                )
            )
        if new:
            _backfill(conn, RECORD_CLASSES[name], table, {c.name for c in new})
        if conn.dialect.name == "postgresql" and "seq" not in have:
            # insertion order (SQLite has its rowid): numbers existing rows, then counts on
            q = prep.quote(name)
            conn.execute(sa.text(f"ALTER TABLE {q} ADD COLUMN seq BIGSERIAL"))
            # rows get numbers in physical order (scrambled by updates): number them in the
            # order the store used to return them instead, (created_at, key)
            conn.execute(sa.text(
                f"UPDATE {q} SET seq = o.n FROM (SELECT key, row_number() OVER "
                f"(ORDER BY created_at, key) AS n FROM {q}) AS o WHERE {q}.key = o.key"))
            conn.execute(sa.text(f"CREATE INDEX ix_{name}_seq ON {q} (seq)"))
        known = {ix["name"] for ix in sa.inspect(conn).get_indexes(name)}
        for ix in table.indexes:
            if ix.name not in known:
                ix.create(conn)


def _backfill(conn: Connection, cls: type[Record], table: sa.Table, cols: set[str]) -> None:
    last = ""
    while True:
        rows = conn.execute(
            sa.select(table.c.key, table.c.data)
            .where(table.c.key > last)
            .order_by(table.c.key)
            .limit(5000)
        ).all()
        if not rows:
            return
        updates = []
        for key, data in rows:
            vals = column_values(cls.model_validate_json(data))
            updates.append({"k": key, **{f"v_{c}": vals[c] for c in cols}})
        stmt = (
            table.update()
            .where(table.c.key == sa.bindparam("k"))
            .values({c: sa.bindparam(f"v_{c}") for c in cols})
        )
        conn.execute(stmt, updates)
        last = rows[-1][0]


# Append only: a released migration is never edited, a new one gets the next number.
# Number 2 belongs to arena.service (UI tables), registered when that module is imported.
MIGRATIONS: list[Migration] = [
    Migration(1, "record tables and model cache", _create_v1),
    Migration(3, "record field columns and indexes", add_record_columns),
]


def register_migration(migration: Migration) -> None:
    """Add a migration (used by modules that own extra tables, e.g. the UI's battle state)."""
    if any(m.version == migration.version for m in MIGRATIONS):
        return
    MIGRATIONS.append(migration)
    MIGRATIONS.sort(key=lambda m: m.version)


def fetch_tuples(conn: sa.Connection, q: sa.Select) -> list[tuple]:
    """Plain tuples from the DBAPI cursor (no Row objects, no result processors)."""
    result = conn.execute(q)
    cursor = getattr(result, "cursor", None)
    if cursor is None:  # pragma: no cover - a driver without a raw cursor
        return [tuple(r) for r in result]
    try:
        return cursor.fetchall()
    finally:
        result.close()
