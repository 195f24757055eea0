"""Plain-text summaries (CSV, TXT, MD) of the report tables, OpenCompass-style file names.

The TXT and MD files hold every table in report order: the objective table first (with its
dataset/group rows), then the subjective leaderboards, win-rate matrices, single-score
tables, judge diagnostics and stage costs. `summary_<ts>.csv` is one plain table that any CSV
reader opens: the objective table (or, in a run without one, the first table); every other
table is `summary_<ts>_<name>.csv` beside it. Cells are the strings of
:meth:`ReportTable.formatted`, the same ones the HTML shows.
"""

from __future__ import annotations

import csv
import io
import shutil
import time
from pathlib import Path

import pandas as pd

from arena.report.tables import ReportTable

CSV_TITLE_PREFIX = "# "


def _clean(cell: str) -> str:
    return " ".join(str(cell).split())  # one line per row, whatever the model wrote


def table_csv(table: ReportTable, title: bool = True) -> str:
    """One table as CSV: header and rows (after a `# <title>` line when `title`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if title:
        w.writerow([CSV_TITLE_PREFIX + _clean(table.title)])
    f = table.formatted(missing="")
    w.writerow([_clean(c) for c in f.columns])
    w.writerows([_clean(c) for c in r] for r in f.itertuples(index=False, name=None))
    return buf.getvalue()


def table_md(table: ReportTable) -> str:
    f = table.formatted()
    nums = table.numeric_columns()

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(_clean(c).replace("|", "\\|") for c in cells) + " |"

    lines = [f"## {_clean(table.title)}", ""]
    if table.note:
        lines += [f"_{_clean(table.note)}_", ""]
    lines.append(row(list(f.columns)))
    lines.append("| " + " | ".join("---:" if c in nums else ":---" for c in f.columns) + " |")
    lines += [row(list(r)) for r in f.itertuples(index=False, name=None)]
    return "\n".join(lines) + "\n"


def table_txt(table: ReportTable) -> str:
    f = table.formatted()
    nums = table.numeric_columns()
    cols = list(f.columns)
    cells = [[_clean(c) for c in r] for r in f.itertuples(index=False, name=None)]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if c in nums else v.ljust(w)
                         for v, w, c in zip(values, widths, cols)).rstrip()

    title = _clean(table.title)
    out = [title, "=" * len(title)]
    if table.note:
        out.append(_clean(table.note))
    out += [line(cols), "  ".join("-" * w for w in widths)] + [line(r) for r in cells]
    return "\n".join(out) + "\n"


def csv_name(table: ReportTable) -> str:
    """The file-name part of a table that is not the main CSV (`table-judges` -> `judges`)."""
    return table.id.removeprefix("table-")


def main_table(tables: list[ReportTable]) -> ReportTable | None:
    """The table of ``summary.csv``: the objective one, else the first."""
    return next((t for t in tables if t.id == "table-objective"), tables[0] if tables else None)


def write_summaries(data, summary_dir: Path) -> tuple[Path, Path, Path]:
    """Write ``summary_<ts>.{csv,txt,md}`` (and ``summary.{csv,txt,md}`` copies of the latest).

    The CSV is one plain table (:func:`main_table`); each other table goes to
    ``summary_<ts>_<name>.csv`` (and a ``summary_<name>.csv`` copy).

    Returns:
        The timestamped (csv, txt, md) paths.
    """
    summary_dir.mkdir(parents=True, exist_ok=True)
    ts = time.strftime("%Y%m%d_%H%M%S")
    head = f"Arena summary{' for run ' + data.run if data.run else ''}, generated {data.generated}"
    main = main_table(data.tables)
    for t in data.tables:
        if t is not main:
            path = summary_dir / f"summary_{ts}_{csv_name(t)}.csv"
            path.write_text(table_csv(t, title=False), encoding="utf-8")
            shutil.copyfile(path, summary_dir / f"summary_{csv_name(t)}.csv")
    bodies = {
        "csv": table_csv(main, title=False) if main is not None else "",
        "txt": head + "\n\n" + "\n".join(table_txt(t) for t in data.tables),
        "md": f"# {head}\n\n" + "\n".join(table_md(t) for t in data.tables),
    }
    paths = []
    for ext, body in bodies.items():
        path = summary_dir / f"summary_{ts}.{ext}"
        path.write_text(body, encoding="utf-8")
        shutil.copyfile(path, summary_dir / f"summary.{ext}")
        paths.append(path)
    return paths[0], paths[1], paths[2]


def read_summary_csv(path: str | Path) -> dict[str, pd.DataFrame]:
    """Read ``summary[_<ts>].csv`` and its sibling table files back into ``{name: DataFrame}``.

    The main table is named ``""``; the others by their file part (``judges``, ``stages``...).
    """
    path = Path(path)
    out: dict[str, pd.DataFrame] = {"": _read_plain(path)}
    for other in sorted(path.parent.glob(f"{path.stem}_*.csv")):
        name = other.stem[len(path.stem) + 1:]
        if path.stem == "summary" and name[:8].isdigit():  # summary_<ts>.csv files, not tables
            continue
        out[name] = _read_plain(other)
    return out


def _read_plain(path: Path) -> pd.DataFrame:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return pd.DataFrame(rows[1:], columns=rows[0], dtype=str) if rows else pd.DataFrame()
