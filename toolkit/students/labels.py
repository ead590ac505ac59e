"""Labels for a student: the teacher's energies, forces and stresses (through the results store), the held-out
set, the student's errors against them, and the DFT frames that anchor a student on DFT. Units: eV, eV/Å, eV/Å³.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from ase import Atoms

from toolkit import anchors
from toolkit.progress import progress_bar
from toolkit.store import ResultsStore
from toolkit.students.samplers import HELD_OUT_SCALE, HELD_OUT_SEED_OFFSET, sample
from toolkit.students.training import ENERGY_KEY, FORCES_KEY, STRESS_KEY, StudentSettings
from toolkit.validation import check_structure


def label(configs: list[Atoms], teacher, store: ResultsStore | None = None, progress: bool = True) -> list[Atoms]:
    """Copies of ``configs`` carrying the teacher's energy (eV), forces (eV/Å) and stress (eV/Å³, Voigt)."""
    labelled = []
    for atoms in progress_bar(configs, desc="teacher labels", disable=not progress, leave=False):
        check_structure(atoms)

        def compute(atoms=atoms):
            work = atoms.copy()
            work.calc = teacher
            return atoms, {"energy": float(work.get_potential_energy()),
                           "forces": np.asarray(work.get_forces(), dtype=float),
                           "stress": np.asarray(work.get_stress(voigt=True), dtype=float)}

        if store is None:
            data = compute()[1]
        else:
            data = store.cached("teacher-label", atoms, teacher, {}, compute)[1]
        copy = atoms.copy()
        copy.calc = None
        copy.info[ENERGY_KEY] = float(data["energy"])
        copy.info[STRESS_KEY] = np.asarray(data["stress"], dtype=float)
        copy.arrays[FORCES_KEY] = np.asarray(data["forces"], dtype=float)
        labelled.append(copy)
    return labelled


def held_out_set(study: str, teacher, seed: int = 0, store: ResultsStore | None = None,
                 scale: float = HELD_OUT_SCALE) -> list[Atoms]:
    """The held-out configurations of the distillation with ``seed``, labelled by ``teacher``: the study's
    sampler again with seed ``seed + HELD_OUT_SEED_OFFSET`` at ``scale``, so they share no configuration
    with the training set. Through ``store``, a card's held-out set comes back without new teacher runs."""
    return label(sample(study, teacher, seed + HELD_OUT_SEED_OFFSET, scale, store), teacher, store)


def errors(potential, labelled: list[Atoms]) -> dict:
    """Student-versus-teacher errors on labelled configurations: energy RMSE (meV/atom), force
    RMSE and MAE (meV/Å, per component), stress RMSE (meV/Å³, per Voigt component), and the force RMSE by
    configuration kind."""
    d_energy, d_forces, d_stress, by_kind = [], [], [], {}
    for atoms in labelled:
        work = atoms.copy()
        work.calc = potential
        d_energy.append((work.get_potential_energy() - atoms.info[ENERGY_KEY]) / len(atoms))
        d_stress.append(work.get_stress(voigt=True) - np.asarray(atoms.info[STRESS_KEY]))
        diff = work.get_forces() - atoms.arrays[FORCES_KEY]
        d_forces.append(diff.ravel())
        by_kind.setdefault(atoms.info.get("config_type", "?"), []).append(diff.ravel())
    forces = np.concatenate(d_forces)
    return {
        "n_configurations": len(labelled),
        "energy_rmse_meV_atom": float(1000 * np.sqrt(np.mean(np.square(d_energy)))),
        "force_rmse_meV_A": float(1000 * np.sqrt(np.mean(forces**2))),
        "force_mae_meV_A": float(1000 * np.mean(np.abs(forces))),
        "stress_rmse_meV_A3": float(1000 * np.sqrt(np.mean(np.square(d_stress)))),
        "force_rmse_by_kind_meV_A": {k: float(1000 * np.sqrt(np.mean(np.concatenate(v) ** 2)))
                                     for k, v in sorted(by_kind.items())},
    }


#: Anchoring a student on DFT (``distill(..., anchor="dft")``): the weight of a DFT frame in the loss, against 1
#: for a teacher label, and per study the reference frame whose energy places the DFT energies on the teacher's
#: scale, and the kinds of teacher frame that the DFT frames replace.
#:
#: Configuration weights in one head, rather than mace-torch's multi-head fine-tuning: the student is trained from
#: scratch on the teacher's labels, so there is no foundation model whose head to keep, and the DFT frames are few
#: (13 for study 1) and of one composition, so one energy offset per atom (teacher minus DFT on the reference
#: frame) is all that separates the two energy scales. The frames then teach DFT's energy *differences* (the
#: tilt well, the E(V) curve) and DFT's forces and stress. 20 gives the 13 frames about the weight of 260 teacher
#: labels, about as much as the 207 teacher frames kept (the frames are smaller: 5-20 atoms against 40). The
#: teacher's small host displacements ("phonon") and frozen host modes ("frozen mode") are left out: those are the
#: octahedral tilts on which the teacher contradicts DFT (a double well where DFT has none), and with both in the
#: loss the student would fit their average.
DFT_ANCHOR_WEIGHT = 20.0


DFT_REFERENCE_FRAME = {"proton-phonon": "frame-cubic-strain+0"}


DFT_REPLACES = {"proton-phonon": ("phonon", "frozen mode")}


def dft_training_frames(study: str, teacher, root: Path | None = None) -> list[Atoms]:
    """The DFT frames of ``study`` (:func:`toolkit.anchors.frames`) as training configurations of kind ``"dft"``:
    DFT forces (eV/Å) and stress (eV/Å³), and DFT energies (eV) shifted by one offset per atom, the teacher's
    energy minus DFT's on the study's reference frame, so that they sit on the teacher's scale."""
    if study not in DFT_REFERENCE_FRAME:
        raise ValueError(f"no DFT anchoring for {study!r} yet; there is for: {', '.join(DFT_REFERENCE_FRAME)}")
    frames = anchors.frames(study, *([root] if root is not None else []))
    if not frames:
        raise ValueError(f"no DFT frames for {study} ship yet: run `python -m toolkit anchors {study}` (needs "
                         "`make dft`) and try again")
    by_name = {atoms.info["anchor"]: atoms for atoms in frames}
    if DFT_REFERENCE_FRAME[study] not in by_name:
        raise ValueError(f"the reference frame {DFT_REFERENCE_FRAME[study]} of {study} is not computed yet")
    formulas = {atoms.get_chemical_formula(empirical=True) for atoms in frames}
    if len(formulas) != 1:
        raise ValueError(f"DFT frames of several compositions ({sorted(formulas)}) need one energy offset each")
    reference = by_name[DFT_REFERENCE_FRAME[study]].copy()
    reference.calc = teacher
    offset_eV_atom = (reference.get_potential_energy() - reference.info["dft_energy_eV"]) / len(reference)
    out = []
    for atoms in frames:
        copy = atoms.copy()
        copy.info.update({ENERGY_KEY: atoms.info["dft_energy_eV"] + offset_eV_atom * len(atoms),
                          STRESS_KEY: np.asarray(atoms.info["dft_stress_eV_A3"]), "config_type": "dft",
                          "dft_offset_eV_atom": offset_eV_atom})
        copy.arrays[FORCES_KEY] = np.asarray(atoms.arrays["dft_forces_eV_A"])
        out.append(copy)
    return out


def anchored(study: str, train_set: list[Atoms], teacher, settings: StudentSettings, root: Path | None = None) -> tuple:
    """``(train_set, settings)`` for a student anchored on DFT: the teacher's frames that DFT replaces
    (:data:`DFT_REPLACES`) left out, the DFT frames added, and their weight in the settings."""
    dft = dft_training_frames(study, teacher, root)
    kept = [a for a in train_set if a.info.get("config_type") not in DFT_REPLACES.get(study, ())]
    weights = tuple(w for w in settings.config_type_weights if w[0] != "dft") + (("dft", DFT_ANCHOR_WEIGHT),)
    return kept + dft, replace(settings, config_type_weights=weights)
