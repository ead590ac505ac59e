"""Research campaigns that outlive a session: ``python -m toolkit reproduce <study>``.

A campaign is a list of :class:`Point` objects, each one step of a study's own workflow at research settings
(a relaxation series, an NEB, one MD replica), named by what it computes. Each finished point is written as its
own small JSON file under ``toolkit/reference_data/<study>/`` with its provenance (potential and file hash,
parameters, seed, package versions, wall time), so the points can be committed as they arrive and a campaign
stopped and started again over days resumes from what is committed: a point whose file exists is never
recomputed. Points run on a Dask cluster (:func:`toolkit.sweeps.connect`) or, without one, one after another.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

from toolkit.progress import progress_bar
from toolkit.provenance import provenance, read_points, write_json_atomic
from toolkit.sweeps import REFERENCE_DIR, task_name, worker_potential

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Point:
    """One research point: ``task(potential, **parameters)`` returns its JSON-ready result; ``potential`` names the
    potential to load (``"chgnet"``, ``"student:liga-alloy"``, ...); ``seeds`` are recorded with the provenance."""

    name: str
    task: Callable = field(repr=False)
    potential: str
    parameters: dict = field(default_factory=dict)
    seeds: dict = field(default_factory=dict)

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", self.name):
            raise ValueError(f"point name {self.name!r}: use letters, digits and . _ + - (it names a file)")


def campaign_dir(study: str) -> Path:
    """Where ``study``'s research points are committed: ``toolkit/reference_data/<study>/``."""
    return REFERENCE_DIR / study


def finished(study: str) -> dict[str, dict]:
    """The committed points of ``study``: name -> record (``result`` and ``provenance``)."""
    return read_points(campaign_dir(study))


def missing(study: str, points: list[Point]) -> list[Point]:
    """The points of ``points`` with no committed file yet, in campaign order."""
    done = set(finished(study))
    return [point for point in points if point.name not in done]


def slug(text: str) -> str:
    """``text`` as a piece of a point name: ``"LiGa (B32)"`` -> ``"LiGa-B32"``, ``"student:liga-alloy"`` ->
    ``"student-liga-alloy"``."""
    return re.sub(r"[^A-Za-z0-9.+]+", "-", text).strip("-")


def run_point(point: Point, torch_threads: int | None = None) -> dict:
    """Compute ``point`` (in this process or a Dask worker) and return its record with provenance.

    ``torch_threads``: torch's thread count for this process, so that workers sharing a machine do not
    oversubscribe its cores (None: leave it)."""
    if torch_threads:
        import torch

        torch.set_num_threads(torch_threads)
    potential = worker_potential(point.potential)
    started = time.time()
    result = point.task(potential, **point.parameters)
    record = provenance(potential, {"task": task_name(point.task), **point.parameters}, point.seeds, started)
    record["command"] = "python -m toolkit reproduce"
    return {"point": point.name, "result": result, "provenance": record}


def compute_in_order(folder: Path, computations: dict[str, Callable[[], dict]], desc: str, progress: bool = True,
                     on_point: Callable[[Path], None] | None = None) -> list[Path]:
    """Run, one after another, each of ``computations`` (point name -> a function returning its record) whose file
    ``folder/<name>.json`` does not exist yet, writing each file as it finishes and then calling ``on_point(path)``
    (to commit it, say). Returns the paths written. A point that fails is reported and the others go on (one that
    needs it fails in turn, saying what it misses); the errors are raised at the end, naming every failed point.
    This is the resume loop of research campaigns (:func:`run_campaign`) and DFT anchor campaigns
    (:func:`toolkit.anchors.run_campaign`)."""
    done = set(read_points(folder))
    todo = [name for name in computations if name not in done]
    written, failures = [], {}
    with progress_bar(total=len(computations), initial=len(computations) - len(todo), desc=desc,
                      disable=not progress) as bar:
        for name in todo:
            started = time.time()
            if (folder / f"{name}.json").is_file():  # another run of the same campaign finished it meanwhile
                bar.update()
                continue
            try:
                written.append(_write(folder, name, computations[name](), on_point))
                log.info(f"{desc}: {name} done in {time.time() - started:.0f} s")
            except Exception as error:  # noqa: BLE001 - reported below with the point's name
                failures[name] = _failed(desc, name, error)
            bar.update()
    _raise_failures(desc, failures, len(todo))
    return written


def _write(folder: Path, name: str, record: dict, on_point: Callable[[Path], None] | None) -> Path:
    path = write_json_atomic(folder / f"{name}.json", record)
    if on_point is not None:
        on_point(path)
    return path


def _failed(desc: str, name: str, error: Exception) -> Exception:
    """Log the failure of point ``name`` as it happens (a campaign runs for hours before it raises) and return it."""
    log.warning(f"{desc}: {name} failed: {type(error).__name__}: {error}")
    return error


def _raise_failures(desc: str, failures: dict[str, Exception], attempted: int) -> None:
    if failures:
        raise RuntimeError(f"{len(failures)} of {attempted} points failed in {desc}: "
                           + "; ".join(f"{name}: {type(e).__name__}: {e}" for name, e in failures.items()))


def run_campaign(study: str, points: list[Point], client=None, torch_threads: int | None = None,
                 progress: bool = True, on_point: Callable[[Path], None] | None = None) -> list[Path]:
    """Compute the points of ``points`` that ``study`` has not committed and write each to its file as it finishes.

    ``client``: a ``distributed.Client`` (points run in parallel, in campaign order as far as workers allow) or
    None (one after another here, :func:`compute_in_order`). ``on_point(path)`` is called after each file is
    written (to commit it, say). Returns the paths written. A point that fails is reported and the others go on;
    the error is raised at the end, naming every failed point."""
    folder = campaign_dir(study)
    if client is None:
        return compute_in_order(folder, {point.name: partial(run_point, point, torch_threads) for point in points},
                                f"reproduce {study}", progress, on_point)
    from distributed import as_completed

    todo = missing(study, points)
    written, failures = [], {}
    with progress_bar(total=len(points), initial=len(points) - len(todo), desc=f"reproduce {study}",
                      disable=not progress) as bar:
        futures = {client.submit(run_point, point, torch_threads, key=f"{study}-{point.name}",
                                 priority=-k, pure=False): point for k, point in enumerate(todo)}
        for future in as_completed(futures):
            point = futures[future]
            try:
                written.append(_write(folder, point.name, future.result(), on_point))
            except Exception as error:  # noqa: BLE001 - reported at the end with the point's name
                failures[point.name] = _failed(f"reproduce {study}", point.name, error)
            bar.update()
    _raise_failures(f"reproduce {study}", failures, len(todo))
    return written
