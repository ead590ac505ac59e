"""The collective (charge) diffusion coefficient D_σ, which the Haven ratio needs: the toolkit's block estimate
(:func:`toolkit.transport.charge_diffusion`) against kinisi's Bayesian one (``JumpDiffusionAnalyzer``), side by side
on simulated walks where D_σ is known exactly.

Two kinds of walk, each of 24 Brownian Li with tracer D: independent walkers (H_R = 1, D_σ = D) and walkers that move
in pairs (H_R = 1/2, D_σ = 2 D). For each kind, ``--walks`` walks are analysed by both; the table gives the mean
and median estimate over the truth, how often each method's quoted 1σ error covers the truth at 2σ, the median
relative error it quotes, and its time per walk.

    python bench/haven.py [--walks 20] [--ps 16]

Needs kinisi (the ``bench`` extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipp as sc
from ase import Atoms
from kinisi.analyze import JumpDiffusionAnalyzer
from record import save

from toolkit.transport import charge_diffusion, unwrapped_positions

N_LI, BOX_A, DT_FS, D_CM2_S = 24, 12.0, 10.0, 2e-5
START_FS = 1000.0
#: kinisi's time intervals every this many frames (every frame costs it minutes per walk on one core)
KINISI_STRIDE = 10


def walk(pairs: bool, n_frames: int, seed: int) -> list[Atoms]:
    """Brownian Li with tracer D = ``D_CM2_S`` among as many still Ta, wrapped in a cubic box; with ``pairs`` the
    2k-th and (2k+1)-th Li take identical steps, so Σ Δr counts each step twice."""
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(2 * D_CM2_S * 10 * DT_FS)  # Å per axis per frame; 1 cm²/s = 10 Å²/fs
    steps = rng.normal(0, sigma, (n_frames, N_LI // 2 if pairs else N_LI, 3))
    if pairs:
        steps = np.repeat(steps, 2, axis=1)
    start = rng.uniform(0, BOX_A, (N_LI, 3))
    # a still, heavy framework: kinisi takes displacements relative to the centre of mass of every atom, which
    # in a cell of Li alone would cancel the collective motion that D_σ measures
    framework = rng.uniform(0, BOX_A, (N_LI, 3))
    frames = [Atoms(f"Li{N_LI}Ta{N_LI}", positions=np.concatenate([start + p, framework]), cell=[BOX_A] * 3, pbc=True)
              for p in np.cumsum(steps, axis=0)]
    for frame in frames:
        frame.wrap()
    return frames


def kinisi_d_sigma(frames: list[Atoms], seed: int) -> tuple[float, float]:
    """kinisi's jump diffusion coefficient D_J (= D_σ for one kind of ion), mean and standard deviation of its
    posterior samples, in cm²/s, over time intervals ``KINISI_STRIDE`` frames apart."""
    dt = sc.arange("time interval", KINISI_STRIDE, len(frames), KINISI_STRIDE) * (DT_FS * sc.Unit("fs"))
    analyzer = JumpDiffusionAnalyzer.from_ase(frames, specie="Li", time_step=DT_FS * sc.Unit("fs"),
                                              step_skip=1 * sc.Unit("dimensionless"), dt=dt, progress=False)
    analyzer.jump_diffusion(start_dt=START_FS * sc.Unit("fs"), progress=False,
                            random_state=np.random.RandomState(seed))
    samples = sc.to_unit(analyzer.D_J, "cm^2/s").values
    return float(np.mean(samples)), float(np.std(samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--walks", type=int, default=20)
    parser.add_argument("--ps", type=float, default=16.0, help="length of each walk (ps; the research MD keeps 16)")
    args = parser.parse_args()
    n_frames = int(args.ps * 1000 / DT_FS)
    rows = []
    for pairs in (False, True):
        truth = D_CM2_S * (2 if pairs else 1)
        found: dict[str, list] = {"toolkit (4 blocks)": [], "kinisi": []}
        seconds = dict.fromkeys(found, 0.0)
        for seed in range(args.walks):
            frames = walk(pairs, n_frames, seed)
            for name, method in (("toolkit (4 blocks)", lambda f: charge_diffusion(unwrapped_positions(f, range(N_LI)), DT_FS, n_blocks=4)),
                                 ("kinisi", lambda f: kinisi_d_sigma(f, seed))):
                started = time.perf_counter()
                found[name].append(method(frames))
                seconds[name] += time.perf_counter() - started
        for name, values in found.items():
            d, err = np.array(values).T
            rows.append(["pairs (H_R = 0.5)" if pairs else "independent (H_R = 1)", name,
                         f"{np.mean(d / truth):.2f}", f"{np.median(d / truth):.2f}",
                         f"{100 * np.mean(np.abs(d - truth) <= 2 * err):.0f} %",
                         f"{100 * np.median(err / d):.0f} %", f"{seconds[name] / args.walks:.2f}"])
    save("haven", "Collective diffusion D_σ (for the Haven ratio): the toolkit's blocks against kinisi",
         ["walkers", "method", "mean D_σ / truth", "median D_σ / truth", "2σ covers the truth", "median quoted error", "s per walk"], rows,
         notes=f"{args.walks} walks of {N_LI} Brownian Li, {args.ps:g} ps each, {DT_FS:g} fs apart, fits from "
               f"{START_FS / 1000:g} ps (kinisi: intervals every {KINISI_STRIDE} frames); D_σ is one collective "
               "coordinate, so its error is about √N times the tracer's for the same run.")


if __name__ == "__main__":
    main()
