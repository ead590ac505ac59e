"""A student made and kept: :func:`distill` samples, labels, trains, validates and writes the model card;
:func:`recompare` and :func:`retime` redo a shipped card's properties or timings for the same student.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write

from toolkit.potentials import STUDENTS_DIR, load_potential
from toolkit.provenance import package_versions, write_json_atomic
from toolkit.store import ResultsStore
from toolkit.students.fidelity import compare_properties
from toolkit.students.labels import (
    DFT_ANCHOR_WEIGHT, DFT_REFERENCE_FRAME, DFT_REPLACES, anchored, errors, held_out_set, label,
)
from toolkit.students.samplers import HELD_OUT_SCALE, HELD_OUT_SEED_OFFSET, REFINERS, SAMPLERS, STUDY_ELEMENTS, sample
from toolkit.students.training import StudentSettings, mace_train_arguments, settings_for, train_in_store
from toolkit.studies.proton_phonon import instability

log = logging.getLogger(__name__)


def seconds_per_force_call(potential, atoms: Atoms, repeats: int = 5, warmup: int = 3) -> float:
    """Wall time (s) of one energy+forces call through the ASE calculator: the median of ``repeats`` calls after
    ``warmup`` calls. A freshly loaded MACE model's second call alone takes several times a steady one (8x for
    the oxyhalide student: TorchScript optimises the e3nn modules then).

    The card measures the student as loaded for relaxations and phonons (float64, stress
    included); MD runs it in float32 on the engine, faster still (``bench/students.py``)."""
    work = atoms.copy()
    work.calc = potential
    seconds = []
    for k in range(warmup + repeats):
        work.positions[0, 0] += 1e-4 * (k + 1)  # a new structure each time, so nothing is reused
        started = time.perf_counter()
        work.get_forces()
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds[warmup:]))


def force_call_speeds(teacher, student, probe: Atoms) -> dict:
    """Seconds per force call (:func:`seconds_per_force_call`) of ``teacher`` and ``student`` on ``probe``, and
    how many times faster the student is."""
    teacher_s, student_s = seconds_per_force_call(teacher, probe), seconds_per_force_call(student, probe)
    return {"cell": probe.get_chemical_formula(), "n_atoms": len(probe), "teacher_s_per_call": teacher_s,
            "student_s_per_call": student_s, "speedup": teacher_s / student_s}


def counts_by_kind(configs: list[Atoms]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for atoms in configs:
        kind = atoms.info.get("config_type", "?")
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


def named_teacher(teacher) -> tuple:
    """``(name, potential)`` of a teacher given by name (as ``load_potential`` takes it, and as the card's
    command repeats it) or already loaded."""
    if isinstance(teacher, str):
        return teacher, load_potential(teacher)
    return teacher.info.name, teacher


def _proton_against_dft(potential, store) -> dict:
    return instability(potential, store, progress=False).to_dict()


#: Per study, a function (potential, store) -> dict of the decisive quantities that DFT can judge.
AGAINST_DFT = {"proton-phonon": _proton_against_dft}


def distill(study: str, teacher="auto", seed: int = 0, settings: StudentSettings | None = None,
            out_dir: str | Path = STUDENTS_DIR, store: ResultsStore | None = None, train_scale: float = 1.0,
            test_scale: float = HELD_OUT_SCALE, properties: bool = True, anchor: str | None = None) -> dict:
    """Make the student of ``study`` from scratch: sample, label, train, validate, write the card.

    ``teacher`` is a name :func:`~toolkit.potentials.load_potential` takes, or a loaded
    potential. Writes ``out_dir/<study>.model`` and ``out_dir/<study>.json`` (the card) and
    ``out_dir/<study>-heldout.xyz`` (a few held-out configurations with their teacher labels,
    so that anyone can check the card's errors) and returns the card.
    Every teacher calculation goes through ``store``, so a rerun after an interruption
    picks up where it stopped.

    ``anchor="dft"`` trains on the DFT frames of the study as well (:func:`anchored`), and the card then shows
    the teacher, the student (and the student it replaces in ``out_dir``, if any) against DFT on the study's
    decisive quantities (:data:`AGAINST_DFT`).
    """
    if study not in SAMPLERS:
        raise ValueError(f"no student for study {study!r}; studies with students: {', '.join(SAMPLERS)}")
    if anchor not in (None, "dft"):
        raise ValueError(f"anchor must be 'dft' or None, not {anchor!r}")
    settings = settings or settings_for(study)
    store = store if store is not None else ResultsStore()
    started = time.time()
    teacher_name, teacher = named_teacher(teacher)
    teacher.check_elements(Atoms("".join(STUDY_ELEMENTS[study])))
    log.info(f"distilling {study} from {teacher.info.name}")
    train_set = label(sample(study, teacher, seed, train_scale, store), teacher, store)
    test_set = held_out_set(study, teacher, seed, store, test_scale)
    if anchor:
        teacher_only = counts_by_kind(train_set)
        train_set, settings = anchored(study, train_set, teacher, settings)
        dft_frames = [a for a in train_set if a.info.get("config_type") == "dft"]
    log.info(f"{len(train_set)} training and {len(test_set)} held-out configurations")

    trained = train_in_store(study, train_set, settings, seed, store, teacher)
    refinement = None
    if study in REFINERS:
        refiner, rounds = REFINERS[study]
        refinement = {"how": refiner.__doc__.split("\n\n")[0].replace("\n    ", " "), "rounds": []}
        for round_index in range(rounds):
            latest = load_potential(str(trained), dtype="float64", trust=True)  # trained here
            log.info(f"refining {study}, round {round_index + 1} of {rounds}: the student's own runs")
            own = label(refiner(latest, teacher, seed, store, round_index), teacher, store)
            refinement["rounds"].append({"configurations": len(own), "by_kind": counts_by_kind(own),
                                         "held_out_errors_before": errors(latest, test_set)})
            train_set = train_set + own
            trained = train_in_store(study, train_set, settings, seed, store, teacher)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{study}.model"
    previous = load_potential(str(model_path), dtype="float64") if anchor and model_path.is_file() else None
    model_path.write_bytes(trained.read_bytes())
    student = load_potential(str(model_path), dtype="float64", trust=True)  # trained here

    probe = max(test_set, key=len)
    shipped = test_set[:: max(1, len(test_set) // 12)]  # <study>-heldout.xyz: enough to check the card
    card = {
        "study": study,
        "model_file": model_path.name,
        "model_sha256": student.info.sha256,
        "model_size_bytes": model_path.stat().st_size,
        "elements": list(STUDY_ELEMENTS[study]),
        "teacher": teacher.info.as_dict(),
        "seed": seed,
        "training": {**asdict(settings), "mace_run_train_arguments": mace_train_arguments(
            study, Path("train.xyz"), Path("."), STUDY_ELEMENTS[study], settings, seed)},
        "configurations": {"train_and_validation": counts_by_kind(train_set), "held_out_test": counts_by_kind(test_set),
                           "held_out_from": f"independent sampling with seed {seed + HELD_OUT_SEED_OFFSET} "
                                            f"(scale {test_scale})"},
        "held_out_errors": errors(student, test_set),
        **({"refinement": refinement} if refinement else {}),
        "shipped_held_out_errors": errors(student, shipped),
        "training_set_errors": errors(student, train_set[::5]),
        "speed": force_call_speeds(teacher, student, probe),
        "versions": package_versions(),
        "command": f"python -m toolkit distill {study} --teacher {teacher_name} --seed {seed}"
                   + (f" --anchor {anchor}" if anchor else "") + ("" if properties else " --no-properties"),
    }
    if anchor:
        card["anchor"] = {
            "kind": anchor, "frames": len(dft_frames), "weight": DFT_ANCHOR_WEIGHT,
            "energy_offset_eV_atom": dft_frames[0].info["dft_offset_eV_atom"],
            "reference_frame": DFT_REFERENCE_FRAME[study],
            "teacher_kinds_left_out": {k: n for k, n in teacher_only.items() if k in DFT_REPLACES.get(study, ())},
            "errors_on_dft_frames": {"teacher": errors(teacher, dft_frames), "student": errors(student, dft_frames),
                                     **({"previous student": errors(previous, dft_frames)} if previous else {})},
        }
        compared = {"teacher": teacher, "student": student, **({"previous student": previous} if previous else {})}
        card["against_dft"] = {name: AGAINST_DFT[study](potential, store) for name, potential in compared.items()}
    if properties:
        card["properties"] = compare_properties(study, teacher, student, store)
    card["wall_time_s"] = round(time.time() - started, 1)
    write(out_dir / f"{study}-heldout.xyz", shipped, format="extxyz")
    write_json_atomic(out_dir / f"{study}.json", card)
    return card


def shipped_pair(study: str, teacher, out_dir: str | Path) -> tuple:
    """``(card_path, card, student, teacher_name, teacher)`` of the student of ``study`` in ``out_dir``: its card,
    the student (float64) and ``teacher`` loaded, each checked to be the card's own (same SHA-256)."""
    card_path = Path(out_dir) / f"{study}.json"
    card = json.loads(card_path.read_text())
    student = load_potential(str(card_path.with_name(card["model_file"])), dtype="float64", trust=True)  # distill's own
    teacher_name, teacher = named_teacher(teacher)
    for what, potential, expected in (("student", student, card["model_sha256"]),
                                      ("teacher", teacher, card["teacher"]["sha256"])):
        if potential.info.sha256 != expected:
            raise ValueError(f"the {what} {potential.info.name!r} (SHA-256 {potential.info.sha256[:12]}…) is not the "
                             f"one on {card_path.name} ({expected[:12]}…)")
    return card_path, card, student, teacher_name, teacher


def retime(study: str, teacher="auto", out_dir: str | Path = STUDENTS_DIR) -> dict:
    """Time again one force call of the student in ``out_dir`` and of its teacher, keeping the student and the
    rest of its card; returns the card.

    For when either model's calls get faster or slower with the same weights: CHGNet's, for one, computes the
    stress only when asked, and earlier cards timed it computing the stress on every call.
    The probe is the largest of the held-out configurations that ship with the student (the card's first
    probe, the largest of all of them, does not ship). The card keeps its first timing as
    ``speed["at_distillation"]`` and records the command and versions of this one.
    """

    card_path, card, student, teacher_name, teacher = shipped_pair(study, teacher, out_dir)
    probe = max(read(card_path.with_name(f"{study}-heldout.xyz"), index=":"), key=len)
    first = card["speed"].get("at_distillation", card["speed"])
    card["speed"] = {**force_call_speeds(teacher, student, probe), "at_distillation": first,
                     "retimed": {"command": f"python -m toolkit distill {study} --teacher {teacher_name} --retime",
                                 "versions": package_versions()}}
    write_json_atomic(card_path, card)
    return card


def recompare(study: str, teacher="auto", out_dir: str | Path = STUDENTS_DIR, store: ResultsStore | None = None) -> dict:
    """Recompute the properties on the card of the student in ``out_dir`` with today's
    :mod:`toolkit.students.fidelity`, keeping the student and the rest of its card; returns the card.

    For when the comparison changes (a rule, a longer run) and the student should not:
    training again from the same recipe gives another student (mace-torch's training on CPU
    threads is not bit-reproducible), not the one the card describes. ``teacher`` must be the
    card's (same SHA-256). The card records the recomputation in ``properties_recomputed``.
    """
    card_path, card, student, teacher_name, teacher = shipped_pair(study, teacher, out_dir)
    started = time.time()
    card["properties"] = compare_properties(study, teacher, student, store)
    card["properties_recomputed"] = {
        "command": f"python -m toolkit distill {study} --teacher {teacher_name} --recompare",
        "versions": package_versions(), "wall_time_s": round(time.time() - started, 1)}
    write_json_atomic(card_path, card)
    return card
