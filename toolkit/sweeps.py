"""Parameter sweeps on Dask, from a laptop to a cluster, resumable through the results store.

A sweep is a pure task (a top-level function of keyword arguments returning JSON-ready
data) mapped over a grid of parameter sets. :func:`run_sweep` looks every grid point up in
the :class:`~toolkit.store.ResultsStore` first, submits only the missing ones to a Dask
cluster, and stores each result as it arrives, so a sweep interrupted half-way (a killed
kernel, a lost worker, a walltime limit) resumes where it stopped and never recomputes a
finished point. Dask reschedules the tasks of a worker that dies.

:func:`connect` gives a ``distributed.Client`` for ``"local"`` (a ``LocalCluster``, the
default), a scheduler address (``tcp://host:8786``), ``"slurm"`` or ``"pbs"`` (dask-jobqueue,
configured in ``~/.config/dask/jobqueue.yaml`` or by keyword) or ``"gateway"`` (a JupyterHub's
Dask Gateway).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ase import Atoms
from toolkit.progress import progress_bar

from toolkit.calculator import file_sha256
from toolkit.store import ResultsStore, code_version

#: Scheduler names :func:`connect` understands besides an address.
SCHEDULERS = ("local", "slurm", "pbs", "gateway")


def connect(scheduler: str = "local", n_workers: int | None = None, **cluster_kwargs):
    """A ``distributed.Client`` for ``scheduler`` (see the module docstring).

    ``n_workers``: workers to start (local) or to scale to (job queues, Gateway); local
    workers are single-threaded processes, since each task already uses torch's threads.
    ``cluster_kwargs`` go to the cluster class (``LocalCluster``, ``SLURMCluster``, ...).
    """
    from distributed import Client, LocalCluster

    if scheduler == "local":
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, **cluster_kwargs)
        return Client(cluster)
    if scheduler in ("slurm", "pbs"):
        cluster = jobqueue_cluster(scheduler, **cluster_kwargs)
        if n_workers:
            cluster.scale(n_workers)
        return Client(cluster)
    if scheduler == "gateway":
        from dask_gateway import Gateway

        cluster = Gateway().new_cluster(**cluster_kwargs)
        if n_workers:
            cluster.scale(n_workers)
        return cluster.get_client()
    if "://" in scheduler:
        return Client(scheduler)
    raise ValueError(f"unknown scheduler {scheduler!r}: use one of {', '.join(SCHEDULERS)} or an address "
                     "such as tcp://host:8786")


def jobqueue_cluster(kind: str, **kwargs):
    """A dask-jobqueue ``SLURMCluster`` or ``PBSCluster`` (no jobs are submitted until it scales).

    Settings not given here come from dask's configuration (``jobqueue.slurm`` /
    ``jobqueue.pbs`` in ``~/.config/dask/jobqueue.yaml``): queue, account, cores, memory, walltime.
    """
    from dask_jobqueue import PBSCluster, SLURMCluster

    classes = {"slurm": SLURMCluster, "pbs": PBSCluster}
    if kind not in classes:
        raise ValueError(f"unknown job queue {kind!r}: use 'slurm' or 'pbs'")
    return classes[kind](**kwargs)


def expand_grid(grid: dict | list) -> list[dict]:
    """Parameter sets from a grid: a list of dicts is taken as it is; a dict of lists is
    expanded to every combination (scalars are held fixed), in a stable order."""
    if isinstance(grid, list):
        return [dict(point) for point in grid]
    names = list(grid)
    values = [grid[n] if isinstance(grid[n], list) else [grid[n]] for n in names]
    return [dict(zip(names, combination)) for combination in itertools.product(*values)]


def load_grid(path: str | Path) -> list[dict]:
    """:func:`expand_grid` of a JSON file."""
    return expand_grid(json.loads(Path(path).read_text()))


def task_name(task: Callable) -> str:
    return f"{task.__module__}.{task.__qualname__}"


def sweep_key(name: str, parameters: dict) -> str:
    """The store key of one grid point: a hash of the task's name, its parameters and the code's version."""
    text = json.dumps([name, code_version("sweep"), parameters], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def run_sweep(task: Callable, grid: dict | list, client, store: ResultsStore | None = None,
              progress: bool = True) -> list[dict]:
    """Map ``task`` over ``grid`` on ``client``'s cluster; returns the results in grid order.

    Finished points are read from ``store`` (default: the user's store) and not submitted;
    new results are written as they arrive. Each point is submitted with a key derived from
    its parameters, so two sweeps sharing a scheduler never run the same point twice at once.
    """
    from distributed import as_completed

    store = store if store is not None else ResultsStore()
    name = task_name(task)
    points = expand_grid(grid)
    keys = [sweep_key(name, p) for p in points]
    results = {}
    for key in keys:
        hit = store.get(key)
        if hit is not None:
            results[key] = hit[1]["result"]
    todo = {key: p for key, p in zip(keys, points) if key not in results}
    futures = {client.submit(task, key=f"{task.__name__}-{key}", pure=True, **p): key for key, p in todo.items()}
    with progress_bar(total=len(points), initial=len(points) - len(todo), desc=f"sweep {task.__name__}",
              disable=not progress) as bar:
        for future in as_completed(futures):
            key = futures[future]
            results[key] = future.result()
            store.put(key, f"sweep:{name}", Atoms(), {"parameters": todo[key], "result": results[key]})
            bar.update()
    return [results[key] for key in keys]


@lru_cache(maxsize=4)
def worker_potential(name: str):
    """The potential ``name`` loaded once per worker process and reused by its tasks."""
    from toolkit.potentials import load_potential

    return load_potential(name)


def oxyhalide_glass(x: float, n_ta: int, seed: int, temperatures_K: list, md_ps: float, potential: str = "auto",
                    melt_ps: float = 0.3, quench_rate_K_per_ps: float = 6000.0, quench_stages: int = 3,
                    anneal_ps: float = 0.1, timestep_fs: float = 2.0, sample_every: int = 5,
                    n_blocks: int = 3) -> dict:
    """Study 2's sweep task: one TaCl5·xLi2O glass (seed ``seed``) and its Li diffusion, through the study's own
    steps (:func:`toolkit.studies.oxyhalide_volcano.glass` and :func:`~toolkit.studies.oxyhalide_volcano.diffusion`)
    with its quick settings changed by these arguments.

    Returns ``density_g_cm3``, ``volume_A3``, ``n_atoms``, ``n_Li`` and ``D_Li_cm2_s`` (T -> [D, error]).
    Every step goes through the store, so a rescheduled task resumes from its checkpoints.
    """
    from dataclasses import replace

    from toolkit.studies import oxyhalide_volcano as ov

    calc = worker_potential(potential)
    store = ResultsStore()
    quick = ov.VolcanoSettings.quick(seed)
    settings = replace(quick, x_values=(x,), n_ta=n_ta, md_temperatures_K=tuple(float(t) for t in temperatures_K),
                       md_ps=md_ps, md_timestep_fs=timestep_fs, md_sample_every=sample_every, md_blocks=n_blocks,
                       protocol=replace(quick.protocol, melt_ps=melt_ps, quench_rate_K_per_ps=quench_rate_K_per_ps,
                                        quench_stages=quench_stages, anneal_ps=anneal_ps, timestep_fs=timestep_fs))
    glass = ov.glass(x, seed, settings, calc, store, progress=False)
    row = ov.diffusion({x: [glass]}, settings, calc, store, progress=False)[0]["result"]
    return {**row, "n_atoms": len(glass), "potential": calc.info.name, "potential_sha256": calc.info.sha256}


def material_card(structure: str, structure_sha256: str, ion: str, mode: str = "quick", potential: str = "auto",
                  seed: int = 0, changes: dict | None = None) -> dict:
    """Notebook 04's steps (:func:`toolkit.studies.your_material.run`) on one structure file, as a sweep task: the
    file must still have ``structure_sha256`` (the sweep's key holds it, so an edited file is computed afresh).
    ``changes`` alter the ``mode``'s :class:`~toolkit.studies.your_material.MaterialSettings`.

    Returns the row :func:`toolkit.studies.your_material.ranked` sorts: the summary's formula, stability, D, Ea and
    σ with the potential and its hash; or ``{"file", "error"}`` naming why the structure was refused (unreadable,
    without the ion, elements the potential lacks, ...), so that one bad file does not stop a screen.
    """
    from toolkit.calculator import UnsupportedElementsError
    from toolkit.studies import your_material as ym
    from toolkit.validation import StructureError

    path = Path(structure)
    if file_sha256(path) != structure_sha256:
        raise ValueError(f"{path} changed since the sweep was planned: plan it again")
    calc = worker_potential(potential)
    settings = (ym.MaterialSettings.quick if mode == "quick" else ym.MaterialSettings.full)(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in (changes or {}).items()})
    try:
        result = ym.run(path, ion, settings, calc, ResultsStore(), seed=seed, progress=False)
    except (StructureError, UnsupportedElementsError, FileNotFoundError) as error:
        return {"file": path.name, "error": str(error)}
    return {"file": path.name, **result.to_summary(), "potential": calc.info.name,
            "potential_sha256": calc.info.sha256}


def screen_folder(folder: str | Path, ion: str, client, mode: str = "quick", potential: str = "auto", seed: int = 0,
                  changes: dict | None = None, store: ResultsStore | None = None, progress: bool = True) -> list[dict]:
    """:func:`material_card` of every ``*.cif`` in ``folder`` on ``client``'s cluster (resumable, as every sweep),
    ranked by :func:`toolkit.studies.your_material.ranked`."""
    from toolkit.studies.your_material import ranked

    files = sorted(Path(folder).glob("*.cif"))
    if not files:
        raise FileNotFoundError(f"no *.cif files in {folder}")
    grid = [{"structure": str(f.resolve()), "structure_sha256": file_sha256(f), "ion": ion, "mode": mode,
             "potential": potential, "seed": seed, "changes": changes or {}} for f in files]
    return ranked(run_sweep(material_card, grid, client, store, progress))


#: Where the package's computed results ship (research campaigns, DFT anchors, examples).
REFERENCE_DIR = Path(__file__).resolve().parent / "reference_data"


#: study name -> its sweep task (``python -m toolkit sweep <study> --grid FILE``).
STUDY_TASKS: dict[str, Callable] = {"oxyhalide-volcano": oxyhalide_glass}
