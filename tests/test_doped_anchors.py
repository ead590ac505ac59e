"""Study 1's frozen-mode anchors, read without DFT: the student plays DFT on cubic BaSnO3's softest Γ mode."""

import pytest

from toolkit import doped_anchors as da
from toolkit import perovskite as pv
from toolkit import phonons as ph
from toolkit.potentials import load_potential


@pytest.fixture(scope="module")
def student():
    return load_potential("student:proton-phonon", device="cpu", dtype="float64")


@pytest.fixture(scope="module")
def mode(student):
    cell = pv.basno3(4.18)
    phonon = ph.compute_phonons(cell, student, supercell=(1, 1, 1), displacement_A=0.01, progress=False)
    band, frequency = ph.softest_optical_mode(phonon)
    return cell, ph.mode_displacements(phonon, band), frequency


def test_a_frozen_mode_gives_back_the_phonon_frequency(student, mode):
    cell, pattern, frequency = mode
    q = 0.01
    energies = [float(student.get_potential_energy(ph.displaced(cell, pattern, a))) for a in (-q, 0.0, q)]
    assert ph.frozen_mode_frequency_THz(energies, q, pattern, cell.get_masses()) == pytest.approx(frequency, rel=0.05)
    # a double well: the curvature, and so the frequency, is negative
    assert ph.frozen_mode_frequency_THz([-1.0, 0.0, -1.0], q, pattern, cell.get_masses()) < 0


def test_rows_compare_both_methods_on_the_same_frames(student, mode):
    cell, pattern, frequency = mode
    n, name = da.CELLS[0]
    frames = da.mode_frames(cell, pattern, 4.18 * 1.01, 4.18)
    assert frames[0.0].cell.lengths() == pytest.approx([4.18 * 1.01] * 3)
    points = {}
    for q, frame in frames.items():
        points[da.point_name(n, name, q)] = {
            "numbers": frame.numbers.tolist(), "positions_A": frame.positions.tolist(), "cell_A": frame.cell.array.tolist(),
            "energy_eV": float(student.get_potential_energy(frame)) + 7.0,  # another method's energy zero
            "forces_eV_A": student.get_forces(frame).tolist(),
            "displacements_A": pattern.tolist(), "masses_amu": frame.get_masses().tolist(),
            "mode": da.describe(student, 4.18, 3, frequency)}
    (row,) = da.frozen_mode_rows(student, points)
    assert row["potential"] == pytest.approx(row["dft"]) and row["mode_from"] == "student:proton-phonon"
    assert row["phonon_frequency_THz"] == frequency and row["n_formula_units"] == n
    del points[da.point_name(n, name, da.AMPLITUDE_A)]
    assert da.frozen_mode_rows(student, points) == []


def test_transfer_rows_set_dft_barriers_beside_the_potentials_on_the_paths_frames(student, mode):
    cell, pattern, _ = mode
    frames = dict(zip(da.IMAGES, (ph.displaced(cell, pattern, q) for q in (0.0, 0.1, 0.05))))
    energies = {image: float(student.get_potential_energy(frame)) for image, frame in frames.items()}
    points = {f"transfer-near-{image}": {
        "numbers": frame.numbers.tolist(), "positions_A": frame.positions.tolist(), "cell_A": frame.cell.array.tolist(),
        "energy_eV": energies[image] - 11.0, "forces_eV_A": student.get_forces(frame).tolist(),
        "path": {"potential": student.info.as_dict()}}
        for image, frame in frames.items()}
    barrier, reaction = da.transfer_rows(student, points)
    assert barrier["quantity"] == "proton transfer near Y: barrier on the path (eV)"
    assert barrier["dft"] == pytest.approx(energies["saddle"] - energies["start"]) and barrier["dft"] > 0
    assert reaction["potential"] == pytest.approx(reaction["dft"]) and barrier["path_from"] == "student:proton-phonon"
    del points["transfer-near-end"]
    assert da.transfer_rows(student, points) == []
