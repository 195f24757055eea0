"""Safe rendering of untrusted model output: Markdown to HTML, then an allow-list sanitiser.

Raw HTML inside answers is kept as far as it is harmless: nh3 (ammonia) drops script, style,
iframe and every tag not on the list, every attribute not on the list (so no `on*` event
handlers or `style`), and URLs whose scheme is not http(s)/mailto (so no `javascript:`).
Images are dropped too: a remote image would call out of an offline rater's machine.
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt

_TAGS = nh3.ALLOWED_TAGS - {"img", "map", "area"}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},  # fenced code language ("language-python")
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
    "abbr": {"title"},
}
_SCHEMES = {"http", "https", "mailto"}


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True, "breaks": True}).enable(
        ["table", "strikethrough"]
    )


def sanitize(fragment: str) -> str:
    """Allow-list clean an HTML fragment."""
    return nh3.clean(
        fragment,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def render_markdown(text: str) -> str:
    """Markdown (possibly with raw HTML) to sanitised HTML."""
    return sanitize(_markdown().render(text or ""))


def render_question(turns: list[str], category: str = "") -> str:
    """The question (all turns) as a sanitised HTML block."""
    head = f'<div class="arena-cat">{html.escape(category)}</div>' if category else ""
    parts = []
    for i, turn in enumerate(turns, 1):
        label = f'<div class="arena-turn">Turn {i}</div>' if len(turns) > 1 else ""
        parts.append(f'{label}<div class="arena-md">{render_markdown(turn)}</div>')
    return f'<div class="arena-question">{head}{"".join(parts)}</div>'


def render_answer(label: str, turns: list[str]) -> str:
    """One anonymous answer (every turn) under a heading such as "Answer A"."""
    parts = []
    for i, turn in enumerate(turns, 1):
        sub = f'<div class="arena-turn">Turn {i}</div>' if len(turns) > 1 else ""
        parts.append(f'{sub}<div class="arena-md">{render_markdown(turn)}</div>')
    title = f'<div class="arena-answer-title">{html.escape(label)}</div>'
    return f'<div class="arena-answer">{title}{"".join(parts)}</div>'
