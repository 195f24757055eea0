"""Named parsers: judge output text -> verdict label (pairwise) or score (single).

Every parser is a plain function `parse(text) -> Parsed` that raises `ParseError` when it
cannot find a verdict; a judge's `judge.yaml` names its parser. The rules are written for
what real judges emit: markdown bold, stray spaces, echoed instructions, several verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from arena.core.errors import ArenaError
from arena.core.registry import Registry


class ParseError(ArenaError):
    """The judge output holds no (or an ambiguous) verdict."""


@dataclass(frozen=True)
class Parsed:
    """A parsed verdict: `label` in the judge's verdict scale, `score` for single judges."""

    label: str
    score: float | None = None


Parser = Callable[[str], Parsed]
#: judge output parsers by name (a judge.yaml's `parser`); plugins: entry points `arena.parsers`
PARSERS: Registry[Parser] = Registry("parser", "parsers")


def parser(name: str) -> Callable[[Parser], Parser]:
    """Register a parser under `name` (plugins may add their own)."""
    return PARSERS.register(name)


def get_parser(name: str) -> Parser:
    return PARSERS.get(name)  # UnknownNameError lists the known ones


_NUM = r"(-?\d+(?:\.\d+)?)"
_STRIP_MD = re.compile(r"[*_`]")


def _clean(text: str) -> str:
    # Markdown emphasis and full-width brackets are noise around the verdict marker.
    t = _STRIP_MD.sub("", text or "")
    return t.replace("［", "[").replace("］", "]").replace("【", "[").replace("】", "]")


def _last_number(text: str, patterns: list[str], lo: float, hi: float) -> float:
    t = _clean(text)
    for pat in patterns:
        found = re.findall(pat, t, flags=re.IGNORECASE)
        if found:
            value = float(found[-1])
            if not lo <= value <= hi:
                raise ParseError(f"score {value:g} outside [{lo:g}, {hi:g}]")
            return value
    raise ParseError("no score found")


@parser("rating_1_10")
def parse_rating_1_10(text: str) -> Parsed:
    """MT-Bench single: `Rating: [[7]]` (last one wins); falls back to `[7]`, `Rating: 7/10`."""
    score = _last_number(text, [
        r"\[\[\s*(?:rating\s*[:=]?\s*)?" + _NUM + r"\s*(?:/\s*10)?\s*\]\]",
        r"rating\s*[:=]?\s*\[\s*" + _NUM + r"\s*\]",
        r"rating\s*(?:is|of|[:=])?\s*" + _NUM + r"\s*(?:/\s*10|out of 10)?",
        r"(?:score|grade)\s*(?:is|of|[:=])?\s*" + _NUM + r"\s*(?:/\s*10|out of 10)",
    ], 1, 10)
    return Parsed(f"{score:g}", score)


@parser("rubric_1_5")
def parse_rubric_1_5(text: str) -> Parsed:
    """Rubric single: `Score: 4` or `[[4]]` or `4/5` (last one wins), 1..5."""
    score = _last_number(text, [
        r"\[\[\s*(?:score\s*[:=]?\s*)?" + _NUM + r"\s*(?:/\s*5)?\s*\]\]",
        r"(?:final\s+)?score\s*(?:is|of|[:=])?\s*" + _NUM,
        _NUM + r"\s*(?:/\s*5|out of 5)\b",
    ], 1, 5)
    return Parsed(f"{score:g}", score)


@parser("score_only_1_5")
def parse_score_only_1_5(text: str) -> Parsed:
    """A reply that is just the score (`4`, `4.`, `Score: 4`): the first number, 1..5."""
    m = re.match(r"\s*(?:score\s*[:=]?\s*)?(\d+(?:\.\d+)?)\b", _clean(text), flags=re.IGNORECASE)
    if not m:
        raise ParseError("the reply does not start with a score")
    score = float(m.group(1))
    if not 1 <= score <= 5:
        raise ParseError(f"score {score:g} outside [1, 5]")
    return Parsed(f"{score:g}", score)


def _markers(text: str, pattern: str, normalise: Callable[[str], str | None]) -> list[str]:
    """Verdict markers in order, skipping lines that list 3+ different ones (echoed instructions)."""
    out: list[str] = []
    for line in _clean(text).splitlines():
        found = [v for v in (normalise(m) for m in re.findall(pattern, line, flags=re.IGNORECASE)) if v]
        if len(set(found)) < 3:
            out.extend(found)
    return out


def _abc(m: str) -> str | None:
    m = re.sub(r"(?i)assistant|\s", "", m).upper()
    return {"A": "A", "B": "B", "C": "C", "TIE": "C"}.get(m)


@parser("pairwise_abc")
def parse_pairwise_abc(text: str) -> Parsed:
    """MT-Bench pairwise: `[[A]]`, `[[B]]` or `[[C]]` (tie); the last marker wins."""
    found = _markers(text, r"\[\[\s*((?:assistant\s*)?[abc]|tie)\s*\]\]", _abc)
    if not found:
        m = re.findall(r"final\s+verdict\W{0,5}(?:is\W{0,3})?(?:assistant\s*)?([ABC]|tie)\b", _clean(text),
                       flags=re.IGNORECASE)
        found = [v for v in map(_abc, m) if v]
    if not found:
        raise ParseError("no [[A]]/[[B]]/[[C]] verdict found")
    return Parsed(found[-1])


_FIVE = {"A>>B", "A>B", "A=B", "B>A", "B>>A"}


def _five(m: str) -> str | None:
    s = re.sub(r"\s", "", m).upper().replace("≫", ">>").replace("≪", "<<").replace("==", "=")
    flip = {"B<<A": "A>>B", "B<A": "A>B", "A<B": "B>A", "A<<B": "B>>A", "B=A": "A=B"}
    s = flip.get(s, s)
    return s if s in _FIVE else None


@parser("five_level")
def parse_five_level(text: str) -> Parsed:
    """Arena-hard: `[[A>>B]]`, `[[A>B]]`, `[[A=B]]`, `[[B>A]]`, `[[B>>A]]` (also `<`, `≫`)."""
    found = _markers(text, r"\[\[\s*([AB]\s*(?:>>|>|=|==|<<|<|≫|≪)\s*[AB])\s*\]\]", _five)
    if not found:
        raise ParseError("no [[A>>B]]..[[B>>A]] verdict found")
    return Parsed(found[-1])


@parser("preference_12")
def parse_preference_12(text: str) -> Parsed:
    """AlpacaEval-style: `Output (a)` -> "1", `Output (b)` -> "2" (a bare `a`/`b` too)."""
    t = _clean(text).strip()
    found = re.findall(r"output\s*\(?\s*([ab12])\s*\)?", t, flags=re.IGNORECASE)
    if not found:
        bare = re.fullmatch(r"\(?\s*([ab12])\s*\)?\W*", t, flags=re.IGNORECASE)
        found = [bare.group(1)] if bare else []
    distinct = {f.lower().replace("a", "1").replace("b", "2") for f in found}
    lead = re.match(r"output\s*\(?\s*([ab12])\b", t, flags=re.IGNORECASE)
    if len(distinct) > 1 and lead:  # "Output (b) is better than Output (a)": the lead counts
        distinct = {lead.group(1).lower().replace("a", "1").replace("b", "2")}
    if len(distinct) != 1:
        raise ParseError("no preference" if not distinct else "both outputs named")
    return Parsed(distinct.pop())
