"""The report of a real `arena run` (loopback API models) in headless chromium: every section,
no console error, no request outside the file. Screenshots go to artifacts/run/."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from arena.experiment import load_experiment
from arena.pipeline import run_experiment
from arena.report.html import SECTIONS
from tests.browser import outside, watched_page
from tests.pipeline_fixtures import fake_server, write_config

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "run"


@pytest.mark.browser
def test_run_report_in_chromium(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    with fake_server() as srv:
        cfg = write_config(tmp_path / "exp.yaml", srv.base_url, limit=6, questions=4)
        result = run_experiment(load_experiment(cfg), work_dir=tmp_path / "out", console=Console(quiet=True))
    html = result.run_dir / "report.html"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with watched_page() as (page, errors, requests):
        page.goto(html.as_uri(), wait_until="load")
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        for sid, *_ in SECTIONS:
            assert page.locator(f"section#{sid}").count() == 1, sid
        # the run's own models and datasets are in the page's tables
        text = page.locator("body").inner_text()
        for name in ("api-a", "api-b", "gsm8k_mini_gen", "winograd_mini_ppl", "mt-bench-pair@judge"):
            assert name in text, name
        page.screenshot(path=str(ARTIFACTS / "run-report.png"), full_page=True)
    assert errors == []
    assert outside(requests) == []
