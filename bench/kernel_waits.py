"""Do headless notebook runs stall on a reply the kernel has sent? Papermill as is against the runner's waits.

On a loaded machine pyzmq's asyncio poll sometimes misses the wake-up for a message that has arrived and
then waits out its whole timeout (``toolkit.runner.kernel_waits_in_slices``). This runs a notebook of
fifteen widget cells (each an explorer panel, as the studies draw: a slider, a plot and an nglview view,
then two slider moves) ``--runs`` times with papermill as it is and as many times inside
``kernel_waits_in_slices``, beside ``--busy`` processes that keep the cores busy, with a cell timeout of
``--timeout`` seconds, and counts the runs where a cell took (nearly) the whole timeout.

    python bench/kernel_waits.py [--runs 40] [--timeout 30] [--busy 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import nbformat

from toolkit.runner import POLL_SLICE_S, kernel_waits_in_slices

SETUP = """from ase.build import bulk
import ipywidgets as widgets
from toolkit.widgets.panel import SliderPanel
from toolkit.widgets.viewer import structure_view

atoms = bulk("Li", "bcc", a=3.4, cubic=True).repeat(3)


class Panel(SliderPanel):
    def redraw(self):
        frames = [atoms.copy() for _ in range(5)]
        for seed, frame in enumerate(frames):
            frame.rattle(0.05, seed=seed)
        with self.plot.drawing() as fig:
            fig.subplots().plot([1, 2])
        self.show_view(structure_view(frames, highlight=("Li",), width="480px"))
"""
CELL = """panel = Panel(widgets.SelectionSlider(options=["a", "b", "c"]))
display(panel.widget)
panel.slider.value = "b"
panel.slider.value = "c"
"""


def busy() -> None:
    while True:
        pass


def slowest_cell_s(path: Path) -> float:
    """The longest cell (s) of an executed notebook, from papermill's record."""
    return max(cell.metadata.papermill.get("duration") or 0.0 for cell in nbformat.read(path, 4).cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--timeout", type=int, default=30, help="cell timeout (s)")
    parser.add_argument("--busy", type=int, default=2, help="busy processes beside the runs")
    args = parser.parse_args()
    import papermill

    folder = Path(tempfile.mkdtemp(prefix="kernel-waits-"))
    source, executed = folder / "panels.ipynb", folder / "executed.ipynb"
    kernel = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
    cells = [nbformat.v4.new_code_cell(SETUP)] + [nbformat.v4.new_code_cell(CELL) for _ in range(15)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=kernel), source)
    hogs = [multiprocessing.Process(target=busy, daemon=True) for _ in range(args.busy)]
    for hog in hogs:
        hog.start()
    rows = []
    try:
        for name, slices in (("papermill as is", False), (f"waits in {POLL_SLICE_S:g} s slices", True)):
            slowest, started = [], time.time()
            for _ in range(args.runs):
                with kernel_waits_in_slices() if slices else nullcontext():
                    papermill.execute_notebook(str(source), str(executed), kernel_name="python3", progress_bar=False,
                                               execution_timeout=args.timeout)
                slowest.append(slowest_cell_s(executed))
            stalled = sum(s > 0.9 * args.timeout for s in slowest)
            one_slice = sum(0.9 * POLL_SLICE_S < s < 2 * POLL_SLICE_S for s in slowest)
            rows.append((name, stalled, one_slice, max(slowest), time.time() - started))
    finally:
        for hog in hogs:
            hog.terminate()

    print(f"\n{os.cpu_count()} CPUs, {args.busy} busy processes; {args.runs} runs of 15 widget cells each way, "
          f"cell timeout {args.timeout} s\n")
    print(f"| waits | runs that stalled a whole timeout | runs whose slowest cell took 1-2 slices "
          f"| slowest cell (s) | wall time (s) |")
    print("|---|---|---|---|---|")
    for name, stalled, one_slice, worst, wall in rows:
        print(f"| {name} | {stalled} | {one_slice} | {worst:.2f} | {wall:.0f} |")


if __name__ == "__main__":
    main()
