"""Judge panels (majority / mean with disagreements) and answer generation (resumable)."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.core.records import Answer, Judgment
from arena.core.store import Store
from arena.models.base import ChatParams
from arena.models.openai_compat import OpenAICompatModel
from arena.models.testserver import FakeOpenAIServer
from judges.answers import generate_answers
from judges.panel import panel_battles, panel_scores
from tests.judges_fixtures import questions


def _pj(judge: str, qid: str, order: str, verdict: str) -> Judgment:
    return Judgment(judge=judge, judge_hash="h", mode="pairwise", question_id=qid, model_a="x", model_b="y",
                    order=order, verdict=verdict)


def test_panel_majority_and_disagreements() -> None:
    js = []
    for judge, verdicts in {"j1@a": ["A", "A"], "j2@b": ["A", "B"], "j3@c": ["B", "C"]}.items():
        # each judge is consistent across orders; q1: x, x, y -> x; q2: x, y, tie -> no majority
        js += [_pj(judge, "q1", "AB", verdicts[0]), _pj(judge, "q1", "BA", {"A": "B", "B": "A", "C": "C"}[verdicts[0]])]
        js += [_pj(judge, "q2", "AB", verdicts[1]), _pj(judge, "q2", "BA", {"A": "B", "B": "A", "C": "C"}[verdicts[1]])]
    res = panel_battles(js)
    assert {b.question_id: b.winner for b in res.battles} == {"q1": "model_a", "q2": "tie"}  # q2: x, y, tie
    assert res.items == 2 and len(res.disagreements) == 2 and res.disagreement_rate == 1.0
    assert res.disagreements[0]["votes"] == {"j1@a": "model_a", "j2@b": "model_a", "j3@c": "model_b"}


def test_panel_mean_scores() -> None:
    js = [Judgment(judge=j, judge_hash="h", mode="single", question_id="q", model_a="m", order="A", score=s)
          for j, s in (("a", 6.0), ("b", 8.0), ("c", 7.0))]
    js.append(Judgment(judge="d", judge_hash="h", mode="single", question_id="q", model_a="m", order="A",
                       parse_error="no score"))
    res = panel_scores(js, tolerance=1.0)
    [s] = res.scores
    assert s.score == 7.0 and len(s.dimensions) == 3 and len(res.disagreements) == 1


def test_generate_answers_multi_turn_resumable(tmp_path: Path) -> None:
    qs = questions(3)  # two turns each
    store = Store(tmp_path / "s.sqlite")
    with FakeOpenAIServer(delay=0.01) as server:  # echoes the last user message
        model = OpenAICompatModel("echo", base_url=server.base_url, max_retries=0)
        out = generate_answers([model], qs, store, ChatParams(max_tokens=32))
        assert server.requests == 6
        turn2 = [b["messages"] for b in server.bodies if len(b["messages"]) == 3]
        assert len(turn2) == 3
        # turn 2 carries the model's own turn-1 answer
        assert all(m[1] == {"role": "assistant", "content": f"Echo: {m[0]['content']}"} for m in turn2)
        assert len(out) == 3 and all(len(a.turns) == 2 and a.completion_tokens > 0 and a.latency > 0 for a in out)
        server.reset_counters()
        again = generate_answers([model], qs, store, ChatParams(max_tokens=32))
        assert server.requests == 0 and sorted(a.key() for a in again) == sorted(a.key() for a in out)
        generate_answers([model], qs, store, ChatParams(max_tokens=16))  # new params: new answers
        assert server.requests == 6 and store.count(Answer) == 6


def test_generate_answers_hf_batches_turns(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from arena.models.hf import HFModel
    from arena.models.testing import make_tiny_model

    model = HFModel(make_tiny_model(tmp_path / "tiny"), name="tiny")
    calls = []
    real = model.chat_many

    def spy(convs, params):  # count batch calls: turn 1 of all questions, then turn 2
        calls.append(len(convs))
        return real(convs, params)

    model.chat_many = spy
    qs = questions(3) + questions(1, two_turn=False, qset="one")
    store = Store(tmp_path / "s.sqlite")
    out = generate_answers([model], qs, store, ChatParams(max_tokens=4))
    assert calls == [4, 3] and len(out) == 4 and store.count(Answer) == 4
    assert [len(a.turns) for a in out] == [2, 2, 2, 1]
