"""One results store: long calculations keyed by their inputs, in ASE's SQLite database.

The key is a hash of the task name and its schema number (:data:`TASK_SCHEMAS`), the toolkit's
version, the structure (species, positions, cell, pbc), the potential's file hash and the
parameters, so a result made by older code is never served for newer code. A rerun with the same inputs reads the stored
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

import toolkit

STORE_ENV = "TOOLKIT_STORE"
#: Schema number of each task's stored result. Bump a task's number when a change to its code changes
#: what it computes or stores: the old rows then no longer match any key and the task runs again (they
#: stay on disk until ``python -m toolkit store clear``). Tasks not listed have schema 1.
TASK_SCHEMAS = {"relax": 1, "forces": 1, "md": 1, "md-engine": 1, "neb": 2, "teacher-label": 1, "sweep": 1}


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


def code_version(task: str) -> list:
    """What of the code a stored result of ``task`` depends on: the toolkit's version and the task's schema."""
    return [toolkit.__version__, TASK_SCHEMAS.get(task, 1)]


def result_key(task: str, atoms: Atoms, potential_sha256: str, parameters: dict) -> str:
    """The store key for ``task`` on ``atoms`` with a potential and parameters (and this code's version)."""
    text = json.dumps(
        [task, code_version(task), structure_fingerprint(atoms), potential_sha256, parameters], sort_keys=True,
        default=str,
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

    def summary(self) -> dict:
        """Where the store is, its size on disk (bytes), rows per task and the number of checkpoint files."""
        tasks: dict[str, int] = {}
        for row in self.db.select(columns=["key_value_pairs"]):
            task = row.get("task", "?")
            tasks[task] = tasks.get(task, 0) + 1
        files = [p for p in self.root.rglob("*") if p.is_file()]
        return {"root": str(self.root), "bytes": sum(p.stat().st_size for p in files), "rows_by_task": tasks,
                "checkpoints": len(list((self.root / "checkpoints").iterdir()))}

    def clear(self, task: str | None = None) -> int:
        """Delete every stored result (or only ``task``'s) and its checkpoints; returns the rows deleted."""
        rows = [(row.id, row.get("key")) for row in self.db.select(**({} if task is None else {"task": task}))]
        with self.db:
            if rows:
                self.db.delete([row_id for row_id, _ in rows])
        for checkpoint in (self.root / "checkpoints").iterdir():
            if task is None or checkpoint.name.split(".")[0] in {key for _, key in rows}:
                checkpoint.unlink()
        return len(rows)
