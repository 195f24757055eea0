"""Admin tab: progress per model pair and question, agreement, export of votes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from arena.service import ArenaService
from arena.service_views import agreement_tables, export_votes, progress
from ui.common import gradio_user, note_frame


def build(service: ArenaService, tab: gr.Tab) -> None:
    """Lay out the admin tab (each handler checks the admin role again on the server)."""
    refresh = gr.Button("Refresh", elem_id="admin-refresh")
    gr.Markdown("### Progress per model pair")
    per_pair = gr.Dataframe(interactive=False, elem_id="admin-pairs")
    gr.Markdown("### Votes per question and pair")
    grid = gr.Dataframe(interactive=False, elem_id="admin-grid")
    gr.Markdown(
        "### Inter-rater agreement on shared battles (Cohen's kappa: 0 = chance, 1 = perfect)"
    )
    raters = gr.Dataframe(interactive=False, elem_id="admin-raters")
    gr.Markdown("### Judge-human agreement")
    judges = gr.Dataframe(interactive=False, elem_id="admin-judges")
    gr.Markdown("### Export votes")
    with gr.Row():
        csv_btn = gr.Button("Export CSV", elem_id="export-csv")
        jsonl_btn = gr.Button("Export JSONL", elem_id="export-jsonl")
    download = gr.File(label="Download", interactive=False, elem_id="export-file", visible=False)

    def show(request: gr.Request):
        gradio_user(service, request, admin=True)
        pairs, qgrid = progress(service.store, service.question_set, service.pairs)
        rater_tab, judge_tab = agreement_tables(service.store)
        return (
            pairs,
            qgrid if len(qgrid) else note_frame("no votes yet"),
            rater_tab.round(2)
            if len(rater_tab)
            else note_frame("no two raters share a battle yet"),
            judge_tab.round(3) if len(judge_tab) else note_frame("no judge battles in the store"),
        )

    def export(fmt: str):
        def run(request: gr.Request):
            gradio_user(service, request, admin=True)
            path = Path(tempfile.mkdtemp(prefix="arena-export-")) / f"votes.{fmt}"
            path.write_text(export_votes(service.store, fmt), encoding="utf-8")
            return gr.File(value=str(path), visible=True)

        return run

    refresh.click(show, None, [per_pair, grid, raters, judges])
    tab.select(show, None, [per_pair, grid, raters, judges])
    csv_btn.click(export("csv"), None, download)
    jsonl_btn.click(export("jsonl"), None, download)
