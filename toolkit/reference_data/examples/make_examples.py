"""Writes the shipped example structures of ``toolkit.studies.your_material`` (run from the repository root).

- Li3N: P6/mmm, a = 3.648 Å, c = 3.875 Å (alpha-Li3N; Rabenau & Schulz, J. Less-Common Met. 1976), a fast Li
  conductor;
- Na3PS4: cubic I-43m, a = 6.9965 Å (Jansen & Henseler, J. Solid State Chem. 1992), a Na conductor; S on 8c at
  x = 0.169, which puts the P–S bond of the PS4 tetrahedron at 2.05 Å (the relaxation sets the rest).
"""

from pathlib import Path

from ase.io import write
from ase.spacegroup import crystal

HERE = Path(__file__).resolve().parent

write(HERE / "Li3N.cif", crystal(["N", "Li", "Li"], basis=[(0, 0, 0), (0, 0, 0.5), (1 / 3, 2 / 3, 0)],
                                 spacegroup=191, cellpar=[3.648, 3.648, 3.875, 90, 90, 120]))
write(HERE / "Na3PS4.cif", crystal(["Na", "P", "S"], basis=[(0, 0.5, 0.5), (0, 0, 0), (0.169, 0.169, 0.169)],
                                   spacegroup=217, cellpar=[6.9965, 6.9965, 6.9965, 90, 90, 90]))
