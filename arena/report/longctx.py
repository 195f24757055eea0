"""Report sections for long context (needle-in-a-haystack grids) and contamination.

Needle: one length x depth heatmap per (model, dataset), read from the stored predictions of
the run's `needle` results (sample ids carry length, depth and repeat), plus a table with a
row per depth and a summary row (the mean over depths) per length. Contamination: the tables
`arena contamination` wrote under `<run dir>/contamination/summary.json`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pandas as pd

from arena.core.records import DatasetResult, Prediction
from arena.core.store import Store
from arena.report.tables import ReportTable


def needle_grid(preds: list[Prediction]) -> pd.DataFrame:
    """Mean score (0-100) per depth (rows) and length (columns); repeats are averaged."""
    from objective.needle import length_label, parse_id

    cells: dict[tuple[int, float], list[float]] = defaultdict(list)
    for p in preds:
        where = parse_id(p.sample_id)
        if where is not None:
            cells[(where[0], where[1])].append(100.0 * (p.correct or 0.0))
    if not cells:
        return pd.DataFrame()
    lengths = sorted({n for n, _ in cells})
    depths = sorted({d for _, d in cells})
    rows = []
    for d in depths:
        row: dict[str, object] = {"depth %": f"{d:g}"}
        for n in lengths:
            vals = cells.get((n, d))
            row[length_label(n)] = sum(vals) / len(vals) if vals else float("nan")
        rows.append(row)
    frame = pd.DataFrame(rows)
    mean = {"depth %": "mean"} | {length_label(n): frame[length_label(n)].mean() for n in lengths}
    return pd.concat([frame, pd.DataFrame([mean])], ignore_index=True)


def needle_tables(store: Store, results: list[DatasetResult]) -> list[ReportTable]:
    """One table per (model, needle dataset) of the run; empty when the run has none."""
    out = []
    units = sorted(
        {
            (r.model, r.dataset, r.config_hash)
            for r in results
            if r.metric == "needle" and r.subset is None
        }
    )
    for model, dataset, chash in units:
        preds = store.all(Prediction, model=model, dataset=dataset, config_hash=chash)
        grid = needle_grid(preds)
        if grid.empty:
            continue
        slug = "".join(c if c.isalnum() else "-" for c in f"{model}-{dataset}".lower())
        out.append(
            ReportTable(
                f"table-needle-{slug}",
                "needle",
                f"{dataset}: {model}",
                grid,
                dict.fromkeys(grid.columns, 1),
                "Score (0-100) per needle depth (rows) and context length in tokens (columns); "
                "the last row is the mean over depths for each length.",
            )
        )
    return out


def contamination_tables(run_dir: Path | None) -> list[ReportTable]:
    """The tables of `<run_dir>/contamination/summary.json`, if `arena contamination` wrote one."""
    path = Path(run_dir) / "contamination" / "summary.json" if run_dir else None
    if path is None or not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = pd.DataFrame(data.get("rows", []))
    if rows.empty:
        return []
    note = data.get("note", "")
    return [
        ReportTable(
            "table-contamination",
            "contamination",
            "Contamination per dataset",
            rows,
            {c: 1 for c in rows.columns if c.endswith("%")} | {"auc": 3},
            note,
        )
    ]


def needle_html(tables: list[ReportTable], fig) -> str:  # noqa: ANN001 (charts.FigureWriter)
    """Heatmaps (plotly) next to their tables."""
    from arena.report.html_table import html_table

    parts = []
    for i, t in enumerate(tables):
        parts.append(
            f'<div class="grid">{html_table(t)}{fig(needle_heatmap(t), f"fig-needle-{i}")}</div>'
        )
    return "".join(parts)


def needle_heatmap(table: ReportTable):  # noqa: ANN201 (plotly Figure)
    import plotly.graph_objects as go

    from arena.report.charts import ptxt
    from arena.report.tables import format_cell

    frame = table.frame[table.frame["depth %"] != "mean"]
    cols = [c for c in frame.columns if c != "depth %"]
    z = frame[cols].to_numpy(float)
    text = [[format_cell(v, 1) for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[ptxt(c) for c in cols],
            y=[ptxt(d) for d in frame["depth %"]],
            zmin=0,
            zmax=100,
            colorscale="RdYlGn",
            text=text,
            texttemplate="%{text}",
            hovertemplate="length %{x}, depth %{y}%: %{text}<extra></extra>",
            colorbar={"thickness": 10, "len": 0.8},
        )
    )
    fig.update_layout(
        title={"text": ptxt(table.title), "font": {"size": 14}},
        height=160 + 28 * len(frame),
        xaxis={"title": "context length (tokens)", "type": "category"},
        yaxis={"title": "needle depth %", "autorange": "reversed", "type": "category"},
    )
    return fig


def contamination_html(tables: list[ReportTable]) -> str:
    from arena.report.html_table import html_table

    return "".join(html_table(t) for t in tables)


def extra_sections(data, fig) -> list[tuple[str, str, str, str, str]]:  # noqa: ANN001
    """(id, nav label, heading, lead, body) of the sections this run has (none when empty)."""
    out = []
    needle = data.section("needle")
    if needle:
        out.append(
            (
                "needle",
                "Long context",
                "Needle in a haystack",
                "Retrieval and reasoning over long contexts (NeedleBench-style): score per "
                "context length and depth of the needle, per model and variant.",
                needle_html(needle, fig),
            )
        )
    contam = data.section("contamination")
    if contam:
        out.append(
            (
                "contamination",
                "Contamination",
                "Contamination",
                "How much of each benchmark may have been seen in training: n-gram overlap with "
                "a corpus, Min-K% Prob and the perplexity gap under option shuffling.",
                contamination_html(contam),
            )
        )
    return out
