"""The rating service on a real store: SQLite file, and PostgreSQL when ARENA_TEST_PG_URL is set."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from arena.core.records import Battle, Score, Vote
from arena.service import (
    ArenaService,
    Conflict,
    NotFound,
    ServiceError,
    Unauthorized,
    hash_password,
    verify_password,
)
from arena.service_views import export_votes, leaderboard, progress, sources
from tests.system_parts import pg_url_with_fresh_schema
from tests.ui_fixtures import MODELS, answers, fill_store, questions


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    target = tmp_path / "arena.sqlite" if request.param == "sqlite" else pg_url_with_fresh_schema()
    s = fill_store(target)
    yield s
    s.close()


def service(store, **kw) -> ArenaService:
    return ArenaService(store, questions(), answers(), MODELS, seed=0, **kw)


def test_password_hash_roundtrip_and_salt():
    h1, h2 = hash_password("s3cret"), hash_password("s3cret")
    assert h1 != h2 and h1.startswith("scrypt$")
    assert verify_password("s3cret", h1) and not verify_password("S3cret", h1)
    assert not verify_password("s3cret", "garbage") and not verify_password("x", None)


def test_battle_flow_votes_once_and_never_repeats(store):
    svc = service(store)
    seen = set()
    for i in range(18):  # 3 pairs x 6 questions: everything once, then nothing
        b = svc.next_battle("ann")
        assert b is not None and b.kind == "pair" and len(b.answers) == 2
        assert (
            svc.next_battle("ann").id == b.id
        )  # an open battle is handed out again, not a new one
        rev = svc.vote("ann", b.id, ["A", "B", "tie", "bothbad"][i % 4], reason="r")
        key = (b.question_id, tuple(sorted(rev.models)))
        assert key not in seen
        seen.add(key)
        with pytest.raises(Conflict):
            svc.vote("ann", b.id, "A")
    assert svc.next_battle("ann") is None
    assert store.count(Vote) == 18 and store.count(Battle) == 18
    battles = store.all(Battle)
    assert {b.source for b in battles} == {"human"}
    assert sum(b.winner == "tie (bothbad)" for b in battles) == 4
    q1 = [b for b in battles if b.question_id == "q1"]
    assert q1 and all(b.turn == 2 for b in q1)  # both turns shown: the last turn is judged


def test_vote_rejections(store):
    svc = service(store)
    b = svc.next_battle("ann")
    with pytest.raises(NotFound):
        svc.vote("bob", b.id, "A")  # issued to someone else
    with pytest.raises(NotFound):
        svc.vote("ann", "not-an-id", "A")
    with pytest.raises(ServiceError):
        svc.vote("ann", b.id, "alpha")  # a model name is not a verdict
    single = svc.next_single("ann")
    with pytest.raises(NotFound):
        svc.vote("ann", single.id, "A")  # a single-rating item is not a battle
    assert store.count(Vote) == 0 and store.count(Battle) == 0
    assert svc.vote("ann", b.id, "B").verdict == "B"


def test_concurrent_double_vote_accepts_one(store):
    svc = service(store)
    b = svc.next_battle("ann")
    results: list[str] = []

    def go():
        try:
            svc.vote("ann", b.id, "A")
            results.append("ok")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 7 + ["ok"]
    assert store.count(Vote) == 1


def test_state_survives_a_new_service(store):
    """A second process (new service object on the same store) sees open battles and votes."""
    b = service(store).next_battle("ann")
    other = service(store)
    assert other.next_battle("ann").id == b.id
    other.vote("ann", b.id, "tie")
    with pytest.raises(Conflict):
        service(store).vote("ann", b.id, "A")


def test_sampler_prefers_pairs_with_few_votes(store):
    svc = service(store, ci_ttl=1e9, counts_ttl=0)
    for r in range(6):
        b = svc.next_battle(f"r{r}")
        svc.vote(f"r{r}", b.id, "A")
    with store.engine.connect() as conn:
        _, per_pair, _ = svc._state(conn, "pair", "nobody")
    assert sorted(per_pair.values()) == [2, 2, 2]  # 6 votes spread evenly over 3 pairs


def test_single_rating(store):
    svc = service(store)
    item = svc.next_single("ann")
    assert len(item.answers) == 1
    with pytest.raises(ServiceError):
        svc.score("ann", item.id, 11)
    with pytest.raises(ServiceError):
        svc.score("ann", item.id, 5, {"charm": 3})
    rev = svc.score("ann", item.id, 7, {"helpfulness": 8}, "fine")
    assert rev.models[0] in MODELS
    (score,) = store.all(Score)
    assert (score.source, score.score, score.dimensions, score.comment) == (
        "human",
        7.0,
        {"helpfulness": 8.0},
        "fine",
    )
    with pytest.raises(Conflict):
        svc.score("ann", item.id, 7)


def test_users_sessions_invites(store):
    svc = service(store, anonymous=False)
    svc.set_user("ann", "admin", hash_password("pw"))
    s = svc.login("ann", "pw")
    assert svc.session_user(s.token).is_admin
    with pytest.raises(Unauthorized):
        svc.login("ann", "wrong")
    with pytest.raises(Unauthorized):
        svc.login("nobody", "pw")
    (tok,) = svc.create_invites(1)
    s2 = svc.redeem_invite(tok)
    assert svc.session_user(s2.token).role == "rater"
    with pytest.raises(Unauthorized):
        svc.redeem_invite(tok)  # one-time
    svc.logout(s.token)
    assert svc.session_user(s.token) is None and svc.session_user("forged") is None
    with pytest.raises(ServiceError):
        svc.anonymous_session()
    assert service(store, anonymous=True).anonymous_session().user.name.startswith("anon-")


def test_views(store):
    svc = service(store)
    for r in ("ann", "bob"):
        for _ in range(9):
            b = svc.next_battle(r)
            rev = svc.vote(r, b.id, "A" if rev_first(b, svc) == "alpha" else "B")
            assert rev
    store.put(
        Battle(
            source="judge:j1", question_id="q2", model_a="alpha", model_b="beta", winner="model_a"
        )
    )
    assert sources(store) == ["human", "judge:j1", "combined"]
    lb = leaderboard(store, "human", n_bootstrap=20)
    assert lb.table["model"].iloc[0] == "alpha" and lb.table["n_battles"].sum() == 2 * 18
    assert (lb.table["lower"] <= lb.table["rating"]).all() and (
        lb.table["rating"] <= lb.table["upper"]
    ).all()
    per_pair, grid = progress(store, "uitest", svc.pairs)
    assert per_pair["votes"].sum() == 18 and grid.shape[0] > 0
    csv = export_votes(store, "csv")
    assert csv.count("\n") == 19 and export_votes(store, "jsonl").count("\n") == 18


def rev_first(b, svc) -> str:
    """Which model was shown as A (test-only peek at the server state)."""
    import sqlalchemy as sa

    from arena.service import issued_table

    with svc.store.engine.connect() as conn:
        return conn.execute(
            sa.select(issued_table.c.model_a).where(issued_table.c.id == b.id)
        ).scalar()


def test_sampler_prefers_pairs_with_overlapping_cis(store):
    svc = service(store, ci_ttl=1e9, counts_ttl=1e9)
    # alpha is clearly ahead of both; beta and gamma overlap: their pair is the informative one
    svc._ci = (
        time.monotonic(),
        {"alpha": (1200, 1300), "beta": (900, 1100), "gamma": (1000, 1150)},
    )
    picks = Counter(svc._pick("pair", set(), Counter(), Counter())[1] for _ in range(600))
    assert picks["beta|gamma"] / 600 == pytest.approx(1 / 1.5, abs=0.06)  # weights 1 : .25 : .25
    assert picks["alpha|beta"] > 0 and picks["alpha|gamma"] > 0  # still sampled, less often


def test_limits_live_and_async_vote_on_both_stores(store):
    """The counters (upserts), a live battle and the event-loop vote on SQLite and PostgreSQL."""
    import asyncio

    from arena.models.base import ChatResponse
    from arena.service import Limits, TooMany
    from arena.service_live import LiveConfig

    class Echo:
        def __init__(self, name):
            self.name = name

        def chat_stream(self, messages, params):
            yield f"{self.name}: {messages[-1]['content']}"
            yield ChatResponse(text=f"{self.name}: {messages[-1]['content']}")

    lim = Limits(login_free_user=2, login_base_delay=30, anon_votes=1, anon_sessions=2)
    svc = service(
        store,
        anonymous=True,
        limits=lim,
        live_models={"e1": Echo("e1"), "e2": Echo("e2")},
        live_config=LiveConfig(refresh=0.0),
    )
    svc.set_user("ann", "rater", hash_password("pw"))
    for _ in range(2):
        with pytest.raises(Unauthorized):
            svc.login("ann", "bad", addr="10.0.0.1")
    with pytest.raises(TooMany, match="this account"):
        svc.login("ann", "pw", addr="10.0.0.2")
    anon = [svc.anonymous_session(addr="10.0.0.9") for _ in range(2)]
    with pytest.raises(TooMany):
        svc.anonymous_session(addr="10.0.0.9")
    name = anon[0].user.name
    b1 = svc.next_battle(name)
    rev = asyncio.run(svc.vote_async(name, b1.id, "A", session="s-anon"))
    assert rev.models and store.count(Vote) == 1
    b2 = svc.next_battle(name)
    with pytest.raises(TooMany, match="this session"):
        svc.vote(name, b2.id, "B", session="s-anon")
    b3 = svc.next_battle("ann")
    asyncio.run(svc.vote_async("ann", b3.id, "tie"))
    with pytest.raises(Conflict):
        asyncio.run(svc.vote_async("ann", b3.id, "A"))
    bid = svc.live.start("ann", "hello?")
    shown = list(svc.live.stream("ann", bid))[-1]
    assert sorted(shown) == ["e1: hello?", "e2: hello?"]
    svc.live.vote("ann", bid, "tie")
    assert store.count(Battle) == 3
    lb = leaderboard(store, live="live", n_bootstrap=5)
    assert sorted(lb.table["model"]) == ["e1", "e2"]
