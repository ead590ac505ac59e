"""Study 1, proton–phonon coupling in Y-doped BaSnO3: the study's workflow as named steps.

- :func:`host` and :func:`host_convergence`: the relaxed cubic host, its phonons, the finite-displacement
  check and its frozen R tilt; :func:`against_dft`: its tilts and the DFT frames, potential beside DFT;
- :func:`doped_cells`: the pristine, Y-doped and Y-doped + H supercells, relaxed, with the proton on its
  lowest-energy site among the symmetry-distinct ones;
- :func:`gamma_modes`: their Γ-point phonons, with the imaginary modes beyond the finite-displacement noise;
  :attr:`GammaModes.y_induced`: the claim, an imaginary mode in a doped cell that the pristine cell of the same
  size lacks; :func:`soft_mode`: which atoms the protonated cell's softest mode moves;
- the proton's barriers, their coupling to a lattice mode and its MD: :mod:`toolkit.studies.proton_phonon_hops`;
- :func:`run` composes them into a :class:`ProtonResult`, whose :meth:`~ProtonResult.to_summary` is the study's
  ``summary.json`` (schema: ``toolkit/studies/schemas/proton-phonon.json``).

:func:`instability` decides the claim for one potential at given settings (the research campaign and the
student cards call it). Units: Å, eV, meV, THz, K, fs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from toolkit import anchors, doped_anchors
from toolkit import perovskite as pv
from toolkit import phonons as ph
from toolkit.progress import progress_bar
from toolkit.protons import host_oxygen
from toolkit.relax import relax
from toolkit.store import ResultsStore
from toolkit.studies.proton_phonon_hops import (
    Coupling, ProtonBarriers, ProtonMD, coupling, proton_barriers, proton_md,
)
from toolkit.students.labels import dft_training_frames, errors

STUDY = "proton-phonon"
#: finite displacements (Å) of the host's convergence check
SCAN_DISPLACEMENTS_A = (0.01, 0.02, 0.03, 0.05)
#: amplitudes (Å) of the host's frozen R tilt
TILT_AMPLITUDES_A = tuple(np.linspace(0, 0.3, 13))
#: the host relaxes to this (eV/Å): its tilt wells are a few meV deep
HOST_FMAX_EV_A = 0.002


@dataclass(frozen=True)
class ProtonSettings:
    """Study 1's settings. ``host_supercell``: phonopy supercell of the 5-atom cell (n x n x n);
    ``doped_cells``: formula units of the doped supercell (one Y: 8 is 12.5 %, 10 is the paper's 10 %); forces
    in eV/Å, displacements and amplitudes in Å, temperatures in K, time step in fs. An imaginary mode counts
    below ``-imaginary_threshold_THz``, raised to twice the measured acoustic noise where that is larger."""

    host_supercell: int = 2
    doped_cells: int = 8
    relax_fmax_eV_A: float = 0.02
    phonon_displacement_A: float = 0.03
    neb_images: int = 5
    neb_fmax_eV_A: float = 0.05
    neb_max_steps: int = 300
    imaginary_threshold_THz: float = 0.3
    amplitudes_A: tuple = (-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3)
    md_temperatures_K: tuple = (1000,)
    md_steps: int = 400
    md_timestep_fs: float = 0.5
    md_sample_every: int = 5

    @classmethod
    def quick(cls, doped_cells: int | None = None) -> "ProtonSettings":
        """Minutes on 2 cores: the 12.5 % cell, loose NEBs, 0.2 ps of MD at one temperature."""
        return cls(doped_cells=doped_cells or 8)

    @classmethod
    def full(cls, doped_cells: int | None = None) -> "ProtonSettings":
        """Research settings (hours): the 10 % cell, NEBs to 0.01 eV/Å on every image, 20 ps at four
        temperatures."""
        return cls(host_supercell=3, doped_cells=doped_cells or 10, relax_fmax_eV_A=0.005, neb_images=9,
                   neb_fmax_eV_A=0.01, neb_max_steps=1000, amplitudes_A=tuple(np.linspace(-0.4, 0.4, 9)),
                   md_temperatures_K=(600, 800, 1000, 1200), md_steps=40000)


@dataclass(frozen=True)
class Host:
    """The relaxed cubic host (``atoms``, lattice ``lattice_A``), its phonons (phonopy's object) and the lowest
    frequency (THz, imaginary as negative) at each high-symmetry point."""

    atoms: Atoms = field(repr=False)
    lattice_A: float
    phonons: object = field(repr=False)
    lowest_THz: dict


def relaxed_host(potential, store: ResultsStore | None = None) -> Atoms:
    """Cubic BaSnO3 relaxed (positions and cell) to :data:`HOST_FMAX_EV_A`."""
    return relax(pv.basno3(), potential, fmax_eV_A=HOST_FMAX_EV_A, store=store)


def host(potential, supercell: int, displacement_A: float, store: ResultsStore | None = None,
         progress: bool = True) -> Host:
    """Cubic BaSnO3 relaxed (:func:`relaxed_host`) and its phonons in an n x n x n supercell."""
    atoms = relaxed_host(potential, store)
    phonons = ph.compute_phonons(atoms, potential, supercell=(supercell,) * 3, displacement_A=displacement_A,
                                 store=store, progress=progress)
    return Host(atoms, float(atoms.cell.lengths()[0]), phonons, ph.lowest_frequencies(phonons))


@dataclass(frozen=True)
class HostConvergence:
    """The host's lowest frequencies (THz) and acoustic noise (``"noise"``) at each finite displacement (Å) in a
    2 x 2 x 2 supercell, and the energy (meV per BaSnO3) along its softest R mode frozen in."""

    displacement_scan_THz: dict
    tilt_amplitudes_A: np.ndarray = field(repr=False)
    tilt_energy_meV_fu: np.ndarray = field(repr=False)

    @property
    def well_depth_meV(self) -> float:
        """Depth of the tilt double well (meV per BaSnO3; 0 without one)."""
        return float(-self.tilt_energy_meV_fu.min())

    @property
    def well_amplitude_A(self) -> float:
        return float(self.tilt_amplitudes_A[np.argmin(self.tilt_energy_meV_fu)])


def host_convergence(host: Host, potential, store: ResultsStore | None = None,
                     displacements_A=SCAN_DISPLACEMENTS_A) -> HostConvergence:
    """Is the host's verdict trustworthy? Its phonons at each displacement, and its frozen R tilt (the mode of the
    host's own phonons), which no finite-displacement error touches."""
    scan = {}
    for d in progress_bar(displacements_A, desc="displacement scan"):
        p = ph.compute_phonons(host.atoms, potential, supercell=(2, 2, 2), displacement_A=d, store=store,
                               progress=False)
        scan[d] = {"noise": ph.acoustic_noise_THz(p), **ph.lowest_frequencies(p)}
    r_band = int(np.argmin(ph.frequencies_at(host.phonons, ph.CUBIC_POINTS["R"])))
    cell, mode = ph.modulation(host.phonons, r_band, ph.CUBIC_POINTS["R"])
    amplitudes = np.asarray(TILT_AMPLITUDES_A)
    energy = 1000 * ph.mode_energy_profile(cell, mode.real, amplitudes, potential) / (len(cell) / 5)
    return HostConvergence(scan, amplitudes, energy)


@dataclass(frozen=True)
class AgainstDFT:
    """The potential beside DFT: the host's M and R tilts (:func:`toolkit.anchors.host_tilts_against_dft`), DFT's
    relaxed lattice (Å, None where not computed), the errors on every DFT frame (None where none ship), and the
    frozen-mode frequency of the claim's own mode in the Y-doped cells (:func:`toolkit.doped_anchors.frozen_mode_rows`;
    empty where not computed)."""

    tilts: dict
    dft_lattice_A: float | None
    frame_errors: dict | None
    claim_mode: list = field(default_factory=list)


def against_dft(lattice_A: float, potential) -> AgainstDFT:
    """The potential at its own lattice ``lattice_A`` (Å) against the study's shipped DFT anchors."""
    points = anchors.load_points(STUDY)
    relaxed = points.get("relaxed-BaSnO3")
    frames = any(p.startswith("frame-") for p in points)
    return AgainstDFT(anchors.host_tilts_against_dft(lattice_A, potential, points),
                      relaxed["lattice_A"] if relaxed else None,
                      errors(potential, dft_training_frames(STUDY, potential)) if frames else None,
                      doped_anchors.frozen_mode_rows(potential, points))


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
    """Does Y create an instability the host lacks, with ``potential``? The :func:`relaxed_host`, its tilts against
    the DFT anchors, then :func:`doped_cells` and :func:`gamma_modes`."""
    lattice = float(relaxed_host(potential, store).cell.lengths()[0])
    tilts = anchors.host_tilts_against_dft(lattice, potential, anchors.load_points(STUDY))
    cells = doped_cells(potential, lattice, n_formula_units, fmax_eV_A, store, progress)
    return Instability(lattice, tilts, gamma_modes(cells.cells, potential, displacement_A, threshold_THz, store,
                                                   progress), cells)


@dataclass(frozen=True)
class SoftMode:
    """The softest optical Γ mode of the protonated cell: its ``band`` and ``frequency_THz``, its participation
    (fraction of the mass-weighted displacement) by group of atoms and by element, its octahedral-tilt character
    (:func:`toolkit.phonons.tilt_character`) and its ``displacements_A`` (largest atomic displacement 1 Å)."""

    band: int
    frequency_THz: float
    groups: dict
    elements: dict
    tilt_character: float
    displacements_A: np.ndarray = field(repr=False, compare=False)


def soft_mode(phonon, doped: Atoms) -> SoftMode:
    """Which atoms move in the softest optical mode of ``phonon`` (Γ phonons of ``doped``, the proton its last
    atom): Y, the O next to Y (within 2.6 Å), the other O, H, Sn and Ba."""
    band, frequency = ph.softest_optical_mode(phonon)
    symbols = np.array(doped.get_chemical_symbols())
    y = int(np.where(symbols == "Y")[0][0])
    oxygens = np.where(symbols == "O")[0]
    near = [int(o) for o in oxygens if doped.get_distance(o, y, mic=True) < 2.6]
    groups = {"Y": [y], "O (Y neighbours)": near, "O (others)": [int(o) for o in oxygens if o not in near],
              "H": [len(doped) - 1], "Sn": list(np.where(symbols == "Sn")[0]), "Ba": list(np.where(symbols == "Ba")[0])}
    u = ph.mode_displacements(phonon, band)
    by_element = {e: list(np.where(symbols == e)[0]) for e in ("Ba", "Sn", "Y", "O", "H")}
    return SoftMode(band, frequency, ph.participation(phonon, band, groups), ph.participation(phonon, band, by_element),
                    ph.tilt_character(doped, u), u)


#: the literature values the summary carries beside the study's own (a: experiment; barriers: DFT on
#: BaZrO3/BaSnO3-type perovskites)
LITERATURE = {"lattice_A": pv.BASNO3_A_EXP, "transfer_barrier_eV": [0.1, 0.4], "rotation_barrier_eV": "below transfer"}


@dataclass(frozen=True)
class ProtonResult:
    """A run of study 1, from its steps (each field is one step's result)."""

    settings: ProtonSettings
    host: Host
    convergence: HostConvergence
    dft: AgainstDFT
    cells: DopedCells
    modes: GammaModes
    soft: SoftMode
    barriers: ProtonBarriers
    coupling: Coupling
    md: ProtonMD

    def to_summary(self, research: list[dict] = (), research_verdict: str = "undecided: not computed yet") -> dict:
        """The study's ``summary.json`` keys (units in their names); ``research``: the shipped research points
        (:func:`toolkit.studies.proton_phonon_research.research_result`) and their verdict."""
        doped, imaginary = self.cells.doped, self.modes.imaginary_THz
        h = len(doped) - 1
        return {
            "lattice_A": self.host.lattice_A,
            "lattice_exp_A": pv.BASNO3_A_EXP,
            "pristine_lowest_freq_THz": self.host.lowest_THz,
            "phonon_displacement_scan_THz": {str(d): v for d, v in self.convergence.displacement_scan_THz.items()},
            "host_tilt_double_well_meV_per_fu": self.convergence.well_depth_meV,
            "host_tilts_vs_dft": self.dft.tilts,
            "dft_frame_errors": self.dft.frame_errors,
            "claim_mode_vs_dft": self.dft.claim_mode,
            "y_fraction": pv.y_fraction(doped),
            "supercell_matrix": np.asarray(self.cells.matrix).tolist(),
            "doped_imaginary_freqs_THz": imaginary["Y-doped + H"],
            "y_doped_no_H_imaginary_freqs_THz": imaginary["Y-doped"],
            "pristine_supercell_imaginary_freqs_THz": imaginary["pristine"],
            "y_induced_instability": self.modes.y_induced,
            "imaginary_threshold_THz": self.modes.threshold_THz,
            "acoustic_noise_THz": self.modes.noise_THz,
            "softest_mode_freq_THz": self.soft.frequency_THz,
            "softest_mode_participation": self.soft.elements,
            "softest_mode_participation_groups": self.soft.groups,
            "softest_mode_tilt_character": self.soft.tilt_character,
            "proton_sites": self.cells.to_dict()["proton_sites"],
            "O_H_distance_A": float(doped.get_distance(h, host_oxygen(doped, h), mic=True)),
            "transfer_barrier_eV": self.barriers.barrier_eV("transfer"),
            "rotation_barrier_eV": self.barriers.barrier_eV("rotation"),
            **self.barriers.to_dict(),
            **self.coupling.to_dict(),
            **self.md.to_dict(),
            "research_instability": list(research),
            "research_instability_verdict": research_verdict,
            "literature": LITERATURE,
        }


def run(settings: ProtonSettings, potential, store: ResultsStore | None = None, seed: int = 0,
        progress: bool = True) -> ProtonResult:
    """Study 1 from its steps, in the order of the notebook; ``seed``: the MD's (one per temperature from it)."""
    s = settings
    cubic = host(potential, s.host_supercell, s.phonon_displacement_A, store, progress)
    cells = doped_cells(potential, cubic.lattice_A, s.doped_cells, s.relax_fmax_eV_A, store, progress)
    modes = gamma_modes(cells.cells, potential, s.phonon_displacement_A, s.imaginary_threshold_THz, store, progress)
    protonated = modes.phonons["Y-doped + H"]
    neb = dict(n_images=s.neb_images, fmax_eV_A=s.neb_fmax_eV_A, max_steps=s.neb_max_steps, store=store)
    barriers = proton_barriers(cells.cells["Y-doped"], cells.sites, potential, s.relax_fmax_eV_A, progress=progress,
                               **neb)
    return ProtonResult(
        s, cubic, host_convergence(cubic, potential, store), against_dft(cubic.lattice_A, potential), cells, modes,
        soft_mode(protonated, cells.doped), barriers,
        coupling(barriers, protonated, cells.doped, potential, s.amplitudes_A, **neb),
        proton_md(cells.doped, potential, s.md_temperatures_K, s.md_steps, s.md_timestep_fs, s.md_sample_every, seed,
                  store))
