"""How fast a student of each width could be, before one is trained: untrained MACE models against the teacher.

A student's speed depends on its architecture (channels, max_L, cutoff), not on its weights, so an untrained
model built with a study's settings takes as long per call as a trained one would. Timing several widths
against the teacher, in the cell that ``bench/students.py`` uses, says which students could meet the 5x
target at all, before an hour of distillation goes into one. The first row rebuilds the shipped student's
width, so its time should match the shipped model's (the row above it): a check of the construction.

    python bench/student_widths.py [--study oxyhalide-volcano] [--repeats 15] [--steps 30] [--fit 32,0,5]

Each row: one energy+forces call through the ASE calculator (float32, as MD runs it; median of
``--repeats``), and one Langevin step on the toolkit's engine, each with the speed-up over the teacher's call.

``--fit CHANNELS,MAX_L,R_MAX`` then asks what the width costs in accuracy: it trains a student of that width
with the shipped recipe, seed and configurations (the training set of the shipped model, found in the results
store by the card's SHA-256, so this runs where that student was distilled), and compares its force errors
with the shipped student's, on the held-out configurations that ship with it and on the training set.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from md_engine import engine_seconds_per_step  # bench/ is this script's folder
from students import bench_cell
from toolkit.students.distill import seconds_per_force_call
from toolkit.students.labels import errors
from toolkit.students.samplers import STUDY_ELEMENTS
from toolkit.students.training import StudentSettings, settings_for, train_in_store
from toolkit.calculator import file_sha256
from toolkit.potentials import STUDENTS_DIR, available_students, load_potential, student_path
from toolkit.store import ResultsStore

#: (num_channels, max_L, r_max_A) tried besides the shipped student's (which is left out where it is one of them)
WIDTHS = ((16, 0, 5.0), (32, 0, 5.0), (16, 1, 5.0), (32, 1, 5.0), (32, 1, 4.0), (64, 0, 5.0), (64, 1, 5.0))


def untrained_student(settings: StudentSettings, elements, avg_num_neighbors: float):
    """A MACE model as ``toolkit distill`` trains one with ``settings`` (mace-torch's defaults for the rest:
    residual interactions, a 16-channel readout MLP, radial MLP [64, 64, 64]), with random weights."""
    from ase.data import atomic_numbers

    from toolkit.potentials import import_mace

    import_mace()
    from e3nn import o3
    from mace import modules

    hidden = o3.Irreps("+".join(f"{settings.num_channels}x{l}{'eo'[l % 2]}" for l in range(settings.max_L + 1)))
    residual = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    return modules.ScaleShiftMACE(
        atomic_inter_scale=1.0, atomic_inter_shift=0.0, r_max=settings.r_max_A, num_bessel=settings.num_radial_basis,
        num_polynomial_cutoff=5, max_ell=settings.max_ell, interaction_cls=residual, interaction_cls_first=residual,
        num_interactions=settings.num_interactions, num_elements=len(elements), hidden_irreps=hidden,
        MLP_irreps=o3.Irreps("16x0e"), atomic_energies=np.zeros(len(elements)), avg_num_neighbors=avg_num_neighbors,
        atomic_numbers=sorted(atomic_numbers[e] for e in elements), correlation=settings.correlation,
        gate=torch.nn.functional.silu, pair_repulsion=settings.pair_repulsion, radial_MLP=[64, 64, 64])


def shipped_training_set(study: str, card: dict, store: ResultsStore) -> list:
    """The configurations the shipped student of ``study`` was trained on: ``train.xyz`` of the distillation
    work directory in ``store`` whose final model has the card's SHA-256."""
    from ase.io import read

    for model in sorted((store.root / "distill").glob(f"{study}-*/{study}_stagetwo.model")):
        if file_sha256(model) == card["model_sha256"]:
            return read(model.with_name("train.xyz"), index=":")
    raise FileNotFoundError(f"no distillation of the shipped {study} student in {store.root / 'distill'}; "
                            f"run `{card['command']}` here first")


def fit_at_width(study: str, card: dict, teacher, width: str) -> None:
    """Train the shipped recipe at ``width`` ("channels,max_L,r_max") on the shipped student's configurations
    and print both students' force errors (meV/Å) beside each other."""
    from ase.io import read

    channels, max_l, r_max = width.split(",")
    store = ResultsStore()
    train_set = shipped_training_set(study, card, store)
    settings = replace(settings_for(study), num_channels=int(channels), max_L=int(max_l), r_max_A=float(r_max))
    refit = train_in_store(study, train_set, settings, card["seed"], store, teacher)
    held_out = read(STUDENTS_DIR / f"{study}-heldout.xyz", index=":")
    print(f"\n{study}: the shipped recipe ({len(train_set)} configurations, seed {card['seed']}) at another width; "
          f"force RMSE (meV/Å) on the {len(held_out)} held-out configurations that ship with the student, and on "
          f"its training set\n")
    kinds = sorted({atoms.info.get("config_type", "?") for atoms in held_out})
    print(f"| student | held-out | {' | '.join(kinds)} | training set |")
    print("|---|---|" + "---|" * len(kinds) + "---|")
    for label, model_file in ((f"shipped ({card['training']['num_channels']} channels, max_L "
                               f"{card['training']['max_L']})", student_path(study)),
                              (f"{channels} channels, max_L {max_l}, r_max {r_max} Å", refit)):
        student = load_potential(str(model_file), device="cpu", dtype="float64", trust=True)
        test = errors(student, held_out)
        by_kind = " | ".join(f"{test['force_rmse_by_kind_meV_A'][k]:.0f}" for k in kinds)
        print(f"| {label} | {test['force_rmse_meV_A']:.0f} | {by_kind} | "
              f"{errors(student, train_set)['force_rmse_meV_A']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="oxyhalide-volcano", choices=list(STUDY_ELEMENTS))
    parser.add_argument("--repeats", type=int, default=15, help="force calls timed per model")
    parser.add_argument("--steps", type=int, default=30, help="engine steps timed per model")
    parser.add_argument("--fit", metavar="CHANNELS,MAX_L,R_MAX", default=None,
                        help="also train the shipped recipe at this width and compare its errors (see above)")
    args = parser.parse_args()
    card = available_students()[args.study]
    teacher = load_potential(card["teacher"]["name"], device="cpu")
    atoms, _ = bench_cell(args.study, teacher)
    t_teacher = seconds_per_force_call(teacher, atoms, args.repeats)
    shipped = settings_for(args.study)
    # the shipped model's mean neighbour count (from its training data), which scales messages, not cost
    avg_neighbours = float(torch.load(student_path(args.study), weights_only=False).interactions[0].avg_num_neighbors)

    def timed(model_file: str) -> tuple[float, float]:
        potential = load_potential(model_file, device="cpu", dtype="float32", trust=True)
        call = seconds_per_force_call(potential, atoms, args.repeats)
        return call, engine_seconds_per_step(potential, [atoms], args.steps)[0]

    rows = [("shipped student", card["training"]["num_channels"], card["training"]["max_L"],
             card["training"]["r_max_A"], None, *timed(str(student_path(args.study))))]
    shipped_width = (shipped.num_channels, shipped.max_L, shipped.r_max_A)
    with tempfile.TemporaryDirectory() as work:
        for label, (channels, max_l, r_max) in [("shipped width, untrained", shipped_width),
                                                *(("untrained", w) for w in WIDTHS if w != shipped_width)]:
            model = untrained_student(replace(shipped, num_channels=channels, max_L=max_l, r_max_A=r_max),
                                      STUDY_ELEMENTS[args.study], avg_neighbours)
            path = Path(work) / f"{channels}-{max_l}-{r_max}.model"
            torch.save(model, path)
            rows.append((label, channels, max_l, r_max, sum(p.numel() for p in model.parameters()),
                         *timed(str(path))))

    print(f"\n{os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads; "
          f"{args.study}, {len(atoms)} atoms ({atoms.get_chemical_formula()}); teacher {teacher.info.name}: "
          f"{1000 * t_teacher:.1f} ms per force call (ASE)\n")
    print("| model | channels | max_L | r_max (Å) | parameters | ASE call (ms) | speed-up | engine step (ms) | "
          "speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, channels, max_l, r_max, n_parameters, call, step in rows:
        print(f"| {label} | {channels} | {max_l} | {r_max:g} | {n_parameters or ''} | {1000 * call:.1f} | "
              f"{t_teacher / call:.1f}x | {1000 * step:.1f} | {t_teacher / step:.1f}x |")
    if args.fit:
        fit_at_width(args.study, card, teacher, args.fit)


if __name__ == "__main__":
    main()
