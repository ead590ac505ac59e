"""Distillation: sampling, teacher labels, mace-torch training, the model card, and the shipped students."""

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read

from toolkit.students import cards, distill, labels, samplers, sampling, training
from toolkit.calculator import PotentialUnavailableError, file_sha256
from toolkit.potentials import STUDENTS_DIR, available_students, load_potential


def test_rattled_and_strained_copies_are_seeded_and_labelled():
    base = bulk("Cu", "fcc", a=3.6, cubic=True)
    a = sampling.rattled_and_strained(base, 4, np.random.default_rng(1), kind="strained")
    b = sampling.rattled_and_strained(base, 4, np.random.default_rng(1), kind="strained")
    assert all(np.allclose(x.positions, y.positions) and np.allclose(x.cell, y.cell) for x, y in zip(a, b))
    assert {x.info["config_type"] for x in a} == {"strained"}
    strains = [np.abs(x.cell.lengths() / base.cell.lengths() - 1).max() for x in a]
    assert 0 < max(strains) <= 0.03 + 1e-9


def test_relaxation_frames_follow_the_teachers_cell_relaxation(emt, tmp_path):
    from toolkit.store import ResultsStore

    squeezed = bulk("Cu", "fcc", a=3.4, cubic=True)  # EMT's copper relaxes to a = 3.59 Å
    frames = sampling.relaxation_frames(squeezed, emt, 5, np.random.default_rng(0), ResultsStore(tmp_path),
                                       fmax_eV_A=0.01, rattle_A=0.0)
    assert len(frames) == 5 and {f.info["config_type"] for f in frames} == {"cell relax"}
    assert all(f.calc is None for f in frames)
    a = [f.cell.volume ** (1 / 3) for f in frames]  # the cubic cell's edge (Å)
    assert a[0] == pytest.approx(3.4) and a[-1] == pytest.approx(3.59, abs=0.02)
    assert len(set(np.round(a, 4))) == 5  # spread over the way, not five copies of one step
    again = sampling.relaxation_frames(squeezed, emt, 5, np.random.default_rng(0), ResultsStore(tmp_path),
                                      fmax_eV_A=0.01, rattle_A=0.0)  # read back from the store's checkpoint
    assert all(np.allclose(x.positions, y.positions) and np.allclose(x.cell, y.cell) for x, y in zip(frames, again))


def test_md_frames_keep_a_blown_up_runs_frames_only_when_asked(emt):
    from toolkit.validation import MDExplosionError

    hot = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    hot.positions += np.random.default_rng(0).normal(0, 0.25, hot.positions.shape)  # heats a 300 K run past 2000 K
    frames = sampling.md_frames(hot, emt, (300,), 40, 10, 0, None)  # a teacher's run: a blow-up only past 4500 K
    assert len(frames) == 4 and {f.info["config_type"] for f in frames} == {"md 300 K"}  # 5 samples, first dropped
    with pytest.raises(MDExplosionError):
        sampling.md_frames(hot, emt, (300,), 40, 10, 0, None, explode_factor=3.0)
    kept = sampling.md_frames(hot, emt, (300,), 40, 10, 0, None, explode_factor=3.0, blow_up_kind="student blow-up")
    assert len(kept) == 1 and kept[0].info["config_type"] == "student blow-up 300 K"
    assert np.allclose(kept[0].positions, hot.get_positions(wrap=True))  # the one frame before the blow-up: the start


def test_labels_are_the_teachers_and_survive_extxyz(emt, tmp_path):
    configs = sampling.rattled_and_strained(bulk("Cu", "fcc", a=3.6, cubic=True), 3, np.random.default_rng(0))
    labelled = labels.label(configs, emt, progress=False)
    for atoms in labelled:
        reference = atoms.copy()
        reference.calc = emt
        assert atoms.info[training.ENERGY_KEY] == pytest.approx(reference.get_potential_energy())
        assert np.allclose(atoms.arrays[training.FORCES_KEY], reference.get_forces())
        assert atoms.calc is None
    from ase.io import write

    write(tmp_path / "x.xyz", labelled, format="extxyz")
    back = read(tmp_path / "x.xyz", index=":")
    assert np.allclose(back[1].arrays[training.FORCES_KEY], labelled[1].arrays[training.FORCES_KEY])


def test_training_arguments_are_ones_mace_torch_accepts(tmp_path):
    from toolkit.potentials import import_mace

    import_mace()
    from mace.tools import build_default_arg_parser

    args = training.mace_train_arguments("x", tmp_path / "t.xyz", tmp_path, ("Li", "Ga"), training.StudentSettings(), 3)
    parsed = build_default_arg_parser().parse_args(args)
    assert parsed.seed == 3 and parsed.r_max == 5.0 and parsed.swa
    assert parsed.forces_key == training.FORCES_KEY and parsed.atomic_numbers == "[3, 31]"
    assert not parsed.pair_repulsion
    repulsive = training.StudentSettings(pair_repulsion=True)
    assert build_default_arg_parser().parse_args(
        training.mace_train_arguments("x", tmp_path / "t.xyz", tmp_path, ("Li",), repulsive, 3)).pair_repulsion


def test_a_finished_training_is_returned_untouched(tmp_path, monkeypatch):
    """Rerunning mace-torch on a finished training saves the model anew, under a new file hash, which
    would make the student's own stored runs miss; a finished one is returned as it is."""
    finished = tmp_path / "toy_stagetwo.model"
    finished.write_bytes(b"a finished model")
    monkeypatch.setattr(training.subprocess, "run", lambda *a, **k: pytest.fail("mace-torch ran again"))
    assert training.train("toy", [], tmp_path, ("Cu",), training.StudentSettings(), 0) == finished
    assert finished.read_bytes() == b"a finished model"


def test_a_student_that_breaks_a_workflow_is_reported_not_raised(monkeypatch):
    from toolkit.students import fidelity
    from toolkit.validation import OverlappingAtomsError

    def toy(potential, store, out, reference=None):
        out["lattice_A"] = 4.00 if potential == "teacher" else 4.01
        if potential == "student":  # a student that collapses the cell before the MD
            raise OverlappingAtomsError("1 pair(s) of atoms closer than 0.5 x the sum of covalent radii: Li0–Li1 0.3 Å")
        out["D_Li_1000K_cm2_s"] = (1e-5, 1e-6)

    monkeypatch.setitem(fidelity.PROPERTIES, "toy", toy)
    rows = fidelity.compare_properties("toy", "teacher", "student", store=object())
    assert rows["lattice_A"]["agrees"] and rows["lattice_A"]["student"] == 4.01
    failed = rows["D_Li_1000K_cm2_s"]
    assert failed["student"] is None and not failed["agrees"] and "Li0–Li1" in failed["failed"]
    assert failed["teacher"] == [1e-5, 1e-6] and failed["used_by_notebook"]


def toy_sampler(teacher, seed, scale, store):
    rng = np.random.default_rng(seed)
    cells = [bulk("Cu", "fcc", a=3.6, cubic=True), bulk("Al", "fcc", a=4.05, cubic=True)]
    return [c for cell in cells for c in sampling.rattled_and_strained(cell, max(2, int(12 * scale)), rng, 0.1, 0.03)]


def toy_refiner(student, teacher, seed, store, round_index):
    """The student's own relaxation of a squeezed copper cell."""
    squeezed = bulk("Cu", "fcc", a=3.4, cubic=True)
    return sampling.relaxation_frames(squeezed, student, 3, np.random.default_rng(seed), store, kind="student relax")


@pytest.mark.slow
def test_distill_end_to_end_on_a_toy_study(emt, tmp_path, monkeypatch):
    """Real mace-torch trainings (a few epochs) of a CuAl student of EMT, refined once with its own
    relaxation's frames, and its card."""
    from toolkit.store import ResultsStore

    monkeypatch.setitem(samplers.SAMPLERS, "toy", toy_sampler)
    monkeypatch.setitem(samplers.REFINERS, "toy", (toy_refiner, 1))
    monkeypatch.setitem(samplers.STUDY_ELEMENTS, "toy", ("Al", "Cu"))
    settings = training.StudentSettings(num_channels=8, num_interactions=1, correlation=2, max_epochs=6, batch_size=4)
    store = ResultsStore(tmp_path / "store")
    card = distill.distill("toy", emt, seed=0, settings=settings, out_dir=tmp_path, properties=False, store=store)
    model = tmp_path / "toy.model"
    assert card["model_sha256"] == file_sha256(model) and card["model_size_bytes"] < 2e6
    assert card["teacher"]["name"] == "emt" and card["seed"] == 0
    assert card["configurations"]["train_and_validation"] == {"strained": 24, "student relax": 3}
    # two trainings, the second on the first student's frames too; the shipped model is the second
    first, second = sorted((tmp_path / "store" / "distill").iterdir(), key=lambda d: d.stat().st_mtime)
    assert file_sha256(second / "toy_stagetwo.model") == card["model_sha256"] != file_sha256(first / "toy_stagetwo.model")
    assert "student's own" in card["refinement"]["how"]
    assert card["refinement"]["rounds"][0]["held_out_errors_before"]["n_configurations"] == 6
    assert card["refinement"]["rounds"][0]["by_kind"] == {"student relax": 3}
    assert "Refined in 1 round(s) with 3 teacher labels" in cards.card_markdown(card)
    assert card["configurations"]["held_out_test"] == {"strained": 6}
    errors = card["held_out_errors"]
    assert errors["n_configurations"] == 6 and np.isfinite(errors["force_rmse_meV_A"])
    assert json.loads((tmp_path / "toy.json").read_text())["held_out_errors"] == errors
    student = load_potential(str(model), dtype="float64", trust=True)
    # the card's held-out set comes back from the same seed and store, errors and all
    assert labels.errors(student, labels.held_out_set("toy", emt, 0, store)) == errors
    heldout = read(tmp_path / "toy-heldout.xyz", index=":")
    assert labels.errors(student, heldout)["n_configurations"] == len(heldout)

    def lattice(potential, store, out, reference=None):
        from toolkit.relax import relax

        out["lattice_A"] = float(relax(bulk("Cu", "fcc", a=3.6, cubic=True), potential, fmax_eV_A=0.01,
                                       store=store).cell.lengths()[0])

    from toolkit.students import fidelity

    monkeypatch.setitem(fidelity.PROPERTIES, "toy", lattice)
    before = json.loads((tmp_path / "toy.json").read_text())
    recompared = distill.recompare("toy", emt, out_dir=tmp_path, store=store)
    row = recompared["properties"]["lattice_A"]
    assert row["teacher"] == pytest.approx(3.59, abs=0.02) and row["agrees"] == (abs(row["student"] - row["teacher"]) <= 0.02)
    assert recompared["properties_recomputed"]["command"] == "python -m toolkit distill toy --teacher emt --recompare"
    assert file_sha256(model) == card["model_sha256"]  # the same student
    assert "recomputed for this same student by `python -m toolkit distill toy" in cards.card_markdown(recompared)
    assert json.loads((tmp_path / "toy.json").read_text()) == recompared
    assert {k: v for k, v in recompared.items() if not k.startswith("properties")} == before


def test_recompare_refuses_a_card_that_is_not_the_students_or_the_teachers(emt, tmp_path):
    import shutil

    card = available_students()["liga-alloy"]
    shutil.copy(STUDENTS_DIR / card["model_file"], tmp_path)
    (tmp_path / "liga-alloy.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="the teacher 'emt'.*is not the one on liga-alloy.json"):
        distill.recompare("liga-alloy", emt, out_dir=tmp_path)
    (tmp_path / "liga-alloy.json").write_text(json.dumps({**card, "model_sha256": "0" * 64}))
    with pytest.raises(ValueError, match="the student .* is not the one on liga-alloy.json"):
        distill.recompare("liga-alloy", emt, out_dir=tmp_path)


def test_retime_times_the_same_student_again_and_keeps_its_first_timing(tmp_path):
    import shutil

    card = available_students()["liga-alloy"]
    for name in (card["model_file"], "liga-alloy.json", "liga-alloy-heldout.xyz"):
        shutil.copy(STUDENTS_DIR / name, tmp_path)
    retimed = distill.retime("liga-alloy", "chgnet", out_dir=tmp_path)
    again = distill.retime("liga-alloy", "chgnet", out_dir=tmp_path)
    assert json.loads((tmp_path / "liga-alloy.json").read_text()) == again
    unchanged = {k: v for k, v in card.items() if k != "speed"}
    assert {k: v for k, v in again.items() if k != "speed"} == unchanged  # the same student, the same card
    speed, first = again["speed"], card["speed"].get("at_distillation", card["speed"])
    assert speed["at_distillation"] == first == retimed["speed"]["at_distillation"]
    probe = max(read(tmp_path / "liga-alloy-heldout.xyz", index=":"), key=len)
    assert (speed["n_atoms"], speed["cell"]) == (len(probe), probe.get_chemical_formula())
    assert speed["speedup"] == pytest.approx(speed["teacher_s_per_call"] / speed["student_s_per_call"])
    assert speed["retimed"]["command"] == "python -m toolkit distill liga-alloy --teacher chgnet --retime"
    assert (f"{first['speedup']:.1f}× when distilled, re-timed by `python -m toolkit distill liga-alloy"
            in cards.card_markdown(again))


@pytest.mark.parametrize("flag", ["--recompare", "--retime"])
@pytest.mark.parametrize("options", [["--seed", "3"], ["--epochs", "5", "--scale", "2"]])
def test_recompare_and_retime_refuse_training_options_they_would_ignore(flag, options, capsys):
    from toolkit.__main__ import main

    with pytest.raises(SystemExit) as stopped:
        main(["distill", "liga-alloy", flag, *options])
    assert stopped.value.code == 2
    named = [option for option in options if option.startswith("--")]
    assert f"{flag} keeps the shipped student and remeasures its card; {', '.join(named)} would change only a new " \
        "student's training" in capsys.readouterr().err


def test_unknown_students_name_what_there_is():
    with pytest.raises(PotentialUnavailableError, match="toolkit distill nope"):
        load_potential("student:nope")


SHIPPED = sorted(available_students())


def test_every_study_ships_a_student():
    assert SHIPPED == sorted(samplers.STUDY_ELEMENTS)


@pytest.mark.parametrize("study", SHIPPED)
def test_shipped_student_matches_its_card_and_its_held_out_errors(study):
    """The card is the student's: file hash, size, elements, and its held-out force error
    recomputed here on the configurations shipped beside it."""
    card = available_students()[study]
    model = STUDENTS_DIR / card["model_file"]
    assert file_sha256(model) == card["model_sha256"]
    assert model.stat().st_size < 2e6
    student = load_potential(f"student:{study}", device="cpu", dtype="float64")
    assert set(samplers.STUDY_ELEMENTS[study]) <= set(student.info.elements)
    assert student.info.sha256 == card["model_sha256"]
    heldout = read(STUDENTS_DIR / f"{study}-heldout.xyz", index=":")
    recomputed = labels.errors(student, heldout)
    shipped = card["shipped_held_out_errors"]
    assert recomputed["n_configurations"] == shipped["n_configurations"] > 5
    assert recomputed["force_rmse_meV_A"] == pytest.approx(shipped["force_rmse_meV_A"], rel=1e-4)
    assert recomputed["energy_rmse_meV_atom"] == pytest.approx(shipped["energy_rmse_meV_atom"], rel=1e-3, abs=1e-3)
    for name, row in card.get("properties", {}).items():  # a card may leave the table for later (--no-properties)
        assert {"teacher", "student", "tolerance", "agrees"} <= set(row), name
    if "anchor" in card:  # anchored on DFT: its errors on the shipped DFT frames, recomputed
        frames = labels.dft_training_frames(study, load_potential(card["teacher"]["name"]))
        assert len(frames) == card["anchor"]["frames"]
        again, shipped = labels.errors(student, frames), card["anchor"]["errors_on_dft_frames"]["student"]
        assert again["force_rmse_meV_A"] == pytest.approx(shipped["force_rmse_meV_A"], rel=1e-4)
        assert again["energy_rmse_meV_atom"] == pytest.approx(shipped["energy_rmse_meV_atom"], rel=1e-3, abs=1e-3)


def test_liga_students_card_lattices_are_what_it_relaxes_to(tmp_path):
    """The LiGa card's student lattice parameters, relaxed again here by toolkit.students.fidelity's own code (a few
    atoms each), so that a card cannot outlive its student's α-Ga, the phase a student once got wrong."""
    from toolkit.students.fidelity import liga_phases
    from toolkit.store import ResultsStore

    rows = available_students()["liga-alloy"]["properties"]
    student = load_potential("student:liga-alloy", device="cpu", dtype="float64")
    _, lattices = liga_phases(student, ResultsStore(tmp_path))
    assert set(lattices) == {"lattice_B32_A", "lattice_bcc_Li_A", "lattice_alpha_Ga_a_A"} <= set(rows)
    for name, a in lattices.items():
        assert a == pytest.approx(rows[name]["student"], abs=1e-3), name


@pytest.mark.parametrize("study", SHIPPED)
def test_shipped_cards_agreement_follows_the_current_rules(study):
    """A card's tolerances and ``agrees`` flags are what toolkit.students.fidelity gives for its values now, so that a
    changed rule cannot leave a shipped student marked as agreeing under the old one."""
    from toolkit.students import fidelity

    for name, row in available_students()[study].get("properties", {}).items():
        assert (row["tolerance"], row["why"]) == fidelity.tolerance_for(name), name
        if row["student"] is None:
            assert not row["agrees"], name
            continue
        assert fidelity.judged(name, row["teacher"], row["student"])["agrees"] == row["agrees"], name


def test_diffusion_agrees_within_a_factor_of_2_whatever_the_errors():
    from toolkit.students.fidelity import _diffusion_row

    assert _diffusion_row((1e-5, 1e-6), (1.9e-5, 1e-6), "", "")["agrees"]
    assert not _diffusion_row((1e-4, 6e-5), (3.5e-4, 2e-4), "", "")["agrees"]  # within 2σ, but 3.5 times off
    assert not _diffusion_row((1e-5, 1e-5), (-1e-6, 1e-5), "", "")["agrees"]


def _fake_dft_points(emt, root, study, structures, shift_eV_atom):
    """Frame points as the anchors campaign writes them, with EMT shifted by ``shift_eV_atom`` as the "DFT"."""
    (root / study).mkdir(parents=True)
    for name, atoms in structures.items():
        work = atoms.copy()
        work.calc = emt
        point = {"numbers": work.numbers.tolist(), "cell_A": work.cell.array.tolist(),
                 "positions_A": work.positions.tolist(),
                 "energy_eV": work.get_potential_energy() + shift_eV_atom * len(work),
                 "forces_eV_A": work.get_forces().tolist(), "stress_eV_A3": work.get_stress().tolist()}
        (root / study / f"{name}.json").write_text(json.dumps(point))


def test_dft_frames_join_the_teachers_energy_scale(emt, tmp_path, monkeypatch):
    monkeypatch.setitem(labels.DFT_REFERENCE_FRAME, "toy", "frame-ideal")
    monkeypatch.setitem(labels.DFT_REPLACES, "toy", ("phonon",))
    ideal = bulk("Cu", "fcc", a=3.6, cubic=True)
    rattled = ideal.copy()
    rattled.positions += np.random.default_rng(0).normal(0, 0.05, rattled.positions.shape)
    _fake_dft_points(emt, tmp_path, "toy", {"frame-ideal": ideal, "frame-rattled": rattled}, -3.0)
    frames = labels.dft_training_frames("toy", emt, tmp_path)
    assert {f.info["config_type"] for f in frames} == {"dft"} and len(frames) == 2
    for frame in frames:  # the "DFT" is EMT shifted by -3 eV/atom: on the teacher's scale it is EMT again
        reference = frame.copy()
        reference.calc = emt
        assert frame.info[training.ENERGY_KEY] == pytest.approx(reference.get_potential_energy(), abs=1e-9)
        assert np.allclose(frame.arrays[training.FORCES_KEY], reference.get_forces())
        assert frame.info["dft_offset_eV_atom"] == pytest.approx(3.0)
    teacher_frames = labels.label(sampling.rattled_and_strained(ideal, 3, np.random.default_rng(1), kind="phonon")
                                   + sampling.rattled_and_strained(ideal, 2, np.random.default_rng(2)), emt, progress=False)
    train, settings = labels.anchored("toy", teacher_frames, emt, training.StudentSettings(), tmp_path)
    assert distill.counts_by_kind(train) == {"dft": 2, "strained": 2}  # the teacher's "phonon" frames replaced
    assert dict(settings.config_type_weights)["dft"] == labels.DFT_ANCHOR_WEIGHT
    weights = next(a for a in training.mace_train_arguments("toy", tmp_path, tmp_path, ["Cu"], settings, 0)
                   if a.startswith("--config_type_weights="))
    assert json.loads(weights.split("=", 1)[1])["dft"] == labels.DFT_ANCHOR_WEIGHT


def test_dft_anchoring_refuses_what_it_cannot_use(emt, tmp_path, monkeypatch):
    monkeypatch.setitem(labels.DFT_REFERENCE_FRAME, "toy", "frame-ideal")
    with pytest.raises(ValueError, match="python -m toolkit anchors toy"):
        labels.dft_training_frames("toy", emt, tmp_path)  # nothing computed yet
    with pytest.raises(ValueError, match="no DFT anchoring for 'nothing'"):
        labels.dft_training_frames("nothing", emt, tmp_path)
    _fake_dft_points(emt, tmp_path, "toy", {"frame-ideal": bulk("Cu", "fcc", a=3.6, cubic=True),
                                            "frame-alloy": bulk("CuAu", "rocksalt", a=5.0)}, 0.0)
    with pytest.raises(ValueError, match="several compositions"):
        labels.dft_training_frames("toy", emt, tmp_path)


def test_an_anchored_card_shows_each_potential_against_dft():
    def decided(lattice, m_well, imaginary):
        return {"lattice_A": lattice,
                "host_tilts": {k: {"potential_double_well_meV_fu": m_well if k == "M" else 0.0,
                                   "dft_double_well_meV_fu": 0.0, "dft_lattice_A": 4.1745} for k in ("M", "R")},
                "gamma": {"imaginary_THz": {"pristine": imaginary[0], "Y-doped": imaginary[1], "Y-doped + H": []},
                          "y_induced_instability": not imaginary[0] and bool(imaginary[1])}}

    errors = {"force_rmse_meV_A": 40.0, "energy_rmse_meV_atom": 3.0}
    card = {"study": "proton-phonon", "anchor": {
        "frames": 13, "weight": 20.0, "reference_frame": "frame-cubic-strain+0",
        "teacher_kinds_left_out": {"phonon": 3}, "errors_on_dft_frames": {"teacher": errors, "student": errors}},
        "against_dft": {"teacher": decided(4.1875, 1.2, ([-1.6], [-1.8])), "student": decided(4.176, 0.0, ([], [-0.9]))}}
    text = cards.anchor_markdown(card)
    assert "| DFT (PBE) | 4.1745 | none | none | | |" in text
    assert "| teacher | 4.1875 | 1.20 | none | -1.60 / -1.80 / none | no |" in text
    assert "| student | 4.1760 | none | none | none / -0.90 / none | yes |" in text
    assert "13 DFT frames weighted 20" in text and "3 'phonon'" in text
