"""One report table as HTML (shared by the report's sections and its optional extras)."""

from __future__ import annotations

from arena.report.charts import esc
from arena.report.tables import ReportTable


def html_table(table: ReportTable, best_cols: list[str] | None = None) -> str:
    """One ReportTable as an escaped HTML table (the same strings the summaries hold).

    Args:
        table: the table.
        best_cols: columns compared row-wise; the highest value in each row is bold.
    """
    f = table.formatted()
    nums = table.numeric_columns()
    kind = {c: "num" if c in nums else "txt long" if f[c].str.len().max() > 40 else "txt"
            for c in f.columns}
    head = "".join(f'<th class="{kind[c]}" scope="col">{esc(c)}</th>' for c in f.columns)
    best = _row_best(table, best_cols or [])
    rows = []
    for i, r in enumerate(f.itertuples(index=False, name=None)):
        cells = []
        for c, v in zip(f.columns, r):
            cls = kind[c]
            if c in best.get(i, ()):
                cls += " best"
            cells.append(f'<td class="{cls}">{esc(v)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = f'<p class="note">{esc(table.note)}</p>' if table.note else ""
    return (f'<div class="table-block"><h3>{esc(table.title)}</h3>{note}<div class="table-wrap">'
            f'<table id="{esc(table.id)}" class="data"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div></div>')


def _row_best(table: ReportTable, cols: list[str]) -> dict[int, set[str]]:
    if len(cols) < 2:
        return {}
    sub = table.frame[cols].apply(lambda s: s.astype(float))
    out: dict[int, set[str]] = {}
    for i, row in enumerate(sub.itertuples(index=False, name=None)):
        vals = [v for v in row if v == v]
        if vals:
            top = max(vals)
            out[i] = {c for c, v in zip(cols, row) if v == top}
    return out
