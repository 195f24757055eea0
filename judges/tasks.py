"""Units of judge work: one call for one question turn and one answer (or pair) in one order."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from arena.core.records import Answer, Judgment, Question, content_hash
from arena.models.base import Message
from judges.judge import Judge

AnswerIndex = dict[tuple[str, str], Answer]


@dataclass
class JudgeTask:
    """One judge call to make (or skip, when its Judgment is stored).

    `render` is the prompt or a function that renders it: rendered on first use of
    `messages`, so a rerun that finds every judgment stored renders no prompt at all.
    """

    question: Question
    turn: int
    model_a: str
    model_b: str | None
    order: str  # "A" (single), "AB" (model_a shown first) or "BA"
    render: list[Message] | Callable[[], list[Message]]
    judge_id: str
    judge_hash: str
    mode: str

    @functools.cached_property
    def messages(self) -> list[Message]:
        return self.render() if callable(self.render) else self.render

    def judgment(self, **fields: object) -> Judgment:
        """A Judgment for this task; its key depends only on the identifying fields."""
        return Judgment(judge=self.judge_id, judge_hash=self.judge_hash, mode=self.mode,  # type: ignore[arg-type]
                        question_set=self.question.question_set, question_id=self.question.id,
                        model_a=self.model_a, model_b=self.model_b, turn=self.turn,
                        order=self.order, prompt=prompt_text(self.messages), **fields)  # type: ignore[arg-type]

    @property
    def ident(self) -> tuple:
        """The Judgment's key fields, in `Judgment.key_fields` order."""
        return (self.judge_id, self.judge_hash, self.question.question_set, self.question.id,
                self.model_a, self.model_b, self.turn, self.order)

    @functools.cached_property
    def key(self) -> str:
        """`Judgment.key()` of this task's judgment, without building one."""
        return content_hash(dict(zip(Judgment.key_fields, self.ident)), 32)

    def use_key(self, key: str) -> None:
        """Take the key of a stored judgment with the same `ident` (no hashing again)."""
        self.__dict__["key"] = key


def judgment_ident(j: Judgment) -> tuple:
    """A stored judgment's key fields, comparable with `JudgeTask.ident`."""
    return (j.judge, j.judge_hash, j.question_set, j.question_id, j.model_a, j.model_b, j.turn, j.order)


def prompt_text(messages: Sequence[Message]) -> str:
    """The rendered prompt as stored: sections marked like prompt.txt's."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return "\n".join(f"<<<{m['role']}>>>\n{m['content']}" for m in messages)


def index_answers(answers: Iterable[Answer]) -> AnswerIndex:
    """(model, question id) -> answer; the first stored answer wins when there are several."""
    out: AnswerIndex = {}
    for a in answers:
        out.setdefault((a.model, a.question_id), a)
    return out


def judged_turns(judge: Judge, q: Question) -> list[int]:
    return [t for t in sorted(judge.config.turns) if t <= len(q.turns)]


def find_missing(index: AnswerIndex, questions: Sequence[Question], models: Sequence[str]) -> list[tuple[str, str]]:
    """(model, question id) pairs with no answer, or an answer with too few turns."""
    out = []
    for m in models:
        for q in questions:
            a = index.get((m, q.id))
            if a is None or len(a.turns) < len(q.turns):
                out.append((m, q.id))
    return out
