"""The raters' HTTP API against a real server on 127.0.0.1: what it must refuse."""

from __future__ import annotations

import httpx
import pytest

from arena.core.records import Battle, Vote
from arena.service import ArenaService, hash_password
from tests.ui_fixtures import MODELS, answers, fill_store, login, questions, serve_in_thread


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = fill_store(tmp_path_factory.mktemp("sec") / "arena.sqlite")
    svc = ArenaService(store, questions(), answers(), MODELS, seed=1)
    svc.set_user("ann", "rater", hash_password("pw-ann"))
    svc.set_user("bob", "rater", hash_password("pw-bob"))
    svc.set_user("root", "admin", hash_password("pw-root"))
    from ui.app import create_server

    with serve_in_thread(create_server(svc)) as url:
        yield url, store, svc


def client(url: str, name: str | None = None, password: str = "") -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=10)
    if name:
        login(c, name, password)
    return c


def test_battle_json_hides_models_and_votes_are_guarded(server):
    url, store, _ = server
    ann, bob = client(url, "ann", "pw-ann"), client(url, "bob", "pw-bob")
    before = store.count(Vote)
    r = ann.post("/api/battle/next")
    assert r.status_code == 200
    assert not any(m in r.text for m in MODELS)  # no model identity before the vote
    bid = r.json()["battle_id"]

    # someone else's battle, no session, a forged session, a model name as verdict, extra fields
    assert bob.post(f"/api/battle/{bid}/vote", json={"winner": "A"}).status_code == 404
    assert httpx.post(f"{url}/api/battle/{bid}/vote", json={"winner": "A"}).status_code == 401
    forged = {"Authorization": "Bearer not-a-session"}
    assert (
        httpx.post(f"{url}/api/battle/{bid}/vote", json={"winner": "A"}, headers=forged).status_code
        == 401
    )
    assert ann.post(f"/api/battle/{bid}/vote", json={"winner": "alpha"}).status_code == 422
    body = {"winner": "A", "model_a": "gamma", "model_b": "alpha"}
    assert ann.post(f"/api/battle/{bid}/vote", json=body).status_code == 422
    assert store.count(Vote) == before

    r = ann.post(f"/api/battle/{bid}/vote", json={"winner": "B", "reason": "clearer"})
    assert r.status_code == 200 and set(r.json()["models"].values()) <= set(MODELS)
    assert ann.post(f"/api/battle/{bid}/vote", json={"winner": "A"}).status_code == 409
    assert store.count(Vote) == before + 1 and store.count(Battle) == before + 1
    (vote,) = [v for v in store.all(Vote) if v.battle_id == bid]
    assert (vote.rater, vote.winner, vote.reason) == ("ann", "model_b", "clearer")
    assert vote.model_b == r.json()["models"]["B"]


def test_scores_are_guarded(server):
    url, store, _ = server
    ann, bob = client(url, "ann", "pw-ann"), client(url, "bob", "pw-bob")
    item = ann.post("/api/single/next").json()
    assert not any(m in str(item) for m in MODELS)
    iid = item["item_id"]
    assert bob.post("/api/score", json={"item_id": iid, "score": 5}).status_code == 404
    assert ann.post("/api/score", json={"item_id": iid, "score": 11}).status_code == 422
    assert (
        ann.post("/api/score", json={"item_id": iid, "score": 5, "model": "alpha"}).status_code
        == 422
    )
    ok = ann.post("/api/score", json={"item_id": iid, "score": 5, "dimensions": {"correctness": 4}})
    assert ok.status_code == 200 and ok.json()["model"] in MODELS
    assert ann.post("/api/score", json={"item_id": iid, "score": 6}).status_code == 409


def test_login_roles_and_pages(server):
    url, _, _ = server
    assert (
        httpx.post(f"{url}/api/login", json={"username": "ann", "password": "nope"}).status_code
        == 401
    )
    assert client(url, "ann", "pw-ann").get("/api/admin/export").status_code == 403
    root = client(url, "root", "pw-root")
    export = root.get("/api/admin/export", params={"format": "jsonl"})
    assert export.status_code == 200
    assert httpx.get(f"{url}/api/leaderboard").status_code == 401
    assert root.get("/api/leaderboard").status_code == 200
    # the main page sends strangers to the sign-in form; the form escapes what it echoes
    r = httpx.get(url + "/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("login")
    page = httpx.get(url + "/login", params={"invite": '"><script>alert(1)</script>'}).text
    assert "<script>alert(1)" not in page and "&quot;&gt;&lt;script&gt;" in page
    assert httpx.get(url + "/config").status_code == 401  # Gradio itself wants a session
    assert httpx.post(f"{url}/api/anonymous").status_code == 403  # not enabled here
    cookie_login = httpx.post(f"{url}/api/login", json={"username": "ann", "password": "pw-ann"})
    set_cookie = cookie_login.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie


def test_invites_and_anonymous_over_http(tmp_path):
    store = fill_store(tmp_path / "arena.sqlite")
    svc = ArenaService(store, questions(), answers(), MODELS, seed=2, anonymous=True)
    (token,) = svc.create_invites(1)
    from ui.app import create_server

    with serve_in_thread(create_server(svc)) as url:
        c = httpx.Client(base_url=url, timeout=10)
        r = c.post("/api/invite", json={"token": token})
        assert r.status_code == 200 and r.json()["role"] == "rater"
        assert httpx.post(f"{url}/api/invite", json={"token": token}).status_code == 401  # once
        assert c.get("/api/me").json()["user"].startswith("invite-")
        bid = c.post("/api/battle/next").json()["battle_id"]
        assert c.post(f"/api/battle/{bid}/vote", json={"winner": "tie"}).status_code == 200
        (vote,) = store.all(Vote)
        session_token = r.json()["token"]
        assert vote.session and vote.session not in session_token  # a hash, not the secret
        anon = httpx.Client(base_url=url, timeout=10)
        assert anon.post("/api/anonymous").json()["user"].startswith("anon-")
        assert anon.post("/api/battle/next").status_code == 200
        assert "Continue without an account" in httpx.get(url + "/login").text
