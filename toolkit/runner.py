"""Run the study notebooks headless (papermill) and collect their outputs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import toolkit

#: study name -> notebook file under ``notebooks/``
STUDIES = {
    "getting-started": "00_getting_started.ipynb",
    "proton-phonon": "01_proton_phonon_coupling.ipynb",
    "oxyhalide-volcano": "02_oxyhalide_volcano.ipynb",
    "liga-alloy": "03_liga_alloy_anode.ipynb",
}
MODES = ("quick", "full")


def notebooks_dir() -> Path:
    """The repository's ``notebooks/`` folder (the toolkit is installed from the repo, editable)."""
    path = Path(toolkit.__file__).resolve().parent.parent / "notebooks"
    if not path.is_dir():
        raise FileNotFoundError(
            f"no notebooks folder at {path}: install the toolkit from a clone with `pip install -e .`"
        )
    return path


def run_study(study: str, mode: str = "quick", out: str | Path = "results", potential: str = "auto",
              seed: int = 0) -> Path:
    """Execute ``study``'s notebook into ``out``: executed ``.ipynb``, ``.html``, figures, ``summary.json``.

    The notebook receives ``mode``, ``potential``, ``seed`` and ``out_dir`` through its
    ``parameters`` cell and writes its figures and ``summary.json`` there itself.
    """
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; choose from {', '.join(STUDIES)} or 'all'")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    import papermill
    from nbconvert import HTMLExporter

    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    source = notebooks_dir() / STUDIES[study]
    executed = out_dir / source.name
    started = time.time()
    print(f"toolkit: running {study} ({mode} mode) -> {out_dir}", flush=True)
    papermill.execute_notebook(
        str(source), str(executed), cwd=str(source.parent), kernel_name="python3", progress_bar=False,
        parameters={"mode": mode, "potential": potential, "seed": seed, "out_dir": str(out_dir)},
    )
    html, _ = HTMLExporter().from_filename(str(executed))
    executed.with_suffix(".html").write_text(html)
    summary = out_dir / "summary.json"
    if not summary.is_file():
        raise RuntimeError(f"{source.name} ran but wrote no summary.json into {out_dir}")
    json.loads(summary.read_text())
    print(f"toolkit: {study} done in {time.time() - started:.0f} s", flush=True)
    return summary


def run_all(mode: str = "quick", out: str | Path = "results", potential: str = "auto", seed: int = 0) -> list[Path]:
    """Run every study into ``out/<study>/``."""
    return [run_study(s, mode, Path(out) / s, potential, seed) for s in STUDIES]
