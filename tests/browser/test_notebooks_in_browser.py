"""Each notebook as a person meets it: JupyterLab in Chromium, Run All, then look.

Runs after the headless study tests (see conftest) and shares their results store, so the
notebooks replay cached relaxations, phonons and MD here instead of computing them twice.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from .lab import CHROMIUM, Lab, drawn_canvas, drawn_fraction, legend_colours, run_all_cells

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM}: `make test` installs it (root)")]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
#: Notebooks whose 3D viewers animate a trajectory (a phonon mode) with a play button.
ANIMATED = {"01_proton_phonon_coupling.ipynb"}
#: Notebooks with an explorer widget (sliders, dropdowns).
EXPLORERS = {"01_proton_phonon_coupling.ipynb", "02_oxyhalide_volcano.ipynb", "03_liga_alloy_anode.ipynb"}
CONTROLS = ", ".join(f".jp-OutputArea-output .{c}" for c in ("widget-dropdown", "widget-slider", "widget-hslider"))
WIDGET_ERRORS = re.compile(r"Error displaying widget|model not found|Click to show javascript error|is not registered")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, study_store):
    root = tmp_path_factory.mktemp("lab") / "notebooks"
    shutil.copytree(ROOT / "notebooks", root)  # Lab saves as it runs: never into the repository
    env = {"TOOLKIT_OFFLINE": "1", "TOOLKIT_STORE": str(study_store),
           "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache"))}
    server = Lab(root, env, root.parent / "jupyter-lab.log")
    yield server
    server.stop()


def canvases(page):
    """The nglview stages' canvases (each viewer draws into one WebGL canvas)."""
    return page.locator(".jp-OutputArea-output canvas").all()


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs_and_draws_in_jupyterlab(lab, page, notebook):
    page.goto(lab.notebook_url(notebook))
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    n_code = sum(c.cell_type == "code" for c in nbformat.read(ROOT / "notebooks" / notebook, as_version=4).cells)
    prompts = run_all_cells(page, n_code, timeout_s=1200)
    assert len(prompts) == n_code
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), f"cells not run (an error stops Run All): {prompts}"
    outputs = page.eval_on_selector_all(".jp-OutputArea-output", "els => els.map(e => e.innerText)")
    assert not [o for o in outputs if "Traceback" in o], "a cell raised"
    assert not [o for o in outputs if WIDGET_ERRORS.search(o)], "a widget failed to render"

    # ipywidgets controls of the explorers (nglview's own player is hidden for a single frame)
    controls = page.eval_on_selector_all(CONTROLS, "els => els.filter(e => !e.closest('.ui-resizable'))"
                                                   ".map(e => e.offsetParent !== null && e.offsetHeight > 0)")
    assert all(controls), f"{controls.count(False)} of {len(controls)} controls did not render"
    if notebook in EXPLORERS:
        assert controls, "the explorer's controls are missing"
    views = canvases(page)
    assert views, "no 3D viewer drew a canvas"
    for canvas in views:
        assert drawn_fraction(drawn_canvas(canvas)) > 0.005, "a 3D viewer is blank"

    # every viewer comes with a legend whose swatches are drawn, naming elements the notebook's structures hold
    legends = page.locator(".jp-OutputArea-output .toolkit-legend").all()
    assert len(legends) >= 1, "a 3D viewer without its element legend"
    for legend in legends:
        legend.scroll_into_view_if_needed()
        assert legend_colours(legend), "an empty legend"

    if notebook in ANIMATED:
        canvas = views[1]  # the first explorer's viewer (views[0] is the doped cell on its own)
        canvas.scroll_into_view_if_needed()
        before = canvas.screenshot()
        page.locator(".jp-OutputArea-output .widget-play button:visible").first.click()
        time.sleep(2.0)
        assert canvas.screenshot() != before, "pressing play did not change the phonon-mode animation"

    assert not page.console_errors, page.console_errors[:5]
