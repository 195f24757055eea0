"""Postprocessors: turn a raw generation into the answer that is compared with the gold one."""

from __future__ import annotations

import re
from collections.abc import Callable

from arena.core.errors import ConfigError
from arena.core.registry import Registry

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_ANSWER_IS = re.compile(
    r"(?:answer is|answer:|答案是|答案为|答案：|答案:|选项)\s*[:：]?\s*\(?\s*([A-J])\b", re.IGNORECASE
)


def first_option(text: str, letters: str = "ABCD") -> str:
    """The chosen option letter: an explicit "answer is (X)" first, else the first letter.

    A letter counts only when it stands alone (not the "A" of "Apple").
    """
    m = _ANSWER_IS.search(text)
    if m and m.group(1).upper() in letters:
        return m.group(1).upper()
    for m in re.finditer(rf"(?<![A-Za-z])([{letters}])(?![A-Za-z])", text):
        return m.group(1)
    return ""


def canonical_number(text: str) -> str:
    """'1,200' -> '1200', '18.0' -> '18', '.5' -> '0.5'; anything else unchanged."""
    s = text.replace(",", "").strip().rstrip(".")
    try:
        value = float(s)
    except ValueError:
        return text.strip()
    return str(int(value)) if value.is_integer() else repr(value)


def last_number(text: str) -> str:
    """The last number in the text (GSM8K style), canonical; '' when there is none."""
    found = _NUMBER.findall(text)
    return canonical_number(found[-1]) if found else ""


def gsm8k_answer(text: str) -> str:
    """The last number of the first paragraph (where OpenCompass's gsm8k postprocessor looks).

    Unlike OpenCompass it keeps the sign and decimals ('-3.5' stays '-3.5', not '35').
    """
    return last_number(text.split("\n\n")[0])


def boxed(text: str) -> str:
    r"""The content of the last \boxed{...} (nested braces allowed); '' when absent."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return ""
    depth, i = 0, start + len("\\boxed")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1: j].strip()
    return ""


def code_block(text: str) -> str:
    """The first fenced code block (```python ... ```), else the text itself."""
    m = re.search(r"```(?:python|py)?[ \t]*\n(.*?)(?:```|$)", text, re.DOTALL)
    return m.group(1) if m else text


def first_line(text: str) -> str:
    return text.strip().split("\n")[0].strip()


#: postprocessors by name (a dataset card's `postprocess`); plugins: entry points `arena.postprocessors`
POSTPROCESSORS: Registry[Callable[..., str]] = Registry("postprocess", "postprocessors")
for _name, _fn in {
    "first_option": first_option,
    "last_number": last_number,
    "gsm8k": gsm8k_answer,
    "boxed": boxed,
    "code": code_block,
    "first_line": first_line,
    "none": lambda t: t,
}.items():
    POSTPROCESSORS.add(_name, _fn)


def get_postprocessor(name: str) -> Callable[..., str]:
    if name not in POSTPROCESSORS:
        raise ConfigError(f"unknown postprocess '{name}' (known: {', '.join(POSTPROCESSORS)})",
                          field="postprocess")
    return POSTPROCESSORS[name]
