"""Wall time and peak memory of each study notebook in quick mode, as a Binder user meets it.

Runs ``python -m toolkit run <study>`` for every study twice in one fresh results store: first with nothing
cached (as Binder's postBuild does), then again in a fresh kernel, which replays from the store (what a workshop
participant's "Run All" meets on Binder). Samples the resident memory of the whole process tree (the runner and
its Jupyter kernel) every 0.2 s, and writes a table against the Binder budget (2 GB, a few minutes on 2 cores
for a run, 30 s for a replay) to ``bench/results/notebooks.json``.

    python bench/notebooks.py [--studies proton-phonon ...] [--out DIR]
    python bench/notebooks.py --store DIR   # replays only, over a store already filled (by `make test`, say)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import psutil

import record

BUDGET_GB = 2.0
BUDGET_S = 300.0  # "a few minutes"
REPLAY_BUDGET_S = 30.0  # Run All over a filled store


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
    parser.add_argument("--store", default=None,
                        help="a results store the studies' quick runs already filled: measure the replays only")
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="bench-notebooks-")
    if args.store:
        return replays_only(args.studies, out, args.store)
    table = []
    for study in args.studies:
        with tempfile.TemporaryDirectory(prefix="bench-store-") as store:
            first = measure(study, os.path.join(out, study), store)
            replay = measure(study, os.path.join(out, study + "-replay"), store)
        print(f"{study}: {first['wall_s']:.0f} s, replay {replay['wall_s']:.0f} s, {first['peak_gb']:.2f} GB",
              file=sys.stderr)
        table.append([study, f"{first['wall_s']:.0f}", f"{first['wall_s'] / BUDGET_S:.2f}", f"{replay['wall_s']:.0f}",
                      f"{replay['wall_s'] / REPLAY_BUDGET_S:.2f}", f"{first['peak_gb']:.2f}",
                      f"{first['peak_gb'] / BUDGET_GB:.2f}"])
    record.save("notebooks", "Study notebooks in quick mode: a first run, and a replay from the store",
                ["notebook", "first run (s)", "× budget", "replay (s)", "× replay budget", "peak memory (GB)",
                 "× memory budget"], table,
                notes=f"Budgets (Binder): {BUDGET_S:.0f} s for a run, {REPLAY_BUDGET_S:.0f} s for a replay, "
                      f"{BUDGET_GB:g} GB; offline, so `auto` picks CHGNet or a student.")


def replays_only(studies: list[str], out: str, store: str) -> None:
    """Each study's replay over ``store``, twice (the second shows what the first's kernel start-up cost)."""
    table = []
    for study in studies:
        runs = [measure(study, os.path.join(out, f"{study}-replay{k}"), store) for k in range(2)]
        print(f"{study}: replays {runs[0]['wall_s']:.0f} s and {runs[1]['wall_s']:.0f} s, {runs[0]['peak_gb']:.2f} GB",
              file=sys.stderr)
        table.append([study, *(f"{r['wall_s']:.0f}" for r in runs), f"{max(r['wall_s'] for r in runs) / REPLAY_BUDGET_S:.2f}",
                      f"{runs[0]['peak_gb']:.2f}"])
    record.save("notebook_replays", "Study notebooks replayed from a filled store (Run All in a fresh kernel)",
                ["notebook", "replay 1 (s)", "replay 2 (s)", "× replay budget", "peak memory (GB)"], table,
                notes=f"Budget: {REPLAY_BUDGET_S:.0f} s per replay (`python -m toolkit run <study>`: a fresh kernel, "
                      "every cell, the HTML copy). The store was filled by the studies' quick runs beforehand.")


if __name__ == "__main__":
    main()
