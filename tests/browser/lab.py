"""A JupyterLab server on 127.0.0.1 and Debian's Chromium driven by Playwright: the notebooks as
people meet them. Used by the browser tests; no network, no `playwright install`."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
#: --disable-gpu keeps the GPU process off; SwiftShader still gives WebGL, which nglview needs.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--enable-unsafe-swiftshader", "--use-angle=swiftshader"]
#: JupyterLab settings for a test: every cell stays in the DOM (no windowing), no news pop-up.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """``jupyter lab`` serving ``root`` with a random token, stopped by :meth:`stop`."""

    def __init__(self, root: Path, env: dict, log: Path):
        self.root, self.port, self.token = root, free_port(), secrets.token_hex(16)
        settings = root.parent / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
             f"--port={self.port}", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
             f"--LabApp.workspaces_dir={root.parent / 'lab-workspaces'}",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            env={**os.environ, **env, "JUPYTERLAB_SETTINGS_DIR": str(settings)},
            stdout=log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}; see {log}")
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                return
            except OSError:
                if time.time() > deadline:
                    raise TimeoutError(f"jupyter lab did not answer on port {self.port} within 120 s; see {log}")
                time.sleep(0.5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        """The notebook alone in a fresh workspace (no tabs restored from an earlier page)."""
        return f"{self.url}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={self.token}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def run_all_cells(page, n_code_cells: int, timeout_s: float) -> list[str]:
    """Run every cell through the Run menu and wait until none is queued or running.

    Waits first until all ``n_code_cells`` are on the page. Returns the input prompts
    (``"[3]:"``); Run All stops at an error, leaving the later prompts empty (``"[ ]:"``)."""
    prompts = lambda: page.eval_on_selector_all(  # noqa: E731
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt", "els => els.map(e => e.textContent.trim())")
    page.wait_for_function(f"document.querySelectorAll('.jp-CodeCell').length >= {n_code_cells}", timeout=60_000)
    deadline, quiet, clicked = time.time() + timeout_s, 0, 0.0
    while time.time() < deadline:
        current = prompts()
        started = bool(current) and not re.fullmatch(r"\[\s*\]:", current[0])  # the first cell ran or is queued
        if not started and time.time() - clicked > 30:  # a kernel still starting ignores Run All: ask again
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            clicked = time.time()
        idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() > 0
        quiet = quiet + 1 if started and idle and not any("*" in p for p in current) else 0
        if quiet >= 3:  # idle on three polls in a row: Run All has finished (or stopped at an error)
            return current
        time.sleep(1)
    raise TimeoutError(f"the notebook was still running after {timeout_s:.0f} s: {prompts()}")


def drawn_fraction(png: bytes, tolerance: int = 30) -> float:
    """Fraction of pixels differing from the image's most common colour (its background)."""
    from io import BytesIO

    from PIL import Image

    pixels = np.asarray(Image.open(BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    background = colours[np.argmax(counts)]
    return float((np.abs(pixels - background).sum(axis=1) > tolerance).mean())


def has_axes(png: bytes, dark: int = 120, span: float = 0.3) -> bool:
    """Whether a plot shows axes: some row and some column of dark pixels (spines) across ``span``
    of the image's width and height."""
    from io import BytesIO

    from PIL import Image

    grey = np.asarray(Image.open(BytesIO(png)).convert("L")) < dark
    return bool(grey.mean(axis=1).max() > span and grey.mean(axis=0).max() > span)


def hue_fraction(png: bytes, colour: str, hue_tol_deg: float = 12.0, min_saturation: float = 0.35) -> float:
    """Fraction of pixels drawn in ``colour``'s hue (within ``hue_tol_deg``) and at least ``min_saturation``:
    a shaded sphere, mesh or arrow keeps its hue while its brightness varies with the lighting."""
    import colorsys
    from io import BytesIO

    from matplotlib.colors import to_rgb
    from PIL import Image

    target = colorsys.rgb_to_hsv(*to_rgb(colour))[0] * 360
    hsv = np.asarray(Image.open(BytesIO(png)).convert("HSV")).reshape(-1, 3).astype(float)
    hue, saturation, value = hsv[:, 0] * 360 / 255, hsv[:, 1] / 255, hsv[:, 2] / 255
    gap = np.abs((hue - target + 180) % 360 - 180)
    return float(((gap <= hue_tol_deg) & (saturation >= min_saturation) & (value > 0.2)).mean())


def legend_colours(output) -> dict[str, str]:
    """Label -> colour of each entry of the legend (``.toolkit-legend``) in ``output``, checking on a
    screenshot that each entry's swatch is drawn in its colour."""
    from io import BytesIO

    from matplotlib.colors import to_rgb
    from PIL import Image

    found = {}
    for entry in output.locator(".toolkit-legend-entry").all():
        colour = entry.get_attribute("data-colour")
        pixels = np.asarray(Image.open(BytesIO(entry.screenshot())).convert("RGB")).reshape(-1, 3) / 255
        assert (np.abs(pixels - to_rgb(colour)).max(axis=1) < 0.1).sum() >= 9, f"swatch {colour} not drawn"
        found[entry.inner_text().strip()] = colour
    return found


def drawn_canvas(canvas, timeout_s: float = 15.0, at_least: float = 0.005) -> bytes:
    """A screenshot of an NGL ``canvas`` once its stage has drawn (more than ``at_least`` of it differs from
    the background), or the last one after ``timeout_s``: a stage renders asynchronously after it scrolls into
    view, later on a busy machine."""
    canvas.scroll_into_view_if_needed()
    deadline = time.time() + timeout_s
    while True:
        time.sleep(0.5)
        png = canvas.screenshot()
        if drawn_fraction(png) > at_least or time.time() > deadline:
            return png
