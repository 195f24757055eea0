"""Columnar reads of large record tables through ADBC (Arrow Database Connectivity).

A million battles cost about 1.4 s in Python's sqlite3 module alone (a Python object per
cell) before any DataFrame exists. The ADBC drivers read straight into Arrow columns
without holding the GIL (PostgreSQL's by binary COPY), here in insertion-order ranges on
parallel connections. JSON columns come back as one buffer parsed in a single call.

Used by `store_frame.build_frame` for large results; any failure (driver missing, a type
the driver cannot infer, an in-memory database) returns None and the plain path runs.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
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
        reader = _reader(store)
        return None if reader is None else _read(store, table, fcs, data, conds, n, reader)
    except Exception as err:  # noqa: BLE001 - any driver trouble: the plain path is still right
        log.debug("columnar read of %s fell back to the DBAPI path: %s", table.name, err)
    return None


def _reader(store: Store) -> Any:
    """A function running one SELECT into an Arrow table on a connection of its own."""
    dialect = store.engine.dialect.name
    if dialect == "sqlite":
        path = _sqlite_path(store.url)
        if path is None:
            return None
        import adbc_driver_sqlite.dbapi as lite

        def read_sqlite(sql: str) -> pa.Table:
            with lite.connect(path) as con, con.cursor() as cur:
                cur.execute("PRAGMA busy_timeout = 30000")
                # one batch: column types are inferred from every row, not the first 1024
                # (a column NULL in its first rows would otherwise fail on its first string)
                cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1 << 30)})
                cur.execute(sql)
                return cur.fetch_arrow_table()

        # readers opening a WAL file together can be refused at once ("database is locked")
        return lambda sql: retry_locked(lambda: read_sqlite(sql), errors=(lite.Error,))
    if dialect == "postgresql":

        def read_pg(sql: str) -> pa.Table:
            con = _take_pg(store)
            try:
                with con.cursor() as cur:
                    cur.execute(sql)
                    out = cur.fetch_arrow_table()
            except BaseException:
                con.close()
                raise
            with _LOCK:
                _idle(store).append(con)
            return out

        return read_pg
    return None


# PostgreSQL: the driver reads the type catalog on connect (0.25 s here), so connections are
# opened ahead (`preconnect`, while the aggregate pass runs) and kept on the store for reuse
_LOCK = threading.Lock()


def _idle(store: Store) -> list[Any]:
    return store.__dict__.setdefault("_adbc_idle", [])


def _connect_pg(store: Store) -> Any:
    import adbc_driver_postgresql.dbapi as pg

    # autocommit: a kept connection must not sit "idle in transaction" (holding back vacuum)
    return pg.connect(_pg_uri(store.url), autocommit=True)


def likely_large(store: Store, table: sa.Table) -> bool:
    """Whether `table` is big enough on disk to hold MIN_ROWS rows (PostgreSQL: a file size,
    no scan; False elsewhere)."""
    if store.engine.dialect.name != "postgresql":
        return False
    q = sa.text("SELECT pg_relation_size(to_regclass(:t))")
    with store.engine.connect() as conn:
        size = conn.execute(q, {"t": table.name}).scalar()
    return bool(size) and size >= MIN_ROWS * 200  # bytes: a record row is larger than this


def preconnect(store: Store) -> None:
    """Start opening a columnar connection in the background (PostgreSQL; no-op elsewhere
    or when one is already open or on its way)."""
    if store.engine.dialect.name != "postgresql":
        return
    with _LOCK:
        if _idle(store):
            return
        fut: Future = Future()
        _idle(store).append(fut)

    def run() -> None:
        try:
            fut.set_result(_connect_pg(store))
        except BaseException as err:  # noqa: BLE001 - handed to whoever takes the connection
            fut.set_exception(err)

    threading.Thread(target=run, name="arena-adbc-connect", daemon=True).start()


def _take_pg(store: Store) -> Any:
    with _LOCK:
        got = _idle(store).pop() if _idle(store) else None
    if got is None:
        return _connect_pg(store)
    return got.result() if isinstance(got, Future) else got


def close(store: Store) -> None:
    """Close the columnar connections kept for `store`."""
    with _LOCK:
        idle, store.__dict__["_adbc_idle"] = _idle(store), []
    for c in idle:
        try:
            (c.result() if isinstance(c, Future) else c).close()
        except Exception:  # noqa: BLE001, S110 - closing: a connection that never opened is fine
            pass


def _read(store: Store, table: sa.Table, fcs: list[FieldColumn], data: bool, conds: list[Any], n: int,
          reader: Any) -> pa.Table | None:
    """Read in insertion-order ranges on parallel connections (each database backend or
    SQLite reader then decodes its share), and join the parts in order."""
    import pyarrow as pa

    (order,) = store.order(table)  # rowid / seq: one integer column
    cols = _select(table, fcs, data)
    if store.engine.dialect.name == "postgresql":  # one server scan (ranges would each scan the heap)
        return _concat(pa, [reader(_sql(store, sa.select(*cols).where(*conds).order_by(order)))], fcs, data)
    with store.engine.connect() as conn:
        lo, hi = conn.execute(sa.select(sa.func.min(order), sa.func.max(order)).select_from(table)).one()
    if lo is None:
        return None
    parts = max(1, min(os.cpu_count() or 1, 4, n // SPLIT_ROWS))
    step = (hi - lo) // parts + 1
    sqls = [_sql(store, sa.select(*cols).where(*conds, order >= lo + i * step, order < lo + (i + 1) * step)
                 .order_by(order)) for i in range(parts)]
    with ThreadPoolExecutor(parts) as pool:
        tables = list(pool.map(reader, sqls))
    return _concat(pa, tables, fcs, data)


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
