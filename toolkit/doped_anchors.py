"""DFT anchors of study 1's claim itself: is the softest Γ mode of the Y-doped cell unstable in DFT too?

A potential decides the claim from the Γ phonons of the 8-formula-unit cells (12.5 % Y): an imaginary mode in the
Y-doped cell that the pristine cell lacks. DFT phonons of a 40-atom cell are out of reach on 2 cores, but the mode
the potential finds is not: ``softmode-<cell>-q<Q>`` points are single points (:func:`toolkit.dft.single_point`) of the
potential's relaxed cell, scaled to DFT's lattice, displaced by -Q, 0 and +Q along that mode (largest atomic
displacement Q, Å). The symmetric difference gives each method's frozen-mode frequency on the same frames
(:func:`toolkit.phonons.frozen_mode_frequency_THz`): negative (imaginary) is unstable. The mode and the cell come
from a ``make_mode`` step the caller passes (:func:`toolkit.studies.proton_phonon_research.doped_soft_mode`), so that
the study's own step makes them.

The proton's transfer, near Y and far from Y, gets ``transfer-<near|far>-<start|saddle|end>`` points: single points of
the end states and the highest image of the potential's converged NEB (from a ``make_path`` step the caller passes,
:func:`toolkit.studies.proton_phonon_research.transfer_path`), so that DFT's barrier on the potential's path sits
beside the potential's own (:func:`transfer_rows`).

Plane waves at 600 eV and 2 k-points per Å⁻¹: the M-tilt energy of BaSnO3 at 0.2 Å changes by 0.5 meV/f.u. (2 %)
from there to 1000 eV and 4.5 k-points per Å⁻¹ (the ``tilt-M-convergence-*`` points).
"""

from __future__ import annotations

from functools import cache
from typing import Callable

import numpy as np
from ase import Atoms

from toolkit.dft import DFTSettings, frame_atoms, load_dft, single_point
from toolkit.phonons import displaced, frozen_mode_frequency_THz

METHOD = "gpaw-pbe"
SETTINGS = DFTSettings(ecut_eV=600.0, kpoint_density_per_A=2.0)
#: The cells whose softest mode is anchored, in the order they run: (formula units, cell), the 12.5 % cell (where the
#: DFT-anchored student finds a Y-induced double well) before the 10 % cell (the paper's composition, which decides);
#: and the largest atomic displacement Q (Å).
CELLS = ((8, "Y-doped"), (10, "Y-doped"), (8, "Y-doped + H"), (10, "Y-doped + H"))
AMPLITUDE_A = 0.1


def point_name(n_formula_units: int, cell: str, q: float) -> str:
    return f"softmode-{n_formula_units}fu-{cell.replace(' + ', '+')}-q{q:+g}"


def mode_frames(cell: Atoms, displacements: np.ndarray, lattice_A: float, cell_lattice_A: float) -> dict[float, Atoms]:
    """``cell`` (a supercell of the cubic cell of lattice ``cell_lattice_A``, Å) scaled to ``lattice_A`` (Å), fractional
    coordinates fixed, and displaced by -Q, 0, +Q (:data:`AMPLITUDE_A`) along ``displacements`` (largest 1 Å)."""
    scaled = Atoms(cell.numbers, positions=cell.positions, cell=cell.cell, pbc=True)
    scaled.set_cell(cell.cell.array * lattice_A / cell_lattice_A, scale_atoms=True)
    return {q: displaced(scaled, displacements, q) for q in (-AMPLITUDE_A, 0.0, AMPLITUDE_A)}


def campaign(make_mode: Callable, lattice_A: float) -> dict[str, Callable[[], dict]]:
    """Point name -> a function computing it. ``make_mode(n_formula_units, cell_name)`` gives ``(cell, displacements, described)``: the
    potential's relaxed cell, its softest optical Γ mode (largest displacement 1 Å) and a JSON-ready description (the
    potential, its lattice ``lattice_A``, the mode's frequency); ``lattice_A``: DFT's cubic lattice (Å)."""
    mode = cache(make_mode)
    dft = cache(lambda: load_dft(METHOD, SETTINGS))

    def compute(n: int, cell_name: str, q: float) -> dict:
        cell, displacements, described = mode(n, cell_name)
        frame = mode_frames(cell, displacements, lattice_A, described["lattice_A"])[q]
        return {"n_formula_units": n, "cell": cell_name, "amplitude_A": q, "dft_lattice_A": lattice_A, "mode": described,
                "displacements_A": np.asarray(displacements).tolist(), "masses_amu": frame.get_masses().tolist(),
                **single_point(frame, dft())}

    return {point_name(n, c, q): (lambda n=n, c=c, q=q: compute(n, c, q))
            for n, c in CELLS for q in (0.0, -AMPLITUDE_A, AMPLITUDE_A)}


#: The transfers anchored, and the images of each: the end states and the potential's saddle.
WHERE = {"near": "near Y", "far": "far from Y"}
IMAGES = ("start", "saddle", "end")


def transfer_campaign(make_path: Callable) -> dict[str, Callable[[], dict]]:
    """Point name -> a function computing it. ``make_path(where)`` (``"near Y"`` or ``"far from Y"``) gives the
    potential's transfer :class:`~toolkit.barriers.NEBResult` and a JSON-ready description of how it was made."""
    path = cache(make_path)
    dft = cache(lambda: load_dft(METHOD, SETTINGS))

    def compute(where: str, image: str) -> dict:
        band, described = path(WHERE[where])
        index = {"start": 0, "saddle": int(np.argmax(band.energies_eV)), "end": len(band.images) - 1}[image]
        return {"where": WHERE[where], "image": image, "image_index": index, "path": described,
                "path_energies_eV": [float(e) for e in band.energies_eV], "path_fmax_eV_A": band.fmax_eV_A,
                **single_point(band.images[index], dft())}

    return {f"transfer-{where}-{image}": (lambda w=where, i=image: compute(w, i)) for where in WHERE for image in IMAGES}


def transfer_rows(potential, points: dict[str, dict]) -> list[dict]:
    """Per anchored transfer, its barrier and reaction energy (eV) by DFT and by ``potential`` on the same three
    frames (the path's own potential found the saddle); no rows for a transfer whose points are not all computed."""
    rows = []
    for where, label in WHERE.items():
        names = [f"transfer-{where}-{image}" for image in IMAGES]
        if any(name not in points for name in names):
            continue
        records = [points[name] for name in names]
        frames = [frame_atoms(r, name) for r, name in zip(records, names)]
        dft = [r["energy_eV"] - records[0]["energy_eV"] for r in records]
        mine = [float(potential.get_potential_energy(f)) for f in frames]
        mine = [e - mine[0] for e in mine]
        rows += [{"quantity": f"proton transfer {label}: {name} (eV)", "potential": mine[k], "dft": dft[k],
                  "difference": mine[k] - dft[k], "path_from": records[0]["path"]["potential"]["name"]}
                 for name, k in (("barrier on the path", 1), ("reaction energy", 2))]
    return rows


def frozen_mode_rows(potential, points: dict[str, dict]) -> list[dict]:
    """Per anchored cell, the softest mode's frozen-mode frequency (THz, negative: imaginary) by DFT and by
    ``potential`` on the same three frames, and the frequency the mode's own potential gave it from its phonons; no
    row for a cell whose three points are not all computed."""
    rows = []
    for n, cell in CELLS:
        names = [point_name(n, cell, q) for q in (-AMPLITUDE_A, 0.0, AMPLITUDE_A)]
        if any(name not in points for name in names):
            continue
        records = [points[name] for name in names]
        frames = [frame_atoms(r, name) for r, name in zip(records, names)]
        pattern, masses = records[1]["displacements_A"], records[1]["masses_amu"]
        dft = frozen_mode_frequency_THz([r["energy_eV"] for r in records], AMPLITUDE_A, pattern, masses)
        mine = frozen_mode_frequency_THz([float(potential.get_potential_energy(f)) for f in frames], AMPLITUDE_A,
                                         pattern, masses)
        rows.append({"cell": cell, "n_formula_units": n,
                     "quantity": f"{cell} ({n} f.u.): softest Γ mode, frozen at ±{AMPLITUDE_A:g} Å (THz)",
                     "potential": mine, "dft": dft, "difference": mine - dft,
                     "mode_from": records[1]["mode"]["potential"]["name"],
                     "phonon_frequency_THz": records[1]["mode"]["frequency_THz"]})
    return rows


def describe(potential, lattice_A: float, band: int, frequency_THz: float) -> dict:
    """The ``described`` part of ``make_mode``'s answer."""
    return {"potential": potential.info.as_dict(), "lattice_A": lattice_A, "band": band, "frequency_THz": frequency_THz}
