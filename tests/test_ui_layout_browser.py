"""Layout in a real browser (Debian chromium): a 200 KB answer keeps the vote bar and the
reveal in view at 1400x900 and 390x844, answers stack on a phone, the leaderboard fits a
phone, and Chinese text is drawn with real CJK glyphs (fonts-noto-cjk in CI)."""

from __future__ import annotations

import re

import pytest

from arena.core.records import Answer, Question
from arena.service import ArenaService, hash_password
from tests.system_parts import need
from tests.test_ui_browser import ARGS, ARTIFACTS, CHROMIUM
from tests.ui_fixtures import QSET, fill_store, serve_in_thread

pytestmark = pytest.mark.browser

POEM = "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"


def _big_answer() -> str:
    para = "This is a very long answer paragraph with **some markdown** and words. " * 12
    out, i = [], 0
    while sum(len(p) for p in out) < 200_000:
        out.append(f"## Part {i}\n\n{para}\n\n- item one\n- item two\n")
        i += 1
    return "\n".join(out)


def _service(tmp_path):
    store = fill_store(tmp_path / "arena.sqlite")
    qs = [
        Question(question_set=QSET, id="big", category="writing", turns=["Write at length."]),
        Question(question_set=QSET, id="zh", category="writing", turns=["写一首关于春天的诗。"]),
    ]
    big = _big_answer()
    assert len(big.encode()) >= 200_000
    ans = [
        Answer(model="alpha", question_set=QSET, question_id="big", turns=[big]),
        Answer(model="beta", question_set=QSET, question_id="big", turns=["Short answer."]),
        Answer(model="alpha", question_set=QSET, question_id="zh", turns=[POEM]),
        Answer(model="beta", question_set=QSET, question_id="zh", turns=[POEM[::-1]]),
    ]
    svc = ArenaService(store, qs, ans, ["alpha", "beta"], seed=0)
    svc.set_user("pat", "rater", hash_password("pw"))
    return svc


def _in_view(page, selector: str, width: int, height: int) -> dict:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    assert box["y"] >= -1 and box["y"] + box["height"] <= height + 1, (selector, box)
    assert box["x"] >= -1 and box["x"] + box["width"] <= width + 1, (selector, box)
    return box


# Canvas check of real glyphs: each CJK character about 1em wide and drawn differently
# (missing glyphs come out as identical boxes).
GLYPHS = """(sel) => {
  const el = document.querySelector(sel);
  const cs = getComputedStyle(el);
  const size = parseFloat(cs.fontSize);
  const c = document.createElement('canvas'); c.width = 64; c.height = 64;
  const ctx = c.getContext('2d', {willReadFrequently: true});
  ctx.font = `${cs.fontWeight} ${size}px ${cs.fontFamily}`;
  const chars = ['春', '眠', '晓', '鸟'];
  const widths = chars.map(ch => ctx.measureText(ch).width / size);
  const bitmaps = chars.map(ch => {
    ctx.clearRect(0, 0, 64, 64); ctx.fillText(ch, 4, 40);
    return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
  });
  return {widths, distinct: new Set(bitmaps).size, family: cs.fontFamily,
          noto: document.fonts.check(`${size}px "Noto Sans CJK SC"`, '春')};
}"""


checked: list[str] = []


def _check_big(page, width: int, height: int, tag: str) -> None:
    """Each answer scrolls in its own pane; the vote buttons are on screen."""
    page.wait_for_selector("#vote-a:not([disabled])")
    panes = page.evaluate(
        """() => [...document.querySelectorAll('#answer-a .arena-answer, #answer-b .arena-answer')]
             .map(e => ({h: e.clientHeight, sh: e.scrollHeight}))"""
    )
    assert max(p["sh"] for p in panes) > 50_000  # the big answer is really there
    assert all(p["h"] <= 0.6 * height for p in panes), panes
    for sel in ("#vote-a", "#vote-b", "#vote-tie", "#vote-bad"):
        _in_view(page, sel, width, height)
    a = page.locator("#answer-a").bounding_box()
    b = page.locator("#answer-b").bounding_box()
    if width < 700:  # stacked on a phone, each as wide as the screen allows
        assert b["y"] >= a["y"] + a["height"] - 1 and a["width"] >= 0.8 * width
    else:  # side by side on a desktop
        assert abs(a["y"] - b["y"]) < 2 and b["x"] > a["x"] + a["width"] - 1
    page.screenshot(path=str(ARTIFACTS / f"layout_{tag}.png"))
    checked.append("big")


def _check_cjk(page, tag: str) -> None:
    page.wait_for_selector("#vote-a:not([disabled])")
    assert "春" in page.inner_text("#answer-a")
    g = page.evaluate(GLYPHS, "#answer-a .arena-md")
    assert g["noto"], g  # the CJK font is installed and in the stack
    assert all(0.9 <= w <= 1.1 for w in g["widths"]), g  # full-width glyphs
    assert g["distinct"] == 4, g  # four different shapes, not four boxes
    assert re.search(r"Noto Sans CJK", g["family"]), g
    page.screenshot(path=str(ARTIFACTS / f"cjk_{tag}.png"))
    checked.append("cjk")


@pytest.mark.parametrize("width,height", [(1400, 900), (390, 844)])
def test_vote_bar_in_view_with_a_200kb_answer(tmp_path, width, height):
    need(CHROMIUM.exists(), "Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    svc = _service(tmp_path)
    from ui.app import create_server

    with serve_in_thread(create_server(svc)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(30_000)
        page.goto(url + "/login")
        page.fill("#username", "pat")
        page.fill("#password", "pw")
        page.click("#signin")
        page.wait_for_selector("#answer-a .arena-answer")
        page.wait_for_selector("#vote-a:not([disabled])")
        tag = f"{width}x{height}"
        for _ in range(2):  # two battles: the 200 KB answer and the poem, in either order
            if "Write at length" in page.inner_text("#battle-question"):
                _check_big(page, width, height, tag)
            else:
                _check_cjk(page, tag)
            page.click("#vote-a")
            page.wait_for_selector("#battle-reveal >> text=Vote saved")
            _in_view(page, "#battle-reveal", width, height)  # the names and the buttons together
            _in_view(page, "#next-battle", width, height)
            page.screenshot(path=str(ARTIFACTS / f"layout_{tag}_revealed.png"))
            page.click("#next-battle")
            page.wait_for_selector("#battle-reveal >> text=Vote saved", state="detached")
            page.wait_for_timeout(300)
        assert sorted(checked) == ["big", "cjk"]
        checked.clear()

        # the leaderboard fits the screen: no column cut off
        page.get_by_role("tab", name="Leaderboard").click()
        page.wait_for_selector("#lb-table >> text=BT rating")
        fit = page.evaluate(
            """() => { const w = document.querySelector('.arena-lb-wrap');
                 const cells = [...document.querySelectorAll('.arena-lb th, .arena-lb td')];
                 return {sw: w.scrollWidth, cw: w.clientWidth,
                         right: Math.max(...cells.map(c => c.getBoundingClientRect().right))}; }"""
        )
        assert fit["sw"] <= fit["cw"] + 1 and fit["right"] <= width + 1, fit
        page.screenshot(path=str(ARTIFACTS / f"leaderboard_{tag}.png"), full_page=True)
        browser.close()
