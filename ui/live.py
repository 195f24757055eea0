""" "Battle on your prompt" tab: the rater's prompt, two anonymous models streaming side by side.

The same tab in named mode ("Side by side") lets the rater pick the two models and shows
their names; nothing is voted there. Each handler asks the service again who is calling.
"""

from __future__ import annotations

import html

import gradio as gr

from arena.service import ArenaService, ServiceError
from arena.service_live import LiveState
from ui.auth import client_addr, request_token, session_ref
from ui.common import gradio_user
from ui.render import render_markdown

CHOICES = (
    ("A", "A is better", "a"),
    ("B", "B is better", "b"),
    ("tie", "Tie", "tie"),
    ("bothbad", "Both are bad", "bad"),
)
SAID = {"A": "A is better", "B": "B is better", "tie": "a tie", "bothbad": "both are bad"}
HELP = (
    "Write a prompt: two anonymous models answer it side by side. Ask follow-ups or "
    "regenerate until you are ready, then vote; the model names appear after your vote."
)
NAMED_HELP = "Pick two models and write a prompt: both answer side by side, with their names."


def render_pane(label: str, turns: list[str], answers: list[str], pending: str = "") -> str:
    """One side of a live conversation: the rater's turns and this model's answers."""
    parts = []
    for i, prompt in enumerate(turns):
        parts.append(f'<div class="arena-user">{render_markdown(prompt)}</div>')
        text = answers[i] if i < len(answers) else pending if i == len(turns) - 1 else ""
        parts.append(f'<div class="arena-md">{render_markdown(text) if text else "…"}</div>')
    title = f'<div class="arena-answer-title">{html.escape(label)}</div>'
    return f'<div class="arena-answer arena-pane">{title}{"".join(parts)}</div>'


def reveal_html(st: LiveState) -> str:
    names = [html.escape(m, quote=True) for m in st.models or ["?", "?"]]
    said = html.escape(SAID.get(st.verdict or "", ""))
    return (
        f'<div class="arena-reveal"><b>Vote saved:</b> {said}.<br>'
        f'Model A was <b class="arena-model">{names[0]}</b>, '
        f'model B was <b class="arena-model">{names[1]}</b>. Write a new prompt to start again.'
        "</div>"
    )


def build(service: ArenaService, named: bool = False) -> None:
    """Lay out the live battle tab (or the named side-by-side tab) and wire its events."""
    live = service.live
    assert live is not None
    p = "named" if named else "live"
    battle_id = gr.State(None)
    gr.Markdown(NAMED_HELP if named else HELP, elem_classes="arena-help")
    if named:
        with gr.Row():
            pick_a = gr.Dropdown(
                live.names, value=live.names[0], label="Model A", elem_id=f"{p}-model-a"
            )
            pick_b = gr.Dropdown(
                live.names, value=live.names[1], label="Model B", elem_id=f"{p}-model-b"
            )
    with gr.Row(equal_height=False, elem_classes="arena-answers"):
        pane_a = gr.HTML(elem_id=f"{p}-answer-a")
        pane_b = gr.HTML(elem_id=f"{p}-answer-b")
    with gr.Column(elem_classes="arena-votebar", elem_id=f"{p}-votebar"):
        reveal = gr.HTML(elem_id=f"{p}-reveal")
        buttons = []
        if not named:
            with gr.Row(elem_classes="arena-vote-row"):
                buttons = [
                    gr.Button(label, elem_id=f"live-vote-{eid}", interactive=False, min_width=80)
                    for _, label, eid in CHOICES
                ]
        with gr.Row(elem_classes="arena-prompt-row"):
            prompt = gr.Textbox(
                show_label=False,
                placeholder="Your prompt (a follow-up once the answers are in)",
                max_length=live.config.max_prompt,
                lines=2,
                scale=4,
                elem_id=f"{p}-prompt",
            )
            send = gr.Button("Send", variant="primary", scale=1, elem_id=f"{p}-send", min_width=80)
        with gr.Row():
            regen = gr.Button("Regenerate", interactive=False, elem_id=f"{p}-regenerate")
            new = gr.Button("New battle", elem_id=f"{p}-new")
    shown = [battle_id, pane_a, pane_b, reveal, prompt, *buttons, regen, send]
    n_btn = len(buttons)

    def panes(st_turns, answers, pending=("", ""), models=None):
        labels = [f"Model {s}" for s in "AB"]
        if models:
            labels = [f"Model {s}: {m}" for s, m in zip("AB", models)]
        return [render_pane(labels[k], st_turns, answers[k], pending[k]) for k in (0, 1)]

    def run(bid: str, rater: str):
        """Stream the last turn's answers, then turn the buttons back on."""
        st = live.state(rater, bid)
        busy = [gr.Button(interactive=False)] * (n_btn + 2)
        for texts in live.stream(rater, bid):
            a, b = panes(st.turns, st.answers, texts, st.models)
            yield bid, a, b, "", gr.Textbox(interactive=False), *busy
        st = live.state(rater, bid)
        a, b = panes(st.turns, st.answers, ("", ""), st.models)
        ready = all(len(x) == len(st.turns) for x in st.answers)
        vote_on = [gr.Button(interactive=ready)] * n_btn
        yield (
            bid,
            a,
            b,
            "",
            gr.Textbox(value="", interactive=True),
            *vote_on,
            gr.Button(interactive=True),
            gr.Button(interactive=True),
        )

    def on_send(bid, text, request: gr.Request):
        yield from send_to(bid, text, [], request)

    def on_send_named(bid, text, model_a, model_b, request: gr.Request):
        yield from send_to(bid, text, [model_a, model_b], request)

    def send_to(bid, text, picked: list[str], request: gr.Request):
        user = gradio_user(service, request)
        try:
            st = live.state(user.name, bid) if bid else None
            if st is None or st.done or (named and st.models != list(picked)):
                bid = live.start(user.name, text, named=list(picked) if named else None)
            else:
                live.follow_up(user.name, bid, text)
            yield from run(bid, user.name)
        except ServiceError as exc:
            raise gr.Error(str(exc)) from None

    def on_regen(bid, request: gr.Request):
        user = gradio_user(service, request)
        if not bid:
            raise gr.Error("There is no battle yet: write a prompt.")
        try:
            live.regenerate(user.name, bid)
            yield from run(bid, user.name)
        except ServiceError as exc:
            raise gr.Error(str(exc)) from None

    def make_vote(verdict: str):
        def vote(bid, request: gr.Request):
            user = gradio_user(service, request)
            if not bid:
                raise gr.Error("There is no battle yet: write a prompt.")
            try:
                ref = session_ref(request_token(request.request))
                st = live.vote(
                    user.name, bid, verdict, session=ref, addr=client_addr(request.request)
                )
            except ServiceError as exc:
                raise gr.Error(str(exc)) from None
            a, b = panes(st.turns, st.answers, ("", ""), st.models)
            off = [gr.Button(interactive=False)] * (n_btn + 1)
            return (
                bid,
                a,
                b,
                reveal_html(st),
                gr.Textbox(interactive=True),
                *off,
                gr.Button(interactive=True),
            )

        return vote

    def on_new(request: gr.Request):
        gradio_user(service, request)
        off = [gr.Button(interactive=False)] * (n_btn + 1)
        return (
            None,
            "",
            "",
            "",
            gr.Textbox(value="", interactive=True),
            *off,
            gr.Button(interactive=True),
        )

    handler, extra = (on_send_named, [pick_a, pick_b]) if named else (on_send, [])
    send.click(handler, [battle_id, prompt, *extra], shown)
    prompt.submit(handler, [battle_id, prompt, *extra], shown)
    regen.click(on_regen, [battle_id], shown)
    new.click(on_new, None, shown)
    for (verdict, _, _), btn in zip(CHOICES, buttons):
        btn.click(make_vote(verdict), [battle_id], shown)
