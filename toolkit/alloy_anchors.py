"""Study 3's DFT anchors (liga-alloy): is the potential right where LiGa's stability and Li transport are decided?

The campaign (``python -m toolkit anchors liga-alloy``, run by :mod:`toolkit.anchors`) has:

- ``relaxed-<phase>``: bcc Li, α-Ga and B32 LiGa relaxed (cell and positions, forces below 0.01 eV/Å)
  with :func:`toolkit.relax.relax`, the step the notebook runs with a potential;
- ``convergence-<setting>-<value>``: the LiGa formation energy (eV/atom) at the experimental geometries
  for each plane-wave cutoff and k-point density of :data:`toolkit.dft.CONVERGENCE`, the other setting at its default;
- the formation energy of relaxed LiGa comes from the ``relaxed-*`` points (:func:`liga_formation_energy`);
- ``vacancy-bcc-Li``: the vacancy formation energy (eV) of bcc Li in a 16-site cell at the DFT lattice, positions
  relaxed: it sets Li metal's equilibrium vacancy fraction, and so its self-diffusion, exponentially;
- ``frame-B32-<defect>``: the 16-atom conventional B32 cell at the DFT lattice, perfect, with a Li vacancy and with
  Ga on a Li site (the defects that take LiGa off stoichiometry on the Li-poor side), positions relaxed by the study's
  student; DFT single points on them give the defects' formation energies (:func:`b32_defect_rows`), and their forces
  show how far each frame is from DFT's own relaxed one;
- ``hop-<host>-images``: single points on images of the student's Li-vacancy hop (the path of
  :func:`toolkit.studies.liga_alloy.vacancy_hop`) in the 32-atom B32 cell and in the 16-site bcc Li cell of
  ``vacancy-bcc-Li``: does DFT, too, put the Li halfway between two sites of LiGa (a split vacancy) at or below the
  on-site vacancy, and how high is Li metal's hop? :func:`li_vacancy_rows` and :func:`hop_image_rows` set any
  potential beside them.

The defect and hop frames are the student's, not relaxed by DFT: a like-for-like comparison of energies on the same
configurations, which is what a potential's error is; DFT's own minimum lies lower by about its residual forces.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
from ase import Atoms

from toolkit import defects, liga
from toolkit.dft import ANCHOR_METHOD, ANCHOR_SETTINGS, CONVERGENCE, described, frame_atoms, load_dft, single_point
from toolkit.relax import relax
from toolkit.store import ResultsStore
from toolkit.thermodynamics import defect_formation_energies

STUDY = "liga-alloy"
#: The LiGa phases: name in the files -> (builder, name in :data:`toolkit.liga.PHASES`).
LIGA_PHASES = {"bcc-Li": (liga.bcc_li, "Li (bcc)"), "alpha-Ga": (liga.alpha_ga, "Ga (alpha)"),
               "B32-LiGa": (lambda: liga.liga_b32(primitive=True), "LiGa (B32)")}
LI_VACANCY_CELL = 2  # n x n x n conventional cells: the bcc Li cell of the vacancy anchor
#: The images of the student's 7-image hop (ends included) that get DFT single points: the start, a quarter and the
#: middle (the path is symmetric about it).
HOP_IMAGES = (0, 2, 3)
#: Hop anchor name -> the host's label in :func:`hop_image_rows`.
HOPS = {"hop-LiGa-images": "LiGa", "hop-bcc-Li-images": "bcc Li"}
#: The B32 defects of the ``frame-B32-*`` anchors (names of :data:`toolkit.studies.liga_alloy.B32_DEFECTS`).
B32_ANCHOR_DEFECTS = ("V_Li", "Ga_Li")


def formation_energy_eV_atom(e_liga_atom: float, e_li_atom: float, e_ga_atom: float) -> float:
    """Formation energy of LiGa (eV/atom) from the energies per atom of LiGa, Li and Ga."""
    return e_liga_atom - (e_li_atom + e_ga_atom) / 2


def _relaxed(phase: str, store: ResultsStore) -> dict:
    build, label = LIGA_PHASES[phase]
    dft = load_dft(ANCHOR_METHOD, ANCHOR_SETTINGS)
    result = relax(build(), dft, fmax_eV_A=0.01, max_steps=80, relax_cell=True, store=store)
    info = result.info["relax"]
    return {"phase": label, "n_atoms": len(result), "energy_eV_atom": info["energy_eV"] / len(result),
            "cell_lengths_A": result.cell.lengths().tolist(), "cell_angles_deg": result.cell.angles().tolist(),
            "volume_A3_atom": result.get_volume() / len(result), "converged": info["converged"],
            "steps": info["steps"], "fmax_eV_A": info["fmax_eV_A"],
            "experimental_lattice_A": liga.EXPERIMENTAL_LATTICE_A[label],
            "positions_A": result.positions.tolist(), "cell_A": result.cell.array.tolist(),
            "symbols": result.get_chemical_symbols(), **described(dft, result)}


def _convergence(setting: str, value: float) -> dict:
    dft = load_dft(ANCHOR_METHOD, replace(ANCHOR_SETTINGS, **{setting: value}))
    energies = {}
    for phase, (build, _) in LIGA_PHASES.items():
        atoms = build()
        atoms.calc = dft
        energies[phase] = atoms.get_potential_energy() / len(atoms)
    return {"setting": setting, "value": value, "energy_eV_atom": energies,
            "formation_eV_atom": formation_energy_eV_atom(energies["B32-LiGa"], energies["bcc-Li"],
                                                          energies["alpha-Ga"]),
            "geometry": "experimental lattice parameters (toolkit.liga)", **described(dft)}


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


def _dft_lattice_A(phase: str, root: Path) -> float:
    return liga_lattice_A(json.loads((root / STUDY / f"relaxed-{phase}.json").read_text()))


def _vacancy_bcc_li(store: ResultsStore, root: Path) -> dict:
    lattice = _dft_lattice_A("bcc-Li", root)
    dft = load_dft(ANCHOR_METHOD, ANCHOR_SETTINGS)
    result = li_vacancy_formation_eV(dft, lattice, store)
    relaxed = result.pop("relaxed")
    return {"lattice_A": lattice, **result, "positions_A": relaxed.positions.tolist(), **described(dft, relaxed)}


def b32_defect_frames(lattice_A: float, potential, store: ResultsStore | None = None) -> dict[str, Atoms]:
    """``"perfect"`` and each of :data:`B32_ANCHOR_DEFECTS` in the 16-atom conventional B32 cell at ``lattice_A``
    (Å), made by the study's own defect builders and relaxed in the fixed cell by ``potential`` to 0.01 eV/Å."""
    from toolkit.studies.liga_alloy import B32_DEFECTS

    perfect = liga.liga_b32(lattice_A)
    cells = {"perfect": perfect, **{kind: B32_DEFECTS[kind](perfect, 1) for kind in B32_ANCHOR_DEFECTS}}
    return {name: relax(cell, potential, fmax_eV_A=0.01, relax_cell=False, store=store) if name != "perfect"
            else cell for name, cell in cells.items()}


def _student():
    from toolkit.potentials import load_potential

    return load_potential("student:liga-alloy")


def _hop_images(host: Callable[[object, ResultsStore], Atoms], store: ResultsStore, **settings) -> dict:
    """DFT single points on :data:`HOP_IMAGES` of the student's vacancy hop in ``host(student, store)``, the path made
    by the study's quick settings changed by ``settings``."""
    from toolkit.studies import liga_alloy as ls

    student = _student()
    path_settings = ls.LigaSettings.quick(**settings)
    hop = ls.vacancy_hop(host(student, store), student, path_settings, store)
    dft = load_dft(ANCHOR_METHOD, ANCHOR_SETTINGS)
    frames = [hop.band.images[i].copy() for i in HOP_IMAGES]
    energies = [float(dft.get_potential_energy(frame)) for frame in frames]
    return {"images": list(HOP_IMAGES), "path_A": [float(hop.band.path_A[i]) for i in HOP_IMAGES],
            "path_potential": student.info.as_dict(), "path_settings": path_settings.to_dict(),
            "path_energies_eV": [float(hop.band.energies_eV[i]) for i in HOP_IMAGES],
            "dft_energies_eV": [e - energies[0] for e in energies], "symbols": frames[0].get_chemical_symbols(),
            "cell_A": frames[0].cell.array.tolist(), "positions_A": [f.positions.tolist() for f in frames],
            **described(dft, frames[0])}


def _liga_host(student, store: ResultsStore) -> Atoms:
    """The quick-mode B32 supercell (32 atoms) in the student's own lattice, as the notebook builds it."""
    from toolkit.studies import liga_alloy as ls

    settings = ls.LigaSettings.quick()
    relaxed = ls.phases(student, settings.relax_fmax_eV_A / 2, store, progress=False)
    return ls.supercells(relaxed, settings, student, store)["LiGa (B32)"]


def campaign(store: ResultsStore, root: Path) -> dict[str, Callable[[], dict]]:
    """Point name -> a function computing it, in the order the campaign runs them. Points built at the DFT lattice
    join once the ``relaxed-*`` point they need is on disk."""
    points = {f"relaxed-{phase}": (lambda phase=phase: _relaxed(phase, store)) for phase in LIGA_PHASES}
    for setting, values in CONVERGENCE.items():
        points.update({f"convergence-{setting}-{value:g}": (lambda s=setting, v=value: _convergence(s, v))
                       for value in values})
    points["hop-LiGa-images"] = lambda: _hop_images(_liga_host, store)
    if (root / STUDY / "relaxed-bcc-Li.json").is_file():
        points["vacancy-bcc-Li"] = lambda: _vacancy_bcc_li(store, root)
        perfect_li = liga.bcc_li(_dft_lattice_A("bcc-Li", root)).repeat(LI_VACANCY_CELL)
        points["hop-bcc-Li-images"] = lambda: _hop_images(lambda student, store: perfect_li, store,
                                                          neb_fmax_eV_A=0.01)
    if (root / STUDY / "relaxed-B32-LiGa.json").is_file():
        lattice = _dft_lattice_A("B32-LiGa", root)

        def defect_frame(name: str) -> dict:  # the student relaxes the frames when a point runs, not before
            frame = b32_defect_frames(lattice, _student(), store)[name]
            return single_point(frame, load_dft(ANCHOR_METHOD, ANCHOR_SETTINGS))

        points.update({f"frame-B32-{name}": (lambda name=name: defect_frame(name))
                       for name in ("perfect", *B32_ANCHOR_DEFECTS)})
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
    """``potential`` against each computed anchor of :data:`HOPS`: the energy (eV) of each image of the vacancy hop
    after the first, relative to the first, on the anchor's frames."""
    rows = []
    for name, host in HOPS.items():
        point = points.get(name)
        if point is None:
            continue
        energies = [float(potential.get_potential_energy(Atoms(point["symbols"], positions=positions,
                                                               cell=point["cell_A"], pbc=True)))
                    for positions in point["positions_A"]]
        rows += [{"quantity": f"{host} vacancy hop, image {image} − start (eV)", "potential": e - energies[0],
                  "dft": dft, "difference": e - energies[0] - dft}
                 for image, e, dft in list(zip(point["images"], energies, point["dft_energies_eV"]))[1:]]
    return rows


def _relaxed_atoms(point: dict) -> Atoms:
    return Atoms(point["symbols"], positions=point["positions_A"], cell=point["cell_A"], pbc=True)


def b32_defect_formation_eV(perfect_eV: float, defect_eV: dict[str, float], e_li_atom: float,
                            e_liga_fu: float) -> dict[str, float]:
    """Formation energies (eV) of B32 defects at the Li-rich end (LiGa with Li metal: μ_Li = E(Li), μ_Ga =
    E(LiGa) − μ_Li), as :func:`toolkit.studies.liga_alloy.solid_solution` gives them, from energies in eV."""
    return defect_formation_energies(perfect_eV, defect_eV, e_li_atom, e_liga_fu - e_li_atom)


def b32_defect_rows(potential, points: dict[str, dict]) -> list[dict]:
    """``potential`` against the ``frame-B32-*`` anchors: each ``defect``'s formation energy (eV, Li-rich end) with both
    methods on the same frames and the chemical potentials from the ``relaxed-*`` frames; ``dft_fmax_eV_A`` is DFT's
    largest force on the defect frame. No rows until the frames and relaxed phases are computed."""
    names = ["frame-B32-perfect", *(f"frame-B32-{kind}" for kind in B32_ANCHOR_DEFECTS), "relaxed-bcc-Li",
             "relaxed-B32-LiGa"]
    if any(name not in points for name in names):
        return []
    frames = {kind: frame_atoms(points[f"frame-B32-{kind}"], kind) for kind in ("perfect", *B32_ANCHOR_DEFECTS)}
    li, b32 = (_relaxed_atoms(points[name]) for name in ("relaxed-bcc-Li", "relaxed-B32-LiGa"))
    energy = {name: float(potential.get_potential_energy(atoms)) for name, atoms in frames.items()}
    mine = b32_defect_formation_eV(energy["perfect"], {k: energy[k] for k in B32_ANCHOR_DEFECTS},
                                   float(potential.get_potential_energy(li)) / len(li),
                                   float(potential.get_potential_energy(b32)) / (len(b32) / 2))
    dft_energy = {name: atoms.info["dft_energy_eV"] for name, atoms in frames.items()}
    dft = b32_defect_formation_eV(dft_energy["perfect"], {k: dft_energy[k] for k in B32_ANCHOR_DEFECTS},
                                  points["relaxed-bcc-Li"]["energy_eV_atom"],
                                  2 * points["relaxed-B32-LiGa"]["energy_eV_atom"])
    return [{"quantity": f"{kind} formation energy in LiGa, Li-rich (eV)", "defect": kind, "potential": mine[kind],
             "dft": dft[kind],
             "difference": mine[kind] - dft[kind], "potential_name": potential.info.name,
             "dft_fmax_eV_A": float(np.linalg.norm(frames[kind].arrays["dft_forces_eV_A"], axis=1).max())}
            for kind in B32_ANCHOR_DEFECTS]


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
