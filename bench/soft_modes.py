"""Why the perovskite student misses the octahedral-tilt instabilities: how small they are.

The teacher's softest modes of cubic BaSnO3 (its own relaxed lattice, a 2x2x2 supercell) at R and M
are frozen in at growing amplitudes; for each, teacher and student give the energy change of the
cell (meV) and the largest force on any atom (meV/Å). An imaginary mode shows as an energy that
first falls; the size of that fall and of those forces, beside the student's errors on its
held-out frozen-mode frames (its card), says whether the student's training could resolve it.

    python bench/soft_modes.py

Prints a Markdown table (docs/benchmarks.md quotes it). Every teacher calculation goes through the results store.
"""

from __future__ import annotations

import json

import numpy as np

from toolkit import perovskite as pv
from toolkit import phonons as ph
from toolkit.potentials import STUDENTS_DIR, load_potential
from toolkit.relax import relax
from toolkit.store import ResultsStore

POINTS = {"R": (0.5, 0.5, 0.5), "M": (0.5, 0.5, 0.0)}
AMPLITUDES_A = (0.05, 0.1, 0.2, 0.3)


def energy_and_max_force(atoms, potential) -> tuple[float, float]:
    """Energy (eV) and the largest force on any atom (eV/Å)."""
    work = atoms.copy()
    work.calc = potential
    return float(work.get_potential_energy()), float(np.linalg.norm(work.get_forces(), axis=1).max())


def main() -> None:
    store = ResultsStore()
    card = json.loads((STUDENTS_DIR / "proton-phonon.json").read_text())
    teacher = load_potential(card["teacher"]["name"])
    student = load_potential("student:proton-phonon", dtype="float64")
    host = relax(pv.basno3(), teacher, fmax_eV_A=0.002, store=store)
    phonons = ph.compute_phonons(host, teacher, supercell=(2, 2, 2), store=store, progress=False)
    print(f"\nteacher {teacher.info.name}, student:proton-phonon ({card['model_sha256'][:12]}); "
          f"BaSnO3 at the teacher's a = {host.cell.lengths()[0]:.4f} Å\n")
    print("| point | teacher's softest mode (THz) | amplitude (Å) | atoms | ΔE teacher (meV) | ΔE student (meV) "
          "| max force teacher (meV/Å) | max force student (meV/Å) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, q in POINTS.items():
        frequencies = ph.frequencies_at(phonons, q)
        band = int(np.argmin(frequencies))
        cell, u = ph.modulation(phonons, band, q)
        zero = {p: energy_and_max_force(cell, p)[0] for p in (teacher, student)}
        for amplitude in AMPLITUDES_A:
            frozen = ph.displaced(cell, u.real, amplitude)
            (e_t, f_t), (e_s, f_s) = energy_and_max_force(frozen, teacher), energy_and_max_force(frozen, student)
            print(f"| {name} | {frequencies[band]:.2f} | {amplitude} | {len(cell)} | {1000 * (e_t - zero[teacher]):.1f} "
                  f"| {1000 * (e_s - zero[student]):.1f} | {1000 * f_t:.0f} | {1000 * f_s:.0f} |")
    held_out = card["held_out_errors"]
    print(f"\nThe student's held-out errors (card): frozen-mode force RMSE "
          f"{held_out['force_rmse_by_kind_meV_A']['frozen mode']:.0f} meV/Å, energy RMSE "
          f"{held_out['energy_rmse_meV_atom']:.1f} meV/atom.")


if __name__ == "__main__":
    main()
