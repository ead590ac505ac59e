"""Research campaigns: one file per finished point, with provenance; a rerun computes nothing; failures are named."""

import json
from dataclasses import replace

import numpy as np
import pytest

from toolkit import amorphous as am
from toolkit import campaign
from toolkit.__main__ import main
from toolkit.campaign import Point, run_campaign
from toolkit.claims import FAILS, HOLDS, UNDECIDED, verdict
from toolkit.studies import liga_alloy as ls
from toolkit.studies import liga_alloy_research as lr


@pytest.fixture
def folder(monkeypatch, tmp_path):
    """Points go to a temporary reference-data folder, not the package's."""
    monkeypatch.setattr(campaign, "REFERENCE_DIR", tmp_path)
    return tmp_path


def li_energy(potential, a_A: float) -> dict:
    """A toy research point: the energy (eV/atom) of bcc Li at lattice parameter ``a_A``."""
    from toolkit.liga import bcc_li

    atoms = bcc_li(a_A)
    atoms.calc = potential
    if a_A < 2:
        raise ValueError(f"a = {a_A} Å puts the atoms on top of each other")
    return {"energy_eV_atom": atoms.get_potential_energy() / len(atoms)}


def test_points_are_files_with_provenance_and_a_failure_is_named(folder, caplog):
    points = [Point(f"li-{a}", li_energy, lr.STUDENT, {"a_A": a}) for a in (3.3, 1.0, 3.5)]
    with pytest.raises(RuntimeError, match=r"1 of 3 points failed in reproduce toy: li-1.0: ValueError: a = 1.0 Å"):
        run_campaign("toy", points)
    # logged when it happened, before the point after it ran: a campaign may have hours left when a point fails
    failed = next(r for r in caplog.records if "li-1.0 failed: ValueError" in r.getMessage())
    assert failed.levelname == "WARNING" and any("li-3.5 done" in r.getMessage()
                                                 for r in caplog.records[caplog.records.index(failed):])
    written = sorted(p.name for p in (folder / "toy").iterdir())
    assert written == ["li-3.3.json", "li-3.5.json"]  # the failure cost the other points nothing
    record = json.loads((folder / "toy" / "li-3.5.json").read_text())
    assert record["point"] == "li-3.5" and np.isfinite(record["result"]["energy_eV_atom"])
    prov = record["provenance"]
    assert prov["potential"]["name"] == "student:liga-alloy" and len(prov["potential"]["sha256"]) == 64
    assert prov["parameters"] == {"task": "test_campaign.li_energy", "a_A": 3.5}
    assert prov["versions"]["torch"] and prov["wall_time_s"] >= 0
    assert [p.name for p in campaign.missing("toy", points)] == ["li-1.0"]
    with pytest.raises(ValueError, match="names a file"):
        Point("../escape", li_energy, lr.STUDENT)


def test_study_three_points_resume_and_assemble_into_its_claims(folder, capsys):
    """Two of study 3's own research points at small settings: a hop and an MD replica, then the claims they allow."""
    small = ls.LigaSettings.quick(li_supercell=2, md_steps=400, md_blocks=2, md_replicas=1,
                                  md_temperatures_K={"LiGa (B32)": [600], "Li (bcc)": [400]})
    points = [p for p in lr.campaign(small) if p.name in ("hop-Li-bcc-student-liga-alloy",
                                                           "md-LiGa-B32-600K-seed0-student-liga-alloy")]
    assert len(points) == 2
    with pytest.warns(UserWarning):  # 0.7 ps blocks are too short to be diffusive, and the step says so
        assert len(run_campaign("liga-alloy", points, progress=False)) == 2
    assert run_campaign("liga-alloy", points, progress=False) == []  # resumed: nothing left
    research = lr.research_result(campaign.finished("liga-alloy"))
    assert set(research["barrier_eV"]["student:liga-alloy"]) == {"Li (bcc)"}
    row = research["D_Li"]["LiGa (B32)"][600.0]
    assert row["replicas"] == 1 and row["D_cm2_s"] > 0 and row["D_err_cm2_s"] > 0 and row["hops"] >= 0
    assert row["vacancy_fraction"] == pytest.approx(1 / 16)
    assert row["D_from_1ps_cm2_s"] is None  # 0.7 ps of run: no MSD past 1 ps to check the block D with
    assert "arrhenius" in research and not research["arrhenius"]  # one temperature: no fit yet
    record = json.loads((folder / "liga-alloy" / "md-LiGa-B32-600K-seed0-student-liga-alloy.json").read_text())
    assert record["provenance"]["seeds"] == {"md": 0}
    assert record["provenance"]["parameters"]["settings"]["md_steps"] == 400
    assert len(record["result"]["msd_A2"]) == len(record["result"]["msd_lag_ps"]) > 5


def test_reproduce_status_lists_what_is_left(folder, capsys):
    assert main(["reproduce", "liga-alloy", "--status", "--only", "hop-"]) == 0
    out = capsys.readouterr().out
    assert "0 of 4 research point(s) committed" in out and "to compute: hop-LiGa-B32-chgnet (chgnet)" in out
    assert main(["reproduce", "no-such-study"]) == 2


def test_verdicts_account_for_the_error():
    assert verdict(0.3, 0.1, 0.0) == HOLDS
    assert verdict(0.1, 0.1, 0.0) == UNDECIDED
    assert verdict(-0.3, 0.1, 0.0) == FAILS
    assert verdict(-0.3, 0.1, 0.0, above=False) == HOLDS
    with pytest.raises(ValueError, match="non-negative"):
        verdict(1.0, float("nan"), 0.0)


def test_study_schemas_are_valid_and_name_what_a_summary_lacks():
    import jsonschema

    from toolkit.studies import SCHEMA_DIR

    for path in SCHEMA_DIR.glob("*.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))
    schema = json.loads((SCHEMA_DIR / "liga-alloy.json").read_text())
    with pytest.raises(jsonschema.ValidationError, match="'claims' is a required property"):
        jsonschema.validate({k: None for k in schema["required"] if k != "claims"}, schema)


def test_run_composes_study_three_and_its_summary_fits_the_schema():
    """``run`` on tiny settings: every step once, and ``to_summary`` with the claim table is what the schema says."""
    import jsonschema

    from toolkit.potentials import load_potential
    from toolkit.studies import SCHEMA_DIR

    student = load_potential(lr.STUDENT, device="cpu")
    tiny = ls.LigaSettings.quick(alloy_supercell=1, li_supercell=2, max_defects=1, neb_images=3, md_steps=240,
                                 md_blocks=2, md_temperatures_K={"LiGa (B32)": [500, 700], "Li (bcc)": [300, 400]})
    with pytest.warns(UserWarning):  # picosecond blocks: the step says D is not yet diffusive
        result = ls.run(tiny, student, progress=False)
    assert set(result.diffusion) == {"LiGa (B32)", "Li (bcc)"}
    assert [r.seed for r in result.diffusion["Li (bcc)"]] == [0, 1]
    summary = result.to_summary(lr.claim_rows(result, {}))
    assert [c["verdict"].endswith("(quick run only)") for c in summary["claims"]][3:] == [True, True]
    # with research points the verdicts are the research result's, the DFT correction of E_v applied to them
    research = {"solid_solution": {"potential": student.info.name, "x_range": [0.45, 0.55], "voltage_in_range_V": [0.2, 0.6],
                                   "table": result.solution.table, "family": result.solution.family},
                "D_Li": {"LiGa (B32)": {300.0: {"D_cm2_s": 1e-6, "D_err_cm2_s": 1e-7}}},
                "D_Li_metal_equilibrium_cm2_s": [1e-9, 1e-10]}
    shifted = ls.LigaResult(tiny, result.phases, result.solution, result.hops, result.diffusion,
                            [{"quantity": "vacancy formation energy in bcc Li (eV)", "potential": 0.40, "dft": 0.52,
                              "difference": -0.12, "potential_name": student.info.name},
                             {"quantity": "V_Li formation energy in LiGa, Li-rich (eV)", "defect": "V_Li",
                              "potential": 0.50, "dft": 0.12,
                              "difference": 0.38, "dft_fmax_eV_A": 0.16, "potential_name": student.info.name},
                             {"quantity": "bcc Li vacancy hop, image 3 − start (eV)", "potential": 0.164, "dft": 0.147,
                              "difference": 0.017}])
    claims = lr.claim_rows(shifted, research)

    def claim(start):
        return next(row for row in claims if row["claim"].startswith(start))

    faster = claim("Li moves faster")
    decades = 0.12 / (8.617333e-5 * 300 * np.log(10))  # D(Li metal) is lowered by the DFT correction
    assert float(faster["research"].split(" ± ")[0]) == pytest.approx(3 + decades, abs=0.05)
    assert faster["verdict"] == HOLDS and "10^-2.0" in faster["against_dft"]
    assert claim("LiGa is one phase")["research"] == "0.450–0.550" and claim("No Li plating")["verdict"] == HOLDS
    assert "V_Li 0.50 vs 0.12 eV" in claim("LiGa is one phase")["against_dft"]
    assert "the research range with DFT's defect energies: " in claim("LiGa is one phase")["against_dft"]
    assert "bcc Li hop path, middle − start: +164 vs +147 meV" in faster["against_dft"]
    assert "no LiGa hop anchor" in faster["against_dft"]
    summary |= {"potential": student.info.name,
                "provenance": {"potential": {}, "parameters": {}, "seeds": {}, "versions": {}, "wall_time_s": 0}}
    jsonschema.validate(json.loads(json.dumps(summary)), json.loads((SCHEMA_DIR / "liga-alloy.json").read_text()))


def test_run_composes_study_one_and_its_summary_fits_the_schema():
    """Study 1's ``run`` on a tiny cell (2 formula units, one Y): every step once; its summary is what the schema
    says, with the research rows and their verdict, and the claim is decided on numbers that are there."""
    import jsonschema

    from toolkit.potentials import load_potential
    from toolkit.studies import SCHEMA_DIR
    from toolkit.studies import proton_phonon as pp
    from toolkit.studies import proton_phonon_research as pr

    student = load_potential(pr.STUDENT, device="cpu")
    tiny = replace(pp.ProtonSettings.quick(doped_cells=2), host_supercell=1, relax_fmax_eV_A=0.1, neb_images=3,
                   neb_fmax_eV_A=0.2, neb_max_steps=30, amplitudes_A=(-0.1, -0.05, 0.0, 0.05, 0.1), md_steps=20)
    result = pp.run(tiny, student, progress=False)
    research = pr.research_result(campaign.finished("proton-phonon"))
    summary = result.to_summary(research, pr.research_verdict(research))
    assert summary["y_fraction"] == pytest.approx(0.5)
    assert set(summary["barriers_eV"]) == {"transfer near Y", "rotation near Y", "transfer far from Y",
                                           "rotation far from Y"}
    assert summary["y_induced_instability"] == (bool(summary["doped_imaginary_freqs_THz"]
                                                     or summary["y_doped_no_H_imaginary_freqs_THz"])
                                                and not summary["pristine_supercell_imaginary_freqs_THz"])
    assert summary["softest_mode_freq_THz"] == pytest.approx(result.soft.frequency_THz)
    assert summary["research_instability_verdict"] in (HOLDS, FAILS) or summary["research_instability_verdict"].startswith("undecided")
    summary |= {"potential": student.info.name,
                "provenance": {"potential": {}, "parameters": {}, "seeds": {}, "versions": {}, "wall_time_s": 0}}
    schema = json.loads((SCHEMA_DIR / "proton-phonon.json").read_text())
    jsonschema.validate(json.loads(json.dumps(summary)), schema)
    with pytest.raises(jsonschema.ValidationError, match="'dEa_dQ_eV_per_A' is a required property"):
        jsonschema.validate({k: v for k, v in json.loads(json.dumps(summary)).items() if k != "dEa_dQ_eV_per_A"},
                            schema)


def test_research_verdict_of_study_one_needs_the_ten_percent_cell_and_agreeing_displacements():
    from toolkit.studies import proton_phonon_research as pr

    def row(n, y, well, potential=pr.STUDENT):
        return {"potential": potential, "n_formula_units": n, "y_induced": y, "y_induced_well": well}

    assert pr.research_verdict([row(8, True, True)]).startswith("undecided")
    assert pr.research_verdict([row(8, True, True), row(10, False, False), row(10, False, True)]) == FAILS
    assert pr.research_verdict([row(10, True, True), row(10, True, True)]) == HOLDS
    assert pr.research_verdict([row(10, True, True), row(10, False, False)]) == "undecided: the displacements disagree"
    assert pr.research_verdict([row(10, True, True, potential="chgnet")]).startswith("undecided")
    # DFT on the decisive cell's softest mode: agreeing leaves the verdict, disagreeing makes it undecided
    mode = {"n_formula_units": 10, "cell": "Y-doped", "potential": 0.8, "dft": 0.5}
    assert pr.research_verdict([row(10, False, False)], [mode]) == FAILS
    assert pr.research_verdict([row(10, False, False)], [{**mode, "dft": -0.4}]).startswith(
        "undecided: DFT finds the softest mode of the 10 % Y-doped cell unstable")
    assert pr.research_verdict([row(10, False, False)], [{**mode, "n_formula_units": 8, "dft": -0.4}]) == FAILS


def test_run_composes_study_two_and_its_summary_fits_the_schema():
    import jsonschema

    from toolkit.potentials import load_potential
    from toolkit.studies import SCHEMA_DIR
    from toolkit.studies import oxyhalide_volcano as ov

    student = load_potential("student:oxyhalide-volcano", device="cpu")
    quick = ov.VolcanoSettings.quick()
    tiny = ov.VolcanoSettings.quick(x_values=(1.0,), md_ps=0.2, md_temperatures_K=(1000.0,), md_blocks=2,
                                    protocol=replace(quick.protocol, melt_ps=0.05, anneal_ps=0.02, quench_stages=1,
                                                     relax_fmax_eV_A=0.3))
    with pytest.warns(UserWarning):  # sub-picosecond blocks: the step says D is not yet diffusive
        result = ov.run(tiny, student, progress=False)
    summary = result.to_summary()
    assert [c["x"] for c in summary["compositions"]] == [1.0] and summary["claims"] == []
    assert summary["compositions"][0]["sigma_300K_S_cm"] is None  # one temperature: no Arrhenius fit
    assert set(summary["descriptor_correlation_with_log_sigma"]) == set(ov.descriptors(result.structure.by_x))
    shipped = [name for name in ov.ga.load_points() if name.startswith("frame-")]
    assert summary["against_dft"]["n_frames"] == len(shipped)  # the student beside every shipped DFT frame
    summary |= {"potential": student.info.name,
                "provenance": {"potential": {}, "parameters": {}, "seeds": {}, "versions": {}, "wall_time_s": 0}}
    jsonschema.validate(json.loads(json.dumps(summary)), json.loads((SCHEMA_DIR / "oxyhalide-volcano.json").read_text()))


def test_shipped_research_points_carry_provenance_and_were_made_by_the_potentials_that_ship():
    """A research point made by a potential file that no longer ships is stale: its hash says so."""
    from toolkit.__main__ import CAMPAIGNS
    from toolkit.calculator import file_sha256
    from toolkit.potentials import FALLBACK, STUDENT_PREFIX, chgnet_weights_path, student_path

    shipped = {FALLBACK: file_sha256(chgnet_weights_path())}
    for study in CAMPAIGNS:
        shipped[STUDENT_PREFIX + study] = file_sha256(student_path(study))
    for study in CAMPAIGNS:
        for name, record in campaign.finished(study).items():
            prov = record["provenance"]
            assert record["point"] == name and record["result"], name
            assert prov["potential"]["sha256"] == shipped[prov["potential"]["name"]], f"{name} is stale"
            assert prov["parameters"]["task"].startswith("toolkit.studies.") and prov["wall_time_s"] > 0, name
            assert prov["versions"]["toolkit"] and prov["command"] == "python -m toolkit reproduce", name


def test_a_point_another_run_finishes_meanwhile_is_not_computed_again(tmp_path):
    """Two runs of one campaign side by side: a point the other run wrote after this one started is skipped."""
    from toolkit.campaign import compute_in_order

    calls = []

    def first():
        calls.append("a")
        (tmp_path / "b.json").write_text('{"by": "the other run"}')  # the other run finishes b meanwhile
        return {"value": 1}

    written = compute_in_order(tmp_path, {"a": first, "b": lambda: calls.append("b") or {"value": 2}}, "test",
                               progress=False)
    assert calls == ["a"] and [p.stem for p in written] == ["a"]


def test_the_dft_corrected_range_is_the_research_range_moved_by_the_defect_anchors():
    """No correction gives back the committed range; V_Li made 0.44 eV cheaper (DFT against CHGNet in the 16-atom
    cell) and Ga_Li 1 eV dearer moves the Li-poor edge from the Ga_Li configurations to the V_Li ones."""
    from pathlib import Path

    import toolkit

    shipped = Path(toolkit.__file__).parent / "reference_data" / "liga-alloy" / "solid-solution-chgnet.json"
    solution = json.loads(shipped.read_text())["result"]
    full = ls.LigaSettings.full()
    n, tolerance = 4 * full.alloy_supercell ** 3, full.hull_tolerance_eV_atom  # the 4-atom primitive cell repeated
    assert lr.dft_corrected_range(solution, {}, n, tolerance) == pytest.approx(solution["x_range"])
    rows = {"V_Li": {"difference": 0.44}, "Ga_Li": {"difference": -1.0}}
    low, high = lr.dft_corrected_range(solution, rows, n, tolerance)
    assert high == pytest.approx(solution["x_range"][1])
    assert low == pytest.approx(solution["table"]["B32 4 V_Li"]["x"]) and low > solution["x_range"][0]


def test_study_one_campaign_ends_with_the_coupling_which_the_instability_rows_leave_out():
    from toolkit.studies import proton_phonon_research as pr

    points = pr.campaign()
    assert points[-1].name == "coupling-8fu-student-proton-phonon" and points[-1].potential == pr.STUDENT
    assert sum(p.name.startswith("instability-") for p in points) == len(pr.CELL_SIZES) * (len(pr.DISPLACEMENTS_A) + 1)
    assert pr.research_result({"coupling-8fu-student-proton-phonon": {"result": {}, "provenance": {}}}) == []


def test_study_two_points_resume_and_assemble_into_its_claims(folder):
    """Study 2's own research points at tiny settings: two teacher glasses per x, the teacher's MD on them, the
    student's spot check, and the claims they allow."""
    from toolkit.studies import oxyhalide_volcano as ov
    from toolkit.studies import oxyhalide_volcano_research as orr

    # the teacher (CHGNet) runs every step here, one call after another: the fewest steps that make a glass and a
    # D with an error
    tiny = ov.VolcanoSettings.quick(x_values=(1.0, 2.0), seeds=(0, 1), md_ps=0.4, md_blocks=2,
                                    md_temperatures_K=(900.0, 1200.0),
                                    protocol=am.MeltQuench(melt_ps=0.1, quench_rate_K_per_ps=12000.0, quench_stages=2,
                                                           anneal_ps=0.05, relax_fmax_eV_A=0.2, relax_max_steps=50))
    points = orr.campaign(tiny)
    assert [p.name for p in points][:5] == ["glass-x1-seed0-chgnet", "glass-x2-seed0-chgnet", "glass-x1-seed1-chgnet",
                                            "glass-x2-seed1-chgnet", "md-x1-seed0-chgnet"]
    assert points[-1].name == "md-x1-seed0-student-oxyhalide-volcano"  # x = 0.5 is not among these settings
    with pytest.raises(RuntimeError, match="needs the glass point glass-x1-seed0-chgnet"):
        orr.research_md(None, tiny.to_dict(), "glass-x1-seed0-chgnet", 0, [900.0])
    with pytest.warns(UserWarning):  # 1 ps blocks are too short to be diffusive, and the step says so
        assert len(run_campaign("oxyhalide-volcano", points, progress=False)) == 9
    assert run_campaign("oxyhalide-volcano", points, progress=False) == []  # resumed: nothing left
    research = orr.research_result(campaign.finished("oxyhalide-volcano"))
    checks = research["spot_checks"]
    assert [c["temperature_K"] for c in checks] == [900.0, 1200.0] and {c["x"] for c in checks} == {1.0}
    assert all(np.isfinite(c["D_cm2_s"][p]).all() for c in checks for p in (orr.TEACHER, orr.STUDENT))
    assert set(research["volcano"]) == {1.0, 2.0} and research["volcano"][1.0]["n_glasses"] == 2
    assert sum(research["peak_bootstrap"].values()) <= 1.0 and set(research["inverse_haven_ratio"][2.0]) == {900.0, 1200.0}
    assert research["glasses"][2.0]["n_atoms"] == 2 + 10 + 8 + 4 and research["glasses"][1.0]["density_g_cm3"][1] > 0
    # runs whose half is under 1 ps are too short to tell diffusion from vibration: no exponent, not a guess
    assert all(a is None for v in research["volcano"].values() for a in v["msd_exponent"].values())
    md = json.loads((folder / "oxyhalide-volcano" / "md-x2-seed1-chgnet.json").read_text())
    assert md["provenance"]["seeds"] == {"md": 1} and md["result"]["glass"] == "glass-x2-seed1-chgnet"
    d, err = md["result"]["by_temperature"]["900"]["D_sigma_cm2_s"]
    assert np.isfinite(d) and err > 0
    curve = md["result"]["by_temperature"]["900"]["msd_fs_A2"]  # Li's MSD at log-spaced lags, kept in the point
    assert curve in research["msd_fs_A2"][2.0][900.0] and np.all(np.diff(np.array(curve)[:, 0]) > 0)
    records = campaign.finished("oxyhalide-volcano")
    glasses = {x: [orr.glass_atoms(records[orr.glass_name(x, k)]["result"]) for k in (0, 1)]
               for x in (1.0, 2.0)}
    for x, group in glasses.items():
        for g in group:
            g.info["melt_quench"] = {"density_g_cm3": 2.5}
    made = {n: r["result"] for n, r in records.items() if n.startswith("glass-")}
    rows = orr._rows({n: r["result"] for n, r in records.items() if n.startswith("md-") and n.endswith(orr.TEACHER)}, made)
    quick = ov.VolcanoResult(tiny, glasses, ov.structure(glasses), rows)  # a live run on the same glasses
    claims = orr.claim_rows(quick, research, {"rows": [], "force_rmse_eV_A": {"md 700 K": 0.27}})
    assert [c["claim"].split(" ")[0] for c in claims] == ["σ(x)", "the", "O", "the", "Li"]
    assert all(set(c) == {"claim", "decided_by", "quick", "research", "against_dft", "literature", "verdict"}
               and all(isinstance(v, str) for v in c.values()) for c in claims)
    assert "force RMSE md 700 K 0.27 eV/Å" in claims[0]["against_dft"]
    assert claims[4]["research"].endswith("(4 x–T pairs)") or claims[4]["research"] == "not computed yet"


def test_study_two_decides_o_entering_the_ta_shell_on_a_line_through_every_glass():
    """CN(Ta–O) against x: one line through every glass, its error from the scatter about it."""
    from types import SimpleNamespace

    from toolkit.studies import oxyhalide_volcano_research as orr

    assert orr._slope([1.0, 2.0], [1.0, 2.0]) is None and orr._slope([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None
    slope, err = orr._slope([0.5, 1.0, 1.5, 2.0, 1.0], [0.5, 1.2, 1.4, 2.1, 0.8])
    assert slope == pytest.approx(1.0, abs=0.15) and 0 < err < 0.3
    live = SimpleNamespace(transport={}, structure=SimpleNamespace(by_x={
        x: {"coordination": {"Ta-O": cn, "Li-Cl": 3.0}, "motifs": {}, "bridging_O": 0.1}
        for x, cn in ((1.0, 1.0), (2.0, 1.6), (3.0, 3.1))}))
    glasses = {x: {"n": 2} for x in (1.0, 2.0, 3.0)}

    def row(found):
        return orr.claim_rows(live, {"glasses": glasses, "CN_Ta_O_slope": found})[2]

    assert row([0.9, 0.08])["research"] == "+0.90 ± 0.08 (6 glasses)" and row([0.9, 0.08])["verdict"] == HOLDS
    assert row([0.1, 0.08])["verdict"] == UNDECIDED and row([-0.5, 0.1])["verdict"] == FAILS
    quick_only = row(None)
    assert quick_only["quick"] == "+1.05 ± 0.26" and quick_only["verdict"] == f"{HOLDS} (quick run only)"


def test_study_two_sigma_claims_wait_for_every_composition_and_a_diffusive_msd():
    """σ(x) is decided only on a research fit at every x, and not where Li's MSD is still sub-diffusive."""
    from types import SimpleNamespace

    from toolkit.studies import oxyhalide_volcano_research as orr
    from toolkit.studies.oxyhalide_volcano import VolcanoSettings

    xs = VolcanoSettings.full().x_values
    live = SimpleNamespace(transport={1.0: {"fit": None}, 2.0: {"fit": None}}, structure=SimpleNamespace(by_x={
        x: {"coordination": {"Ta-O": x, "Li-Cl": 3.0}, "motifs": {"TaO1Cl5": 1.0}, "bridging_O": 0.1} for x in (1.0, 2.0)}))

    def research(exponent, compositions=xs):
        return {"volcano": {x: {"sigma_300K_S_cm": [2e-3 if x == 1.5 else 1e-3, 1e-4],
                                "msd_exponent": {600.0: exponent, 900.0: 1.0}} for x in compositions},
                "peak_x": 1.5, "peak_bootstrap": {x: float(x == 1.5) for x in compositions}}

    assert [r["verdict"] for r in orr.claim_rows(live, research(1.0))[:2]] == [HOLDS, HOLDS]
    caged = orr.claim_rows(live, research(0.7))
    assert caged[0]["verdict"] == caged[1]["verdict"] == f"{UNDECIDED} (Li MSD sub-diffusive: α down to 0.70)"
    partial = orr.claim_rows(live, research(1.0, xs[:4]))
    assert partial[0]["research"] == "4 of 6 compositions fitted so far" and partial[0]["verdict"].endswith("(quick run only)")
