"""Shared fixtures. Every test runs offline with an empty MACE cache and a private store."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def offline_and_isolated(monkeypatch, tmp_path):
    """No test may touch the network, the user's MACE cache or the user's results store."""
    monkeypatch.setenv("TOOLKIT_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TOOLKIT_STORE", str(tmp_path / "store"))


@pytest.fixture(scope="session")
def study_store(tmp_path_factory):
    """One results store for the headless study runs and the browser tests that replay them."""
    return tmp_path_factory.mktemp("study-store")


@pytest.fixture
def shared_store(monkeypatch, study_store):
    monkeypatch.setenv("TOOLKIT_STORE", str(study_store))
    return study_store


def pytest_collection_modifyitems(config, items):
    """Browser tests last, so that they find the study results already in the shared store."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (fixtures use it to save artefacts on failure)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chgnet():
    from toolkit.potentials import load_potential

    return load_potential("chgnet", device="cpu")


@pytest.fixture(scope="session")
def tiny_mace_path(tmp_path_factory):
    """A tiny, untrained MACE model built and saved with mace-torch itself (H, O, Sr, Sn, Ba)."""
    from toolkit.potentials import import_mace

    import_mace()  # e3nn's constants load under torch's weights-only policy
    import torch
    from e3nn import o3
    from mace import modules

    torch.manual_seed(0)
    numbers = [1, 8, 38, 50, 56]
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = modules.ScaleShiftMACE(
        r_max=4.0, num_bessel=4, num_polynomial_cutoff=3, max_ell=1, interaction_cls=block,
        interaction_cls_first=block, num_interactions=1, num_elements=len(numbers),
        hidden_irreps=o3.Irreps("8x0e"), MLP_irreps=o3.Irreps("4x0e"),
        atomic_energies=np.linspace(-1.0, -5.0, len(numbers)), avg_num_neighbors=8.0,
        atomic_numbers=numbers, correlation=2, gate=torch.nn.functional.silu,
        atomic_inter_scale=1.0, atomic_inter_shift=0.0,
    )
    path = tmp_path_factory.mktemp("mace") / "tiny.model"
    torch.save(model, path)
    return path


@pytest.fixture
def emt():
    """ASE's EMT wrapped as a toolkit potential: fast, for testing the machinery."""
    from ase.calculators.emt import EMT

    from toolkit.calculator import from_ase_calculator

    return from_ase_calculator(EMT(), "emt", elements=["Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Al", "H", "C", "N", "O"])
