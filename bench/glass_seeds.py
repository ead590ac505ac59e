"""How much the oxyhalide card's glass depends on the seed of its melt–quench, with the teacher and the student.

The oxyhalide model card (``toolkit/students/oxyhalide-volcano.json``) compares teacher and student on the mean
density and coordination numbers of 42-atom glasses that the teacher melt-quenches from random packings
(:data:`toolkit.students.fidelity.GLASS_SEEDS`, :func:`toolkit.students.fidelity.card_glass`), which both potentials then relax
with their cells (:func:`toolkit.students.fidelity.glass_structure`). One small, fast-quenched glass is one sample: this
script reports each glass on its own, the teacher's density and coordination numbers and the student's
relaxation of the same glass beside them, so that the card's means can be read against the spread between
glasses.

    python bench/glass_seeds.py [--seeds 7 8 9 10 11 12] [--store DIR]

Every run goes into a fresh results store (a temporary folder unless ``--store`` names one), so that the
glasses are made again here rather than read from the store the card was computed in.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
from tqdm.auto import tqdm

from toolkit.students.fidelity import GLASS_SEEDS, card_glass, glass_structure
from toolkit.potentials import available_students, load_potential
from toolkit.store import ResultsStore

STUDY = "oxyhalide-volcano"
COLUMNS = ("density_g_cm3", "CN_Ta_O", "CN_Ta_Cl", "CN_Li_Cl")


def mean_and_sd(values: np.ndarray, spec: str) -> list[str]:
    """Each column's mean ± standard deviation over the rows of ``values``, formatted with ``spec``."""
    return [f"{m:{spec}} ± {s:{spec.lstrip('+')}}" for m, s in zip(values.mean(0), values.std(0, ddof=1))]


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(GLASS_SEEDS))
    parser.add_argument("--store", default=None, help="results store folder (default: a temporary one)")
    args = parser.parse_args()
    card = available_students()[STUDY]
    teacher = load_potential(card["teacher"]["name"], device="cpu")
    student = load_potential(f"student:{STUDY}", device="cpu")
    with tempfile.TemporaryDirectory() as scratch:
        store = ResultsStore(args.store or scratch)
        rows = []
        for seed in tqdm(args.seeds, desc="glasses"):
            glass = card_glass(teacher, seed, store)
            taught = glass_structure([glass], teacher, store)[1]
            learnt = glass_structure([glass], student, store)[1]
            rows.append((seed, taught, learnt))

    print(f"\n{os.cpu_count()} CPUs, torch {torch.__version__}; {STUDY} card glass (42 atoms, x = 1.5) by "
          f"{teacher.info.name}, relaxed with its cell by the teacher and by student:{STUDY} "
          f"(sha256 {card['model_sha256'][:12]})\n")
    print("| seed | density, teacher (g/cm³) | density, student | student − teacher | CN Ta–O teacher / student "
          "| CN Ta–Cl | CN Li–Cl |")
    print("|---|---|---|---|---|---|---|")
    for seed, taught, learnt in rows:
        cns = " | ".join(f"{taught[c]:.2f} / {learnt[c]:.2f}" for c in COLUMNS[1:])
        print(f"| {seed} | {taught['density_g_cm3']:.3f} | {learnt['density_g_cm3']:.3f} | "
              f"{learnt['density_g_cm3'] - taught['density_g_cm3']:+.3f} | {cns} |")
    table = {who: np.array([[row[k][c] for c in COLUMNS] for row in rows])
             for k, who in ((1, "teacher"), (2, "student"))}
    spread = " | ".join(mean_and_sd(table["teacher"], ".2f"))
    print(f"\nteacher, mean ± standard deviation over {len(rows)} seeds ({', '.join(COLUMNS)}): {spread}")
    print("student − teacher, mean ± standard deviation: "
          + ", ".join(mean_and_sd(table["student"] - table["teacher"], "+.3f")))


if __name__ == "__main__":
    main()
