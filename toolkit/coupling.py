"""Proton–phonon coupling: how a frozen lattice mode changes the proton-transfer barrier."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms

from toolkit.barriers import neb_barrier
from toolkit.relax import relax
from toolkit.store import ResultsStore


def _on_frozen_lattice(state: Atoms, lattice: Atoms, h_index: int) -> Atoms:
    """``lattice`` with the proton of ``state`` at the same vector from its nearest atom (its O) as there; every atom
    but the proton fixed. (At the proton's own place in ``state``, a mode that moves its O by tenths of an Å can put
    the two atoms on top of each other.)"""
    result = lattice.copy()
    others = [i for i in range(len(state)) if i != h_index]
    host = others[int(np.argmin(state.get_distances(h_index, others, mic=True)))]
    result.positions[h_index] = result.positions[host] + state.get_distance(host, h_index, mic=True, vector=True)
    result.set_constraint(FixAtoms(indices=[i for i in range(len(result)) if i != h_index]))
    return result


def barrier_vs_amplitude(reference: Atoms, initial: Atoms, final: Atoms, mode_A: np.ndarray, amplitudes_A,
                         potential, h_index: int, donor: int, acceptor: int, n_images: int = 3,
                         fmax_eV_A: float = 0.05, max_steps: int = 200,
                         store: ResultsStore | None = None) -> list[dict]:
    """Proton-transfer barrier on a lattice frozen at a series of mode amplitudes.

    The lattice of ``reference`` (e.g. the saddle point of the relaxed-lattice band, where
    donor and acceptor are alike) is displaced by ``Q x mode_A`` (``mode_A``: N x 3
    pattern in Å whose largest atomic displacement is 1 Å, as from
    :func:`toolkit.phonons.mode_displacements`; the proton's own component is ignored).
    On that frozen lattice only the proton relaxes, starting from its place in ``initial``
    and in ``final``, and moves along the band. Returns, per amplitude ``Q`` (Å):
    ``amplitude_A``, ``barrier_eV``, ``reaction_eV`` (final − initial state), ``d_OO_A`` (donor–acceptor
    distance) and ``converged``.
    """
    rows = []
    for q in amplitudes_A:
        lattice = reference.copy()
        shift = np.asarray(mode_A, dtype=float) * q
        shift[h_index] = 0.0
        lattice.positions += shift
        ends = [relax(_on_frozen_lattice(state, lattice, h_index), potential, fmax_eV_A=fmax_eV_A,
                      max_steps=max_steps, relax_cell=False, store=store) for state in (initial, final)]
        band = neb_barrier(ends[0], ends[1], potential, n_images=n_images, fmax_eV_A=fmax_eV_A,
                           max_steps=max_steps, moving=[h_index], store=store)
        rows.append({"amplitude_A": float(q), "barrier_eV": band.barrier_eV,
                     "reaction_eV": float(band.energies_eV[-1] - band.energies_eV[0]),
                     "d_OO_A": float(lattice.get_distance(donor, acceptor, mic=True)),
                     "converged": band.converged})
    return rows
