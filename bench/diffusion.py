"""The toolkit's MSD/diffusion analysis against pymatgen-analysis-diffusion's DiffusionAnalyzer.

Three parts:

1. calibration: many simulated vacancy walks with a known D (the lattice's correlation
   factor measured on a long walk), each analysed by both; the table gives each one's
   bias, scatter and how often its quoted error covers the truth;
2. a random walk with D known exactly;
3. Li in B32 LiGa from the LiGa student on the toolkit's MD engine (500 K by default).

For 2 and 3 it prints the time each analysis takes and both D values. pymatgen's ± is the
residual of one weighted line fit over overlapping, correlated MSD points, not a sampling
error (part 1 shows how rarely it covers the truth), so agreement is judged against the
toolkit's block error with Student's t for its degrees of freedom.

    python bench/diffusion.py [--ps 40] [--temperature 500] [--walks 100]

Needs the ``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from ase import Atoms
from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from scipy import stats

from toolkit.transport import (A2_PER_FS_TO_CM2_PER_S, NotDiffusiveWarning, block_diffusion, diffusion_coefficient,
                               fit_window)
from toolkit.validation import MDExplosionError, NonFiniteForcesError

N_BLOCKS = 5
BLOCK_CHOICES = (3, N_BLOCKS, 10)  # calibrated side by side
SITE_A = 2.7  # Å, about the Li–Li hop in B32 LiGa
GRID = 4  # sites per edge of the simple-cubic lattice; one of the 64 is the vacancy
DT_FS = 10.0


def vacancy_hops(n_hops: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """A vacancy's walk on a periodic simple-cubic lattice: for each hop, the atom that moved
    and its step (sites). The atom that fills the vacancy is the one the vacancy hops to, so
    an atom's next hop is often straight back: the correlation a vacancy mechanism has."""
    steps = np.concatenate([np.eye(3, dtype=int), -np.eye(3, dtype=int)])
    grid = np.arange(GRID**3 - 1).tolist() + [-1]  # atom on each site, -1 the vacancy
    grid = np.array(grid).reshape(GRID, GRID, GRID)
    vacancy = np.array([GRID - 1] * 3)
    movers, moves = np.empty(n_hops, dtype=int), np.empty((n_hops, 3), dtype=int)
    for k, step in enumerate(steps[rng.integers(0, 6, n_hops)]):
        source = (vacancy + step) % GRID
        movers[k], moves[k] = grid[tuple(source)], -step
        grid[tuple(vacancy)], grid[tuple(source)] = grid[tuple(source)], -1
        vacancy = source
    return movers, moves


def correlation_factor(n_hops: int = 200_000, seed: int = 12345) -> float:
    """Tracer correlation factor f = <R²> / (hops per atom · a²) of :func:`vacancy_hops`'s lattice,
    from one long walk (simple cubic, infinite dilution: 0.653)."""
    movers, moves = vacancy_hops(n_hops, np.random.default_rng(seed))
    displacement = np.zeros((GRID**3 - 1, 3))
    np.add.at(displacement, movers, moves)
    return float(np.mean(np.sum(displacement**2, axis=1)) / (n_hops / (GRID**3 - 1)))


def vacancy_walk(n_frames: int, n_hops: int, seed: int, f: float, vibration_A: float = 0.3):
    """Positions (frames x 63 x 3, Å) of atoms vibrating about their sites while a vacancy makes
    ``n_hops`` hops at random times, and the walk's tracer D (cm²/s) for correlation factor ``f``."""
    rng = np.random.default_rng(seed)
    movers, moves = vacancy_hops(n_hops, rng)
    frame_of_hop = np.sort(rng.integers(1, n_frames, n_hops))
    steps = np.zeros((n_frames, GRID**3 - 1, 3))
    np.add.at(steps, (frame_of_hop, movers), moves * SITE_A)
    positions = np.cumsum(steps, axis=0) + rng.normal(0, vibration_A, steps.shape)
    rate = n_hops / (GRID**3 - 1) / (n_frames * DT_FS)  # hops per atom per fs
    return positions, f * rate * SITE_A**2 / 6 * A2_PER_FS_TO_CM2_PER_S


def pymatgen_D(positions: np.ndarray, dt_fs: float, temperature_K: float = 300.0) -> tuple[float, float]:
    """DiffusionAnalyzer on unwrapped Li positions (frames x atoms x 3, Å), with fixed Cl as its framework."""
    n_li = positions.shape[1]
    structure = Structure(Lattice.cubic(100.0), ["Li"] * n_li + ["Cl"],
                          np.vstack([positions[0], [[50.0, 50.0, 50.0]]]), coords_are_cartesian=True)
    displacements = np.concatenate([positions - positions[0], np.zeros((len(positions), 1, 3))], axis=1)
    analyzer = DiffusionAnalyzer(structure, displacements.transpose(1, 0, 2), "Li", temperature_K,
                                 time_step=dt_fs, step_skip=1, smoothed="max")
    return analyzer.diffusivity, analyzer.diffusivity_std_dev


def calibration(n_walks: int, n_frames: int = 3200) -> None:
    """Bias, scatter and 2σ coverage of both analyses over ``n_walks`` vacancy walks per row."""
    f = correlation_factor()
    print(f"\nCalibration: {n_walks} vacancy walks per row, 63 atoms on a 4x4x4 simple-cubic lattice "
          f"({SITE_A} Å, vibration 0.3 Å), {n_frames} frames {DT_FS:g} fs apart; correlation factor f = {f:.3f}\n")
    print("| vacancy hops | analysis | mean D / truth | rms error / truth | median error bar / truth | "
          "truth within 2 error bars | Student's t says |")
    print("|---|---|---|---|---|---|---|")
    for n_hops in (30, 150):
        names = {n: f"toolkit, {n} blocks of {n_frames * DT_FS / n / 1000:.2g} ps"
                 + ("" if fit_window(n_frames, DT_FS, n)[2] else " (too short to fit from 1 ps: from a tenth)")
                 for n in BLOCK_CHOICES}
        rows = {names[n]: [] for n in BLOCK_CHOICES} | {"pymatgen": []}
        for seed in range(n_walks):
            positions, truth = vacancy_walk(n_frames, n_hops, seed, f)
            with warnings.catch_warnings():  # 10 blocks of 3.2 ps: too short to fit from 1 ps, as the table says
                warnings.simplefilter("ignore", NotDiffusiveWarning)
                for n in BLOCK_CHOICES:
                    rows[names[n]].append(block_diffusion(positions, DT_FS, n))
            rows["pymatgen"].append(pymatgen_D(positions, DT_FS))
        for (name, values), n in zip(rows.items(), BLOCK_CHOICES + (None,)):
            d, err = np.array(values).T
            expected = f"{2 * stats.t.cdf(2, n - 1) - 1:.0%}" if n else "—"
            print(f"| {n_hops} | {name} | {d.mean() / truth:.2f} | {np.sqrt(np.mean((d - truth) ** 2)) / truth:.2f} | "
                  f"{np.median(err) / truth:.2f} | {np.mean(abs(d - truth) < 2 * err):.0%} | {expected} |")


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
    from toolkit.md import run_replicas
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
    ours = diffusion_coefficient(frames, li, dt_fs, n_blocks=N_BLOCKS)
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
    parser.add_argument("--ps", type=float, default=40.0,
                        help="length of the alloy MD (ps; the last 32 of 40 make 5 blocks of 6.4 ps)")
    parser.add_argument("--temperature", type=float, default=500.0, help="of the alloy MD (K)")
    parser.add_argument("--walks", type=int, default=100, help="simulated vacancy walks per calibration row")
    args = parser.parse_args()
    calibration(args.walks)
    cases = {"random walk, D = 1.0e-05 cm²/s exactly": (random_walk(), 10.0, 300.0)}
    md_case = (f"Li in B32 LiGa with a Li vacancy, 127 atoms, {args.temperature:g} K, {args.ps:g} ps "
               "(student:liga-alloy)")
    try:
        frames, dt = alloy_trajectory(args.ps, args.temperature)
        cases[md_case] = (frames, dt, args.temperature)
    except (MDExplosionError, NonFiniteForcesError) as error:  # the student left its training data: say so
        print(f"{md_case}: no trajectory, {type(error).__name__}: {error}")
    t95 = stats.t.ppf(0.975, N_BLOCKS - 1)
    print(f"\n| trajectory | frames | toolkit D (cm²/s) | pymatgen D ± fit σ (cm²/s) | toolkit (s) | pymatgen (s) | "
          f"time ratio | pymatgen within the toolkit's 95 % interval (±{t95:.1f} σ) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (traj, dt_fs, temperature) in cases.items():
        r = compare(traj, dt_fs, temperature)
        (d1, e1), (d2, e2) = r["ours"], r["theirs"]
        print(f"| {name} | {len(traj)} | {d1:.2e} ± {e1:.1e} | {d2:.2e} ± {e2:.1e} | {r['t_ours']:.2f} | "
              f"{r['t_theirs']:.2f} | {r['t_theirs'] / r['t_ours']:.1f}x | {'yes' if abs(d1 - d2) <= t95 * e1 else 'no'} |")


if __name__ == "__main__":
    main()
