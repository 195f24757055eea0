"""The score-only judge for small local models: few-shot turns and its parser."""

from __future__ import annotations

import pytest

from arena.core.errors import ConfigError
from arena.core.records import Answer, Question
from judges.judge import load_judge
from judges.parsers import ParseError, get_parser


def test_few_shot_turns_come_before_the_question():
    judge = load_judge("quick-score")
    q = Question(id="q1", turns=["Capital of Italy?"])
    msgs = judge.messages(q, 1, [Answer(model="m", question_id="q1", turns=["Rome."])])
    roles = [m["role"] for m in msgs]
    assert roles == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert [m["content"] for m in msgs if m["role"] == "assistant"] == ["5", "1", "4"]
    assert msgs[-1]["content"] == "Question: Capital of Italy?\nAnswer: Rome.\nScore:"


@pytest.mark.parametrize("text, score", [("4", 4), (" 2.", 2), ("Score: 3", 3), ("1. 1", 1), ("5\n", 5)])
def test_score_only_parser_accepts(text, score):
    assert get_parser("score_only_1_5")(text).score == score


@pytest.mark.parametrize("text", ["100 +", "You are right, 5", "", "0", "6"])
def test_score_only_parser_rejects(text):
    with pytest.raises(ParseError):
        get_parser("score_only_1_5")(text)


def test_a_shot_without_its_answer_fails_at_load(tmp_path):
    (tmp_path / "judge.yaml").write_text(
        "name: t\nmode: single\nparser: score_only_1_5\nscale: [1, 5]\nturns: [1]\n")
    (tmp_path / "prompt.txt").write_text(
        "<<<shot_user_1>>>\nQ: x\n<<<user>>>\nQuestion: {question}\nAnswer: {answer}\n")
    with pytest.raises(ConfigError) as info:
        load_judge(tmp_path)
    assert "shot_assistant_1" in str(info.value) and "prompt.txt" in str(info.value)
