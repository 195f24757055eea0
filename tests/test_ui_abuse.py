"""Abuse resistance of the rating server over real HTTP on 127.0.0.1: sign-in throttling,
anonymous vote limits, security headers, admin-only streamed exports, users-file checks and
model names shown as plain text."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from pathlib import Path

import httpx
import pytest

from arena.core.errors import ConfigError
from arena.core.records import Battle, Vote
from arena.service import ArenaService, Limits, hash_password
from tests.ui_fixtures import MODELS, answers, fill_store, login, questions, serve_in_thread

FAST = Limits(
    login_free_user=3,
    login_free_addr=8,
    login_base_delay=2.0,
    anon_sessions=4,
    anon_votes=2,
    anon_addr_votes=3,
)


def _server(tmp_path: Path, **kw):
    store = fill_store(tmp_path / "arena.sqlite")
    svc = ArenaService(store, questions(), answers(), MODELS, seed=4, limits=FAST, **kw)
    svc.set_user("ann", "rater", hash_password("pw-ann"))
    svc.set_user("root", "admin", hash_password("pw-root"))
    for i in range(6):
        svc.set_user(f"u{i}", "rater", hash_password("pw"))
    from ui.app import create_server

    return store, svc, serve_in_thread(create_server(svc))


def _login(url: str, name: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/api/login", json={"username": name, "password": password})


def test_login_is_throttled_per_account_and_per_address(tmp_path):
    _, _, server = _server(tmp_path)
    with server as url:
        codes = [_login(url, "ann", f"guess{i}").status_code for i in range(6)]
        assert codes == [401, 401, 401, 429, 429, 429]  # 3 free tries, then a wait
        r = _login(url, "ann", "pw-ann")  # even the right password waits out the delay
        assert r.status_code == 429
        assert "too many failed sign-ins for this account" in r.json()["detail"]
        assert int(r.headers["retry-after"]) >= 1
        time.sleep(2.1)
        assert _login(url, "ann", "guess-again").status_code == 401  # the delay has passed
        r = _login(url, "ann", "pw-ann")
        assert r.status_code == 429  # and it doubled
        time.sleep(4.1)
        assert _login(url, "ann", "pw-ann").status_code == 200  # success clears the account

        # one address trying many accounts: 8 free failures in all, then waits
        codes = [_login(url, f"u{i % 6}", "wrong").status_code for i in range(12)]
        assert 429 in codes
        r = _login(url, "u5", "pw")
        assert r.status_code == 429 and "your address" in r.json()["detail"]


def test_anonymous_limits_and_invite_code(tmp_path):
    store, _, server = _server(tmp_path, anonymous=True)
    with server as url:
        sessions = [httpx.post(f"{url}/api/anonymous") for _ in range(6)]
        assert [r.status_code for r in sessions] == [200] * 4 + [429, 429]  # 4 per address/hour
        assert "too many anonymous sessions" in sessions[-1].json()["detail"]
        statuses = []
        for r in sessions[:2]:
            c = httpx.Client(base_url=url, cookies=r.cookies, timeout=10)
            for _ in range(3):
                bid = c.post("/api/battle/next").json()["battle_id"]
                statuses.append(c.post(f"/api/battle/{bid}/vote", json={"winner": "A"}))
        # session 1: 2 votes then its limit; session 2: 1 vote then the address limit (3)
        assert [r.status_code for r in statuses] == [200, 200, 429, 200, 429, 429]
        assert "this session has used its 2" in statuses[2].json()["detail"]
        assert "your address has used its 3" in statuses[4].json()["detail"]
        assert store.count(Vote) == 3 and store.count(Battle) == 3
        # signed-in raters are not held to the anonymous limits
        c = httpx.Client(base_url=url, timeout=10)
        login(c, "root", "pw-root")
        for _ in range(4):
            bid = c.post("/api/battle/next").json()["battle_id"]
            assert c.post(f"/api/battle/{bid}/vote", json={"winner": "B"}).status_code == 200

    gated = ArenaService(
        fill_store(tmp_path / "g.sqlite"),
        questions(),
        answers(),
        MODELS,
        anonymous=True,
        limits=Limits(anon_code="spring-class"),
    )
    from ui.app import create_server

    with serve_in_thread(create_server(gated)) as url:
        assert httpx.post(f"{url}/api/anonymous").status_code == 403
        wrong = httpx.post(f"{url}/api/anonymous", json={"code": "guess"})
        assert wrong.status_code == 403 and "invite link" in wrong.json()["detail"]
        ok = httpx.post(f"{url}/api/anonymous", json={"code": "spring-class"})
        assert ok.status_code == 200 and ok.json()["user"].startswith("anon-")


def _script_hashes(html: str) -> set[str]:
    bodies = re.findall(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", html, re.S | re.I)
    return {
        "'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'"
        for b in bodies
    }


def test_security_headers_and_exports(tmp_path):
    store, _, server = _server(tmp_path)
    temp_before = set(Path("/tmp").glob("arena-export-*")) | set(
        Path("/tmp").glob("gradio/*/votes*")
    )
    with server as url:
        root = httpx.Client(base_url=url, timeout=10)
        login(root, "root", "pw-root")
        ann = httpx.Client(base_url=url, timeout=10)
        login(ann, "ann", "pw-ann")
        for path, c in [("/login", httpx), ("/", root), ("/api/me", root), ("/healthz", httpx)]:
            r = c.get(url + path) if c is httpx else c.get(path)
            assert r.status_code == 200, path
            h = r.headers
            assert h["x-content-type-options"] == "nosniff"
            assert h["x-frame-options"] == "DENY"
            assert h["referrer-policy"] == "no-referrer"
            csp = h["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
            script_src = re.search(r"script-src ([^;]*)", csp).group(1)
            assert "unsafe-inline" not in script_src
            if path == "/":  # Gradio's inline config scripts are allowed by their exact hash
                hashes = _script_hashes(r.text)
                assert hashes and hashes == set(re.findall(r"'sha256-[^']+'", script_src))
                assert "'unsafe-eval'" in script_src  # Gradio's HTML templates need it
            else:
                assert "unsafe-eval" not in script_src
        login_page = httpx.get(url + "/login").text
        assert "<script src=" in login_page and not _script_hashes(login_page)  # no inline

        # exports: admins get a stream; raters 403, strangers 401; nothing lands in a temp folder
        bid = ann.post("/api/battle/next").json()["battle_id"]
        assert ann.post(f"/api/battle/{bid}/vote", json={"winner": "tie"}).status_code == 200
        assert ann.get("/api/admin/export").status_code == 403
        assert ann.get("/api/admin/export", params={"format": "jsonl"}).status_code == 403
        assert httpx.get(f"{url}/api/admin/export").status_code == 401
        with root.stream("GET", "/api/admin/export", params={"format": "csv"}) as r:
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
            assert "attachment" in r.headers["content-disposition"]
            text = "".join(r.iter_text())
        lines = text.strip().splitlines()
        assert lines[0].startswith("schema_version,battle_id,rater") and len(lines) == 2
        assert bid in lines[1] and ",ann," in lines[1]
        jsonl = root.get("/api/admin/export", params={"format": "jsonl"}).text
        assert jsonl.count("\n") == 1 and bid in jsonl
        assert root.get("/api/admin/export", params={"format": "xml"}).status_code == 400
    temp_after = set(Path("/tmp").glob("arena-export-*")) | set(
        Path("/tmp").glob("gradio/*/votes*")
    )
    assert temp_after == temp_before


def test_users_file_rejects_repeated_names(tmp_path):
    from ui.auth import load_users

    h = hash_password("x")
    f = tmp_path / "users.txt"
    f.write_text(f"# team\nann rater {h}\nbob admin {h}\n\nann admin {h}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_users(f)
    assert str(err.value) == (f"{f}:5, field 'name': user 'ann' is already defined on line 2")
    f.write_text(f"anon-1 rater {h}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"users.txt:1, field 'name': names starting"):
        load_users(f)


HOSTILE = '**gamma**<img src=x onerror="window.__pwned=1"> [x](javascript:1)'


def test_model_names_are_plain_text():
    import pandas as pd

    from arena.service_views import Leaderboard
    from ui.battle import reveal_html
    from ui.leaderboard import md_text, ratings_figure

    out = reveal_html("A is better", [HOSTILE, "beta"])
    assert "<img" not in out and "&lt;img src=x onerror=&quot;" in out
    assert "**gamma**" in out  # shown as typed, not as bold
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").render(md_text(HOSTILE))
    assert "<strong>" not in md and "<img" not in md and "<a " not in md
    table = pd.DataFrame(
        [{"model": HOSTILE, "rating": 1000.0, "lower": 990.0, "upper": 1010.0, "rank": 1}]
    )
    fig = ratings_figure(Leaderboard("human", table, pd.DataFrame(), pd.DataFrame()))
    assert "<img" not in fig.data[0].y[0] and "&lt;img" in fig.data[0].y[0]
