"""Provenance and summaries: what every saved result records about how it was made."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

#: Packages whose versions change results; recorded with every summary.
TRACKED_PACKAGES = (
    "toolkit", "ase", "numpy", "scipy", "torch", "mace-torch", "e3nn", "chgnet",
    "phonopy", "spglib", "pymatgen", "matplotlib", "gpaw", "gpaw-data",
)


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`TRACKED_PACKAGES` (``"not installed"`` where absent)."""
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def umask() -> int:
    """The process's file-creation mask, read without changing it where the system allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_points(folder: Path) -> dict[str, dict]:
    """Every point file in ``folder``: name -> record (none where the folder does not exist yet)."""
    if not folder.is_dir():
        return {}
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def write_json_atomic(path: str | Path, obj) -> Path:
    """Write ``obj`` as JSON so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes the file 0600; results are for the user's group as usual
    with os.fdopen(fd, "w") as handle:
        json.dump(obj, handle, indent=2, default=_jsonable, allow_nan=False)
    os.replace(tmp, path)
    return path


def provenance(potential, parameters: dict, seeds: dict, started: float) -> dict:
    """The provenance block: potential (name, file, SHA-256, source), inputs, versions, wall time (s)."""
    return {
        "potential": potential.info.as_dict(),
        "parameters": parameters,
        "seeds": seeds,
        "versions": package_versions(),
        "wall_time_s": round(time.time() - started, 2),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {"machine": platform.machine(), "cpus": os.cpu_count()},
    }


def write_summary(out_dir: str | Path, summary: dict, potential, parameters: dict, seeds: dict,
                  started: float, section_potentials: dict | None = None) -> Path:
    """Write ``out_dir/summary.json``: the study's keys plus ``potential`` and ``provenance``.

    ``section_potentials``: ``{section: potential}`` for the sections that choose their own potential (a
    student where its card agrees on what they compute), recorded by name and in full, also where it is
    ``potential`` itself."""
    record = dict(summary)
    record["potential"] = potential.info.name
    record["provenance"] = provenance(potential, parameters, seeds, started)
    if section_potentials:
        record["section_potentials"] = {section: p.info.name for section, p in section_potentials.items()}
        record["provenance"]["section_potentials"] = {section: p.info.as_dict()
                                                      for section, p in section_potentials.items()}
    return write_json_atomic(Path(out_dir) / "summary.json", record)
