"""Each study notebook, run headless in quick mode as `make run` does, writes the summary its issue fixes."""

import json

import numpy as np
import pytest

from toolkit.runner import run_all

pytestmark = pytest.mark.slow
#: each study and the test of its quick run
STUDY_TESTS = {"proton-phonon": "test_proton_phonon_quick_mode", "liga-alloy": "test_liga_alloy_quick_mode",
               "oxyhalide-volcano": "test_oxyhalide_volcano_quick_mode",
               "your-material": "test_your_material_quick_mode"}


@pytest.fixture(scope="module")
def quick_runs(request, study_store, tmp_path_factory):
    """The selected tests' studies, run side by side as `make run JOBS=3` runs them, into the shared store."""
    selected = {item.name for item in request.session.items if item.module is request.module}
    studies = [study for study, test in STUDY_TESTS.items() if test in selected]
    out = tmp_path_factory.mktemp("quick-runs")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TOOLKIT_OFFLINE", "1")
        env.setenv("XDG_CACHE_HOME", str(out / "cache"))  # no MACE-MP-0: auto picks the offline fallback
        env.setenv("TOOLKIT_STORE", str(study_store))
        try:
            run_all("quick", out, studies=studies, jobs=len(studies))
        except RuntimeError:
            pass  # each test fails on its own study, with its log
    return out


def validate_summary(study: str, summary: dict) -> None:
    """``summary`` against the study's JSON Schema (``toolkit/studies/schemas/<study>.json``)."""
    import jsonschema

    from toolkit.studies import SCHEMA_DIR

    jsonschema.validate(summary, json.loads((SCHEMA_DIR / f"{study}.json").read_text()))


def quick_run(runs, study):
    """(summary, output folder) of ``study``'s quick run."""
    folder = runs / study
    if not (folder / "summary.json").is_file():
        log = folder / "run.log"
        pytest.fail(f"{study} wrote no summary.json; the end of its log:\n"
                    + (log.read_text()[-6000:] if log.is_file() else "(no log)"))
    return json.loads((folder / "summary.json").read_text()), folder


def test_proton_phonon_quick_mode(quick_runs):
    summary, out = quick_run(quick_runs, "proton-phonon")
    validate_summary("proton-phonon", summary)
    for key in ("lattice_A", "pristine_lowest_freq_THz", "doped_imaginary_freqs_THz", "softest_mode_participation",
                "transfer_barrier_eV", "rotation_barrier_eV", "barrier_vs_amplitude", "potential", "provenance"):
        assert key in summary, key
    assert abs(summary["lattice_A"] / 4.116 - 1) < 0.03
    assert set(summary["pristine_lowest_freq_THz"]) == {"Γ", "X", "M", "R"}
    # the instability claim is decided on numbers that are there, not on an empty list passing vacuously
    threshold, softest = summary["imaginary_threshold_THz"], summary["softest_mode_freq_THz"]
    assert threshold > 0 and np.isfinite(softest)
    doped = summary["doped_imaginary_freqs_THz"]
    assert all(f < -threshold for f in doped)
    assert (min(doped) == pytest.approx(softest)) if doped else softest >= -threshold
    assert isinstance(summary["pristine_supercell_imaginary_freqs_THz"], list)
    assert summary["y_induced_instability"] == (bool(doped or summary["y_doped_no_H_imaginary_freqs_THz"])
                                                and not summary["pristine_supercell_imaginary_freqs_THz"])
    sites = summary["proton_sites"]
    assert len(sites) >= 3 and min(s["energy_eV"] for s in sites) == 0.0
    assert sum(summary["softest_mode_participation"].values()) == pytest.approx(1.0, abs=1e-6)
    rotation = summary["rotation_barrier_eV"]  # None: no rotated minimum (every 90° rotation relaxes back)
    assert (rotation is None or 0 < rotation < 1.0) and 0 < summary["transfer_barrier_eV"] < 1.5
    amplitudes = [a for a, _ in summary["barrier_vs_amplitude"]]
    assert len(amplitudes) >= 5 and 0.0 in amplitudes
    assert np.isfinite([b for _, b in summary["barrier_vs_amplitude"]]).all()
    # the coupling mode was chosen because it stretches the O–O pair, and the slope has a finite error
    assert abs(summary["coupling_mode"]["d_OO_per_Q"]) > 0.05 and summary["coupling_mode"]["frequency_THz"] <= 15
    d_oo = [d for _, d in summary["d_OO_vs_amplitude"]]
    assert max(d_oo) - min(d_oo) > 0.05 * (max(amplitudes) - min(amplitudes))
    if summary["dEa_dQ_eV_per_A"] is not None:
        slope, error = summary["dEa_dQ_eV_per_A"]
        assert np.isfinite(slope) and np.isfinite(error) and error >= 0
    # the intrinsic barrier E_a − ΔE/2 with the reaction energy taken out, fitted the same way
    assert [a for a, _ in summary["reaction_vs_amplitude"]] == amplitudes
    # fitted only where the transfer keeps a barrier, about the centre of those amplitudes
    kept = [(q, b - r / 2) for (q, b), (_, r) in zip(summary["barrier_vs_amplitude"], summary["reaction_vs_amplitude"])
            if b >= 1e-3]
    assert [q for q, _ in kept] == summary["fitted_amplitudes_A"]
    if len(kept) >= 4:
        q, intrinsic = np.array(kept).T
        assert summary["dE0_dQ_eV_per_A"][0] == pytest.approx(np.polyfit(q - (q.min() + q.max()) / 2, intrinsic, 2)[1],
                                                              abs=1e-9)
    assert summary["provenance"]["parameters"]["mode"] == "quick"
    assert summary["provenance"]["seeds"] == {"md": 0}
    for figure in ("host_phonons", "host_convergence", "gamma_spectra", "neb_profiles", "barrier_vs_amplitude"):
        assert (out / f"{figure}.png").is_file(), figure


def test_liga_alloy_quick_mode(quick_runs):
    summary, out = quick_run(quick_runs, "liga-alloy")
    validate_summary("liga-alloy", summary)
    for key in ("lattice_A", "formation_energy_eV_atom", "hull_phases", "defect_formation_eV", "single_phase_range_xLi",
                "voltage_V", "barrier_eV", "D_Li_cm2_s", "potential", "provenance"):
        assert key in summary, key
    assert abs(summary["lattice_A"]["LiGa (B32)"] / 6.207 - 1) < 0.03
    assert {"Li (bcc)", "Ga (alpha)"} <= set(summary["hull_phases"])
    low, high = summary["single_phase_range_xLi"]
    assert 0.0 < low <= 0.5 <= high < 1.0
    assert all(v >= -1e-6 for _, v in summary["voltage_V"])  # never below Li/Li+ on the hull
    assert set(summary["barrier_eV"]) == {"LiGa (B32)", "Li (bcc)"}
    for system, by_temperature in summary["D_Li_cm2_s"].items():
        assert len(by_temperature) >= 2, system
        assert all(err > 0 for _, err in by_temperature.values())
    for figure in ("hull", "solid_solution", "vacancy_hops", "arrhenius", "research_diffusion"):
        assert (out / f"{figure}.png").is_file(), figure
    # one row per claim, each with a verdict that accounts for its error, from the shipped research result
    from toolkit.claims import FAILS, HOLDS

    assert len(summary["claims"]) >= 4
    for claim in summary["claims"][:4]:
        assert claim["verdict"] in (HOLDS, FAILS) or claim["verdict"].startswith("undecided"), claim
    assert summary["li_vacancy_in_li_eV"] > 0
    # the transport section runs on the student exactly when the card agrees on the rows it names
    from toolkit.potentials import available_students
    from toolkit.students.cards import student_agrees

    rows = summary["provenance"]["parameters"]["transport_rows"]
    student = student_agrees(available_students()["liga-alloy"], rows)[0]
    assert summary["section_potentials"] == {"transport": "student:liga-alloy" if student else summary["potential"]}
    assert len(summary["provenance"]["section_potentials"]["transport"]["sha256"]) == 64


def test_oxyhalide_volcano_quick_mode(quick_runs):
    summary, out = quick_run(quick_runs, "oxyhalide-volcano")
    validate_summary("oxyhalide-volcano", summary)
    for key in ("compositions", "peak_x", "potential", "provenance"):
        assert key in summary, key
    rows = summary["compositions"]
    assert [row["x"] for row in rows] == [0.5, 1.0, 1.5, 2.0, 2.5]
    for row in rows:
        for key in ("x", "n_atoms", "density_g_cm3", "coordination", "D_Li_cm2_s", "Ea_eV", "sigma_300K_S_cm"):
            assert key in row, key
        assert row["n_atoms"] == 2 * (6 + 3 * row["x"])  # 2 x (Ta Cl5 + x Li2O)
        assert 1.0 < row["density_g_cm3"] < 5.0
        assert set(row["coordination"]) == {"Ta-O", "Ta-Cl", "Li-O", "Li-Cl"}
        assert len(row["D_Li_cm2_s"]) >= 2 and all(err > 0 for _, err in row["D_Li_cm2_s"].values())
    fitted = [row for row in rows if row["sigma_300K_S_cm"]]
    assert summary["peak_x"] == max(fitted, key=lambda row: row["sigma_300K_S_cm"][0])["x"]
    assert summary["provenance"]["parameters"]["mode"] == "quick"
    # the transport section runs on the student exactly when the card agrees on its rows (D at 1000 K)
    from toolkit.potentials import available_students
    from toolkit.students.cards import STUDENT_SECTIONS, student_agrees

    student = student_agrees(available_students()["oxyhalide-volcano"], STUDENT_SECTIONS["oxyhalide-volcano"]["transport"])[0]
    assert summary["section_potentials"] == {"transport": "student:oxyhalide-volcano" if student else summary["potential"]}
    for figure in ("rdfs", "coordination", "volcano", "descriptors"):
        assert (out / f"{figure}.png").is_file(), figure


def test_your_material_quick_mode(quick_runs):
    """Notebook 04 on its default example (Li3N, Li): every step ran, and its numbers are physical."""
    summary, out = quick_run(quick_runs, "your-material")
    validate_summary("your-material", summary)
    assert summary["formula"] == "Li3N" and summary["ion"] == "Li" and summary["source"] == "Li3N"
    assert abs(summary["lattice_A"][0] / 3.648 - 1) < 0.05  # alpha-Li3N, a = 3.648 Å
    assert summary["phonons"]["displacement_check"]
    d = {float(t): v for t, v in summary["D_cm2_s"].items()}
    assert len(d) >= 2 and all(value > 0 and error > 0 for value, error in d.values())
    assert all(len(runs) == 2 for runs in summary["D_runs_cm2_s"].values())
    assert (summary["sigma_S_cm"] is None) == (summary["fit_problem"] is not None)
    for figure in ("phonons", "arrhenius"):
        assert (out / f"{figure}.png").is_file(), figure
