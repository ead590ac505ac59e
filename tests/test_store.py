import numpy as np
import pytest
from ase.build import bulk

from toolkit.md import run_md
from toolkit.relax import relax
from toolkit.store import ResultsStore, result_key


def test_same_inputs_reuse_the_result_and_different_inputs_do_not(tmp_path, emt):
    store = ResultsStore(tmp_path)
    atoms = bulk("Cu", cubic=True)
    calls = []

    def compute():
        calls.append(1)
        return atoms, {"value": np.arange(3.0)}

    first = store.cached("demo", atoms, emt, {"a": 1}, compute)
    second = store.cached("demo", atoms, emt, {"a": 1}, compute)
    assert len(calls) == 1
    assert np.array_equal(first[1]["value"], second[1]["value"])
    store.cached("demo", atoms, emt, {"a": 2}, compute)
    moved = atoms.copy()
    moved.positions[0, 0] += 1e-3
    store.cached("demo", moved, emt, {"a": 1}, compute)
    assert len(calls) == 3
    # a fresh handle on the same folder sees the stored results (they outlive the kernel)
    assert ResultsStore(tmp_path).get(store.key("demo", atoms, emt, {"a": 1})) is not None


def test_key_depends_on_the_potential_hash():
    atoms = bulk("Cu")
    assert result_key("t", atoms, "a" * 64, {}) != result_key("t", atoms, "b" * 64, {})
    assert result_key("t", atoms, "a" * 64, {"x": 1, "y": 2}) == result_key("t", atoms, "a" * 64, {"y": 2, "x": 1})


def test_relaxation_is_cached(tmp_path, emt):
    store = ResultsStore(tmp_path)
    atoms = bulk("Cu", a=3.7, cubic=True)
    first = relax(atoms, emt, store=store)
    assert first.info["relax"]["converged"]
    assert abs(first.cell[0, 0] - 3.59) < 0.02  # EMT's Cu lattice parameter
    second = relax(atoms, emt, store=store)
    assert np.allclose(first.cell, second.cell) and len(store) == 1


class Interrupt(Exception):
    pass


def test_interrupted_md_resumes_from_its_checkpoint(tmp_path, emt, monkeypatch):
    store = ResultsStore(tmp_path)
    atoms = bulk("Cu", cubic=True).repeat(2)
    calls = {"n": 0}
    original = emt.inner.calculate

    def counting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 25:
            raise Interrupt  # the kernel dies mid-run
        return original(*args, **kwargs)

    monkeypatch.setattr(emt.inner, "calculate", counting)
    with pytest.raises(Interrupt):
        run_md(atoms, emt, 300, n_steps=40, sample_every=10, store=store, progress=False)
    before = calls["n"]
    frames = run_md(atoms, emt, 300, n_steps=40, sample_every=10, store=store, progress=False)
    assert len(frames) == 5  # the start and one frame per 10 steps
    assert calls["n"] - before < 40  # the first 20 steps were not redone
    again = run_md(atoms, emt, 300, n_steps=40, sample_every=10, store=store, progress=False)
    assert np.allclose(again[-1].positions, frames[-1].positions)


def test_a_bumped_task_schema_recomputes_and_store_clear_empties(tmp_path, emt, monkeypatch):
    from toolkit import store as store_module

    store = ResultsStore(tmp_path)
    atoms = bulk("Cu", cubic=True)
    calls = []

    def compute():
        calls.append(1)
        return atoms, {"value": len(calls)}

    assert store.cached("demo", atoms, emt, {}, compute)[1]["value"] == 1
    assert store.cached("demo", atoms, emt, {}, compute)[1]["value"] == 1  # reused
    monkeypatch.setitem(store_module.TASK_SCHEMAS, "demo", 2)  # the task's code changed what it computes
    assert store.cached("demo", atoms, emt, {}, compute)[1]["value"] == 2 and len(calls) == 2
    monkeypatch.setattr("toolkit.__version__", "99.0")  # so does a new toolkit release
    assert store.cached("demo", atoms, emt, {}, compute)[1]["value"] == 3
    store.checkpoint("orphan").write_text("x")
    assert store.summary()["rows_by_task"] == {"demo": 3} and store.summary()["checkpoints"] == 1
    assert store.clear("other") == 0 and len(store) == 3
    assert store.clear() == 3 and len(store) == 0 and store.summary()["checkpoints"] == 0


def test_store_command_shows_and_clears(tmp_path, emt):
    import subprocess
    import sys

    relax(bulk("Cu", a=3.7, cubic=True), emt, store=ResultsStore(tmp_path))
    info = subprocess.run([sys.executable, "-m", "toolkit", "store", "info", "--path", str(tmp_path)],
                          capture_output=True, text=True, check=True).stdout
    assert str(tmp_path) in info and "relax" in info and "1 result(s)" in info
    cleared = subprocess.run([sys.executable, "-m", "toolkit", "store", "clear", "--path", str(tmp_path)],
                             capture_output=True, text=True, check=True).stdout
    assert "removed 1 stored result(s)" in cleared and len(ResultsStore(tmp_path)) == 0


def test_an_unconverged_relaxation_is_stored_as_such_and_a_caller_that_needs_convergence_is_told(tmp_path, emt,
                                                                                                 caplog):
    from toolkit.validation import NotConvergedError

    store = ResultsStore(tmp_path)
    atoms = bulk("Cu", a=3.9, cubic=True)
    atoms.rattle(0.1, seed=0)
    short = relax(atoms, emt, max_steps=2, store=store)
    assert short.info["relax"]["converged"] is False and "stopped after 2 steps" in caplog.text
    with pytest.raises(NotConvergedError, match="stopped after 2 steps"):
        relax(atoms, emt, max_steps=2, store=store, require_converged=True)  # the stored row says so
    assert len(store) == 1
    assert relax(atoms, emt, max_steps=300, store=store, require_converged=True).info["relax"]["converged"]
