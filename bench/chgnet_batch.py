"""Does one batched CHGNet call beat one call per replica? (Why CHGNet's MD runs go one after another.)

``run_md_many`` batches replicas through the MD engine for MACE models. CHGNet has a batched
prediction of its own (``predict_structure`` with a list); this times a force call of the LiGa
study's four quick-mode MD cells (B32 LiGa and bcc Li with one Li vacancy, 31 and 53 atoms, two of
each, lightly rattled) three ways, medians of alternating rounds, with 1 and 2 torch threads:

* through the toolkit's ASE calculator, one cell after another (what ``run_md`` does);
* ``predict_structure`` one cell after another;
* ``predict_structure`` on all four as one batch.

    python bench/chgnet_batch.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def cells():
    from ase.build import make_supercell

    from toolkit import defects, liga

    b32 = defects.vacancies(make_supercell(liga.liga_b32(primitive=True), np.eye(3, dtype=int) * 2), "Li", 1)[0]
    li = defects.vacancies(make_supercell(liga.bcc_li(), np.eye(3, dtype=int) * 3), "Li", 1)[0]
    return [b32, b32, li, li]


def main() -> None:
    import torch
    from pymatgen.io.ase import AseAtomsAdaptor

    from toolkit.potentials import load_potential

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    potential = load_potential("chgnet")
    model, templates, rng = potential.inner.model, cells(), np.random.default_rng(0)

    def rattled():
        out = [atoms.copy() for atoms in templates]
        for atoms in out:
            atoms.positions += rng.normal(0, 0.02, atoms.positions.shape)  # a fresh call, as in MD
        return out

    def ase_one_by_one():
        for atoms in rattled():
            atoms.calc = potential
            atoms.get_forces()

    def chgnet_one_by_one():
        for atoms in rattled():
            model.predict_structure(AseAtomsAdaptor.get_structure(atoms), task="ef")

    def chgnet_batched():
        model.predict_structure([AseAtomsAdaptor.get_structure(a) for a in rattled()], task="ef",
                                batch_size=len(templates))

    ways = (ase_one_by_one, chgnet_one_by_one, chgnet_batched)
    print(f"| torch threads | {' | '.join(way.__name__ for way in ways)} (ms per call of {len(templates)} cells) "
          "| one by one / batched |")
    print("|---|" + "---|" * (len(ways) + 1))
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for way in ways:  # warm-up
            way()
        seconds = {way: [] for way in ways}
        for _ in range(args.rounds):
            for way in ways:
                started = time.perf_counter()
                way()
                seconds[way].append(time.perf_counter() - started)
        ms = {way: 1000 * float(np.median(s)) for way, s in seconds.items()}
        print(f"| {threads} | {' | '.join(f'{ms[way]:.0f}' for way in ways)} "
              f"| {ms[chgnet_one_by_one] / ms[chgnet_batched]:.2f}x |")


if __name__ == "__main__":
    main()
