"""Perovskite builders: cubic BaSnO3, Y-on-Sn supercells and their proton (OH) sites.

Crystallography: BaSnO3 is cubic perovskite, space group Pm-3m (221), Ba 1a (0,0,0),
Sn 1b (1/2,1/2,1/2), O 3c (1/2,1/2,0); a = 4.116 Å at room temperature
(Smith & Welch, Acta Cryst. 13, 653 (1960); also ICSD/Materials Project mp-3163).
"""

from __future__ import annotations

import numpy as np
import spglib
from ase import Atoms
from ase.build import find_optimal_cell_shape, make_supercell
from ase.spacegroup import crystal

from toolkit.defects import substitutions

BASNO3_A_EXP = 4.116  # Å, room temperature
#: Formal charges used for the charge balance of doped cells.
FORMAL_CHARGES = {"Ba": 2, "Sn": 4, "Y": 3, "O": -2, "H": 1}
OH_BOND_A = 0.98  # Å, a typical hydroxide O–H bond in perovskites


def basno3(a: float = BASNO3_A_EXP) -> Atoms:
    """Cubic BaSnO3 (Pm-3m) with lattice parameter ``a`` (Å), 5 atoms."""
    return crystal(["Ba", "Sn", "O"], [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0)], spacegroup=221,
                   cellpar=[a, a, a, 90, 90, 90], primitive_cell=True)


def supercell_matrix(n_formula_units: int) -> np.ndarray:
    """The most cube-like supercell of the cubic cell with ``n_formula_units`` cells (ASE's search)."""
    if round(round(n_formula_units ** (1 / 3)) ** 3) == n_formula_units:
        return np.eye(3, dtype=int) * round(n_formula_units ** (1 / 3))
    return find_optimal_cell_shape(np.eye(3), n_formula_units, "sc", verbose=False).astype(int)


def formal_charge(atoms: Atoms) -> int:
    """Sum of :data:`FORMAL_CHARGES` over the atoms (0 for a charge-balanced cell)."""
    return int(sum(FORMAL_CHARGES[s] for s in atoms.get_chemical_symbols()))


def y_doped(host: Atoms, matrix, n_y: int = 1) -> Atoms:
    """Supercell ``matrix`` of ``host`` with ``n_y`` Sn replaced by Y, spread as far apart as possible.

    The first Y goes on the first Sn; each next one on the Sn farthest (minimum image)
    from the Y already placed. The Y fraction is ``n_y / (number of Sn sites)``.
    """
    cell = make_supercell(host, np.asarray(matrix))
    n_sn = cell.get_chemical_symbols().count("Sn")
    if not 0 <= n_y <= n_sn:
        raise ValueError(f"cannot put {n_y} Y on {n_sn} Sn sites")
    return substitutions(cell, "Sn", "Y", n_y)[0]


def y_fraction(atoms: Atoms) -> float:
    """Y / (Y + Sn): the x of BaSn(1-x)Y(x)O3."""
    symbols = atoms.get_chemical_symbols()
    return symbols.count("Y") / (symbols.count("Y") + symbols.count("Sn"))


def _b_neighbours(atoms: Atoms, o_index: int) -> list[int]:
    """The two B-site cations (Sn/Y) bonded to oxygen ``o_index`` (nearest by minimum image)."""
    b_sites = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s in ("Sn", "Y")]
    distances = atoms.get_distances(o_index, b_sites, mic=True)
    return [b_sites[k] for k in np.argsort(distances)[:2]]


def proton_directions(atoms: Atoms, o_index: int) -> np.ndarray:
    """Unit vectors from O along which an OH proton points: toward the neighbouring O atoms,
    projected perpendicular to the B–O–B axis (4 directions in a cubic perovskite)."""
    b1, _ = _b_neighbours(atoms, o_index)
    axis = atoms.get_distance(o_index, b1, mic=True, vector=True)
    axis /= np.linalg.norm(axis)
    oxygens = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "O" and i != o_index]
    vectors = atoms.get_distances(o_index, oxygens, mic=True, vector=True)
    lengths = np.linalg.norm(vectors, axis=1)
    nearest = vectors[lengths < lengths.min() + 0.3]
    perpendicular = nearest - np.outer(nearest @ axis, axis)
    norms = np.linalg.norm(perpendicular, axis=1)
    perpendicular = perpendicular[norms > 1e-3] / norms[norms > 1e-3, None]
    unique: list[np.ndarray] = []
    for v in perpendicular:
        if all(np.dot(v, u) < 0.99 for u in unique):
            unique.append(v)
    return np.array(unique)


def add_proton(atoms: Atoms, o_index: int, direction, bond_A: float = OH_BOND_A) -> Atoms:
    """A copy of ``atoms`` with H placed ``bond_A`` from oxygen ``o_index`` along ``direction``."""
    direction = np.asarray(direction, dtype=float)
    result = atoms.copy()
    result.append("H")
    result.positions[-1] = atoms.positions[o_index] + bond_A * direction / np.linalg.norm(direction)
    result.wrap()
    return result


def distinct_proton_sites(doped: Atoms, symprec: float = 1e-3) -> list[dict]:
    """Symmetry-distinct OH positions in ``doped``: one representative per orbit.

    Candidates are every O with each of its :func:`proton_directions`; two candidates are
    the same site if a symmetry operation of the (proton-free) cell maps one H position onto
    the other. Each entry has ``o_index``, ``direction``, ``multiplicity`` and
    ``d_Y_A`` (distance from that O to the nearest Y, Å; inf without Y).
    """
    dataset = spglib.get_symmetry((doped.cell[:], doped.get_scaled_positions(), doped.numbers), symprec=symprec)
    rotations, translations = dataset["rotations"], dataset["translations"]
    inv_cell = np.linalg.inv(doped.cell[:])
    y_sites = [i for i, s in enumerate(doped.get_chemical_symbols()) if s == "Y"]
    sites: list[dict] = []
    orbits: list[np.ndarray] = []
    for o_index in (i for i, s in enumerate(doped.get_chemical_symbols()) if s == "O"):
        for direction in proton_directions(doped, o_index):
            h_frac = (doped.positions[o_index] + OH_BOND_A * direction) @ inv_cell
            seen = False
            for k, orbit in enumerate(orbits):
                delta = orbit - h_frac
                if (np.abs(delta - np.round(delta)) < 1e-3).all(axis=1).any():
                    sites[k]["multiplicity"] += 1
                    seen = True
                    break
            if seen:
                continue
            orbit = (rotations @ h_frac + translations) % 1.0
            orbits.append(orbit)
            d_y = min((doped.get_distance(o_index, y, mic=True) for y in y_sites), default=np.inf)
            sites.append({"o_index": int(o_index), "direction": direction, "multiplicity": 1, "d_Y_A": float(d_y)})
    return sites


#: Octahedral tilt patterns about z (Glazer): ``"M"`` is a0a0c+ (in-phase along z, the M-point mode),
#: ``"R"`` is a0a0c- (out of phase, the R-point mode), and the supercell of the 5-atom cubic cell that holds each.
TILT_CELLS = {"M": [[1, 1, 0], [-1, 1, 0], [0, 0, 1]], "R": [[1, 1, 0], [-1, 1, 0], [0, 0, 2]]}


def tilt_cell(a: float, kind: str) -> tuple[Atoms, np.ndarray]:
    """The smallest cell of cubic BaSnO3 (lattice ``a``, Å) holding the tilt ``kind`` (``"M"``: 10 atoms,
    ``"R"``: 20), and the tilt's displacement pattern (Å per unit amplitude, the largest component 1 Å).

    The pattern rotates each SnO6 octahedron rigidly (to first order) about z, neighbours in the plane in
    opposite senses; along z, in the same sense (M) or the opposite one (R). Only the equatorial O move:
    the O at Sn site n + a/2 x along y, the O at n + a/2 y along x, by ±1 with the octahedron's sign. It is
    built from geometry alone, so every potential and DFT are compared on the same distortion.
    """
    if kind not in TILT_CELLS:
        raise ValueError(f"tilt kind must be one of {', '.join(TILT_CELLS)}, not {kind!r}")
    from ase.build import make_supercell

    cell = make_supercell(basno3(a), TILT_CELLS[kind])
    pattern = np.zeros((len(cell), 3))
    sn = basno3(a).positions[1]  # Sn at the cube centre
    for i, atom in enumerate(cell):
        if atom.symbol != "O":
            continue
        offset = (atom.position - sn) / a  # from an Sn: half-integer along the Sn-O bond, integer elsewhere
        axis = int(np.argmax(np.abs(offset - np.round(offset))))  # the bond direction
        if axis == 2:
            continue  # apical O: a rotation about z leaves them in place
        site = np.round(offset - 0.5 * np.eye(3)[axis]).astype(int)  # the Sn whose +axis O this is
        sign = (-1) ** int(site[0] + site[1] + (site[2] if kind == "R" else 0))
        pattern[i, 1 - axis] = sign if axis == 0 else -sign
    return cell, pattern
