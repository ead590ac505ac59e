"""DFT anchors of study 2: is the potential's oxyhalide glass as dense as DFT would make it, and how far off are its
forces on the study's own glasses and MD?

``python -m toolkit anchors oxyhalide-volcano`` computes, with GPAW (PBE), one file per point:

- ``frame-x<x>-relaxed``: the study's quick-mode glass of each x in :data:`GLASS_X` (made by the teacher, as the
  notebook makes it offline), and ``frame-x<x>-<T>K-<k>``: :data:`FRAMES_PER_RUN` frames of the study's MD of that
  glass at each temperature of :data:`FRAME_TEMPERATURES_K`. Each has its DFT energy, forces and stress
  (:func:`toolkit.dft.single_point`), so any potential's force error on them is a few calls away
  (:func:`toolkit.dft.frame_errors`);
- ``frame-x<x>-eos-<f>``: the relaxed glass of x = :data:`EOS_X` scaled homogeneously to ``f`` times its volume
  (fractional coordinates fixed), for each ``f`` of :data:`EOS_VOLUME_FACTORS`: DFT's equation of state of the
  potential's glass, whose minimum says which density DFT would give it (:func:`eos_against_dft`);
- ``convergence-<setting>-<value>``: the relaxed glass of x = :data:`EOS_X` at a higher cutoff and k-point density
  than :data:`SETTINGS`, to show what the settings converge.

The DFT energy's minimum is trusted at :data:`SETTINGS`' cutoff, its stress is not: for cubic BaSnO3 GPAW's stress
vanished 3 % below the energy minimum at 500 eV (see :data:`toolkit.dft.ANCHOR_SETTINGS`). Hence the density comes
from E(V), and the stress is compared at the converged cutoff only.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Callable

import numpy as np
from ase import Atoms
from ase.eos import EquationOfState
from ase.units import GPa

from toolkit.amorphous import mass_density_g_cm3
from toolkit.dft import ANCHOR_DIR, DFTSettings, frame_atoms, load_dft, single_point
from toolkit.md.runs import run_md
from toolkit.provenance import read_points
from toolkit.store import ResultsStore

STUDY = "oxyhalide-volcano"
#: PBE in plane waves at 500 eV, Γ-centred-or-not 2×2×2 k-points for the 8–12 Å glass cells (2 per Å⁻¹): a 24-atom
#: glass takes 3–4 minutes on one core. The energies and forces converge there (``convergence-*``), the stress not.
METHOD = "gpaw-pbe"
SETTINGS = DFTSettings(ecut_eV=500.0, kpoint_density_per_A=2.0)
#: The settings of the convergence points, one changed at a time.
CONVERGENCE = {"ecut_eV": (800.0,), "kpoint_density_per_A": (3.0,)}
#: Li2O per TaCl5 of the anchored glasses: the two sides of the quick volcano.
GLASS_X = (1.0, 2.0)
#: The MD temperatures (K) the frames are taken from: the quick run's.
FRAME_TEMPERATURES_K = (700.0, 1000.0)
#: Frames per MD run, evenly spaced over :data:`FRAME_MD_PS` (ps) after its start.
FRAMES_PER_RUN = 3
FRAME_MD_PS = 0.6
FRAME_SEED = 0
#: The glass whose equation of state is computed, and its volumes as fractions of the potential's relaxed volume.
EOS_X = 2.0
EOS_VOLUME_FACTORS = (0.7, 0.8, 0.9, 1.0, 1.1)


def md_frames(glass: Atoms, teacher, temperature_K: float, store: ResultsStore | None = None) -> list[Atoms]:
    """:data:`FRAMES_PER_RUN` frames of the study's MD (2 fs steps, seed :data:`FRAME_SEED`) of ``glass`` at
    ``temperature_K`` (K), the last at :data:`FRAME_MD_PS` (ps)."""
    n_steps = int(round(FRAME_MD_PS * 1000 / 2.0))
    every = n_steps // FRAMES_PER_RUN
    frames = run_md(glass, teacher, temperature_K, n_steps, timestep_fs=2.0, seed=FRAME_SEED, sample_every=every,
                    store=store, progress=False)
    return [Atoms(f.numbers, positions=f.positions, cell=f.cell, pbc=True) for f in frames[1:FRAMES_PER_RUN + 1]]


def scaled(atoms: Atoms, volume_factor: float) -> Atoms:
    """``atoms`` with its cell scaled homogeneously to ``volume_factor`` times its volume, fractional coordinates
    fixed."""
    out = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
    out.set_cell(atoms.cell.array * volume_factor ** (1 / 3), scale_atoms=True)
    return out


def configurations(glasses: dict[float, Atoms], teacher, store: ResultsStore | None = None) -> dict[str, Atoms]:
    """Every frame of the campaign by point name (without DFT labels): ``glasses`` (x -> the study's glass) and
    their MD with ``teacher``."""
    out = {}
    for x, glass in glasses.items():
        bare = Atoms(glass.numbers, positions=glass.positions, cell=glass.cell, pbc=True)
        out[f"frame-x{x:g}-relaxed"] = bare
        for temperature in FRAME_TEMPERATURES_K:
            for k, frame in enumerate(md_frames(bare, teacher, temperature, store)):
                out[f"frame-x{x:g}-{temperature:g}K-{k}"] = frame
        if x == EOS_X:
            out.update({f"frame-x{x:g}-eos-{f:g}": scaled(bare, f) for f in EOS_VOLUME_FACTORS if f != 1.0})
    return out


def load_points() -> dict[str, dict]:
    """Every shipped point of this campaign, by name."""
    return read_points(ANCHOR_DIR / STUDY)


def frame_names() -> list[str]:
    """The names of the campaign's frames, in the order :func:`configurations` builds them."""
    names = []
    for x in GLASS_X:
        names.append(f"frame-x{x:g}-relaxed")
        names += [f"frame-x{x:g}-{t:g}K-{k}" for t in FRAME_TEMPERATURES_K for k in range(FRAMES_PER_RUN)]
        if x == EOS_X:
            names += [f"frame-x{x:g}-eos-{f:g}" for f in EOS_VOLUME_FACTORS if f != 1.0]
    return names


def campaign(make_glasses: Callable, store: ResultsStore) -> dict[str, Callable[[], dict]]:
    """Point name -> a function computing it (:mod:`toolkit.anchors` runs it). ``make_glasses(teacher, store)``
    gives x -> the study's glass for each x of :data:`GLASS_X`; the glasses and their MD are made with CHGNet, the
    study's offline potential, only when a point needs them."""
    from toolkit.potentials import load_potential

    @cache
    def built() -> dict[str, Atoms]:
        teacher = load_potential("chgnet")
        return configurations(make_glasses(teacher, store), teacher, store)

    dft = cache(lambda: load_dft(METHOD, SETTINGS))
    points = {name: (lambda name=name: single_point(built()[name], dft())) for name in frame_names()}
    reference = f"frame-x{EOS_X:g}-relaxed"
    for setting, values in CONVERGENCE.items():
        points.update({f"convergence-{setting}-{value:g}": (lambda s=setting, v=value: {
            "setting": s, "value": v, "frame": reference,
            **single_point(built()[reference], load_dft(METHOD, replace(SETTINGS, **{s: v})))}) for value in values})
    return points


def eos_against_dft(potential, points: dict[str, dict]) -> dict | None:
    """The equation of state of the x = :data:`EOS_X` glass by DFT and by ``potential`` on the same frames (the
    potential's relaxed glass, scaled): each one's equilibrium volume (Å³), density (g/cm³) and bulk modulus (GPa)
    from a Birch–Murnaghan fit (ASE's), and the potential's relaxed density. None while a frame is missing."""
    names = [f"frame-x{EOS_X:g}-" + ("relaxed" if f == 1.0 else f"eos-{f:g}") for f in EOS_VOLUME_FACTORS]
    if any(name not in points for name in names):
        return None
    frames = [frame_atoms(points[name], name) for name in names]
    volumes = [a.get_volume() for a in frames]
    curves = {"dft": [a.info["dft_energy_eV"] for a in frames],
              "potential": [float(potential.get_potential_energy(a)) for a in frames]}
    reference = EOS_VOLUME_FACTORS.index(1.0)
    density = mass_density_g_cm3(frames[reference])
    density_times_volume = density * volumes[reference]  # the mass, in g/cm³ times Å³
    result = {"x": EOS_X, "n_atoms": len(frames[0]), "volumes_A3": volumes,
              "densities_g_cm3": [density_times_volume / v for v in volumes], "relaxed_density_g_cm3": density,
              "relaxed_pressure_GPa": float(-np.mean(potential.get_stress(frames[reference])[:3]) / GPa),
              "potential_name": potential.info.name}
    for label, energies in curves.items():
        v0, e0, b = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
        result[label] = {"energies_eV": [e - energies[reference] for e in energies], "v0_A3": float(v0),
                         "density_g_cm3": float(density_times_volume / v0), "bulk_modulus_GPa": float(b / GPa)}
    return result


def convergence_rows(points: dict[str, dict]) -> list[dict]:
    """What each ``convergence-*`` point changes on its frame against :data:`SETTINGS`: the energy (meV/atom), the
    largest force component (eV/Å) and the pressure (GPa, −trace(stress)/3); no rows while either is missing."""
    rows = []
    for name, point in sorted(points.items()):
        base = points.get(point.get("frame", ""))
        if not name.startswith("convergence-") or base is None:
            continue
        rows.append({"setting": point["setting"], "value": point["value"],
                     "energy_change_meV_atom": 1000 * (point["energy_eV"] - base["energy_eV"]) / point["n_atoms"],
                     "force_change_max_eV_A": float(np.abs(np.subtract(point["forces_eV_A"], base["forces_eV_A"])).max()),
                     "pressure_GPa": pressure_GPa(point), "pressure_at_default_GPa": pressure_GPa(base)})
    return rows


def pressure_GPa(point: dict) -> float:
    """The pressure (GPa) of a DFT record's stress: positive when the cell would expand."""
    return float(-np.mean(point["stress_eV_A3"][:3]) / GPa)


def force_rmse_by_group(rows: list[dict]) -> dict[str, float]:
    """The force RMSE (eV/Å) of :func:`toolkit.dft.frame_errors` over each group of frames: ``x<x>-relaxed``, ``x<x>-<T>K`` (the MD
    frames of one run) and ``x<x>-eos``."""
    groups: dict[str, list[float]] = {}
    for row in rows:
        parts = row["frame"].removeprefix("frame-").split("-")
        groups.setdefault("-".join(parts[:2]), []).append(row["force_rmse_eV_A"])
    return {group: float(np.sqrt(np.mean(np.square(values)))) for group, values in groups.items()}
