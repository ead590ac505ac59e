"""Point defects in a supercell: vacancies and substitutions (antisites, dopants), placed far apart."""

from __future__ import annotations

import numpy as np
from ase import Atoms


def _sites(atoms: Atoms, symbol: str) -> list[int]:
    return [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == symbol]


def spread_sites(atoms: Atoms, candidates, n: int) -> list[int]:
    """``n`` of ``candidates`` chosen greedily far apart (minimum image): first the first,
    then each time the candidate farthest from those already chosen."""
    candidates = list(candidates)
    if n > len(candidates):
        raise ValueError(f"cannot choose {n} of {len(candidates)} sites")
    chosen = candidates[:1] if n else []
    while len(chosen) < n:
        free = [i for i in candidates if i not in chosen]
        nearest = [min(atoms.get_distance(i, j, mic=True) for j in chosen) for i in free]
        chosen.append(free[int(np.argmax(nearest))])
    return chosen


def vacancies(atoms: Atoms, symbol: str, n: int = 1) -> tuple[Atoms, list[int]]:
    """A copy with ``n`` ``symbol`` atoms removed, far apart. Returns ``(cell, removed_indices)``
    (indices in the original cell)."""
    removed = spread_sites(atoms, _sites(atoms, symbol), n)
    result = atoms.copy()
    del result[removed]
    return result, removed


def substitutions(atoms: Atoms, symbol: str, replacement: str, n: int = 1) -> tuple[Atoms, list[int]]:
    """A copy with ``n`` ``symbol`` atoms replaced by ``replacement``, far apart (an antisite
    when ``replacement`` is the other host species, a dopant otherwise). Returns
    ``(cell, replaced_indices)``."""
    chosen = spread_sites(atoms, _sites(atoms, symbol), n)
    result = atoms.copy()
    symbols = result.get_chemical_symbols()
    for i in chosen:
        symbols[i] = replacement
    result.set_chemical_symbols(symbols)
    return result, chosen
