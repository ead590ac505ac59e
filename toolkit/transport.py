"""Ion transport from MD: mean-squared displacement, diffusion coefficients with
uncertainties, Arrhenius fits and Nernst–Einstein conductivity.

Units: time in fs, distances in Å, D in cm²/s, energies in eV, temperatures in K.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import tidynamics
from ase import Atoms
from ase.geometry import find_mic, get_distances
from ase.units import kB
from scipy import constants

A2_PER_FS_TO_CM2_PER_S = 0.1  # 1 Å²/fs = 1e-16 cm² / 1e-15 s


class Diffusion(NamedTuple):
    """A diffusion coefficient and its 1σ error, both in cm²/s.

    A named tuple rather than a dataclass so that it unpacks as ``D, error`` and is stored in JSON as the
    ``[D, error]`` pair the shipped results already hold."""

    D_cm2_s: float
    error_cm2_s: float

    def to_dict(self) -> dict:
        return {"D_cm2_s": self.D_cm2_s, "error_cm2_s": self.error_cm2_s}


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
    """Time-origin-averaged MSD (Å²) for lags 0..max_lag frames, averaged over atoms.

    ``positions`` is frames x atoms x 3 (Å, unwrapped). Every origin is used at every lag,
    by tidynamics' FFT correlation: O(n log n) in the number of frames, where the direct
    sum over lags is O(n²) (about 70 times slower for 3200 frames).
    """
    positions = np.asarray(positions, dtype=float)
    max_lag = len(positions) - 1 if max_lag is None else max_lag
    curve = np.mean([tidynamics.msd(positions[:, atom]) for atom in range(positions.shape[1])], axis=0)
    curve[0] = 0.0  # the FFT leaves rounding noise at zero lag
    return curve[:max_lag + 1]


class NotDiffusiveWarning(UserWarning):
    """The MSD was fitted where it is not yet linear in time (vibration still settling), so D reads high."""


def fit_window(n_frames: int, dt_fs: float, n_blocks: int = 4, start_fs: float = 1000.0) -> tuple[int, int, bool]:
    """The lags (frames) over which :func:`block_diffusion` fits each block's MSD, and whether
    the blocks are long enough (4 ``start_fs``) for the fit to start at ``start_fs``.

    For ``n_frames`` frames ``dt_fs`` apart in ``n_blocks`` blocks: from ``start_fs`` (or a tenth
    of a block, if later; a tenth alone where blocks are too short) to half a block. Plot the
    MSD with this window marked to see whether it is where the MSD is a straight line.
    """
    block = n_frames // n_blocks  # np.array_split's shortest block
    last = max(2, block // 2)
    settled = block * dt_fs >= 4 * start_fs
    first = max(1, (last + 1) // 5, math.ceil(start_fs / dt_fs) if settled else 0)
    return first, last, settled


def _slope_D(positions: np.ndarray, dt_fs: float, first_lag: int, last_lag: int) -> float:
    """D (cm²/s) from the slope of the MSD over lags ``first_lag`` to ``last_lag`` frames (Einstein, 3D)."""
    curve = msd(positions, max_lag=last_lag)
    lags = np.arange(len(curve)) * dt_fs
    slope = np.polyfit(lags[first_lag:], curve[first_lag:], 1)[0]
    return slope / 6.0 * A2_PER_FS_TO_CM2_PER_S


def block_diffusion(positions: np.ndarray, dt_fs: float, n_blocks: int = 4,
                    start_fs: float = 1000.0) -> Diffusion:
    """:class:`Diffusion` ``(D, error)`` in cm²/s from unwrapped positions (frames x atoms x 3, Å, ``dt_fs`` apart).

    The trajectory is cut into ``n_blocks`` equal blocks; in each, D is the slope of the
    MSD over lags from ``start_fs`` (or a tenth of the block, if later) to half the block
    (:func:`fit_window`), and the error is the standard error of the block values. Unlike
    one line fit over correlated MSD points, the spread between independent blocks is an
    honest statistical uncertainty. It has ``n_blocks`` − 1 degrees of freedom, so a 95 %
    interval is t·error with t = 4.3 for 3 blocks and 2.8 for 5 (Student's t), not 2.

    ``start_fs`` is where the MSD has become diffusive: an atom's vibrational MSD takes a
    while to reach its plateau (about 1 ps for Li in B32 LiGa, whose Ga cage is heavy and
    slow), and a fit that starts earlier counts that rise as diffusion. Blocks shorter than
    4 ``start_fs`` cannot start there; they start at a tenth of the block and a
    :class:`NotDiffusiveWarning` says so (quick-mode runs).

    Blocks should also each span several hops. Where hops are correlated (a vacancy's
    back-hops), short blocks see the back-and-forth before it cancels and read D high: on
    simulated vacancy walks of 30 hops in all, 3, 5 and 10 blocks read D 10, 11 and 28 %
    high (one line fit over the whole run, pymatgen's, 8 %), with 150 hops 2, 3 and 7 %
    (``bench/diffusion.py``, which also shows the errors covering the truth as often as t
    says).
    """
    return _block_diffusion(positions, dt_fs, n_blocks, start_fs)


def _block_diffusion(positions: np.ndarray, dt_fs: float, n_blocks: int, start_fs: float) -> Diffusion:
    if n_blocks < 2:
        raise ValueError(f"n_blocks = {n_blocks}: the error is the spread between blocks, so at least 2 are needed")
    if len(positions) < 4 * n_blocks:
        raise ValueError(f"{len(positions)} frames are too few for {n_blocks} blocks of at least 4 frames")
    first, last, settled = fit_window(len(positions), dt_fs, n_blocks, start_fs)
    if not settled:
        warnings.warn(f"blocks of {len(positions) // n_blocks * dt_fs / 1000:.2g} ps are too short to fit the MSD "
                      f"from {start_fs / 1000:g} ps on, so each fit starts at a tenth of its block and D includes "
                      f"vibration still settling (it reads high): use fewer blocks or a longer run (blocks of at "
                      f"least {4 * start_fs / 1000:g} ps)", NotDiffusiveWarning, stacklevel=3)  # the caller of the public function
    values = np.array([_slope_D(block, dt_fs, first, last) for block in np.array_split(positions, n_blocks)])
    return Diffusion(float(values.mean()), float(values.std(ddof=1) / np.sqrt(n_blocks)))


def diffusion_coefficient(frames: list[Atoms], indices, dt_fs: float, n_blocks: int = 4,
                          start_fs: float = 1000.0) -> Diffusion:
    """:class:`Diffusion` ``(D, error)`` in cm²/s for atoms ``indices`` of ``frames`` (``dt_fs`` apart), by
    :func:`block_diffusion` of their unwrapped positions (which explains the arguments)."""
    return _block_diffusion(unwrapped_positions(frames, indices), dt_fs, n_blocks, start_fs)


def charge_diffusion(positions: np.ndarray, dt_fs: float, n_blocks: int = 4, start_fs: float = 1000.0) -> Diffusion:
    """The collective (charge) diffusion coefficient D_σ = ⟨|Σᵢ Δrᵢ|²⟩ / (6 N t) (cm²/s, with its block error) of
    atoms at unwrapped ``positions`` (frames x atoms x 3, Å, ``dt_fs`` apart; :func:`unwrapped_positions`), the D
    that sets σ for one kind of ion: the MSD of Σᵢ rᵢ / √N, fitted by :func:`block_diffusion`. The tracer D over it
    is the Haven ratio. It is one collective coordinate against N tracers, so its error is about √N times larger
    for the same run."""
    positions = np.asarray(positions, dtype=float)
    return _block_diffusion(positions.sum(axis=1, keepdims=True) / np.sqrt(positions.shape[1]), dt_fs, n_blocks,
                            start_fs)


def msd_exponent(positions: np.ndarray, dt_fs: float, start_fs: float = 1000.0) -> float:
    """α in MSD ∝ t^α for atoms at unwrapped ``positions`` (frames x atoms x 3, Å, ``dt_fs`` apart), the log–log
    slope of their MSD from ``start_fs`` (fs) to half the run: 1 where they diffuse, below 1 where they are still
    caged (vibration, or hops that do not yet add up)."""
    curve = msd(positions, max_lag=len(positions) // 2)
    lags = np.arange(len(curve)) * dt_fs
    window = (lags >= start_fs) & (curve > 0)
    if window.sum() < 2:
        raise ValueError(f"a run of {len(positions)} frames {dt_fs:g} fs apart has no lags past {start_fs:g} fs "
                         "within its first half: too short to tell diffusion from vibration")
    return float(np.polyfit(np.log(lags[window]), np.log(curve[window]), 1)[0])


def msd_curve(positions: np.ndarray, dt_fs: float, n_lags: int = 16) -> np.ndarray:
    """The MSD (Å²) of atoms at unwrapped ``positions`` (frames x atoms x 3, Å, ``dt_fs`` apart) at ``n_lags`` lags
    spaced evenly in log time from one frame to half the run: rows of (lag in fs, MSD in Å²). Small enough to store
    beside a D, it keeps what :func:`msd_exponent` reads, so whether a run was diffusive can be judged again
    over another window without rerunning the MD."""
    curve = msd(positions, max_lag=len(positions) // 2)
    lags = np.unique(np.geomspace(1, len(curve) - 1, n_lags).astype(int))
    return np.column_stack([lags * dt_fs, curve[lags]])


def site_hops(positions_A: np.ndarray, sites_A: np.ndarray, cell, capture_A: float = 1.0) -> int:
    """Hops between lattice sites in a trajectory: how many times an atom arrives at a site other than its last.

    ``positions_A``: frames x atoms x 3 (Å, wrapped or not); ``sites_A``: the lattice sites (Å) the atoms hop
    between, vacant ones included (the perfect lattice: relaxed positions next to a vacancy are off it); ``cell``:
    the periodic cell. An atom is on a site only within ``capture_A`` (Å, less than half the shortest site
    distance) of it, so an atom that rattles at the saddle point and falls back counts nothing, and a hop counts
    once however many frames it takes. Counting hops says whether a D from MD rests on enough events
    (its counting noise is √N).
    """
    positions = np.asarray(positions_A, dtype=float)
    sites = np.asarray(sites_A, dtype=float)
    spacing = get_distances(sites, cell=cell, pbc=True)[1][np.triu_indices(len(sites), 1)].min()
    if capture_A >= spacing / 2:
        raise ValueError(f"capture_A = {capture_A} Å is not below half the shortest distance between sites "
                         f"({spacing:.2f} Å): an atom would be on two sites at once")
    last = np.full(positions.shape[1], -1)
    hops = 0
    for frame in positions:
        vectors = (frame[:, None, :] - sites[None, :, :]).reshape(-1, 3)
        distances = find_mic(vectors, cell, pbc=True)[1].reshape(len(frame), len(sites))
        nearest = distances.argmin(axis=1)
        captured = distances[np.arange(len(frame)), nearest] < capture_A
        moved = captured & (last >= 0) & (nearest != last)
        hops += int(moved.sum())
        last = np.where(captured, nearest, last)
    return hops


def combine_replicas(values) -> Diffusion:
    """Mean :class:`Diffusion` ``(D, error)`` of independent replicas, each ``(D, error)`` (cm²/s).

    The error is the larger of the replicas' own errors propagated to the mean and the
    standard error of their spread (when there are two or more): the spread catches what
    one replica's blocks cannot (a different glass, a different starting point).
    """
    d = np.asarray(values, dtype=float).reshape(-1, 2)
    propagated = np.sqrt(np.sum(d[:, 1] ** 2)) / len(d)
    spread = d[:, 0].std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
    return Diffusion(float(d[:, 0].mean()), float(max(propagated, spread)))


@dataclass(frozen=True)
class ArrheniusFit:
    """ln D = ln D0 − Ea / (kB T), fitted by :func:`arrhenius_fit`: ``Ea_eV`` with its 1σ error, ``D0_cm2_s``, and
    the covariance of the fitted (slope, intercept) of ln D against 1/(kB T) that :meth:`predict_err` uses."""

    Ea_eV: float
    Ea_err_eV: float
    D0_cm2_s: float
    covariance: tuple

    def predict(self, temperature_K):
        """D (cm²/s) at ``temperature_K`` (a number or an array)."""
        return self.D0_cm2_s * np.exp(-self.Ea_eV / (kB * np.asarray(temperature_K, dtype=float)))

    def predict_err(self, temperature_K):
        """1σ error (cm²/s) of :meth:`predict`, from the fit's covariance: it widens far from the fitted
        temperatures."""
        u = 1.0 / (kB * np.asarray(temperature_K, dtype=float))
        cov = np.asarray(self.covariance)
        return self.predict(temperature_K) * np.sqrt(cov[0, 0] * u**2 + 2 * cov[0, 1] * u + cov[1, 1])

    def to_dict(self) -> dict:
        return {"Ea_eV": self.Ea_eV, "Ea_err_eV": self.Ea_err_eV, "D0_cm2_s": self.D0_cm2_s,
                "covariance": [list(row) for row in self.covariance]}


def arrhenius_fit(temperatures_K, D, D_err) -> ArrheniusFit:
    """Weighted fit of ln D = ln D0 − Ea / (kB T) (:class:`ArrheniusFit`).

    The weights are 1/σ(ln D)² with σ(ln D) = D_err / D; with two temperatures the covariance comes from those
    errors alone.
    """
    t = np.asarray(temperatures_K, dtype=float)
    d = np.asarray(D, dtype=float)
    if len(t) < 2 or (d <= 0).any():
        raise ValueError("an Arrhenius fit needs at least two temperatures with positive D, got "
                         f"D = {d.tolist()} cm²/s at T = {t.tolist()} K")
    sigma = np.maximum(np.asarray(D_err, dtype=float) / d, 1e-6)
    x = 1.0 / (kB * t)
    (slope, intercept), cov = np.polyfit(x, np.log(d), 1, w=1.0 / sigma, cov="unscaled" if len(t) == 2 else True)
    return ArrheniusFit(Ea_eV=float(-slope), Ea_err_eV=float(np.sqrt(cov[0, 0])), D0_cm2_s=float(np.exp(intercept)),
                        covariance=tuple(tuple(float(c) for c in row) for row in cov))


def nernst_einstein_conductivity_S_cm(D_cm2_s: float, n_carriers: int, volume_A3: float, temperature_K: float,
                                      charge: int = 1, haven_ratio: float = 1.0) -> float:
    """Ionic conductivity σ = n q² D / (H_R k_B T) in S/cm.

    ``n_carriers`` ions of ``charge`` (e) in ``volume_A3``; ``D_cm2_s`` is their tracer
    diffusion coefficient. ``haven_ratio`` H_R = D_tracer / D_σ; 1 assumes uncorrelated
    ions (no cross terms), the usual assumption when only tracer D is converged.
    """
    n_per_cm3 = n_carriers / (volume_A3 * 1e-24)
    q_C = charge * constants.e
    return float(n_per_cm3 * q_C**2 * D_cm2_s / (haven_ratio * constants.k * temperature_K))


def diffusion_limited_current_mA_cm2(D_cm2_s: float, delta_c_mol_cm3: float, thickness_um: float) -> float:
    """Steady Li current density (mA/cm²) that diffusion can carry across a layer.

    Fick's first law with a linear concentration profile: j = F D Δc / L, with Δc the
    largest Li concentration difference the layer can hold without changing phase (mol/cm³)
    and L its thickness. A higher current would drain the interface below the phase's
    Li-poor limit (or pile Li up above its Li-rich limit).
    """
    return 1000.0 * constants.value("Faraday constant") * D_cm2_s * delta_c_mol_cm3 / (thickness_um * 1e-4)


def conductivity_from_arrhenius(D_by_temperature: dict[float, tuple[float, float]], n_carriers: int,
                                volume_A3: float, temperature_K: float = 300.0, charge: int = 1,
                                haven_ratio: float = 1.0) -> dict:
    """Extrapolate MD diffusion to ``temperature_K`` and convert it to a conductivity.

    ``D_by_temperature`` maps T (K) to ``(D, error)`` in cm²/s. Fits Arrhenius
    (:func:`arrhenius_fit`), predicts D at ``temperature_K`` with its error, and applies
    Nernst–Einstein (:func:`nernst_einstein_conductivity_S_cm`, same ``haven_ratio``
    assumption). Returns ``Ea_eV``, ``D_cm2_s`` and ``sigma_S_cm``, each ``[value, error]``,
    and the :class:`ArrheniusFit` itself under ``fit``.

    Raises ValueError where D does not rise with temperature (Ea ≤ 0): extrapolated, such a fit
    gives a D that grows as the glass cools, which short, noisy runs can show but diffusion cannot.
    """
    temperatures = sorted(D_by_temperature)
    values = [D_by_temperature[t][0] for t in temperatures]
    fit = arrhenius_fit(temperatures, values, [D_by_temperature[t][1] for t in temperatures])
    if fit.Ea_eV <= 0:
        raise ValueError(f"D does not rise with temperature (Ea = {fit.Ea_eV:.3f} ± {fit.Ea_err_eV:.3f} eV from "
                         f"D = {[f'{d:.2e}' for d in values]} cm²/s at T = {temperatures} K), so it cannot be "
                         f"extrapolated to {temperature_K:g} K: the runs are too short or too few to resolve it")
    d, d_err = float(fit.predict(temperature_K)), float(fit.predict_err(temperature_K))
    sigma = nernst_einstein_conductivity_S_cm(d, n_carriers, volume_A3, temperature_K, charge, haven_ratio)
    return {"Ea_eV": [fit.Ea_eV, fit.Ea_err_eV], "D_cm2_s": [d, d_err], "sigma_S_cm": [sigma, sigma * d_err / d],
            "fit": fit}
