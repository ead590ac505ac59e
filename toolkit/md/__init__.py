"""Molecular dynamics: seeded, guarded against blow-ups, resumable.

- :mod:`~toolkit.md.runs`: :func:`run_md` and :func:`run_md_many`, the runs the studies call (on the
  batched engine for MACE models, on ASE's Langevin integrator for any other calculator), and
  :func:`run_replicas`, the engine's run with checkpoints in the results store;
- :mod:`~toolkit.md.engine`: :class:`MDEngine`, several replicas in one batched model call, built from
  :mod:`~toolkit.md.neighbours` (neighbour lists with a skin), :mod:`~toolkit.md.model_call` (the MACE call,
  compiled or captured), :mod:`~toolkit.md.integrators` (NVE, BAOAB Langevin, CSVR) and
  :mod:`~toolkit.md.guards` (NaN forces, runaway temperatures, collapsed atoms);
- :mod:`~toolkit.md.replicas`: each replica's temperature and seed, and the replay of a stored blow-up.

Units: Å, fs, K, eV, amu.
"""

from toolkit.md.engine import MDEngine
from toolkit.md.runs import run_md, run_md_many, run_replicas, uses_engine

__all__ = ["MDEngine", "run_md", "run_md_many", "run_replicas", "uses_engine"]
