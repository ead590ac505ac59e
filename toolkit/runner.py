"""Run the study notebooks headless (papermill) and collect their outputs."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from queue import Empty

import toolkit
from toolkit.offline_html import export_html
from toolkit.provenance import write_json_atomic

#: study name -> notebook file under ``notebooks/``
STUDIES = {
    "getting-started": "00_getting_started.ipynb",
    "proton-phonon": "01_proton_phonon_coupling.ipynb",
    "oxyhalide-volcano": "02_oxyhalide_volcano.ipynb",
    "liga-alloy": "03_liga_alloy_anode.ipynb",
    "your-material": "04_your_material.ipynb",
}
MODES = ("quick", "full")
#: seconds one cell may run before the run counts as hung, by mode (None: no limit). Quick mode's longest
#: cell took 141 s here (2 cores, empty store).
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


def _plain(heading: str) -> str:
    """A Markdown heading as terminal text: no leading #, no LaTeX markup (``BaSnO$_3$`` -> ``BaSnO3``)."""
    return re.sub(r"[$_{}^\\]", "", heading.lstrip("#").strip())


class StudyProgress:
    """One line per step of a headless run: the section each cell belongs to, and the kernel's progress bars.

    ``sections`` maps a cell id to the heading of its section. :meth:`on_cell_start` is nbclient's hook;
    the bars arrive as lines in ``bar_file`` (:mod:`toolkit.progress`), which a thread reads every
    ``poll_s`` seconds while the run is inside ``with StudyProgress(...)``. Every line starts with the
    label and the time since ``started`` (``time.time()``), attempts included.
    """

    def __init__(self, label: str, sections: dict[str, str], bar_file: Path, started: float, poll_s: float = 1.0):
        self.label, self.sections, self.bar_file, self.started, self.poll_s = label, sections, bar_file, started, poll_s
        self.section: str | None = None
        self._read = 0
        self._stop = threading.Event()
        self._reading = threading.Lock()
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def say(self, text: str) -> None:
        elapsed = int(time.time() - self.started)
        print(f"toolkit: {self.label} [{elapsed // 60:d}:{elapsed % 60:02d}] {text}", flush=True)

    def on_cell_start(self, cell, cell_index: int) -> None:
        self._forward_bars()  # the bars of the cell before come first
        section = self.sections.get(cell.get("id"))
        if section is not None and section != self.section:
            self.section = section
            self.say(f"§ {section}")

    def _forward_bars(self) -> None:
        with self._reading:
            self._forward_new_lines()

    def _forward_new_lines(self) -> None:
        if not self.bar_file.is_file():
            return
        with open(self.bar_file, "rb") as handle:
            handle.seek(self._read)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next look
        self._read += len(complete)
        for line in complete.decode("utf-8").splitlines():
            self.say(f"  {line}")

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._forward_bars()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._forward_bars()


def notebook_sections(path: Path) -> dict[str, str]:
    """Cell id -> the heading (plain text) of the section the cell sits in, for every cell after a heading."""
    import nbformat

    sections, current = {}, None
    for cell in nbformat.read(path, as_version=4).cells:
        headings = [line for line in cell.source.splitlines() if re.match(r"#+\s", line)]
        if cell.cell_type == "markdown" and headings:
            current = _plain(headings[-1])
        if current is not None and cell.get("id"):
            sections[cell["id"]] = current
    return sections


def execute(source: Path, executed: Path, parameters: dict, cell_timeout_s: float | None, attempts: int = 2,
            progress: StudyProgress | None = None) -> int:
    """Run the notebook ``source`` with papermill into ``executed``, waiting for the kernel in slices
    (:func:`kernel_waits_in_slices`), and starting again (up to ``attempts`` times in all) when a cell
    runs past ``cell_timeout_s`` seconds. Returns the number of attempts made.

    The kernel talks over IPC sockets in a private folder (no TCP port, so no warning that TCP is
    unencrypted), and ``progress``, if given, reports each section and progress bar as it runs.
    A second attempt is cheap: the studies keep their finished work in the results store.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError
    from traitlets.config import Config

    hooks = {} if progress is None else {"on_cell_start": progress.on_cell_start}
    for attempt in range(1, attempts + 1):
        with tempfile.TemporaryDirectory(prefix="toolkit-kernel-") as sockets:
            config = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}})
            try:
                with kernel_waits_in_slices():
                    papermill.execute_notebook(str(source), str(executed), cwd=str(source.parent),
                                               kernel_name="python3", progress_bar=False, parameters=parameters,
                                               execution_timeout=cell_timeout_s, config=config, **hooks)
                return attempt
            except CellTimeoutError as hung:
                what = str(hung).splitlines()[0]
                if attempt == attempts:
                    raise RuntimeError(f"{source.name}: a cell ran past {cell_timeout_s} s in each of {attempts} "
                                       f"attempts ({what}); see {executed}") from hung
                print(f"toolkit: {source.name}: a cell ran past {cell_timeout_s} s ({what}); starting attempt "
                      f"{attempt + 1} of {attempts}, which replays the finished work from the store "
                      "(a ZMQError traceback from the stopped kernel may follow: it is harmless)", flush=True)
    raise AssertionError("unreachable")


def run_notebook(source: Path, out: str | Path, parameters: dict, cell_timeout_s: float | None,
                 label: str | None = None) -> Path:
    """Execute the study notebook ``source`` into ``out``: executed ``.ipynb``, ``.html``, figures, ``summary.json``.

    ``parameters`` go to its ``parameters`` cell with ``out_dir`` added; it writes its figures and
    ``summary.json`` there itself. The run prints a line per section and per progress bar. Afterwards
    the summary's ``provenance.wall_time_s`` is the whole run's (s), every attempt included, beside
    ``attempts``; files written here follow the user's umask.
    """
    from toolkit.progress import PROGRESS_FILE_ENV

    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / source.name
    label = label or source.stem
    started = time.time()
    summary = out_dir / "summary.json"
    summary.unlink(missing_ok=True)  # a summary left by an earlier run must not pass for this one's
    with tempfile.TemporaryDirectory(prefix="toolkit-progress-") as scratch:
        bars = Path(scratch) / "bars.txt"
        previous = os.environ.get(PROGRESS_FILE_ENV)
        os.environ[PROGRESS_FILE_ENV] = str(bars)  # the kernel inherits this process's environment
        try:
            with StudyProgress(label, notebook_sections(source), bars, started) as progress:
                attempts = execute(source, executed, {**parameters, "out_dir": str(out_dir)}, cell_timeout_s,
                                   progress=progress)
        finally:
            if previous is None:
                os.environ.pop(PROGRESS_FILE_ENV, None)
            else:
                os.environ[PROGRESS_FILE_ENV] = previous
    export_html(executed)
    if not summary.is_file():
        raise RuntimeError(f"{source.name} ran but wrote no summary.json into {out_dir}")
    record = json.loads(summary.read_text())
    provenance = record.setdefault("provenance", {})
    provenance["kernel_wall_time_s"] = provenance.get("wall_time_s")
    provenance["wall_time_s"] = round(time.time() - started, 2)
    provenance["attempts"] = attempts
    write_json_atomic(summary, record)
    print(f"toolkit: {label} done in {provenance['wall_time_s']:.0f} s"
          + (f" ({attempts} attempts)" if attempts > 1 else ""), flush=True)
    return summary


def run_study(study: str, mode: str = "quick", out: str | Path = "results", potential: str = "auto",
              seed: int = 0, parameters: dict | None = None) -> Path:
    """Execute ``study``'s notebook into ``out`` (:func:`run_notebook`) and return its ``summary.json``.

    The notebook receives ``mode``, ``potential``, ``seed``, ``out_dir`` and ``parameters`` (the notebook's own,
    such as ``structure`` and ``ion`` of ``your-material``) through its ``parameters`` cell. A cell that runs past
    ``CELL_TIMEOUT_S[mode]`` seconds starts the notebook again, once.
    """
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; choose from {', '.join(STUDIES)} or 'all'")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    print(f"toolkit: running {study} ({mode} mode) -> {Path(out).resolve()}", flush=True)
    return run_notebook(notebooks_dir() / STUDIES[study], out,
                        {"mode": mode, "potential": potential, "seed": seed, **(parameters or {})},
                        CELL_TIMEOUT_S[mode], label=study)


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
