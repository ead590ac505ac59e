"""Does a student that reaches further fit its teacher better? Students of several reaches, same data.

``bench/force_locality.py`` finds that the oxyhalide teacher's force on an atom still moves by tens of meV/Å
when only atoms 6-8 Å away move, and the shipped student's (5 Å cutoff, two interactions) much less. If
that missing reach is what keeps the student's force error above the 60 meV/Å target, a longer cutoff or a
third interaction should fit the same data better, at some cost in speed. This trains one student per reach
on the same teacher MD and compares them on MD of a packing none of them saw; ``--train-seeds`` with more
packings asks instead what more data of the same kind buys, and a third number in a variant (channels) what
more width buys:

- data: the teacher's MD (ASE Langevin, 2 fs, every 30th step) of the study's 42-atom x = 1.5 cell, packed
  with seeds 3 and 4 (``--train-seeds``) for training and 5 for testing, each settled and run at 700, 1000
  and 1500 K (first quarter dropped; MD seed: the packing's plus the temperature's index), every teacher
  calculation through the results store;
- students: the shipped recipe (``distill.settings_for``) with only r_max, the number of interactions and
  (optionally) the number of channels changed, all trained for ``--epochs`` with seed 0;
- columns: force RMSE (meV/Å) on the test MD by temperature and on the training set, and the time of one
  float32 energy+forces call (ASE calculator, the 42-atom cell) with its speed-up over the teacher's call;
  beside them, the teacher's RMS force on the test frames and how far their atoms move (RMS displacement
  per component about the mean position over 0.3 ps, the scale of ``force_locality.py``'s ``--sigma``);
- first row: the shipped student (``student:<study>``, trained on the sampler's mixed set), on the same frames
  (its "training set" column is this script's training MD, which it never saw);
- second table: each student on its card's held-out set (``distill.held_out_set``, back from the store), the
  set the 60 meV/Å target is judged on, by kind of configuration, with the teacher's RMS force of each kind
  and the RMSE that a student's two worst-fitted kinds (by share of its squared error) give alone, as if
  every other kind were exact;
- ``--with-sampler-set``: the students train on ``distill``'s sampled set as well (the shipped student's
  seed, scale 1, before its refinement rounds): the MD of more packings added to the shipped recipe;
  ``--weights`` weighs kinds of configuration more in the loss (mace-torch's config_type_weights), e.g.
  the sampler's compressed and hard-rattled glasses, a small share of such a mixed set.

    python bench/student_reach.py [--variants 5,2 6,2 5,3 5,2,64] [--epochs 60] [--steps 1500] [--train-seeds 3 4]
                                  [--with-sampler-set] [--weights "glass rattled=6" compressed=6]
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace

import numpy as np
import torch

from toolkit import amorphous as am
from toolkit.students.distill import seconds_per_force_call
from toolkit.students.labels import errors, held_out_set, label
from toolkit.students.samplers import sample
from toolkit.students.sampling import md_frames
from toolkit.students.training import FORCES_KEY, settings_for, train_in_store
from toolkit.potentials import available_students, load_potential
from toolkit.store import ResultsStore
from toolkit.transport import unwrapped_positions

STUDY = "oxyhalide-volcano"
TEST_SEED = 5
TEMPERATURES_K = (700, 1000, 1500)
WINDOW_FRAMES = 5  # 0.3 ps of frames 60 fs apart


def thermal_amplitude_A(frames) -> float:
    """RMS displacement (Å, per component) of the atoms about their mean position over windows of
    ``WINDOW_FRAMES`` successive frames of one run."""
    path = unwrapped_positions(frames, range(len(frames[0])))
    windows = [path[k:k + WINDOW_FRAMES] for k in range(0, len(path) - WINDOW_FRAMES + 1, WINDOW_FRAMES)]
    return float(np.sqrt(np.mean([np.mean((w - w.mean(axis=0)) ** 2) for w in windows])))


def grouped_by_kind(frames) -> dict[str, list]:
    """``frames`` by their ``info["config_type"]``, kinds in sorted order."""
    groups = {}
    for atoms in frames:
        groups.setdefault(atoms.info["config_type"], []).append(atoms)
    return dict(sorted(groups.items()))


def rms_meV_A(frames) -> float:
    """RMS of the teacher's force components (meV/Å) over ``frames``."""
    return 1000 * float(np.sqrt(np.mean(np.concatenate([a.arrays[FORCES_KEY].ravel() for a in frames]) ** 2)))


def teacher_md(teacher, packing_seed: int, n_steps: int, store) -> list:
    """The teacher's labelled MD frames of the 42-atom x = 1.5 cell packed with ``packing_seed``."""
    packing = am.oxyhalide_packing(1.5, 4, packing_seed)
    frames = md_frames(am.settle(packing, teacher, store), teacher, TEMPERATURES_K, n_steps, 30, packing_seed, store,
                       timestep_fs=2.0)
    return label(frames, teacher, store, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["5,2", "6,2", "5,3"], metavar="R_MAX,INTERACTIONS[,CHANNELS]")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--steps", type=int, default=1500, help="MD steps per temperature and cell")
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[3, 4], help="packings to train on")
    parser.add_argument("--with-sampler-set", action="store_true",
                        help="train on distill's sampled set too (the shipped student's seed, before refinement)")
    parser.add_argument("--weights", nargs="*", default=[], metavar="KIND=WEIGHT",
                        help="loss weight of a kind of configuration (default 1; the recipe's own stay)")
    args = parser.parse_args()
    weights = tuple((kind, float(weight)) for kind, weight in (item.rsplit("=", 1) for item in args.weights))

    store = ResultsStore()
    card = available_students()[STUDY]
    teacher = load_potential(card["teacher"]["name"], device="cpu")
    train_set = [frame for seed in args.train_seeds for frame in teacher_md(teacher, seed, args.steps, store)]
    if args.with_sampler_set:
        train_set += label(sample(STUDY, teacher, card["seed"], 1.0, store), teacher, store, progress=False)
    test_set = teacher_md(teacher, TEST_SEED, args.steps, store)
    probe = test_set[0].copy()
    t_teacher = seconds_per_force_call(teacher, probe)
    test_kinds = grouped_by_kind(test_set)
    test_runs = {T: test_kinds[f"md {T} K"] for T in TEMPERATURES_K}
    rms_force = {T: rms_meV_A(run) for T, run in test_runs.items()}
    amplitude = {T: thermal_amplitude_A(run) for T, run in test_runs.items()}
    held_out = held_out_set(STUDY, teacher, card["seed"], store)
    by_kind = grouped_by_kind(held_out)
    kind_atoms = {kind: sum(len(a) for a in frames) for kind, frames in by_kind.items()}
    shipped = card["training"]
    rows = [(f"shipped student: {shipped['r_max_A']:g} | {shipped['num_interactions']} | {shipped['num_channels']}",
             f"student:{STUDY}")]
    for variant in args.variants:
        r_max, interactions, *channels = variant.split(",")
        recipe = settings_for(STUDY)
        settings = replace(recipe, r_max_A=float(r_max), num_interactions=int(interactions), max_epochs=args.epochs,
                           config_type_weights=recipe.config_type_weights + weights)
        if channels:
            settings = replace(settings, num_channels=int(channels[0]))
        model = train_in_store(STUDY, train_set, settings, 0, store, teacher)
        rows.append((f"{settings.r_max_A:g} | {settings.num_interactions} | {settings.num_channels}", str(model)))
    measured = []
    for name, model in rows:
        student = load_potential(model, device="cpu", dtype="float64", trust=True)
        call = seconds_per_force_call(load_potential(model, device="cpu", dtype="float32", trust=True), probe)
        measured.append((name, errors(student, test_set), errors(student, train_set), errors(student, held_out), call))

    print(f"\n{os.cpu_count()} CPUs, torch {torch.__version__}; {STUDY}, teacher {teacher.info.name} "
          f"({1000 * t_teacher:.1f} ms per call, {len(probe)} atoms); {len(train_set)} training and {len(test_set)} "
          f"test frames (packings {', '.join(map(str, args.train_seeds))}; {TEST_SEED}); {args.epochs} epochs, "
          f"seed 0{'; weights ' + ', '.join(args.weights) if weights else ''}\n")
    by_t = " | ".join(f"test {T} K" for T in TEMPERATURES_K)
    print(f"| r_max (Å) | interactions | channels | {by_t} | test, all | training set | ASE call (ms) | speed-up |")
    print("|---|---|---|" + "---|" * len(TEMPERATURES_K) + "---|---|---|---|")
    print(f"| teacher's RMS force | | | {' | '.join(f'{rms_force[T]:.0f}' for T in TEMPERATURES_K)} | | | | |")
    print(f"| atoms' RMS displacement over 0.3 ps (Å) | | | "
          f"{' | '.join(f'{amplitude[T]:.2f}' for T in TEMPERATURES_K)} | | | | |")
    for name, test, train, _, call in measured:
        kinds = " | ".join(f"{test['force_rmse_by_kind_meV_A'][f'md {T} K']:.0f}" for T in TEMPERATURES_K)
        print(f"| {name} | {kinds} | "
              f"{test['force_rmse_meV_A']:.0f} | {train['force_rmse_meV_A']:.0f} | {1000 * call:.1f} | "
              f"{t_teacher / call:.1f}x |")

    total = sum(kind_atoms.values())
    print(f"\nThe card's held-out set: {len(held_out)} configurations, {total} atoms "
          f"({card['configurations']['held_out_from']}); force RMSE (meV/Å) by kind\n")
    print(f"| | all | {' | '.join(kind_atoms)} | two worst-fitted kinds alone |")
    print("|---|---|" + "---|" * len(kind_atoms) + "---|")
    print(f"| atoms | {total} | {' | '.join(map(str, kind_atoms.values()))} | |")
    print(f"| teacher's RMS force | {rms_meV_A(held_out):.0f} | "
          f"{' | '.join(f'{rms_meV_A(by_kind[k]):.0f}' for k in kind_atoms)} | |")
    for name, _, _, held, _ in measured:
        rmse = held["force_rmse_by_kind_meV_A"]
        squared = {kind: n * rmse[kind] ** 2 for kind, n in kind_atoms.items()}
        worst = sorted(squared, key=squared.get)[-2:]
        worst_squared = sum(squared[k] for k in worst)
        print(f"| {name.replace(' | ', ',')} | {held['force_rmse_meV_A']:.0f} | "
              f"{' | '.join(f'{rmse[k]:.0f}' for k in kind_atoms)} | {np.sqrt(worst_squared / total):.0f} "
              f"({' and '.join(worst)}: {100 * worst_squared / sum(squared.values()):.0f} % of its squared error) |")


if __name__ == "__main__":
    main()
