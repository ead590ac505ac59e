"""Li–Ga phases from their crystallographic data.

Each builder cites the structure type, space group, Wyckoff positions and an experimental
lattice parameter (room temperature unless stated):

- bcc Li: Im-3m (229), Li 2a (0,0,0); a = 3.51 Å (Berliner et al., Phys. Rev. B 39, 5966 (1989)).
- α-Ga: Cmce (64), Ga 8f (0, 0.1549, 0.0810); a = 4.520, b = 7.663, c = 4.526 Å
  (Sharma & Donohue, Z. Kristallogr. 117, 293 (1962)).
- LiGa, NaTl type (B32): Fd-3m (227, origin choice 1), Li 8a (0,0,0), Ga 8b (1/2,1/2,1/2);
  a = 6.207 Å (Zintl & Brauer, Z. Phys. Chem. B 20, 245 (1933); Pearson's handbook).
- LiGa in the CsCl type (B2): Pm-3m (221), Li 1a, Ga 1b — a hypothetical polymorph with no
  measured lattice parameter, built to show that the potential prefers B32 (start a = 3.1 Å).
"""

from __future__ import annotations

from ase import Atoms
from ase.spacegroup import crystal

#: Self-diffusion of Li in Li metal near 300 K (cm²/s), the range of tracer and NMR measurements (activation energy
#: about 0.55 eV): Lodding, Mundy & Ott, phys. stat. sol. 38, 559 (1970); Messer & Noack, Appl. Phys. 6, 79 (1975).
LI_METAL_SELF_DIFFUSION_300K_CM2_S = (1e-11, 1e-10)

#: Experimental lattice parameters (Å) of the phases above; None where there is none.
EXPERIMENTAL_LATTICE_A = {"Li (bcc)": 3.51, "Ga (alpha)": 4.520, "LiGa (B32)": 6.207, "LiGa (B2)": None}


def bcc_li(a: float = 3.51) -> Atoms:
    """Conventional bcc Li (2 atoms), lattice parameter ``a`` (Å)."""
    return crystal("Li", [(0, 0, 0)], spacegroup=229, cellpar=[a, a, a, 90, 90, 90])


def alpha_ga(a: float = 4.520, b: float = 7.663, c: float = 4.526) -> Atoms:
    """α-Ga, conventional Cmce cell (8 atoms); ``a, b, c`` in Å."""
    return crystal("Ga", [(0, 0.1549, 0.0810)], spacegroup=64, cellpar=[a, b, c, 90, 90, 90])


def liga_b32(a: float = 6.207, primitive: bool = False) -> Atoms:
    """NaTl-type LiGa: two interpenetrating diamond lattices (16 atoms conventional, 4 primitive)."""
    return crystal(["Li", "Ga"], [(0, 0, 0), (0.5, 0.5, 0.5)], spacegroup=227, setting=1,
                   cellpar=[a, a, a, 90, 90, 90], primitive_cell=primitive)


def liga_b2(a: float = 3.1) -> Atoms:
    """CsCl-type LiGa (2 atoms), a competing polymorph for the hull."""
    return crystal(["Li", "Ga"], [(0, 0, 0), (0.5, 0.5, 0.5)], spacegroup=221, cellpar=[a, a, a, 90, 90, 90])


PHASES = {"Li (bcc)": bcc_li, "Ga (alpha)": alpha_ga, "LiGa (B32)": liga_b32, "LiGa (B2)": liga_b2}


def li_fraction(atoms: Atoms) -> float:
    """x = Li / (Li + Ga) of a cell."""
    symbols = atoms.get_chemical_symbols()
    return symbols.count("Li") / (symbols.count("Li") + symbols.count("Ga"))
