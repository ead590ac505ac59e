"""Each study notebook, run headless in quick mode as `make run` does, writes the summary its issue fixes."""

import json

import numpy as np
import pytest

from toolkit.runner import run_study

pytestmark = pytest.mark.slow


def test_proton_phonon_quick_mode(tmp_path):
    summary = json.loads(run_study("proton-phonon", "quick", tmp_path).read_text())
    for key in ("lattice_A", "pristine_lowest_freq_THz", "doped_imaginary_freqs_THz", "softest_mode_participation",
                "transfer_barrier_eV", "rotation_barrier_eV", "barrier_vs_amplitude", "potential", "provenance"):
        assert key in summary, key
    assert abs(summary["lattice_A"] / 4.116 - 1) < 0.03
    assert set(summary["pristine_lowest_freq_THz"]) == {"Γ", "X", "M", "R"}
    assert all(f < -summary["imaginary_threshold_THz"] for f in summary["doped_imaginary_freqs_THz"])
    assert sum(summary["softest_mode_participation"].values()) == pytest.approx(1.0, abs=1e-6)
    assert 0 < summary["rotation_barrier_eV"] < 1.0 and 0 < summary["transfer_barrier_eV"] < 1.5
    amplitudes = [a for a, _ in summary["barrier_vs_amplitude"]]
    assert len(amplitudes) >= 5 and 0.0 in amplitudes
    assert np.isfinite([b for _, b in summary["barrier_vs_amplitude"]]).all()
    assert summary["provenance"]["parameters"]["mode"] == "quick"
    assert summary["provenance"]["seeds"] == {"md": 0}
    for figure in ("host_phonons", "host_convergence", "gamma_spectra", "neb_profiles", "barrier_vs_amplitude"):
        assert (tmp_path / f"{figure}.png").is_file(), figure
