"""Shared helpers of the judges tests: small question sets, answers, scripted judges."""

from __future__ import annotations

import re
from pathlib import Path

from arena.core.records import Answer, Question
from arena.core.store import Store

GOLDEN = Path(__file__).parent / "golden" / "judges"


def questions(n: int = 3, two_turn: bool = True, qset: str = "tq") -> list[Question]:
    """n questions; even ones are math (with references), odd ones writing."""
    out = []
    for i in range(n):
        math = i % 2 == 0
        turns = [f"Question {i} turn one?"] + ([f"Question {i} turn two?"] if two_turn else [])
        ref = [f"Ref {i}.1", f"Ref {i}.2"][: len(turns)] if math else None
        out.append(Question(question_set=qset, id=f"q{i}", category="math" if math else "writing",
                            turns=turns, reference=ref))
    return out


def answers(models: list[str], qs: list[Question], quality: dict[str, int] | None = None) -> list[Answer]:
    """Answers whose text carries the model's quality, e.g. 'model m1 says q0.1 [Q=3]'."""
    quality = quality or {m: i for i, m in enumerate(models)}
    return [Answer(model=m, question_set=q.question_set, question_id=q.id,
                   turns=[f"model {m} says {q.id}.{t + 1} [Q={quality[m]}]" for t in range(len(q.turns))])
            for m in models for q in qs]


def seeded_store(path: Path, models: list[str], qs: list[Question]) -> Store:
    store = Store(path)
    store.put_many(qs)
    store.put_many(answers(models, qs))
    return store


def _qualities(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"\[Q=(\d+)\]", text)]


def honest_pair_judge(body: dict) -> str:
    """Prefers the answer with the higher [Q=n] in the LAST turn shown (position-neutral)."""
    text = body["messages"][-1]["content"]
    qs = _qualities(text)
    a, b = (qs[0], qs[1]) if len(qs) == 2 else (qs[1], qs[3])
    verdict = "A" if a > b else "B" if b > a else "C"
    return f"Assistant {verdict} is better here.\n\nFinal verdict: [[{verdict}]]"


def first_position_judge(body: dict) -> str:
    """Always prefers the answer shown first: every pair flips."""
    return "The first one reads better. [[A]]"


def honest_single_judge(body: dict) -> str:
    qs = _qualities(body["messages"][-1]["content"])
    return f"Reasonable answer.\n\nRating: [[{min(10, qs[-1] + 2)}]]"
