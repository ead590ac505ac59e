"""DFT anchors: the configurations that decide a study's claim, computed with GPAW, one file per point.

``python -m toolkit anchors liga-alloy`` computes every point of the study's campaign that is not on disk yet
and writes each, as it finishes, to ``toolkit/reference_data/dft/<study>/<point>.json``. A point records
what it computed and its provenance: the DFT method's hash and settings, each element's PAW setup hash, the
package versions, the wall time (s) and the command. A campaign stopped half-way resumes from the files
there, so committing them as they arrive keeps the work across sessions and machines.

The campaign for study 3 (LiGa) has:

- ``relaxed-<phase>``: bcc Li, α-Ga and B32 LiGa relaxed (cell and positions, forces below 0.01 eV/Å)
  with :func:`toolkit.relax.relax`, the step the notebook runs with a potential;
- ``convergence-<setting>-<value>``: the LiGa formation energy (eV/atom) at the experimental geometries
  for each plane-wave cutoff and k-point density of :data:`CONVERGENCE`, the other setting at its default;
- the formation energy of relaxed LiGa comes from the ``relaxed-*`` points (:func:`liga_formation_energy`);
- ``vacancy-bcc-Li``: the vacancy formation energy (eV) of bcc Li in a 16-site cell at the DFT lattice, positions
  relaxed: it sets Li metal's equilibrium vacancy fraction, and so its self-diffusion, exponentially;
- ``hop-LiGa-images``: single points on images of the student's Li-vacancy hop in the 32-atom B32 cell (the
  quick-mode path of :func:`toolkit.studies.liga_alloy.vacancy_hop`): does DFT, too, put the Li halfway between two
  sites (a split vacancy) at or below the on-site vacancy? :func:`li_vacancy_rows` and :func:`hop_image_rows` set
  any potential beside them.

Study 2's campaign (oxyhalide-volcano: the density and forces of its glasses) is :mod:`toolkit.glass_anchors`.

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

from toolkit import defects, glass_anchors, liga, perovskite
from toolkit.campaign import compute_in_order
from toolkit.dft import ANCHOR_DIR, DFTSettings, described, frame_atoms, load_dft, single_point
from toolkit.phonons import displaced, mode_energy_profile
from toolkit.provenance import package_versions, read_points
from toolkit.relax import relax
from toolkit.store import ResultsStore

log = logging.getLogger(__name__)

#: The DFT method and settings of every anchor (PBE, plane waves at 800 eV, 3 k-points per Å⁻¹,
#: Fermi-Dirac 0.05 eV); :data:`CONVERGENCE` shows what they converge. The cutoff is set by the stress, which
#: the cell relaxations follow: for cubic BaSnO3 at 500 eV GPAW's stress vanished at a = 4.04 Å while the
#: energy's minimum was at 4.175 Å (4.174 Å at 800 eV, where the stress vanishes at about 4.18 Å).
METHOD = "gpaw-pbe"
SETTINGS = DFTSettings(ecut_eV=800.0)
#: Settings scanned for the convergence test, one at a time.
CONVERGENCE = {"ecut_eV": (600.0, 800.0, 1000.0), "kpoint_density_per_A": (2.0, 3.0, 4.5)}
#: The LiGa phases: name in the files -> (builder, name in :data:`toolkit.liga.PHASES`).
LIGA_PHASES = {"bcc-Li": (liga.bcc_li, "Li (bcc)"), "alpha-Ga": (liga.alpha_ga, "Ga (alpha)"),
               "B32-LiGa": (lambda: liga.liga_b32(primitive=True), "LiGa (B32)")}


def formation_energy_eV_atom(e_liga_atom: float, e_li_atom: float, e_ga_atom: float) -> float:
    """Formation energy of LiGa (eV/atom) from the energies per atom of LiGa, Li and Ga."""
    return e_liga_atom - (e_li_atom + e_ga_atom) / 2


def _relaxed(phase: str, store: ResultsStore) -> dict:
    build, label = LIGA_PHASES[phase]
    dft = load_dft(METHOD, SETTINGS)
    start = build()
    result = relax(start, dft, fmax_eV_A=0.01, max_steps=80, relax_cell=True, store=store)
    info = result.info["relax"]
    return {"phase": label, "n_atoms": len(result), "energy_eV_atom": info["energy_eV"] / len(result),
            "cell_lengths_A": result.cell.lengths().tolist(), "cell_angles_deg": result.cell.angles().tolist(),
            "volume_A3_atom": result.get_volume() / len(result), "converged": info["converged"],
            "steps": info["steps"], "fmax_eV_A": info["fmax_eV_A"],
            "experimental_lattice_A": liga.EXPERIMENTAL_LATTICE_A[label],
            "positions_A": result.positions.tolist(), "cell_A": result.cell.array.tolist(),
            "symbols": result.get_chemical_symbols(), **described(dft, result)}


def _convergence(setting: str, value: float) -> dict:
    settings = replace(SETTINGS, **{setting: value})
    dft = load_dft(METHOD, settings)
    energies = {}
    for phase, (build, _) in LIGA_PHASES.items():
        atoms = build()
        atoms.calc = dft
        energies[phase] = atoms.get_potential_energy() / len(atoms)
    return {"setting": setting, "value": value, "energy_eV_atom": energies,
            "formation_eV_atom": formation_energy_eV_atom(energies["B32-LiGa"], energies["bcc-Li"],
                                                          energies["alpha-Ga"]),
            "geometry": "experimental lattice parameters (toolkit.liga)", **described(dft)}


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


LI_VACANCY_CELL = 2  # n x n x n conventional cells: the bcc Li cell of the vacancy anchor
#: The images of the student's 7-image quick-mode hop (ends included) that get DFT single points: the start, a
#: quarter and the middle (the path is symmetric about it).
HOP_IMAGES = (0, 2, 3)


def li_vacancy_cells(lattice_A: float) -> tuple[Atoms, Atoms]:
    """Perfect bcc Li (:data:`LI_VACANCY_CELL` cubed conventional cells) at ``lattice_A`` (Å) and the same with its
    first atom removed: the cells of ``vacancy-bcc-Li``, for DFT and for any potential alike."""
    perfect = liga.bcc_li(lattice_A).repeat(LI_VACANCY_CELL)
    return perfect, defects.vacancies(perfect, "Li", 1)[0]


def li_vacancy_formation_eV(potential, lattice_A: float, store: ResultsStore | None = None) -> dict:
    """The vacancy formation energy (eV) of bcc Li at ``lattice_A`` with ``potential``: E(N−1, positions relaxed)
    − (N−1)/N E(N) in the cells of :func:`li_vacancy_cells`."""
    perfect, vacancy = li_vacancy_cells(lattice_A)
    relaxed = relax(vacancy, potential, fmax_eV_A=0.02, max_steps=40, relax_cell=False, store=store)
    perfect.calc = potential
    e_perfect = float(perfect.get_potential_energy())
    e_vacancy = relaxed.info["relax"]["energy_eV"]
    return {"vacancy_formation_eV": e_vacancy - (len(perfect) - 1) / len(perfect) * e_perfect,
            "energy_perfect_eV": e_perfect, "energy_vacancy_eV": e_vacancy, "n_sites": len(perfect),
            "converged": relaxed.info["relax"]["converged"], "relaxed": relaxed}


def _vacancy_bcc_li(store: ResultsStore, root: Path) -> dict:
    lattice = liga_lattice_A(json.loads(point_path("liga-alloy", "relaxed-bcc-Li", root).read_text()))
    dft = load_dft(METHOD, SETTINGS)
    result = li_vacancy_formation_eV(dft, lattice, store)
    relaxed = result.pop("relaxed")
    return {"lattice_A": lattice, **result, "positions_A": relaxed.positions.tolist(), **described(dft, relaxed)}


def _hop_images(store: ResultsStore) -> dict:
    from toolkit.potentials import load_potential
    from toolkit.studies import liga_alloy as ls

    student = load_potential("student:liga-alloy")
    settings = ls.LigaSettings.quick()
    relaxed = ls.phases(student, settings.relax_fmax_eV_A / 2, store, progress=False)
    hop = ls.vacancy_hop(ls.supercells(relaxed, settings, student, store)["LiGa (B32)"], student, settings, store)
    dft = load_dft(METHOD, SETTINGS)
    frames = [hop.band.images[i].copy() for i in HOP_IMAGES]
    energies = [float(dft.get_potential_energy(frame)) for frame in frames]
    return {"images": list(HOP_IMAGES), "path_A": [float(hop.band.path_A[i]) for i in HOP_IMAGES],
            "path_potential": student.info.as_dict(), "path_settings": settings.to_dict(),
            "path_energies_eV": [float(hop.band.energies_eV[i]) for i in HOP_IMAGES],
            "dft_energies_eV": [e - energies[0] for e in energies], "symbols": frames[0].get_chemical_symbols(),
            "cell_A": frames[0].cell.array.tolist(), "positions_A": [f.positions.tolist() for f in frames],
            **described(dft, frames[0])}


def _liga_campaign(store: ResultsStore, root: Path) -> dict[str, Callable[[], dict]]:
    points = {f"relaxed-{phase}": (lambda phase=phase: _relaxed(phase, store)) for phase in LIGA_PHASES}
    for setting, values in CONVERGENCE.items():
        points.update({f"convergence-{setting}-{value:g}": (lambda s=setting, v=value: _convergence(s, v))
                       for value in values})
    points["vacancy-bcc-Li"] = lambda: _vacancy_bcc_li(store, root)
    points["hop-LiGa-images"] = lambda: _hop_images(store)
    return points


def li_vacancy_rows(potential, points: dict[str, dict], store: ResultsStore | None = None) -> list[dict]:
    """``potential`` against ``vacancy-bcc-Li`` (rows: quantity, potential, dft, difference): the vacancy formation
    energy of bcc Li (eV) in the anchor's cell and lattice; no row while the anchor is not computed."""
    point = points.get("vacancy-bcc-Li")
    if point is None:
        return []
    mine = li_vacancy_formation_eV(potential, point["lattice_A"], store)["vacancy_formation_eV"]
    return [{"quantity": "vacancy formation energy in bcc Li (eV)", "potential": mine, "dft": point["vacancy_formation_eV"],
             "difference": mine - point["vacancy_formation_eV"], "potential_name": potential.info.name}]


def hop_image_rows(potential, points: dict[str, dict]) -> list[dict]:
    """``potential`` against ``hop-LiGa-images``: the energy (eV) of each image of the LiGa vacancy hop after the
    first, relative to the first, on the anchor's frames; no rows while the anchor is not computed."""
    point = points.get("hop-LiGa-images")
    if point is None:
        return []
    energies = [float(potential.get_potential_energy(Atoms(point["symbols"], positions=positions,
                                                           cell=point["cell_A"], pbc=True)))
                for positions in point["positions_A"]]
    return [{"quantity": f"LiGa vacancy hop, image {image} − start (eV)", "potential": e - energies[0], "dft": dft,
             "difference": e - energies[0] - dft}
            for image, e, dft in list(zip(point["images"], energies, point["dft_energies_eV"]))[1:]]


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
CAMPAIGNS = {"liga-alloy": _liga_campaign, "proton-phonon": _proton_campaign,
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


def liga_formation_energy(points: dict[str, dict]) -> float | None:
    """LiGa's formation energy (eV/atom) from the relaxed phases, or None while one is missing."""
    try:
        e = {phase: points[f"relaxed-{phase}"]["energy_eV_atom"] for phase in LIGA_PHASES}
    except KeyError:
        return None
    return formation_energy_eV_atom(e["B32-LiGa"], e["bcc-Li"], e["alpha-Ga"])


def liga_lattice_A(point: dict) -> float:
    """The lattice parameter (Å) a ``relaxed-*`` point gives, as :data:`toolkit.liga.EXPERIMENTAL_LATTICE_A`
    states it: the conventional cubic a of B32 LiGa (16 atoms) and bcc Li, and a of α-Ga."""
    if point["phase"] == "LiGa (B32)":
        return (point["volume_A3_atom"] * 16) ** (1 / 3)
    return point["cell_lengths_A"][0]


def liga_dft_rows(lattice_A: dict[str, float], formation_eV_atom: float, points: dict[str, dict]) -> list[dict]:
    """The potential against the DFT anchors on what decides study 3's stability: each phase's lattice
    parameter (Å) and LiGa's formation energy (eV/atom). ``lattice_A`` maps phase labels (as in
    :data:`toolkit.liga.PHASES`) to the potential's values. Rows: quantity, potential, dft, difference;
    rows whose anchor is not computed yet are left out."""
    rows = []
    for phase, (_, label) in LIGA_PHASES.items():
        point = points.get(f"relaxed-{phase}")
        if point is not None and label in lattice_A:
            dft = liga_lattice_A(point)
            rows.append({"quantity": f"a of {label} (Å)", "potential": lattice_A[label], "dft": dft,
                         "difference": lattice_A[label] - dft})
    dft = liga_formation_energy(points)
    if dft is not None:
        rows.append({"quantity": "formation energy of LiGa (eV/atom)", "potential": formation_eV_atom, "dft": dft,
                     "difference": formation_eV_atom - dft})
    return rows


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
