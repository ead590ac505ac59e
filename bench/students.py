"""Each shipped student against its teacher: time per MD step and force error, measured side by side.

For every student in ``toolkit/students``: a cell of its study runs ASE Langevin MD with the
teacher (the card names it) and with the student for the same number of steps, and the
student runs the same number of steps on the toolkit's engine (how ``run_md`` runs MACE
models), with mace-torch's eager model call and with that call compiled (``compile_model=True``,
the compilation not counted); the student's forces are then compared with the teacher's on the teacher's own
frames (which the student never saw).

Last, each student runs ``--stability-ps`` of MD on the engine in the same cell at the same
temperature (with its study's time step), once for each of ``--stability-seeds`` seeds, and the
table says how many of those runs lasted: a student that is fast and accurate on held-out frames
can still leave its training data and blow up, and whether one run does is chance (the oxyhalide
student of 2026-11-27 lasted 10 ps at 1000 K with seeds 1 and 2, and blew up after 5.2 ps with 0).
Where a study has a bigger, hotter cell that students have blown up in (``HOT_CELLS``), the same runs
follow there.

    python bench/students.py [--steps 30] [--stability-ps 10] [--stability-seeds 3] [--study NAME ...]

Targets: the student at least 5x faster per step, force RMSE under 60 meV/Å.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from ase import units
from ase.build import make_supercell
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from md_engine import engine_seconds_per_step  # bench/ is this script's folder
from toolkit.md import run_replicas
from toolkit.potentials import available_students, load_potential
from toolkit.store import ResultsStore
from toolkit.validation import MDExplosionError, NonFiniteForcesError

TARGET_SPEEDUP, TARGET_RMSE_MEV_A = 5.0, 60.0
#: the studies' MD time steps (fs): H needs 0.5, as notebook 1 runs it; the others run 2
STUDY_TIMESTEP_FS = {"proton-phonon": 0.5, "oxyhalide-volcano": 2.0, "liga-alloy": 2.0}


def bench_cell(study: str, teacher):
    """A cell each study runs MD on, and its temperature (K)."""
    if study == "proton-phonon":
        from toolkit import perovskite as pv

        y_cell = pv.y_doped(pv.basno3(), np.eye(3, dtype=int) * 2)
        site = pv.distinct_proton_sites(y_cell)[0]
        return pv.add_proton(y_cell, site["o_index"], site["direction"]), 800.0
    if study == "oxyhalide-volcano":
        from toolkit import amorphous as am

        # settled by the teacher first, as melt_quench does: a raw packing's first steps are no study's MD
        return am.settle(am.oxyhalide_packing(1.5, 4, 3), teacher), 1000.0
    from toolkit import defects, liga

    b32 = make_supercell(liga.liga_b32(primitive=True), np.eye(3, dtype=int) * 2)
    return defects.vacancies(b32, "Li", 1)[0], 700.0


def timed_md(atoms, potential, temperature_K: float, n_steps: int):
    work = atoms.copy()
    MaxwellBoltzmannDistribution(work, temperature_K=temperature_K, rng=np.random.default_rng(0))
    work.calc = potential
    dyn = Langevin(work, timestep=1 * units.fs, temperature_K=temperature_K, friction=0.02 / units.fs,
                   rng=np.random.default_rng(1))
    frames = []

    def record():  # the step's forces, already computed, kept with the frame
        frame = work.copy()
        frame.calc = SinglePointCalculator(frame, forces=work.get_forces())
        frames.append(frame)

    dyn.attach(record, interval=1)
    dyn.run(2)  # warm-up
    started = time.perf_counter()
    dyn.run(n_steps)
    return (time.perf_counter() - started) / n_steps, frames


def liga_hot_cell():
    """The 127-atom B32 LiGa cell with a Li vacancy that the LiGa refinement rounds run, at their hottest (K).

    Two LiGa students of 2026-11-28 (without pair repulsion) blew up here in 3 runs of 3 each, where most of
    their runs in ``bench_cell``'s 31 atoms at 700 K lasted 10 ps."""
    from toolkit import defects, liga

    return defects.vacancies(liga.liga_b32().repeat(2), "Li", 1)[0], 800.0


HOT_CELLS = {"liga-alloy": liga_hot_cell}


def stability(student, atoms, temperature_K: float, ps: float, timestep_fs: float, n_seeds: int) -> str:
    """How many of ``n_seeds`` runs of the student's engine MD of ``atoms`` at ``temperature_K`` last ``ps``, and
    when the others blew up.

    The seeds run as replicas of one batch. A replica that blows up is set aside, and the others resume from
    their checkpoints in a scratch store (with noise drawn afresh from there, as any resumed run draws it)."""
    every = max(1, round(100 / timestep_fs))  # a frame, and the blow-up check, every 100 fs
    running, failures = list(range(n_seeds)), []
    with tempfile.TemporaryDirectory() as scratch:
        store = ResultsStore(scratch)
        while running:
            try:
                run_replicas([atoms] * len(running), student, temperature_K, round(ps * 1000 / timestep_fs),
                             timestep_fs=timestep_fs, seeds=running, sample_every=every, store=store, progress=False)
                break
            except MDExplosionError as blown:
                lasted_ps = (len(blown.frames[blown.replica]) - 1) * every * timestep_fs / 1000
                failures.append(f"seed {running.pop(blown.replica)} blew up after {lasted_ps:.1f} ps")
            except NonFiniteForcesError:  # it does not say which replica: count them all
                failures.append(f"non-finite forces in the batch of seeds {running}")
                running = []
    return f"{len(running)}/{n_seeds} lasted {ps:g} ps" + (f" ({'; '.join(failures)})" if failures else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--stability-ps", type=float, default=10.0, help="length of each student's long MD (ps)")
    parser.add_argument("--stability-seeds", type=int, default=3, help="how many seeds each long MD runs with")
    parser.add_argument("--study", nargs="+", choices=list(STUDY_TIMESTEP_FS), default=list(STUDY_TIMESTEP_FS),
                        help="the studies whose students to measure (default: all that ship)")
    args = parser.parse_args()
    rows = []
    for study, card in available_students().items():
        if study not in args.study:
            continue
        teacher = load_potential(card["teacher"]["name"], device="cpu")
        if teacher.info.sha256 != card["teacher"]["sha256"]:
            print(f"note: {study}'s teacher file differs from the one on its card")
        student = load_potential(f"student:{study}", device="cpu", dtype="float32")
        atoms, temperature = bench_cell(study, teacher)
        t_teacher, frames = timed_md(atoms, teacher, temperature, args.steps)
        t_student, _ = timed_md(atoms, student, temperature, args.steps)
        t_engine, t_compiled = (engine_seconds_per_step(student, [atoms], args.steps, temperature, timestep_fs=1.0,
                                                        friction_per_fs=0.02, compile_model=compiled)[0]
                                for compiled in (False, True))
        diffs = []
        for frame in frames[::3]:
            reference = frame.get_forces()
            probe = frame.copy()
            probe.calc = student
            diffs.append((probe.get_forces() - reference).ravel())
        rmse = 1000 * float(np.sqrt(np.mean(np.concatenate(diffs) ** 2)))
        timestep = STUDY_TIMESTEP_FS[study]
        runs = [(atoms, temperature)] + ([HOT_CELLS[study]()] if study in HOT_CELLS else [])
        lasted = "; ".join(f"{stability(student, cell, t, args.stability_ps, timestep, args.stability_seeds)} "
                           f"({len(cell)} atoms, {t:g} K, {timestep:g} fs)" for cell, t in runs)
        rows.append((study, len(atoms), teacher.info.name, t_teacher, t_student, t_engine, t_compiled, rmse, lasted))
    print(f"\n{os.cpu_count()} CPUs; ASE Langevin, {args.steps} steps of 1 fs per potential; force RMSE on the "
          "teacher's own frames\n")
    print("| study | atoms | teacher | teacher, ASE (ms/step) | student, ASE (ms/step) | student, engine / compiled "
          f"(ms/step) | speed-up ASE / engine / compiled (target ≥ {TARGET_SPEEDUP:g}x) | force RMSE (meV/Å, target < "
          f"{TARGET_RMSE_MEV_A:g}) | met | student's engine MD |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for study, n, teacher, t_t, t_s, t_e, t_c, rmse, lasted in rows:
        met = "yes" if t_t / min(t_e, t_c) >= TARGET_SPEEDUP and rmse < TARGET_RMSE_MEV_A else "no"
        print(f"| {study} | {n} | {teacher} | {1000 * t_t:.0f} | {1000 * t_s:.0f} | {1000 * t_e:.0f} / {1000 * t_c:.0f} | "
              f"{t_t / t_s:.1f}x / {t_t / t_e:.1f}x / {t_t / t_c:.1f}x | {rmse:.0f} | {met} | {lasted} |")


if __name__ == "__main__":
    main()
