"""Beyond the papers: the studies' steps applied to your own material. A crystal structure (a CIF) and a mobile
ion in; its relaxation, phonon stability, σ(T) of the ion with its uncertainty, and, where competing phases are
given, its energy above the hull out. The steps:

- :func:`load_structure`: the file read and checked (readable, periodic, no overlapping atoms, holds the ion, every
  element covered by the potential);
- :func:`relaxed`: positions and cell relaxed (:func:`toolkit.relax.relax`);
- :func:`stability`: phonons at every displacement of the settings (the check that an imaginary mode is not an
  artefact of one displacement), imaginary modes at the supercell's commensurate q-points;
- :func:`md_cell`: the relaxed cell repeated to the settings' smallest width, for MD;
- :func:`transport`: MD of the ion at each temperature over independent runs and σ at the settings' temperature
  (:mod:`toolkit.conductivity`, the steps study 2 runs on its glasses);
- :func:`glass` and :func:`amorphous` (optional): the MD cell's atoms packed at random and melt-quenched as study 2
  makes its glasses, the glass's density and energy against the crystal, and the same transport;
- :func:`hull`: the energy above the hull of the material against ``competing`` phases (pymatgen);
- :func:`run` composes them into a :class:`MaterialResult`;
- :func:`ranked` and :func:`ranked_markdown`: a screen's rows (``python -m toolkit screen``, one
  :func:`toolkit.sweeps.material_card` per CIF on Dask) in order of σ, with the refused files last.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read
from pymatgen.core import Element

from toolkit import amorphous as am
from toolkit import phonons as ph
from toolkit import thermodynamics as td
from toolkit.conductivity import conductivity, ion_diffusion
from toolkit.relax import relax
from toolkit.store import ResultsStore
from toolkit.validation import StructureError, check_structure

#: Shipped examples: name -> (file in ``reference_data/examples``, mobile ion).
EXAMPLES = {"Li3N": ("Li3N.cif", "Li"), "Na3PS4 (cubic)": ("Na3PS4.cif", "Na"), "K2S": ("K2S.cif", "K"),
            "BaZrO3:Y,H (proton)": ("BZY-H.cif", "H")}
EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "reference_data" / "examples"
#: Densities, as fractions of the crystal's, at which :func:`glass` tries to pack the atoms at random: a crystal's
#: like ions sit closer than the packing's rules allow (Li–Li 2.1 Å in Li3N; the rules keep 2.6 Å).
PACKING_DENSITY_FRACTIONS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


@dataclass(frozen=True)
class MaterialSettings:
    """Everything a run depends on: relaxation force limit (eV/Å); phonons in an n x n x n supercell at each of
    ``phonon_displacements_A`` (Å), an imaginary mode counting below ``-imaginary_threshold_THz`` (raised to twice
    the acoustic noise where that is larger); MD cells at least ``md_min_width_A`` (Å) across, ``md_runs``
    independent runs (seeds) at each of ``md_temperatures_K`` (K) of ``md_ps`` (ps), sampled every
    ``md_sample_every`` steps of ``md_timestep_fs`` (fs; a proton's runs use 0.5 fs at most), the first
    ``md_equilibration_fraction`` dropped, D's error from ``md_blocks`` blocks; σ at ``sigma_temperature_K`` (K)
    with Haven ratio ``haven_ratio``. An amorphous variant is made by ``melt_quench`` (its ``melt_K`` must lie
    above the material's melting point in the potential: 1500 K suits most Li and Na salts)."""

    relax_fmax_eV_A: float = 0.005
    phonon_supercell: int = 2
    phonon_displacements_A: tuple = (0.02, 0.04)
    imaginary_threshold_THz: float = 0.3
    md_min_width_A: float = 6.0
    md_temperatures_K: tuple = (800.0, 1000.0)
    md_runs: int = 2
    md_ps: float = 0.5
    md_timestep_fs: float = 2.0
    md_sample_every: int = 5
    md_equilibration_fraction: float = 0.2
    md_blocks: int = 3
    sigma_temperature_K: float = 300.0
    haven_ratio: float = 1.0
    melt_quench: am.MeltQuench = field(default_factory=lambda: am.MeltQuench(
        melt_ps=0.3, quench_rate_K_per_ps=6000.0, quench_stages=3, anneal_ps=0.1, relax_fmax_eV_A=0.1))

    @classmethod
    def quick(cls, **changes) -> "MaterialSettings":
        """About 2.5 minutes on 2 cores (CHGNet) for a cell of a few atoms (Li3N): MD cells 6 Å across, 0.5 ps at two
        temperatures, two runs each. That shows the method; its D still holds the vibrational rise of the MSD
        (it reads high, and the blocks' warning says so): a number to decide on needs :meth:`full`."""
        return replace(cls(), **changes)

    @classmethod
    def full(cls, **changes) -> "MaterialSettings":
        """Research settings (hours): 3 x 3 x 3 phonons, cells 12 Å across, 50 ps at four temperatures, three
        runs each; study 2's research melt–quench (10 ps melt, 100 K/ps)."""
        return replace(cls(relax_fmax_eV_A=0.002, phonon_supercell=3, md_min_width_A=12.0,
                           md_temperatures_K=(600.0, 750.0, 900.0, 1050.0), md_runs=3, md_ps=50.0, md_blocks=5,
                           melt_quench=am.MeltQuench(melt_ps=10.0, quench_rate_K_per_ps=100.0, quench_stages=12,
                                                     anneal_ps=5.0, relax_fmax_eV_A=0.02)),
                       **changes)

    def timestep_fs(self, ion: str) -> float:
        """The MD time step (fs) for ``ion``: a proton vibrates too fast for more than 0.5 fs."""
        return min(self.md_timestep_fs, 0.5) if ion == "H" else self.md_timestep_fs

    def md_steps(self, ion: str) -> int:
        return int(round(self.md_ps * 1000 / self.timestep_fs(ion)))

    def to_dict(self) -> dict:
        return asdict(self)


def load_structure(source, ion: str | None, potential) -> Atoms:
    """The structure of ``source`` (a file ASE reads, such as a CIF; a name of :data:`EXAMPLES`; or Atoms), checked:
    a periodic cell, no overlapping atoms, at least one ``ion`` (None: not checked) and only elements ``potential``
    covers. Each failure raises an error that names the problem."""
    if isinstance(source, Atoms):
        atoms = source.copy()
    else:
        path = EXAMPLE_DIR / EXAMPLES[source][0] if source in EXAMPLES else Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no structure file {path} (or a shipped example: {', '.join(EXAMPLES)})")
        try:
            atoms = read(path)
        except Exception as error:  # noqa: BLE001 - any parser failure means the same to the user
            raise StructureError(f"could not read {path.name} as a crystal structure: {error}") from error
    check_structure(atoms)
    if ion is not None and ion not in atoms.get_chemical_symbols():
        raise StructureError(f"{atoms.get_chemical_formula()} holds no {ion}: choose the mobile ion among "
                             f"{', '.join(sorted(set(atoms.get_chemical_symbols())))}")
    potential.check_elements(atoms)
    return atoms


def relaxed(atoms: Atoms, potential, settings: MaterialSettings, store: ResultsStore | None = None) -> Atoms:
    """``atoms`` with positions and cell relaxed to ``settings.relax_fmax_eV_A``."""
    return relax(atoms, potential, fmax_eV_A=settings.relax_fmax_eV_A, relax_cell=True, store=store)


def cell_widths_A(atoms: Atoms) -> np.ndarray:
    """The distances (Å) between opposite faces of the cell: its volume over each face's area (ASE's)."""
    return atoms.cell.volume / atoms.cell.areas()


def md_cell(atoms: Atoms, min_width_A: float) -> Atoms:
    """``atoms`` repeated along each cell vector until the cell is at least ``min_width_A`` (Å) across."""
    return atoms.repeat([int(np.ceil(min_width_A / w)) for w in cell_widths_A(atoms)])


@dataclass(frozen=True)
class Stability:
    """Phonon stability at each displacement (Å): the imaginary modes ``(q, band, frequency_THz)`` at the
    supercell's commensurate q-points, below the threshold (THz) used, and the acoustic noise (THz)."""

    by_displacement: dict
    phonons: dict = field(repr=False)

    @property
    def stable(self) -> bool:
        """No imaginary mode at any displacement."""
        return not any(row["imaginary"] for row in self.by_displacement.values())

    @property
    def displacement_check(self) -> bool:
        """Every displacement gives the same verdict, and the lowest frequency (q ≠ Γ) moves by less than the
        threshold between them: where it does not, the verdict rests on noise or anharmonicity, not the crystal."""
        rows = list(self.by_displacement.values())
        lowest = [row["lowest_THz"] for row in rows if row["lowest_THz"] is not None]
        spread = max(lowest) - min(lowest) if lowest else 0.0
        return len({bool(row["imaginary"]) for row in rows}) == 1 and spread < min(r["threshold_THz"] for r in rows)

    def to_dict(self) -> dict:
        return {"stable": self.stable, "displacement_check": self.displacement_check,
                "by_displacement_A": {f"{d:g}": row for d, row in self.by_displacement.items()}}


def stability(atoms: Atoms, potential, settings: MaterialSettings, store: ResultsStore | None = None,
              progress: bool = True) -> Stability:
    """Phonons of relaxed ``atoms`` in a ``settings.phonon_supercell``-fold supercell at each displacement of
    ``settings.phonon_displacements_A``, and their imaginary modes at every q the supercell is commensurate with."""
    n = settings.phonon_supercell
    grid = [tuple(k / n for k in q) for q in itertools.product(range(n), repeat=3)]
    rows, phonons = {}, {}
    for displacement in settings.phonon_displacements_A:
        phonon = ph.compute_phonons(atoms, potential, supercell=(n,) * 3, displacement_A=displacement, store=store,
                                    progress=progress)
        noise = ph.acoustic_noise_THz(phonon)
        threshold = max(settings.imaginary_threshold_THz, 2 * noise)
        imaginary = [[list(q), band, frequency] for q in grid
                     for band, frequency in ph.imaginary_modes(phonon, q, threshold)]
        phonons[displacement] = phonon
        rows[displacement] = {"imaginary": imaginary, "threshold_THz": threshold, "acoustic_noise_THz": noise,
                              "lowest_THz": float(min(ph.frequencies_at(phonon, q).min() for q in grid[1:]))
                              if len(grid) > 1 else None}
    return Stability(rows, phonons)


def transport(cell: Atoms, ion: str, potential, settings: MaterialSettings, seed: int = 0,
              store: ResultsStore | None = None, progress: bool = True) -> dict:
    """σ of ``ion`` at ``settings.sigma_temperature_K`` from MD of ``cell``: ``settings.md_runs`` runs (seeds
    ``seed``, ``seed + 1``, ...) at each temperature (:func:`toolkit.conductivity.ion_diffusion`), combined and
    fitted (:func:`toolkit.conductivity.conductivity`); adds the runs' D (cm²/s) by temperature under ``runs``.
    A cell narrower than the potential's cutoff is refused: each ion would feel its own periodic images."""
    cutoff = potential.info.cutoff_A
    if cutoff is not None and cell_widths_A(cell).min() < cutoff:
        raise StructureError(f"the MD cell {cell.get_chemical_formula()} is {cell_widths_A(cell).min():.2f} Å across, "
                             f"narrower than the {cutoff:g} Å cutoff of {potential.info.name}: each ion would feel its "
                             f"own periodic images; raise md_min_width_A")
    plan = [(t, seed + k) for t in settings.md_temperatures_K for k in range(settings.md_runs)]
    values = ion_diffusion([(cell, t, s) for t, s in plan], ion, potential, settings.md_steps(ion),
                           settings.timestep_fs(ion), settings.md_sample_every, settings.md_equilibration_fraction,
                           settings.md_blocks, store, progress)
    runs: dict[float, list] = {}
    for (t, _), d in zip(plan, values):
        runs.setdefault(float(t), []).append(list(d))
    charge = abs(Element(ion).common_oxidation_states[-1])  # the ion's usual charge; σ goes as its square
    sigma = conductivity(runs, cell.get_chemical_symbols().count(ion), cell.get_volume(),
                         settings.sigma_temperature_K, charge, settings.haven_ratio)
    return {**sigma, "runs": runs, "charge": charge}


def glass(atoms: Atoms, potential, settings: MaterialSettings, seed: int = 0, store: ResultsStore | None = None,
          progress: bool = True) -> Atoms:
    """An amorphous variant of relaxed ``atoms``, made as study 2 makes its glasses: the atoms of its MD cell
    (:func:`md_cell`) packed at random (seed ``seed``) in a cube (:func:`toolkit.amorphous.random_packing`) at the
    crystal's density, or at the first of :data:`PACKING_DENSITY_FRACTIONS` of it where the packing's distance rules
    let every atom in, then melted, quenched, annealed and relaxed by ``settings.melt_quench``
    (:func:`toolkit.amorphous.melt_quench`, whose cell relaxation sets the glass's density). Starting from the
    crystal instead would need a melt long enough to destroy it: a periodic crystal without a surface superheats,
    and Li3N came back out of the quick protocol as its crystal. ``info["melt_quench"]`` holds the protocol,
    density (g/cm³), energy (eV) and the packing's density (g/cm³)."""
    cell = md_cell(atoms, settings.md_min_width_A)
    counts = {s: cell.get_chemical_symbols().count(s) for s in dict.fromkeys(cell.get_chemical_symbols())}
    for fraction in PACKING_DENSITY_FRACTIONS:
        density = fraction * am.mass_density_g_cm3(cell)
        try:
            packing = am.random_packing(counts, density, seed=seed)
            break
        except ValueError as error:
            problem = error
    else:
        raise ValueError(f"no random packing of {cell.get_chemical_formula()} even at "
                         f"{PACKING_DENSITY_FRACTIONS[-1]:.0%} of the crystal's density: {problem}")
    made = am.melt_quench(packing, potential, settings.melt_quench, seed=seed, store=store, progress=progress)
    made.info["melt_quench"]["packing_density_g_cm3"] = density
    return made


def amorphous(crystal: Atoms, ion: str, potential, settings: MaterialSettings, seed: int = 0,
              store: ResultsStore | None = None, progress: bool = True) -> dict:
    """The amorphous variant of relaxed ``crystal`` (:func:`glass`) beside it: both densities (g/cm³), the glass's
    energy above the crystal (eV/atom; positive for a crystal that is the stabler form) and its :func:`transport`
    (same settings and seeds), with the glass under ``atoms``."""
    made = glass(crystal, potential, settings, seed, store, progress)
    per_atom = made.info["melt_quench"]["energy_eV"] / len(made) - crystal.info["relax"]["energy_eV"] / len(crystal)
    return {"atoms": made, "density_g_cm3": made.info["melt_quench"]["density_g_cm3"],
            "crystal_density_g_cm3": am.mass_density_g_cm3(crystal), "energy_above_crystal_eV_atom": float(per_atom),
            "transport": transport(made, ion, potential, settings, seed, store, progress)}


def hull(atoms: Atoms, potential, competing: dict[str, Atoms], settings: MaterialSettings,
         store: ResultsStore | None = None) -> dict:
    """The place on the hull of ``atoms`` (relaxed by :func:`relaxed`) among ``competing`` phases (name -> structure),
    each relaxed the same way: per phase its formation energy and energy above the hull (eV/atom)."""
    elemental = [set(c.get_chemical_symbols()) for c in competing.values() if len(set(c.get_chemical_symbols())) == 1]
    missing = sorted(set(atoms.get_chemical_symbols()) - set().union(*elemental))
    if missing:
        raise ValueError(f"a hull needs each element's own phase among the competing phases: none for "
                         f"{', '.join(missing)}")
    phases = {"material": atoms, **{name: relaxed(c, potential, settings, store) for name, c in competing.items()}}
    energies = {name: (a, a.info["relax"]["energy_eV"]) for name, a in phases.items()}
    table = td.hull_table(td.phase_diagram(energies))
    return {name: {k: row[k] for k in ("formation_eV_atom", "e_above_hull_eV_atom", "stable")}
            for name, row in table.items()}


@dataclass(frozen=True)
class MaterialResult:
    """A run of :func:`run`: the relaxed structure, its :class:`Stability`, its transport (:func:`transport`),
    hull (None without competing phases) and amorphous variant (:func:`amorphous`; None unless asked for)."""

    formula: str
    ion: str
    settings: MaterialSettings
    structure: Atoms = field(repr=False)
    stability: Stability
    transport: dict = field(repr=False)
    hull: dict | None
    amorphous: dict | None = field(default=None, repr=False)

    @staticmethod
    def transport_summary(moving: dict) -> dict:
        """The ``summary.json`` keys of one :func:`transport` result."""
        fit = moving["fit"]
        return {"D_cm2_s": {f"{t:g}": d for t, d in moving["D"].items()},
                "D_runs_cm2_s": {f"{t:g}": runs for t, runs in moving["runs"].items()},
                "Ea_eV": fit["Ea_eV"] if fit else None, "sigma_S_cm": fit["sigma_S_cm"] if fit else None,
                "fit_problem": moving["fit_problem"]}

    def to_summary(self) -> dict:
        """The ``summary.json`` keys."""
        glassy = self.amorphous
        return {"study": "your-material", "formula": self.formula, "ion": self.ion,
                "lattice_A": [float(x) for x in self.structure.cell.cellpar()[:3]],
                "volume_A3_atom": float(self.structure.get_volume() / len(self.structure)),
                "phonons": self.stability.to_dict(),
                **self.transport_summary(self.transport),
                "sigma_temperature_K": self.settings.sigma_temperature_K,
                "hull": self.hull,
                "amorphous": None if glassy is None else {
                    **{k: glassy[k] for k in ("density_g_cm3", "crystal_density_g_cm3", "energy_above_crystal_eV_atom")},
                    "n_atoms": len(glassy["atoms"]), **self.transport_summary(glassy["transport"])}}


def run(source, ion: str, settings: MaterialSettings, potential, store: ResultsStore | None = None,
        competing: dict | None = None, seed: int = 0, progress: bool = True, with_amorphous: bool = False
        ) -> MaterialResult:
    """Every step on ``source`` (see :func:`load_structure`) with mobile ``ion``; the amorphous variant too when
    ``with_amorphous``."""
    atoms = relaxed(load_structure(source, ion, potential), potential, settings, store)
    stable = stability(atoms, potential, settings, store, progress)
    moving = transport(md_cell(atoms, settings.md_min_width_A), ion, potential, settings, seed, store, progress)
    on_hull = hull(atoms, potential, competing, settings, store) if competing else None
    glassy = amorphous(atoms, ion, potential, settings, seed, store, progress) if with_amorphous else None
    return MaterialResult(atoms.get_chemical_formula(), ion, settings, atoms, stable, moving, on_hull, glassy)


def ranked(rows: list[dict]) -> list[dict]:
    """Screen rows (:func:`toolkit.sweeps.material_card`) best first: dynamically stable before unstable, then by σ
    (S/cm, highest first; a material without an Arrhenius fit after those with one), and the refused files last."""
    def order(row: dict):
        if "error" in row:
            return (2, 0.0, row["file"])
        sigma = row["sigma_S_cm"][0] if row["sigma_S_cm"] else None
        return (0 if row["phonons"]["stable"] else 1, -sigma if sigma is not None else np.inf, row["file"])

    return sorted(rows, key=order)


def ranked_markdown(rows: list[dict]) -> str:
    """A Markdown table of :func:`ranked` rows: σ with its error, Ea, the stability verdict and its displacement
    check, or why a file was refused."""
    lines = ["| rank | file | formula | ion | dynamically stable | σ (S/cm) at T | Ea (eV) |", "|---|---|---|---|---|---|---|"]
    for k, row in enumerate(ranked(rows), start=1):
        if "error" in row:
            lines.append(f"| — | {row['file']} | refused: {row['error']} | | | | |")
            continue
        sigma, ea = row["sigma_S_cm"], row["Ea_eV"]
        stable = ("yes" if row["phonons"]["stable"] else "no") + ("" if row["phonons"]["displacement_check"]
                                                                 else " (noise: not the same at every displacement)")
        lines.append(f"| {k} | {row['file']} | {row['formula']} | {row['ion']} | {stable} | "
                     + (f"{sigma[0]:.2e} ± {sigma[1]:.1e} at {row['sigma_temperature_K']:g} K" if sigma
                        else f"no fit: {row['fit_problem']}") + " | "
                     + (f"{ea[0]:.2f} ± {ea[1]:.2f}" if ea else "—") + " |")
    return "\n".join(lines)
