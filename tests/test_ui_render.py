"""Untrusted model output renders as inert HTML; useful Markdown survives."""

from __future__ import annotations

import pytest

from tests.ui_fixtures import EVIL
from ui.render import render_answer, render_markdown, render_question

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x OnErRoR=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    '<iframe src="https://example.com"></iframe>',
    "<svg onload=alert(1)><circle/></svg>",
    '<div style="background:url(javascript:alert(1))" onmouseover="alert(1)">hi</div>',
    "<object data=x></object><embed src=x>",
    '<form action="https://evil"><input name=a></form>',
    "<style>body{display:none}</style>",
    '<a href="data:text/html,<script>alert(1)</script>">d</a>',
    "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_is_inert(attack):
    out = render_markdown(attack).lower()
    for bad in (
        "<script",
        "onerror",
        "onload",
        "onmouseover",
        "<iframe",
        "<svg",
        "<img",
        "<object",
        "<embed",
        "<form",
        "<style",
        "style=",
        'href="javascript',
        'href="data',
    ):
        assert bad not in out, (attack, out)


def test_markdown_survives():
    md = "# Title\n\n**bold** and `code`\n\n```python\nx = 1 < 2\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[ok](https://example.com)"
    out = render_markdown(md)
    assert "<h1>Title</h1>" in out and "<strong>bold</strong>" in out
    assert '<code class="language-python">x = 1 &lt; 2' in out
    assert "<table>" in out and "<td>1</td>" in out
    assert 'href="https://example.com"' in out and "noopener" in out


def test_fixture_answer_and_wrappers():
    out = render_answer("Answer A", [EVIL, "second <b onclick=x()>turn</b>"])
    assert "Turn 2" in out and "<b>turn</b>" in out and "Here you go." in out
    assert "onclick" not in out and "<script" not in out and "onerror" not in out
    q = render_question(["<script>x</script>first"], "<b>cat</b>")
    assert "<script" not in q and "&lt;b&gt;cat&lt;/b&gt;" in q
