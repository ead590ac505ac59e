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
