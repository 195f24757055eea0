"""Live battles in the service (no browser): streaming from two backends, regenerate,
follow-ups, the vote's records, the leaderboard filter, limits, failures, the --live file."""

from __future__ import annotations

import pytest

from arena.core.records import Answer, Battle, Question, Vote
from arena.models.base import ChatResponse
from arena.models.openai_compat import OpenAICompatModel
from arena.models.testserver import FakeOpenAIServer, count_words
from arena.service import ArenaService, Conflict, NotFound, ServiceError, TooMany
from arena.service_live import LiveConfig
from arena.service_views import leaderboard
from tests.ui_fixtures import MODELS, answers, fill_store, questions


class Scripted:
    """A sync streaming backend: answers 'NAME says PROMPT #n' word by word."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail, self.calls = name, fail, []

    def chat_stream(self, messages, params):
        self.calls.append((messages, params))
        if self.fail:
            raise RuntimeError("backend down")
        text = f"{self.name} says {messages[-1]['content']} #{len(self.calls)}"
        for word in text.split(" "):
            yield word + " "
        yield ChatResponse(text=text, prompt_tokens=3, completion_tokens=len(text.split()))


def _service(tmp_path, live, **cfg):
    store = fill_store(tmp_path / "arena.sqlite")
    return store, ArenaService(
        store,
        questions(),
        answers(),
        MODELS,
        seed=0,
        live_models=live,
        live_config=LiveConfig(**cfg),
    )


def _drain(gen) -> list[list[str]]:
    return list(gen)


def test_live_battle_records_and_leaderboard(tmp_path):
    with FakeOpenAIServer(
        responder=lambda d: "api answer to " + d["messages"][-1]["content"]
    ) as srv:
        srv.stream_gap = 0.001
        live = {
            "scripted": Scripted("scripted"),
            "api": OpenAICompatModel("api", base_url=srv.base_url),
        }
        store, svc = _service(tmp_path, live, max_prompt=50, refresh=0.0)
        bid = svc.live.start("ann", "What is rain?")
        st = svc.live.state("ann", bid)
        assert st.models is None and st.turns == ["What is rain?"]  # names stay hidden
        frames = _drain(svc.live.stream("ann", bid))
        assert len(frames) > 4  # piece by piece
        assert sorted(frames[-1]) == sorted(
            ["scripted says What is rain? #1", "api answer to What is rain?"]
        )
        st = svc.live.vote("ann", bid, "B")
        assert sorted(st.models) == ["api", "scripted"]
        api_answer = next(a for a in store.all(Answer) if a.model == "api")
        assert api_answer.turns == ["api answer to What is rain?"]
        assert api_answer.completion_tokens == count_words(api_answer.turns[0])  # usage chunk
        assert srv.bodies[-1]["stream"] is True


def test_live_flow_without_network(tmp_path):
    live = {"one": Scripted("one"), "two": Scripted("two")}
    store, svc = _service(tmp_path, live, max_prompt=30, max_turns=2, per_hour=3, refresh=0.0)
    with pytest.raises(ServiceError, match="limit is 30"):
        svc.live.start("ann", "x" * 31)
    bid = svc.live.start("ann", "Hi?")
    with pytest.raises(Conflict, match="wait for both answers"):
        svc.live.vote("ann", bid, "A")
    first = _drain(svc.live.stream("ann", bid))[-1]
    svc.live.regenerate("ann", bid)
    second = _drain(svc.live.stream("ann", bid))[-1]
    assert first != second and all("#2" in t for t in second)  # answered again
    with pytest.raises(NotFound):
        svc.live.follow_up("bob", bid, "mine?")  # someone else's battle
    svc.live.follow_up("ann", bid, "More?")
    with pytest.raises(Conflict, match="wait for both answers"):
        svc.live.follow_up("ann", bid, "Even more?")
    _drain(svc.live.stream("ann", bid))
    with pytest.raises(ServiceError, match="at most 2 turns"):
        svc.live.follow_up("ann", bid, "Third?")
    st = svc.live.vote("ann", bid, "tie", reason="same", session="s1")
    assert st.done and sorted(st.models) == ["one", "two"]
    with pytest.raises(Conflict):
        svc.live.vote("ann", bid, "A")
    with pytest.raises(Conflict, match="closed"):
        svc.live.follow_up("ann", bid, "late")

    (q,) = store.all(Question, question_set="live")
    assert q.turns == ["Hi?", "More?"] and q.id == f"live-{bid}" and q.category == "live"
    ans = {a.model: a for a in store.all(Answer) if a.question_set == "live"}
    assert ans["one"].turns == ["one says Hi? #2", "one says More? #3"]
    assert ans["one"].params == {"live": True, "regenerated": 1}
    assert ans["one"].completion_tokens == 4 + 4  # the kept answers (Scripted counts words)
    (battle,) = store.all(Battle)
    assert (battle.question_id, battle.turn, battle.winner, battle.ref) == (q.id, 2, "tie", bid)
    assert battle.features["len_a"] == len("one says More? #3")
    (vote,) = store.all(Vote)
    assert (vote.rater, vote.reason, vote.session, vote.question_set) == (
        "ann",
        "same",
        "s1",
        "live",
    )
    # the model the messages went to saw the whole conversation of its own side
    msgs, params = live["one"].calls[-1]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[1]["content"] == "one says Hi? #2" and params.seed is not None

    # prepared battles next to live ones: the leaderboard filters
    bid2 = svc.next_battle("ann").id
    svc.vote("ann", bid2, "A")
    n = {
        k: int(leaderboard(store, live=k, n_bootstrap=5).table["n_battles"].sum())
        for k in ("all", "live", "prepared")
    }
    assert n == {"all": 4, "live": 2, "prepared": 2}  # each battle counts for both models
    table = leaderboard(store, live="all", n_bootstrap=5).table
    assert {"rating", "lower", "upper", "elo", "elo_lower", "elo_upper"} <= set(table.columns)

    # named mode: the rater picks, sees the names, and cannot vote
    nid = svc.live.start("ann", "Compare", named=["two", "one"])
    assert svc.live.state("ann", nid).models == ["two", "one"]
    with pytest.raises(ServiceError, match="pick two different"):
        svc.live.start("ann", "x", named=["one", "one"])
    _drain(svc.live.stream("ann", nid))
    with pytest.raises(ServiceError, match="not voted"):
        svc.live.vote("ann", nid, "A")
    svc.live.start("ann", "third")  # per_hour=3: the battle and the named one came first
    with pytest.raises(TooMany, match="3 live battles"):
        svc.live.start("ann", "fourth")
    svc.live.start("bob", "bob's first")  # the limit is per rater


def test_failing_model_is_shown_and_cannot_be_voted(tmp_path):
    live = {"ok": Scripted("ok"), "bad": Scripted("bad", fail=True)}
    store, svc = _service(tmp_path, live, refresh=0.0)
    bid = svc.live.start("ann", "Hello")
    last = _drain(svc.live.stream("ann", bid))[-1]
    assert any("this model failed: backend down" in t for t in last)
    with pytest.raises(Conflict, match="wait for both answers"):
        svc.live.vote("ann", bid, "A")
    live["bad"].fail = False
    svc.live.regenerate("ann", bid)
    _drain(svc.live.stream("ann", bid))
    assert svc.live.vote("ann", bid, "B").done and store.count(Battle) == 1


def test_live_file(tmp_path):
    from arena.core.errors import ConfigError
    from ui.cli import load_live

    f = tmp_path / "live.yaml"
    f.write_text(
        "models:\n"
        "  - {name: a, backend: openai, model: m1, base_url: 'http://127.0.0.1:9/v1'}\n"
        "  - {name: b, backend: openai, model: m2, base_url: 'http://127.0.0.1:9/v1'}\n"
        "max_prompt: 300\ntemperature: 0.5\n",
        encoding="utf-8",
    )
    models, cfg = load_live(f)
    assert sorted(models) == ["a", "b"] and cfg.max_prompt == 300 and cfg.params.temperature == 0.5
    f.write_text(f.read_text() + "colour: red\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"live.yaml:6.*colour"):
        load_live(f)
