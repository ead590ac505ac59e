"""Run the study notebooks headless (papermill) and collect their outputs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from queue import Empty

import toolkit

#: study name -> notebook file under ``notebooks/``
STUDIES = {
    "getting-started": "00_getting_started.ipynb",
    "proton-phonon": "01_proton_phonon_coupling.ipynb",
    "oxyhalide-volcano": "02_oxyhalide_volcano.ipynb",
    "liga-alloy": "03_liga_alloy_anode.ipynb",
}
MODES = ("quick", "full")
#: seconds one cell may run before the run counts as hung, by mode (None: no limit). Quick mode's longest
#: cell took 141 s here (2 cores, empty store, 2026-11-28).
CELL_TIMEOUT_S = {"quick": 1200, "full": None}
#: seconds papermill waits on a kernel channel before it looks at the socket again (see kernel_waits_in_slices)
POLL_SLICE_S = 1.0


async def get_msg_in_slices(channel, timeout: float | None = None) -> dict:
    """``AsyncZMQSocketChannel.get_msg``, waiting in slices of ``POLL_SLICE_S``: pyzmq's asyncio poll
    looks at the socket again when its timeout fires, which catches a message whose wake-up it missed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        wait_s = POLL_SLICE_S if deadline is None else min(POLL_SLICE_S, deadline - time.monotonic())
        if await channel.socket.poll(max(0, math.ceil(1000 * wait_s))):
            return await channel._recv()
        if deadline is not None and time.monotonic() >= deadline:
            raise Empty


@contextmanager
def kernel_waits_in_slices():
    """Within this block, papermill (nbclient) waits for each kernel message in slices of ``POLL_SLICE_S``.

    On a loaded machine pyzmq's asyncio poll sometimes misses the wake-up for a message that has
    arrived, and then waits out its whole timeout; with papermill's default, no timeout, such a wait
    never ends (most likely how a CI run hung once, after notebook 01's mode explorer). Cut into
    slices, a missed wake-up costs at most one slice: ``bench/kernel_waits.py`` found 11 of 40 runs of
    fifteen widget cells stalled for a whole 30 s timeout beside two busy processes on 2 cores, and
    none when waiting in slices.
    """
    from jupyter_client.channels import AsyncZMQSocketChannel

    original = AsyncZMQSocketChannel.get_msg
    AsyncZMQSocketChannel.get_msg = get_msg_in_slices
    try:
        yield
    finally:
        AsyncZMQSocketChannel.get_msg = original


def notebooks_dir() -> Path:
    """The repository's ``notebooks/`` folder (the toolkit is installed from the repo, editable)."""
    path = Path(toolkit.__file__).resolve().parent.parent / "notebooks"
    if not path.is_dir():
        raise FileNotFoundError(
            f"no notebooks folder at {path}: install the toolkit from a clone with `pip install -e .`"
        )
    return path


def execute(source: Path, executed: Path, parameters: dict, cell_timeout_s: float | None, attempts: int = 2) -> None:
    """Run the notebook ``source`` with papermill into ``executed``, waiting for the kernel in slices
    (:func:`kernel_waits_in_slices`), and starting again (up to ``attempts`` times in all) when a cell
    runs past ``cell_timeout_s`` seconds.

    A second attempt is cheap: the studies keep their finished work in the results store.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError

    for attempt in range(1, attempts + 1):
        try:
            with kernel_waits_in_slices():
                papermill.execute_notebook(str(source), str(executed), cwd=str(source.parent), kernel_name="python3",
                                           progress_bar=False, parameters=parameters, execution_timeout=cell_timeout_s)
            return
        except CellTimeoutError as hung:
            what = str(hung).splitlines()[0]
            if attempt == attempts:
                raise RuntimeError(f"{source.name}: a cell ran past {cell_timeout_s} s in each of {attempts} "
                                   f"attempts ({what}); see {executed}") from hung
            print(f"toolkit: {source.name}: a cell ran past {cell_timeout_s} s ({what}); starting attempt "
                  f"{attempt + 1} of {attempts}", flush=True)


def run_study(study: str, mode: str = "quick", out: str | Path = "results", potential: str = "auto",
              seed: int = 0) -> Path:
    """Execute ``study``'s notebook into ``out``: executed ``.ipynb``, ``.html``, figures, ``summary.json``.

    The notebook receives ``mode``, ``potential``, ``seed`` and ``out_dir`` through its
    ``parameters`` cell and writes its figures and ``summary.json`` there itself. A cell that
    runs past ``CELL_TIMEOUT_S[mode]`` seconds starts the notebook again, once.
    """
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; choose from {', '.join(STUDIES)} or 'all'")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    from nbconvert import HTMLExporter

    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    source = notebooks_dir() / STUDIES[study]
    executed = out_dir / source.name
    started = time.time()
    print(f"toolkit: running {study} ({mode} mode) -> {out_dir}", flush=True)
    execute(source, executed, {"mode": mode, "potential": potential, "seed": seed, "out_dir": str(out_dir)},
            CELL_TIMEOUT_S[mode])
    html, _ = HTMLExporter().from_filename(str(executed))
    executed.with_suffix(".html").write_text(html)
    summary = out_dir / "summary.json"
    if not summary.is_file():
        raise RuntimeError(f"{source.name} ran but wrote no summary.json into {out_dir}")
    json.loads(summary.read_text())
    print(f"toolkit: {study} done in {time.time() - started:.0f} s", flush=True)
    return summary


def _run_alone(study: str, mode: str, out_dir: Path, potential: str, seed: int) -> int:
    """``python -m toolkit run study`` in a process of its own, on one torch thread; its exit code."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "toolkit", "run", study, "--mode", mode, "--out", str(out_dir),
               "--potential", potential, "--seed", str(seed)]
    with open(out_dir / "run.log", "w") as log:
        code = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    print(f"toolkit: {study} {'done' if code == 0 else f'FAILED (exit code {code})'}, log {out_dir / 'run.log'}",
          flush=True)
    return code


def run_all(mode: str = "quick", out: str | Path = "results", potential: str = "auto", seed: int = 0,
            studies: list[str] | None = None, jobs: int = 1) -> list[Path]:
    """Run ``studies`` (default: every study) into ``out/<study>/``, ``jobs`` at a time.

    With ``jobs`` > 1 each study runs in a process of its own on one torch thread and logs to
    ``out/<study>/run.log``. On these small cells a second thread makes a model call only about
    1.4x faster (CHGNet, 2 cores: 0.137 against 0.187 s per MD step of 31-53 atoms), so studies
    side by side on one thread each finish sooner than one after another on two, for one kernel's
    memory (up to about 1.6 GB in quick mode) per job.
    """
    studies = list(STUDIES if studies is None else studies)
    unknown = sorted(set(studies) - set(STUDIES))
    if unknown:
        raise ValueError(f"unknown studies {unknown}; choose from {', '.join(STUDIES)}")
    out = Path(out)
    if jobs <= 1:
        return [run_study(s, mode, out / s, potential, seed) for s in studies]
    print(f"toolkit: running {', '.join(studies)} ({mode} mode), {jobs} at a time -> {out.resolve()}", flush=True)
    with ThreadPoolExecutor(jobs) as pool:
        codes = list(pool.map(lambda s: _run_alone(s, mode, out / s, potential, seed), studies))
    failed = [s for s, code in zip(studies, codes) if code]
    if failed:
        raise RuntimeError(f"{', '.join(failed)} failed: see " + ", ".join(str(out / s / "run.log") for s in failed))
    return [out / s / "summary.json" for s in studies]
