"""The explorers' plots in JupyterLab, control change after control change.

Each explorer redraws its plot from widget callbacks, which ipykernel may run on its subshell threads
as well as on its main thread. A plot drawn through pyplot into an ``Output`` widget came out blank or
half drawn there; here every change must leave a plot with data and axes on the page.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

from .conftest import ROOT
from .lab import CHROMIUM, Lab, drawn_canvas, drawn_fraction, has_axes, hue_fraction, legend_colours, run_all_cells

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM}: `make test` installs it (root)")]

#: One cell per explorer, on small inputs that take seconds: the host's phonons with bands as in
#: notebook 01, and the made-up volcano and alloy data of tests/explorer_inputs.py.
CELLS = [
    """import numpy as np
from toolkit import phonons as ph
from toolkit.perovskite import basno3
from toolkit.potentials import load_potential
from toolkit.widgets.phonon_explorer import PhononModeExplorer

host = ph.compute_phonons(basno3(4.19), load_potential("chgnet"), supercell=(2, 2, 2), progress=False)
PhononModeExplorer(host, points=ph.CUBIC_POINTS, bands=ph.band_structure(host, 5), highlight=("Sn",), n_frames=4).widget""",
    f"""import sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from explorer_inputs import toy_alloy_explorer, toy_volcano_compositions
from toolkit.widgets.volcano_explorer import VolcanoExplorer

VolcanoExplorer(toy_volcano_compositions({{0.5: 1e-4, 1.0: 3e-4, 1.5: 1e-3, 2.0: 2e-4}}), label="made-up data").widget""",
    "toy_alloy_explorer().widget",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("explorers") / "notebooks"
    root.mkdir()
    kernel = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS], metadata=kernel),
                   root / "explorers.ipynb")
    env = {"TOOLKIT_OFFLINE": "1", "TOOLKIT_STORE": str(root.parent / "store"),
           "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache"))}
    server = Lab(root, env, root.parent / "jupyter-lab.log")
    yield server
    server.stop()


def settled(page) -> None:
    """Wait until the kernel has handled the change (busy, then idle) and the browser has drawn it."""
    time.sleep(0.5)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    time.sleep(0.5)


def test_each_explorer_keeps_a_whole_plot_through_ten_control_changes(lab, page):
    page.goto(lab.notebook_url("explorers.ipynb"))
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    prompts = run_all_cells(page, len(CELLS), timeout_s=600)
    assert all(p[1:-2].strip().isdigit() for p in prompts), f"cells not run: {prompts}"
    cells = page.locator(".jp-CodeCell")
    artefacts = ROOT / "test-artifacts"
    artefacts.mkdir(exist_ok=True)

    def check(cell, what: str, n: int) -> None:
        plot = cell.locator("img.widget-image").first
        plot.scroll_into_view_if_needed()
        png = plot.screenshot()
        (artefacts / f"explorer-{what}-{n}.png").write_bytes(png)
        assert drawn_fraction(png) > 0.02, f"{what}: the plot is blank after change {n}"
        assert has_axes(png), f"{what}: the plot has no axes after change {n}"

    phonon, volcano, alloy = cells.nth(0), cells.nth(1), cells.nth(2)
    check(phonon, "phonon", 0)
    q_picker, branch = phonon.locator("select").nth(0), phonon.locator("select").nth(1)
    changes = [lambda k: q_picker.select_option(index=k % 4),
               lambda k: branch.select_option(index=(3 * k) % 15 if k % 4 else k % 5),
               lambda k: phonon.locator(".noUi-handle").first.press("ArrowRight" if k % 3 else "ArrowLeft")]
    for n in range(1, 11):
        changes[n % 3](n)
        settled(page)
        check(phonon, "phonon", n)
    # a burst of changes without waiting, as a participant clicking quickly does
    for n in range(12):
        changes[n % 2](n + 1)
    settled(page)
    check(phonon, "phonon", 11)

    png = drawn_canvas(phonon.locator("canvas").first)
    (artefacts / "explorer-phonon-view.png").write_bytes(png)
    assert drawn_fraction(png) > 0.005, "the mode's 3D view is blank"
    # the legend names what the view draws, and the arrows are on the canvas in the legend's colour
    legend = legend_colours(phonon)
    assert {"Ba", "Sn", "O", "displacement"} <= set(legend), legend
    assert hue_fraction(png, legend["displacement"]) > 0.0005, "no displacement arrows on the mode's view"
    for element in ("Ba", "O"):  # saturated colours, which keep their hue under the lighting
        assert hue_fraction(png, legend[element]) > 0.001, f"{element} is not drawn in its legend colour"
    assert "THz" in phonon.locator(".widget-html b").first.inner_text()  # the mode's title

    png = drawn_canvas(volcano.locator("canvas").first)
    (artefacts / "explorer-volcano-view.png").write_bytes(png)
    assert drawn_fraction(png) > 0.005, "the glass's 3D view is blank"
    legend = legend_colours(volcano)
    assert {"Ta", "Cl", "O", "Li"} <= set(legend), legend
    for element in ("Li", "Cl", "Ta"):  # Li's highlight spheres, the Cl ligands and the TaX polyhedra
        assert hue_fraction(png, legend[element]) > 0.001, f"{element} is not drawn in its legend colour"

    for what, cell in (("volcano", volcano), ("alloy", alloy)):
        check(cell, what, 0)
        handle = cell.locator(".noUi-handle").first
        for n in range(1, 11):
            handle.press("ArrowRight" if (n // 3) % 2 == 0 else "ArrowLeft")
            settled(page)
            check(cell, what, n)
    outputs = page.eval_on_selector_all(".jp-OutputArea-output", "els => els.map(e => e.innerText)")
    assert not [o for o in outputs if "Traceback" in o], "a callback raised"
