"""The rating UI in a real browser (Debian chromium through playwright's sync API).

Screenshots of every tab are kept under artifacts/ui/ for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from arena.core.records import Battle, Score, Vote
from arena.service import ArenaService, hash_password
from tests.system_parts import need
from tests.ui_fixtures import MODELS, answers, fill_store, questions, serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "ui"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser

# Elements inside the answers that could run code: script/iframe/img, on* attributes, js: URLs
DOM_CHECK = """() => [...document.querySelectorAll('#answer-a *, #answer-b *')].flatMap(el => {
  const bad = [];
  if (['SCRIPT', 'IFRAME', 'IMG', 'OBJECT', 'EMBED'].includes(el.tagName)) bad.push(el.tagName);
  for (const a of el.attributes) {
    if (a.name.startsWith('on')) bad.push(el.tagName + '@' + a.name);
    if (/^\\s*javascript:/i.test(a.value)) bad.push(el.tagName + '@' + a.name + '=js');
  }
  return bad;
})"""


@pytest.fixture
def browser_page():
    need(CHROMIUM.exists(), "Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        outside: list[str] = []

        def offline(route):  # the UI must work without the internet: nothing leaves loopback
            outside.append(route.request.url)
            route.abort()

        page.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]).*"), offline)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        yield page, outside, dialogs
        browser.close()


def sign_in(page, url: str, name: str, password: str) -> None:
    page.goto(url + "/")
    page.wait_for_url(re.compile(r".*/login$"))
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#signin")
    page.wait_for_selector("#who >> text=Signed in as")


def open_battle(page) -> None:
    page.wait_for_selector("#answer-a .arena-answer")
    page.wait_for_selector("#vote-a:not([disabled])")


def test_rate_in_browser(tmp_path, browser_page):
    page, outside, dialogs = browser_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    store = fill_store(tmp_path / "arena.sqlite")
    svc = ArenaService(store, questions(), answers(), MODELS, seed=3)
    svc.set_user("ann", "admin", hash_password("correct horse"))
    from ui.app import create_server

    with serve_in_thread(create_server(svc)) as url:
        sign_in(page, url, "ann", "correct horse")
        revealed = []
        for i in range(5):
            open_battle(page)
            dom = page.inner_text("body")
            assert not any(m in dom for m in MODELS)  # names stay on the server until the vote
            if i == 0:
                page.screenshot(path=str(ARTIFACTS / "battle.png"), full_page=True)
            if i % 2:
                page.click(["#vote-a", "#vote-b", "#vote-tie", "#vote-bad"][i % 4])
            else:
                page.fill("#battle-reason textarea", f"reason {i}")
                page.locator("body").click(position={"x": 5, "y": 5})  # leave the text box
                page.keyboard.press(["a", "b", "t", "x"][i % 4])
            page.wait_for_selector("#battle-reveal >> text=Vote saved")
            text = page.inner_text("#battle-reveal")
            names = re.findall(r"answer [AB] was (\w+)", text, re.I)
            assert len(names) == 2 and set(names) <= set(MODELS)
            revealed.append(tuple(names))
            if i == 0:
                page.screenshot(path=str(ARTIFACTS / "battle_revealed.png"), full_page=True)
            page.keyboard.press("n") if i % 2 else page.click("#next-battle")
            page.wait_for_selector("#battle-reveal >> text=Vote saved", state="detached")

        page.get_by_role("tab", name="Single rating").click()
        for i in range(2):
            page.wait_for_selector("#single-answer .arena-answer")
            page.wait_for_selector("#submit-score:not([disabled])")
            page.locator("#score-overall").get_by_text(str(6 + i), exact=True).click()
            page.locator("#score-helpfulness").get_by_text("7", exact=True).click()
            page.fill("#score-comment textarea", f"comment {i}")
            if i == 0:
                page.screenshot(path=str(ARTIFACTS / "single.png"), full_page=True)
            page.click("#submit-score")
            page.wait_for_selector("#single-reveal >> text=Rating saved")
            page.click("#next-single")
            page.wait_for_selector("#single-reveal >> text=Rating saved", state="detached")

        page.get_by_role("tab", name="Leaderboard").click()
        page.wait_for_selector("#lb-table >> text=rating")
        page.wait_for_selector("#lb-heatmap .js-plotly-plot")
        page.wait_for_selector("#lb-ratings .js-plotly-plot")
        assert "5 battles" in page.inner_text("#lb-summary")
        page.screenshot(path=str(ARTIFACTS / "leaderboard.png"), full_page=True)

        page.get_by_role("tab", name="Admin").click()
        page.wait_for_selector("#admin-pairs >> text=alpha vs beta")  # loads when opened
        page.wait_for_selector("#admin-judges >> text=no judge battles", state="attached")
        page.wait_for_timeout(800)  # let the tables settle before the screenshot
        page.screenshot(path=str(ARTIFACTS / "admin.png"), full_page=True)
        with page.expect_download() as dl:
            page.click("#export-csv")
        exported = Path(dl.value.path()).read_text(encoding="utf-8").strip().splitlines()
        assert exported[0].startswith("schema_version,battle_id,rater") and len(exported) == 6

    votes = store.all(Vote)
    assert len(votes) == 5 and store.count(Battle) == 5 and len(store.all(Score)) == 2
    assert sorted((v.model_a, v.model_b) for v in votes) == sorted(revealed)
    assert [v.winner for v in votes] == ["model_a", "model_b", "tie", "tie (bothbad)", "model_a"]
    assert {v.reason for v in votes} >= {"reason 0", "reason 2", "reason 4"}
    assert sorted(s.score for s in store.all(Score)) == [6.0, 7.0]
    assert all(s.dimensions == {"helpfulness": 7.0} for s in store.all(Score))
    assert outside == [] and dialogs == []


def test_untrusted_answer_is_inert_in_browser(tmp_path, browser_page):
    page, outside, dialogs = browser_page
    store = fill_store(tmp_path / "arena.sqlite")
    qs = [q for q in questions() if q.id == "q3"]  # beta's answer to q3 carries script and handlers
    svc = ArenaService(store, qs, answers(), ["alpha", "beta"], seed=0)
    svc.set_user("rita", "rater", hash_password("pw"))
    from ui.app import create_server

    with serve_in_thread(create_server(svc)) as url:
        sign_in(page, url, "rita", "pw")
        open_battle(page)
        page.wait_for_selector("text=Here you go.")
        page.wait_for_timeout(500)  # give an injected handler time to fire
        html = page.inner_html("#answer-a") + page.inner_html("#answer-b")
        assert "bold" in html
        for bad in ("<script", "onerror", "onclick", 'href="javascript', "<iframe", "<img"):
            assert bad not in html.lower()
        risky = page.evaluate(DOM_CHECK)
        assert risky == []
        assert page.evaluate("window.__pwned") is None
        assert (
            page.locator("#tabs, [role=tab]", has_text="Admin").count() == 0
        )  # raters see no admin
    assert outside == [] and dialogs == []
