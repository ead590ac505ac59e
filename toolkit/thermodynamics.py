"""Alloy thermodynamics: formation energies, the convex hull (pymatgen), point-defect
formation energies, the composition range of a phase and the Li voltage.

Energies in eV, temperatures in K, voltages in V versus Li/Li+ (V = −Δμ_Li / e).
"""

from __future__ import annotations

from ase import Atoms
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


def shifted_diagram(table: dict[str, dict], shifts_eV_atom: dict[str, float]) -> PhaseDiagram:
    """The Li–Ga hull again from a :func:`hull_table`, each named entry's formation energy (eV/atom) moved by
    ``shifts_eV_atom`` (the others kept): how the hull reads with some energies corrected, say to DFT's."""
    return PhaseDiagram([PDEntry(Composition({"Li": row["x"], "Ga": 1 - row["x"]}),
                                 row["formation_eV_atom"] + shifts_eV_atom.get(name, 0.0), name=name)
                         for name, row in table.items()])


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


def single_phase_range(diagram: PhaseDiagram, names, tolerance_eV_atom: float) -> tuple[float, float]:
    """Li-fraction range spanned by the configurations ``names`` (one structural family,
    e.g. a compound with vacancies and antisites) lying within ``tolerance_eV_atom`` of the hull."""
    table = hull_table(diagram)
    xs = [table[n]["x"] for n in names if table[n]["e_above_hull_eV_atom"] <= tolerance_eV_atom]
    if not xs:
        raise ValueError(f"no configuration of {list(names)} lies within {tolerance_eV_atom} eV/atom of the hull")
    return min(xs), max(xs)


def voltage_curve(diagram: PhaseDiagram) -> list[tuple[float, float]]:
    """The hull's voltage profile as points ``(x_Li, V)``: each plateau from its low to its high x."""
    points = []
    for step in hull_voltage_steps(diagram):
        points += [(step["x_low"], step["V"]), (step["x_high"], step["V"])]
    return points
