"""Leaderboard tab: human, per-judge and combined Bradley-Terry ratings with 95% CIs and plots."""

from __future__ import annotations

import html

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from arena.service import ArenaService
from arena.service_views import Leaderboard, leaderboard, sources
from ui.common import gradio_user, note_frame

HELP = (
    "Ratings are Bradley-Terry scores on the Elo scale (1000 = average) with 95% bootstrap "
    "confidence intervals; a rank counts only models whose interval lies entirely above. "
    "Ties count half a win."
)


def md_text(text: str) -> str:
    """Text shown literally inside Markdown (every punctuation mark escaped, tags too)."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>~" else c for c in html.escape(text))


def ratings_figure(lb: Leaderboard) -> go.Figure:
    """Ratings as points with asymmetric 95% CI error bars, best at the top."""
    t = lb.table.iloc[::-1]
    fig = go.Figure(
        go.Scatter(
            x=t["rating"],
            y=[html.escape(m) for m in t["model"]],  # plotly reads tags in labels: escape them
            mode="markers",
            marker={"size": 11, "color": "#ea580c"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (t["upper"] - t["rating"]).fillna(0),
                "arrayminus": (t["rating"] - t["lower"]).fillna(0),
            },
            hovertemplate="%{y}: %{x:.0f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Rating with 95% CI", xaxis_title="rating", height=320, margin={"l": 10, "r": 10}
    )
    return fig


def winrate_figure(lb: Leaderboard) -> go.Figure:
    """Heatmap of the fraction of battles the row model won against the column model."""
    order = [m for m in lb.table["model"] if m in lb.win_matrix.index]
    w = lb.win_matrix.loc[order, order]
    n = lb.counts.loc[order, order]
    text = [
        [f"{v:.0%}<br>n={int(c)}" if pd.notna(v) else "" for v, c in zip(rw, rc)]
        for rw, rc in zip(w.to_numpy(), n.to_numpy())
    ]
    fig = go.Figure(
        go.Heatmap(
            z=w.to_numpy(),
            x=[html.escape(m) for m in order],
            y=[html.escape(m) for m in order],
            zmin=0,
            zmax=1,
            colorscale="RdBu",
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y} vs %{x}: %{z:.0%}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Win rate of row over column",
        height=320,
        margin={"l": 10, "r": 10},
        yaxis={"autorange": "reversed"},
    )
    return fig


def table_view(lb: Leaderboard) -> pd.DataFrame:
    t = lb.table.copy()
    for c in ("rating", "lower", "upper"):
        t[c] = t[c].round(0)
    t["95% CI"] = [
        f"{lo:+.0f} / {hi:+.0f}" if pd.notna(lo) else ""
        for lo, hi in zip(t["lower"] - t["rating"], t["upper"] - t["rating"])
    ]
    t = t.rename(columns={"n_battles": "votes"})
    return t[["rank", "model", "rating", "95% CI", "lower", "upper", "votes"]]


def build(service: ArenaService, tab: gr.Tab) -> None:
    """Lay out the leaderboard tab; it is computed when the tab is opened or refreshed."""
    with gr.Row():
        source = gr.Dropdown(["human"], value="human", label="Leaderboard", elem_id="lb-source")
        refresh = gr.Button("Refresh", elem_id="lb-refresh", scale=0)
    gr.Markdown(HELP, elem_classes="arena-help")
    summary = gr.Markdown(elem_id="lb-summary")
    table = gr.Dataframe(interactive=False, elem_id="lb-table", wrap=True)
    with gr.Row():
        bars = gr.Plot(elem_id="lb-ratings", show_label=False)
        heat = gr.Plot(elem_id="lb-heatmap", show_label=False)

    def show(src: str, request: gr.Request):
        gradio_user(service, request)
        offered = sources(service.store) or ["human"]
        src = src if src in offered else offered[0]
        lb = leaderboard(service.store, src)
        pick = gr.Dropdown(choices=offered, value=src)
        if lb.table.empty:
            return (
                pick,
                f"No votes for **{md_text(src)}** yet.",
                note_frame("no votes yet"),
                None,
                None,
            )
        votes = int(lb.counts.to_numpy().sum() / 2)
        text = f"**{md_text(src)}**: {votes} battles between {len(lb.table)} models."
        return pick, text, table_view(lb), ratings_figure(lb), winrate_figure(lb)

    outputs = [source, summary, table, bars, heat]
    tab.select(show, [source], outputs)
    refresh.click(show, [source], outputs)
    source.input(show, [source], outputs)
