import numpy as np
import pytest
import spglib
from ase import Atoms
from ase.build import make_supercell

from toolkit import defects, liga
from toolkit import thermodynamics as td
from toolkit.transport import diffusion_limited_current_mA_cm2


def spacegroup(atoms):
    return spglib.get_spacegroup((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), symprec=1e-3)


@pytest.mark.parametrize("build, group, formula, n_atoms", [
    (liga.bcc_li, "Im-3m (229)", "Li2", 2),
    (liga.alpha_ga, "Cmce (64)", "Ga8", 8),
    (liga.liga_b32, "Fd-3m (227)", "Ga8Li8", 16),
    (liga.liga_b2, "Pm-3m (221)", "GaLi", 2),
])
def test_phases_have_their_space_group_and_stoichiometry(build, group, formula, n_atoms):
    atoms = build()
    assert spacegroup(atoms) == group
    assert atoms.get_chemical_formula() == formula and len(atoms) == n_atoms


def test_b32_is_two_interpenetrating_diamond_lattices():
    atoms = liga.liga_b32(primitive=True)
    assert len(atoms) == 4 and liga.li_fraction(atoms) == 0.5
    # each atom has 4 Li and 4 Ga nearest neighbours at a*sqrt(3)/4
    big = atoms.repeat(3)
    d = big.get_distances(0, range(len(big)), mic=True)
    nearest = np.isclose(d, 6.207 * np.sqrt(3) / 4, atol=1e-3)
    symbols = np.array(big.get_chemical_symbols())
    assert (symbols[nearest] == "Li").sum() == 4 and (symbols[nearest] == "Ga").sum() == 4


def test_defects_change_composition_as_stated_and_are_found_again():
    perfect = make_supercell(liga.liga_b32(primitive=True), np.eye(3) * 2)
    vac, removed = defects.vacancies(perfect, "Li", 2)
    assert vac.get_chemical_formula() == "Ga16Li14"
    assert perfect.get_distance(*removed, mic=True) > 5.0  # far apart
    anti, replaced = defects.substitutions(perfect, "Ga", "Li", 1)
    assert anti.get_chemical_formula() == "Ga15Li17" and perfect[replaced[0]].symbol == "Ga"
    assert defects.defect_map(vac, perfect)["vacancies"] == sorted(removed)
    found = defects.defect_map(anti, perfect)
    assert found["antisites"] == replaced and found["vacancies"] == []
    with pytest.raises(ValueError, match="cannot choose 17 of 16"):
        defects.vacancies(perfect, "Li", 17)


def test_vacancy_hop_moves_a_nearest_neighbour_into_the_vacancy():
    perfect = liga.bcc_li().repeat(3)
    initial, final, mover = defects.vacancy_hop(perfect, 0)
    assert len(initial) == len(final) == 53
    assert np.allclose(final.positions[mover], perfect.positions[0])
    assert np.isclose(np.linalg.norm(final.positions[mover] - initial.positions[mover]), 3.51 * np.sqrt(3) / 2)


def toy(formula, n_atoms, energy_per_atom):
    return Atoms(formula, cell=[10.0] * 3, pbc=True), energy_per_atom * n_atoms


def test_hull_and_voltage_on_a_toy_system_with_a_known_answer():
    # A: 0 eV/atom, B: 0 eV/atom, AB: −0.5 eV/atom (on the hull), AB3: −0.2 (above the AB–B tie line at −0.25)
    phases = {"Ga": toy("Ga", 1, -1.0), "Li": toy("Li", 1, -2.0), "LiGa": toy("LiGa", 2, -2.0),
              "Li3Ga": toy("Li3Ga", 4, -1.95)}
    diagram = td.phase_diagram(phases)
    table = td.hull_table(diagram)
    assert table["LiGa"]["formation_eV_atom"] == pytest.approx(-0.5)
    assert table["Li3Ga"]["formation_eV_atom"] == pytest.approx(-0.2)  # −1.95 − (0.75 x −2 + 0.25 x −1)
    assert table["Li3Ga"]["e_above_hull_eV_atom"] == pytest.approx(0.05)
    assert {n for n, r in table.items() if r["stable"]} == {"Ga", "Li", "LiGa"}
    # Ga + Li -> LiGa releases 1 eV per Li: a 1 V plateau; LiGa + Li -> Li is at 0 V
    assert td.voltage_curve(diagram) == [(0.0, pytest.approx(1.0)), (0.5, pytest.approx(1.0)),
                                         (0.5, pytest.approx(0.0)), (1.0, pytest.approx(0.0))]
    assert td.single_phase_range(diagram, ["LiGa", "Li3Ga"], 0.01) == (0.5, 0.5)
    assert td.single_phase_range(diagram, ["LiGa", "Li3Ga"], 0.06) == (0.5, 0.75)


def test_defect_formation_energy_bookkeeping():
    e = td.defect_formation_energies(-10.0, {"V_Li": -8.0, "Li_Ga": -10.5}, mu_li=-1.5, mu_ga=-3.0)
    assert e["V_Li"] == pytest.approx(-8.0 + 10.0 - 1.5)           # removing Li returns it to the reservoir
    assert e["Li_Ga"] == pytest.approx(-10.5 + 10.0 + 1.5 - 3.0)   # Li taken, Ga returned


def test_diffusion_limited_current():
    # 1e-8 cm²/s, 0.01 mol/cm³ across 10 µm: 96485 * 1e-8 * 0.01 / 1e-3 A/cm² = 9.65 mA/cm²
    assert diffusion_limited_current_mA_cm2(1e-8, 0.01, 10.0) == pytest.approx(9.6485, rel=1e-4)


def test_settled_D_fits_the_MSD_past_the_vibrational_rise():
    """An MSD that rises by 0.3 Å² of vibration in the first 0.5 ps, then grows as 6 D t: the check reads D where a
    fit from 0.1 ps reads it high, and a run too short to reach 1 ps of lag is refused."""
    from toolkit.studies.liga_alloy import LiDiffusion

    lags = np.geomspace(0.02, 3.6, 40)
    d_cm2_s = 1e-6
    curve = 0.3 * (1 - np.exp(-lags / 0.15)) + 6 * d_cm2_s * 1e4 * lags  # 1 cm²/s = 1e4 Å²/ps
    run = LiDiffusion(300.0, 0, 0.0, 0.0, 0, 18.0, 20.0, None, lags.tolist(), curve.tolist())
    assert run.settled_D_cm2_s() == pytest.approx(d_cm2_s, rel=0.02)
    assert run.settled_D_cm2_s(start_ps=0.1) > 1.3 * d_cm2_s
    short = LiDiffusion.from_dict({**run.to_dict(), "msd_lag_ps": lags[:20].tolist(), "msd_A2": curve[:20].tolist()})
    with pytest.raises(ValueError, match="too short to fit from 1.0 ps"):
        short.settled_D_cm2_s()
