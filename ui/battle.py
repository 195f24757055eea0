"""Battle tab: one question, two anonymous answers, a vote, then the names."""

from __future__ import annotations

import html

import gradio as gr

from arena.service import ArenaService, ServiceError
from ui.auth import client_addr, request_token, session_ref
from ui.common import gradio_user
from ui.render import render_answer, render_question

CHOICES = (
    ("A", "A is better", "vote-a"),
    ("B", "B is better", "vote-b"),
    ("tie", "Tie", "vote-tie"),
    ("bothbad", "Both are bad", "vote-bad"),
)
SAID = {"A": "A is better", "B": "B is better", "tie": "a tie", "bothbad": "both are bad"}
HELP = (
    "Read the question and the two anonymous answers, then choose. The model names appear "
    "after your vote. Keyboard: **A** = A is better, **B** = B is better, **T** = tie, "
    "**X** = both are bad, **N** = next battle."
)


def reveal_html(said: str, models: list[str]) -> str:
    """The "Vote saved" line and the two model names, as plain text (a name is data, never markup)."""
    a, b = (html.escape(m, quote=True) for m in models)
    return (
        f'<div class="arena-reveal"><b>Vote saved:</b> {html.escape(said)}.<br>'
        f'Answer A was <b class="arena-model">{a}</b>, '
        f'answer B was <b class="arena-model">{b}</b>.</div>'
    )


def build(service: ArenaService, demo: gr.Blocks) -> None:
    """Lay out the battle tab inside the current Blocks context and wire its events."""
    battle_id = gr.State(None)
    gr.Markdown(HELP, elem_classes="arena-help")
    question = gr.HTML(elem_id="battle-question")
    with gr.Row(equal_height=False, elem_classes="arena-answers"):
        answer_a = gr.HTML(elem_id="answer-a")
        answer_b = gr.HTML(elem_id="answer-b")
    reason = gr.Textbox(
        label="Reason (optional)", lines=1, max_length=2000, elem_id="battle-reason"
    )
    # the vote buttons and the reveal stay in view together (a sticky bar), however long
    # the answers are: each answer scrolls in its own pane
    with gr.Column(elem_classes="arena-votebar", elem_id="battle-votebar"):
        reveal = gr.HTML(elem_id="battle-reveal")
        with gr.Row(elem_classes="arena-vote-row"):
            buttons = [
                gr.Button(label, elem_id=eid, interactive=False, min_width=70)
                for _, label, eid in CHOICES
            ]
            next_btn = gr.Button(
                "Next battle",
                variant="primary",
                elem_id="next-battle",
                interactive=False,
                min_width=70,
            )
    shown = [battle_id, question, answer_a, answer_b, reveal, reason, *buttons, next_btn]

    def show(request: gr.Request):
        user = gradio_user(service, request)
        item = service.next_battle(user.name)
        if item is None:
            done = "<p><b>You have judged every battle on offer. Thank you!</b></p>"
            off = [gr.Button(interactive=False)] * (len(buttons) + 1)
            return None, done, "", "", "", "", *off
        on = [gr.Button(interactive=True)] * len(buttons)
        return (
            item.id,
            render_question(item.turns, item.category),
            render_answer("Answer A", item.answers[0]),
            render_answer("Answer B", item.answers[1]),
            "",
            "",
            *on,
            gr.Button(interactive=False),
        )

    def make_vote(verdict: str):
        def vote(bid: str | None, why: str, request: gr.Request):
            user = gradio_user(service, request)
            if not bid:
                raise gr.Error("There is no open battle: press Next battle.")
            try:
                ref = session_ref(request_token(request.request))
                addr = client_addr(request.request)
                rev = service.vote(user.name, bid, verdict, why or "", session=ref, addr=addr)
            except ServiceError as exc:
                raise gr.Error(str(exc)) from None
            text = reveal_html(SAID[verdict], rev.models)
            return text, *[gr.Button(interactive=False)] * len(buttons), gr.Button(interactive=True)

        return vote

    for (verdict, _, _), btn in zip(CHOICES, buttons):
        btn.click(make_vote(verdict), [battle_id, reason], [reveal, *buttons, next_btn])
    next_btn.click(show, None, shown)
    demo.load(show, None, shown)
