"""`arena ui` as a real process: kill -9 after acknowledged votes, restart, nothing is lost."""

from __future__ import annotations

import os
import signal

import httpx

from arena.core.records import Battle, Vote, write_jsonl
from arena.core.store import Store
from arena.service import hash_password
from tests.ui_fixtures import fill_store, free_port, login, questions, start_cli_server, wait_up

N_VOTES = 7


def test_votes_survive_kill_9(tmp_path):
    db = tmp_path / "arena.sqlite"
    fill_store(db).close()
    qfile = tmp_path / "uitest.jsonl"
    write_jsonl(qfile, questions())
    users = tmp_path / "users.txt"
    users.write_text(f"# test users\nann rater {hash_password('pw')}\n", encoding="utf-8")
    args = [
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
    ]
    log = tmp_path / "server.log"

    port = free_port()
    proc = start_cli_server(args, port, log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(url, 90, proc)
        c = httpx.Client(base_url=url, timeout=10)
        login(c, "ann", "pw")
        acked = []
        for i in range(N_VOTES):
            bid = c.post("/api/battle/next").json()["battle_id"]
            r = c.post(f"/api/battle/{bid}/vote", json={"winner": ["A", "B", "tie"][i % 3]})
            assert r.status_code == 200
            acked.append(bid)
        open_battle = c.post("/api/battle/next").json()["battle_id"]  # issued, not voted
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no shutdown hook gets to run
        proc.wait(10)

    port = free_port()
    proc = start_cli_server(args, port, log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(url, 90, proc)
        c = httpx.Client(base_url=url, timeout=10)
        login(c, "ann", "pw")
        assert c.post("/api/battle/next").json()["battle_id"] == open_battle  # still open
        assert c.post(f"/api/battle/{acked[0]}/vote", json={"winner": "A"}).status_code == 409
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    store = Store(db)
    assert sorted(v.battle_id for v in store.all(Vote)) == sorted(acked)
    assert sorted(b.ref for b in store.all(Battle)) == sorted(acked)
