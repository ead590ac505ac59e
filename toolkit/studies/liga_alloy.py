"""Study 3, the LiGa alloy anode: the steps that the notebook, the student card and the tests share.

- :func:`phases`: bcc Li, α-Ga and the Li–Ga compounds of :data:`toolkit.liga.PHASES`, relaxed with their cells;
- :func:`supercells`: perfect B32 LiGa and bcc Li supercells in the potential's own lattices, where the defects
  are made and the Li vacancy hops;
- :func:`solid_solution`: B32 supercells with 1 … n Li/Ga vacancies and antisites, Ga in bcc Li and a vacancy in
  bcc Li, relaxed; defect formation energies, the single-phase range on the hull and the voltage curve;
- :func:`vacancy_cell` and :func:`vacancy_hop`: a Li vacancy's nearest-neighbour hop in a host, end states
  relaxed, and its NEB;
- :func:`li_diffusion`: Langevin MD of vacancy cells, D of Li with its error and the hops it rests on;
- :func:`run` composes them into a :class:`LigaResult`, whose :meth:`~LigaResult.to_summary` is the one place the
  study's ``summary.json`` schema lives (checked against ``schemas/liga-alloy.json``).

:mod:`toolkit.studies.liga_alloy_research` runs these steps at research settings (``python -m toolkit reproduce
liga-alloy``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
from ase import Atoms
from ase.build import make_supercell
from ase.units import kB
from scipy import constants

from toolkit import defects, liga
from toolkit import thermodynamics as td
from toolkit.barriers import NEBResult, neb_barrier
from toolkit.md import run_md_many
from toolkit.progress import progress_bar
from toolkit.relax import relax
from toolkit.store import ResultsStore
from toolkit.transport import (A2_PER_FS_TO_CM2_PER_S, ArrheniusFit, Diffusion, arrhenius_fit, block_diffusion,
                               combine_replicas, diffusion_limited_current_mA_cm2, msd, site_hops, unwrapped_positions)


@dataclass(frozen=True)
class LigaSettings:
    """Everything a run of study 3 depends on: supercells (n x n x n of the 4-atom primitive B32 cell and of the
    2-atom bcc Li cell), defects per configuration (1 to ``max_defects``), force criteria (eV/Å), NEB images, MD
    temperatures (K) per host, independent replicas per temperature, steps, timestep (fs), sampling and blocks,
    the hull tolerance (eV/atom) and the layer thickness (µm) of the diffusion-limited current."""

    alloy_supercell: int = 2
    li_supercell: int = 3
    max_defects: int = 2
    relax_fmax_eV_A: float = 0.02
    neb_images: int = 5
    neb_fmax_eV_A: float = 0.05
    md_temperatures_K: dict = field(default_factory=lambda: {"LiGa (B32)": [500, 700], "Li (bcc)": [300, 400]})
    md_replicas: int = 1
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
        """Research settings (hours): 108-atom alloy and 128-atom Li cells, NEB to 0.01 eV/Å, three independent
        20 ps replicas at four temperatures per host, 300 K included so that room temperature is measured rather
        than extrapolated (bcc Li melts at 454 K, so its highest is 440 K)."""
        return replace(cls(alloy_supercell=3, li_supercell=4, max_defects=4, relax_fmax_eV_A=0.005, neb_images=9,
                           neb_fmax_eV_A=0.01, md_replicas=3, md_steps=10000, md_blocks=5,
                           md_temperatures_K={"LiGa (B32)": [300, 400, 500, 600],
                                              "Li (bcc)": [300, 350, 400, 440]}), **changes)

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


#: The B32 defects of :func:`solid_solution`: name -> builder of a supercell with ``k`` of them.
B32_DEFECTS = {
    "V_Li": lambda perfect, k: defects.vacancies(perfect, "Li", k)[0],
    "V_Ga": lambda perfect, k: defects.vacancies(perfect, "Ga", k)[0],
    "Li_Ga": lambda perfect, k: defects.substitutions(perfect, "Ga", "Li", k)[0],
    "Ga_Li": lambda perfect, k: defects.substitutions(perfect, "Li", "Ga", k)[0],
}


@dataclass(frozen=True)
class SolidSolution:
    """What the B32 framework does off stoichiometry (:func:`solid_solution`).

    ``configurations``: relaxed cells by name (``"B32 k V_Li"`` …, ``"bcc Li + Ga_Li"``, ``"bcc Li + V_Li"``) with
    their energies (eV) in ``energies_eV``; ``formation_eV``: each B32 defect's formation energy (eV) at the Li-rich and
    Ga-rich ends; ``ga_in_li_eV``: Ga dissolved in bcc Li (with LiGa and Li); ``li_vacancy_in_li_eV``: a vacancy in bcc
    Li; ``table``: :func:`~toolkit.thermodynamics.hull_table` of phases and configurations; ``family``: the B32
    configurations; ``x_range``: the Li fractions they span within the hull tolerance; ``voltage``: (x, V) points."""

    configurations: dict = field(repr=False)
    energies_eV: dict
    formation_eV: dict
    ga_in_li_eV: float
    li_vacancy_in_li_eV: float
    table: dict = field(repr=False)
    family: list
    x_range: tuple
    voltage: list

    @property
    def voltage_in_range_V(self) -> tuple[float, float]:
        """The lowest and highest voltage (V vs Li/Li+) across the single-phase range."""
        inside = [v for x, v in self.voltage if self.x_range[0] <= x <= self.x_range[1]]
        return min(inside), max(inside)


def solid_solution(relaxed: dict[str, Atoms], settings: LigaSettings, potential, store: ResultsStore | None = None,
                   progress: bool = True) -> SolidSolution:
    """Relax (cell included) B32 supercells with 1 … ``settings.max_defects`` of each of :data:`B32_DEFECTS`, Ga on a
    Li site and a vacancy in bcc Li; place them on the hull of ``relaxed`` (:func:`phases`) and return the
    :class:`SolidSolution`.

    Formation energies: the Li-rich end is LiGa with Li metal (μ_Li = E(Li)), the Ga-rich end LiGa with α-Ga. The
    vacancy in bcc Li: E(N−1) − (N−1) E(Li), which sets the equilibrium vacancy fraction of Li metal.
    """
    cells = supercells(relaxed, settings, potential, store)
    perfect, li_bulk = cells["LiGa (B32)"], cells["Li (bcc)"]
    configs = {"LiGa (B32)": perfect}
    for kind, build in B32_DEFECTS.items():
        for k in range(1, settings.max_defects + 1):
            configs[f"B32 {k} {kind}"] = build(perfect, k)
    configs["bcc Li + Ga_Li"] = defects.substitutions(li_bulk, "Li", "Ga", 1)[0]
    configs["bcc Li + V_Li"] = defects.vacancies(li_bulk, "Li", 1)[0]
    relaxed_configs = {name: relax(atoms, potential, fmax_eV_A=settings.relax_fmax_eV_A, relax_cell=True, store=store)
                       for name, atoms in progress_bar(configs.items(), desc="defect configurations",
                                                       disable=not progress)}
    energies = {name: atoms.info["relax"]["energy_eV"] for name, atoms in relaxed_configs.items()}
    energy = {name: atoms.info["relax"]["energy_eV"] for name, atoms in relaxed.items()}
    e_li = energy["Li (bcc)"] / len(relaxed["Li (bcc)"])
    e_ga = energy["Ga (alpha)"] / len(relaxed["Ga (alpha)"])
    e_fu = energy["LiGa (B32)"] / (len(relaxed["LiGa (B32)"]) / 2)
    single = {kind: energies[f"B32 1 {kind}"] for kind in B32_DEFECTS}
    limits = {"Li-rich": (e_li, e_fu - e_li), "Ga-rich": (e_fu - e_ga, e_ga)}
    formation = {where: td.defect_formation_energies(energies["LiGa (B32)"], single, mu_li, mu_ga)
                 for where, (mu_li, mu_ga) in limits.items()}
    ga_in_li = energies["bcc Li + Ga_Li"] - len(li_bulk) * e_li + e_li - (e_fu - e_li)  # μ_Ga from LiGa + Li
    li_vacancy = energies["bcc Li + V_Li"] - (len(li_bulk) - 1) * e_li
    hull = td.phase_diagram({**{n: (a, energy[n]) for n, a in relaxed.items()},
                             **{n: (relaxed_configs[n], energies[n]) for n in configs if n != "bcc Li + V_Li"}})
    family = [n for n in configs if n.startswith("B32") or n == "LiGa (B32)"]
    return SolidSolution(relaxed_configs, energies, formation, float(ga_in_li), float(li_vacancy),
                         td.hull_table(hull), family,
                         tuple(td.single_phase_range(hull, family, settings.hull_tolerance_eV_atom)),
                         [tuple(p) for p in td.voltage_curve(hull)])


@dataclass(frozen=True)
class VacancyHop:
    """A Li vacancy hop: relaxed ``start`` and ``end`` (the vacancy on either site), the moving atom's index in
    them, and :func:`~toolkit.barriers.neb_barrier`'s ``band``."""

    start: Atoms
    end: Atoms
    mover: int
    band: NEBResult = field(repr=False)

    @property
    def barrier_eV(self) -> float:
        return self.band.barrier_eV


@dataclass(frozen=True)
class VacancyCell:
    """A host with one Li vacancy: ``start`` (the vacancy), ``end`` (its nearest Li neighbour moved into it), both
    relaxed in the fixed cell, ``mover`` the hopping atom's index in both, and ``li_sites_A`` the perfect host's Li
    sites (Å), the vacant one included: the lattice the Li hop on."""

    start: Atoms
    end: Atoms
    mover: int
    li_sites_A: np.ndarray = field(repr=False)


def vacancy_cell(host: Atoms, potential, settings: LigaSettings, store: ResultsStore | None = None) -> VacancyCell:
    """The :class:`VacancyCell` of a vacancy at the first Li of ``host``, relaxed to ``settings.relax_fmax_eV_A``."""
    start, end, mover = defects.vacancy_hop(host, host.get_chemical_symbols().index("Li"))
    start, end = (relax(s, potential, fmax_eV_A=settings.relax_fmax_eV_A, relax_cell=False, store=store)
                  for s in (start, end))
    li = [i for i, symbol in enumerate(host.get_chemical_symbols()) if symbol == "Li"]
    return VacancyCell(start, end, mover, host.positions[li].copy())


def vacancy_hop(host: Atoms, potential, settings: LigaSettings, store: ResultsStore | None = None) -> VacancyHop:
    """The hop of :func:`vacancy_cell` and its NEB (``settings.neb_images`` images, climbing, to
    ``settings.neb_fmax_eV_A``)."""
    cell = vacancy_cell(host, potential, settings, store)
    start, end, mover = cell.start, cell.end, cell.mover
    band = neb_barrier(start, end, potential, n_images=settings.neb_images, fmax_eV_A=settings.neb_fmax_eV_A,
                       store=store)
    return VacancyHop(start, end, mover, band)


@dataclass(frozen=True)
class LiDiffusion:
    """One MD run of a vacancy cell (:func:`li_diffusion`): D of Li (cm²/s) with its block error, the site-to-site
    hops it rests on, the run's length after equilibration (ps), the unwrapped Li positions (Å, frames x Li x 3)
    ``dt_fs`` apart, and the MSD (Å²) at logarithmically spaced lags (ps)."""

    temperature_K: float
    seed: int
    D_cm2_s: float
    D_err_cm2_s: float
    hops: int
    duration_ps: float
    dt_fs: float
    positions_A: np.ndarray = field(repr=False)
    msd_lag_ps: list = field(repr=False)
    msd_A2: list = field(repr=False)

    def to_dict(self) -> dict:
        """The run's numbers, without its positions (JSON-ready)."""
        return {k: v for k, v in asdict(self).items() if k != "positions_A"}

    def settled_D_cm2_s(self, start_ps: float = 1.0) -> float:
        """D (cm²/s) from the slope of the stored MSD (the whole run's, to a block's length of lag) over lags from
        ``start_ps`` on, past the rise of the vibrational MSD. A check on the block D where the blocks are too short
        to start their fits there (:class:`~toolkit.transport.NotDiffusiveWarning`); it has no error bar."""
        lags, curve = np.asarray(self.msd_lag_ps), np.asarray(self.msd_A2)
        late = lags >= start_ps
        if late.sum() < 3:
            raise ValueError(f"the stored MSD reaches {lags.max():.2f} ps of lag: too short to fit from {start_ps} ps")
        slope_A2_fs = np.polyfit(lags[late], curve[late], 1)[0] / 1000.0
        return float(slope_A2_fs / 6 * A2_PER_FS_TO_CM2_PER_S)

    @classmethod
    def from_dict(cls, record: dict) -> "LiDiffusion":
        """A run back from :meth:`to_dict`'s numbers (a research point's), without its positions."""
        return cls(**{f.name: record.get(f.name) for f in fields(cls)})


def li_diffusion(runs: list[tuple[VacancyCell, float, int]], potential, settings: LigaSettings,
                 store: ResultsStore | None = None, progress: bool = True) -> list[LiDiffusion]:
    """Langevin MD of vacancy cells: ``runs`` holds ``(cell, temperature_K, seed)`` with ``cell`` a
    :class:`VacancyCell`. All runs go through the model together (one batch on the MD engine for MACE
    potentials). The first 10 % of each run is dropped as equilibration; D comes from ``settings.md_blocks`` blocks
    (:func:`~toolkit.transport.block_diffusion`) and the hops are counted between the cell's Li sites
    (:func:`~toolkit.transport.site_hops`)."""
    dt_fs = settings.md_timestep_fs * settings.md_sample_every
    trajectories = run_md_many([cell.start for cell, _, _ in runs], potential, [t for _, t, _ in runs], settings.md_steps,
                               timestep_fs=settings.md_timestep_fs, seeds=[s for _, _, s in runs],
                               sample_every=settings.md_sample_every, store=store, progress=progress)
    results = []
    for (cell, temperature, seed), frames in zip(runs, trajectories):
        li = [i for i, symbol in enumerate(frames[0].get_chemical_symbols()) if symbol == "Li"]
        equilibrated = frames[len(frames) // 10:]
        paths = unwrapped_positions(equilibrated, li)
        d, d_err = block_diffusion(paths, dt_fs, n_blocks=settings.md_blocks)
        hops = site_hops(np.array([f.positions[li] for f in equilibrated]), cell.li_sites_A, cell.start.cell)
        curve = msd(paths, max_lag=len(paths) // settings.md_blocks)
        lags = np.unique(np.geomspace(1, len(curve) - 1, 40).astype(int))
        results.append(LiDiffusion(float(temperature), int(seed), d, d_err, hops, (len(paths) - 1) * dt_fs / 1000,
                                   dt_fs, paths, (lags * dt_fs / 1000).tolist(), curve[lags].tolist()))
    return results


def diffusion_table(runs: list[LiDiffusion]) -> dict[float, Diffusion]:
    """Temperature (K) -> :class:`~toolkit.transport.Diffusion` (D and its error, cm²/s) over the runs at that
    temperature (:func:`~toolkit.transport.combine_replicas`)."""
    temperatures = sorted({r.temperature_K for r in runs})
    return {t: combine_replicas([(r.D_cm2_s, r.D_err_cm2_s) for r in runs if r.temperature_K == t])
            for t in temperatures}


def arrhenius(runs: list[LiDiffusion]) -> ArrheniusFit:
    """:func:`~toolkit.transport.arrhenius_fit` of :func:`diffusion_table` (needs two temperatures or more)."""
    table = diffusion_table(runs)
    return arrhenius_fit(list(table), *zip(*table.values()))


def diffusion_limited_current(b32: Atoms, x_range, d_300_cm2_s: float, thickness_um: float) -> dict:
    """The Li current density that diffusion through a LiGa layer can carry (model in
    :func:`~toolkit.transport.diffusion_limited_current_mA_cm2`): Δc (mol/cm³) is the Li content between the ends of
    the single-phase range ``x_range`` (Li fractions) in B32 cell ``b32``'s volume per Ga."""
    volume_per_ga_cm3 = b32.get_volume() / (len(b32) / 2) * 1e-24
    li_per_ga = [x / (1 - x) for x in x_range]
    delta_c = (li_per_ga[1] - li_per_ga[0]) / volume_per_ga_cm3 / constants.N_A
    return {"delta_c_mol_cm3": delta_c, "D_300K_cm2_s": d_300_cm2_s, "thickness_um": thickness_um,
            "current_mA_cm2": diffusion_limited_current_mA_cm2(d_300_cm2_s, delta_c, thickness_um)}


@dataclass(frozen=True)
class LigaResult:
    """A run of study 3, from its steps: the relaxed ``phases``, the :class:`SolidSolution`, each host's
    :class:`VacancyHop` and :class:`LiDiffusion` runs (by system), and the potential against the DFT anchors
    (:func:`toolkit.alloy_anchors.liga_dft_rows`)."""

    settings: LigaSettings
    phases: dict = field(repr=False)
    solution: SolidSolution = field(repr=False)
    hops: dict = field(repr=False)
    diffusion: dict = field(repr=False)
    dft_rows: list = field(default_factory=list)

    @property
    def hull(self) -> dict:
        """:func:`~toolkit.thermodynamics.hull_table` of the phases alone."""
        return td.hull_table(td.phase_diagram({n: (a, a.info["relax"]["energy_eV"]) for n, a in self.phases.items()}))

    @property
    def current(self) -> dict:
        """:func:`diffusion_limited_current` with the alloy's D at 300 K from its Arrhenius fit."""
        d_300 = float(arrhenius(self.diffusion["LiGa (B32)"]).predict(300.0))
        return diffusion_limited_current(self.phases["LiGa (B32)"], self.solution.x_range, d_300,
                                         self.settings.layer_thickness_um)

    def to_summary(self, claims: list[dict] = ()) -> dict:
        """The study's ``summary.json`` keys (units in their names); ``claims``: the claim table's rows."""
        hull, solution = self.hull, self.solution
        fits = {system: arrhenius(runs) for system, runs in self.diffusion.items()}
        current = self.current
        return {
            "lattice_A": {n: float(a.cell.lengths()[0]) for n, a in self.phases.items()},
            "lattice_exp_A": liga.EXPERIMENTAL_LATTICE_A,
            "formation_energy_eV_atom": {n: r["formation_eV_atom"] for n, r in hull.items()},
            "dft_comparison": list(self.dft_rows),
            "hull_phases": [n for n, r in hull.items() if r["stable"]],
            "defect_formation_eV": {d: {w: solution.formation_eV[w][d] for w in solution.formation_eV}
                                    for d in B32_DEFECTS} | {"Ga_in_bcc_Li": solution.ga_in_li_eV},
            "li_vacancy_in_li_eV": solution.li_vacancy_in_li_eV,
            "single_phase_range_xLi": list(solution.x_range),
            "voltage_V": [list(p) for p in solution.voltage],
            "configurations": {n: {"x": r["x"], "e_above_hull_eV_atom": r["e_above_hull_eV_atom"]}
                               for n, r in solution.table.items()},
            "barrier_eV": {system: hop.barrier_eV for system, hop in self.hops.items()},
            "D_Li_cm2_s": {system: {f"{t:g}": list(v) for t, v in diffusion_table(runs).items()}
                           for system, runs in self.diffusion.items()},
            "Li_hops": {system: {f"{r.temperature_K:g}": r.hops for r in runs} for system, runs in self.diffusion.items()},
            "Ea_eV": {system: [fit.Ea_eV, fit.Ea_err_eV] for system, fit in fits.items()},
            "D_300K_alloy_cm2_s": current["D_300K_cm2_s"],
            "diffusion_limited_current_mA_cm2": current["current_mA_cm2"],
            "current_model": f"j = F D(300 K) dc / L, L = {current['thickness_um']} um, dc from the single-phase range",
            "claims": list(claims),
        }


def md_seed(seed: int, k: int, replica: int, n_temperatures: int) -> int:
    """The MD seed of the ``k``-th temperature's ``replica``-th run of a host: ``seed + k`` for the first replica,
    and on past every temperature's for the next, so that no two runs of a host share one."""
    return seed + k + replica * n_temperatures


def run(settings: LigaSettings, potential, store: ResultsStore | None = None, transport_potential=None,
        seed: int = 0, progress: bool = True) -> LigaResult:
    """Study 3 from its steps: phases, solid solution and hull on ``potential``; hops and MD (``settings.md_replicas``
    per temperature, seeds from ``seed`` by :func:`md_seed`) on ``transport_potential`` (default ``potential``), in
    ``potential``'s lattices. The result's ``dft_rows`` are left empty: :mod:`toolkit.alloy_anchors` sets a
    potential beside DFT (``liga_dft_rows``, ``b32_defect_rows``, ``li_vacancy_rows``, ``hop_image_rows``), and the
    caller adds them."""
    transport = transport_potential or potential
    relaxed = phases(potential, settings.relax_fmax_eV_A / 2, store, progress)
    solution = solid_solution(relaxed, settings, potential, store, progress)
    hosts = supercells(relaxed, settings, transport, store)
    hops = {system: vacancy_hop(host, transport, settings, store) for system, host in hosts.items()}
    cells = {system: vacancy_cell(host, transport, settings, store) for system, host in hosts.items()}
    plan = [(system, t, md_seed(seed, k, r, len(temps))) for system, temps in settings.md_temperatures_K.items()
            for r in range(settings.md_replicas) for k, t in enumerate(temps)]
    runs = li_diffusion([(cells[system], t, s) for system, t, s in plan], transport, settings, store, progress)
    diffusion = {system: [r for (s, _, _), r in zip(plan, runs) if s == system] for system in hosts}
    return LigaResult(settings, relaxed, solution, hops, diffusion)
