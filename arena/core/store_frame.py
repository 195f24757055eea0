"""DataFrames straight from a record table's field columns, with no pydantic validation.

Large results come as Arrow columns (`store_arrow`: ADBC, no Python object per cell);
smaller ones as DBAPI tuples turned into columns at once. Nested fields (a battle's
``features``) are the only JSON parsed; the full document only when a blob field is asked
for. Both paths give the same frame: text as pandas' Arrow-backed ``str``, a column NULL
in every row as an object column of None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from orjson import loads as _loads

from arena.core import store_arrow
from arena.core.records import Record
from arena.core.store_arrow import json_values, read_arrow
from arena.core.store_schema import FIELD_COLUMNS, RECORD_TABLES, FieldColumn, fetch_tuples

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from arena.core.store import Store


def _parse_json(values: Any) -> list[Any]:
    return [None if v is None else _loads(v) for v in values]


def _constants(
    conn: sa.Connection, table: sa.Table, fcs: list[FieldColumn], conds: list[Any]
) -> tuple[int, dict[str, Any]]:
    """Row count and the columns that hold one value (or only NULLs) in every matching row:
    one aggregate pass in the database, so those columns are filled in, not fetched.

    Only fields with a default are checked (a `rater` of "", a `tstamp` of None, a `turn`
    of 1): required ones (models, question ids) vary, and checking costs a scan each.
    """
    checked = [fc for fc in fcs if fc.optional and fc.kind != "json"]
    aggs: list[Any] = [sa.func.count()]
    for fc in checked:  # booleans: only "all NULL" (min/max of a boolean is not portable)
        c = table.c[fc.column]
        same = fc.kind != "bool"
        aggs += [sa.func.count(c), sa.func.min(c) if same else sa.null(), sa.func.max(c) if same else sa.literal(1)]
    if conn.dialect.name == "postgresql":  # leave a core to the columnar connection opening
        conn.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))
    row = conn.execute(sa.select(*aggs).where(*conds)).one()
    n, const = int(row[0]), {}
    for i, fc in enumerate(checked):
        cnt, lo, hi = row[1 + 3 * i : 4 + 3 * i]
        if cnt == 0:
            const[fc.field] = None
        elif cnt == n and lo == hi:
            const[fc.field] = lo
    return n, const


def build_frame(
    store: Store, cls: type[Record], run: str | None, wanted: list[str], where: dict[str, Any]
) -> pd.DataFrame:
    """The DataFrame behind `Store.frame` (see there)."""
    import numpy as np

    table = RECORD_TABLES[cls.table]
    conds, rest = store._filter(cls, run, where)
    cols = {fc.field: fc for fc in FIELD_COLUMNS[cls.table]}
    unknown = [f for f in wanted if f not in cls.model_fields]
    if unknown:
        raise ValueError(f"{cls.__name__} has no field {unknown[0]!r}")
    direct = [f for f in dict.fromkeys([*wanted, *rest]) if f in cols]
    blob = [f for f in dict.fromkeys([*wanted, *rest]) if f not in cols]
    # PostgreSQL's columnar read: columns holding one value are found by one aggregate pass
    # and filled in, not fetched (the pass costs less than the server encoding them), while
    # the columnar connection opens. Not for SQLite (the pass costs as much as the columns)
    # nor small results (the pass is a second sweep over the same rows)
    pg = store.engine.dialect.name == "postgresql"
    big = not conds and store_arrow.likely_large(store, table)  # PostgreSQL only, no scan
    if big:
        store_arrow.preconnect(store)
    const: dict[str, Any] = {}
    with store.engine.connect() as conn:
        if not big:
            n = conn.execute(sa.select(sa.func.count()).select_from(table).where(*conds)).scalar_one()
        if big or (pg and n >= store_arrow.MIN_ROWS):
            n, const = _constants(conn, table, [cols[f] for f in direct], conds)
    fetch = [f for f in direct if f not in const]
    at = read_arrow(store, table, [cols[f] for f in fetch], bool(blob), conds, n)
    if at is not None:
        data = {f: _arrow_column(at.column(cols[f].column), cols[f].kind) for f in fetch}
        docs = _parse_json(at.column("data").to_pylist()) if blob else []
    else:
        with store.engine.connect() as conn:
            sel = [table.c[cols[f].column] for f in fetch] + ([table.c.data] if blob else [])
            rows = fetch_tuples(conn, sa.select(*sel).where(*conds).order_by(*store.order(table))) if sel else []
        # one object array of all cells, sliced into columns: no Python loop over the rows
        grid = np.empty((len(rows), len(sel)), dtype=object)
        if rows:
            grid[:] = rows
        data = {f: _plain_column(grid[:, i], cols[f].kind) for i, f in enumerate(fetch)}
        docs = _parse_json(grid[:, -1]) if blob else []
    for f, v in const.items():
        data[f] = _const_column(v, cols[f].kind, n)
    for f in blob:
        data[f] = [d.get(f) for d in docs]
    return _finish({f: data[f] for f in [*direct, *blob]}, rest, wanted)


def _const_column(v: Any, kind: str, n: int) -> Any:
    import numpy as np
    import pandas as pd

    col = np.full(n, None if v is None else bool(v) if kind == "bool" else v,
                  dtype=object if v is None or kind == "str" else None)
    return pd.Series(col, dtype="str", copy=False) if kind == "str" and v is not None else col


def _plain_column(col: Any, kind: str) -> Any:
    """One column of DBAPI cells (an object array) as a frame column."""
    import numpy as np
    import pandas as pd

    if kind == "json":
        return _parse_json(col)
    if len(col) and bool(np.all(col == None)):  # noqa: E711 - elementwise on an object array
        return np.full(len(col), None, dtype=object)  # as `_arrow_column` gives an all-NULL column
    if kind == "bool":
        return pd.Series([None if v is None else bool(v) for v in col]).infer_objects()
    if kind == "str":  # pandas' Arrow-backed strings (NaN for NULL), as read_arrow gives
        return pd.Series(col, dtype="str", copy=False)
    return pd.Series(col, dtype=object).infer_objects()


def _arrow_column(col: Any, kind: str) -> Any:
    """One column of `read_arrow`'s table, as `_plain_column` builds it from DBAPI cells."""
    import numpy as np
    import pandas as pd

    n, nulls = len(col), col.null_count
    if kind == "json":
        return json_values(col)
    if nulls == n:
        return np.full(n, None, dtype=object)
    if kind == "str":  # no Python object per cell
        return col.to_pandas().astype("str")
    if nulls == 0:
        return col.to_numpy() != 0 if kind == "bool" else col.to_numpy()
    values = col.to_pylist()
    if kind == "bool":
        values = [None if v is None else bool(v) for v in values]
    return pd.Series(values, dtype=object).infer_objects()


def _finish(data: dict[str, Any], rest: dict[str, Any], wanted: list[str]) -> pd.DataFrame:
    """The DataFrame of the columns in `data`, filtered on `rest` (blob fields), `wanted` order."""
    import pandas as pd

    # copy=False: one block per column, not one consolidated copy of every object column
    df = pd.DataFrame(
        {f: pd.Series(v, dtype=object) if len(v) == 0 else v for f, v in data.items()}, copy=False
    )
    for k, v in rest.items():
        many = isinstance(v, (list, tuple, set, frozenset))
        df = df[
            df[k].map(
                lambda x, v=v, many=many: (x in v) if many and not isinstance(x, list) else x == v
            )
        ]
    if rest:
        df = df.reset_index(drop=True)
    return df if list(df.columns) == wanted else df[wanted]


BATTLE_COLUMNS = ["model_a", "model_b", "winner", "weight", "question_id", "source", "turn",
                  "rater", "anony", "language", "tstamp"]


def battles_frame(store: Store, run: str | None = None, features: bool = True,
                  columns: list[str] | None = None, **where: Any) -> pd.DataFrame:
    """The ratings' battles table from the store's Battle records (`columns`, default
    BATTLE_COLUMNS), ``features`` flattened into columns (``len_a``/``len_b``, markdown
    counts) when asked for."""
    import pandas as pd

    from arena.core.records import Battle

    cols = list(columns or BATTLE_COLUMNS)
    cols += ["features"] if features else []
    df = store.frame(Battle, run, columns=cols, **where)
    if features:
        feats = pd.DataFrame.from_records(df.pop("features").tolist(), index=df.index)
        df = pd.concat([df, feats.drop(columns=[c for c in feats.columns if c in df.columns])], axis=1)
    df.attrs["format"] = "arena-store"
    return df
