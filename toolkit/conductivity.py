"""Ionic conductivity from MD: independent runs of a mobile ion at several temperatures, D of each run with its
block error, the runs at each temperature combined, an Arrhenius fit and σ by Nernst–Einstein.

Units: temperatures in K, time in fs, D in cm²/s, volumes in Å³, σ in S/cm.
"""

from __future__ import annotations

from ase import Atoms

from toolkit.md import run_md_many
from toolkit.store import ResultsStore
from toolkit.transport import Diffusion, combine_replicas, conductivity_from_arrhenius, diffusion_coefficient


def ion_diffusion(runs: list[tuple[Atoms, float, int]], species: str, potential, n_steps: int, timestep_fs: float,
                  sample_every: int, equilibration_fraction: float, n_blocks: int,
                  store: ResultsStore | None = None, progress: bool = True) -> list[Diffusion]:
    """D of ``species`` (cm²/s, with its block error) in each of ``runs``, given as ``(atoms, temperature_K, seed)``:
    Langevin NVT MD of ``n_steps`` of ``timestep_fs`` (one batch on the MD engine for MACE models), sampled every
    ``sample_every`` steps, the first ``equilibration_fraction`` of the frames dropped, then
    :func:`~toolkit.transport.diffusion_coefficient` over ``n_blocks`` blocks. Results are in the order of ``runs``."""
    for atoms, _, _ in runs:
        if species not in atoms.get_chemical_symbols():
            raise ValueError(f"{atoms.get_chemical_formula()} holds no {species}: nothing to follow as the mobile ion")
    trajectories = run_md_many([atoms for atoms, _, _ in runs], potential, [t for _, t, _ in runs], n_steps,
                               timestep_fs=timestep_fs, seeds=[seed for _, _, seed in runs],
                               sample_every=sample_every, store=store, progress=progress)
    out = []
    for (atoms, _, _), frames in zip(runs, trajectories):
        mobile = [i for i, symbol in enumerate(atoms.get_chemical_symbols()) if symbol == species]
        kept = frames[int(equilibration_fraction * len(frames)):]
        out.append(diffusion_coefficient(kept, mobile, timestep_fs * sample_every, n_blocks=n_blocks))
    return out


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
