"""Configurations a student learns from, built by the studies' own builders and workflows: strained and
rattled cells, volume series, MD frames, relaxation paths, NEB images, phonon displacements and frozen modes.
Each carries ``info["config_type"]``, the kind of frame it is. Units: Å, K, fs.
"""

from __future__ import annotations

import logging

import numpy as np
from ase import Atoms
from ase.mep import NEB
from phonopy import Phonopy

from toolkit import phonons as ph
from toolkit.phonons import to_ase, to_phonopy_atoms
from toolkit.md import run_md
from toolkit.relax import relaxation_path
from toolkit.store import ResultsStore
from toolkit.validation import MDExplosionError

log = logging.getLogger(__name__)


def scaled_count(k: int, scale: float) -> int:
    """``k`` configurations of a kind at sampling ``scale`` (at least one)."""
    return max(1, int(round(k * scale)))


def deformed(atoms: Atoms, deformation: np.ndarray, rng: np.random.Generator, rattle_A: float, kind: str) -> Atoms:
    """A copy with its cell (atoms scaled along) multiplied by ``deformation`` and Gaussian rattles of ``rattle_A`` (Å)."""
    copy = atoms.copy()
    copy.set_constraint()
    copy.info.pop("relax", None)  # a relaxed structure's record (toolkit.relax), not this copy's
    copy.set_cell(atoms.cell[:] @ deformation, scale_atoms=True)
    copy.positions += rng.normal(0, rattle_A, copy.positions.shape)
    copy.info["config_type"] = kind
    return copy


def rattled_and_strained(atoms: Atoms, n: int, rng: np.random.Generator, rattle_A: float = 0.08,
                         strain: float = 0.03, kind: str = "strained") -> list[Atoms]:
    """``n`` copies with random symmetric strains (up to ``strain``) and Gaussian rattles (``rattle_A``, Å)."""
    out = []
    for _ in range(n):
        eps = rng.uniform(-strain, strain, (3, 3))
        out.append(deformed(atoms, np.eye(3) + 0.5 * (eps + eps.T), rng, rattle_A, kind))
    return out


def volume_series(atoms: Atoms, rng: np.random.Generator, strains=np.linspace(-0.06, 0.12, 10),
                  rattle_A: float = 0.03, kind: str = "volume") -> list[Atoms]:
    """Isotropically strained copies (linear strains ``strains``), lightly rattled.

    Expanded cells matter: a student that never saw them may find its energy falls as atoms
    drift apart, and a cell relaxation then runs away to a spurious low-density minimum.
    """
    return [deformed(atoms, (1 + strain) * np.eye(3), rng, rattle_A, kind) for strain in strains]


def training_frame(frame: Atoms, kind: str) -> Atoms:
    """A copy of an MD frame as a training configuration: unconstrained, wrapped into the cell, labelled ``kind``."""
    frame = frame.copy()
    frame.set_constraint()
    frame.wrap()
    frame.info["config_type"] = kind
    return frame


def md_frames(atoms: Atoms, potential, temperatures_K, n_steps: int, every: int, seed: int, store,
              timestep_fs: float = 1.0, kind: str = "md", explode_factor: float | None = None,
              blow_up_kind: str | None = None) -> list[Atoms]:
    """Frames of MD (a teacher's runs on ASE Langevin) at each temperature (seeds ``seed``, ``seed + 1``, ...),
    one every ``every`` steps, first quarter dropped, labelled ``"<kind> <T> K"``.

    ``explode_factor`` is :func:`toolkit.md.run_md`'s; by default a run below 1500 K counts as blown
    up only past 4500 K (3 x 1500 K), since a teacher's run that heats up still gives labels worth having. With
    ``blow_up_kind``, a run that blows up (a student's own run) keeps the frames before it, as
    ``"<blow_up_kind> <T> K"``; without, the error is raised.
    """
    out = []
    for k, temperature in enumerate(temperatures_K):
        factor = 3.0 * max(1.0, 1500.0 / float(temperature)) if explode_factor is None else explode_factor
        label = kind
        try:
            frames = run_md(atoms, potential, float(temperature), n_steps, timestep_fs=timestep_fs, seed=seed + k,
                            sample_every=every, store=store, progress=False, explode_factor=factor)
        except MDExplosionError as blown:
            if blow_up_kind is None:
                raise
            log.info(f"the {atoms.get_chemical_formula()} MD at {temperature:g} K blew up; its frames before "
                  f"are kept: {blown}")
            frames, label = blown.frames[0], blow_up_kind
        out += [training_frame(frame, f"{label} {temperature:g} K") for frame in frames[len(frames) // 4:]]
    return out


def relaxation_frames(atoms: Atoms, teacher, n: int, rng, store: ResultsStore, fmax_eV_A: float = 0.05,
                      max_steps: int = 200, rattle_A: float = 0.02, kind: str = "cell relax") -> list[Atoms]:
    """``n`` frames spread over the teacher's relaxation of ``atoms`` (positions and cell, by
    :func:`toolkit.relax.relax`, through ``store``), lightly rattled.

    A student fitted to MD alone can lower its energy along the way a relaxation goes (a glass
    contracting onto itself) where no MD frame ever went; these frames show it the teacher's way.
    """
    path = relaxation_path(atoms, teacher, store, fmax_eV_A, max_steps, relax_cell=True)
    out = []
    for index in np.unique(np.linspace(0, len(path) - 1, n).round().astype(int)):
        frame = path[index]
        frame.calc = None
        frame.positions += rng.normal(0, rattle_A, frame.positions.shape)
        frame.info["config_type"] = kind
        out.append(frame)
    return out


def path_images(initial: Atoms, final: Atoms, n_images: int, rng, rattle_A: float = 0.04,
                kind: str = "neb") -> list[Atoms]:
    """IDPP-interpolated images between two end states, lightly rattled (the region a NEB explores)."""
    images = [initial.copy() for _ in range(n_images + 1)] + [final.copy()]
    for image in images:
        image.set_constraint()
    NEB(images, method="improvedtangent").interpolate(method="idpp", mic=True)
    out = []
    for image in images:
        image.positions += rng.normal(0, rattle_A, image.positions.shape)
        image.info["config_type"] = kind
        out.append(image)
    return out


def phonon_cells(atoms: Atoms, supercell, rng, displacement_A: float = 0.03, rattle_A: float = 0.01,
                 kind: str = "phonon") -> list[Atoms]:
    """phonopy's displaced supercells, as :func:`toolkit.phonons.compute_phonons` makes them, with a
    small random rattle on top (so that the training and held-out sets never share a configuration)."""

    phonon = Phonopy(to_phonopy_atoms(atoms), supercell_matrix=np.diag(supercell), primitive_matrix="P",
                     symprec=1e-3)
    phonon.generate_displacements(distance=displacement_A)
    out = [to_ase(c) for c in phonon.supercells_with_displacements]
    for cell in out:
        cell.positions += rng.normal(0, rattle_A, cell.positions.shape)
        cell.info["config_type"] = kind
    return out


def frozen_modes(atoms: Atoms, teacher, supercell, amplitudes_A, rng, store, n_modes: int = 4) -> list[Atoms]:
    """The teacher's softest modes at the zone-boundary points frozen in at ``amplitudes_A`` (Å),
    as the frozen-phonon and coupling calculations do (octahedral tilts in a perovskite)."""
    phonon = ph.compute_phonons(atoms, teacher, supercell=supercell, store=store, progress=False)
    out = []
    for q in ((0.5, 0.5, 0.5), (0.5, 0.5, 0.0), (0.0, 0.0, 0.0)):
        for band in np.argsort(ph.frequencies_at(phonon, q))[3 if q == (0.0, 0.0, 0.0) else 0:][:n_modes]:
            cell, u = ph.modulation(phonon, int(band), q)
            for amplitude in amplitudes_A:
                frozen = ph.displaced(cell, u.real, amplitude)
                frozen.positions += rng.normal(0, 0.02, frozen.positions.shape)
                frozen.info["config_type"] = "frozen mode"
                out.append(frozen)
    return out
