"""DFT anchors: the configurations that decide a study's claim, computed with GPAW, one file per point.

``python -m toolkit anchors liga-alloy`` computes every point of the study's campaign that is not on disk yet
and writes each, as it finishes, to ``toolkit/reference_data/dft/<study>/<point>.json``. A point records
what it computed and its provenance: the DFT method's hash and settings, each element's PAW setup hash, the
package versions, the wall time (s) and the command. A campaign stopped half-way resumes from the files
there, so committing them as they arrive keeps the work across sessions and machines.

Study 3's campaign (liga-alloy: LiGa's stability, defects and Li hops) is :mod:`toolkit.alloy_anchors`, study 2's
(oxyhalide-volcano: the density and forces of its glasses) :mod:`toolkit.glass_anchors`, and the points of study 1
that need the study's own student (its doped cells' soft mode and proton transfer) :mod:`toolkit.doped_anchors`.

The campaign for study 1 (proton-phonon) asks whether cubic BaSnO3 is stable against octahedral tilts:

- ``relaxed-BaSnO3``: the cubic lattice parameter, with the minimum of E(a) as a check on the stress;
- ``tilt-M``, ``tilt-R``: the energy (meV per formula unit) along the M (a0a0c+) and R (a0a0c-) tilt at the
  DFT lattice, in the smallest cell holding each (:func:`toolkit.perovskite.tilt_cell`), for the O
  displacements of :data:`TILT_AMPLITUDES_A`: a double well (energy below the cubic cell's) is an instability;
- ``tilt-M-convergence-<setting>-<value>``: the M-tilt energy at 0.2 Å for each cutoff and k-point density;
- ``frame-<name>``: configurations with their DFT energy, forces and stress, for a student fine-tuned on DFT
  (``python -m toolkit distill proton-phonon --anchor dft``): the cubic cell strained, the M and R tilt cells tilted
  (:data:`FRAME_TILTS_A`) and rattled (:data:`FRAME_RATTLE_A`), where the teacher's tilt double well meets DFT.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
from ase import Atoms

from toolkit import alloy_anchors, glass_anchors, perovskite
from toolkit.campaign import compute_in_order
from toolkit.dft import ANCHOR_DIR, ANCHOR_METHOD as METHOD, ANCHOR_SETTINGS as SETTINGS, CONVERGENCE, DFTSettings, \
    described, frame_atoms, load_dft, single_point
from toolkit.phonons import displaced, mode_energy_profile
from toolkit.provenance import package_versions, read_points
from toolkit.relax import relax
from toolkit.store import ResultsStore

log = logging.getLogger(__name__)

#: O displacements (Å) at which the tilt energy is computed.
TILT_AMPLITUDES_A = (0.05, 0.1, 0.15, 0.2, 0.3)


def tilt_profile_meV_fu(a: float, kind: str, potential, amplitudes_A=TILT_AMPLITUDES_A) -> list[float]:
    """Energy (meV per BaSnO3, relative to the cubic cell) along the tilt ``kind`` of cubic BaSnO3 with lattice
    ``a`` (Å), for each O displacement in ``amplitudes_A`` (Å): the same step for DFT and every potential."""
    cell, pattern = perovskite.tilt_cell(a, kind)
    return (1000 * mode_energy_profile(cell, pattern, amplitudes_A, potential) / (len(cell) / 5)).tolist()


def _relaxed_basno3(store: ResultsStore) -> dict:
    dft = load_dft(METHOD, SETTINGS)
    result = relax(perovskite.basno3(), dft, fmax_eV_A=0.005, max_steps=60, relax_cell=True, store=store)
    info = result.info["relax"]
    lattice = float(result.get_volume() ** (1 / 3))  # the 5-atom cubic cell
    # the energy's own minimum (a parabola through a ± 1 %), a check on the stress the relaxation followed
    scan = [lattice * (1 + s) for s in (-0.01, 0.0, 0.01)]
    energies = []
    for a in scan:
        cell = perovskite.basno3(a)
        cell.calc = dft
        energies.append(cell.get_potential_energy())
    curve = np.polyfit(scan, energies, 2)
    return {"lattice_A": lattice, "energy_minimum_lattice_A": float(-curve[1] / (2 * curve[0])),
            "energy_eV_fu": info["energy_eV"], "converged": info["converged"], "steps": info["steps"],
            "fmax_eV_A": info["fmax_eV_A"], "experimental_lattice_A": perovskite.BASNO3_A_EXP,
            **described(dft, result)}


def _tilt(kind: str, root: Path, settings: DFTSettings = SETTINGS, amplitudes_A=TILT_AMPLITUDES_A) -> dict:
    lattice = json.loads(point_path("proton-phonon", "relaxed-BaSnO3", root).read_text())["lattice_A"]
    dft = load_dft(METHOD, settings)
    cell, _ = perovskite.tilt_cell(lattice, kind)
    return {"kind": kind, "glazer": {"M": "a0a0c+", "R": "a0a0c-"}[kind], "lattice_A": lattice,
            "n_atoms": len(cell), "amplitudes_A": list(amplitudes_A),
            "energy_meV_fu": tilt_profile_meV_fu(lattice, kind, dft, amplitudes_A),
            "pattern": "toolkit.perovskite.tilt_cell (rigid rotation of the SnO6 octahedra about z, O displacement)",
            **described(dft, cell)}


#: The training frames of study 1 (:func:`frames`): cubic strains (fraction of a), tilt amplitudes (Å of O
#: displacement) per tilt cell, and the rattle (Å, standard deviation) of :data:`FRAME_RATTLE_SEEDS` rattled copies
#: of each tilt cell. The rattled cells carry the force constants at DFT level: the 20-atom R cell is commensurate
#: with the Γ, X, M and R points of the student's 2x2x2 phonons. A rattled 20-atom cell has no symmetry left and
#: took 20 minutes on one core, hence one of them.
FRAME_STRAINS = (-0.02, 0.0, 0.02)
FRAME_TILTS_A = {"M": (0.05, 0.1, 0.2, 0.3), "R": (0.05, 0.1, 0.2)}
FRAME_RATTLE_A = 0.03
FRAME_RATTLE_SEEDS = {"M": (0, 1), "R": (0,)}


def _proton_frames(lattice_A: float) -> dict[str, Atoms]:
    """Study 1's training frames by point name, built at the DFT lattice ``lattice_A`` (Å)."""
    frames = {f"frame-cubic-strain{s:+g}": perovskite.basno3(lattice_A * (1 + s)) for s in FRAME_STRAINS}
    for kind, amplitudes in FRAME_TILTS_A.items():
        cell, pattern = perovskite.tilt_cell(lattice_A, kind)
        frames.update({f"frame-tilt-{kind}-{q:g}": displaced(cell, pattern, q) for q in amplitudes})
        for seed in FRAME_RATTLE_SEEDS[kind]:
            rattled = cell.copy()
            rattled.positions += np.random.default_rng(seed).normal(0.0, FRAME_RATTLE_A, rattled.positions.shape)
            frames[f"frame-rattled-{kind}-{seed}"] = rattled
    return frames


def frames(study: str, root: Path = ANCHOR_DIR) -> list[Atoms]:
    """Every ``frame-*`` point of ``study`` on disk, as :func:`frame_atoms`."""
    return [frame_atoms(point, name) for name, point in load_points(study, root).items() if name.startswith("frame-")]


def _quick_glasses(teacher, store: ResultsStore | None) -> dict[float, Atoms]:
    """x -> study 2's quick-mode glass (seed 0) of each x of :data:`toolkit.glass_anchors.GLASS_X`, made with
    ``teacher`` by the study's own step, as the notebook makes it offline."""
    from toolkit.studies import oxyhalide_volcano as ov

    settings = ov.VolcanoSettings.quick(seed=glass_anchors.FRAME_SEED)
    return {x: ov.glass(x, glass_anchors.FRAME_SEED, settings, teacher, store, progress=False)
            for x in glass_anchors.GLASS_X}


def _proton_campaign(store: ResultsStore, root: Path) -> dict[str, Callable[[], dict]]:
    points = {"relaxed-BaSnO3": lambda: _relaxed_basno3(store),
              "tilt-M": lambda: _tilt("M", root), "tilt-R": lambda: _tilt("R", root)}
    for setting, values in CONVERGENCE.items():
        points.update({f"tilt-M-convergence-{setting}-{value:g}":
                       (lambda s=setting, v=value: _tilt("M", root, replace(SETTINGS, **{s: v}), (0.2,)))
                       for value in values})
    relaxed = point_path("proton-phonon", "relaxed-BaSnO3", root)
    if relaxed.is_file():  # the frames are built at the DFT lattice
        lattice = json.loads(relaxed.read_text())["lattice_A"]
        points.update({name: (lambda atoms=atoms: single_point(atoms, load_dft(METHOD, SETTINGS))) for name, atoms in _proton_frames(lattice).items()})
    return points


#: Each study's campaign: (store, root) -> point name -> a function computing it, in the order they run.
CAMPAIGNS = {"liga-alloy": alloy_anchors.campaign, "proton-phonon": _proton_campaign,
             "oxyhalide-volcano": lambda store, root: glass_anchors.campaign(_quick_glasses, store)}


def campaign(study: str, store: ResultsStore, root: Path = ANCHOR_DIR) -> dict[str, Callable[[], dict]]:
    """Point name -> a function computing it, in the order the campaign runs them."""
    if study not in CAMPAIGNS:
        raise ValueError(f"no DFT anchor campaign for {study!r} yet; there are: {', '.join(CAMPAIGNS)}")
    return CAMPAIGNS[study](store, root)


def point_path(study: str, point: str, root: Path = ANCHOR_DIR) -> Path:
    return root / study / f"{point}.json"


def run_campaign(study: str, root: Path = ANCHOR_DIR, store: ResultsStore | None = None,
                 only: list[str] | None = None, on_point: Callable[[Path], None] | None = None,
                 extra: dict[str, Callable[[], dict]] | None = None) -> list[Path]:
    """Compute every point of ``study``'s campaign and of ``extra`` (points a caller adds: study 1's
    :mod:`toolkit.doped_anchors`) or those named in ``only``, that ``root`` lacks, in order, each written as soon as
    it is done (then ``on_point(path)``: to commit it, say); returns the paths written now."""
    points = {**campaign(study, store if store is not None else ResultsStore(), root), **(extra or {})}
    unknown = sorted(set(only or ()) - set(points))
    if unknown:
        raise ValueError(f"unknown points {unknown}; {study} has {', '.join(points)}")
    chosen = {name: partial(_with_provenance, study, compute) for name, compute in points.items()
              if not only or name in only}
    return compute_in_order(root / study, chosen, f"anchors {study}", on_point=on_point)


def _with_provenance(study: str, compute: Callable[[], dict]) -> dict:
    started = time.time()
    record = compute()
    record["provenance"] = {"versions": package_versions(), "wall_time_s": round(time.time() - started, 1),
                            "command": f"python -m toolkit anchors {study}",
                            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    return record


def load_points(study: str, root: Path = ANCHOR_DIR) -> dict[str, dict]:
    """Every anchor point of ``study`` on disk, by name."""
    return read_points(root / study)


def host_tilts_against_dft(a_A: float, potential, points: dict[str, dict]) -> dict[str, dict]:
    """Study 1's decisive host test, potential beside DFT: the energy (meV per BaSnO3) along the M and R tilts,
    each at its own relaxed lattice (``a_A``, Å, for the potential), at the O displacements of the DFT
    anchor (or :data:`TILT_AMPLITUDES_A` where none ships). A minimum below zero is a double well: the cubic
    host is unstable to that tilt. ``dft_meV_fu`` is None where the anchor is not computed yet."""
    result = {}
    for kind in ("M", "R"):
        dft = points.get(f"tilt-{kind}")
        amplitudes = dft["amplitudes_A"] if dft else list(TILT_AMPLITUDES_A)
        mine = tilt_profile_meV_fu(a_A, kind, potential, amplitudes)
        result[kind] = {"amplitudes_A": amplitudes, "potential_meV_fu": mine, "potential_lattice_A": a_A,
                        "potential_double_well_meV_fu": max(0.0, -min(mine)),
                        "dft_meV_fu": dft["energy_meV_fu"] if dft else None,
                        "dft_lattice_A": dft["lattice_A"] if dft else None,
                        "dft_double_well_meV_fu": max(0.0, -min(dft["energy_meV_fu"])) if dft else None}
    return result
