"""Judges as data: loading, bad prompts failing at load time, golden rendered prompts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from arena.core.errors import ConfigError, UnknownNameError
from judges.judge import CONFIGS_DIR, judge_names, load_judge
from judges.tasks import prompt_text
from tests.judges_fixtures import GOLDEN, answers, questions

BUILT_IN = ["alpaca-eval", "arena-hard", "mt-bench-pair", "mt-bench-single", "quick-score", "rubric-single"]


def test_built_in_judges_load() -> None:
    assert judge_names() == BUILT_IN
    for name in BUILT_IN:
        j = load_judge(name)
        assert j.name == name and len(j.hash) == 16


def _copy(tmp_path: Path, name: str = "mt-bench-single") -> Path:
    d = tmp_path / name
    shutil.copytree(CONFIGS_DIR / name, d)
    return d


def test_missing_placeholder_fails_at_load_with_file_and_line(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    p = d / "prompt.txt"
    text = p.read_text()
    p.write_text(text.replace("{reference}", "(reference omitted)"))
    line = next(i for i, s in enumerate(p.read_text().splitlines(), 1) if s == "<<<user:reference>>>")
    with pytest.raises(ConfigError) as e:
        load_judge(d)
    assert f"{p}:{line}" in str(e.value) and "{reference}" in str(e.value)


def test_unknown_placeholder_and_missing_section(tmp_path: Path) -> None:
    d = _copy(tmp_path, "mt-bench-pair")
    p = d / "prompt.txt"
    p.write_text(p.read_text().replace("{answer_b}\n[Answer of assistant B ends]", "{answr_b}\n", 1))
    with pytest.raises(ConfigError, match=r"lacks placeholder \{answer_b\}"):
        load_judge(d)
    d2 = _copy(tmp_path, "rubric-single")
    p2 = d2 / "prompt.txt"
    p2.write_text(p2.read_text().split("<<<user:multi_turn>>>")[0])
    with pytest.raises(ConfigError, match="user:multi_turn"):
        load_judge(d2)


def test_bad_yaml_key_and_unknown_names(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    y = d / "judge.yaml"
    y.write_text(y.read_text().replace("parse_retries: 2", "parse_retry: 2"))
    with pytest.raises(ConfigError, match="judge.yaml:.*parse_retry.*unknown key"):
        load_judge(d)
    y.write_text(y.read_text().replace("parse_retry: 2", "parser: rating_1_100"))
    with pytest.raises((UnknownNameError, ConfigError)):
        load_judge(d)
    with pytest.raises(UnknownNameError, match="mt-bench-single"):
        load_judge("mt-bench-singel")


VARIANTS = [  # (judge, question index, turn): q0 is math (reference), q1 writing
    ("mt-bench-single", 0, 1), ("mt-bench-single", 0, 2), ("mt-bench-single", 1, 1),
    ("mt-bench-single", 1, 2), ("mt-bench-pair", 0, 2), ("mt-bench-pair", 1, 1),
    ("arena-hard", 1, 1), ("alpaca-eval", 1, 1), ("rubric-single", 0, 2),
]


@pytest.mark.parametrize("name,qi,turn", VARIANTS)
def test_golden_prompts(name: str, qi: int, turn: int) -> None:
    j = load_judge(name)
    q = questions(2)[qi]
    ans = answers(["m1", "m2"], [q])
    shown = ans[:1] if j.config.mode == "single" else ans
    text = prompt_text(j.messages(q, turn, shown))
    golden = GOLDEN / f"{name}-q{qi}-t{turn}.txt"
    if os.environ.get("ARENA_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
    # the answers and, for math, the references really are in the prompt
    assert all(a.turns[turn - 1] in text for a in shown)
    assert ("Ref 0" in text) == (qi == 0 and bool(j.config.reference_categories))


def test_braces_in_answers_are_not_placeholders() -> None:
    j = load_judge("mt-bench-single")
    q = questions(2)[1]
    a = answers(["m1"], [q])[0]
    a.turns[0] = "def f(): return {question} {answer}"
    text = j.messages(q, 1, [a])[-1]["content"]
    assert "def f(): return {question} {answer}" in text
