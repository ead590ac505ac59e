"""Phonons with phonopy: force constants from any toolkit potential, modes and their character.

Frequencies are in THz; phonopy reports an imaginary frequency as a negative number.
Each displaced supercell's forces go through the results store, so an interrupted phonon
calculation resumes from the displacements already done.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms, units
from phonopy import Phonopy
from phonopy.structure.atoms import PhonopyAtoms
from toolkit.progress import progress_bar

from toolkit.store import ResultsStore
from toolkit.validation import check_structure

#: High-symmetry points of the simple-cubic Brillouin zone (reduced coordinates).
CUBIC_POINTS = {"Γ": (0.0, 0.0, 0.0), "X": (0.0, 0.5, 0.0), "M": (0.5, 0.5, 0.0), "R": (0.5, 0.5, 0.5)}


def to_phonopy_atoms(atoms: Atoms) -> PhonopyAtoms:
    return PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell[:],
                        scaled_positions=atoms.get_scaled_positions(), masses=atoms.get_masses())


def to_ase(cell: PhonopyAtoms) -> Atoms:
    return Atoms(cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True)


def compute_phonons(atoms: Atoms, potential, supercell=(2, 2, 2), displacement_A: float = 0.03,
                    symprec: float = 1e-3, symmetrize: bool = True, store: ResultsStore | None = None,
                    progress: bool = True) -> Phonopy:
    """Finite-displacement force constants of ``atoms`` in ``supercell``; returns the Phonopy object.

    ``supercell`` is a diagonal (3 numbers) or a 3x3 matrix; ``displacement_A`` the
    displacement amplitude (Å): 0.03 Å rather than phonopy's 0.01 Å because machine-learned
    potentials evaluated in float32 leave force noise that 0.01 Å displacements amplify
    into ~0.5 THz of spurious frequency (see :func:`acoustic_noise_THz`). ``atoms`` is kept as the unit cell (no reduction to a
    primitive cell), so the modes of a doped supercell are its own. ``symprec`` (Å) is
    loose enough that float32 forces' tiny symmetry breaking after a relaxation does not
    hide the symmetry (which sets how many displacements are needed). ``symmetrize``
    imposes the acoustic sum rule on the force constants (turn it off only for models
    that break translation invariance on purpose). Forces of each displaced supercell are
    cached in ``store``.
    """
    check_structure(atoms)
    potential.check_elements(atoms)
    matrix = np.diag(supercell) if np.ndim(supercell) == 1 else np.asarray(supercell)
    phonon = Phonopy(to_phonopy_atoms(atoms), supercell_matrix=matrix, primitive_matrix="P", symprec=symprec)
    phonon.generate_displacements(distance=displacement_A)
    forces = []
    for cell in progress_bar(phonon.supercells_with_displacements, desc="phonon displacements", disable=not progress,
                     leave=False):
        forces.append(single_point_forces(to_ase(cell), potential, store))
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    if symmetrize:
        phonon.symmetrize_force_constants()
    return phonon


def single_point_forces(atoms: Atoms, potential, store: ResultsStore | None = None) -> np.ndarray:
    """Forces (eV/Å) on ``atoms``, through the store when one is given."""
    def compute():
        work = atoms.copy()
        work.calc = potential
        return atoms, {"forces": work.get_forces()}

    if store is None:
        return compute()[1]["forces"]
    return np.asarray(store.cached("forces", atoms, potential, {}, compute)[1]["forces"])


def frequencies_at(phonon: Phonopy, q=(0, 0, 0)) -> np.ndarray:
    """Mode frequencies (THz, ascending, imaginary as negative) at reduced wave vector ``q``."""
    return np.asarray(phonon.get_frequencies(q))


def lowest_frequencies(phonon: Phonopy, points: dict = CUBIC_POINTS) -> dict[str, float]:
    """The lowest frequency (THz) at each labelled q-point."""
    return {label: float(frequencies_at(phonon, q).min()) for label, q in points.items()}


def _plain_label(label: str) -> str:
    label = label.replace("$\\mathrm{", "").replace("}$", "").strip("$")
    return "Γ" if label in ("\\Gamma", "GAMMA", "G") else label


def band_structure(phonon: Phonopy, npoints: int = 41) -> dict:
    """Bands along the standard high-symmetry path (seekpath, through phonopy).

    Returns ``distances`` and ``frequencies_THz`` (one array per segment, THz), and the
    tick ``label_positions`` / ``labels`` for plotting (a path break reads "X|R").
    """
    phonon.auto_band_structure(npoints=npoints, with_eigenvectors=False, plot=False)
    bands = phonon.band_structure
    names = [_plain_label(lab) for lab in bands.labels]
    ticks: dict[float, str] = {}
    k = 0
    for segment, connected in zip(bands.distances, bands.path_connections):
        start, end = float(segment[0]), float(segment[-1])
        ticks[start] = ticks[start] + "|" + names[k] if start in ticks and ticks[start] != names[k] else names[k]
        ticks[end] = names[k + 1]
        k += 1 if connected else 2
    return {"distances": bands.distances, "frequencies_THz": bands.frequencies,
            "label_positions": list(ticks), "labels": list(ticks.values())}


def dos(phonon: Phonopy, mesh=(12, 12, 12), sigma_THz: float = 0.1) -> dict:
    """Total phonon density of states on a ``mesh`` (Gaussian smearing ``sigma_THz``)."""
    phonon.run_mesh(mesh)
    phonon.run_total_dos(sigma=sigma_THz)
    d = phonon.get_total_dos_dict()
    return {"frequency_THz": d["frequency_points"], "dos": d["total_dos"]}


def acoustic_noise_THz(phonon: Phonopy) -> float:
    """Numerical noise floor (THz): the largest |frequency| of the three acoustic modes at Γ
    from the raw force constants, before the acoustic sum rule is imposed.

    They would be exactly zero with exact forces; what remains measures the error of the
    finite displacements and of the potential's (float32) forces.
    """
    symmetrized = phonon.force_constants.copy()
    phonon.produce_force_constants()
    try:
        freqs = frequencies_at(phonon, (0, 0, 0))
    finally:
        phonon.force_constants = symmetrized
    return float(np.sort(np.abs(freqs))[:3].max())


def acoustic_bands(freqs, q=(0, 0, 0)) -> set[int]:
    """The band indices taken as acoustic at ``q``: at Γ the three of smallest |ω| (zero by translation symmetry,
    whatever finite displacements give them), elsewhere none."""
    return set(int(i) for i in np.argsort(np.abs(freqs))[:3]) if np.allclose(q, 0) else set()


def imaginary_modes(phonon: Phonopy, q=(0, 0, 0), threshold_THz: float = 0.3) -> list[tuple[int, float]]:
    """``(band_index, frequency_THz)`` of modes at ``q`` with frequency below ``-threshold_THz``.

    At Γ the three acoustic modes (the three smallest |ω|) are excluded: they are zero by
    translation symmetry, and any small imaginary value there is numerical noise.
    """
    freqs = frequencies_at(phonon, q)
    skip = acoustic_bands(freqs, q)
    return [(int(i), float(f)) for i, f in enumerate(freqs) if f < -threshold_THz and i not in skip]


def softest_optical_mode(phonon: Phonopy, q=(0, 0, 0)) -> tuple[int, float]:
    """``(band_index, frequency_THz)`` of the lowest non-acoustic mode at ``q``."""
    freqs = frequencies_at(phonon, q)
    skip = acoustic_bands(freqs, q)
    index = min((i for i in range(len(freqs)) if i not in skip), key=lambda i: freqs[i])
    return int(index), float(freqs[index])


def mode_displacements(phonon: Phonopy, band_index: int, q=(0, 0, 0), amplitude_A: float = 1.0,
                       phase: float = 0.0) -> np.ndarray:
    """Real displacement pattern (Å, shape N x 3) of a mode in the phonopy unit cell.

    u_j = Re[e_j exp(i phase) / sqrt(m_j)], scaled so the largest atomic displacement is
    ``amplitude_A``. The global phase of the eigenvector is fixed so that its largest
    component is real, making the pattern deterministic.
    """
    _, vectors = phonon.get_frequencies_with_eigenvectors(q)
    vector = vectors[:, band_index].reshape(-1, 3)
    big = vector.flat[np.argmax(np.abs(vector))]
    vector = vector * np.conj(big) / abs(big)
    masses = phonon.primitive.masses if phonon.primitive is not None else phonon.unitcell.masses
    u = np.real(vector * np.exp(1j * phase)) / np.sqrt(np.asarray(masses))[:, None]
    return amplitude_A * u / np.linalg.norm(u, axis=1).max()


def participation(phonon: Phonopy, band_index: int, groups: dict[str, list[int]], q=(0, 0, 0)) -> dict[str, float]:
    """Fraction of a mode's (mass-weighted, normalised) eigenvector norm on each group of atoms."""
    _, vectors = phonon.get_frequencies_with_eigenvectors(q)
    weight = (np.abs(vectors[:, band_index].reshape(-1, 3)) ** 2).sum(axis=1)
    return {name: float(weight[list(idx)].sum()) for name, idx in groups.items() if len(idx)}


def tilt_character(atoms: Atoms, displacements: np.ndarray, b_symbols=("Sn", "Y")) -> float:
    """Share of the O displacement (squared) perpendicular to the O's B–O–B axis.

    1 means pure octahedral rotation/tilt (O moving sideways), 0 means pure bond
    stretching along B–O–B. Computed for the oxygens of ``atoms`` with ``displacements``
    (N x 3, Å) as from :func:`mode_displacements`.
    """
    symbols = atoms.get_chemical_symbols()
    b_sites = [i for i, s in enumerate(symbols) if s in b_symbols]
    perpendicular = total = 0.0
    for o in (i for i, s in enumerate(symbols) if s == "O"):
        vectors = atoms.get_distances(o, b_sites, mic=True, vector=True)
        axis = vectors[np.argmin(np.linalg.norm(vectors, axis=1))]
        axis /= np.linalg.norm(axis)
        u = displacements[o]
        along = np.dot(u, axis)
        total += float(u @ u)
        perpendicular += float(u @ u - along**2)
    return perpendicular / total if total > 0 else 0.0


def displaced(atoms: Atoms, displacements: np.ndarray, amount: float = 1.0) -> Atoms:
    """A copy of ``atoms`` with ``amount`` x ``displacements`` (Å) added to the positions."""
    result = atoms.copy()
    result.positions += amount * np.asarray(displacements)
    return result


def commensurate_dimension(q, max_denominator: int = 8) -> np.ndarray:
    """The smallest diagonal supercell in which a mode of wave vector ``q`` is periodic."""
    from fractions import Fraction

    return np.array([Fraction(float(x)).limit_denominator(max_denominator).denominator for x in q])


def modulation(phonon: Phonopy, band_index: int, q=(0, 0, 0)) -> tuple[Atoms, np.ndarray]:
    """A mode in the smallest cell where it is periodic: ``(cell, u)`` with ``u`` the complex
    displacement pattern (phonopy's modulation, phase factors e^{iq·R} included) scaled so
    that its largest component has modulus 1 Å. ``u.real`` is a real pattern to freeze in."""
    phonon.run_modulations(np.diag(commensurate_dimension(q)), [[list(q), band_index, 1.0, 0.0]])
    modulations, supercell = phonon.get_modulations_and_supercell()
    u = np.asarray(modulations[0]).reshape(-1, 3)
    u = u * np.conj(u.flat[np.argmax(np.abs(u))])  # make the largest component real
    return to_ase(supercell), u / np.abs(u).max()


def mode_animation(phonon: Phonopy, band_index: int, q=(0, 0, 0), amplitude_A: float = 0.3,
                   n_frames: int = 16) -> list[Atoms]:
    """One period of a mode as ``n_frames`` structures, in the smallest cell where it is periodic.

    The largest atomic displacement over the period is ``amplitude_A`` (Å).
    """
    base, u = modulation(phonon, band_index, q)
    paths = [np.real(u * np.exp(2j * np.pi * k / n_frames)) for k in range(n_frames)]
    scale = amplitude_A / max(np.linalg.norm(p, axis=1).max() for p in paths)
    return [displaced(base, p, scale) for p in paths]


def frozen_mode_frequency_THz(energies_eV, amplitude_A: float, displacements: np.ndarray, masses_amu) -> float:
    """The frequency (THz; negative: imaginary) of a mode from its frozen-phonon energies ``(E(-Q), E(0), E(+Q))`` (eV)
    at amplitude Q = ``amplitude_A`` of the pattern ``displacements`` (Å per unit Q): the curvature
    (E(+Q) + E(-Q) - 2 E(0)) / Q² over the mode's mass Σ m |u|² (amu). The symmetric difference cancels the linear term
    a cell that is not at the method's own minimum has, so two methods can be compared on the same frames."""
    e_minus, e_zero, e_plus = energies_eV
    curvature = (e_plus + e_minus - 2 * e_zero) / amplitude_A ** 2
    mass = float(np.sum(np.asarray(masses_amu) * np.sum(np.asarray(displacements) ** 2, axis=1)))
    omega_per_fs = np.sqrt(abs(curvature) / mass) * units.fs
    return float(np.sign(curvature) * omega_per_fs * 1000 / (2 * np.pi))


def mode_energy_profile(atoms: Atoms, displacements: np.ndarray, amplitudes_A, potential) -> np.ndarray:
    """Energy (eV, relative to zero amplitude) of ``atoms`` displaced by Q x ``displacements``.

    The frozen-phonon curve beyond the harmonic picture: a negative curvature at Q = 0 with
    minima at ±Q* is a double well, and its depth tells whether thermal motion averages the
    distortion away (depth << kT) or freezes it in.
    """
    energies = []
    for q in np.concatenate([[0.0], np.asarray(amplitudes_A, dtype=float)]):
        moved = displaced(atoms, displacements, q)
        moved.calc = potential
        energies.append(moved.get_potential_energy())
    return np.array(energies[1:]) - energies[0]
