"""Study 3, the LiGa alloy anode: the steps that the notebook, the student card and the tests share.

- :func:`phases`: bcc Li, α-Ga and the Li–Ga compounds of :data:`toolkit.liga.PHASES`, relaxed with their cells;
- :func:`supercells`: perfect B32 LiGa and bcc Li supercells in the potential's own lattices, where the defects
  are made and the Li vacancy hops;
- :func:`vacancy_hop`: a Li vacancy's nearest-neighbour hop in a host, end states relaxed, and its NEB.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
from ase import Atoms
from ase.build import make_supercell
from ase.units import kB

from toolkit import defects, liga
from toolkit.barriers import neb_barrier
from toolkit.progress import progress_bar
from toolkit.relax import relax
from toolkit.store import ResultsStore


@dataclass(frozen=True)
class LigaSettings:
    """Everything a run of study 3 depends on: supercells (n x n x n of the 4-atom primitive B32 cell and of the
    2-atom bcc Li cell), defects per configuration (1 to ``max_defects``), force criteria (eV/Å), NEB images, MD
    temperatures (K) per host, steps, timestep (fs), sampling and blocks, the hull tolerance (eV/atom) and the
    layer thickness (µm) of the diffusion-limited current."""

    alloy_supercell: int = 2
    li_supercell: int = 3
    max_defects: int = 2
    relax_fmax_eV_A: float = 0.02
    neb_images: int = 5
    neb_fmax_eV_A: float = 0.05
    md_temperatures_K: dict = field(default_factory=lambda: {"LiGa (B32)": [500, 700], "Li (bcc)": [300, 400]})
    md_steps: int = 600
    md_timestep_fs: float = 2.0
    md_sample_every: int = 10
    md_blocks: int = 3
    hull_tolerance_eV_atom: float = float(kB * 300)  # k_B T at room temperature
    layer_thickness_um: float = 10.0

    @classmethod
    def quick(cls, **changes) -> "LigaSettings":
        """Minutes on 2 cores: 32-atom alloy cell, 1.2 ps of MD at two temperatures per host."""
        return replace(cls(), **changes)

    @classmethod
    def full(cls, **changes) -> "LigaSettings":
        """Research settings (hours): 108-atom alloy cell, 100 ps at four or five temperatures per host."""
        return replace(cls(alloy_supercell=3, li_supercell=4, max_defects=4, relax_fmax_eV_A=0.005, neb_images=9,
                           neb_fmax_eV_A=0.02, md_steps=50000, md_blocks=5,
                           md_temperatures_K={"LiGa (B32)": [400, 500, 600, 700, 800],
                                              "Li (bcc)": [250, 300, 350, 400]}), **changes)

    def to_dict(self) -> dict:
        return asdict(self)


def phases(potential, fmax_eV_A: float, store: ResultsStore | None = None, progress: bool = True) -> dict[str, Atoms]:
    """Every phase of :data:`toolkit.liga.PHASES` relaxed with its cell to ``fmax_eV_A`` (eV/Å);
    ``info["relax"]["energy_eV"]`` holds each one's energy."""
    return {name: relax(build(), potential, fmax_eV_A=fmax_eV_A, store=store)
            for name, build in progress_bar(liga.PHASES.items(), desc="phases", disable=not progress)}


def supercells(relaxed: dict[str, Atoms], settings: LigaSettings, potential,
              store: ResultsStore | None = None) -> dict[str, Atoms]:
    """The perfect B32 LiGa and bcc Li supercells of ``settings`` in the lattices of ``relaxed`` (:func:`phases`),
    positions relaxed in the fixed cell."""
    primitive = liga.liga_b32(float(relaxed["LiGa (B32)"].cell.lengths()[0]), primitive=True)
    cells = {"LiGa (B32)": make_supercell(primitive, np.eye(3, dtype=int) * settings.alloy_supercell),
             "Li (bcc)": make_supercell(relaxed["Li (bcc)"], np.eye(3, dtype=int) * settings.li_supercell)}
    return {name: relax(cell, potential, fmax_eV_A=settings.relax_fmax_eV_A, relax_cell=False, store=store)
            for name, cell in cells.items()}


@dataclass(frozen=True)
class VacancyHop:
    """A Li vacancy hop: relaxed ``start`` and ``end`` (the vacancy on either site), the moving atom's index in
    them, and :func:`~toolkit.barriers.neb_barrier`'s ``band``."""

    start: Atoms
    end: Atoms
    mover: int
    band: dict = field(repr=False)

    @property
    def barrier_eV(self) -> float:
        return self.band["barrier_eV"]


def vacancy_hop(host: Atoms, potential, settings: LigaSettings, store: ResultsStore | None = None) -> VacancyHop:
    """The hop of a Li next to a vacancy made at the first Li of ``host``, its end states relaxed to
    ``settings.relax_fmax_eV_A`` in the fixed cell and its NEB (``settings.neb_images`` images, climbing, to
    ``settings.neb_fmax_eV_A``)."""
    start, end, mover = defects.vacancy_hop(host, host.get_chemical_symbols().index("Li"))
    start, end = (relax(s, potential, fmax_eV_A=settings.relax_fmax_eV_A, relax_cell=False, store=store)
                  for s in (start, end))
    band = neb_barrier(start, end, potential, n_images=settings.neb_images, fmax_eV_A=settings.neb_fmax_eV_A,
                       store=store)
    return VacancyHop(start, end, mover, band)
