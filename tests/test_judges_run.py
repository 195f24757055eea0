"""run_judge against the loopback OpenAI-compatible test server with scripted judges."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from arena.core.cache import Cache
from arena.core.errors import MissingKeyError
from arena.core.records import Answer, Judgment
from arena.core.store import Store
from arena.models.openai_compat import OpenAICompatModel
from arena.models.testserver import FakeOpenAIServer
from judges.judge import load_judge
from judges.pairwise import judgments_to_battles
from judges.run import make_judge_model, run_judge
from judges.single import judgments_to_scores
from tests.judges_fixtures import (
    first_position_judge,
    honest_pair_judge,
    honest_single_judge,
    questions,
    seeded_store,
)

MODELS = ["m0", "m1", "m2"]


def _model(server: FakeOpenAIServer, cache: Cache | None = None) -> OpenAICompatModel:
    return OpenAICompatModel("judge-x", base_url=server.base_url, max_retries=0, cache=cache)


def test_pairwise_both_orders_sent_and_consistent_battles(tmp_path: Path) -> None:
    qs = questions(2)
    store = seeded_store(tmp_path / "s.sqlite", MODELS, qs)
    judge = load_judge("mt-bench-pair")
    with FakeOpenAIServer(responder=honest_pair_judge) as server:
        rep = run_judge(judge, _model(server), qs, None, store, MODELS)
        # 3 pairs x 2 questions x 2 turns x 2 orders
        assert server.by_endpoint["/v1/chat/completions"] == 24 == rep.new == rep.tasks
        prompts = [b["messages"][-1]["content"] for b in server.bodies]
    # every pair/turn was shown both ways: m0's answer first in one prompt, second in the other
    pair01 = [p for p in prompts if "model m0" in p and "model m1" in p]
    m0_first = sum(p.index("model m0") < p.index("model m1") for p in pair01)
    assert len(pair01) == 8 and m0_first == 4  # 2 questions x 2 turns, each in both orders
    assert rep.parse_failures == 0 and rep.parse_success_rate == 1.0
    assert rep.flip == {"pairs": 12, "flips": 0, "flip_rate": 0.0, "prefers_first": 0, "prefers_second": 0}
    battles = judgments_to_battles(store.all(Judgment), judge)
    assert len(battles) == 12
    assert all(b.winner == "model_b" and b.source == "judge:mt-bench-pair@judge-x" for b in battles)
    # a rerun finds everything stored and makes no call
    with FakeOpenAIServer(responder=honest_pair_judge) as server:
        rep2 = run_judge(judge, _model(server), qs, None, store, MODELS)
        assert server.requests == 0 and rep2.skipped == 24 and rep2.new == 0


@pytest.mark.parametrize("policy", ["tie", "half"])
def test_position_bias_flip_rate_and_inconsistent_policy(tmp_path: Path, policy: str) -> None:
    qs = questions(2, two_turn=False)
    store = seeded_store(tmp_path / "s.sqlite", MODELS, qs)
    judge = load_judge("mt-bench-pair", overrides=[f"inconsistent={policy}"])
    with FakeOpenAIServer(responder=first_position_judge) as server:
        rep = run_judge(judge, _model(server), qs, None, store, MODELS)
    assert rep.flip["flip_rate"] == 1.0 and rep.flip["pairs"] == 6 and rep.flip["prefers_first"] == 6
    battles = judgments_to_battles(rep.judgments, judge)
    if policy == "tie":
        assert [b.winner for b in battles] == ["tie"] * 6
    else:
        assert len(battles) == 12 and {b.weight for b in battles} == {0.5}
        assert sorted(b.winner for b in battles) == ["model_a"] * 6 + ["model_b"] * 6


def test_baseline_and_random_swap(tmp_path: Path) -> None:
    qs = questions(4, two_turn=False)
    store = seeded_store(tmp_path / "s.sqlite", MODELS, qs)
    judge = load_judge("mt-bench-pair", overrides=["position=random-swap", "seed=3"])
    with FakeOpenAIServer(responder=honest_pair_judge) as server:
        rep = run_judge(judge, _model(server), qs, None, store, MODELS, baseline="m1")
        assert server.requests == 8  # 2 pairs x 4 questions x 1 order
    assert {(j.model_a, j.model_b) for j in rep.judgments} == {("m1", "m0"), ("m1", "m2")}
    assert {j.order for j in rep.judgments} == {"AB", "BA"}  # the seeded coin lands both ways
    wins = {(b.model_a, b.model_b): b.winner for b in judgments_to_battles(rep.judgments, judge)}
    assert wins == {("m1", "m0"): "model_a", ("m1", "m2"): "model_b"}


def test_single_scores_multi_turn(tmp_path: Path) -> None:
    qs = questions(2)
    store = seeded_store(tmp_path / "s.sqlite", MODELS, qs)
    judge = load_judge("mt-bench-single")
    with FakeOpenAIServer(responder=honest_single_judge) as server:
        rep = run_judge(judge, _model(server), qs, None, store, MODELS, mode="single")
        assert server.requests == 12
        turn2 = [b["messages"][-1]["content"] for b in server.bodies if "turn two" in b["messages"][-1]["content"]]
    assert len(turn2) == 6 and all("turn one" in p for p in turn2)  # turn 2 sees the whole dialogue
    scores = judgments_to_scores(rep.judgments, qs)
    assert sorted({(s.model, s.score) for s in scores}) == [("m0", 2.0), ("m1", 3.0), ("m2", 4.0)]
    assert {s.category for s in scores} == {"math", "writing"}


def test_parse_failure_retried_then_recorded(tmp_path: Path) -> None:
    qs = questions(1, two_turn=False)
    store = seeded_store(tmp_path / "s.sqlite", ["m0"], qs)
    judge = load_judge("mt-bench-single")
    cache = Cache(tmp_path / "cache.sqlite")
    with FakeOpenAIServer(replies=["I cannot decide.", "Still thinking", "no idea"]) as server:
        rep = run_judge(judge, _model(server, cache), qs, None, store, ["m0"])
        assert server.requests == 3  # first try + 2 retries, none served by the cache
        seeds = [b.get("seed") for b in server.bodies]
        temps = [b.get("temperature") for b in server.bodies]
    assert seeds[0] is None and len(set(seeds)) == 3 and temps[1] == 0.7
    [j] = store.all(Judgment)
    assert j.parse_error and j.verdict is None and j.attempts == 3 and j.raw_output == "no idea"
    assert rep.parse_failures == 1 and rep.parsed == 0 and rep.retries == 2
    assert judgments_to_scores([j]) == []
    # a rerun keeps the recorded failure; retry_failures re-judges it and replaces the row
    with FakeOpenAIServer(replies=["Rating: [[6]]"]) as server:
        rep2 = run_judge(judge, _model(server, cache), qs, None, store, ["m0"])
        assert server.requests == 0 and rep2.parse_failures == 1
        rep3 = run_judge(judge, _model(server, cache), qs, None, store, ["m0"], retry_failures=True)
        assert server.requests == 1
    [j] = store.all(Judgment)
    assert j.score == 6 and j.parse_error is None and rep3.parse_failures == 0


def test_retry_succeeds_and_costs_add_up(tmp_path: Path) -> None:
    qs = questions(1, two_turn=False)
    store = seeded_store(tmp_path / "s.sqlite", ["m0"], qs)
    judge = load_judge("rubric-single")
    with FakeOpenAIServer(replies=["hmm", "Solid.\nScore: 4"]) as server:
        model = OpenAICompatModel("j", base_url=server.base_url, max_retries=0, price_in=1e6, price_out=0)
        rep = run_judge(judge, model, qs, None, store, ["m0"])
    [j] = rep.judgments
    assert j.score == 4 and j.attempts == 2 and j.prompt_tokens > 0
    assert j.cost == pytest.approx(j.prompt_tokens)  # $1 per prompt token at this price
    assert j.latency > 0 and "Question 0 turn one?" in j.prompt


def test_missing_answer_listed_not_silently_skipped(tmp_path: Path) -> None:
    qs = questions(2, two_turn=False)
    store = Store(tmp_path / "s.sqlite")
    from tests.judges_fixtures import answers

    store.put_many([a for a in answers(MODELS, qs) if not (a.model == "m2" and a.question_id == "q1")])
    with FakeOpenAIServer(responder=honest_single_judge) as server:
        rep = run_judge(load_judge("mt-bench-single"), _model(server), qs, None, store, MODELS)
    assert rep.missing == [("m2", "q1")] and rep.tasks == 5
    assert "missing answers (1): m2/q1" in rep.summary()
    assert store.count(Answer) == 5


def test_missing_key_fails_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY"):
        make_judge_model("gpt-4")


def test_judge_base_url_points_registry_model_at_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAIServer(replies=["Rating: [[5]]"]) as server:
        m = make_judge_model("gpt-4", base_url=server.base_url)
        assert m.base_url == server.base_url and m.model == "gpt-4"
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        assert make_judge_model("gpt-4o").base_url == server.base_url
        assert make_judge_model("my-vllm-model", base_url=server.base_url).model == "my-vllm-model"
    assert "sk-" not in os.environ.get("OPENAI_API_KEY", "")


def test_m_to_n_pairs(tmp_path: Path) -> None:
    from judges.pairwise import m_to_n_pairs

    qs = questions(1, two_turn=False)
    models = ["m0", "m1", "m2", "m3"]
    store = seeded_store(tmp_path / "s.sqlite", models, qs)
    judge = load_judge("arena-hard")
    pairs = m_to_n_pairs(["m0", "m1"], ["m2", "m3"])
    with FakeOpenAIServer(replies=["[[A>>B]]"] * 4 + ["[[B>>A]]"] * 4) as server:
        rep = run_judge(judge, _model(server), qs, None, store, models, pairs=pairs)
        assert server.requests == 8
    assert sorted({(j.model_a, j.model_b) for j in rep.judgments}) == [("m0", "m2"), ("m0", "m3"),
                                                                       ("m1", "m2"), ("m1", "m3")]


def test_hf_judge_batches_and_records_parse_failures(tmp_path: Path) -> None:
    """A random-weight local judge writes gibberish: retried in batches, then recorded."""
    from arena.models.hf import HFModel
    from arena.models.testing import make_tiny_model

    model = HFModel(make_tiny_model(tmp_path / "tiny"), name="tiny", max_seq_len=512)
    sizes = []
    real = model.chat_many
    model.chat_many = lambda convs, params: sizes.append((len(convs), params.seed)) or real(convs, params)
    qs = questions(3, two_turn=False)
    store = seeded_store(tmp_path / "s.sqlite", ["m0", "m1"], qs)
    judge = load_judge("mt-bench-single", overrides=["max_tokens=4", "parse_retries=1"])
    rep = run_judge(judge, model, qs, None, store, ["m0", "m1"])
    assert sizes[0] == (6, None) and len(sizes) <= 2 and (len(sizes) == 1 or sizes[1][1] == 1)
    js = store.all(Judgment)
    assert len(js) == 6 == rep.parsed + rep.parse_failures
    assert all((j.parse_error is None) == (j.score is not None) for j in js)
    assert all(j.attempts == (1 if j.parse_error is None else 2) for j in js)
