"""Protons in oxides: which O holds each H, transfer and rotation end states, jumps in MD."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from toolkit.perovskite import proton_directions


def _indices(atoms: Atoms, symbol: str) -> list[int]:
    return [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == symbol]


def host_oxygen(atoms: Atoms, h_index: int) -> int:
    """The O nearest to proton ``h_index`` (minimum image)."""
    oxygens = _indices(atoms, "O")
    return oxygens[int(np.argmin(atoms.get_distances(h_index, oxygens, mic=True)))]


def _without(atoms: Atoms, index: int) -> Atoms:
    rest = atoms.copy()
    del rest[index]
    return rest


def _place(atoms: Atoms, h_index: int, o_index: int, direction, bond_A: float) -> Atoms:
    moved = atoms.copy()
    moved.positions[h_index] = atoms.positions[o_index] + bond_A * np.asarray(direction)
    moved.wrap()
    return moved


def transfer_final_state(atoms: Atoms, h_index: int) -> tuple[Atoms, int, int]:
    """The end state of a proton transfer: H moved to the O it points at.

    The acceptor is the neighbouring O best aligned with the O–H bond; on it, H takes the
    direction (from :func:`~toolkit.perovskite.proton_directions`) that points back to the
    donor. Returns ``(final_atoms, donor_O, acceptor_O)``; the final state is not relaxed.
    """
    donor = host_oxygen(atoms, h_index)
    bond = atoms.get_distance(donor, h_index, mic=True, vector=True)
    oxygens = [o for o in _indices(atoms, "O") if o != donor]
    vectors = atoms.get_distances(donor, oxygens, mic=True, vector=True)
    lengths = np.linalg.norm(vectors, axis=1)
    near = lengths < lengths.min() + 0.5
    cosine = (vectors @ bond) / (lengths * np.linalg.norm(bond))
    acceptor = oxygens[int(np.argmax(np.where(near, cosine, -2)))]
    shift = 1 if acceptor > h_index else 0  # proton_directions works on the H-free cell
    back = -atoms.get_distance(donor, acceptor, mic=True, vector=True)
    options = proton_directions(_without(atoms, h_index), acceptor - shift)
    direction = options[int(np.argmax(options @ back))]
    return _place(atoms, h_index, acceptor, direction, np.linalg.norm(bond)), donor, acceptor


def rotation_final_state(atoms: Atoms, h_index: int) -> tuple[Atoms, int]:
    """The end state of a 90° proton rotation about its O (the first of :func:`rotation_final_states`).
    Returns ``(final_atoms, O)``."""
    return rotation_final_states(atoms, h_index)[0]


def rotation_final_states(atoms: Atoms, h_index: int) -> list[tuple[Atoms, int]]:
    """Every end state of a proton rotation about its O by about 90° (the proton directions of
    :func:`~toolkit.perovskite.proton_directions` within 30° of perpendicular to the O–H bond), the nearest to 90°
    first, as ``(final_atoms, O)``; none is relaxed."""
    donor = host_oxygen(atoms, h_index)
    bond = atoms.get_distance(donor, h_index, mic=True, vector=True)
    shift = 1 if donor > h_index else 0
    options = proton_directions(_without(atoms, h_index), donor - shift)
    cosine = np.abs(options @ bond / np.linalg.norm(bond))
    return [(_place(atoms, h_index, donor, options[k], np.linalg.norm(bond)), donor)
            for k in np.argsort(cosine, kind="stable") if cosine[k] < 0.5]


def proton_jumps(frames: list[Atoms], h_indices=None, time_step_fs: float = 1.0) -> list[dict]:
    """Changes of host O of each proton along an MD trajectory.

    For each jump: ``frame``, ``time_fs`` (frame index x ``time_step_fs``), ``h``, ``from_O``,
    ``to_O`` and ``d_OO_A`` (the donor–acceptor distance in the frame of the jump, Å).
    """
    h_indices = _indices(frames[0], "H") if h_indices is None else list(h_indices)
    hosts = {h: host_oxygen(frames[0], h) for h in h_indices}
    jumps = []
    for k, frame in enumerate(frames[1:], start=1):
        for h in h_indices:
            new = host_oxygen(frame, h)
            if new != hosts[h]:
                jumps.append({"frame": k, "time_fs": k * time_step_fs, "h": h, "from_O": hosts[h], "to_O": new,
                              "d_OO_A": float(frame.get_distance(hosts[h], new, mic=True))})
                hosts[h] = new
    return jumps
