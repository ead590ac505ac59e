"""Study 1, proton–phonon coupling in Y-doped BaSnO3: the steps that decide whether Y substitution creates an
imaginary mode the host lacks.

- :func:`doped_cells`: the pristine, Y-doped and Y-doped + H supercells, relaxed, with the proton on its
  lowest-energy site among the symmetry-distinct ones;
- :func:`gamma_modes`: their Γ-point phonons, with the imaginary modes beyond the finite-displacement noise;
- :attr:`GammaModes.y_induced`: the verdict, an imaginary mode in a doped cell that the pristine cell of the
  same size lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from toolkit import perovskite as pv
from toolkit import phonons as ph
from toolkit.progress import progress_bar
from toolkit.relax import relax
from toolkit.store import ResultsStore


@dataclass(frozen=True)
class DopedCells:
    """The relaxed cells of one size (``matrix``, a supercell of the 5-atom cubic cell) and the proton sites.

    ``sites`` are :func:`toolkit.perovskite.distinct_proton_sites` of the Y-doped cell, each with its relaxed
    ``energy_eV`` relative to the lowest (a list: two distinct sites may share an O); ``best`` indexes the
    lowest."""

    matrix: np.ndarray
    cells: dict[str, Atoms]
    sites: list[dict]
    best: int

    @property
    def doped(self) -> Atoms:
        return self.cells["Y-doped + H"]

    def to_dict(self) -> dict:
        return {"supercell_matrix": np.asarray(self.matrix).tolist(), "y_fraction": pv.y_fraction(self.doped),
                "proton_sites": [{"o_index": s["o_index"], "d_Y_A": s["d_Y_A"], "multiplicity": s["multiplicity"],
                                  "energy_eV": s["energy_eV"]} for s in self.sites],
                "lowest_site": self.best}


def doped_cells(potential, lattice_A: float, n_formula_units: int, fmax_eV_A: float,
                store: ResultsStore | None = None, progress: bool = True) -> DopedCells:
    """Pristine, Y-doped (one Y on Sn) and Y-doped + H cells of ``n_formula_units`` BaSnO3 (lattice ``lattice_A``,
    Å), relaxed to ``fmax_eV_A`` (eV/Å); every symmetry-distinct proton site is relaxed in the fixed cell of the
    Y-doped one, and the lowest in energy is kept."""
    matrix = pv.supercell_matrix(n_formula_units)
    pristine = relax(pv.make_supercell(pv.basno3(lattice_A), matrix), potential, fmax_eV_A=fmax_eV_A, store=store)
    y_cell = relax(pv.y_doped(pv.basno3(lattice_A), matrix), potential, fmax_eV_A=fmax_eV_A, store=store)
    sites, relaxed = pv.distinct_proton_sites(y_cell), []
    for site in progress_bar(sites, desc="proton sites", disable=not progress):
        relaxed.append(relax(pv.add_proton(y_cell, site["o_index"], site["direction"]), potential,
                             fmax_eV_A=fmax_eV_A, relax_cell=False, store=store))
    energies = np.array([r.info["relax"]["energy_eV"] for r in relaxed])
    best = int(np.argmin(energies))
    sites = [{**s, "energy_eV": float(e - energies[best])} for s, e in zip(sites, energies)]
    return DopedCells(matrix, {"pristine": pristine, "Y-doped": y_cell, "Y-doped + H": relaxed[best]}, sites, best)


@dataclass(frozen=True)
class GammaModes:
    """Γ-point phonons of cells of one size: per cell, the imaginary modes (THz, as negative numbers) below
    ``-threshold_THz`` and the softest optical mode (THz); ``threshold_THz`` is the larger of the one asked for and
    twice the largest acoustic noise (``noise_THz``, the finite-displacement error). ``phonons`` holds phonopy's
    objects by cell name."""

    threshold_THz: float
    noise_THz: float
    imaginary_THz: dict[str, list[float]]
    softest_optical_THz: dict[str, float]
    phonons: dict = field(repr=False, compare=False)

    @property
    def y_induced(self) -> bool:
        """An imaginary mode in a doped cell where the pristine cell of the same size has none (a mode the host
        already has does not count)."""
        doped = self.imaginary_THz.get("Y-doped", []) + self.imaginary_THz.get("Y-doped + H", [])
        return bool(doped) and not self.imaginary_THz["pristine"]

    def to_dict(self) -> dict:
        return {"threshold_THz": self.threshold_THz, "acoustic_noise_THz": self.noise_THz,
                "imaginary_THz": self.imaginary_THz, "softest_optical_THz": self.softest_optical_THz,
                "y_induced_instability": self.y_induced}


def gamma_modes(cells: dict[str, Atoms], potential, displacement_A: float = 0.03, threshold_THz: float = 0.3,
                store: ResultsStore | None = None, progress: bool = True) -> GammaModes:
    """Γ-point phonons (finite displacements of ``displacement_A``, Å) of each cell of ``cells``, the cell itself
    phonopy's unit cell, so that its Γ modes include the zone-boundary modes (R, M, X) of the cubic cell."""
    phonons = {name: ph.compute_phonons(atoms, potential, supercell=(1, 1, 1), displacement_A=displacement_A,
                                        store=store, progress=progress) for name, atoms in cells.items()}
    noise = max(ph.acoustic_noise_THz(p) for p in phonons.values())
    threshold = max(threshold_THz, 2 * noise)
    return GammaModes(threshold, noise,
                      {name: [f for _, f in ph.imaginary_modes(p, threshold_THz=threshold)] for name, p in phonons.items()},
                      {name: ph.softest_optical_mode(p)[1] for name, p in phonons.items()}, phonons)


@dataclass(frozen=True)
class Instability:
    """Study 1's claim, decided for one potential: the host's tilt profiles beside DFT's (meV per BaSnO3; see
    :func:`toolkit.anchors.host_tilts_against_dft`), at the potential's lattice ``lattice_A`` (Å), and the Γ
    modes of the pristine, Y-doped and Y-doped + H cells of one size."""

    lattice_A: float
    host_tilts: dict
    gamma: GammaModes
    cells: DopedCells

    def to_dict(self) -> dict:
        return {"lattice_A": self.lattice_A, "host_tilts": self.host_tilts, "gamma": self.gamma.to_dict(),
                "cells": self.cells.to_dict()}


def instability(potential, store: ResultsStore | None = None, n_formula_units: int = 8, fmax_eV_A: float = 0.02,
                displacement_A: float = 0.03, threshold_THz: float = 0.3, progress: bool = True) -> Instability:
    """Does Y create an instability the host lacks, with ``potential``? The relaxed host (forces below 0.002
    eV/Å), its tilts against the DFT anchors, then :func:`doped_cells` and :func:`gamma_modes`."""
    from toolkit import anchors

    host = relax(pv.basno3(), potential, fmax_eV_A=0.002, store=store)
    lattice = float(host.cell.lengths()[0])
    tilts = anchors.host_tilts_against_dft(lattice, potential, anchors.load_points("proton-phonon"))
    cells = doped_cells(potential, lattice, n_formula_units, fmax_eV_A, store, progress)
    return Instability(lattice, tilts, gamma_modes(cells.cells, potential, displacement_A, threshold_THz, store,
                                                   progress), cells)


@dataclass(frozen=True)
class CouplingMode:
    """The lattice mode that most changes the donor–acceptor O–O distance: its Γ ``band`` and ``frequency_THz``,
    its ``displacements_A`` (largest atomic displacement 1 Å) and ``d_OO_per_Q``, the change of the O–O distance
    per Å of amplitude (a first-order coupling needs it to be non-zero)."""

    band: int
    frequency_THz: float
    displacements_A: np.ndarray = field(repr=False, compare=False)
    d_OO_per_Q: float

    def to_dict(self) -> dict:
        return {"band": self.band, "frequency_THz": self.frequency_THz, "d_OO_per_Q": self.d_OO_per_Q}


def coupling_mode(phonon, atoms: Atoms, donor: int, acceptor: int, h_index: int,
                  max_frequency_THz: float = 15.0) -> CouplingMode:
    """Among the Γ modes of ``phonon`` (cell ``atoms``) up to ``max_frequency_THz`` (the lattice modes: the O–H
    bend and stretch lie far above), acoustic modes and modes led by the proton left out, the one whose
    displacement changes the ``donor``–``acceptor`` O–O distance most per unit amplitude."""
    freqs = ph.frequencies_at(phonon)
    acoustic = ph.acoustic_bands(freqs)
    axis = atoms.get_distance(donor, acceptor, mic=True, vector=True)
    axis = axis / np.linalg.norm(axis)
    best = None
    for band in range(len(freqs)):
        if band in acoustic or freqs[band] > max_frequency_THz:
            continue
        u = ph.mode_displacements(phonon, band)
        if np.linalg.norm(u[h_index]) > 0.999:  # the proton moves most: an O–H libration, not a lattice mode
            continue
        slope = float(np.dot(u[acceptor] - u[donor], axis))
        if best is None or abs(slope) > abs(best.d_OO_per_Q):
            best = CouplingMode(band, float(freqs[band]), u, slope)
    if best is None:
        raise ValueError(f"no lattice mode below {max_frequency_THz} THz to couple to")
    return best


def coupling_slope(amplitudes_A, barriers_eV) -> tuple[float, float]:
    """dE_a/dQ at Q = 0 (eV/Å) and its standard error, from a quadratic fit of the barrier against the amplitude
    (a mode that does not couple at first order gives a symmetric curve and a slope of zero within the error)."""
    q, e = np.asarray(amplitudes_A, dtype=float), np.asarray(barriers_eV, dtype=float)
    if len(q) < 4:
        raise ValueError(f"a slope with an error needs at least 4 amplitudes, not {len(q)}")
    coefficients, covariance = np.polyfit(q, e, 2, cov=True)
    return float(coefficients[1]), float(np.sqrt(covariance[1, 1]))
