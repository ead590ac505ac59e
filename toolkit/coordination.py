"""Local structure of (amorphous) solids: partial RDFs, coordination numbers with cutoffs
from RDF minima, cation-centred motifs, bridging anions, polyhedral sharing, bond angles.

Functions take one ``Atoms`` or a list of frames (averaged over frames). Distances in Å,
angles in degrees. Neighbours come from ASE's ``neighbor_list``, so periodic images count
and cells smaller than twice the cutoff are handled.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list
from scipy.ndimage import gaussian_filter1d


def _frames(structures) -> list[Atoms]:
    return [structures] if isinstance(structures, Atoms) else list(structures)


def pair_label(a: str, b: str) -> str:
    """The key used for a pair in every result: ``"Ta-O"``."""
    return f"{a}-{b}"


def partial_rdf(structures, a: str, b: str, r_max_A: float = 6.0, dr_A: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Partial radial distribution function g_ab(r), averaged over frames.

    g_ab(r) = n_ab(r) / (N_a ρ_b 4π r² dr), with n_ab the number of b atoms in the shell
    around all a atoms and ρ_b the number density of b (excluding the atom itself when
    a = b). Returns ``(r_A, g)`` at bin centres.
    """
    edges = np.arange(0.0, r_max_A + dr_A / 2, dr_A)
    r = 0.5 * (edges[1:] + edges[:-1])
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    total = np.zeros_like(r)
    frames = _frames(structures)
    for atoms in frames:
        symbols = np.array(atoms.get_chemical_symbols())
        n_a, n_b = (symbols == a).sum(), (symbols == b).sum() - (a == b)
        if n_a == 0 or n_b <= 0:
            raise ValueError(f"no {a}–{b} pairs in {atoms.get_chemical_formula()}")
        i, j, d = neighbor_list("ijd", atoms, r_max_A)
        keep = (symbols[i] == a) & (symbols[j] == b)
        counts, _ = np.histogram(d[keep], bins=edges)
        total += counts / (n_a * n_b / atoms.get_volume() * shell)
    return r, total / len(frames)


def first_minimum_A(r: np.ndarray, g: np.ndarray, smooth_A: float = 0.1) -> float:
    """Position (Å) of the first minimum of g(r) after its first peak: the first-shell cutoff.

    g is smoothed with a Gaussian of width ``smooth_A`` first, so that noise in an
    amorphous RDF gives one clear minimum. Where the minimum is a flat stretch (the empty
    gap between shells of a crystal) the middle of the stretch is returned.
    """
    dr = r[1] - r[0]
    smooth = gaussian_filter1d(g, smooth_A / dr, mode="nearest")
    tolerance = 1e-3 * smooth.max()
    peak = int(np.argmax(smooth > 0.5 * smooth.max()))  # start of the first peak
    peak += int(np.argmax(np.diff(smooth[peak:]) < 0))  # its top
    rising = np.where(np.diff(smooth[peak:]) > tolerance)[0]
    if not len(rising):
        raise ValueError("g(r) has no minimum after its first peak within r_max; raise r_max_A")
    valley = smooth[peak:peak + rising[0] + 1]
    bottom = np.where(valley <= valley.min() + tolerance)[0]
    return float(r[peak + int(round(bottom.mean()))])


def _pairs(atoms: Atoms, cutoffs: dict[tuple[str, str], float]):
    """``i, j, D`` of every (a, b) pair within its cutoff, both orders."""
    symmetric = {**cutoffs, **{(b, a): rc for (a, b), rc in cutoffs.items()}}
    return neighbor_list("ijD", atoms, symmetric)


def coordination_numbers(structures, cutoffs: dict[tuple[str, str], float]) -> dict[str, float]:
    """Mean number of b neighbours within ``cutoffs[(a, b)]`` (Å) of each a atom, per pair ``"a-b"``."""
    sums: Counter = Counter()
    frames = _frames(structures)
    for atoms in frames:
        symbols = np.array(atoms.get_chemical_symbols())
        i, j, _ = _pairs(atoms, cutoffs)
        for (a, b) in cutoffs:
            n_a = (symbols == a).sum()
            if n_a:
                sums[pair_label(a, b)] += ((symbols[i] == a) & (symbols[j] == b)).sum() / n_a
    return {pair_label(a, b): float(sums[pair_label(a, b)] / len(frames)) for a, b in cutoffs}


def _cutoff(cutoffs, a: str, b: str) -> float:
    try:
        return cutoffs[(a, b)] if (a, b) in cutoffs else cutoffs[(b, a)]
    except KeyError:
        raise KeyError(f"no cutoff given for the {a}–{b} pair") from None


def _shells(atoms: Atoms, center: str, ligands, cutoffs) -> dict[int, list[tuple[int, np.ndarray, tuple]]]:
    """For each ``center`` atom: its ``ligands`` neighbours as ``(index, vector, image shift)``."""
    symbols = np.array(atoms.get_chemical_symbols())
    i, j, vectors, shifts = neighbor_list("ijDS", atoms, {(center, lig): _cutoff(cutoffs, center, lig) for lig in ligands}
                                          | {(lig, center): _cutoff(cutoffs, center, lig) for lig in ligands})
    shells: dict[int, list] = {int(c): [] for c in np.where(symbols == center)[0]}
    for a, b, v, shift in zip(i, j, vectors, shifts):
        if symbols[a] == center and symbols[b] in ligands:
            shells[int(a)].append((int(b), v, tuple(int(k) for k in shift)))
    return shells


def motifs(structures, cutoffs, center: str = "Ta", ligands=("O", "Cl")) -> dict[str, float]:
    """Fraction of ``center`` atoms in each motif, e.g. ``{"TaO1Cl4": 0.5, ...}``, over frames."""
    counts: Counter = Counter()
    total = 0
    for atoms in _frames(structures):
        symbols = atoms.get_chemical_symbols()
        for shell in _shells(atoms, center, ligands, cutoffs).values():
            found = Counter(symbols[k] for k, _, _ in shell)
            counts[center + "".join(f"{lig}{found[lig]}" for lig in ligands)] += 1
            total += 1
    return {name: n / total for name, n in sorted(counts.items())}


def bridging_fraction(structures, cutoffs, anion: str = "O", center: str = "Ta") -> float:
    """Fraction of ``anion`` atoms bonded to two or more ``center`` atoms (e.g. Ta–O–Ta bridges)."""
    bridging = total = 0
    for atoms in _frames(structures):
        per_anion = Counter(k for shell in _shells(atoms, center, (anion,), cutoffs).values() for k, _, _ in shell)
        n_anion = atoms.get_chemical_symbols().count(anion)
        bridging += sum(1 for n in per_anion.values() if n >= 2)
        total += n_anion
    if total == 0:
        raise ValueError(f"no {anion} atoms")
    return bridging / total


def polyhedral_sharing(structures, cutoffs, center: str = "Ta", ligands=("O", "Cl")) -> dict[str, float]:
    """Pairs of ``center`` polyhedra sharing 1 (corner), 2 (edge) or 3+ (face) ligands, per
    ``center`` atom and averaged over frames.

    Ligands are told apart by atom and periodic image, so a polyhedron linked to its own
    image in a small cell, or to the same neighbour through two images, counts correctly.
    """
    counts: Counter = Counter()
    n_centers = 0
    for atoms in _frames(structures):
        shells = {c: {(k, shift) for k, _, shift in shell} for c, shell in _shells(atoms, center, ligands, cutoffs).items()}
        n_centers += len(shells)
        reach = 2 * max(_cutoff(cutoffs, center, lig) for lig in ligands)
        a_list, b_list, offsets = neighbor_list("ijS", atoms, {(center, center): reach})
        for a, b, offset in zip(a_list, b_list, offsets):
            seen_from_a = {(k, tuple(int(s) for s in np.add(shift, offset))) for k, shift in shells[int(b)]}
            shared = len(shells[int(a)] & seen_from_a)
            if shared:  # each pair is met from both ends: count a half each time
                counts["corner" if shared == 1 else "edge" if shared == 2 else "face"] += 0.5
    return {kind: counts[kind] / max(n_centers, 1) for kind in ("corner", "edge", "face")}


def bond_angles(structures, center: str, ligands, cutoffs) -> np.ndarray:
    """All ligand–``center``–ligand angles (degrees) within the cutoffs, over frames."""
    angles = []
    for atoms in _frames(structures):
        for shell in _shells(atoms, center, ligands, cutoffs).values():
            for (_, u, _), (_, v, _) in combinations(shell, 2):
                cosine = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
                angles.append(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
    return np.array(angles)
