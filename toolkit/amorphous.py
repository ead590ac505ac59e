"""Amorphous structures: random packing at a stated density, then melt–quench MD.

The oxyhalide electrolytes of study 2 are TaCl5·xLi2O glasses. :func:`oxyhalide_counts`
turns ``x`` and a number of Ta into atom counts (charge neutral by construction: Ta5+,
Cl−, Li+, O2−), :func:`random_packing` places those atoms at random in a cubic box of the
requested density while keeping every pair apart by :func:`min_distance_A`, and
:func:`melt_quench` melts, quenches at a stated rate, anneals and relaxes (cell included,
i.e. to zero pressure) with any toolkit potential. Every MD segment goes through the
results store, so an interrupted quench resumes where it stopped.

Units: Å, g/cm³, K, fs, K/ps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers, covalent_radii
from ase.units import _amu

from toolkit.md import run_md
from toolkit.progress import progress_bar
from toolkit.relax import relax
from toolkit.store import ResultsStore

#: Formal charges of the ions in the oxyhalide glasses.
FORMAL_CHARGES = {"Ta": 5, "Cl": -1, "Li": 1, "O": -2}
#: Crystalline molar masses (g/mol) and densities (g/cm³) of the end members, for the
#: ideal-mixing density estimate: TaCl5 3.68 g/cm³ (CRC Handbook), Li2O 2.013 g/cm³ (CRC Handbook).
END_MEMBERS = {"TaCl5": {"Ta": 1, "Cl": 5, "density_g_cm3": 3.68}, "Li2O": {"Li": 2, "O": 1, "density_g_cm3": 2.013}}
#: Pairs closer than this fraction of the sum of covalent radii are refused when packing
#: (ions of opposite sign); 0.8 leaves room for the MD to find the bond lengths itself.
PACKING_FRACTION = 0.8
#: Minimum distance (Å) between two ions of the same sign: no Cl–Cl or Li–Li "bonds" at the start.
LIKE_CHARGE_MIN_A = 2.6


def oxyhalide_counts(x: float, n_ta: int) -> dict[str, int]:
    """Atom counts of ``n_ta`` units of TaCl5·xLi2O: Ta n, Cl 5n, Li 2xn, O xn.

    Raises ``ValueError`` for a negative ``x`` or when ``x * n_ta`` is not a whole
    number of O atoms (the message names the smallest ``n_ta`` that works).
    """
    if n_ta < 1:
        raise ValueError(f"n_ta must be a positive number of Ta atoms, got {n_ta}")
    if x < 0:
        raise ValueError(f"x (Li2O per TaCl5) cannot be negative, got {x}")
    n_o = x * n_ta
    if abs(n_o - round(n_o)) > 1e-9:
        smallest = Fraction(x).limit_denominator(100).denominator
        raise ValueError(f"TaCl5·{x}Li2O with {n_ta} Ta needs {n_o:g} O atoms; use a multiple of "
                         f"{smallest} Ta so that x·n_Ta is whole")
    n_o = int(round(n_o))
    return {"Ta": n_ta, "Cl": 5 * n_ta, "Li": 2 * n_o, "O": n_o}


def formal_charge(atoms: Atoms) -> int:
    """Sum of :data:`FORMAL_CHARGES` (0 for a charge-neutral cell)."""
    return int(sum(FORMAL_CHARGES[s] for s in atoms.get_chemical_symbols()))


def mass_density_g_cm3(atoms: Atoms) -> float:
    """Mass density (g/cm³) of a periodic cell."""
    return float(atoms.get_masses().sum() * _amu * 1e3 / (atoms.get_volume() * 1e-24))


def ideal_mixing_density_g_cm3(x: float) -> float:
    """Density (g/cm³) of TaCl5·xLi2O if the molar volumes of crystalline TaCl5 and Li2O add.

    A starting density for the packing; the zero-pressure relaxation after the quench sets
    the potential's own density.
    """
    mass = volume = 0.0
    for name, amount in (("TaCl5", 1.0), ("Li2O", x)):
        member = END_MEMBERS[name]
        m = sum(n * atomic_masses[atomic_numbers[s]] for s, n in member.items() if s != "density_g_cm3")
        mass += amount * m
        volume += amount * m / member["density_g_cm3"]
    return mass / volume


def min_distance_A(a: str, b: str) -> float:
    """Smallest distance (Å) the packing allows between elements ``a`` and ``b``."""
    same_sign = FORMAL_CHARGES.get(a, 0) * FORMAL_CHARGES.get(b, 0) > 0
    bonded = PACKING_FRACTION * (covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]])
    return max(bonded, LIKE_CHARGE_MIN_A) if same_sign else bonded


def random_packing(counts: dict[str, int], density_g_cm3: float, seed: int, max_tries: int = 200_000) -> Atoms:
    """Atoms of ``counts`` placed at random in a cubic box of ``density_g_cm3``.

    Heaviest elements go first (they are the hardest to fit). Each atom is tried at up to
    ``max_tries`` uniform random positions and kept at the first one that is at least
    :func:`min_distance_A` from every atom already placed (minimum image). Raises
    ``ValueError`` naming the element when an atom cannot be placed: the density is too
    high for the distance rules.

    The last atoms of a 210-atom x = 3 oxyhalide at its ideal-mixing density need more than 5000 tries for some
    seeds (seed 1: atom 208), and a few seconds of tries fit them; a packing that needs fewer tries than the
    limit is the same whatever the limit, so raising it changes no packing that worked before.
    """
    if density_g_cm3 <= 0:
        raise ValueError(f"density must be positive, got {density_g_cm3} g/cm³")
    unknown = sorted(set(counts) - set(atomic_numbers))
    if unknown:
        raise ValueError(f"unknown element(s) {', '.join(unknown)}")
    symbols = [s for s in sorted(counts, key=lambda s: -atomic_masses[atomic_numbers[s]]) for _ in range(counts[s])]
    mass_g = sum(atomic_masses[atomic_numbers[s]] for s in symbols) * _amu * 1e3
    side = (mass_g / density_g_cm3 * 1e24) ** (1 / 3)
    rng = np.random.default_rng(seed)
    positions: list[np.ndarray] = []
    placed: list[str] = []
    for k, symbol in enumerate(symbols):
        limits = np.array([min_distance_A(symbol, other) for other in placed])
        for _ in range(max_tries):
            trial = rng.uniform(0, side, 3)
            if not positions:
                break
            delta = np.asarray(positions) - trial
            delta -= side * np.round(delta / side)
            if (np.linalg.norm(delta, axis=1) >= limits).all():
                break
        else:
            raise ValueError(f"could not place atom {k} ({symbol}) of {len(symbols)} in a {side:.2f} Å box at "
                             f"{density_g_cm3} g/cm³ after {max_tries} tries: lower the density or the distance rules")
        positions.append(trial)
        placed.append(symbol)
    return Atoms(placed, positions=positions, cell=[side] * 3, pbc=True)


def oxyhalide_packing(x: float, n_ta: int, seed: int) -> Atoms:
    """``n_ta`` formula units of TaCl5·xLi2O packed at random (``seed``) at the ideal-mixing density: where
    every oxyhalide melt–quench of the toolkit starts (:func:`oxyhalide_counts`, :func:`random_packing`)."""
    return random_packing(oxyhalide_counts(x, n_ta), ideal_mixing_density_g_cm3(x), seed=seed)


@dataclass(frozen=True)
class MeltQuench:
    """A melt–quench protocol (all Langevin NVT, then a zero-pressure relaxation).

    Melt ``melt_ps`` at ``melt_K``; cool to ``final_K`` at ``quench_rate_K_per_ps`` in
    ``quench_stages`` equal temperature steps; anneal ``anneal_ps`` at ``anneal_K``;
    relax positions and cell to ``relax_fmax_eV_A`` in at most ``relax_max_steps`` (when ``relax_cell``;
    this is where the potential's stress sets the density).
    """

    melt_K: float = 1500.0
    melt_ps: float = 2.0
    final_K: float = 300.0
    quench_rate_K_per_ps: float = 500.0
    quench_stages: int = 6
    anneal_K: float = 300.0
    anneal_ps: float = 1.0
    timestep_fs: float = 2.0
    relax_cell: bool = True
    relax_fmax_eV_A: float = 0.05
    relax_max_steps: int = 300

    def stages(self) -> list[tuple[float, int]]:
        """``(temperature_K, n_steps)`` of every MD segment in order."""
        steps = lambda ps: max(1, int(round(ps * 1000 / self.timestep_fs)))  # noqa: E731
        quench_ps = (self.melt_K - self.final_K) / self.quench_rate_K_per_ps
        temperatures = np.linspace(self.melt_K, self.final_K, self.quench_stages + 1)[1:]
        return ([(self.melt_K, steps(self.melt_ps))]
                + [(float(t), steps(quench_ps / self.quench_stages)) for t in temperatures]
                + [(self.anneal_K, steps(self.anneal_ps))])


def settle(packing: Atoms, potential, store: ResultsStore | None = None) -> Atoms:
    """A random packing after a short, loose relaxation (fmax 0.2 eV/Å, at most 60 steps, fixed cell).

    A packing holds close contacts whose forces would heat the first steps of a melt far past
    its thermostat (seen at 4600 K for a 1500 K target); this removes them before any MD.
    """
    settled = relax(packing, potential, fmax_eV_A=0.2, max_steps=60, relax_cell=False, store=store)
    settled.info.pop("relax", None)
    return settled


def melt_quench(atoms: Atoms, potential, protocol: MeltQuench, seed: int, store: ResultsStore | None = None,
                progress: bool = True) -> Atoms:
    """:func:`settle`, melt, quench, anneal and relax ``atoms`` by ``protocol``; returns the glass.

    Each segment starts from the last frame of the one before, with velocities drawn
    afresh at the segment's temperature (seed ``seed + segment``). With a ``store`` every
    segment is cached and checkpointed. ``info["melt_quench"]`` records the protocol, the
    seed, the final density (g/cm³) and energy (eV), and whether the relaxation converged.
    """
    work = settle(atoms, potential, store)
    stages = protocol.stages()
    for k, (temperature, n_steps) in enumerate(progress_bar(stages, desc="melt–quench", disable=not progress, leave=False)):
        # a configuration quenched from the melt gives back its excess potential energy as heat before
        # the thermostat removes it, so the blow-up guard is set against the melt temperature
        frames = run_md(work, potential, temperature, n_steps, timestep_fs=protocol.timestep_fs, seed=seed + k,
                        sample_every=max(1, n_steps // 4), store=store, progress=False,
                        explode_factor=3.0 * max(1.0, protocol.melt_K / temperature))
        work = frames[-1].copy()
        work.set_constraint()
        work.set_momenta(None)
    glass = relax(work, potential, fmax_eV_A=protocol.relax_fmax_eV_A, max_steps=protocol.relax_max_steps,
                  relax_cell=protocol.relax_cell, store=store)
    glass.info["melt_quench"] = {**asdict(protocol), "seed": seed, "density_g_cm3": mass_density_g_cm3(glass),
                                 "energy_eV": glass.info["relax"]["energy_eV"],
                                 "relax_converged": glass.info["relax"]["converged"]}
    return glass
