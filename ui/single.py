"""Single rating tab: one anonymous answer, a 1-10 overall score, optional rubric, comment."""

from __future__ import annotations

import html

import gradio as gr

from arena.service import ArenaService, ServiceError
from ui.common import gradio_user
from ui.render import render_answer, render_question

SCALE = list(range(1, 11))
HELP = (
    "Rate one answer from 1 (useless or wrong) to 10 (excellent). The rubric dimensions "
    "are optional. The model name appears after you submit."
)


def build(service: ArenaService, demo: gr.Blocks) -> None:
    """Lay out the single-rating tab inside the current Blocks context and wire its events."""
    item_id = gr.State(None)
    gr.Markdown(HELP, elem_classes="arena-help")
    question = gr.HTML(elem_id="single-question")
    answer = gr.HTML(elem_id="single-answer")
    overall = gr.Radio(SCALE, label="Overall (required)", elem_id="score-overall")
    with gr.Accordion("Rubric (optional)", open=True):
        dims = [
            gr.Radio(SCALE, label=d.capitalize(), elem_id=f"score-{d}") for d in service.dimensions
        ]
    comment = gr.Textbox(
        label="Comment (optional)", lines=2, max_length=2000, elem_id="score-comment"
    )
    submit = gr.Button(
        "Submit rating", variant="primary", elem_id="submit-score", interactive=False
    )
    reveal = gr.HTML(elem_id="single-reveal")
    next_btn = gr.Button("Next answer", elem_id="next-single", interactive=False)
    shown = [item_id, question, answer, overall, *dims, comment, reveal, submit, next_btn]

    def show(request: gr.Request):
        user = gradio_user(service, request)
        item = service.next_single(user.name)
        clear = [None] * (1 + len(dims))
        if item is None:
            done = "<p><b>You have rated every answer on offer. Thank you!</b></p>"
            off = [gr.Button(interactive=False)] * 2
            return None, done, "", *clear, "", "", *off
        q = render_question(item.turns, item.category)
        a = render_answer("Answer", item.answers[0])
        on = [gr.Button(interactive=True), gr.Button(interactive=False)]
        return item.id, q, a, *clear, "", "", *on

    def rate(data: dict, request: gr.Request):
        iid, score, text = data[item_id], data[overall], data[comment]
        dim_values = [data[d] for d in dims]
        user = gradio_user(service, request)
        if not iid:
            raise gr.Error("There is no open answer: press Next answer.")
        if score is None:
            raise gr.Error("Choose an overall score from 1 to 10 first.")
        given = {d: v for d, v in zip(service.dimensions, dim_values) if v is not None}
        try:
            rev = service.score(user.name, iid, int(score), given, text or "")
        except ServiceError as exc:
            raise gr.Error(str(exc)) from None
        name = html.escape(rev.models[0], quote=True)
        msg = (
            f"<div><b>Rating saved:</b> {int(score)}/10.<br>"
            f'This answer was written by <b class="arena-model">{name}</b>.</div>'
        )
        return msg, gr.Button(interactive=False), gr.Button(interactive=True)

    submit.click(rate, {item_id, overall, comment, *dims}, [reveal, submit, next_btn])
    next_btn.click(show, None, shown)
    demo.load(show, None, shown)
