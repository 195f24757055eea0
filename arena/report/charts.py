"""Plotly figures of the report, as HTML fragments.

plotly.js is embedded once, inline, in the first figure of the page (no CDN: the report
must open offline and make no network request). Every string handed to plotly is
HTML-escaped first, because plotly renders a subset of HTML in labels and model names are
untrusted; plotly turns the entities back into the literal characters on screen.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from arena.report.tables import MISSING, format_cell

# Tableau 10: distinct, print-friendly, colour-blind-aware ordering.
PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2",
           "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC"]
FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


class FigureWriter:
    """Turns figures into HTML; only the first one carries plotly.js."""

    def __init__(self) -> None:
        self.included = False

    def __call__(self, fig: go.Figure, div_id: str) -> str:
        fig.update_layout(
            template="plotly_white", font={"family": FONT, "size": 13, "color": "#1f2933"},
            margin={"l": 10, "r": 10, "t": 40, "b": 10}, paper_bgcolor="rgba(0,0,0,0)",
            legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        )
        fig.update_xaxes(automargin=True)
        fig.update_yaxes(automargin=True)
        frag = fig.to_html(full_html=False, include_plotlyjs=not self.included,
                           include_mathjax=False, div_id=div_id, config=PLOT_CONFIG,
                           default_height=f"{fig.layout.height or 380}px")
        self.included = True
        return f'<div class="figure">{frag}</div>'


def _num(value: float, decimals: int) -> str:
    """Python's formatting, as in the tables (JS rounds halves differently: 0.125 -> 0.13)."""
    return format_cell(value, decimals, MISSING)


def model_colors(models: list[str]) -> dict[str, str]:
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(sorted(models))}


def objective_bars(table: pd.DataFrame, label_cols: list[str], decimals: int = 2) -> go.Figure | None:
    """Grouped bars: one group per dataset (its main metric) or dataset group, one bar per model."""
    models = [c for c in table.columns if c not in label_cols and c != "n"]
    table = table.drop_duplicates("dataset")  # the first metric of each row name is the main one
    if table.empty or not models:
        return None
    colors = model_colors(models)
    fig = go.Figure()
    for m in models:
        fig.add_bar(name=esc(m), x=[esc(v) for v in table["dataset"]], y=table[m], marker_color=colors[m],
                    customdata=[f"{_num(v, decimals)} ({esc(k)})" for v, k in zip(table[m], table["metric"])],
                    hovertemplate="%{x}<br>%{fullData.name}: %{customdata}<extra></extra>")
    fig.update_layout(barmode="group", height=380, yaxis_title="score",
                      bargap=0.25, bargroupgap=0.05)
    return fig


def rating_errorbars(boards: dict[str, pd.DataFrame]) -> go.Figure | None:
    """Bradley-Terry rating per model with its 95% CI, one marker colour per source."""
    if not boards:
        return None
    order = list(next(iter(reversed(boards.values())))["model"])[::-1]  # combined, best on top
    fig = go.Figure()
    for i, (label, lb) in enumerate(boards.items()):
        fig.add_scatter(
            name=esc(label), y=[esc(m) for m in lb["model"]], x=lb["rating"], mode="markers", orientation="h",
            marker={"size": 10, "color": PALETTE[i % len(PALETTE)]},
            customdata=[f"{_num(r, 1)} [{_num(lo, 1)}, {_num(hi, 1)}]"
                        for r, lo, hi in zip(lb["rating"], lb["ci low"], lb["ci high"])],
            error_x={"type": "data", "symmetric": False, "array": lb["ci high"] - lb["rating"],
                     "arrayminus": lb["rating"] - lb["ci low"], "thickness": 1.5, "width": 4},
            hovertemplate="%{y}: %{customdata}<extra>%{fullData.name}</extra>",
        )
    lo = min(float(lb["ci low"].min()) for lb in boards.values())
    hi = max(float(lb["ci high"].max()) for lb in boards.values())
    pad = 0.08 * (hi - lo) if hi > lo else 50.0
    fig.update_xaxes(range=[lo - pad, hi + pad])
    fig.update_layout(scattermode="group", scattergap=0.55, height=120 + 60 * len(order), xaxis_title="rating (Elo scale)",
                      yaxis={"categoryorder": "array", "categoryarray": [esc(m) for m in order]})
    return fig


def win_heatmap(matrix: pd.DataFrame, title: str) -> go.Figure:
    """Row model's win share against the column model (cell text = the table's strings)."""
    models = [esc(m) for m in matrix["model"]]
    z = matrix.drop(columns="model").to_numpy(float)
    text = [[_num(v, 2) for v in row] for row in z]
    fig = go.Figure(go.Heatmap(
        z=z, x=models, y=models, zmin=0, zmax=1, zmid=0.5, colorscale="RdBu", text=text,
        texttemplate="%{text}", hovertemplate="%{y} vs %{x}: %{text}<extra></extra>",
        colorbar={"thickness": 10, "len": 0.8},
    ))
    fig.update_layout(title={"text": esc(title), "font": {"size": 14}}, height=140 + 50 * len(models),
                      xaxis={"side": "bottom", "title": "opponent"},
                      yaxis={"autorange": "reversed", "title": "model"})
    return fig


def stage_bars(stages: pd.DataFrame) -> go.Figure | None:
    """Seconds per stage (the total row left out)."""
    df = stages[stages["stage"] != "total"].dropna(subset=["seconds"])
    if df.empty:
        return None
    fig = go.Figure(go.Bar(
        y=[esc(s) for s in df["stage"]], x=df["seconds"], orientation="h", marker_color=PALETTE[0],
        customdata=[_num(v, 1) for v in df["seconds"]],
        hovertemplate="%{y}: %{customdata} s<extra></extra>",
    ))
    fig.update_layout(height=100 + 40 * len(df), xaxis_title="seconds",
                      yaxis={"autorange": "reversed"})
    return fig
