"""Ion transport from MD: mean-squared displacement, diffusion coefficients with
uncertainties, Arrhenius fits and Nernst–Einstein conductivity.

Units: time in fs, distances in Å, D in cm²/s, energies in eV, temperatures in K.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.geometry import find_mic
from ase.units import kB

A2_PER_FS_TO_CM2_PER_S = 0.1  # 1 Å²/fs = 1e-16 cm² / 1e-15 s


def unwrapped_positions(frames: list[Atoms], indices) -> np.ndarray:
    """Positions (frames x atoms x 3, Å) followed continuously across periodic boundaries.

    Successive frames are joined by minimum-image steps, so frames must be close enough
    in time that no atom moves half a cell between them.
    """
    indices = list(indices)
    steps = [find_mic(b.positions[indices] - a.positions[indices], a.cell, pbc=True)[0]
             for a, b in zip(frames[:-1], frames[1:])]
    start = frames[0].positions[indices]
    return np.concatenate([start[None], start[None] + np.cumsum(steps, axis=0)]) if steps else start[None]


def msd(positions: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """Time-origin-averaged MSD (Å²) for lags 0..max_lag frames, averaged over atoms."""
    n = len(positions)
    max_lag = n - 1 if max_lag is None else max_lag
    out = np.zeros(max_lag + 1)
    for lag in range(1, max_lag + 1):
        out[lag] = np.mean(np.sum((positions[lag:] - positions[:-lag]) ** 2, axis=-1))
    return out


def _slope_D(positions: np.ndarray, dt_fs: float) -> float:
    """D (cm²/s) from the slope of the MSD over the middle of the lag range (Einstein, 3D)."""
    curve = msd(positions, max_lag=max(2, len(positions) // 2))
    lags = np.arange(len(curve)) * dt_fs
    window = slice(max(1, len(curve) // 5), len(curve))
    slope = np.polyfit(lags[window], curve[window], 1)[0]
    return slope / 6.0 * A2_PER_FS_TO_CM2_PER_S


def diffusion_coefficient(frames: list[Atoms], indices, dt_fs: float, n_blocks: int = 4) -> tuple[float, float]:
    """``(D, error)`` in cm²/s for atoms ``indices``, by block averaging.

    The trajectory (frames ``dt_fs`` apart) is cut into ``n_blocks`` equal blocks; D is
    fitted in each from the MSD slope, and the error is the standard error of the block
    values. Unlike one line fit over correlated MSD points, the spread between
    independent blocks is an honest statistical uncertainty.
    """
    positions = unwrapped_positions(frames, indices)
    if len(positions) < 4 * n_blocks:
        raise ValueError(f"{len(positions)} frames are too few for {n_blocks} blocks of at least 4 frames")
    blocks = np.array_split(positions, n_blocks)
    values = np.array([_slope_D(block, dt_fs) for block in blocks])
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(n_blocks))


def arrhenius_fit(temperatures_K, D, D_err) -> dict:
    """Weighted fit of ln D = ln D0 − Ea / (kB T).

    Returns ``Ea_eV``, ``Ea_err_eV``, ``D0_cm2_s`` and a function ``predict(T)``. The
    weights are 1/σ(ln D)² with σ(ln D) = D_err / D.
    """
    t = np.asarray(temperatures_K, dtype=float)
    d = np.asarray(D, dtype=float)
    if len(t) < 2 or (d <= 0).any():
        raise ValueError("an Arrhenius fit needs at least two temperatures with positive D")
    sigma = np.maximum(np.asarray(D_err, dtype=float) / d, 1e-6)
    x = 1.0 / (kB * t)
    coeffs, cov = np.polyfit(x, np.log(d), 1, w=1.0 / sigma, cov="unscaled" if len(t) == 2 else True)
    slope, intercept = coeffs
    return {"Ea_eV": float(-slope), "Ea_err_eV": float(np.sqrt(cov[0, 0])), "D0_cm2_s": float(np.exp(intercept)),
            "predict": lambda temperature: np.exp(intercept + slope / (kB * np.asarray(temperature)))}
