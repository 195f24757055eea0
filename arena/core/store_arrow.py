"""Columnar reads of large record tables through ADBC (Arrow Database Connectivity).

A million battles cost about 1.4 s in Python's sqlite3 module alone (a Python object per
cell) before any DataFrame exists. The ADBC drivers read straight into Arrow columns
without holding the GIL: SQLite tables are read in rowid ranges on parallel connections,
PostgreSQL tables with one binary COPY. JSON columns come back as one buffer parsed in a
single call.

Used by `store_frame.build_frame` for large results; any failure (driver missing, a type
the driver cannot infer, an in-memory database) returns None and the plain path runs.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from arena.core.sqlite_retry import retry_locked
from arena.core.store_schema import FieldColumn

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from arena.core.store import Store

log = logging.getLogger(__name__)

#: below this many rows the plain DBAPI path is as fast (no connection set-up)
MIN_ROWS = 50_000
#: SQLite rows per parallel reader, at least
SPLIT_ROWS = 200_000
#: JSON columns are selected as `col || ','` (under this label) and parsed as one array
_SEP = ","


def _sqlite_path(url: str) -> str | None:
    """The database file of a `sqlite:///` URL (None for in-memory databases)."""
    u = sa.engine.make_url(url)
    return None if not u.database or u.database == ":memory:" else u.database


def _pg_uri(url: str) -> str:
    """A libpq URI for ADBC from the store's SQLAlchemy URL (driver name dropped)."""
    u = sa.engine.make_url(url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


def _sql(store: Store, q: sa.Select) -> str:
    return str(q.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True}))


def _select(table: sa.Table, fcs: list[FieldColumn], data: bool) -> list[Any]:
    out: list[Any] = []
    for fc in fcs:
        c = table.c[fc.column]
        out.append((c + _SEP).label(fc.column) if fc.kind == "json" else c)
    return out + ([table.c.data] if data else [])


def read_arrow(store: Store, table: sa.Table, fcs: list[FieldColumn], data: bool, conds: list[Any],
               n: int) -> pa.Table | None:
    """The matching rows' columns (field columns, then `data` if asked) in insertion order,
    or None when this path is not available (see the module docstring)."""
    if n < MIN_ROWS:
        return None
    try:
        dialect = store.engine.dialect.name
        if dialect == "sqlite":
            return _read_sqlite(store, table, fcs, data, conds, n)
        if dialect == "postgresql":
            return _read_pg(store, table, fcs, data, conds)
    except Exception as err:  # noqa: BLE001 - any driver trouble: the plain path is still right
        log.debug("columnar read of %s fell back to the DBAPI path: %s", table.name, err)
    return None


def _read_sqlite(store: Store, table: sa.Table, fcs: list[FieldColumn], data: bool, conds: list[Any],
                 n: int) -> pa.Table | None:
    import pyarrow as pa

    path = _sqlite_path(store.url)
    if path is None:
        return None
    import adbc_driver_sqlite.dbapi as adbc

    rowid = sa.literal_column("rowid")
    with store.engine.connect() as conn:
        lo, hi = conn.execute(sa.select(sa.func.min(rowid), sa.func.max(rowid)).select_from(table)).one()
    if lo is None:
        return None
    parts = max(1, min(os.cpu_count() or 1, 4, n // SPLIT_ROWS))
    step = (hi - lo) // parts + 1
    cols = _select(table, fcs, data)

    def read_part(sql: str) -> pa.Table:
        with adbc.connect(path) as con, con.cursor() as cur:
            cur.execute("PRAGMA busy_timeout = 30000")
            # one batch: column types are inferred from every row, not the first 1024
            # (a column NULL in its first rows would otherwise fail on its first string)
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1 << 30)})
            cur.execute(sql)
            return cur.fetch_arrow_table()

    def read(i: int) -> pa.Table:
        rng = [rowid >= lo + i * step, rowid < lo + (i + 1) * step]
        sql = _sql(store, sa.select(*cols).where(*conds, *rng).order_by(rowid))
        # readers opening a WAL file together can be refused at once ("database is locked")
        return retry_locked(lambda: read_part(sql), errors=(adbc.Error,))

    with ThreadPoolExecutor(parts) as pool:
        tables = list(pool.map(read, range(parts)))
    return _concat(pa, tables, fcs, data)


def _read_pg(store: Store, table: sa.Table, fcs: list[FieldColumn], data: bool, conds: list[Any]) -> pa.Table:
    import adbc_driver_postgresql.dbapi as adbc

    sql = _sql(store, sa.select(*_select(table, fcs, data)).where(*conds).order_by(*store.order(table)))
    with adbc.connect(_pg_uri(store.url)) as con, con.cursor() as cur:
        cur.execute(sql)
        return cur.fetch_arrow_table()


def _concat(pa: Any, tables: list[pa.Table], fcs: list[FieldColumn], data: bool) -> pa.Table:
    """The parts as one table of the columns' declared types (SQLite's driver infers a type
    per part from the values: a part holding only NULLs comes back as integers)."""
    arrow = {"str": pa.string(), "json": pa.string(), "int": pa.int64(), "float": pa.float64(),
             "bool": pa.int64()}
    schema = pa.schema([(fc.column, arrow[fc.kind]) for fc in fcs] + ([("data", pa.string())] if data else []))
    return pa.concat_tables([t if t.schema == schema else t.cast(schema) for t in tables])


def json_values(col: pa.ChunkedArray) -> list[Any]:
    """Parsed values of a JSON column selected as `col || ','` (NULL stays NULL): each
    chunk's value buffer is already `v1,v2,...,` so the whole chunk is one JSON array."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    from orjson import loads
    out: list[Any] = []
    for chunk in col.chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            out += [None] * len(chunk)  # a part with only NULLs (typed as integers)
            continue
        if chunk.null_count:
            chunk = pc.fill_null(chunk, "null" + _SEP)
        if len(chunk) == 0:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if pa.types.is_large_string(chunk.type)
                                else np.int32)[chunk.offset: chunk.offset + len(chunk) + 1]
        body = chunk.buffers()[2][int(offsets[0]): int(offsets[-1]) - len(_SEP)]  # no copy
        values = loads(b"".join((b"[", memoryview(body), b"]")))
        if len(values) != len(chunk):  # pragma: no cover - a value that is not one JSON value
            raise ValueError(f"JSON column: {len(values)} values parsed from {len(chunk)} rows")
        out += values
    return out
