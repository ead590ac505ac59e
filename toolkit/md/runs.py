"""MD runs: seeded, guarded against blow-ups, resumable through the results store.

MACE-family potentials run on the toolkit's batched engine (:mod:`toolkit.md.engine`: BAOAB
Langevin, float32, neighbour lists with a skin, several runs in one model call); any other
potential (CHGNet, an ASE calculator) runs on ASE's Langevin integrator.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms, units
from ase.constraints import FixCom
from ase.io import Trajectory, read
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from toolkit.progress import progress_bar
from toolkit.md.engine import MDEngine
from toolkit.md.replicas import per_replica, replay_explosion
from toolkit.store import ResultsStore
from toolkit.validation import MDExplosionError, ase_names, check_md_frame, check_structure, temperature_limit_K


#: ASE's ``timestep`` (in ASE's time unit) as the toolkit's ``timestep_fs`` (fs), for :func:`~toolkit.validation.ase_names`.
ASE_TIMESTEP = ("timestep_fs", lambda t: t / units.fs)


def uses_engine(atoms: Atoms, potential) -> bool:
    """True when MD of ``atoms`` can run on the batched engine: a MACE model and no constraints but FixCom."""
    return (getattr(getattr(potential, "info", None), "family", None) == "mace"
            and all(isinstance(c, FixCom) for c in atoms.constraints))


@ase_names(temperature_K="temperatures_K", steps="n_steps", timestep=ASE_TIMESTEP)
def run_md_many(structures: list[Atoms], potential, temperatures_K, n_steps: int, timestep_fs: float = 1.0,
                seeds=0, friction_per_fs: float = 0.01, sample_every: int = 10, store: ResultsStore | None = None,
                explode_factor: float = 3.0, progress: bool = True, compile_model: bool = False) -> list[list[Atoms]]:
    """Independent Langevin runs of ``structures`` (one temperature and seed each, or one for all).

    On the engine they go through the model together, as one batch; otherwise one after
    another with :func:`run_md`. Returns each run's frames, as :func:`run_md` does.
    ``compile_model``: as in :func:`run_md`.
    """
    temperatures, seed_list = per_replica(len(structures), temperatures_K, seeds)
    common = dict(timestep_fs=timestep_fs, friction_per_fs=friction_per_fs, sample_every=sample_every, store=store,
                  explode_factor=explode_factor, progress=progress, compile_model=compile_model)
    if structures and all(uses_engine(atoms, potential) for atoms in structures):
        return run_replicas(structures, potential, temperatures, n_steps, seeds=seed_list, **common)
    return [run_md(atoms, potential, float(t), n_steps, seed=s, **common)
            for atoms, t, s in zip(structures, temperatures, seed_list)]


@ase_names(steps="n_steps", timestep=ASE_TIMESTEP)
def run_md(atoms: Atoms, potential, temperature_K: float, n_steps: int, timestep_fs: float = 1.0,
           seed: int = 0, friction_per_fs: float = 0.01, sample_every: int = 10,
           store: ResultsStore | None = None, explode_factor: float = 3.0,
           progress: bool = True, compile_model: bool = False) -> list[Atoms]:
    """Langevin NVT MD at ``temperature_K`` (K) for ``n_steps`` steps of ``timestep_fs`` (fs), with a
    friction of ``friction_per_fs`` (1/fs); returns frames (positions, momenta) every ``sample_every`` steps.
    ASE's ``timestep`` (in ASE's time unit, e.g. ``1 * ase.units.fs``) and ``steps`` are taken too.

    MACE potentials run on :mod:`toolkit.md.engine` (see :func:`uses_engine`), others on ASE.
    ``compile_model`` compiles the engine's model call (:class:`toolkit.md.engine.MDEngine`): after a
    compilation of a minute or so, small cells step 1.3–1.9 times faster on a CPU. Other potentials
    run as they would without it.

    Velocities start from a Maxwell–Boltzmann distribution drawn with ``seed``. Every
    sample the temperature is checked against :func:`~toolkit.validation.temperature_limit_K` and an
    :class:`~toolkit.validation.MDExplosionError` names the fastest atoms. With a
    ``store`` the frames go to a trajectory checkpoint, and a rerun continues from the
    last frame (the thermostat noise after a resume is drawn from ``seed`` + steps done).
    """
    if uses_engine(atoms, potential):
        return run_replicas([atoms], potential, temperature_K, n_steps, timestep_fs=timestep_fs, seeds=[seed],
                            friction_per_fs=friction_per_fs, sample_every=sample_every, store=store,
                            explode_factor=explode_factor, progress=progress, compile_model=compile_model)[0]
    check_structure(atoms)
    potential.check_elements(atoms)
    params = {"temperature_K": temperature_K, "n_steps": n_steps, "timestep_fs": timestep_fs,
              "seed": seed, "friction_per_fs": friction_per_fs, "sample_every": sample_every}
    checkpoint = None
    if store is not None:
        key = store.key("md", atoms, potential, params)
        replay_explosion(store, [key])
        if store.get(key) is not None and store.checkpoint(key).exists():
            return read(store.checkpoint(key), index=":")
        checkpoint = store.checkpoint(key)

    frames = read(checkpoint, index=":") if checkpoint is not None and checkpoint.exists() else []
    if frames:
        work = frames[-1].copy()
        work.set_momenta(frames[-1].get_momenta())
    else:
        work = atoms.copy()
        MaxwellBoltzmannDistribution(work, temperature_K=temperature_K, rng=np.random.default_rng(seed))
        Stationary(work)
        frames = [work.copy()]
    done = (len(frames) - 1) * sample_every
    work.calc = potential
    # ASE's recommended way to keep the centre of mass still under Langevin (fixcm is deprecated)
    work.set_constraint([c for c in work.constraints if not isinstance(c, FixCom)] + [FixCom()])
    dyn = Langevin(work, timestep=timestep_fs * units.fs, temperature_K=temperature_K,
                   friction=friction_per_fs / units.fs, fixcm=False, rng=np.random.default_rng(seed + done))
    limit = temperature_limit_K(temperature_K, explode_factor)
    traj = Trajectory(checkpoint, "a") if checkpoint is not None else None
    if traj is not None and done == 0:
        traj.write(frames[0])

    bar = progress_bar(total=n_steps, initial=done, desc=f"MD {temperature_K:.0f} K", disable=not progress, leave=False)
    while done < n_steps:
        chunk = min(sample_every, n_steps - done)
        dyn.run(chunk)
        done += chunk
        bar.update(chunk)
        try:
            check_md_frame(work, temperature_K, limit)
        except MDExplosionError as blown:
            bar.close()
            if traj is not None:
                traj.close()
                store.put(key, "md", atoms, {"exploded": str(blown), **params})
            blown.frames = [frames]
            raise
        frame = work.copy()
        frame.set_momenta(work.get_momenta())
        frames.append(frame)
        if traj is not None:
            traj.write(work)
    bar.close()
    if store is not None:
        traj.close()
        store.put(key, "md", atoms, {"n_frames": len(frames), **params})
    return frames


def run_replicas(replicas: list[Atoms], potential, temperatures_K, n_steps: int, thermostat: str = "langevin",
                 timestep_fs: float = 1.0, seeds=0, sample_every: int = 10, friction_per_fs: float = 0.01,
                 tau_fs: float = 100.0, dtype: str = "float32", store=None, explode_factor: float = 3.0,
                 progress: bool = True, compile_model: bool = False) -> list[list[Atoms]]:
    """Run :class:`MDEngine` for ``n_steps``; returns each replica's frames every ``sample_every`` steps.

    The frames' positions are unwrapped (ready for :mod:`toolkit.transport`). With a
    ``store``, each replica checkpoints to its own ASE trajectory (keyed by its structure,
    temperature, seed and the run's settings) and a rerun resumes from the last frame all
    replicas reached, drawing the noise after a resume from ``seed + steps done`` (as
    :func:`run_md` does). ``compile_model``: see :class:`MDEngine` (it enters the store key, since
    compiled and eager calls round differently).
    """
    # compile_model only where set, so that the store keys of eager runs stay those they always were
    engine_args = dict(thermostat=thermostat, timestep_fs=timestep_fs, friction_per_fs=friction_per_fs, tau_fs=tau_fs,
                       dtype=dtype, **({"compile_model": True} if compile_model else {}))
    temperatures, seed_list = per_replica(len(replicas), temperatures_K, seeds)
    keys, frames = [], [[] for _ in replicas]
    if store is not None:
        for atoms, temperature, seed in zip(replicas, temperatures, seed_list):
            params = {"engine": engine_args, "temperature_K": float(temperature), "seed": int(seed),
                      "n_steps": n_steps, "sample_every": sample_every}
            keys.append(store.key("md-engine", atoms, potential, params))
        replay_explosion(store, keys)
        paths = [store.checkpoint(key) for key in keys]
        saved = [read(p, index=":") if p.exists() and p.stat().st_size else [] for p in paths]
        common = min(len(s) for s in saved)
        frames = [s[:common] for s in saved]
        for path, replica_frames in zip(paths, frames):  # drop frames some replicas wrote past the others
            with Trajectory(path, "w") as traj:
                for frame in replica_frames:
                    traj.write(frame)
    done = (len(frames[0]) - 1) * sample_every if frames[0] else 0
    if done >= n_steps:
        return frames
    start = [f[-1] for f in frames] if done else replicas
    engine = MDEngine(potential, start, temperatures, seeds=[s + done for s in seed_list], **engine_args)
    engine.steps_done = done
    trajs = [Trajectory(store.checkpoint(key), "a") for key in keys] if store is not None else []
    if not done:
        for k in range(len(replicas)):
            frames[k].append(engine.snapshot(k))
            if trajs:
                trajs[k].write(frames[k][0])
    bar = progress_bar(total=n_steps, initial=done, desc=f"MD ×{len(replicas)} replicas", disable=not progress, leave=False)
    try:
        while engine.steps_done < n_steps:
            chunk = min(sample_every, n_steps - engine.steps_done)
            engine.step(chunk)
            bar.update(chunk)
            snapshots = [engine.snapshot(k) for k in range(len(replicas))]
            try:
                engine.check_replicas(explode_factor, snapshots)
            except MDExplosionError as blown:
                blown.frames = frames
                if store is not None:
                    store.put(keys[blown.replica], "md-engine", replicas[blown.replica], {"exploded": str(blown)})
                raise
            for k, snapshot in enumerate(snapshots):
                frames[k].append(snapshot)
                if trajs:
                    trajs[k].write(snapshot)
    finally:
        bar.close()
        for traj in trajs:
            traj.close()
    return frames
