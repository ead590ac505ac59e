"""One results store: long calculations keyed by their inputs, in ASE's SQLite database.

The key is a hash of the task name, the structure (species, positions, cell, pbc), the
potential's file hash and the parameters. A rerun with the same inputs reads the stored
result instead of recomputing; each write is one SQLite transaction, so a killed kernel
leaves either the finished row or nothing. Work that takes many steps (MD, relaxations)
checkpoints to an ASE trajectory named by the same key, and resumes from its last frame.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import ase.db
import numpy as np
from ase import Atoms

STORE_ENV = "TOOLKIT_STORE"


def default_store_path() -> Path:
    """``$TOOLKIT_STORE``, else ``$XDG_CACHE_HOME/toolkit`` (``~/.cache/toolkit``)."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "toolkit"


def structure_fingerprint(atoms: Atoms) -> str:
    """Hash of species, positions and cell rounded to 1e-6 Å, and pbc."""
    digest = hashlib.sha256()
    digest.update(atoms.numbers.astype(np.int64).tobytes())
    for array in (atoms.positions, atoms.cell.array):
        digest.update((np.round(array, 6) + 0.0).tobytes())  # + 0.0 folds -0.0 into 0.0
    digest.update(np.asarray(atoms.pbc, dtype=bool).tobytes())
    return digest.hexdigest()


def result_key(task: str, atoms: Atoms, potential_sha256: str, parameters: dict) -> str:
    """The store key for ``task`` on ``atoms`` with a potential and parameters."""
    text = json.dumps(
        [task, structure_fingerprint(atoms), potential_sha256, parameters], sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ResultsStore:
    """Results in ``root/results.db`` (ASE database) and checkpoints under ``root/checkpoints``."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_store_path()
        (self.root / "checkpoints").mkdir(parents=True, exist_ok=True)
        self.db = ase.db.connect(self.root / "results.db", type="db")

    def key(self, task: str, atoms: Atoms, potential, parameters: dict) -> str:
        return result_key(task, atoms, potential.info.sha256, parameters)

    def get(self, key: str) -> tuple[Atoms, dict] | None:
        """``(atoms, data)`` stored under ``key``, or ``None``."""
        rows = list(self.db.select(key=key))
        if not rows:
            return None
        return rows[-1].toatoms(), dict(rows[-1].data)

    def put(self, key: str, task: str, atoms: Atoms, data: dict) -> None:
        """Store ``atoms`` (usually the result structure) and ``data`` under ``key``, atomically."""
        with self.db:
            stale = [row.id for row in self.db.select(key=key)]
            if stale:
                self.db.delete(stale)
            self.db.write(atoms, key=key, task=task, data=data)

    def cached(self, task: str, atoms: Atoms, potential, parameters: dict,
               compute: Callable[[], tuple[Atoms, dict]]) -> tuple[Atoms, dict]:
        """Return the stored ``(atoms, data)`` for these inputs, computing and storing it if new."""
        key = self.key(task, atoms, potential, parameters)
        hit = self.get(key)
        if hit is not None:
            return hit
        result_atoms, data = compute()
        self.put(key, task, result_atoms, data)
        return result_atoms, data

    def checkpoint(self, key: str, suffix: str = ".traj") -> Path:
        """Path of the checkpoint file belonging to ``key``."""
        return self.root / "checkpoints" / f"{key}{suffix}"

    def __len__(self) -> int:
        return self.db.count()
