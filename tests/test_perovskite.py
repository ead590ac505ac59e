import numpy as np
import pytest
import spglib

from toolkit import perovskite as pv
from toolkit.protons import host_oxygen, proton_jumps, rotation_final_state, rotation_final_states, transfer_final_state


def spacegroup(atoms):
    return spglib.get_spacegroup((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), symprec=1e-3)


def test_basno3_is_cubic_perovskite():
    atoms = pv.basno3()
    assert spacegroup(atoms) == "Pm-3m (221)"
    assert atoms.get_chemical_formula() == "BaO3Sn" and pv.formal_charge(atoms) == 0
    assert np.isclose(atoms.get_distance(1, 2), pv.BASNO3_A_EXP / 2)  # Sn–O = a/2


@pytest.mark.parametrize("cells, fraction", [(8, 0.125), (10, 0.1), (27, 1 / 27)])
def test_doped_supercells_have_the_stated_y_fraction(cells, fraction):
    matrix = pv.supercell_matrix(cells)
    assert round(abs(np.linalg.det(matrix))) == cells
    doped = pv.y_doped(pv.basno3(), matrix)
    symbols = doped.get_chemical_symbols()
    assert symbols.count("Ba") == cells and symbols.count("O") == 3 * cells and symbols.count("Y") == 1
    assert np.isclose(pv.y_fraction(doped), fraction)
    assert pv.formal_charge(doped) == -1  # one Y_Sn' per cell, before the proton


def test_two_dopants_are_placed_far_apart():
    doped = pv.y_doped(pv.basno3(), np.eye(3) * 3, n_y=2)
    y = [i for i, s in enumerate(doped.get_chemical_symbols()) if s == "Y"]
    assert np.isclose(doped.get_distance(*y, mic=True), np.sqrt(3) * pv.BASNO3_A_EXP)
    with pytest.raises(ValueError, match="cannot put 9 Y on 8 Sn sites"):
        pv.y_doped(pv.basno3(), np.eye(3) * 2, n_y=9)


def test_proton_sites_are_symmetry_distinct_and_charge_balanced():
    doped = pv.y_doped(pv.basno3(), np.eye(3) * 2)
    sites = pv.distinct_proton_sites(doped)
    # 24 O x 4 directions split into orbits; the nearest O to Y has the shortest O–Y distance
    assert sum(s["multiplicity"] for s in sites) == 24 * 4
    assert len(sites) == 4
    assert min(s["d_Y_A"] for s in sites) == pytest.approx(pv.BASNO3_A_EXP / 2)
    for site in sites:
        with_h = pv.add_proton(doped, site["o_index"], site["direction"])
        assert pv.formal_charge(with_h) == 0
        h = len(with_h) - 1
        assert host_oxygen(with_h, h) == site["o_index"]
        assert with_h.get_distance(h, site["o_index"], mic=True) == pytest.approx(pv.OH_BOND_A)


def test_proton_directions_are_perpendicular_to_the_b_o_b_axis():
    atoms = pv.basno3()
    directions = pv.proton_directions(atoms.repeat(2), 2)
    assert len(directions) == 4
    sn_o = atoms.repeat(2).get_distance(2, 1, mic=True, vector=True)
    assert np.allclose(directions @ sn_o, 0, atol=1e-8)


def test_transfer_and_rotation_end_states():
    doped = pv.y_doped(pv.basno3(), np.eye(3) * 2)
    site = pv.distinct_proton_sites(doped)[0]
    start = pv.add_proton(doped, site["o_index"], site["direction"])
    h = len(start) - 1
    final, donor, acceptor = transfer_final_state(start, h)
    assert donor == site["o_index"] and host_oxygen(final, h) == acceptor != donor
    assert start.get_distance(donor, acceptor, mic=True) == pytest.approx(pv.BASNO3_A_EXP / np.sqrt(2))
    # after the transfer the proton points back towards the donor
    back = final.get_distance(acceptor, h, mic=True, vector=True) @ final.get_distance(acceptor, donor, mic=True, vector=True)
    assert back > 0
    rotated, o = rotation_final_state(start, h)
    assert o == donor
    v0 = start.get_distance(o, h, mic=True, vector=True)
    v1 = rotated.get_distance(o, h, mic=True, vector=True)
    assert abs(v0 @ v1) < 1e-6 and np.isclose(np.linalg.norm(v1), np.linalg.norm(v0))
    jumps = proton_jumps([start, start, final], [h], time_step_fs=2.0)
    assert jumps == [{"frame": 2, "time_fs": 4.0, "h": h, "from_O": donor, "to_O": acceptor,
                      "d_OO_A": pytest.approx(pv.BASNO3_A_EXP / np.sqrt(2))}]


def test_tilt_patterns_rotate_the_octahedra_rigidly_in_the_smallest_cells():
    from toolkit.perovskite import tilt_cell

    for kind, n_atoms in (("M", 10), ("R", 20)):
        cell, pattern = tilt_cell(4.1, kind)
        assert len(cell) == n_atoms and np.abs(pattern).max() == 1.0
        moving = {cell[i].symbol for i in np.flatnonzero(np.abs(pattern).sum(axis=1))}
        assert moving == {"O"} and not pattern[:, 2].any()  # equatorial O only, in the plane
        tilted = cell.copy()
        tilted.positions += 0.05 * pattern
        symbols = np.array(cell.get_chemical_symbols())
        distances = tilted.get_all_distances(mic=True)[np.ix_(symbols == "Sn", symbols == "O")]
        bonds = np.sort(distances.ravel())[: 5 * (symbols == "Sn").sum()]
        assert np.allclose(bonds, 2.05, atol=0.002)  # a rotation stretches no Sn-O bond to first order
    # along z the next layer turns the same way (M, a0a0c+) or the other way (R, a0a0c-)
    m_cell, m = tilt_cell(4.1, "M")
    for kind, (cell, pattern), same in (("M", (m_cell.repeat((1, 1, 2)), np.tile(m, (2, 1))), 1),
                                        ("R", tilt_cell(4.1, "R"), -1)):
        pairs = 0
        for i in np.flatnonzero(np.abs(pattern).sum(axis=1)):
            above = np.flatnonzero(np.linalg.norm(cell.positions - cell.positions[i] - [0, 0, 4.1], axis=1) < 1e-6)
            if len(above):
                assert np.allclose(pattern[above[0]], same * pattern[i]), kind
                pairs += 1
        assert pairs == 4, kind
    with pytest.raises(ValueError, match="tilt kind"):
        tilt_cell(4.1, "X")


def test_a_rotation_that_relaxes_back_to_its_start_is_not_an_end_state(monkeypatch):
    """An orientation that is no minimum relaxes back to the start; the NEB between two copies of the start
    would read 0 eV. The next 90° rotation is taken instead, and where all relax back there is no end state."""
    from toolkit.studies import proton_phonon_hops as hops

    doped = pv.y_doped(pv.basno3(), np.eye(3) * 2)
    site = pv.distinct_proton_sites(doped)[0]
    start = pv.add_proton(doped, site["o_index"], site["direction"])
    h = len(start) - 1
    candidates = [atoms for atoms, _ in rotation_final_states(start, h)]
    assert len(candidates) >= 2 and np.allclose(candidates[0].positions, rotation_final_state(start, h)[0].positions)
    potential = type("Named", (), {"info": type("Info", (), {"name": "toy"})()})()
    relaxed = []

    def back_once(atoms, potential, **_):
        relaxed.append(atoms)
        return start.copy() if len(relaxed) == 1 else atoms

    monkeypatch.setattr(hops, "relax", back_once)
    end = hops.rotated_end(start, h, potential)
    assert np.allclose(end.positions, candidates[1].positions) and len(relaxed) == 2
    monkeypatch.setattr(hops, "relax", lambda atoms, potential, **_: start.copy())
    assert hops.rotated_end(start, h, potential) is None  # no rotated minimum: no barrier, not a 0 eV one
