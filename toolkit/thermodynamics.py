"""Alloy thermodynamics: formation energies, the convex hull (pymatgen), point-defect
formation energies, the dilute-defect composition range of a phase and the Li voltage.

Energies in eV, temperatures in K, voltages in V versus Li/Li+ (V = −Δμ_Li / e).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.units import kB
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition

#: Defects of an AB compound on its A (Li) and B (Ga) sublattices: name -> (change in
#: number of Li, change in number of Ga, sublattice). E_f = ΔE − ΔN_Li μ_Li − ΔN_Ga μ_Ga.
AB_DEFECTS = {
    "V_Li": (-1, 0, "Li"),
    "V_Ga": (0, -1, "Ga"),
    "Li_Ga": (1, -1, "Ga"),
    "Ga_Li": (-1, 1, "Li"),
}


def phase_diagram(phases: dict[str, tuple[Atoms, float]]) -> PhaseDiagram:
    """pymatgen's phase diagram from ``{name: (atoms, total energy eV)}``."""
    entries = [PDEntry(Composition(atoms.get_chemical_formula()), energy, name=name)
               for name, (atoms, energy) in phases.items()]
    return PhaseDiagram(entries)


def hull_table(diagram: PhaseDiagram) -> dict[str, dict]:
    """Per phase: ``formation_eV_atom``, ``e_above_hull_eV_atom``, ``x`` (Li fraction), ``stable``."""
    table = {}
    for entry in diagram.all_entries:
        composition = entry.composition
        table[entry.name] = {
            "formation_eV_atom": float(diagram.get_form_energy_per_atom(entry)),
            "e_above_hull_eV_atom": float(diagram.get_e_above_hull(entry)),
            "x": float(composition.get_atomic_fraction("Li")),
            "stable": entry in diagram.stable_entries,
        }
    return table


def hull_voltage_steps(diagram: PhaseDiagram) -> list[dict]:
    """Two-phase plateaus between neighbouring stable phases: ``x_low``, ``x_high``, ``V``.

    In a two-phase field the Li chemical potential is fixed by the tie line:
    Δμ_Li = f1 + (1 − x1)(f2 − f1)/(x2 − x1), with f the formation energy per atom and x
    the Li fraction; V = −Δμ_Li / e.
    """
    stable = sorted(((float(e.composition.get_atomic_fraction("Li")), float(diagram.get_form_energy_per_atom(e)))
                     for e in diagram.stable_entries))
    steps = []
    for (x1, f1), (x2, f2) in zip(stable[:-1], stable[1:]):
        mu = f1 + (1 - x1) * (f2 - f1) / (x2 - x1)
        steps.append({"x_low": x1, "x_high": x2, "V": float(-mu)})
    return steps


def defect_formation_energies(perfect_eV: float, defect_eV: dict[str, float], mu_li: float, mu_ga: float) -> dict:
    """E_f = E_defect − E_perfect − ΔN_Li μ_Li − ΔN_Ga μ_Ga for each defect in :data:`AB_DEFECTS` (eV)."""
    return {name: float(defect_eV[name] - perfect_eV - AB_DEFECTS[name][0] * mu_li - AB_DEFECTS[name][1] * mu_ga)
            for name in defect_eV}


def dilute_composition(formation_eV: dict[str, float], temperature_K: float) -> dict:
    """Composition of an AB compound with ideal, dilute point defects at ``temperature_K``.

    Each defect's fraction on its sublattice is exp(−E_f / k_B T). Returns ``x`` (Li
    fraction), the per-sublattice ``fractions`` and ``dilute`` (False where any fraction
    exceeds 5 %, beyond which the non-interacting model is not to be trusted).
    """
    fractions = {name: float(np.exp(-e / (kB * temperature_K))) for name, e in formation_eV.items()}
    n_li, n_ga = 1.0, 1.0
    for name, c in fractions.items():
        d_li, d_ga, _ = AB_DEFECTS[name]
        n_li += d_li * c
        n_ga += d_ga * c
    return {"x": n_li / (n_li + n_ga), "fractions": fractions, "dilute": max(fractions.values()) < 0.05}


def solid_solution_curve(perfect_eV: float, defect_eV: dict[str, float], e_compound_fu: float, e_li: float,
                         e_ga: float, temperature_K: float = 300.0, delta_mu_range=None, n_points: int = 61) -> dict:
    """Li content and voltage across the single-phase field of an AB compound (Li–Ga).

    The Li chemical potential runs from the Ga-rich limit (compound + Ga: μ_Ga = e_ga) to the
    Li-rich limit (compound + Li: μ_Li = e_li) unless ``delta_mu_range`` (eV, relative to
    e_li) is given; μ_Ga = e_compound_fu − μ_Li keeps the compound in equilibrium. At each
    μ_Li the dilute-defect composition gives x. Returns arrays ``x``, ``V`` (= −Δμ_Li/e),
    ``dilute`` and the formation energies at both limits.
    """
    low, high = delta_mu_range if delta_mu_range is not None else (e_compound_fu - e_ga - e_li, 0.0)
    curve = {"x": [], "V": [], "dilute": []}
    for delta in np.linspace(low, high, n_points):
        mu_li = e_li + delta
        formation = defect_formation_energies(perfect_eV, defect_eV, mu_li, e_compound_fu - mu_li)
        state = dilute_composition(formation, temperature_K)
        curve["x"].append(state["x"])
        curve["V"].append(float(-delta))
        curve["dilute"].append(state["dilute"])
    limits = {where: defect_formation_energies(perfect_eV, defect_eV, e_li + d, e_compound_fu - e_li - d)
              for where, d in (("Ga-rich", low), ("Li-rich", high))}
    return {key: np.array(value) for key, value in curve.items()} | {"formation_eV": limits}
