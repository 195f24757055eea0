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
    """Text for HTML (element content and attribute values)."""
    return html.escape(str(value), quote=True)


def ptxt(value: object) -> str:
    """Text for a plotly label, escaped once: plotly reads `<`, `>` and `&` as markup and
    turns `&lt;`, `&gt;`, `&amp;` back into characters, but shows `&quot;` and `&#x27;`
    literally, so quotes stay as they are."""
    return html.escape(str(value), quote=False)


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
        fig.add_bar(name=ptxt(m), x=[ptxt(v) for v in table["dataset"]], y=table[m], marker_color=colors[m],
                    customdata=[f"{_num(v, decimals)} ({ptxt(k)})" for v, k in zip(table[m], table["metric"])],
                    hovertemplate="%{x}<br>%{fullData.name}: %{customdata}<extra></extra>")
    fig.update_layout(barmode="group", height=380, yaxis_title="score",
                      bargap=0.25, bargroupgap=0.05)
    return fig


def rating_errorbars(boards: dict[str, pd.DataFrame],
                     separation: dict[str, dict[str, str]] | None = None) -> go.Figure | None:
    """Bradley-Terry rating per model with its 95% CI, one marker colour per source.

    A rating that is not identified (separation) is drawn as an open diamond and its hover
    says why.
    """
    if not boards:
        return None
    separation = separation or {}
    order = list(next(iter(reversed(boards.values())))["model"])[::-1]  # combined, best on top
    fig = go.Figure()
    for i, (label, lb) in enumerate(boards.items()):
        sep = separation.get(label, {})
        fig.add_scatter(
            name=ptxt(label), y=[ptxt(m) for m in lb["model"]], x=lb["rating"], mode="markers", orientation="h",
            marker={"size": 10, "color": PALETTE[i % len(PALETTE)],
                    "symbol": ["diamond-open" if m in sep else "circle" for m in lb["model"]]},
            customdata=[f"{_num(r, 1)} [{_num(lo, 1)}, {_num(hi, 1)}]" + (f"<br>⚠ {ptxt(sep[m])}" if m in sep else "")
                        for m, r, lo, hi in zip(lb["model"], lb["rating"], lb["ci low"], lb["ci high"])],
            error_x={"type": "data", "symmetric": False, "array": lb["ci high"] - lb["rating"],
                     "arrayminus": lb["rating"] - lb["ci low"], "thickness": 1.5, "width": 4},
            hovertemplate="%{y}: %{customdata}<extra>%{fullData.name}</extra>",
        )
    lo = min(float(lb["ci low"].min()) for lb in boards.values())
    hi = max(float(lb["ci high"].max()) for lb in boards.values())
    pad = 0.08 * (hi - lo) if hi > lo else 50.0
    fig.update_xaxes(range=[lo - pad, hi + pad])
    fig.update_layout(scattermode="group", scattergap=0.55, height=120 + 60 * len(order), xaxis_title="rating (Elo scale)",
                      yaxis={"categoryorder": "array", "categoryarray": [ptxt(m) for m in order]})
    return fig


def win_heatmap(matrix: pd.DataFrame, title: str, rates: pd.DataFrame | None = None) -> go.Figure:
    """Row model's win rate against the column model (cell text = the table's strings), its
    95% CI and battle count on hover. The height grows with the models; the width is the
    container's (responsive), with a colour bar that stays inside the figure."""
    names = list(matrix["model"])
    models = [ptxt(m) for m in names]
    z = matrix.drop(columns="model").to_numpy(float)
    text = [[_num(v, 2) for v in row] for row in z]
    hover = [["" for _ in names] for _ in names]
    if rates is not None and len(rates):
        pos = {m: k for k, m in enumerate(names)}
        for r in rates.itertuples(index=False):
            i, j = pos.get(r.model), pos.get(r.opponent)
            if i is not None and j is not None:
                hover[i][j] = f"{_num(r[2], 3)} [{_num(r[3], 3)}, {_num(r[4], 3)}], {r[5]} battles"
    longest = max((len(m) for m in names), default=4)
    fig = go.Figure(go.Heatmap(
        z=z, x=models, y=models, zmin=0, zmax=1, zmid=0.5, colorscale="RdBu", text=text,
        customdata=hover, texttemplate="%{text}",
        hovertemplate="%{y} vs %{x}: %{customdata}<extra></extra>",
        colorbar={"thickness": 10, "len": 0.9, "x": 1.0, "xanchor": "left", "xpad": 6,
                  "title": {"text": "win rate", "side": "right"}},
    ))
    vertical = len(models) > 6 or longest > 10  # long names stand upright: they never collide
    labels = 7.5 * longest if vertical else 20  # the x labels' height, so the cells keep theirs
    fig.update_layout(title={"text": ptxt(title), "font": {"size": 14}},
                      height=int(150 + 44 * len(models) + labels),
                      xaxis={"side": "bottom", "title": "opponent", "tickangle": -90 if vertical else 0,
                             "constrain": "domain"},
                      yaxis={"autorange": "reversed", "title": "model", "constrain": "domain"})
    return fig


def stage_bars(stages: pd.DataFrame) -> go.Figure | None:
    """Seconds per stage (the total row left out)."""
    df = stages[stages["stage"] != "total"].dropna(subset=["seconds"])
    if df.empty:
        return None
    fig = go.Figure(go.Bar(
        y=[ptxt(s) for s in df["stage"]], x=df["seconds"], orientation="h", marker_color=PALETTE[0],
        customdata=[_num(v, 1) for v in df["seconds"]],
        hovertemplate="%{y}: %{customdata} s<extra></extra>",
    ))
    fig.update_layout(height=100 + 40 * len(df), xaxis_title="seconds",
                      yaxis={"autorange": "reversed"})
    return fig
