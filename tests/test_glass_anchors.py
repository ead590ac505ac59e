"""Study 2's DFT anchors read without DFT: a Lennard-Jones model plays DFT, so the comparisons have known answers."""

import numpy as np
import pytest
from ase.calculators.lj import LennardJones
from ase.units import GPa

from toolkit import amorphous as am
from toolkit import glass_anchors as ga
from toolkit.calculator import Potential, PotentialInfo
from toolkit.dft import frame_errors

ELEMENTS = ("Cl", "Li", "O", "Ta")


def lennard_jones(sigma_A: float, shift_eV_atom: float = 0.0) -> Potential:
    """A pair potential for every element; ``shift_eV_atom`` moves its energy zero, as a different method's would."""

    class Shifted(LennardJones):
        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            super().calculate(atoms, properties, system_changes)
            self.results["energy"] += shift_eV_atom * len(atoms)

    inner = Shifted(sigma=sigma_A, epsilon=0.02, rc=3.5 * sigma_A, smooth=True)
    return Potential(inner, PotentialInfo(f"lj-{sigma_A:g}", "test", "", "0" * 64, "test", ELEMENTS))


def record(atoms, potential) -> dict:
    """What :func:`toolkit.dft.single_point` writes, from ``potential``."""
    work = atoms.copy()
    work.calc = potential
    return {"n_atoms": len(work), "numbers": work.numbers.tolist(), "cell_A": work.cell.array.tolist(),
            "positions_A": work.positions.tolist(), "energy_eV": work.get_potential_energy(),
            "forces_eV_A": work.get_forces().tolist(), "stress_eV_A3": work.get_stress().tolist()}


@pytest.fixture(scope="module")
def glass():
    return am.oxyhalide_packing(ga.EOS_X, 2, seed=0)


def eos_points(glass, potential) -> dict:
    names = {f: f"frame-x{ga.EOS_X:g}-" + ("relaxed" if f == 1.0 else f"eos-{f:g}") for f in ga.EOS_VOLUME_FACTORS}
    return {name: record(ga.scaled(glass, f), potential) for f, name in names.items()}


def test_the_campaign_names_its_frames_and_scales_volumes_exactly(glass):
    names = ga.frame_names()
    assert len(names) == len(set(names)) == len(ga.GLASS_X) * (1 + 2 * ga.FRAMES_PER_RUN) + len(ga.EOS_VOLUME_FACTORS) - 1
    assert ga.scaled(glass, 0.8).get_volume() == pytest.approx(0.8 * glass.get_volume())
    np.testing.assert_allclose(ga.scaled(glass, 0.8).get_scaled_positions(), glass.get_scaled_positions(), atol=1e-12)


def test_the_equation_of_state_finds_the_density_dft_would_give(glass):
    truth = lennard_jones(2.0)
    points = eos_points(glass, truth)
    assert ga.eos_against_dft(truth, {}) is None
    same = ga.eos_against_dft(truth, points)
    assert same["dft"]["v0_A3"] == pytest.approx(same["potential"]["v0_A3"])
    assert same["relaxed_density_g_cm3"] == pytest.approx(am.mass_density_g_cm3(glass))
    assert same["dft"]["energies_eV"][ga.EOS_VOLUME_FACTORS.index(1.0)] == 0.0
    # a model whose atoms are 3 % larger: its equilibrium volume is 1.03³ times larger, its density lower
    larger = ga.eos_against_dft(lennard_jones(2.06), points)
    assert larger["potential"]["v0_A3"] / larger["dft"]["v0_A3"] == pytest.approx(1.03 ** 3, rel=0.03)
    assert larger["potential"]["density_g_cm3"] < larger["dft"]["density_g_cm3"]


def test_frame_errors_remove_one_energy_offset_per_composition(glass):
    truth = lennard_jones(2.0)
    frames = {"frame-x2-700K-0": record(glass, truth), "frame-x2-700K-1": record(ga.scaled(glass, 0.9), truth),
              "frame-x2-relaxed": record(ga.scaled(glass, 1.1), truth), "relaxed-not-a-frame": {}}
    rows = frame_errors(lennard_jones(2.0, shift_eV_atom=-3.0), frames)
    assert [r["frame"] for r in rows] == ["frame-x2-700K-0", "frame-x2-700K-1", "frame-x2-relaxed"]
    for row in rows:
        assert row["energy_error_meV_atom"] == pytest.approx(0.0, abs=1e-9)
        assert row["force_rmse_eV_A"] == pytest.approx(0.0, abs=1e-12) and row["dft_force_rms_eV_A"] > 0
        assert row["stress_error_GPa"] == pytest.approx(0.0, abs=1e-9)
    off = frame_errors(lennard_jones(2.1), frames)
    assert all(r["force_rmse_eV_A"] > 0 and r["stress_error_GPa"] > 0 for r in off)
    assert sum(r["energy_error_meV_atom"] for r in off) == pytest.approx(0.0, abs=1e-9)
    alone = frame_errors(lennard_jones(2.1), {**frames, "frame-other": record(glass[:-1], truth)})
    other = next(r for r in alone if r["frame"] == "frame-other")
    assert other["energy_error_meV_atom"] is None  # alone with its formula: nothing to compare its energy with
    groups = ga.force_rmse_by_group(off)
    assert list(groups) == ["x2-700K", "x2-relaxed"] and groups["x2-relaxed"] == off[2]["force_rmse_eV_A"]
    assert groups["x2-700K"] == pytest.approx(np.sqrt((off[0]["force_rmse_eV_A"] ** 2 + off[1]["force_rmse_eV_A"] ** 2) / 2))


def test_convergence_rows_give_the_pressure_of_each_setting(glass):
    truth = lennard_jones(2.0)
    base = record(glass, truth)
    tighter = {**record(ga.scaled(glass, 1.0), truth), "setting": "ecut_eV", "value": 800.0,
               "frame": "frame-x2-relaxed"}
    tighter["stress_eV_A3"] = [-GPa, -GPa, -GPa, 0.0, 0.0, 0.0]  # 1 GPa of compression
    (row,) = ga.convergence_rows({"frame-x2-relaxed": base, "convergence-ecut_eV-800": tighter})
    assert row["pressure_GPa"] == pytest.approx(1.0) and row["energy_change_meV_atom"] == pytest.approx(0.0)
    assert row["pressure_at_default_GPa"] == pytest.approx(ga.pressure_GPa(base))
    assert ga.convergence_rows({"convergence-ecut_eV-800": tighter}) == []
