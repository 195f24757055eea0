"""Failure pages: the store's disk fills while raters vote (RLIMIT_FSIZE, i.e. `ulimit -f`, on
the server process), and an unusable --store path at start."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from arena.core.records import Battle, Vote, write_jsonl
from arena.core.store import Store
from arena.service import hash_password
from tests.test_ui_browser import browser_page  # noqa: F401 - a fixture
from tests.ui_fixtures import fill_store, free_port, questions, wait_up

ARENA = str(Path(sys.executable).parent / "arena")


def _limited(max_bytes: int):
    def cap() -> None:  # in the child, before exec: every file it writes stops at max_bytes
        os.setsid()
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return cap


def test_disk_full_while_voting(tmp_path):
    db = tmp_path / "arena.sqlite"
    fill_store(db).close()
    qfile = tmp_path / "uitest.jsonl"
    write_jsonl(qfile, questions())
    users = tmp_path / "users.txt"
    users.write_text(
        "".join(f"r{i} rater {hash_password('pw')}\n" for i in range(3)), encoding="utf-8"
    )
    port = free_port()
    log = tmp_path / "server.log"
    limit = db.stat().st_size + 96 * 1024  # room for a few votes in the WAL, then "disk full"
    cmd = [
        ARENA,
        "ui",
        "--questions",
        str(qfile),
        "--models",
        "alpha",
        "beta",
        "gamma",
        "--answers",
        str(db),
        "--users",
        str(users),
        "--port",
        str(port),
    ]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, preexec_fn=_limited(limit)
        )
    acked, paused = [], []
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(url, 90, proc)
        raters = []
        for i in range(3):
            c = httpx.Client(base_url=url, timeout=20)
            assert (
                c.post("/api/login", json={"username": f"r{i}", "password": "pw"}).status_code
                == 200
            )
            raters.append(c)
        for step in range(300):
            c = raters[step % 3]
            r = c.post("/api/battle/next")
            if r.status_code != 200 or r.json().get("done"):
                paused.append(r)
                break
            bid = r.json()["battle_id"]
            v = c.post(f"/api/battle/{bid}/vote", json={"winner": "A"})
            if v.status_code == 200:
                acked.append(bid)
            else:
                paused.append(v)
                break
        assert paused and not paused[0].json().get("done"), "the disk never filled"
        first = paused[0]
        assert first.status_code == 503
        body = first.json()
        assert (
            body["detail"].startswith("voting is paused") and "nothing was saved" in body["detail"]
        )
        assert body["saved"] is False
        # every later call says the same, sign-in included, and never a bare 500
        again = [
            raters[0].post("/api/battle/next"),
            raters[1].post("/api/battle/next"),
            httpx.post(f"{url}/api/login", json={"username": "r2", "password": "pw"}),
        ]
        assert [r.status_code for r in again] == [503, 503, 503]
        assert all("voting is paused" in r.json()["detail"] for r in again)
        assert len(acked) >= 3  # some votes went through before the disk filled
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    text = log.read_text(errors="replace")
    lines = [ln for ln in text.splitlines() if "voting paused" in ln]
    print(f"acknowledged before the disk filled: {len(acked)}; log: {lines}")
    assert len(lines) == 1, text[-3000:]  # one line for the operator, with the cause
    assert "arena.sqlite" in lines[0] and ("disk" in lines[0].lower() or "full" in lines[0].lower())
    assert "Traceback" not in text
    store = Store(db)  # no limit here: every acknowledged vote is on disk
    votes = {v.battle_id for v in store.all(Vote)}
    refs = {b.ref for b in store.all(Battle)}
    assert set(acked) <= votes and set(acked) <= refs


def test_unusable_store_path_fails_at_start_in_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    qfile = tmp_path / "uitest.jsonl"
    write_jsonl(qfile, questions())
    for bad in (blocker / "arena.sqlite", tmp_path):  # under a file; a folder, not a database
        r = subprocess.run(
            [ARENA, "ui", "--questions", str(qfile), "--models", "a", "b", "--store", str(bad)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode != 0
        err = r.stderr.strip().splitlines()
        assert len(err) == 1, r.stderr
        assert f"--store {bad}: cannot open the store" in err[0]
        assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.browser
def test_paused_message_in_the_page(tmp_path, browser_page):  # noqa: F811
    """The store stops taking writes while a rater is on the battle page: the page says
    voting is paused and that the vote was not saved (no bare error)."""
    import sqlalchemy as sa

    from arena.service import ArenaService
    from tests.test_ui_browser import open_battle, sign_in
    from tests.ui_fixtures import MODELS, answers, serve_in_thread
    from ui.app import create_server

    page, _, dialogs = browser_page
    store = fill_store(tmp_path / "arena.sqlite")
    svc = ArenaService(store, questions(), answers(), MODELS, seed=5)
    svc.set_user("ann", "rater", hash_password("pw"))
    with serve_in_thread(create_server(svc)) as url:
        sign_in(page, url, "ann", "pw")
        open_battle(page)

        def broken(job, urgent=False):  # what a full disk looks like to the service
            raise sa.exc.OperationalError("COMMIT", {}, Exception("database or disk is full"))

        svc._writes.run = broken
        page.click("#vote-a")
        toast = page.wait_for_selector("text=voting is paused")
        assert "nothing was saved" in toast.inner_text()
        assert "Vote saved" not in page.inner_text("#battle-reveal")
    assert store.count(Vote) == 0 and dialogs == []
