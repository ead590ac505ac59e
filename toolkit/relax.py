"""Geometry relaxation (positions, and the cell where asked), checkpointed and cached."""

from __future__ import annotations

import logging
import warnings

from ase import Atoms
from ase.constraints import FixAtoms
from ase.filters import FrechetCellFilter
from ase.io import Trajectory, read
from ase.optimize import BFGS

from toolkit.store import ResultsStore
from toolkit.validation import ase_names, check_structure, report_unconverged

# FrechetCellFilter takes matrix logarithms of near-identity deformations; scipy warns about
# round-off of order 1e-13 there, which is far below any tolerance used here.
warnings.filterwarnings("ignore", message="logm result may be inaccurate")
log = logging.getLogger(__name__)


def _parameters(atoms: Atoms, fmax_eV_A: float, max_steps: int, relax_cell: bool) -> dict:
    """What a relaxation's store key holds besides the structure and the potential."""
    fixed = sorted(int(i) for c in atoms.constraints if isinstance(c, FixAtoms) for i in c.get_indices())
    return {"fmax_eV_A": fmax_eV_A, "max_steps": max_steps, "relax_cell": relax_cell, "fixed": fixed}


@ase_names(fmax="fmax_eV_A", steps="max_steps")
def relax(atoms: Atoms, potential, fmax_eV_A: float = 0.01, max_steps: int = 300,
          relax_cell: bool = True, store: ResultsStore | None = None, require_converged: bool = False) -> Atoms:
    """Relax ``atoms`` with BFGS (and a Fréchet cell filter when ``relax_cell``) until every force is below
    ``fmax_eV_A`` (eV/Å), or for at most ``max_steps`` optimiser steps.

    Atoms fixed with ``FixAtoms`` stay put. Returns a new ``Atoms``; ``atoms.info["relax"]`` holds ``energy_eV``, ``steps``,
    ``converged`` and the force criterion ``fmax_eV_A``. With a ``store``, the result is
    cached by inputs and an interrupted relaxation restarts from its last written step. A relaxation
    that hit ``max_steps`` is stored as unconverged and logged as a warning; with ``require_converged`` it
    raises :class:`~toolkit.validation.NotConvergedError` instead (from the store too).
    """
    check_structure(atoms)
    potential.check_elements(atoms)
    params = _parameters(atoms, fmax_eV_A, max_steps, relax_cell)

    def compute(checkpoint=None):
        work = atoms.copy()
        if checkpoint is not None and checkpoint.exists() and checkpoint.stat().st_size > 0:
            work = read(checkpoint, index=-1)  # resume from the last step written
        work.calc = potential
        target = FrechetCellFilter(work) if relax_cell else work
        optimizer = BFGS(target, logfile=None)
        if checkpoint is not None:
            traj = Trajectory(checkpoint, "a")
            optimizer.attach(lambda: traj.write(work), interval=1)
        converged = bool(optimizer.run(fmax=fmax_eV_A, steps=max_steps))
        info = {"energy_eV": float(work.get_potential_energy()), "steps": int(optimizer.nsteps),
                "converged": converged, "fmax_eV_A": fmax_eV_A}
        result = work.copy()
        result.calc = None
        return result, info

    if store is None:
        result, info = compute()
    else:
        key = store.key("relax", atoms, potential, params)
        result, info = store.cached("relax", atoms, potential, params,
                                    lambda: compute(store.checkpoint(key)))
    result.info["relax"] = info
    if not info["converged"]:
        message = (f"relaxation of {atoms.get_chemical_formula()} with {potential.info.name} stopped after "
                   f"{info['steps']} steps (max_steps={max_steps}) with forces above fmax_eV_A={fmax_eV_A}")
        report_unconverged(message, require_converged, log, hint=": raise max_steps, or relax from a better start")
    return result


@ase_names(fmax="fmax_eV_A", steps="max_steps")
def relaxation_path(atoms: Atoms, potential, store: ResultsStore, fmax_eV_A: float = 0.01, max_steps: int = 300,
                    relax_cell: bool = True) -> list[Atoms]:
    """Every step of :func:`relax` with these arguments, read back from its checkpoint in ``store``
    (the relaxation runs first where the store does not hold it yet)."""
    relax(atoms, potential, fmax_eV_A, max_steps, relax_cell, store)
    key = store.key("relax", atoms, potential, _parameters(atoms, fmax_eV_A, max_steps, relax_cell))
    return read(store.checkpoint(key), index=":")
