"""Does a converged NEB have a converged climbing image? ASE's ODE NEB optimiser against the toolkit's
``neb_barrier`` (the same ODE, judged on every image), on a Li vacancy hop in bcc Li (54-site cell, the LiGa
student), at two force criteria.

ASE 3.29's ODE optimiser judges convergence on a residual that leaves the climbing image out, so it can stop with
that image off the saddle: the "true fmax" column is the largest force on any moving image, climbing image
included, after each run.

    python bench/neb_convergence.py
"""

from __future__ import annotations

import time

import numpy as np
from ase.mep import NEB
from ase.mep.neb import NEBOptimizer

import record
from toolkit import defects
from toolkit.barriers import band_fmax_eV_A, neb_barrier
from toolkit.potentials import load_potential
from toolkit.relax import relax
from toolkit.studies import liga_alloy as ls


def ase_ode(start, end, calc, fmax: float, n_images: int = 5, steps: int = 300) -> tuple[bool, float, float, float]:
    """ASE's ODE NEB as the toolkit builds the band: (converged, barrier eV, true fmax eV/Å, seconds)."""
    images = [start.copy() for _ in range(n_images + 1)] + [end.copy()]
    for image in images:
        image.calc = calc
    band = NEB(images, climb=True, allow_shared_calculator=True, method="aseneb")
    band.interpolate(method="idpp", mic=True, apply_constraint=False)
    started = time.perf_counter()
    converged = NEBOptimizer(band, method="ode", logfile=None).run(fmax=fmax, steps=steps)
    seconds = time.perf_counter() - started
    energies = np.array([image.get_potential_energy() for image in images])
    return bool(converged), float(energies.max() - energies[0]), band_fmax_eV_A(band), seconds


def main() -> None:
    calc = load_potential("student:liga-alloy")
    settings = ls.LigaSettings.quick()
    host = ls.supercells(ls.phases(calc, 0.01, progress=False), settings, calc)["Li (bcc)"]
    start, end, _ = defects.vacancy_hop(host, 0)
    start, end = (relax(state, calc, fmax_eV_A=0.005, relax_cell=False) for state in (start, end))
    rows = []
    for fmax in (0.05, 0.01):
        converged, barrier, true_fmax, seconds = ase_ode(start, end, calc, fmax)
        rows.append([f"ASE NEBOptimizer (ode), fmax {fmax}", "yes" if converged else "no", f"{barrier:.4f}",
                     f"{true_fmax:.4f}", f"{seconds:.0f}"])
        started = time.perf_counter()
        band = neb_barrier(start, end, calc, n_images=5, fmax_eV_A=fmax, max_steps=300)
        rows.append([f"toolkit neb_barrier, fmax {fmax}", "yes" if band.converged else "no",
                     f"{band['barrier_eV']:.4f}", f"{band['fmax_eV_A']:.4f}", f"{time.perf_counter() - started:.0f}"])
    record.save("neb_convergence", "NEB: is the climbing image converged?",
                ["run", "says converged", "barrier (eV)", "true fmax (eV/Å)", "time (s)"], rows,
                notes="Li vacancy hop in bcc Li (53 atoms), student:liga-alloy, 5 climbing images. The barrier at "
                      "fmax 0.01 is the reference for both.")


if __name__ == "__main__":
    main()
