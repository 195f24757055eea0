"""Parsers on messy, real-world-shaped judge outputs."""

from __future__ import annotations

import pytest

from judges.parsers import ParseError, get_parser

RATING = [
    ("The answer is fine.\n\nRating: [[8]]", 8),
    ("Rating: [[7.5]]", 7.5),
    ("**Rating:** [[6]]", 6),
    ("Rating: [[ 9 ]]\n", 9),
    ('Format: "Rating: [[5]]". My evaluation... Rating: [[3]]', 3),  # echoed example, last wins
    ("I would rate it [[8/10]].", 8),
    ("Rating: [4]", 4),
    ("Overall rating: 7/10", 7),
    ("Score: 6 out of 10", 6),
    ("评分：【【9】】", 9),
    ("[[Rating: 2]]", 2),
]


@pytest.mark.parametrize("text,score", RATING)
def test_rating_1_10(text: str, score: float) -> None:
    assert get_parser("rating_1_10")(text).score == score


@pytest.mark.parametrize("text", ["", "Good answer, I like it.", "Rating: [[rating]]", "Rating: [[11]]",
                                  "Rating: [[0]]"])
def test_rating_1_10_failures(text: str) -> None:
    with pytest.raises(ParseError):
        get_parser("rating_1_10")(text)


PAIR = [
    ("Assistant A is more detailed. [[A]]", "A"),
    ("[[B]]", "B"),
    ("Both are equal. Final verdict: [[C]]", "C"),
    ('Output "[[A]]" if A is better, "[[B]]" if B is better, and "[[C]]" for a tie.\nHere: [[B]]', "B"),
    ("**[[A]]**", "A"),
    ("My final verdict is [[ Assistant B ]].", "B"),
    ("I first thought [[A]], but on reflection [[B]]", "B"),
    ("Final verdict: **Assistant A**", "A"),
    ("[[tie]]", "C"),
    ("[[a]]", "A"),
]


@pytest.mark.parametrize("text,label", PAIR)
def test_pairwise_abc(text: str, label: str) -> None:
    assert get_parser("pairwise_abc")(text).label == label


@pytest.mark.parametrize("text", ["", "Both are good.", "[[D]]", 'Use "[[A]]", "[[B]]" or "[[C]]".'])
def test_pairwise_abc_failures(text: str) -> None:
    with pytest.raises(ParseError):
        get_parser("pairwise_abc")(text)


FIVE = [
    ("My final verdict is: [[A>B]]", "A>B"),
    ("My final verdict is: [[B>>A]]", "B>>A"),
    ("[[A = B]]", "A=B"),
    ("[[A<<B]]", "B>>A"),
    ("[[B<A]]", "A>B"),
    ("[[A≫B]]", "A>>B"),
    ("My final verdict is **[[B>A]]**.", "B>A"),
    ("1. [[A>>B]]\n2. [[A>B]]\n3. [[A=B]]\n4. [[B>A]]\n5. [[B>>A]]\nMy final verdict is: [[A=B]]", "A=B"),
]


@pytest.mark.parametrize("text,label", FIVE)
def test_five_level(text: str, label: str) -> None:
    assert get_parser("five_level")(text).label == label


@pytest.mark.parametrize("text", ["A is better", "[[A>C]]", "[[A>>>B]]", ""])
def test_five_level_failures(text: str) -> None:
    with pytest.raises(ParseError):
        get_parser("five_level")(text)


PREF = [("Output (a)", "1"), ("Output (b)", "2"), ("**Output (b)**", "2"), ("output (A)", "1"),
        ("Output (b) is better than Output (a).", "2"), ("(a)", "1"), ("b", "2"), ("Output b", "2")]


@pytest.mark.parametrize("text,label", PREF)
def test_preference_12(text: str, label: str) -> None:
    assert get_parser("preference_12")(text).label == label


@pytest.mark.parametrize("text", ["", "Neither.", "Both Output (a) and Output (b) are fine, I cannot choose"])
def test_preference_12_failures(text: str) -> None:
    with pytest.raises(ParseError):
        get_parser("preference_12")(text)


RUBRIC = [("Clear and right.\nScore: 5", 5), ("Score: 3/5", 3), ("[[4]]", 4), ("Final score: 2", 2),
          ("I give it 4/5.", 4), ("**Score**: 1", 1)]


@pytest.mark.parametrize("text,score", RUBRIC)
def test_rubric_1_5(text: str, score: float) -> None:
    assert get_parser("rubric_1_5")(text).score == score


@pytest.mark.parametrize("text", ["Score: 7", "Great answer", "Score: 0"])
def test_rubric_1_5_failures(text: str) -> None:
    with pytest.raises(ParseError):
        get_parser("rubric_1_5")(text)


def test_unknown_parser_lists_known() -> None:
    from arena.core.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="five_level"):
        get_parser("five_levels")
