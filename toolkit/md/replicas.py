"""Independent MD replicas, shared by the ASE loop (:mod:`toolkit.md.runs`) and the batched engine
(:mod:`toolkit.md.engine`): each replica's temperature and seed, and the replay of a stored blow-up."""

from __future__ import annotations

import numpy as np
from ase.io import read

from toolkit.store import ResultsStore
from toolkit.validation import MDExplosionError


def per_replica(n: int, temperatures_K, seeds) -> tuple[np.ndarray, list[int]]:
    """Each of ``n`` replicas' temperature (K) and seed: one temperature for all or one each, and
    one base seed ``s`` giving ``s, s+1, ...`` or one seed each."""
    temperatures = np.broadcast_to(np.asarray(temperatures_K, dtype=float), (n,)).copy()
    seed_list = [int(seeds) + k for k in range(n)] if np.ndim(seeds) == 0 else [int(s) for s in seeds]
    if len(seed_list) != n:
        raise ValueError(f"{len(seed_list)} seeds for {n} replicas")
    return temperatures, seed_list


def replay_explosion(store: ResultsStore, keys: list[str]) -> None:
    """Raise again the :class:`~toolkit.validation.MDExplosionError` a stored run stopped with, if one did.

    A run that blew up is recorded as such: resumed from its last frame with fresh noise it
    could run on past the blow-up, so that a rerun would hide it and give other frames.
    ``keys``: the run's store keys (one per replica); the error carries their checkpointed frames.
    """
    for key in keys:
        hit = store.get(key)
        if hit is not None and "exploded" in hit[1]:
            error = MDExplosionError(hit[1]["exploded"])
            error.frames = [read(store.checkpoint(k), index=":") for k in keys]
            raise error
