"""Headless Debian chromium through playwright, watching console errors and every request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.system_parts import need

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL = ("file://", "data:", "about:", "blob:")


@contextmanager
def watched_page(levels: tuple[str, ...] = ("error",)) -> Iterator[tuple[Any, list[str], list[str]]]:
    """(page, console messages at `levels` and page errors, requested URLs)."""
    need(CHROMIUM.exists(), "Debian chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type in levels else None)
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            yield page, errors, requests
        finally:
            browser.close()


def outside(requests: list[str]) -> list[str]:
    """Requests that left the file (anything but file:, data:, about:, blob:)."""
    return [u for u in requests if not u.startswith(LOCAL)]
