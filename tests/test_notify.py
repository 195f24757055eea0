"""Webhook notifications: start and finish events (with the summary) reach a loopback server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rich.console import Console

from arena.experiment import load_experiment
from arena.notify import NotifyConfig, notify, payload
from arena.pipeline import run_experiment
from tests.pipeline_fixtures import fake_server, write_config


class Hook:
    """A loopback webhook that records JSON bodies; `fail=True` answers 500."""

    def __init__(self, fail: bool = False) -> None:
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                n = int(self.headers.get("Content-Length", 0))
                hook.bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(500 if fail else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def test_run_posts_start_and_finish_with_summary(tmp_path, hook, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    with fake_server() as srv:
        cfg = write_config(tmp_path / "exp.yaml", srv.base_url, limit=3, questions=2,
                           extra=f"notify: {{webhook: '{hook.url}'}}")
        result = run_experiment(load_experiment(cfg), work_dir=tmp_path / "out", console=Console(quiet=True))
    events = [b["event"] for b in hook.bodies]
    assert events == ["start", "finish"]
    finish = hook.bodies[1]
    assert finish["run"] == result.run_dir.name
    assert "gsm8k_mini_gen" in finish["summary"] and finish["report"]["html"].endswith("report.html")
    # the webhook's URL (it may hold a token) is not copied into the run's outputs
    for path in result.run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".json", ".csv", ".md", ".txt", ".html", ".log"):
            assert "secret-token" not in path.read_text(encoding="utf-8", errors="replace"), path


def test_failure_event_and_payload_shapes(hook):
    cfg = NotifyConfig(webhook=hook.url, format="lark")
    assert notify(cfg, "failure", "r1", error="boom")
    assert hook.bodies[-1]["msg_type"] == "text" and "boom" in hook.bodies[-1]["content"]["text"]
    slack = payload(NotifyConfig(webhook=hook.url, format="slack"), "finish", "r1", summary="table")
    assert "table" in slack["text"]
    only_fail = NotifyConfig(webhook=hook.url, events=["failure"])
    assert not notify(only_fail, "start", "r1")


def test_a_failing_webhook_never_breaks_the_run():
    broken = Hook(fail=True)
    try:
        assert notify(NotifyConfig(webhook=broken.url), "start", "r1") is False
    finally:
        broken.close()
    assert notify(NotifyConfig(webhook="http://127.0.0.1:9/nothing", timeout=1), "start", "r1") is False
