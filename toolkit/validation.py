"""Checks that stop bad input early, with errors that name the problem and the atoms.

Every workflow (relaxation, phonons, NEB, MD) calls :func:`check_structure` before the
first force call, so a mistyped cell or a pair of overlapping atoms is reported in
words instead of surfacing later as a NaN or an exploding trajectory.
"""

from __future__ import annotations

import functools

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list

#: Two atoms closer than this fraction of the sum of their covalent radii overlap.
#: 0.5 is well below any real bond (an O–H bond is 1.0x, a short metal contact ~0.8x).
OVERLAP_FRACTION = 0.5


def ase_names(**aliases):
    """Let a function also take ASE's keyword names for the arguments it shares with an ASE function.

    ``aliases`` maps ASE's name to the toolkit's, or to ``(toolkit_name, convert)`` where the units
    differ: ``ase_names(fmax="fmax_eV_A", steps="max_steps")`` lets ``relax(atoms, calc, fmax=0.01)``
    mean ``fmax_eV_A=0.01``; ``timestep=("timestep_fs", lambda t: t / units.fs)`` takes ASE's time
    unit. Giving both names is a ``TypeError`` that names them.
    """

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            for ase_name, target in aliases.items():
                if ase_name not in kwargs:
                    continue
                name, convert = (target, None) if isinstance(target, str) else target
                if name in kwargs:
                    raise TypeError(f"{function.__name__}() got both {ase_name!r} (ASE's name) and {name!r}; "
                                    "give one")
                value = kwargs.pop(ase_name)
                kwargs[name] = value if convert is None else convert(value)
            return function(*args, **kwargs)

        wrapper.__doc__ = (function.__doc__ or "") + "\n\n    Also takes ASE's names: " + ", ".join(
            f"``{a}`` for ``{t if isinstance(t, str) else t[0]}``" for a, t in aliases.items()) + ".\n"
        return wrapper

    return decorate


class NotConvergedError(RuntimeError):
    """A relaxation or NEB stopped at its step limit with forces above its criterion, where the caller
    asked for a converged result (``require_converged=True``)."""


def report_unconverged(message: str, required: bool, logger, hint: str = "") -> None:
    """An optimisation stopped at its step limit: raise :class:`NotConvergedError` (``message`` and ``hint``)
    where the caller ``required`` convergence, else log ``message`` as a warning on ``logger``."""
    if required:
        raise NotConvergedError(message + hint)
    logger.warning(message)


class StructureError(ValueError):
    """The structure cannot be used as given (empty, non-periodic, overlapping atoms)."""


class OverlappingAtomsError(StructureError):
    """Two or more atoms sit closer than :data:`OVERLAP_FRACTION` of their covalent radii."""


class NonFiniteForcesError(FloatingPointError):
    """The potential returned NaN or infinite energies, forces or stresses."""


class MDExplosionError(RuntimeError):
    """The MD temperature ran away from the thermostat target, or atoms fell onto each other.

    Raised by :func:`toolkit.md.run_md` and :func:`toolkit.md.run_replicas`, it carries the
    frames sampled before (``frames``: one list per replica, the last before the blow-up), so
    that the way a potential went wrong can be looked at, or labelled by a better one.
    """

    frames: list | tuple = ()
    #: the replica that blew up, where the run had several (:func:`toolkit.md.run_replicas`)
    replica: int = 0


def _label(atoms: Atoms, index: int) -> str:
    return f"{atoms[index].symbol}{index}"


def check_periodic_cell(atoms: Atoms) -> None:
    """Raise :class:`StructureError` unless ``atoms`` has atoms and a full 3D periodic cell."""
    if len(atoms) == 0:
        raise StructureError("the structure has no atoms")
    if not all(atoms.pbc):
        raise StructureError(
            f"a periodic cell is needed but pbc={list(map(bool, atoms.pbc))}; "
            "set atoms.pbc = True and give a cell"
        )
    volume = abs(atoms.cell.volume) if atoms.cell.rank == 3 else 0.0
    if volume < 1e-6:
        raise StructureError(
            f"the cell is empty or flat (volume {volume:.3g} Å^3, cell {atoms.cell.cellpar().round(3).tolist()})"
        )


def overlap_radii_A(numbers, fraction: float = OVERLAP_FRACTION) -> np.ndarray:
    """Each atom's share (Å) of an overlap distance: two atoms overlap when closer than the sum of theirs,
    ``fraction`` x (r_cov,i + r_cov,j)."""
    return fraction * covalent_radii[np.asarray(numbers, dtype=int)]


def find_overlaps(atoms: Atoms, fraction: float = OVERLAP_FRACTION) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, distance_A)`` with ``i < j`` closer than ``fraction`` x (r_cov,i + r_cov,j).

    Periodic images count, so an atom overlapping its own image (a cell too small) is found too.
    """
    if len(atoms) == 0:
        return []
    cutoffs = overlap_radii_A(atoms.numbers, fraction)
    i, j, d = neighbor_list("ijd", atoms, cutoffs.tolist(), self_interaction=False)
    keep = i <= j
    return sorted({(int(a), int(b), round(float(x), 4)) for a, b, x in zip(i[keep], j[keep], d[keep])})


def check_overlaps(atoms: Atoms, fraction: float = OVERLAP_FRACTION) -> None:
    """Raise :class:`OverlappingAtomsError` naming each overlapping pair and its distance (Å)."""
    pairs = find_overlaps(atoms, fraction)
    if pairs:
        shown = ", ".join(f"{_label(atoms, a)}–{_label(atoms, b)} {d:.3f} Å" for a, b, d in pairs[:10])
        more = f" and {len(pairs) - 10} more" if len(pairs) > 10 else ""
        raise OverlappingAtomsError(
            f"{len(pairs)} pair(s) of atoms closer than {fraction} x the sum of covalent radii: {shown}{more}"
        )


def check_structure(atoms: Atoms, periodic: bool = True) -> None:
    """All structure checks a workflow needs before its first force call."""
    if periodic:
        check_periodic_cell(atoms)
    elif len(atoms) == 0:
        raise StructureError("the structure has no atoms")
    check_overlaps(atoms)


def check_finite(results: dict, atoms: Atoms) -> None:
    """Raise :class:`NonFiniteForcesError` if any calculator result is NaN/inf, naming the atoms."""
    bad = []
    forces = results.get("forces")
    if forces is not None:
        rows = np.where(~np.isfinite(np.asarray(forces)).all(axis=1))[0]
        if len(rows):
            names = ", ".join(_label(atoms, int(k)) for k in rows[:10])
            bad.append(f"forces on {len(rows)} atom(s): {names}")
    for key in ("energy", "free_energy", "stress"):
        value = results.get(key)
        if value is not None and not np.isfinite(np.asarray(value)).all():
            bad.append(key)
    if bad:
        raise NonFiniteForcesError("the potential returned NaN/inf " + "; ".join(bad))


def temperature_limit_K(target_K: float, factor: float = 3.0) -> float:
    """Kinetic temperature above which a run counts as exploded: max(factor x T, T + 500 K)."""
    return max(factor * target_K, target_K + 500.0)


def check_temperature(atoms: Atoms, target_K: float, limit_K: float) -> None:
    """Raise :class:`MDExplosionError` if the kinetic temperature exceeds ``limit_K``.

    The error names the fastest atoms, which are usually where the trouble started.
    """
    temperature = atoms.get_temperature()
    if not np.isfinite(temperature) or temperature > limit_K:
        speeds = np.linalg.norm(atoms.get_velocities(), axis=1)
        hottest = np.argsort(np.nan_to_num(speeds, nan=np.inf))[::-1][:5]
        names = ", ".join(_label(atoms, int(k)) for k in hottest)
        raise MDExplosionError(
            f"MD temperature {temperature:.0f} K exceeds the limit {limit_K:.0f} K "
            f"(target {target_K:.0f} K); fastest atoms: {names}. "
            "Try a shorter time step, a relaxed starting structure, or check the potential covers these atoms."
        )


def check_md_frame(atoms: Atoms, target_K: float, limit_K: float) -> None:
    """Raise :class:`MDExplosionError` if an MD frame blew up (:func:`check_temperature`) or collapsed.

    A collapse is a potential letting atoms fall onto each other (:func:`find_overlaps`): a spurious
    well at short range that a machine-learned model never saw. It need not heat the run past
    ``limit_K``, and the run would carry on until the next run's structure check refused its frames.
    """
    check_temperature(atoms, target_K, limit_K)
    try:
        check_overlaps(atoms)
    except OverlappingAtomsError as problem:
        raise MDExplosionError(
            f"the MD collapsed: {problem}. The potential lets these atoms fall together; "
            "check that it was trained on (or repels at) such short distances."
        ) from None
