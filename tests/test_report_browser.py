"""report.html in headless Debian chromium: renders offline, no console error, no request out.

Screenshots are kept under artifacts/report/ (gitignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.report import build_report
from arena.report.html import SECTIONS
from tests import report_fixtures as fx
from tests.system_parts import need

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "report"


@pytest.mark.browser
def test_report_opens_offline_in_chromium(tmp_path):
    need(CHROMIUM.exists(), "Debian chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    store = fx.make_store(tmp_path / "arena.sqlite")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    paths = build_report(store, fx.RUN, ARTIFACTS / "run", config=fx.CONFIG,
                         stage_stats=fx.STAGE_STATS, n_bootstrap=30)
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(paths.html.as_uri(), wait_until="load")
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
            page.wait_for_timeout(500)
            for sid, *_ in SECTIONS:
                assert page.locator(f"section#{sid}").count() == 1, sid
            n_figs = page.locator(".js-plotly-plot").count()
            assert n_figs == page.locator("div.figure").count() >= 5  # every figure drew
            assert page.evaluate("typeof window.Plotly") == "object"
            page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
            for sid in ("objective", "subjective", "winrate", "judges"):
                page.locator(f"section#{sid}").screenshot(path=str(ARTIFACTS / f"section-{sid}.png"))
            page.set_viewport_size({"width": 760, "height": 900})  # a narrow window still fits
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(300)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            page.screenshot(path=str(ARTIFACTS / "report-narrow.png"), full_page=False)
        finally:
            browser.close()
    assert errors == []
    outside = [u for u in requests if not u.startswith(("file://", "data:", "about:", "blob:"))]
    assert outside == [] and requests[0] == paths.html.as_uri()
    assert overflow <= 0, f"page wider than a 760px window by {overflow}px"
