"""How far the teacher's forces reach: the floor a student's cutoff puts under its force error.

A MACE student with cutoff r_max and two interactions builds an atom's energy from neighbours within
2 r_max, and the force on an atom falls off with its neighbours' distance; a teacher (CHGNet: 6 Å graph,
four convolutions) can reach further. Whatever the teacher's force on an atom owes to atoms beyond the
student's reach, the student cannot learn, however long it trains. This measures that share directly:

1. a held-out frame of the study (teacher-labelled, shipped with its student) is repeated into a supercell
   at least ``2 R_max`` wide, so that no atom sees its own image within the largest radius;
2. one fixed random displacement field (``--sigma`` Å per component, seed 0) is drawn for the supercell;
3. for each of ``--centres`` atoms of the first copy and each radius R, only the atoms farther than R from
   the centre (minimum image) are displaced, and the change in the force on the centre is recorded.

The table gives, per radius, the RMS of that change (meV/Å per component, the unit of the cards' force
errors) for teacher and student, beside the RMS force of the frame itself. A teacher whose column is still
tens of meV/Å at 2 r_max = 10 Å has forces a student of that reach can match only on average.

What a field of ``--sigma`` stands for depends on how far the study's atoms move. ``--amplitude-ps`` also
runs the teacher's MD of the study's benchmark cell (``bench/students.py``: its cell, temperature and time
step; seed 0, through the results store) and prints its atoms' RMS displacement per component about their
mean over 0.3 ps (``bench/student_reach.thermal_amplitude_A``, frames 60 fs apart, first quarter dropped).

    python bench/force_locality.py [--study oxyhalide-volcano] [--sigma 0.1] [--centres 16] [--frames 2]
                                   [--amplitude-ps 2]
"""

from __future__ import annotations

import argparse

import numpy as np
from ase.geometry import get_distances
from ase.io import read

from student_reach import thermal_amplitude_A  # bench/ is this script's folder
from students import STUDY_TIMESTEP_FS, bench_cell
from toolkit.students.sampling import md_frames
from toolkit.students.training import FORCES_KEY
from toolkit.md.neighbours import image_reach
from toolkit.potentials import STUDENTS_DIR, available_students, load_potential
from toolkit.store import ResultsStore

RADII_A = (3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0)


def supercell_for(atoms, reach_A: float):
    """``atoms`` repeated so that each perpendicular width of the cell is at least ``2 reach_A``."""
    return atoms.repeat(image_reach(atoms.cell[:], 2 * reach_A))


def force_changes(cell, potential, centres, radii, displacement):
    """Change in the force (eV/Å) on each centre when only the atoms farther than R from it move by
    ``displacement``: an array (len(centres), len(radii), 3)."""
    work = cell.copy()
    work.calc = potential
    base = work.get_forces()[centres]
    distances = get_distances(cell.positions[centres], cell.positions, cell=cell.cell, pbc=cell.pbc)[1]
    changes = np.empty((len(centres), len(radii), 3))
    for i, centre in enumerate(centres):
        for j, radius in enumerate(radii):
            moved = distances[i] > radius
            work.positions = cell.positions + displacement * moved[:, None]
            changes[i, j] = work.get_forces()[centre] - base[i]
    return changes


def md_amplitude(study: str, teacher, ps: float) -> tuple[float, float]:
    """``(temperature_K, amplitude_A)`` of the teacher's ``ps`` of MD of the study's benchmark cell."""
    atoms, temperature_K = bench_cell(study, teacher)
    timestep_fs = STUDY_TIMESTEP_FS[study]
    frames = md_frames(atoms, teacher, (temperature_K,), round(ps * 1000 / timestep_fs), round(60 / timestep_fs),
                       0, ResultsStore(), timestep_fs=timestep_fs)
    return temperature_K, thermal_amplitude_A(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="oxyhalide-volcano")
    parser.add_argument("--sigma", type=float, default=0.1, help="displacement per component (Å)")
    parser.add_argument("--centres", type=int, default=16, help="centre atoms per frame")
    parser.add_argument("--frames", type=int, default=2, help="held-out frames, the largest first (0: none)")
    parser.add_argument("--amplitude-ps", type=float, default=0.0,
                        help="first the thermal amplitude of this much of the teacher's MD (ps)")
    args = parser.parse_args()

    card = available_students()[args.study]
    teacher = load_potential(card["teacher"]["name"])
    if args.amplitude_ps:
        temperature_K, amplitude_A = md_amplitude(args.study, teacher, args.amplitude_ps)
        print(f"\n{args.study}: the teacher's MD of the benchmark cell, {temperature_K:g} K, {args.amplitude_ps:g} ps: "
              f"atoms' RMS displacement per component about their 0.3 ps mean {amplitude_A:.2f} Å")
    if not args.frames:
        return
    student = load_potential(f"student:{args.study}", dtype="float64")
    held_out = read(STUDENTS_DIR / f"{args.study}-heldout.xyz", index=":")
    frames = sorted(held_out, key=len, reverse=True)[:args.frames]
    rng = np.random.default_rng(0)
    print(f"\n{args.study}: teacher {teacher.info.name}, student r_max {card['training']['r_max_A']} Å "
          f"x {card['training']['num_interactions']} interactions; displacement {args.sigma} Å per component "
          f"beyond R; {args.centres} centres per frame\n")
    changes = {p: [] for p in ("teacher", "student")}
    for frame in frames:
        cell = supercell_for(frame, max(RADII_A) + 1.0)
        centres = np.sort(rng.choice(len(frame), size=min(args.centres, len(frame)), replace=False))
        displacement = rng.normal(0.0, args.sigma, size=(len(cell), 3))
        rms_force = 1000 * np.sqrt(np.mean(frame.arrays[FORCES_KEY] ** 2))
        print(f"- {frame.info.get('config_type')} {frame.get_chemical_formula()} ({len(frame)} atoms) in a "
              f"{len(cell)}-atom supercell; the frame's RMS teacher force {rms_force:.0f} meV/Å")
        for name, potential in (("teacher", teacher), ("student", student)):
            changes[name].append(force_changes(cell, potential, centres, RADII_A, displacement))
    print("\n| R (Å) | teacher: RMS force change (meV/Å) | student: RMS force change (meV/Å) |")
    print("|---|---|---|")
    rms = {name: 1000 * np.sqrt(np.mean(np.concatenate(c) ** 2, axis=(0, 2))) for name, c in changes.items()}
    for j, radius in enumerate(RADII_A):
        print(f"| {radius:g} | {rms['teacher'][j]:.1f} | {rms['student'][j]:.1f} |")


if __name__ == "__main__":
    main()
