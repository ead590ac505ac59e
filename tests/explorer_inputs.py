"""Made-up inputs for the explorers, small enough for seconds: the widget tests and the browser tests share them
(the browser's kernel imports this file by path)."""

from __future__ import annotations

import numpy as np


def toy_alloy_explorer():
    """An :class:`~toolkit.widgets.alloy_explorer.AlloyExplorer` over a perfect B32 cell, one with a Li vacancy and
    one with a Ga antisite, on a hull of made-up energies (eV)."""
    from ase.build import make_supercell

    from toolkit import defects, liga
    from toolkit import thermodynamics as td
    from toolkit.widgets.alloy_explorer import AlloyExplorer

    perfect = make_supercell(liga.liga_b32(primitive=True), np.eye(3) * 2)
    configs = {"perfect": perfect, "vacancy": defects.vacancies(perfect, "Li", 1)[0],
               "antisite": defects.substitutions(perfect, "Ga", "Li", 1)[0]}
    energies = {"perfect": -3.0 * 32, "vacancy": -3.0 * 31 + 0.5, "antisite": -3.0 * 32 + 0.2}
    phases = {"Li": (liga.bcc_li(), -1.9 * 2), "Ga": (liga.alpha_ga(), -3.0 * 8)}
    diagram = td.phase_diagram({**phases, **{n: (a, energies[n]) for n, a in configs.items()}})
    return AlloyExplorer(td.hull_table(diagram), configs, perfect, td.voltage_curve(diagram))


def toy_volcano_compositions(sigmas: dict) -> dict:
    """Volcano explorer input: x -> a glass packing, made-up motifs and D(T) (cm²/s), and σ(300 K) (S/cm) from
    ``sigmas`` (None: no Arrhenius fit)."""
    from toolkit import amorphous as am
    from toolkit.transport import arrhenius_fit

    compositions = {}
    for x, sigma in sigmas.items():
        d = {600.0: [1e-6 * x, 1e-7], 900.0: [1e-5 * x, 1e-6]}
        compositions[x] = {"atoms": am.random_packing(am.oxyhalide_counts(x, 2), 3.0, seed=0),
                           "motifs": {"TaO0Cl5": 0.5, "TaO1Cl5": 0.5 - x / 10, "TaO2Cl4": x / 10}, "D_Li_cm2_s": d,
                           "sigma_300K_S_cm": None if sigma is None else [sigma, sigma / 10],
                           "arrhenius": None if sigma is None else arrhenius_fit(list(d), *zip(*d.values()))}
    return compositions
