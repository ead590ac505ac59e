"""DFT behind the same calculator interface as the potentials: GPAW, offline, for anchoring them.

``load_dft("gpaw-pbe")`` returns a :class:`toolkit.calculator.Potential` wrapping a GPAW calculator, so
relaxations, single points and the results store work on it as on any potential. Its
:class:`~toolkit.calculator.PotentialInfo` names the GPAW version, the PAW setups and their SHA-256, the
mode (plane waves or LCAO), the cutoff, the k-point density, the smearing and the spin, and its
"file hash" is a hash of all of those, so the store keys DFT results by the exact settings.

GPAW is an optional extra: ``make dft`` installs it (Debian's libxc and OpenBLAS, then a serial build
from the package index with the PAW setups of ``gpaw-data``). Without it, :func:`load_dft` raises an
error that names that command.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.units import GPa

from toolkit.calculator import Potential, PotentialInfo, PotentialUnavailableError, file_sha256

#: Where each study's DFT anchors live: ``ANCHOR_DIR / <study> / <point>.json`` (:mod:`toolkit.anchors`).
ANCHOR_DIR = Path(__file__).resolve().parent / "reference_data" / "dft"
#: Exchange-correlation functional of each DFT name :func:`load_dft` takes.
FUNCTIONALS = {"gpaw-pbe": "PBE", "gpaw-pbesol": "PBEsol"}
#: Functionals whose PAW setups gpaw-data does not ship: each element's is generated on first use by GPAW's own
#: generator with its default parameters (``gpaw dataset -f <xc> -w <symbol>``, seconds each) into
#: :func:`generated_setup_dir`, and its hash is recorded like a shipped one's.
GENERATED = {"PBEsol"}
#: What to run to get GPAW.
INSTALL_HINT = "`make dft` (as root it also installs Debian's libxc-dev and libopenblas-dev)"


@dataclass(frozen=True)
class DFTSettings:
    """How a GPAW calculation is set up.

    ``mode``: ``"pw"`` (plane waves, cutoff ``ecut_eV`` in eV) or ``"lcao"`` (``basis``);
    ``kpoint_density_per_A``: Monkhorst–Pack points per Å⁻¹ of reciprocal length (ASE's ``kptdensity``);
    ``smearing_eV``: Fermi–Dirac width (eV); ``spin``: spin-polarised; ``scf_energy_eV``: SCF
    convergence of the energy per valence electron (eV).
    """

    mode: str = "pw"
    ecut_eV: float = 500.0
    basis: str = "dzp"
    kpoint_density_per_A: float = 3.0
    smearing_eV: float = 0.05
    spin: bool = False
    scf_energy_eV: float = 1e-6

    def __post_init__(self):
        if self.mode not in ("pw", "lcao"):
            raise ValueError(f"mode must be 'pw' or 'lcao', not {self.mode!r}")
        if self.ecut_eV <= 0 or self.kpoint_density_per_A <= 0 or self.smearing_eV < 0:
            raise ValueError(f"cutoff, k-point density must be positive and smearing not negative: {self}")


#: The DFT method and settings of study 1's host anchors and study 3's anchors (PBE, plane waves at 800 eV, 3 k-points
#: per Å⁻¹, Fermi-Dirac 0.05 eV); :data:`CONVERGENCE` shows what they converge. The cutoff is set by the stress, which
#: the cell relaxations follow: for cubic BaSnO3 at 500 eV GPAW's stress vanished at a = 4.04 Å while the energy's
#: minimum was at 4.175 Å (4.174 Å at 800 eV, where the stress vanishes at about 4.18 Å).
ANCHOR_METHOD = "gpaw-pbe"
ANCHOR_SETTINGS = DFTSettings(ecut_eV=800.0)
#: Settings scanned for the convergence tests, one at a time.
CONVERGENCE = {"ecut_eV": (600.0, 800.0, 1000.0), "kpoint_density_per_A": (2.0, 3.0, 4.5)}


def gpaw_available() -> bool:
    """Whether GPAW and its PAW setups can be imported here."""
    try:
        import gpaw  # noqa: F401
        import gpaw_data  # noqa: F401
    except ImportError:
        return False
    return True


def generated_setup_dir(xc: str) -> Path:
    """Where the generated setups of ``xc`` live: ``<results store>/gpaw-setups/<xc>/``."""
    from toolkit.store import default_store_path

    return default_store_path() / "gpaw-setups" / xc


def generable_elements() -> tuple[str, ...]:
    """The elements GPAW's setup generator has default parameters for."""
    from gpaw.atom.generator2 import parameters

    return tuple(sorted({re.match(r"[A-Z][a-z]?", key).group(0) for key in parameters}))


def generate_setups(xc: str, symbols) -> dict[str, Path]:
    """Element -> the setup file of ``xc`` for each of ``symbols``, generated where missing (GPAW's defaults)."""
    folder = generated_setup_dir(xc)
    folder.mkdir(parents=True, exist_ok=True)
    for symbol in sorted(set(symbols)):
        if not (folder / f"{symbol}.{xc}").is_file():
            with tempfile.TemporaryDirectory(dir=folder) as work:  # another process may be making the same one
                subprocess.run([sys.executable, "-m", "gpaw", "dataset", "-f", xc, "-w", symbol], cwd=work,
                               check=True, capture_output=True)
                os.replace(Path(work) / f"{symbol}.{xc}", folder / f"{symbol}.{xc}")
    return {symbol: folder / f"{symbol}.{xc}" for symbol in sorted(set(symbols))}


@contextmanager
def _setups_on_path(folder: Path):
    """GPAW searches ``folder`` for setups while the block runs, and only then."""
    import gpaw

    gpaw.setup_paths.insert(0, str(folder))
    try:
        yield
    finally:
        gpaw.setup_paths.remove(str(folder))


def setup_files(xc: str) -> dict[str, Path]:
    """Element symbol -> the PAW setup file of ``xc``: those ``gpaw-data`` ships, or those generated so far."""
    from gpaw_data import datapath

    if xc in GENERATED:
        folder = generated_setup_dir(xc)
        return {path.name.split(".")[0]: path for path in sorted(folder.glob(f"*.{xc}"))} if folder.is_dir() else {}
    found = {}
    for path in sorted(datapath().glob(f"*.{xc}.gz")):
        symbol = path.name.split(".")[0]
        if symbol in chemical_symbols and path.name == f"{symbol}.{xc}.gz":
            found[symbol] = path
    return found


def load_dft(name: str = "gpaw-pbe", settings: DFTSettings | None = None) -> Potential:
    """A GPAW calculator behind the toolkit's :class:`~toolkit.calculator.Potential` interface.

    ``name``: one of :data:`FUNCTIONALS`; ``settings``: :class:`DFTSettings` (default: plane waves at 500 eV,
    3 k-points per Å⁻¹, 0.05 eV Fermi–Dirac smearing, no spin). Elements without a shipped setup are
    refused as any potential refuses elements it lacks.
    """
    if name not in FUNCTIONALS:
        raise PotentialUnavailableError(f"unknown DFT method {name!r}: use one of {', '.join(FUNCTIONALS)}")
    if not gpaw_available():
        raise PotentialUnavailableError(f"{name} needs GPAW, an optional extra: install it with {INSTALL_HINT}")
    import gpaw
    import gpaw_data

    settings = settings or DFTSettings()
    xc = FUNCTIONALS[name]
    generated = xc in GENERATED
    described = {"gpaw": gpaw.__version__, "gpaw-data": gpaw_data.__version__, "xc": xc, **asdict(settings)}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
    setups = (f"{xc} PAW setups generated by GPAW {gpaw.__version__} with its default parameters "
              f"(`gpaw dataset -f {xc} -w <element>`)" if generated else
              f"{xc} PAW setups of gpaw-data {gpaw_data.__version__}")
    info = PotentialInfo(
        name=name, family="dft", path=str(generated_setup_dir(xc) if generated else gpaw_data.datapath()),
        sha256=digest, source=f"GPAW {gpaw.__version__}, {setups}, " + json.dumps(asdict(settings), sort_keys=True),
        elements=generable_elements() if generated else tuple(sorted(setup_files(xc))),
    )
    return Potential(GPAWByDensity(xc, settings), info)


def setup_hashes(atoms, potential: Potential) -> dict[str, str]:
    """Element -> SHA-256 of the PAW setup file a DFT ``potential`` uses for it (for provenance)."""
    xc = FUNCTIONALS[potential.info.name]
    files = setup_files(xc)
    return {symbol: file_sha256(files[symbol]) for symbol in sorted(set(atoms.get_chemical_symbols()))}


def described(dft: Potential, atoms=None) -> dict:
    """What a DFT result records of its method: its info and settings, and the setup hashes of ``atoms``' elements."""
    record = {"method": dft.info.as_dict(), "settings": asdict(dft.inner.settings)}
    return record if atoms is None else {"setup_sha256": setup_hashes(atoms, dft), **record}


def single_point(atoms, dft: Potential) -> dict:
    """``atoms`` with their DFT energy (eV), forces (eV/Å) and, in plane-wave mode, stress (eV/Å³, Voigt): a
    JSON-ready record of the configuration and its labels, with :func:`described`."""
    work = atoms.copy()
    work.calc = dft
    record = {"n_atoms": len(work), "numbers": work.numbers.tolist(), "cell_A": work.cell.array.tolist(),
              "positions_A": work.positions.tolist(), "energy_eV": float(work.get_potential_energy()),
              "forces_eV_A": work.get_forces().tolist()}
    if dft.inner.settings.mode == "pw":
        record["stress_eV_A3"] = work.get_stress(voigt=True).tolist()
    return {**record, **described(dft, work)}


def frame_atoms(point: dict, name: str) -> Atoms:
    """The configuration of a :func:`single_point` record, its DFT results in ``info``/``arrays`` (``dft_energy_eV``,
    ``dft_stress_eV_A3`` where computed, ``dft_forces_eV_A``) and ``info["anchor"]`` its ``name``."""
    atoms = Atoms(numbers=point["numbers"], positions=point["positions_A"], cell=point["cell_A"], pbc=True)
    atoms.info.update(anchor=name, dft_energy_eV=point["energy_eV"])
    if "stress_eV_A3" in point:
        atoms.info["dft_stress_eV_A3"] = np.asarray(point["stress_eV_A3"])
    atoms.arrays["dft_forces_eV_A"] = np.asarray(point["forces_eV_A"])
    return atoms


def frame_errors(potential, points: dict[str, dict]) -> list[dict]:
    """``potential`` on every ``frame-*`` record of ``points`` (:func:`single_point`'s): per frame its force RMSE and
    largest error (eV/Å), the RMS of DFT's forces for scale, its stress error (GPa, largest Voigt component) where DFT
    computed a stress, and its energy error (meV/atom) after removing the mean offset over the frames of the same
    empirical formula (the two methods' energy zeros differ): None for a frame alone with its formula, whose offset
    would remove the whole error."""
    rows, offsets = [], {}
    for name, point in sorted(points.items()):
        if not name.startswith("frame-"):
            continue
        atoms = frame_atoms(point, name)
        mine = atoms.copy()
        mine.calc = potential
        df = mine.get_forces() - atoms.arrays["dft_forces_eV_A"]
        formula = atoms.get_chemical_formula(empirical=True)
        de = (mine.get_potential_energy() - atoms.info["dft_energy_eV"]) / len(atoms)
        offsets.setdefault(formula, []).append(de)
        row = {"frame": name, "formula": formula, "n_atoms": len(atoms),
               "force_rmse_eV_A": float(np.sqrt(np.mean(df ** 2))), "force_max_error_eV_A": float(np.abs(df).max()),
               "dft_force_rms_eV_A": float(np.sqrt(np.mean(atoms.arrays["dft_forces_eV_A"] ** 2))),
               "energy_error_meV_atom": de}
        if "dft_stress_eV_A3" in atoms.info:
            row["stress_error_GPa"] = float(np.abs(mine.get_stress() - atoms.info["dft_stress_eV_A3"]).max() / GPa)
        rows.append(row)
    for row in rows:
        same = offsets[row["formula"]]
        row["energy_error_meV_atom"] = 1000 * (row["energy_error_meV_atom"] - np.mean(same)) if len(same) > 1 else None
    return rows


def _make_gpaw_calculator(xc: str, settings: DFTSettings, atoms):
    from ase.calculators.calculator import kptdensity2monkhorstpack
    from gpaw import GPAW, PW, FermiDirac

    mode = PW(settings.ecut_eV) if settings.mode == "pw" else "lcao"
    extra = {"basis": settings.basis} if settings.mode == "lcao" else {}
    return GPAW(mode=mode, xc=xc, kpts=[int(k) for k in kptdensity2monkhorstpack(atoms, settings.kpoint_density_per_A)],
                occupations=FermiDirac(settings.smearing_eV), spinpol=settings.spin,
                convergence={"energy": settings.scf_energy_eV}, txt=None, **extra)


class GPAWByDensity:
    """An ASE-style calculator that runs GPAW with a k-point mesh set from the cell at each call."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, xc: str, settings: DFTSettings):
        self.xc, self.settings = xc, settings
        self.results: dict = {}

    def calculate(self, atoms, properties, system_changes) -> None:
        if self.xc in GENERATED:
            generate_setups(self.xc, atoms.get_chemical_symbols())
        with _setups_on_path(generated_setup_dir(self.xc)) if self.xc in GENERATED else nullcontext():
            work = atoms.copy()
            work.calc = _make_gpaw_calculator(self.xc, self.settings, atoms)
            self.results = {"energy": work.get_potential_energy(), "free_energy": work.get_potential_energy(
                force_consistent=True), "forces": work.get_forces()}
            if self.settings.mode == "pw":  # after the SCF the stress is cheap, and a cell relaxation asks for it
                self.results["stress"] = work.get_stress()
        if self.settings.mode != "pw" and "stress" in properties:
            raise NotImplementedError("GPAW computes the stress in plane-wave mode only: use DFTSettings(mode='pw')")
