"""report.html at 1000-1600 px in headless chromium: heatmaps and charts never overlap,
plotly labels and table cells show untrusted names escaped exactly once.

Screenshots go to artifacts/report-layout/ (gitignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.report import build_report
from tests import report_extra as rx
from tests import report_fixtures as fx
from tests.browser import outside, watched_page

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "report-layout"
WIDTHS = (1000, 1200, 1400, 1600)

BOXES = """(sel) => Array.from(document.querySelectorAll(sel)).map(e => {
  const r = e.getBoundingClientRect();
  return [r.left + window.scrollX, r.top + window.scrollY, r.right + window.scrollX, r.bottom + window.scrollY,
          e.textContent];
})"""


def _overlap(a: list, b: list, slack: float = 0.5) -> bool:
    return (
        a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack
    )


def _pairs(boxes: list) -> list[tuple]:
    return [(a[4], b[4]) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if _overlap(a, b)]


@pytest.mark.browser
def test_heatmaps_never_overlap_and_labels_are_escaped_once(tmp_path):
    store = rx.make_store(tmp_path / "arena.sqlite")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    paths = build_report(
        store,
        fx.RUN,
        tmp_path / "out",
        config=fx.CONFIG,
        stage_stats=fx.STAGE_STATS,
        n_bootstrap=20,
    )
    with watched_page() as (page, errors, requests):
        page.goto(paths.html.as_uri(), wait_until="load")
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        page.evaluate(
            "document.querySelector('nav.nav').style.position = 'static'"
        )  # clean screenshots
        seen: set[str] = set()
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 1000})
            page.wait_for_timeout(500)  # plotly's responsive relayout
            figs = page.evaluate(BOXES, "#winrate .figure, #subjective .figure")
            n_maps = page.locator("#winrate .js-plotly-plot").count()
            assert (
                n_maps == 4 and len(figs) == 5
            )  # judge, panel, human, combined; the ratings chart
            assert _pairs([f[:4] + [i] for i, f in enumerate(figs)]) == [], width
            for fid in range(
                n_maps
            ):  # inside each heatmap: the plot, its colour bar and its labels
                sel = f"#fig-winrate-{fid}"
                fig = page.evaluate(BOXES, f"{sel}")[0]
                svg = page.evaluate(BOXES, f"{sel} .main-svg")[0]
                assert svg[2] <= fig[2] + 1, (width, fid, "wider than its box")
                plot = page.evaluate(BOXES, f"{sel} .nsewdrag")[0]
                bar = page.evaluate(BOXES, f"{sel} .colorbar")[0]
                assert not _overlap(plot, bar), (width, fid, "colour bar over the cells")
                xt = page.evaluate(BOXES, f"{sel} .xtick text")
                yt = page.evaluate(BOXES, f"{sel} .ytick text")
                assert _pairs(xt) == [] and _pairs(yt) == [], (width, fid, _pairs(xt), _pairs(yt))
                assert not any(_overlap(t, plot, 1.0) for t in yt), (
                    width,
                    fid,
                    "y labels over the cells",
                )
                assert not any(_overlap(t, plot, 1.0) for t in xt), (
                    width,
                    fid,
                    "x labels over the cells",
                )
                labels = {t[4] for t in xt} | {t[4] for t in yt}
                seen |= labels
                assert not any("&amp;" in t or "&quot;" in t or "&lt;" in t for t in labels)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (width, overflow)
            page.locator("section#winrate").screenshot(path=str(ARTIFACTS / f"winrate-{width}.png"))
            page.locator("section#subjective").screenshot(
                path=str(ARTIFACTS / f"ratings-{width}.png")
            )
        assert rx.ODD in seen  # shown as the raw text: escaped once, not twice
        cells = page.evaluate(
            "Array.from(document.querySelectorAll('#table-subjective-combined td'))"
            ".map(e => e.textContent)"
        )
        assert rx.ODD in cells
        ticks = page.evaluate(BOXES, "#fig-ratings .ytick text")
        assert rx.ODD in {t[4] for t in ticks}
        page.locator("section#judges").screenshot(path=str(ARTIFACTS / "judges.png"))
    assert errors == [] and outside(requests) == []
