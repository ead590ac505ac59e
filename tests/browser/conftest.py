"""Chromium (Debian's, driven by Playwright) and a page per test, shared by the browser tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .lab import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.console_errors.append(f"uncaught: {e}"))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        artefacts = ROOT / "test-artifacts"
        artefacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artefacts / f"{request.node.name}.png"), full_page=True)
    context.close()
