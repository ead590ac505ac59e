"""The toolkit's calculator type: :class:`Potential`, an ASE calculator wrapping any back end (a MACE model,
CHGNet, GPAW, EMT) with element and finiteness guards, and :class:`PotentialInfo`, what a result was computed with.
Loading potentials by name is :mod:`toolkit.potentials`; DFT is :mod:`toolkit.dft`."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.data import chemical_symbols

from toolkit.validation import check_finite


class PotentialUnavailableError(RuntimeError):
    """The requested potential cannot be loaded here; the message says what to do."""


class UntrustedModelError(PotentialUnavailableError):
    """A model file the toolkit does not know, loaded without ``trust=True``: unpickling it could run any code."""


class UnsupportedElementsError(ValueError):
    """The structure holds elements the potential was not trained on."""


@dataclass(frozen=True)
class PotentialInfo:
    """What a result was computed with: enough to reproduce it and to key a cache."""

    name: str
    family: str
    path: str
    sha256: str
    source: str
    elements: tuple[str, ...] = field(repr=False)
    #: The distance (Å) within which an atom feels another (a MACE model's r_max, CHGNet's atom-graph cutoff);
    #: None where the back end does not say. A cell narrower than this lets an atom feel its own periodic image.
    cutoff_A: float | None = None

    @property
    def loadable_name(self) -> str:
        """What :func:`load_potential` takes to load this potential again (in a Dask worker, say)."""
        return self.path if self.name.startswith("mace-file:") else self.name

    def as_dict(self) -> dict:
        """JSON-ready provenance (the element list is summarised as a count)."""
        d = asdict(self)
        d["elements"] = len(self.elements)
        return d


class Potential(Calculator):
    """An ASE calculator wrapping a back end with element and finiteness guards.

    ``inner`` is the back-end calculator (``MACECalculator``, ``CHGNetCalculator``, ...);
    ``info`` is its :class:`PotentialInfo`. The back end is asked for the stress only when the
    caller wants it: asked for it now, or read it from the last result (distill's labelling reads the
    forces, then the stress, of each configuration), since for some back ends it costs a pass of its own.
    """

    def __init__(self, inner: Calculator, info: PotentialInfo):
        super().__init__()
        self.inner = inner
        self.info = info
        self.implemented_properties = list(inner.implemented_properties)
        self._stress_read = False

    def check_elements(self, atoms: Atoms) -> None:
        """Raise :class:`UnsupportedElementsError` listing every element the model lacks."""
        missing = sorted(set(atoms.get_chemical_symbols()) - set(self.info.elements))
        if missing:
            raise UnsupportedElementsError(
                f"potential {self.info.name!r} does not cover element(s) {', '.join(missing)}; "
                "choose a potential trained on them (see `python -m toolkit info`)"
            )

    def get_property(self, name, atoms=None, allow_calculation=True):
        value = super().get_property(name, atoms, allow_calculation)
        self._stress_read |= name == "stress"
        return value

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.check_elements(self.atoms)
        wanted = list(properties) + (["stress"] if self._stress_read and "stress" not in properties else [])
        self._stress_read = False
        self.inner.results = {}  # some back ends merge into their last results: a lean call would keep a stale stress
        self.inner.calculate(self.atoms, wanted, all_changes)
        self.results = dict(self.inner.results)
        check_finite(self.results, self.atoms)

    def __repr__(self) -> str:
        return f"Potential({self.info.name!r}, sha256={self.info.sha256[:12]}…)"


@lru_cache(maxsize=None)
def _sha256_cached(path: str, size: int, mtime: float) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file (memoised on path, size and modification time)."""
    stat = os.stat(path)
    return _sha256_cached(str(path), stat.st_size, stat.st_mtime)


def from_ase_calculator(calc: Calculator, name: str, elements=None) -> Potential:
    """Wrap any ASE calculator (EMT, a DFT code, ...) so the toolkit's workflows accept it.

    ``elements`` (symbols) limits what it may be used on; default: every element.
    The "file hash" is a hash of the name and the calculator's parameters.
    """
    text = f"{name}:{type(calc).__name__}:{sorted(calc.parameters.items()) if calc.parameters else ''}"
    info = PotentialInfo(
        name=name,
        family=type(calc).__name__,
        path="",
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        source=f"ASE calculator {type(calc).__module__}.{type(calc).__name__}",
        elements=tuple(elements) if elements is not None else tuple(chemical_symbols[1:]),
    )
    return Potential(calc, info)
