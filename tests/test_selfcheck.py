"""The exercises' self-checks accept what is plausible, reject what is not, and wait for an answer without failing."""

import pytest

from toolkit import selfcheck as sc


def test_lattice_parameter_within_a_potentials_usual_error():
    assert sc.lattice_parameter(3.94, "SrTiO3").plausible is True  # +0.9 %, as PBE gives
    wrong = sc.lattice_parameter(7.81, "SrTiO3")
    assert wrong.plausible is False and "divide by their number" in wrong.message  # a 2 x 2 x 2 cell's edge
    assert sc.lattice_parameter(None, "SrTiO3").plausible is None
    assert "no answer yet" in sc.lattice_parameter(None, "SrTiO3")._repr_markdown_()
    with pytest.raises(ValueError, match="no reference lattice parameter for 'CaTiO3'"):
        sc.lattice_parameter(3.8, "CaTiO3")


def test_vanishing_amplitude_on_a_falling_a_rising_and_an_extrapolated_scan():
    falling = [(-0.3, 0.66), (-0.15, 0.30), (0.0, 0.07), (0.15, 0.0), (0.3, 0.0)]
    assert sc.vanishing_amplitude(0.15, falling).plausible is True
    assert sc.vanishing_amplitude(-0.15, falling).plausible is True  # |Q| is what counts
    assert sc.vanishing_amplitude(0.6, falling).plausible is False
    rising = [(-0.3, 0.082), (-0.15, 0.071), (0.0, 0.069), (0.15, 0.071), (0.3, 0.082)]
    assert sc.vanishing_amplitude(float("inf"), rising).plausible is True
    assert sc.vanishing_amplitude(0.2, rising).plausible is False
    slow = [(0.0, 0.4), (0.1, 0.3), (0.2, 0.2)]  # a line through the last two points reaches zero at 0.4 Å
    assert sc.vanishing_amplitude(0.42, slow).plausible is True and "0.40" in sc.vanishing_amplitude(0.42, slow).message
    assert sc.vanishing_amplitude(None, slow).plausible is None


def test_haven_ratio_and_diffusion_time():
    assert sc.haven_ratio_effect(1e-4, 2e-4).plausible is True
    assert sc.haven_ratio_effect(1e-4, 0.5e-4).plausible is False  # the wrong way round
    assert sc.haven_ratio_effect(None, 2e-4).plausible is None
    d = 1e-8  # cm²/s
    assert sc.diffusion_time(0.5, 1.0, d).plausible is True  # (1e-4 cm)² / 2e-8 = 0.5 s
    assert sc.diffusion_time(0.5e4, 100.0, d).plausible is True
    assert sc.diffusion_time(5e-5, 1.0, d).plausible is False  # µm taken as m, or similar
    assert sc.diffusion_time(float("nan"), 1.0, d).plausible is False
    assert sc.diffusion_time(0.5, 1.0, None).plausible is None
