"""Writes the shipped example structures of ``toolkit.studies.your_material`` (run from the repository root).

- Li3N: P6/mmm, a = 3.648 Å, c = 3.875 Å (alpha-Li3N; Rabenau & Schulz, J. Less-Common Met. 1976), a fast Li
  conductor;
- Na3PS4: cubic I-43m, a = 6.9965 Å (Jansen & Henseler, J. Solid State Chem. 1992), a Na conductor; S on 8c at
  x = 0.169, which puts the P–S bond of the PS4 tetrahedron at 2.05 Å (the relaxation sets the rest);
- K2S: antifluorite Fm-3m, a = 7.406 Å, a K conductor that turns superionic at high temperature (K moves through
  the empty octahedral sites of the fcc S lattice; first-principles MD of superionic K2S: Okeya & Tsumuraya,
  APS March Meeting 2015, Z4.4);
- BaZr0.875Y0.125O2.875(OH)0.125, "BZY": the proton conductor of Kreuer's reviews (Annu. Rev. Mater. Res. 2003),
  cubic BaZrO3 (a = 4.193 Å) in a 2 x 2 x 2 cell with one Zr replaced by Y, charge-balanced by one proton on an O
  next to the Y, bonded 0.98 Å and pointing perpendicular to the Y–O–Zr axis, toward a neighbouring O.
"""

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import make_supercell
from ase.io import write
from ase.spacegroup import crystal

HERE = Path(__file__).resolve().parent

write(HERE / "Li3N.cif", crystal(["N", "Li", "Li"], basis=[(0, 0, 0), (0, 0, 0.5), (1 / 3, 2 / 3, 0)],
                                 spacegroup=191, cellpar=[3.648, 3.648, 3.875, 90, 90, 120]))
write(HERE / "Na3PS4.cif", crystal(["Na", "P", "S"], basis=[(0, 0.5, 0.5), (0, 0, 0), (0.169, 0.169, 0.169)],
                                   spacegroup=217, cellpar=[6.9965, 6.9965, 6.9965, 90, 90, 90]))
write(HERE / "K2S.cif", crystal(["K", "S"], basis=[(0.25, 0.25, 0.25), (0, 0, 0)], spacegroup=225,
                                cellpar=[7.406, 7.406, 7.406, 90, 90, 90]))


def bzy() -> Atoms:
    a = 4.193
    cell = make_supercell(crystal(["Ba", "Zr", "O"], [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0)], spacegroup=221,
                                  cellpar=[a, a, a, 90, 90, 90]), np.eye(3) * 2)
    y = cell.get_chemical_symbols().index("Zr")
    cell[y].symbol = "Y"
    oxygens = [i for i, s in enumerate(cell.get_chemical_symbols()) if s == "O"]
    o = oxygens[int(np.argmin(cell.get_distances(y, oxygens, mic=True)))]
    axis = cell.get_distance(y, o, mic=True, vector=True)
    sideways = np.roll(axis, 1) / np.linalg.norm(axis)  # a cell axis perpendicular to the Y–O bond
    cell.append("H")
    cell.positions[-1] = cell.positions[o] + 0.98 * sideways
    cell.wrap()
    return cell


write(HERE / "BZY-H.cif", bzy())
