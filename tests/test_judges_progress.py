"""Answer and judge runs report progress (what `arena run` turns into bars with an ETA)."""

from __future__ import annotations

from arena.core.store import Store
from arena.models.base import ChatParams
from arena.models.openai_compat import OpenAICompatModel
from judges.answers import generate_answers
from judges.judge import load_judge
from judges.questions import load_questions
from judges.run import run_judge
from tests.pipeline_fixtures import fake_server


def test_progress_reaches_the_total_and_counts_stored_work(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    questions = load_questions("arena_bilingual", limit=3)
    with fake_server() as srv:
        models = [OpenAICompatModel(n, model=n, base_url=srv.base_url) for n in ("a", "b")]
        calls: list[tuple[str, int, int]] = []
        generate_answers(models, questions, store, ChatParams(max_tokens=8),
                         progress=lambda m, d, t: calls.append((m, d, t)))
        assert calls[-1] == ("b", 3, 3) and ("a", 3, 3) in calls
        assert calls[0] == ("a", 0, 3)  # nothing stored at first
        judge = load_judge("mt-bench-pair")
        seen: list[tuple[int, int]] = []
        report = run_judge(judge, OpenAICompatModel("judge", base_url=srv.base_url), questions, None,
                           store, ["a", "b"], progress=lambda d, t: seen.append((d, t)))
        assert seen[0] == (0, report.tasks) and seen[-1] == (report.tasks, report.tasks)
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)
        again: list[tuple[str, int, int]] = []
        generate_answers(models, questions, store, ChatParams(max_tokens=8),
                         progress=lambda m, d, t: again.append((m, d, t)))
        assert again == [("a", 3, 3), ("b", 3, 3)]  # all stored: done from the start


def test_battles_get_answer_lengths_for_length_control():
    from arena.core.records import Answer, Battle
    from judges.pairwise import add_length_features

    answers = [Answer(model="a", question_id="q", turns=["12345", "1"]),
               Answer(model="b", question_id="q", turns=["12", "123"])]
    battles = [Battle(source="judge:j", question_id="q", model_a="a", model_b="b", winner="tie", turn=t)
               for t in (1, 2)] + [Battle(source="judge:j", question_id="x", model_a="a", model_b="b",
                                          winner="tie")]
    out = add_length_features(battles, answers)
    assert [b.features for b in out] == [{"len_a": 5.0, "len_b": 2.0}, {"len_a": 1.0, "len_b": 3.0}, {}]
