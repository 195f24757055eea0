"""The self-contained ``report.html``: one file, inline CSS and plotly.js, no network at all.

Every piece of text is escaped here (model names, dataset names and judge outputs are
untrusted). A Content-Security-Policy forbids any fetch, so a regression that would load
something from outside fails loudly in the browser test instead of phoning home.
"""

from __future__ import annotations

from arena.report import charts
from arena.report.charts import esc
from arena.report.data import ReportData
from arena.report.html_table import html_table
from arena.report.style import CSS
from arena.report.tables import OBJECTIVE_LABELS

# (id, nav label, heading, what the section shows)
SECTIONS = [
    ("overview", "Overview", "Overview", ""),
    ("objective", "Objective", "Objective benchmarks",
     "Scores per model on each dataset and dataset group."),
    ("objective-subsets", "Subsets", "Scores per subset", "Each dataset broken down by subset."),
    ("subjective", "Ratings", "Subjective ratings",
     "Bradley-Terry ratings from pairwise battles, per judge, from human votes and combined. "
     "Bars show 95% bootstrap confidence intervals; rank 1 = no model is clearly better."),
    ("winrate", "Win rates", "Head-to-head win rates", "Row model against column model."),
    ("scores", "Scores", "Single-answer scores", "Absolute scores given to each answer."),
    ("judges", "Judges", "Judge diagnostics",
     "How far the judges can be trusted: parse failures, position bias and agreement with humans."),
    ("stages", "Cost & time", "Tokens, cost and time per stage", ""),
    ("config", "Config", "Configuration", "The configuration of this run (secrets redacted)."),
]

CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'")

def _empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


def _overview(data: ReportData) -> str:
    tiles = "".join(f'<div class="tile"><div class="tile-num">{esc(n)}</div>'
                    f'<div class="tile-label">{esc(k)}</div></div>' for k, n in data.counts.items())
    return f'<div class="tiles">{tiles}</div>'


def _objective(data: ReportData, fig: charts.FigureWriter) -> str:
    tabs = data.section("objective")
    if not tabs or tabs[0].frame.empty:
        return _empty("No objective results in this run.")
    t = tabs[0]
    models = [c for c in t.frame.columns if c not in OBJECTIVE_LABELS]
    chart = charts.objective_bars(t.frame, OBJECTIVE_LABELS, t.decimals.get(models[0], 2) if models else 2)
    return (fig(chart, "fig-objective") if chart else "") + html_table(t, models)


def _subsets(data: ReportData) -> str:
    tabs = data.section("objective-subsets")
    if not tabs:
        return _empty("No per-subset results in this run.")
    t = tabs[0]
    models = [c for c in t.frame.columns if c not in (*OBJECTIVE_LABELS, "n")]
    return html_table(t, models)


def _subjective(data: ReportData, fig: charts.FigureWriter) -> str:
    tabs = data.section("subjective")
    if not tabs:
        return _empty("No pairwise battles in this run.")
    chart = charts.rating_errorbars(data.leaderboards, data.separation)
    return (fig(chart, "fig-ratings") if chart else "") + "".join(html_table(t) for t in tabs)


def _winrate(data: ReportData, fig: charts.FigureWriter) -> str:
    if not data.win_matrices:
        return _empty("No pairwise battles in this run.")
    from arena.report.tables import WIN_RATE_DEFINITION

    # one heatmap per row: side by side, long model names and colour bars collided
    figs = "".join(
        fig(charts.win_heatmap(m, label, data.win_intervals.get(label)), f"fig-winrate-{i}")
        for i, (label, m) in enumerate(data.win_matrices.items())
    )
    tables = "".join(html_table(t) for t in data.section("winrate"))
    return (f'<p class="note">{esc(WIN_RATE_DEFINITION)} Hover a cell for its 95% bootstrap CI.</p>'
            f'<div class="heatmaps">{figs}</div>'
            f'<details><summary>Win-rate tables (with CIs)</summary><div class="grid">{tables}</div></details>')


def _scores(data: ReportData) -> str:
    tabs = data.section("scores")
    if not tabs:
        return _empty("No single-answer scores in this run.")
    return f'<div class="grid">{"".join(html_table(t) for t in tabs)}</div>'


def _judges(data: ReportData) -> str:
    tabs = data.section("judges")
    if not tabs:
        return _empty("No judge calls in this run.")
    return "".join(html_table(t) for t in tabs)


def _stages(data: ReportData, fig: charts.FigureWriter) -> str:
    tabs = data.section("stages")
    if not tabs:
        return _empty("No stage statistics were recorded for this run.")
    chart = charts.stage_bars(data.stages)
    return f'<div class="grid">{html_table(tabs[0])}{fig(chart, "fig-stages") if chart else ""}</div>'


def _config(data: ReportData) -> str:
    if not data.config_yaml:
        return _empty("No configuration was given.")
    return f'<pre class="config"><code>{esc(data.config_yaml)}</code></pre>'


def render_html(data: ReportData) -> str:
    """The whole report page as one string."""
    fig = charts.FigureWriter()
    bodies = {
        "overview": _overview(data), "objective": _objective(data, fig),
        "objective-subsets": _subsets(data), "subjective": _subjective(data, fig),
        "winrate": _winrate(data, fig), "scores": _scores(data), "judges": _judges(data),
        "stages": _stages(data, fig), "config": _config(data),
    }
    from arena.report.longctx import extra_sections

    extra = extra_sections(data, fig)  # long context and contamination, only when present
    from arena.report.robustness import robustness_sections

    extra += robustness_sections(data, fig)  # CircularEval and prompt variants, when present
    bodies.update({sid: body for sid, _, _, _, body in extra})
    shown = SECTIONS[:-2] + [e[:4] for e in extra] + SECTIONS[-2:]
    nav = "".join(f'<a href="#{sid}">{esc(label)}</a>' for sid, label, _, _ in shown)
    sections = "".join(
        f'<section id="{sid}" class="card"><h2>{esc(head)}</h2>'
        + (f'<p class="lead">{esc(lead)}</p>' if lead else "") + bodies[sid] + "</section>"
        for sid, _, head, lead in shown
    )
    run = f"Run <strong>{esc(data.run)}</strong> · " if data.run else ""
    title = f"Arena report{' — ' + data.run if data.run else ''}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><div class="wrap"><h1>Arena report</h1>'
        f'<p class="meta">{run}generated {esc(data.generated)}</p></div></header>'
        f'<nav class="nav"><div class="wrap">{nav}</div></nav>'
        f'<main class="wrap">{sections}</main>'
        '<footer class="wrap">Generated by Arena. Charts are interactive; tables hold the same '
        "numbers as summary/summary_*.csv, .txt and .md.</footer>"
        '<noscript><p class="wrap">Charts need JavaScript; all numbers are in the tables.</p></noscript>'
        "</body></html>"
    )
