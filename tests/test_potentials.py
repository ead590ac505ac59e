import logging
import shutil
import time

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator

from toolkit import potentials
from toolkit.calculator import (
    PotentialUnavailableError, UnsupportedElementsError, file_sha256, from_ase_calculator,
)
from toolkit.potentials import load_potential
from toolkit.validation import NonFiniteForcesError


def srtio_like():
    return Atoms("SrSnO3", scaled_positions=[(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)],
                 cell=[4.1] * 3, pbc=True)


def test_auto_without_cache_picks_bundled_fallback_and_says_why(capsys):
    calc = load_potential("auto", device="cpu")
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("toolkit:")]
    assert len(line) == 1 and "chgnet-0.3.0" in line[0] and "no MACE-MP-0 model in the cache" in line[0]
    assert calc.info.family == "chgnet"
    assert len(calc.info.sha256) == 64
    assert calc.info.sha256 == file_sha256(calc.info.path)


def test_auto_prefers_a_cached_mace_mp_model(tiny_mace_path, capsys):
    cached = potentials.mace_mp_cache_path("mace-mp-0-medium")
    cached.parent.mkdir(parents=True)
    shutil.copy(tiny_mace_path, cached)
    calc = load_potential("auto", device="cpu")
    assert calc.info.name == "mace-mp-0-medium"
    assert calc.info.family == "mace"
    assert "found in the MACE cache" in capsys.readouterr().out
    assert calc.info.sha256 == file_sha256(tiny_mace_path)


def test_mace_model_file_loads_through_mace_torch(tiny_mace_path):
    calc = load_potential(str(tiny_mace_path), device="cpu", trust=True)
    assert calc.info.elements == ("H", "O", "Sr", "Sn", "Ba") and calc.info.cutoff_A == 4.0  # the model's r_max
    atoms = srtio_like()
    atoms.rattle(0.05, seed=1)
    atoms.calc = calc
    forces = atoms.get_forces()
    assert forces.shape == (5, 3) and np.isfinite(forces).all()
    assert np.isfinite(atoms.get_stress()).all()
    # an untrained model still obeys Newton's third law: forces sum to zero
    assert np.allclose(forces.sum(axis=0), 0, atol=1e-8)


def test_the_asked_for_dtype_is_not_logged_as_a_warning(caplog):
    with caplog.at_level("WARNING"):
        load_potential("student:liga-alloy", dtype="float64")
        logging.warning("other warnings still pass")
    assert [r.getMessage() for r in caplog.records] == ["other warnings still pass"]


def test_unsupported_elements_are_listed_before_any_calculation(tiny_mace_path):
    calc = load_potential(str(tiny_mace_path), device="cpu", trust=True)
    atoms = Atoms("LiClO", positions=[(0, 0, 0), (2, 0, 0), (0, 2, 0)], cell=[6] * 3, pbc=True)
    atoms.calc = calc
    with pytest.raises(UnsupportedElementsError, match="Cl, Li"):
        atoms.get_potential_energy()


def test_offline_request_for_uncached_mace_fails_fast_with_instructions():
    start = time.time()
    with pytest.raises(PotentialUnavailableError, match="TOOLKIT_OFFLINE") as err:
        load_potential("mace-mp-0-small", device="cpu")
    assert time.time() - start < 5
    assert "auto" in str(err.value) and str(potentials.mace_mp_cache_path("mace-mp-0-small")) in str(err.value)


def test_unreachable_network_fails_fast(monkeypatch):
    monkeypatch.delenv("TOOLKIT_OFFLINE")
    monkeypatch.setattr(potentials, "_network_reachable", lambda url: False)
    with pytest.raises(PotentialUnavailableError, match="unreachable"):
        load_potential("mace-mp-0-small", device="cpu")


def test_unknown_name_lists_the_choices():
    with pytest.raises(PotentialUnavailableError, match="mace-mp-0-medium"):
        load_potential("no-such-model")


class NaNCalculator(Calculator):
    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        forces = np.zeros((len(atoms), 3))
        forces[1, 2] = np.nan
        self.results = {"energy": 0.0, "forces": forces}


def test_nan_forces_are_refused_naming_the_atom():
    calc = from_ase_calculator(NaNCalculator(), "nan")
    atoms = bulk("Cu", cubic=True)
    atoms.calc = calc
    with pytest.raises(NonFiniteForcesError, match="Cu1"):
        atoms.get_forces()


def test_chgnet_gives_finite_forces_and_stress(chgnet):
    atoms = srtio_like()
    atoms.calc = chgnet
    assert np.isfinite(atoms.get_forces()).all()
    assert atoms.get_stress().shape == (6,)


def test_chgnet_computes_the_stress_only_for_callers_that_read_it(monkeypatch):
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    chgnet = load_potential("chgnet", device="cpu")  # a fresh one: whether a stress was read last is state
    tasks = []
    predict = chgnet.inner.model.predict_graph
    monkeypatch.setattr(chgnet.inner.model, "predict_graph",
                        lambda graph, task, **kw: tasks.append(task) or predict(graph, task=task, **kw))
    atoms = srtio_like()
    atoms.rattle(0.05, seed=1)
    atoms.calc = chgnet

    def step_then(*reads):
        atoms.positions[0] += 0.01
        return [getattr(atoms, read)() for read in reads]

    forces, = step_then("get_forces")
    assert tasks == ["ef"] and "stress" not in chgnet.results
    chgnet.inner.calculate(atoms.copy(), None)  # CHGNet's own default: energy, forces, stress, magmoms
    assert tasks[-1] == "efsm" and np.allclose(chgnet.inner.results["forces"], forces, atol=1e-5)
    step_then("get_forces")
    assert "stress" not in chgnet.results  # not the stress the full call left behind
    tasks.clear()
    for _ in range(3):  # forces, then stress, of each configuration (as distill labels them): one call each
        step_then("get_forces", "get_stress")
    assert tasks == ["ef", "efsm", "efsm", "efsm"]
    tasks.clear()
    for _ in range(2):  # then MD, say: forces only
        step_then("get_forces")
    assert tasks == ["efsm", "ef"]
    tasks.clear()
    FIRE(FrechetCellFilter(atoms), logfile=None).run(steps=3)  # it reads the stress first
    assert tasks == ["efsm"] * 4


@pytest.fixture
def student_dir(tmp_path, monkeypatch, tiny_mace_path):
    """A students folder holding the tiny MACE model as 'student:toy', with a card naming CHGNet as its teacher."""
    import json

    monkeypatch.setattr(potentials, "STUDENTS_DIR", tmp_path)
    shutil.copy(tiny_mace_path, tmp_path / "toy.model")
    card = {"study": "toy", "model_file": "toy.model", "model_sha256": file_sha256(tiny_mace_path),
            "teacher": {"name": potentials.FALLBACK,
            "sha256": file_sha256(potentials.chgnet_weights_path())},
            "held_out_errors": {"force_rmse_meV_A": 30.0},
            "properties": {"lattice_A": {"teacher": 4.1, "student": 4.11, "tolerance": 0.02, "agrees": True}}}

    def write(**changes):
        (tmp_path / "toy.json").write_text(json.dumps({**card, **changes}))

    write()
    return write


def test_quick_mode_auto_uses_a_student_that_agrees_with_the_teacher_auto_picks(student_dir, capsys):
    calc = potentials.study_potential("toy", "auto", "quick", device="cpu")
    assert calc.info.name == "student:toy" and calc.info.family == "mace"
    assert "quick mode uses 'student:toy'" in capsys.readouterr().out


def test_a_student_that_differs_or_has_another_teacher_is_not_used(student_dir, capsys):
    student_dir(properties={"lattice_A": {"teacher": 4.1, "student": 4.3, "tolerance": 0.02, "agrees": False}})
    assert potentials.study_potential("toy", "auto", "quick", device="cpu").info.family == "chgnet"
    assert "differs from its teacher on lattice_A" in capsys.readouterr().out
    student_dir(teacher={"name": "mace-mp-0-medium", "sha256": "0" * 64})
    assert potentials.study_potential("toy", "auto", "quick", device="cpu").info.family == "chgnet"
    assert "distilled from mace-mp-0-medium" in capsys.readouterr().out
    student_dir(held_out_errors={"force_rmse_meV_A": 90.0})
    assert potentials.study_potential("toy", "auto", "quick", device="cpu").info.family == "chgnet"


def test_a_student_that_departs_from_its_teacher_towards_dft_is_used(student_dir, capsys):
    def side(a, m_well, dft_a=4.17):
        return {"lattice_A": a, "host_tilts": {"M": {"potential_double_well_meV_fu": m_well, "dft_double_well_meV_fu": 0.0,
                                                      "dft_lattice_A": dft_a}}}

    def anchored(student_well, student_force):
        frames = {"teacher": {"force_rmse_meV_A": 29.0, "energy_rmse_meV_atom": 3.5},
                  "student": {"force_rmse_meV_A": student_force, "energy_rmse_meV_atom": 2.0}}
        student_dir(properties={"freq_THz": {"teacher": -1.9, "student": 0.8, "tolerance": 0.3, "agrees": False}},
                    anchor={"errors_on_dft_frames": frames},
                    against_dft={"teacher": side(4.19, 1.5), "student": side(4.18, student_well)})

    anchored(student_well=0.0, student_force=16.0)
    assert potentials.study_potential("toy", "auto", "quick", device="cpu").info.name == "student:toy"
    assert "closer to DFT than its teacher on its card: DFT-frame force RMSE (meV/Å) 16 against 29" in capsys.readouterr().out
    anchored(student_well=0.0, student_force=35.0)  # closer on the wells, further on the forces: not used
    assert potentials.study_potential("toy", "auto", "quick", device="cpu").info.family == "chgnet"
    assert "further from DFT than its teacher on DFT-frame force RMSE" in capsys.readouterr().out
    anchored(student_well=2.0, student_force=16.0)
    assert potentials.study_potential("toy", "auto", "quick", device="cpu").info.family == "chgnet"


def test_full_mode_and_explicit_names_ignore_the_student(student_dir):
    assert potentials.study_potential("toy", "auto", "full", device="cpu").info.family == "chgnet"
    assert potentials.study_potential("toy", "student:toy", "full", device="cpu").info.name == "student:toy"


def test_properties_the_notebook_does_not_compute_do_not_gate_the_student(student_dir):
    student_dir(properties={
        "lattice_A": {"teacher": 4.1, "student": 4.11, "tolerance": 0.02, "agrees": True, "used_by_notebook": True},
        "freq_THz": {"teacher": 0.7, "student": 1.7, "tolerance": 0.3, "agrees": False, "used_by_notebook": False}})
    assert potentials.study_potential("toy", "auto", "quick", device="cpu").info.name == "student:toy"


def test_a_notebook_section_uses_the_student_where_the_rows_it_computes_agree(student_dir, capsys):
    row = {"teacher": 1.0, "tolerance": 0.05, "used_by_notebook": True}
    student_dir(properties={"lattice_A": {**row, "student": 1.01, "agrees": True},
                            "barrier_eV": {**row, "student": 1.02, "agrees": True},
                            "freq_THz": {**row, "student": 1.7, "agrees": False}})

    def family(properties=None):
        return potentials.study_potential("toy", "auto", "quick", device="cpu", properties=properties).info.family

    assert family() == "chgnet"  # the notebook as a whole computes freq_THz
    assert family(["lattice_A", "barrier_eV"]) == "mace"
    assert "lattice_A, barrier_eV agree on its card" in capsys.readouterr().out
    assert family(["barrier_eV", "freq_THz"]) == "chgnet"
    assert "differs from its teacher on freq_THz" in capsys.readouterr().out
    assert family(["barrier_eV", "D_cm2_s"]) == "chgnet"  # a row the card never compared shows nothing
    assert "does not compare D_cm2_s" in capsys.readouterr().out
    assert potentials.study_potential("toy", "auto", "full", properties=["barrier_eV"]).info.family == "chgnet"


def test_a_loaded_potential_names_how_to_load_it_again(tiny_mace_path, chgnet):
    assert load_potential(chgnet.info.loadable_name, device="cpu").info.sha256 == chgnet.info.sha256
    calc = load_potential(str(tiny_mace_path), device="cpu", trust=True)
    assert load_potential(calc.info.loadable_name, device="cpu", trust=True).info.sha256 == calc.info.sha256


def test_model_files_are_unpickled_only_when_known_or_trusted(tiny_mace_path, tmp_path):
    """A .model file is a pickle: the toolkit loads a file it does not know only with trust=True, and leaves
    torch.load safe for everything else in the process (mace-torch itself makes it unsafe at import)."""
    import os

    import torch

    from toolkit.calculator import UntrustedModelError
    from toolkit.potentials import UNSAFE_LOAD_ENV, load_potential

    with pytest.raises(UntrustedModelError, match=r"runs whatever code it holds.*trust=True"):
        load_potential(str(tiny_mace_path), device="cpu")
    student = load_potential("student:liga-alloy", device="cpu")  # known by its card's SHA-256
    assert "unpickled as the shipped student of liga-alloy" in student.info.source
    assert load_potential(str(tiny_mace_path), device="cpu", trust=True).info.source.endswith("trusted by the caller")
    assert UNSAFE_LOAD_ENV not in os.environ

    class Payload:
        def __reduce__(self):
            return (os.system, ("true",))

    torch.save({"x": Payload()}, tmp_path / "other.pt")
    with pytest.raises(Exception, match="Weights only load failed|Unsupported global"):
        torch.load(tmp_path / "other.pt")  # anyone else's torch.load stays weights-only

    tampered = tmp_path / "liga-alloy.model"
    tampered.write_bytes(tiny_mace_path.read_bytes())
    with pytest.raises(UntrustedModelError):
        load_potential(str(tampered), device="cpu")  # a student's name is no pass: its hash is
