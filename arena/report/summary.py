"""Plain-text summaries (CSV, TXT, MD) of the report tables, OpenCompass-style file names.

Each file holds every table in report order: the objective table first, then the
subjective leaderboards, win-rate matrices, single-score tables, judge diagnostics and stage
costs. Cells are the strings of :meth:`ReportTable.formatted`, the same ones the HTML shows.
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


def table_csv(table: ReportTable) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
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


def write_summaries(data, summary_dir: Path) -> tuple[Path, Path, Path]:
    """Write ``summary_<ts>.{csv,txt,md}`` (and ``summary.{csv,txt,md}`` copies of the latest).

    Returns:
        The timestamped (csv, txt, md) paths.
    """
    summary_dir.mkdir(parents=True, exist_ok=True)
    ts = time.strftime("%Y%m%d_%H%M%S")
    head = f"Arena summary{' for run ' + data.run if data.run else ''}, generated {data.generated}"
    bodies = {
        "csv": "\n".join(table_csv(t) for t in data.tables),
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
    """Parse a summary CSV back into ``{title: DataFrame}`` (the inverse of the writer)."""
    out: dict[str, pd.DataFrame] = {}
    blocks = Path(path).read_text(encoding="utf-8").split("\n\n")
    for block in blocks:
        rows = list(csv.reader(io.StringIO(block.strip("\n"))))
        if not rows or not rows[0] or not rows[0][0].startswith(CSV_TITLE_PREFIX):
            continue
        title = rows[0][0][len(CSV_TITLE_PREFIX):]
        out[title] = pd.DataFrame(rows[2:], columns=rows[1], dtype=str)
    return out
