"""report.html in headless Debian chromium: renders offline, no console error, no request out.

Screenshots are kept under artifacts/report/ (gitignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.report import build_report
from arena.report.html import SECTIONS
from tests import report_fixtures as fx
from tests.browser import outside, watched_page

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "report"


@pytest.mark.browser
def test_report_opens_offline_in_chromium(tmp_path):
    store = fx.make_store(tmp_path / "arena.sqlite")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    paths = build_report(store, fx.RUN, ARTIFACTS / "run", config=fx.CONFIG,
                         stage_stats=fx.STAGE_STATS, n_bootstrap=30)
    with watched_page(levels=("error", "warning")) as (page, errors, requests):
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
    assert errors == []
    assert outside(requests) == [] and requests[0] == paths.html.as_uri()
    assert overflow <= 0, f"page wider than a 760px window by {overflow}px"
