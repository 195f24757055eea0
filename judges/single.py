"""Single-answer grading: one call per (model, question, turn); scores become `Score` rows."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from arena.core.records import Judgment, Question, Score
from judges.judge import Judge
from judges.tasks import AnswerIndex, JudgeTask, judged_turns


def single_tasks(judge: Judge, judge_model: str, questions: Sequence[Question], index: AnswerIndex,
                 models: Sequence[str]) -> list[JudgeTask]:
    """A task per model, question and judged turn (questions lacking an answer are left out)."""
    tasks = []
    for q in questions:
        for m in models:
            ans = index.get((m, q.id))
            if ans is None or len(ans.turns) < len(q.turns):
                continue
            for t in judged_turns(judge, q):
                tasks.append(JudgeTask(q, t, m, None, "A", functools.partial(judge.messages, q, t, [ans]),
                                       judge.judge_id(judge_model), judge.hash, "single"))
    return tasks


def judgments_to_scores(judgments: Iterable[Judgment], questions: Sequence[Question] | None = None) -> list[Score]:
    """Parsed single judgments -> `Score` rows (source `judge:<id>`); parse failures skipped."""
    category = {q.id: q.category for q in questions or []}
    out = []
    for j in judgments:
        if j.mode != "single" or j.score is None or j.parse_error:
            continue
        out.append(Score(source=f"judge:{j.judge}", model=j.model_a, question_set=j.question_set,
                         question_id=j.question_id, category=category.get(j.question_id, "general"),
                         turn=j.turn, score=j.score))
    return out
