"""Admin tab: progress per model pair and question, agreement, export of votes."""

from __future__ import annotations

import gradio as gr

from arena.service import ArenaService
from arena.service_views import agreement_tables, progress
from ui.common import gradio_user, note_frame

EXPORT_LINKS = (
    '<p><a id="export-csv" href="api/admin/export?format=csv" download="votes.csv">'
    "Download votes (CSV)</a> · "
    '<a id="export-jsonl" href="api/admin/export?format=jsonl" download="votes.jsonl">'
    "Download votes (JSONL)</a></p>"
)


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
    # plain links to the admin-only endpoint: the file is streamed from the store to this
    # browser and never written to a shared temporary folder
    gr.HTML(EXPORT_LINKS, elem_id="export-links")

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

    refresh.click(show, None, [per_pair, grid, raters, judges])
    tab.select(show, None, [per_pair, grid, raters, judges])
