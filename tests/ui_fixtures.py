"""Shared helpers of the UI and service tests: a question set with answers, servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from arena.core.records import Answer, Question
from arena.core.store import Store

MODELS = ["alpha", "beta", "gamma"]
QSET = "uitest"
STYLES = {  # three recognisable styles that do not name the model
    "alpha": "Short answer to {q}, turn {t}: **yes**.",
    "beta": "Answer to {q}, turn {t}:\n\n- first, the idea\n- then, the detail\n\nDone.",
    "gamma": "For {q} (turn {t}) consider:\n\n```python\nprint({t} + {t})\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |",
}
EVIL = (
    "Here you go.\n\n<script>window.__pwned = 1</script>\n\n"
    '<img src=x onerror="window.__pwned = 2">\n\n'
    '[click me](javascript:window.__pwned=3) <a href="javascript:alert(1)">x</a>\n\n'
    '<iframe src="https://example.com"></iframe><b onclick="alert(4)">bold</b>'
)


def questions() -> list[Question]:
    qs = [
        Question(
            question_set=QSET,
            id="q1",
            category="writing",
            turns=["Write a haiku about autumn.", "Now make it about spring."],
        ),
    ]
    for i in range(2, 7):
        qs.append(
            Question(
                question_set=QSET,
                id=f"q{i}",
                category="math" if i % 2 else "coding",
                turns=[f"Question {i}: what is {i} + {i}? Explain briefly."],
            )
        )
    return qs


def answers() -> list[Answer]:
    out = []
    for m in MODELS:
        for q in questions():
            turns = [STYLES[m].format(q=q.id, t=t + 1) for t in range(len(q.turns))]
            if m == "beta" and q.id == "q3":
                turns = [EVIL]
            out.append(Answer(model=m, question_set=QSET, question_id=q.id, turns=turns))
    return out


def fill_store(target: str | Path) -> Store:
    """A store holding the test question set and the three models' answers."""
    store = Store(target)
    store.put_many(questions())
    store.put_many(answers())
    return store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app, port: int | None = None) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1 in a thread; yields its base URL, then stops it."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url, 30)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


def wait_up(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up in {timeout}s")


def start_cli_server(args: list[str], port: int, log: Path) -> subprocess.Popen:
    """`arena ui ...` in a subprocess on 127.0.0.1:port (its output goes to `log`)."""
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    cmd = [
        str(Path(sys.executable).parent / "arena"),
        "ui",
        *args,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    fh = log.open("ab")
    return subprocess.Popen(
        cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def login(client: httpx.Client, name: str, password: str) -> str:
    r = client.post("/api/login", json={"username": name, "password": password})
    r.raise_for_status()
    return r.json()["token"]
