"""DFT through GPAW behind the potentials' interface: forces and stress against the code's own energies."""

import pytest
from ase.build import bulk

from toolkit import dft
from toolkit.calculator import PotentialUnavailableError, file_sha256
from toolkit.potentials import load_potential

needs_gpaw = pytest.mark.skipif(not dft.gpaw_available(), reason=f"GPAW is not installed: {dft.INSTALL_HINT}")


def energy(atoms, calc) -> float:
    work = atoms.copy()
    work.calc = calc
    return work.get_potential_energy()


def test_without_gpaw_the_error_names_the_command(monkeypatch):
    monkeypatch.setattr(dft, "gpaw_available", lambda: False)
    with pytest.raises(PotentialUnavailableError, match="make dft"):
        load_potential("gpaw-pbe")


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="mode must be"):
        dft.DFTSettings(mode="fd")
    with pytest.raises(ValueError, match="positive"):
        dft.DFTSettings(ecut_eV=-1)


@needs_gpaw
def test_lcao_forces_are_the_derivative_of_the_energy_and_provenance_names_the_setups():
    """A 2-atom Li cell in LCAO mode: a force component against a central difference of the energy."""
    calc = dft.load_dft("gpaw-pbe", dft.DFTSettings(mode="lcao", kpoint_density_per_A=2.0, smearing_eV=0.1))
    atoms = bulk("Li", "bcc", a=3.43, cubic=True)
    atoms.positions[1] += [0.08, -0.03, 0.05]
    work = atoms.copy()
    work.calc = calc
    force = work.get_forces()[1, 0]
    h = 0.01
    plus, minus = atoms.copy(), atoms.copy()
    plus.positions[1, 0] += h
    minus.positions[1, 0] -= h
    numeric = -(energy(plus, calc) - energy(minus, calc)) / (2 * h)
    assert abs(force) > 0.05 and force == pytest.approx(numeric, abs=0.02)
    assert calc.info.family == "dft" and "GPAW" in calc.info.source and '"mode": "lcao"' in calc.info.source
    hashes = dft.setup_hashes(atoms, calc)
    assert list(hashes) == ["Li"] and len(hashes["Li"]) == 64
    assert calc.info.sha256 != dft.load_dft("gpaw-pbe", dft.DFTSettings(mode="lcao")).info.sha256  # settings key it
    with pytest.raises(Exception, match="does not cover element"):
        calc.check_elements(bulk("Og", "fcc", a=5.0))


@needs_gpaw
def test_plane_wave_stress_is_the_derivative_of_the_energy():
    """bcc Li, one atom, plane waves: sigma_xx against a central difference of E(strain)/V."""
    settings = dft.DFTSettings(mode="pw", ecut_eV=300.0, kpoint_density_per_A=2.0, smearing_eV=0.1)
    calc = dft.load_dft("gpaw-pbe", settings)
    atoms = bulk("Li", "bcc", a=3.35)
    work = atoms.copy()
    work.calc = calc
    stress = work.get_stress()[0]
    eps = 0.005
    strained = []
    for sign in (1, -1):
        cell = atoms.cell.array.copy()
        cell[:, 0] *= 1 + sign * eps
        other = atoms.copy()
        other.set_cell(cell, scale_atoms=True)
        strained.append(energy(other, calc))
    numeric = (strained[0] - strained[1]) / (2 * eps) / atoms.get_volume()
    assert stress == pytest.approx(numeric, abs=2e-3)  # eV/Å³


def test_an_anchor_campaign_writes_each_point_as_it_finishes_and_resumes(tmp_path, monkeypatch):
    from toolkit import anchors

    calls = []

    def fake_campaign(study, store, root):
        def point(name):
            def compute():
                calls.append(name)
                if calls == ["a", "b"]:
                    raise KeyboardInterrupt  # the session ends mid-campaign
                return {"value": len(calls)}
            return compute
        return {name: point(name) for name in "abc"}

    monkeypatch.setattr(anchors, "campaign", fake_campaign)
    with pytest.raises(KeyboardInterrupt):
        anchors.run_campaign("liga-alloy", tmp_path, store=object())
    assert [p.name for p in (tmp_path / "liga-alloy").iterdir()] == ["a.json"]
    written = anchors.run_campaign("liga-alloy", tmp_path, store=object())  # resumes: a is not computed again
    assert calls == ["a", "b", "b", "c"] and [p.stem for p in written] == ["b", "c"]
    record = anchors.load_points("liga-alloy", tmp_path)["c"]
    assert set(record["provenance"]) >= {"versions", "wall_time_s", "command"}
    assert anchors.run_campaign("liga-alloy", tmp_path, store=object()) == []


def test_shipped_anchor_points_carry_their_provenance():
    from toolkit import anchors

    for study in anchors.CAMPAIGNS:
        for name, point in anchors.load_points(study).items():
            assert point["method"]["family"] == "dft" and len(point["method"]["sha256"]) == 64, name
            assert point["settings"]["mode"] == "pw" and "GPAW" in point["method"]["source"], name
            assert point["provenance"]["wall_time_s"] > 0 and point["provenance"]["command"].startswith("python -m")
            if name.startswith("relaxed-"):
                assert point["converged"] and all(len(h) == 64 for h in point["setup_sha256"].values()), name


def test_the_potential_against_the_anchors_reads_b32_as_its_conventional_cell():
    from toolkit import alloy_anchors as anchors

    points = {"relaxed-B32-LiGa": {"phase": "LiGa (B32)", "volume_A3_atom": 6.2 ** 3 / 16, "cell_lengths_A": [4.38] * 3,
                                  "energy_eV_atom": -2.72},
              "relaxed-bcc-Li": {"phase": "Li (bcc)", "volume_A3_atom": 20.3, "cell_lengths_A": [3.44] * 3,
                                 "energy_eV_atom": -1.89}}
    rows = anchors.liga_dft_rows({"LiGa (B32)": 6.25, "Li (bcc)": 3.40}, -0.30, points)
    assert [r["quantity"] for r in rows] == ["a of Li (bcc) (Å)", "a of LiGa (B32) (Å)"]  # no α-Ga: no formation row
    assert rows[1]["dft"] == pytest.approx(6.2) and rows[1]["difference"] == pytest.approx(0.05)
    points["relaxed-alpha-Ga"] = {"phase": "Ga (alpha)", "volume_A3_atom": 19.6, "cell_lengths_A": [4.5, 7.6, 4.5],
                                  "energy_eV_atom": -2.90}
    formation = anchors.liga_dft_rows({}, -0.30, points)
    assert formation == [{"quantity": "formation energy of LiGa (eV/atom)", "potential": -0.30,
                          "dft": pytest.approx(-2.72 + (1.89 + 2.90) / 2), "difference": pytest.approx(-0.30 + 0.325)}]


def test_transport_anchors_set_a_potential_beside_dft_on_the_anchors_own_cells():
    """The rows need no DFT to read: the potential is evaluated on the anchor's cells, whatever DFT gave."""
    from ase import Atoms

    from toolkit import alloy_anchors as anchors, liga

    student = load_potential("student:liga-alloy", device="cpu", dtype="float64")
    assert anchors.li_vacancy_rows(student, {}) == [] and anchors.hop_image_rows(student, {}) == []
    (row,) = anchors.li_vacancy_rows(student, {"vacancy-bcc-Li": {"lattice_A": 3.44, "vacancy_formation_eV": 0.5}})
    perfect, vacancy = anchors.li_vacancy_cells(3.44)
    assert len(perfect) == 16 and len(vacancy) == 15
    assert 0.0 < row["potential"] < 1.5 and row["difference"] == pytest.approx(row["potential"] - 0.5)
    assert row["potential_name"] == "student:liga-alloy"
    cell = liga.bcc_li(3.44).repeat(2)
    moved = cell.positions.copy()
    moved[0] += [0.3, 0.0, 0.0]
    point = {"images": [0, 2], "symbols": cell.get_chemical_symbols(), "cell_A": cell.cell.array.tolist(),
             "positions_A": [cell.positions.tolist(), moved.tolist()], "dft_energies_eV": [0.0, 0.1]}
    (hop,) = anchors.hop_image_rows(student, {"hop-LiGa-images": point})
    (li_hop,) = anchors.hop_image_rows(student, {"hop-bcc-Li-images": point})
    assert li_hop["quantity"] == "bcc Li vacancy hop, image 2 − start (eV)"
    energies = [student.get_potential_energy(Atoms(cell.symbols, positions=p, cell=cell.cell, pbc=True))
                for p in (cell.positions, moved)]
    assert hop["quantity"] == "LiGa vacancy hop, image 2 − start (eV)"
    assert hop["potential"] == pytest.approx(energies[1] - energies[0]) and hop["dft"] == 0.1


def test_b32_defect_rows_give_both_methods_formation_energies_on_the_same_frames():
    """DFT's side is read from the records alone; the potential's is its energies on the same frames, with μ from the
    relaxed-phase frames, so a fake "DFT" that is the potential itself gives zero differences."""
    from toolkit import alloy_anchors, liga

    student = load_potential("student:liga-alloy", device="cpu", dtype="float64")
    assert alloy_anchors.b32_defect_rows(student, {}) == []
    frames = alloy_anchors.b32_defect_frames(6.25, student)
    assert [len(frames[k]) for k in ("perfect", "V_Li", "Ga_Li")] == [16, 15, 16]
    assert frames["Ga_Li"].get_chemical_symbols().count("Ga") == 9
    points = {f"frame-B32-{name}": {"numbers": atoms.numbers.tolist(), "positions_A": atoms.positions.tolist(),
                                    "cell_A": atoms.cell.array.tolist(), "energy_eV": student.get_potential_energy(atoms),
                                    "forces_eV_A": student.get_forces(atoms).tolist()}
              for name, atoms in frames.items()}  # single_point's record, labelled by the student instead of DFT

    def relaxed(atoms):
        return {"symbols": atoms.get_chemical_symbols(), "positions_A": atoms.positions.tolist(),
                "cell_A": atoms.cell.array.tolist(), "energy_eV_atom": student.get_potential_energy(atoms) / len(atoms)}

    points |= {"relaxed-bcc-Li": relaxed(liga.bcc_li(3.44)), "relaxed-B32-LiGa": relaxed(liga.liga_b32(6.25, True))}
    rows = alloy_anchors.b32_defect_rows(student, points)
    assert [r["quantity"] for r in rows] == ["V_Li formation energy in LiGa, Li-rich (eV)",
                                             "Ga_Li formation energy in LiGa, Li-rich (eV)"]
    assert [r["defect"] for r in rows] == ["V_Li", "Ga_Li"]
    assert all(r["difference"] == pytest.approx(0.0, abs=1e-6) for r in rows)
    assert all(r["dft_fmax_eV_A"] < 0.011 for r in rows)  # relaxed to 0.01 eV/Å by the same potential
    # the formula: V_Li at the Li-rich end is E(V) − E(perfect) + μ_Li
    energies = {k: student.get_potential_energy(a) for k, a in frames.items()}
    mu_li = points["relaxed-bcc-Li"]["energy_eV_atom"]
    assert rows[0]["dft"] == pytest.approx(energies["V_Li"] - energies["perfect"] + mu_li)
    assert 0.0 < rows[0]["dft"] < 2.0


def test_the_liga_campaign_adds_the_points_built_at_the_dft_lattice_once_it_has_one(tmp_path):
    from toolkit import alloy_anchors
    from toolkit.store import ResultsStore

    before = alloy_anchors.campaign(ResultsStore(tmp_path / "store"), tmp_path)
    assert "relaxed-B32-LiGa" in before and "frame-B32-V_Li" not in before and "hop-bcc-Li-images" not in before
    shipped = alloy_anchors.campaign(ResultsStore(tmp_path / "store"), dft.ANCHOR_DIR)
    assert {"frame-B32-perfect", "frame-B32-V_Li", "frame-B32-Ga_Li", "hop-bcc-Li-images",
            "vacancy-bcc-Li"} <= set(shipped)


@needs_gpaw
def test_pbesol_generates_its_setups_once_and_records_them(tmp_path, monkeypatch):
    """gpaw-data ships no PBEsol setups: they are made on first use, hashed, and on GPAW's path only while it runs."""
    import gpaw

    monkeypatch.setenv("TOOLKIT_STORE", str(tmp_path))
    settings = dft.DFTSettings(mode="pw", ecut_eV=300.0, kpoint_density_per_A=2.0, smearing_eV=0.1)
    assert load_potential("gpaw-pbesol").info.name == "gpaw-pbesol"
    pbesol, pbe = dft.load_dft("gpaw-pbesol", settings), dft.load_dft("gpaw-pbe", settings)
    assert "generated by GPAW" in pbesol.info.source and "Li" in pbesol.info.elements
    paths = list(gpaw.setup_paths)
    atoms = bulk("Li", "bcc", a=3.43)
    e_pbesol, e_pbe = energy(atoms, pbesol), energy(atoms, pbe)
    assert gpaw.setup_paths == paths and (tmp_path / "gpaw-setups" / "PBEsol" / "Li.PBEsol").is_file()
    assert abs(e_pbesol - e_pbe) > 0.01  # another functional, another energy
    (digest,) = dft.setup_hashes(atoms, pbesol).values()
    assert digest == file_sha256(tmp_path / "gpaw-setups" / "PBEsol" / "Li.PBEsol")
    assert energy(atoms, pbesol) == pytest.approx(e_pbesol, abs=1e-6)  # the same setup again, not a new one
