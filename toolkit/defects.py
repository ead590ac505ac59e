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


def vacancy_hop(perfect: Atoms, site: int, neighbour: int | None = None) -> tuple[Atoms, Atoms, int]:
    """End states of a vacancy hop: ``site`` emptied, then the ``neighbour`` atom (default:
    the nearest atom of the same element) moved into it.

    Returns ``(initial, final, mover)`` with ``mover`` the hopping atom's index in both
    (unrelaxed) end states.
    """
    if neighbour is None:
        same = [i for i in _sites(perfect, perfect[site].symbol) if i != site]
        neighbour = same[int(np.argmin(perfect.get_distances(site, same, mic=True)))]
    initial = perfect.copy()
    del initial[site]
    mover = neighbour - (1 if neighbour > site else 0)
    final = initial.copy()
    final.positions[mover] = perfect.positions[site]
    return initial, final, mover


def defect_map(config: Atoms, perfect: Atoms, tolerance_A: float = 1.0) -> dict:
    """Where ``config`` differs from the ``perfect`` cell it was made from (same cell).

    Each site of ``perfect`` is matched to the nearest atom of ``config`` within
    ``tolerance_A``. Returns ``antisites`` (indices in ``config`` whose element differs from
    the site's), ``vacancies`` (indices of unmatched ``perfect`` sites) and
    ``vacancy_neighbours`` (indices in ``config`` within 3 Å of a vacancy).
    """
    antisites, vacancies = [], []
    for site in range(len(perfect)):
        probe = config.copy()
        probe.append(perfect[site])
        distances = probe.get_distances(len(config), list(range(len(config))), mic=True)
        nearest = int(np.argmin(distances))
        if distances[nearest] > tolerance_A:
            vacancies.append(site)
        elif config[nearest].symbol != perfect[site].symbol:
            antisites.append(nearest)
    neighbours = set()
    for site in vacancies:
        probe = config.copy()
        probe.append(perfect[site])
        distances = probe.get_distances(len(config), list(range(len(config))), mic=True)
        neighbours.update(int(i) for i in np.where(distances < 3.0)[0])
    return {"antisites": sorted(antisites), "vacancies": vacancies, "vacancy_neighbours": sorted(neighbours)}
