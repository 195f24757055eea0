"""Report section for robustness: CircularEval and prompt-variant spread (objective.robustness).

One table (the rows of `summary/robustness.csv`: per model and dataset, subset and group) and
one small chart per report: for every model and dataset, bars of the original, mean-rotation
and circular accuracy, and the mean over prompt variants with its min-max range.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from arena.core.records import DatasetResult
from arena.report.tables import ReportTable

SECTION = "robustness"
CHART_COLUMNS = ("original", "mean rotation", "circular", "var mean", "var min", "var max")
NOTE = (
    "Accuracy in %. original: the options in the data's order; mean rotation: the mean over every "
    "cyclic rotation of the options; circular: questions answered right under all rotations "
    "(OpenCompass CircularEval). var: over prompt variants (templates, few-shot seeds or option "
    "orders; std with ddof=1); stability: questions whose predicted option never changes."
)


def split_results(
    results: Iterable[DatasetResult],
) -> tuple[list[DatasetResult], list[DatasetResult]]:
    """(rows of the objective table, rows that only the robustness table shows)."""
    from objective.robustness import is_robustness_metric

    plain: list[DatasetResult] = []
    robust: list[DatasetResult] = []
    for r in results:
        (robust if is_robustness_metric(r.metric) else plain).append(r)
    return plain, robust


def robustness_tables(results: Iterable[DatasetResult]) -> list[ReportTable]:
    """The robustness table of a run (empty when it used neither --circular nor --variants)."""
    from objective.robustness_summary import robustness_rows, shown_columns

    ordered = sorted(
        results, key=lambda r: (r.model, r.dataset, r.subset is not None, r.subset or "")
    )
    rows = robustness_rows(ordered)
    if not rows:
        return []
    cols = shown_columns(rows)
    frame = pd.DataFrame(rows, columns=cols)
    numeric = [c for c in cols if c not in ("model", "dataset", "metric", "n", "variants")]
    return [
        ReportTable(
            "table-robustness",
            SECTION,
            "Robustness: CircularEval and prompt variants",
            frame,
            dict.fromkeys(numeric, 2),
            NOTE,
        )
    ]


def spread_chart(table: ReportTable) -> Any:
    """Bars (original, mean rotation, circular) and the variant mean with its min-max range,
    one group per model and dataset (whole datasets only)."""
    import plotly.graph_objects as go

    from arena.report.charts import esc

    f = table.frame[~table.frame["dataset"].astype(str).str.contains("/")]
    f = f.reindex(columns=[*f.columns, *(c for c in CHART_COLUMNS if c not in f.columns)])
    if f.empty:
        return None
    x = [esc(f"{d} · {m}") for d, m in zip(f["dataset"], f["model"])]
    fig = go.Figure()
    for col, colour in (
        ("original", "#4c78a8"),
        ("mean rotation", "#f58518"),
        ("circular", "#e45756"),
    ):
        vals = pd.to_numeric(f[col], errors="coerce")
        if vals.notna().any():
            fig.add_bar(name=col, x=x, y=vals, marker_color=colour)
    mean = pd.to_numeric(f["var mean"], errors="coerce")
    if mean.notna().any():
        hi = pd.to_numeric(f["var max"], errors="coerce") - mean
        lo = mean - pd.to_numeric(f["var min"], errors="coerce")
        fig.add_scatter(
            name="variants: mean, min-max",
            x=x,
            y=mean,
            mode="markers",
            marker={"color": "#222", "size": 9, "symbol": "diamond"},
            error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
        )
    fig.update_layout(
        barmode="group",
        height=320,
        yaxis={"title": "accuracy %", "range": [0, 100]},
        margin={"t": 20},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def robustness_sections(data: Any, fig: Any) -> list[tuple[str, str, str, str, str]]:
    """(id, nav label, heading, lead, body) of the robustness section, when the run has one."""
    tables = data.section(SECTION)
    if not tables:
        return []
    from arena.report.html_table import html_table

    chart = spread_chart(tables[0])
    body = (fig(chart, "fig-robustness") if chart is not None else "") + "".join(
        html_table(t) for t in tables
    )
    lead = (
        "How much the scores depend on the option order and the prompt: CircularEval "
        "(--circular) and prompt variants (--variants N)."
    )
    return [(SECTION, "Robustness", "Robustness", lead, body)]
