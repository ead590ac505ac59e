"""Wall time and peak memory of each study notebook in quick mode, as a Binder user meets it.

Runs ``python -m toolkit run <study>`` for every study in a fresh results store (nothing
cached), samples the resident memory of the whole process tree (the runner and its
Jupyter kernel) every 0.2 s, and prints a Markdown table against the Binder budget
(2 GB, a few minutes on 2 cores) with each figure as a ratio of that budget.

    python bench/notebooks.py [--studies proton-phonon ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import psutil

BUDGET_GB = 2.0
BUDGET_S = 300.0  # "a few minutes"


def tree_rss_bytes(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def measure(study: str, out: str, store: str) -> dict:
    env = {**os.environ, "TOOLKIT_STORE": store, "TOOLKIT_OFFLINE": "1"}
    started = time.time()
    child = subprocess.Popen([sys.executable, "-m", "toolkit", "run", study, "--mode", "quick", "--out", out],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    handle, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        peak = max(peak, tree_rss_bytes(handle))
        time.sleep(0.2)
    if child.returncode:
        raise RuntimeError(f"{study} failed with exit code {child.returncode}")
    return {"study": study, "wall_s": time.time() - started, "peak_gb": peak / 1e9}


def main() -> None:
    from toolkit.runner import STUDIES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", nargs="*", default=list(STUDIES))
    parser.add_argument("--out", default=None, help="where the notebooks write (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="bench-notebooks-")
    rows = []
    for study in args.studies:
        with tempfile.TemporaryDirectory(prefix="bench-store-") as store:
            rows.append(measure(study, os.path.join(out, study), store))
        print(f"{rows[-1]['study']}: {rows[-1]['wall_s']:.0f} s, {rows[-1]['peak_gb']:.2f} GB", file=sys.stderr)
    print(f"\n{os.cpu_count()} CPUs; budget {BUDGET_GB:g} GB and {BUDGET_S:.0f} s per notebook (Binder)\n")
    print("| notebook (quick mode, empty store) | wall time (s) | × time budget | peak memory (GB) | × memory budget |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['study']} | {row['wall_s']:.0f} | {row['wall_s'] / BUDGET_S:.2f} | {row['peak_gb']:.2f} "
              f"| {row['peak_gb'] / BUDGET_GB:.2f} |")


if __name__ == "__main__":
    main()
