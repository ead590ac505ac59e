import numpy as np
import pytest
from ase import Atoms
from ase.units import kB

from toolkit.transport import arrhenius_fit, diffusion_coefficient, msd, unwrapped_positions


def random_walk_frames(D_cm2_s, dt_fs, n_frames, n_atoms=64, box=10.0, seed=0):
    """Brownian particles with diffusion coefficient D, wrapped into a periodic box."""
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(2 * D_cm2_s * 10 * dt_fs)  # Å per axis per step; 1 cm²/s = 10 Å²/fs
    paths = np.cumsum(rng.normal(0, sigma, (n_frames, n_atoms, 3)), axis=0)
    frames = [Atoms(f"Li{n_atoms}", positions=p, cell=[box] * 3, pbc=True) for p in paths]
    for frame in frames:
        frame.wrap()
    return frames, paths


def test_unwrapping_recovers_the_continuous_path():
    frames, paths = random_walk_frames(1e-4, 10.0, 50)
    unwrapped = unwrapped_positions(frames, range(64))
    assert np.allclose(unwrapped - unwrapped[0], paths - paths[0], atol=1e-8)


def test_diffusion_coefficient_of_a_random_walk_is_recovered_with_an_honest_error():
    D = 2e-5
    frames, _ = random_walk_frames(D, 10.0, 2000)
    value, error = diffusion_coefficient(frames, range(64), dt_fs=10.0, n_blocks=5)
    assert error > 0
    assert abs(value - D) < 4 * error and abs(value - D) / D < 0.1


def test_msd_is_zero_at_zero_lag_and_linear_for_ballistic_motion():
    positions = np.arange(10.0)[:, None, None] * np.array([1.0, 0, 0])
    assert np.allclose(msd(positions), np.arange(10.0) ** 2)


def test_arrhenius_fit_recovers_the_activation_energy():
    rng = np.random.default_rng(1)
    t = np.array([500.0, 700.0, 900.0, 1100.0])
    d = 1e-3 * np.exp(-0.35 / (kB * t)) * (1 + 0.02 * rng.normal(size=4))
    fit = arrhenius_fit(t, d, 0.02 * d)
    assert fit["Ea_eV"] == pytest.approx(0.35, abs=3 * fit["Ea_err_eV"] + 1e-3)
    assert 0 < fit["Ea_err_eV"] < 0.02
    assert fit["predict"](700.0) == pytest.approx(d[1], rel=0.05)
    with pytest.raises(ValueError, match="at least two temperatures"):
        arrhenius_fit([300.0], [1e-6], [1e-7])
