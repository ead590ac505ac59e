"""The HTML copy of a notebook read in Chromium with the network blocked: formulas drawn, the note shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT
from .lab import CHROMIUM

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM}: `make test` installs it (root)")]


def test_an_html_copy_renders_its_formulas_offline(page, tmp_path):
    from toolkit.offline_html import export_html

    html = export_html(ROOT / "notebooks" / "00_getting_started.ipynb", tmp_path / "copy.html")
    requested = []

    def offline(route):
        requested.append(route.request.url)
        route.abort() if not route.request.url.startswith("file:") else route.continue_()

    page.route("**/*", offline)
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    assert any(not url.startswith("file:") for url in requested), "the copy asked the network for nothing: test is moot"
    text = page.inner_text("body")
    assert re.search(r"BaSnO\s*3", text) and "$_3$" not in text  # BaSnO$_3$ drawn as a formula, not shown raw
    widths = page.eval_on_selector_all("math", "els => els.map(e => e.getBoundingClientRect().width)")
    assert widths and min(widths) > 0, widths
    subscript = page.eval_on_selector("math msub", "e => [e.getBoundingClientRect().height, e.lastElementChild."
                                                   "getBoundingClientRect().bottom - e.getBoundingClientRect().top]")
    assert subscript[0] > 0
    assert page.locator(".toolkit-offline-note").is_visible()
