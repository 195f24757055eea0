"""The rating UI: `build_app(service)` makes the Gradio Blocks, `create_server` the whole app.

No module-level state: everything a handler needs comes from the service passed in, and the
service keeps its state in the store.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no analytics

import anyio  # noqa: E402
import gradio as gr  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402

from arena.service import ArenaService  # noqa: E402
from ui import admin, battle, leaderboard, live, single  # noqa: E402
from ui.api import install  # noqa: E402
from ui.auth import request_user  # noqa: E402
from ui.common import gradio_user  # noqa: E402
from ui.fastpath import FastPath  # noqa: E402

CSS = """
.arena-question{background:var(--background-fill-secondary);border:1px solid var(--border-color-primary);
  border-radius:10px;padding:10px 16px;max-height:30vh;overflow-y:auto}
.arena-answer{border:1px solid var(--border-color-primary);border-radius:10px;padding:10px 16px;
  min-height:140px;max-height:min(52vh,640px);overflow-y:auto;overflow-x:hidden;
  overscroll-behavior:contain;overflow-wrap:anywhere}
.arena-answer-title{font-weight:700;color:#c2410c;margin-bottom:4px;position:sticky;top:-10px;
  background:var(--background-fill-primary);padding:2px 0}
.arena-user{background:var(--background-fill-secondary);border-radius:8px;padding:4px 10px;margin:6px 0}
.arena-turn{font-size:.75rem;letter-spacing:.05em;text-transform:uppercase;color:#6b7280;margin-top:8px}
.arena-cat{display:inline-block;font-size:.75rem;background:#ffedd5;color:#9a3412;border-radius:6px;
  padding:1px 8px;margin-bottom:4px}
.arena-md pre{overflow-x:auto;padding:8px;border-radius:6px;background:var(--background-fill-secondary)}
.arena-help{color:var(--body-text-color-subdued)}
.gradio-container{overflow:clip visible !important}  /* hidden would stop the sticky vote bar */
.arena-votebar{position:sticky;bottom:0;z-index:50;background:var(--background-fill-primary);
  border-top:1px solid var(--border-color-primary);box-shadow:0 -6px 14px rgba(0,0,0,.07);
  padding:6px 4px !important}
.arena-votebar .arena-reveal{font-size:1.05rem}
.arena-votebar>.block:not(:has(.arena-reveal)):has(.prose){display:none !important}  /* no empty gap */
.arena-lb-wrap{overflow-x:auto}
.arena-lb{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
.arena-lb th,.arena-lb td{padding:6px 8px;border-bottom:1px solid var(--border-color-primary);text-align:left}
.arena-lb .arena-num{text-align:right;white-space:nowrap}
.arena-lb .arena-model{overflow-wrap:anywhere}
.arena-ci{color:var(--body-text-color-subdued);font-size:.85em}
@media (max-width:720px){
  .arena-answers{flex-direction:column !important;flex-wrap:nowrap !important}
  .arena-answers>*{width:100% !important;min-width:0 !important;flex:1 1 auto !important}
  .arena-answer{max-height:27vh;min-height:80px;padding:6px 10px}
  .arena-question{max-height:18vh}
  .arena-votebar button{min-width:0 !important;padding:6px 4px !important;font-size:.85rem}
  .arena-lb{font-size:.8rem}
  .arena-lb th,.arena-lb td{padding:4px 3px}
  .arena-lb .arena-num{white-space:normal}
  .arena-ci{display:block}
}
"""


# System fonts only: the default theme would fetch Google Fonts, and raters may be offline.
# The CJK families come before the generic name so Chinese/Japanese/Korean text finds glyphs
# (Noto Sans CJK on Linux, PingFang/Hiragino on macOS, Microsoft YaHei on Windows).
FONTS = [
    "ui-sans-serif",
    "system-ui",
    "Segoe UI",
    "Roboto",
    "Noto Sans",
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Source Han Sans SC",
    "PingFang SC",
    "Hiragino Sans",
    "Microsoft YaHei",
    "sans-serif",
]
THEME = gr.themes.Soft(
    primary_hue="orange",
    font=FONTS,
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
)


def build_app(service: ArenaService) -> gr.Blocks:
    """The Gradio UI (battle, single rating, leaderboard, admin) over one service."""
    with gr.Blocks(title="Arena human rating", analytics_enabled=False) as demo:
        with gr.Row():
            gr.Markdown("## Arena: human rating")
            who = gr.HTML(elem_id="who")
        with gr.Tabs():
            with gr.Tab("Battle", id="battle"):
                battle.build(service, demo)
            if service.live is not None:
                with gr.Tab("Battle on your prompt", id="live"):
                    live.build(service)
                with gr.Tab("Side by side", id="named"):
                    live.build(service, named=True)
            with gr.Tab("Single rating", id="single"):
                single.build(service, demo)
            with gr.Tab("Leaderboard", id="leaderboard") as lb_tab:
                leaderboard.build(service, lb_tab)
            with gr.Tab("Admin", id="admin", visible=False) as admin_tab:
                admin.build(service, admin_tab)

        def whoami(request: gr.Request):
            user = gradio_user(service, request)
            badge = f"Signed in as <b>{user.name}</b> ({user.role}) · <a href='logout'>Sign out</a>"
            return f"<div style='text-align:right'>{badge}</div>", gr.Tab(visible=user.is_admin)

        demo.load(whoami, None, [who, admin_tab])
    # Gradio runs one event per listener at a time by default: raters would queue behind
    # each other's votes. The service is thread-safe; the store serialises what must be.
    demo.queue(default_concurrency_limit=16)
    return demo


def create_server(service: ArenaService, threads: int = 16) -> FastPath:
    """FastAPI app with the raters' HTTP API and the Gradio UI mounted at "/".

    `threads` bounds the worker threads of blocking handlers: each holds a pooled database
    connection, and more threads (Starlette's default is 40) churn connections and the GIL
    without adding throughput. Next battle and vote need none: they are jobs of the commit
    thread and wait for it on the event loop.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        # Gradio's handlers (a live battle's stream holds a thread while it waits for tokens)
        # and the other blocking endpoints; the raters' hot calls need no thread
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        # hand the GIL over every 1 ms (default 5 ms): the event loop answers acknowledged
        # votes sooner while worker threads pick battles
        sys.setswitchinterval(0.001)
        # everything built so far (Gradio, pandas, plotly: millions of objects) lives as long
        # as the server: keep it out of the cyclic collector, whose full passes over it
        # stopped every thread for hundreds of milliseconds (the slowest votes)
        gc.collect()
        gc.freeze()
        yield

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    install(app, service)

    def gradio_auth(request: Request) -> str | None:
        try:
            user = request_user(service, request)
        except sa.exc.SQLAlchemyError as exc:  # store down: the page says so (LoginRedirect)
            service.store_failed(exc)
            return None
        return user.name if user else None

    app = gr.mount_gradio_app(
        app,
        build_app(service),
        path="/",
        auth_dependency=gradio_auth,
        footer_links=[],
        ssr_mode=False,
        mcp_server=False,
        enable_monitoring=False,
        theme=THEME,
        css=CSS,
        head='<script src="arena-static/keys.js"></script>',
    )
    # next battle and vote skip FastAPI's machinery: the event loop is what limits them
    return FastPath(app, service)
