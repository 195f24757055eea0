"""Leaderboard tab: human, per-judge and combined Bradley-Terry ratings with 95% CIs and plots."""

from __future__ import annotations

import html

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from arena.service import ArenaService
from arena.service_views import LIVE_FILTERS, Leaderboard, leaderboard, sources
from ui.common import gradio_user

HELP = (
    "BT rating: Bradley-Terry scores on the Elo scale (1000 = average); Elo: online Elo in "
    "vote order. Both with 95% bootstrap confidence intervals in brackets; a rank counts only "
    "models whose BT interval lies entirely above. Ties count half a win."
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


def _ci(value, lo, hi) -> str:
    if pd.isna(value):
        return "–"
    if pd.isna(lo) or pd.isna(hi):
        return f"{value:.0f}"
    return f'{value:.0f} <span class="arena-ci">({lo - value:+.0f}/{hi - value:+.0f})</span>'


def table_html(lb: Leaderboard) -> str:
    """The ratings as an HTML table that fits a phone: rank, model, BT and Elo with CIs, votes.

    Model names are text (escaped), never markup.
    """
    rows = []
    for r in lb.table.itertuples():
        rows.append(
            "<tr>"
            f'<td class="arena-num">{int(r.rank)}</td>'
            f'<td class="arena-model">{html.escape(str(r.model))}</td>'
            f'<td class="arena-num">{_ci(r.rating, r.lower, r.upper)}</td>'
            f'<td class="arena-num">{_ci(r.elo, r.elo_lower, r.elo_upper)}</td>'
            f'<td class="arena-num">{int(r.n_battles)}</td>'
            "</tr>"
        )
    head = (
        '<tr><th>Rank</th><th>Model</th><th title="Bradley-Terry rating (95% CI)">BT rating'
        '</th><th title="online Elo (95% CI)">Elo</th><th>Votes</th></tr>'
    )
    return (
        f'<div class="arena-lb-wrap"><table class="arena-lb"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def table_view(lb: Leaderboard) -> pd.DataFrame:
    """The table as a frame (rounded), as the API and CSV users see it."""
    t = lb.table.copy()
    for c in ("rating", "lower", "upper", "elo", "elo_lower", "elo_upper"):
        if c in t:
            t[c] = t[c].round(0)
    return t.rename(columns={"n_battles": "votes"})


def build(service: ArenaService, tab: gr.Tab) -> None:
    """Lay out the leaderboard tab; it is computed when the tab is opened or refreshed."""
    with gr.Row():
        source = gr.Dropdown(["human"], value="human", label="Leaderboard", elem_id="lb-source")
        which = gr.Dropdown(
            [(v, k) for k, v in LIVE_FILTERS.items()],
            value="all",
            label="Battles",
            elem_id="lb-live",
        )
        refresh = gr.Button("Refresh", elem_id="lb-refresh", scale=0)
    gr.Markdown(HELP, elem_classes="arena-help")
    summary = gr.Markdown(elem_id="lb-summary")
    table = gr.HTML(elem_id="lb-table")
    with gr.Row():
        bars = gr.Plot(elem_id="lb-ratings", show_label=False)
        heat = gr.Plot(elem_id="lb-heatmap", show_label=False)

    def show(src: str, live: str, request: gr.Request):
        gradio_user(service, request)
        offered = sources(service.store) or ["human"]
        src = src if src in offered else offered[0]
        live = live if live in LIVE_FILTERS else "all"
        lb = leaderboard(service.store, src, live=live)
        pick = gr.Dropdown(choices=offered, value=src)
        if lb.table.empty:
            msg = f"No votes for **{md_text(src)}** ({LIVE_FILTERS[live]}) yet."
            return pick, msg, "<p>no votes yet</p>", None, None
        votes = int(lb.counts.to_numpy().sum() / 2)
        text = (
            f"**{md_text(src)}**, {LIVE_FILTERS[live]}: {votes} battles between "
            f"{len(lb.table)} models."
        )
        return pick, text, table_html(lb), ratings_figure(lb), winrate_figure(lb)

    outputs = [source, summary, table, bars, heat]
    tab.select(show, [source, which], outputs)
    refresh.click(show, [source, which], outputs)
    source.input(show, [source, which], outputs)
    which.input(show, [source, which], outputs)
