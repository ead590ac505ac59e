"""Ionic conductivity from MD: independent runs of a mobile ion at several temperatures, D of each run with its
block error, the runs at each temperature combined, an Arrhenius fit and σ by Nernst–Einstein.

Units: temperatures in K, time in fs, D in cm²/s, volumes in Å³, σ in S/cm.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
from ase import Atoms

from toolkit.md import run_md_many
from toolkit.store import ResultsStore
from toolkit.transport import (Diffusion, NotDiffusiveWarning, block_diffusion, charge_diffusion, combine_replicas,
                               conductivity_from_arrhenius, msd_curve, msd_exponent, unwrapped_positions)


class IonTransport(NamedTuple):
    """What one MD run says about a mobile ion: its ``tracer`` D and the ``charge`` (collective) D_σ
    (:class:`~toolkit.transport.Diffusion`, cm²/s), ``msd_exponent`` α (MSD ∝ t^α from 1 ps on; 1 when diffusive;
    NaN for runs too short to tell) and ``msd_fs_A2``, the tracer MSD at log-spaced lags
    (:func:`~toolkit.transport.msd_curve`: rows of lag in fs and MSD in Å²)."""

    tracer: Diffusion
    charge: Diffusion
    msd_exponent: float
    msd_fs_A2: np.ndarray

    def to_dict(self) -> dict:
        return {"D_cm2_s": list(self.tracer), "D_sigma_cm2_s": list(self.charge),
                "msd_exponent": None if math.isnan(self.msd_exponent) else self.msd_exponent,
                "msd_fs_A2": self.msd_fs_A2.tolist()}


def ion_transport(runs: list[tuple[Atoms, float, int]], species: str, potential, n_steps: int, timestep_fs: float,
                  sample_every: int, equilibration_fraction: float, n_blocks: int,
                  store: ResultsStore | None = None, progress: bool = True) -> list[IonTransport]:
    """:class:`IonTransport` of ``species`` in each of ``runs``, given as ``(atoms, temperature_K, seed)``:
    Langevin NVT MD of ``n_steps`` of ``timestep_fs`` (one batch on the MD engine for MACE models), sampled every
    ``sample_every`` steps, the first ``equilibration_fraction`` of the frames dropped, then
    :func:`~toolkit.transport.block_diffusion`, :func:`~toolkit.transport.charge_diffusion` and
    :func:`~toolkit.transport.msd_exponent` (fits from 1 ps on). Results are in the order of ``runs``."""
    for atoms, _, _ in runs:
        if species not in atoms.get_chemical_symbols():
            raise ValueError(f"{atoms.get_chemical_formula()} holds no {species}: nothing to follow as the mobile ion")
    trajectories = run_md_many([atoms for atoms, _, _ in runs], potential, [t for _, t, _ in runs], n_steps,
                               timestep_fs=timestep_fs, seeds=[seed for _, _, seed in runs],
                               sample_every=sample_every, store=store, progress=progress)
    out, dt_fs = [], timestep_fs * sample_every
    for (atoms, _, _), frames in zip(runs, trajectories):
        mobile = [i for i, symbol in enumerate(atoms.get_chemical_symbols()) if symbol == species]
        positions = unwrapped_positions(frames[int(equilibration_fraction * len(frames)):], mobile)  # once for all three
        with warnings.catch_warnings():  # the tracer D below warns once for both
            warnings.simplefilter("ignore", NotDiffusiveWarning)
            charge = charge_diffusion(positions, dt_fs, n_blocks=n_blocks)
            try:
                exponent = msd_exponent(positions, dt_fs)
            except ValueError:  # a run too short to tell diffusion from vibration has no α: None in to_dict
                exponent = float("nan")
        out.append(IonTransport(block_diffusion(positions, dt_fs, n_blocks=n_blocks), charge, exponent,
                                msd_curve(positions, dt_fs)))
    return out


def ion_diffusion(runs: list[tuple[Atoms, float, int]], *args, **kwargs) -> list[Diffusion]:
    """The tracer D (cm²/s, with its block error) of :func:`ion_transport` for each of ``runs`` (same arguments)."""
    return [found.tracer for found in ion_transport(runs, *args, **kwargs)]


def conductivity(D_by_temperature: dict[float, list], n_carriers: int, volume_A3: float,
                 temperature_K: float = 300.0, charge: int = 1, haven_ratio: float = 1.0) -> dict:
    """σ at ``temperature_K`` from independent runs: ``D_by_temperature`` maps T (K) to the runs' ``(D, error)``
    (cm²/s), combined at each T by :func:`~toolkit.transport.combine_replicas`, then fitted and converted by
    :func:`~toolkit.transport.conductivity_from_arrhenius`. Returns ``{"D": {T: [D, error]}, "fit", "fit_problem"}``:
    ``fit`` is that function's result, or None where no Arrhenius line can be drawn (a D that is not positive, one
    temperature, D falling with T), and ``fit_problem`` then says why."""
    d = {float(t): list(combine_replicas(values)) for t, values in sorted(D_by_temperature.items()) if len(values)}
    try:
        fit = conductivity_from_arrhenius(d, n_carriers, volume_A3, temperature_K, charge, haven_ratio)
        return {"D": d, "fit": fit, "fit_problem": None}
    except ValueError as error:
        return {"D": d, "fit": None, "fit_problem": str(error)}
