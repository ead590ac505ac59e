"""The toolkit's MD engine against ASE, batched replicas against serial runs, and the overhead we control.

Measured side by side in one run, on one model (a shipped student, float32) and bcc Li cells:

1. toolkit ``MDEngine`` (Langevin) versus ASE's ``Langevin`` driving mace-torch's own
   ``MACECalculator`` on the same model file, 64 and 128 atoms: time per step and the ratio;
2. 8 replicas (``--replicas``) in one batched engine versus the same 8 run one after another;
3. torch-sim (``torch-sim-atomistic`` 0.3, ``pip install -e '.[bench]'``), the maintained library for batched MD
   with MLIPs: its ``nvt_langevin`` with its ``MaceModel`` on the same model file, against the engine, for one
   64-atom cell and for the batched replicas;
5. the fraction of an engine step spent outside the model call;
6. the check run on each sampled frame of every replica (runaway temperature, atoms fallen together): ASE's
   neighbour search in each frame versus the engine's, which looks in its own neighbour lists on its device.

    python bench/md_engine.py [--study liga-alloy] [--steps 200] [--device cpu]

On a CPU, benchmarks 1, 2 and 5 run the engine twice: with mace-torch's eager model call, and with that call
through ``torch.compile`` (``MDEngine(compile_model=True)``; the compilation, before the timed steps, is not
counted). ``--device cuda`` runs both sides on a GPU (the table then says which card); there the engine replays
its model call as a captured CUDA graph, and a row compares that with the eager call.

Prints a Markdown table and writes it to ``bench/results/md_engine.json`` (``python bench/record.py`` then
regenerates ``bench/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np
from ase import units
from ase.build import bulk, make_supercell
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

import record
from toolkit.md import MDEngine
from toolkit.potentials import load_potential, student_path

TARGETS = {"engine_vs_ase_64": 2.0, "batched_vs_serial": 3.0, "overhead": 0.15}


def li_cell(n_atoms: int, seed: int = 0):
    """bcc Li with ``n_atoms`` atoms (64: 4x4x2, 128: 4x4x4 conventional cells), rattled."""
    reps = {16: (2, 2, 2), 54: (3, 3, 3), 64: (4, 4, 2), 128: (4, 4, 4)}[n_atoms]
    atoms = make_supercell(bulk("Li", "bcc", a=3.44, cubic=True), np.diag(reps))
    atoms.rattle(0.05, seed=seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=400, rng=np.random.default_rng(seed))
    return atoms


def ase_seconds_per_step(model_file: str, atoms, n_steps: int, device: str = "cpu") -> float:
    from toolkit.potentials import import_mace, unpickling_allowed

    import_mace()
    from mace.calculators import MACECalculator

    work = atoms.copy()
    with unpickling_allowed(model_file):  # a shipped student's file
        work.calc = MACECalculator(model_paths=model_file, device=device, default_dtype="float32")
    dyn = Langevin(work, timestep=2 * units.fs, temperature_K=400, friction=0.01 / units.fs,
                   rng=np.random.default_rng(0))
    dyn.run(5)  # warm-up
    started = time.perf_counter()
    dyn.run(n_steps)
    return (time.perf_counter() - started) / n_steps


def torch_sim_seconds_per_step(model_file: str, replicas, n_steps: int, device: str = "cpu") -> float:
    """Seconds per Langevin step (2 fs, 400 K) of all ``replicas`` together with torch-sim: ``nvt_langevin`` and
    torch-sim's ``MaceModel`` on ``model_file`` in float32, the replicas batched into one state."""
    import torch
    import torch_sim as ts
    from torch_sim.models.mace import MaceModel

    from toolkit.potentials import import_mace, unpickling_allowed

    import_mace()
    with unpickling_allowed(model_file):  # a shipped student's file
        raw = torch.load(model_file, map_location=device, weights_only=False)
    model = MaceModel(raw, device=torch.device(device), dtype=torch.float32, compute_stress=False)
    run = dict(integrator=ts.nvt_langevin, temperature=400.0, timestep=0.002)  # ps: torch-sim's metal units
    ts.integrate(list(replicas), model, n_steps=5, **run)  # warm-up
    started = time.perf_counter()
    ts.integrate(list(replicas), model, n_steps=n_steps, **run)
    return (time.perf_counter() - started) / n_steps


def engine_seconds_per_step(potential, replicas, n_steps: int, temperature_K: float = 400.0,
                            **engine_args) -> tuple[float, float, str]:
    """Seconds per Langevin step (all replicas together), the overhead fraction, and what the neighbour lists
    cost (share of the time, replica lists rebuilt per step); 2 fs steps unless ``engine_args`` say otherwise."""
    engine = MDEngine(potential, replicas, temperature_K, **{"timestep_fs": 2.0, **engine_args})
    engine.step(5)  # warm-up
    for _ in range(2):  # and two rebuilds (on a GPU a search's first use and its capture): time the steady state
        engine._build_neighbours(range(len(replicas)))
    engine.model_seconds = engine.neighbour_seconds = engine.step_seconds = 0.0
    builds = engine.neighbour_builds
    engine.step(n_steps)
    neighbours = (f"neighbour lists: {100 * engine.neighbour_seconds / engine.step_seconds:.0f} %, "
                  f"{(engine.neighbour_builds - builds) / n_steps:.2f} rebuilt per step")
    return engine.step_seconds / n_steps, engine.overhead_fraction(), neighbours


def check_seconds(potential, replicas, repeats: int = 20) -> tuple[float, float]:
    """Seconds for one sample's MD check of all ``replicas``: :func:`~toolkit.validation.check_md_frame` on
    each frame (ASE's neighbour search), and the engine's :meth:`~toolkit.md.engine.MDEngine.check_replicas`."""
    from toolkit.validation import check_md_frame

    engine = MDEngine(potential, replicas, 400.0, timestep_fs=2.0)
    engine.step(10)
    snapshots = [engine.snapshot(k) for k in range(len(replicas))]
    started = time.perf_counter()
    for _ in range(repeats):
        for atoms in snapshots:
            check_md_frame(atoms, 400.0, 1200.0)
    t_ase = (time.perf_counter() - started) / repeats
    started = time.perf_counter()
    for _ in range(repeats):
        engine.check_replicas(snapshots=snapshots)
    return t_ase, (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="liga-alloy", help="whose student to run (it must cover Li)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--replicas", type=int, default=8, help="replicas of 54 atoms in benchmark 2")
    parser.add_argument("--device", default="cpu", help="torch device of both sides (cpu, cuda)")
    parser.add_argument("--eager-only", action="store_true",
                        help="leave out the compiled model call (its compilation takes minutes on 2 cores)")
    args = parser.parse_args()
    model_file = str(student_path(args.study))
    torch_sim = importlib.util.find_spec("torch_sim") is not None
    if not torch_sim:
        print("torch-sim is not installed (pip install -e '.[bench]'): its rows are left out")
    potential = load_potential(f"student:{args.study}", device=args.device, dtype="float32")

    on_gpu = args.device.startswith("cuda")
    # (label, engine arguments) of each way the engine calls the model; on a GPU the captured graph is the default
    calls = [("", {})] if on_gpu else [(" (eager model call)", {}), (" (compiled model call)", {"compile_model": True})]
    calls = calls[:1] if args.eager_only else calls
    rows = []
    for n in (64, 128):
        atoms = li_cell(n)
        t_ase = ase_seconds_per_step(model_file, atoms, args.steps, args.device)
        t_engine = {}
        for label, engine_args in calls:
            t_engine[label], overhead, neighbours = engine_seconds_per_step(potential, [atoms], args.steps,
                                                                            **engine_args)
            rows.append((f"1. MD step, {n} atoms: ASE Langevin + MACECalculator vs toolkit engine{label}",
                         f"{1000 * t_ase:.1f} ms", f"{1000 * t_engine[label]:.1f} ms", t_ase / t_engine[label],
                         TARGETS["engine_vs_ase_64"] if n == 64 else None))
            rows.append((f"5. share of an engine step outside the model call{label}, {n} atoms ({neighbours})", "",
                         "", overhead, TARGETS["overhead"]))
        if n == 64 and torch_sim:
            t_ts = torch_sim_seconds_per_step(model_file, [atoms], args.steps, args.device)
            for label in t_engine:
                rows.append((f"3. MD step, {n} atoms: torch-sim nvt_langevin + its MaceModel vs toolkit engine{label}",
                             f"{1000 * t_ts:.1f} ms", f"{1000 * t_engine[label]:.1f} ms", t_ts / t_engine[label], None))
        if on_gpu:
            t_eager = engine_seconds_per_step(potential, [atoms], args.steps, static_graph=False)[0]
            rows.append((f"1. MD step, {n} atoms: engine, eager model call vs one captured CUDA graph",
                         f"{1000 * t_eager:.1f} ms", f"{1000 * t_engine['']:.1f} ms", t_eager / t_engine[""], None))
        elif len(t_engine) == 2:
            eager, compiled = t_engine.values()
            rows.append((f"1. MD step, {n} atoms: engine, eager vs compiled model call", f"{1000 * eager:.1f} ms",
                         f"{1000 * compiled:.1f} ms", eager / compiled, None))

    n_replicas = args.replicas
    replicas = [li_cell(54, seed=k) for k in range(n_replicas)]
    batched_s = {}
    for label, engine_args in calls:
        serial = sum(engine_seconds_per_step(potential, [r], args.steps, **engine_args)[0] for r in replicas)
        batched, overhead, neighbours = engine_seconds_per_step(potential, replicas, args.steps, **engine_args)
        batched_s[label] = batched
        rows.append((f"2. {n_replicas} replicas of 54 atoms: {n_replicas} serial runs vs one batched run "
                     f"(per step of all {n_replicas}){label}",
                     f"{1000 * serial:.1f} ms", f"{1000 * batched:.1f} ms", serial / batched,
                     TARGETS["batched_vs_serial"]))
        rows.append((f"5. share of a batched step outside the model call{label}, {n_replicas} x 54 atoms "
                     f"({neighbours})", "", "", overhead, TARGETS["overhead"]))

    if torch_sim:
        t_ts = torch_sim_seconds_per_step(model_file, replicas, args.steps, args.device)
        for label, batched in batched_s.items():
            rows.append((f"3. {n_replicas} replicas of 54 atoms batched: torch-sim vs toolkit engine{label}",
                         f"{1000 * t_ts:.1f} ms", f"{1000 * batched:.1f} ms", t_ts / batched, None))

    t_ase, t_check = check_seconds(potential, replicas)
    rows.append((f"6. MD check of a sample, {n_replicas} x 54 atoms: ASE's search in each frame vs the engine's "
                 f"lists (the faster batched run's {1000 * 10 * min(batched_s.values()):.0f} ms for 10 steps)",
                 f"{1000 * t_ase:.1f} ms", f"{1000 * t_check:.1f} ms", t_ase / t_check, None))

    table = []
    for name, base, ours, ratio, target in rows:
        if name.startswith("5."):
            met = "" if target is None else ("yes" if ratio < target else "no")
            table.append([name, "", "", f"{100 * ratio:.0f} %", f"< {100 * target:.0f} %", met])
        else:
            met = "" if target is None else ("yes" if ratio >= target else "no")
            table.append([name, base, ours, f"{ratio:.2f}x", "" if target is None else f"≥ {target:g}x", met])
    record.save("md_engine", "MD engine against ASE and torch-sim",
                ["benchmark", "baseline", "toolkit", "ratio", "target", "met"], table,
                notes=f"Model student:{args.study} (float32) on {args.device}; {args.steps} Langevin steps of 2 fs, "
                      "bcc Li at 400 K. A ratio above 1 means the toolkit is faster.")


if __name__ == "__main__":
    main()
