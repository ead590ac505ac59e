"""The toolkit's MSD/diffusion analysis against pymatgen-analysis-diffusion's DiffusionAnalyzer.

Both analyse the same trajectories: a random walk with a known D (so each can be checked
against the truth), and Li in B32 LiGa from the LiGa student on the toolkit's MD engine
(500 K by default: at 700 K the student's 127-atom cell blows up, out of its training data).
Prints the time each takes, the ratio, and both D values.

    python bench/diffusion.py [--ps 10] [--temperature 500]

Needs the ``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from ase import Atoms
from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
from pymatgen.io.ase import AseAtomsAdaptor

from toolkit.transport import diffusion_coefficient
from toolkit.validation import MDExplosionError, NonFiniteForcesError


def random_walk(n_li: int = 32, n_frames: int = 2000, d_cm2_s: float = 1e-5, dt_fs: float = 10.0, seed: int = 0):
    """Li atoms random-walking (no cage) among fixed Cl in a 12 Å box; D known exactly."""
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(2 * d_cm2_s * 10.0 * dt_fs)  # per axis per frame, Å (1 cm²/s = 10 Å²/fs)
    li = np.cumsum(rng.normal(0, sigma, (n_frames, n_li, 3)), axis=0) + rng.uniform(0, 12, (n_li, 3))
    cl = rng.uniform(0, 12, (n_li, 3))
    return [Atoms(["Li"] * n_li + ["Cl"] * n_li, positions=np.vstack([p, cl]), cell=[12] * 3, pbc=True) for p in li]


def alloy_trajectory(ps: float, temperature_K: float = 500.0, dt_fs: float = 2.0, every: int = 5):
    """Li hopping through B32 LiGa (127 atoms, one Li vacancy) on the LiGa student: a real MD
    trajectory with a Ga framework, which DiffusionAnalyzer needs."""
    from toolkit import defects, liga
    from toolkit.engine import run_replicas
    from toolkit.potentials import load_potential

    from toolkit.relax import relax

    student = load_potential("student:liga-alloy", device="cpu", dtype="float32")
    perfect = relax(liga.liga_b32(), student, fmax_eV_A=0.01)
    cell = relax(defects.vacancies(perfect.repeat(2), "Li", 1)[0], student, fmax_eV_A=0.02, relax_cell=False)
    frames = run_replicas([cell], student, temperature_K, int(ps * 1000 / dt_fs), timestep_fs=dt_fs,
                          sample_every=every)[0]
    return frames[len(frames) // 5:], dt_fs * every


def compare(frames, dt_fs: float, temperature_K: float) -> dict:
    li = [i for i, s in enumerate(frames[0].get_chemical_symbols()) if s == "Li"]
    started = time.perf_counter()
    ours = diffusion_coefficient(frames, li, dt_fs, n_blocks=5)
    t_ours = time.perf_counter() - started
    started = time.perf_counter()
    wrapped = []
    for frame in frames:
        frame = frame.copy()
        frame.wrap()
        wrapped.append(AseAtomsAdaptor.get_structure(frame))
    analyzer = DiffusionAnalyzer.from_structures(wrapped, "Li", temperature_K, time_step=dt_fs, step_skip=1,
                                                 smoothed="max")
    t_theirs = time.perf_counter() - started
    return {"ours": ours, "t_ours": t_ours, "theirs": (analyzer.diffusivity, analyzer.diffusivity_std_dev),
            "t_theirs": t_theirs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ps", type=float, default=10.0, help="length of the alloy MD (ps)")
    parser.add_argument("--temperature", type=float, default=500.0, help="of the alloy MD (K)")
    args = parser.parse_args()
    cases = {"random walk, D = 1.0e-05 cm²/s exactly": (random_walk(), 10.0, 300.0)}
    md_case = (f"Li in B32 LiGa with a Li vacancy, 127 atoms, {args.temperature:g} K, {args.ps:g} ps "
               "(student:liga-alloy)")
    try:
        frames, dt = alloy_trajectory(args.ps, args.temperature)
        cases[md_case] = (frames, dt, args.temperature)
    except (MDExplosionError, NonFiniteForcesError) as error:  # the student left its training data: say so
        print(f"{md_case}: no trajectory, {type(error).__name__}: {error}")
    print("\n| trajectory | frames | toolkit D (cm²/s) | pymatgen D (cm²/s) | toolkit (s) | pymatgen (s) | "
          "time ratio | D agree (2σ) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (traj, dt_fs, temperature) in cases.items():
        r = compare(traj, dt_fs, temperature)
        (d1, e1), (d2, e2) = r["ours"], r["theirs"]
        agree = abs(d1 - d2) <= 2 * np.hypot(e1, e2)
        print(f"| {name} | {len(traj)} | {d1:.2e} ± {e1:.1e} | {d2:.2e} ± {e2:.1e} | {r['t_ours']:.2f} | "
              f"{r['t_theirs']:.2f} | {r['t_theirs'] / r['t_ours']:.1f}x | {'yes' if agree else 'no'} |")


if __name__ == "__main__":
    main()
