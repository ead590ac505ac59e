"""Interatomic potentials behind one ASE calculator interface.

``load_potential(name)`` returns a :class:`Potential`: an ASE calculator that wraps a
back end (MACE through mace-torch, or CHGNet), carries a :class:`PotentialInfo` (name,
file, SHA-256, where it came from, elements covered), refuses structures with elements
the model does not cover, and refuses NaN/inf results.

Names
-----
``"auto"``
    A MACE-MP-0 model already in mace-torch's cache if there is one, else the offline
    fallback. Never downloads; prints one line saying what it chose and why.
``"mace-mp-0-small"``, ``"mace-mp-0-medium"``, ``"mace-mp-0-large"``, ``"mace-mpa-0-medium"``
    Loaded through mace-torch's own downloader and cache (``~/.cache/mace``).
``"chgnet"`` (``"chgnet-0.3.0"``)
    The offline fallback: CHGNet 0.3.0, whose weights ship inside the ``chgnet`` wheel.
``"student:<study>"``
    A small MACE model distilled from a teacher on one study's configurations
    (:mod:`toolkit.students`); it ships inside the package with its model card, which
    records the teacher, the data and how well the student agrees with it.
a path to a ``.model`` file
    Any MACE model saved with ``torch.save``. Such a file is a pickle, and loading it runs whatever
    code it holds: the toolkit unpickles only files it knows (its shipped students by their card's
    SHA-256, MACE-MP-0 models in mace-torch's cache) unless the caller passes ``trust=True``, and
    only while it loads that one file (:func:`unpickling_allowed`).

Set ``TOOLKIT_OFFLINE=1`` to forbid every download (a request for an uncached model
then fails at once with instructions instead of waiting on the network).
"""

from __future__ import annotations

import logging
import os
import socket
import urllib.parse
import warnings
from contextlib import contextmanager
from pathlib import Path

from ase.calculators.calculator import Calculator, all_changes
from ase.data import chemical_symbols

from toolkit.calculator import Potential, PotentialInfo, PotentialUnavailableError, UntrustedModelError, file_sha256
from toolkit.students.cards import student_serves

log = logging.getLogger(__name__)

# chgnet 0.4.2 converts a grad-tracking tensor to a float on every call; harmless, noisy.
warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True")
# ... and drops constraints when it converts to pymatgen; forces do not depend on them.
warnings.filterwarnings("ignore", message="Only FixAtoms and FixCartesian is supported by Pymatgen")

OFFLINE_ENV = "TOOLKIT_OFFLINE"
FALLBACK = "chgnet-0.3.0"
#: Our names for the MACE-MP-0 family -> mace-torch's ``mace_mp(model=...)`` keys.
MACE_MP_MODELS = {
    "mace-mp-0-medium": "medium",
    "mace-mp-0-small": "small",
    "mace-mp-0-large": "large",
    "mace-mpa-0-medium": "medium-mpa-0",
}
#: CHGNet 0.3.0 was trained on MPtrj, which covers H (Z=1) to Pu (Z=94).
CHGNET_ELEMENTS = tuple(chemical_symbols[1:95])
NETWORK_PROBE_TIMEOUT_S = 3.0
STUDENT_PREFIX = "student:"
#: Where the distilled students and their model cards ship (``<study>.model``, ``<study>.json``).
STUDENTS_DIR = Path(__file__).resolve().parent / "students"


def offline() -> bool:
    """True when ``TOOLKIT_OFFLINE`` forbids downloads."""
    return os.environ.get(OFFLINE_ENV, "").lower() not in ("", "0", "false", "no")


def _default_device(device: str | None) -> str:
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


#: mace-torch sets this at import, making every ``torch.load`` in the process unpickle anything.
UNSAFE_LOAD_ENV = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
#: The mace-torch modules the toolkit uses, imported together by :func:`import_mace`.
MACE_MODULES = ("mace", "mace.calculators", "mace.calculators.foundations_models", "mace.tools", "mace.tools.utils",
                "mace.data", "mace.modules", "mace.tools.compile", "mace.tools.scripts_utils")


def import_mace() -> None:
    """Import mace-torch without leaving ``torch.load`` unsafe for the whole process.

    mace-torch sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` when it is imported, so that any ``torch.load``
    afterwards, the user's included, unpickles arbitrary objects; the toolkit puts the variable back as
    it was and unpickles only the model files it loads (:func:`unpickling_allowed`). e3nn 0.4.4, which
    mace-torch imports, ``torch.load()``s its own constants file holding ``slice`` objects: ``slice`` is
    allowed for that import (a plain data type, it runs no code). Call this before importing mace.
    """
    import importlib
    import sys

    if all(name in sys.modules for name in MACE_MODULES):
        return
    import torch

    previous = os.environ.get(UNSAFE_LOAD_ENV)
    try:
        with torch.serialization.safe_globals([slice]):
            import e3nn.o3  # noqa: F401
        for name in MACE_MODULES:
            importlib.import_module(name)
    finally:
        if previous is None:
            os.environ.pop(UNSAFE_LOAD_ENV, None)
        else:
            os.environ[UNSAFE_LOAD_ENV] = previous


@contextmanager
def unpickling_allowed(path: str | Path):
    """Within this block, ``torch.load`` of ``path``, and of no other file, may unpickle arbitrary objects
    (a MACE ``.model`` file is a pickled module). Check that the file is trusted before entering."""
    import torch

    original, target = torch.load, Path(path).resolve()

    def load(f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)) and Path(f).resolve() == target:
            kwargs["weights_only"] = False
        return original(f, *args, **kwargs)

    torch.load = load
    try:
        yield
    finally:
        torch.load = original


def known_model_files() -> dict[str, str]:
    """SHA-256 -> what it is, for the model files the toolkit trusts without being told: its shipped
    students (the hash their cards record). MACE-MP-0 models are trusted by where mace-torch's own
    downloader put them (:func:`mace_mp_cache_path`)."""
    return {card["model_sha256"]: f"the shipped student of {study}" for study, card in available_students().items()
            if "model_sha256" in card}


def mace_mp_cache_path(name: str) -> Path:
    """Where mace-torch's downloader keeps the MACE-MP-0 model ``name``."""
    import_mace()
    from mace.calculators.foundations_models import mace_mp_urls
    from mace.tools.utils import get_cache_dir

    url = mace_mp_urls[MACE_MP_MODELS[name]]
    # the same file name mace-torch's download_mace_mp_checkpoint() derives from the URL
    stem = "".join(c for c in os.path.basename(url) if c.isalnum() or c in "_")
    return Path(get_cache_dir()) / stem


def cached_mace_models() -> dict[str, Path]:
    """MACE-MP-0 models present in the cache, in ``auto``'s order of preference."""
    return {name: path for name in MACE_MP_MODELS if (path := mace_mp_cache_path(name)).is_file()}


def chgnet_weights_path() -> Path:
    """The CHGNet 0.3.0 checkpoint that ships inside the chgnet package."""
    import chgnet

    hits = sorted((Path(chgnet.__file__).parent / "pretrained" / "0.3.0").glob("*.pth.tar"))
    if not hits:
        raise PotentialUnavailableError("the chgnet package has no bundled 0.3.0 weights; reinstall chgnet")
    return hits[0]


def auto_choice() -> tuple[str, str]:
    """``(name, reason)`` that ``load_potential("auto")`` would pick, without loading anything."""
    cached = cached_mace_models()
    if cached:
        name = next(iter(cached))
        return name, f"found in the MACE cache ({cached[name]})"
    import_mace()
    from mace.tools.utils import get_cache_dir

    return FALLBACK, (
        f"no MACE-MP-0 model in the cache ({get_cache_dir()}); using the offline fallback whose "
        "weights ship inside the chgnet package (`python -m toolkit fetch` downloads MACE-MP-0)"
    )


def _network_reachable(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname
    try:
        with socket.create_connection((host, 443), timeout=NETWORK_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def fetch_mace_mp(name: str) -> Path:
    """Download MACE-MP-0 model ``name`` into mace-torch's cache (no-op if present)."""
    if name not in MACE_MP_MODELS:
        raise PotentialUnavailableError(f"unknown MACE-MP-0 model {name!r}; known: {', '.join(MACE_MP_MODELS)}")
    path = mace_mp_cache_path(name)
    if path.is_file():
        return path
    from mace.calculators.foundations_models import download_mace_mp_checkpoint, mace_mp_urls

    what_to_do = (
        f"put the file at {path} (copy it from a machine that has it), "
        "or use name='auto' / 'chgnet' for the offline fallback"
    )
    if offline():
        raise PotentialUnavailableError(
            f"{name} is not in the MACE cache and {OFFLINE_ENV} forbids downloading: {what_to_do}"
        )
    url = mace_mp_urls[MACE_MP_MODELS[name]]
    if not _network_reachable(url):
        raise PotentialUnavailableError(
            f"{name} is not in the MACE cache and its download host is unreachable "
            f"(no network within {NETWORK_PROBE_TIMEOUT_S:.0f} s): {what_to_do}"
        )
    return Path(download_mace_mp_checkpoint(MACE_MP_MODELS[name]))


def available_students() -> dict[str, dict]:
    """Model cards of the students that ship with the package, by study."""
    import json

    return {path.stem: json.loads(path.read_text()) for path in sorted(STUDENTS_DIR.glob("*.json"))
            if path.with_suffix(".model").is_file()}


def student_path(study: str) -> Path:
    """The student model of ``study``; :class:`PotentialUnavailableError` names the ones there are."""
    path = STUDENTS_DIR / f"{study}.model"
    if not path.is_file():
        shipped = ", ".join(STUDENT_PREFIX + s for s in available_students()) or "none"
        raise PotentialUnavailableError(
            f"no student for study {study!r} (shipped: {shipped}); make one with "
            f"`python -m toolkit distill {study} --teacher NAME`"
        )
    return path


def _requested_cast(record: logging.LogRecord) -> bool:
    """False for mace-torch's warning that it casts a model to ``default_dtype``: the cast is what was asked."""
    return "does not match model dtype" not in record.getMessage()


def _load_mace_file(path: Path, name: str, source: str, device: str, dtype: str, trusted_as: str | None) -> Potential:
    """Load a MACE model file. ``trusted_as`` says why the file may be unpickled (a known hash, the
    MACE cache, the caller's ``trust=True``); without a reason a file whose hash the toolkit does not
    know raises :class:`UntrustedModelError`."""
    digest = file_sha256(path)
    trusted_as = trusted_as or known_model_files().get(digest)
    if trusted_as is None:
        raise UntrustedModelError(
            f"{path} (SHA-256 {digest[:16]}...) is not a model file the toolkit knows. A .model file is a pickle, "
            "and loading it runs whatever code it holds: if you trust where it came from, load it with "
            "load_potential(path, trust=True)"
        )
    import_mace()
    from mace.calculators import MACECalculator

    logging.getLogger().addFilter(_requested_cast)
    try:
        with unpickling_allowed(path):
            inner = MACECalculator(model_paths=str(path), device=device, default_dtype=dtype)
    finally:
        logging.getLogger().removeFilter(_requested_cast)
    numbers = inner.models[0].atomic_numbers.tolist()
    info = PotentialInfo(
        name=name,
        family="mace",
        path=str(path),
        sha256=digest,
        source=f"{source}; unpickled as {trusted_as}",
        elements=tuple(chemical_symbols[z] for z in numbers),
        cutoff_A=float(inner.models[0].r_max),
    )
    return Potential(inner, info)


def _chgnet_calculator(model, device: str) -> Calculator:
    """CHGNet's ASE calculator, computing the stress (and magnetic moments) only when asked.

    CHGNet's own calculator always predicts energy, forces, stress and magnetic moments; its stress
    is a second backward pass through the model, which MD, NEB, phonons and fixed-cell relaxation
    never read.
    """
    from chgnet.model.dynamics import CHGNetCalculator

    class OnDemand(CHGNetCalculator):
        def calculate(self, atoms=None, properties=None, system_changes=all_changes):
            lean = properties is not None and not {"stress", "magmoms"} & set(properties)
            super().calculate(atoms, properties, system_changes, task="ef" if lean else "efsm")

    return OnDemand(model=model, use_device=device, on_isolated_atoms="ignore")


def _load_chgnet(device: str) -> Potential:
    import chgnet
    from chgnet.model import CHGNet

    path = chgnet_weights_path()
    model = CHGNet.load(model_name="0.3.0", use_device=device, verbose=False)
    inner = _chgnet_calculator(model, device)
    info = PotentialInfo(
        name=FALLBACK,
        family="chgnet",
        path=str(path),
        sha256=file_sha256(path),
        source=f"weights bundled with the chgnet {chgnet.__version__} package (offline)",
        elements=CHGNET_ELEMENTS,
        cutoff_A=float(model.graph_converter.atom_graph_cutoff),
    )
    return Potential(inner, info)


def load_potential(name: str = "auto", device: str | None = None, dtype: str = "float64",
                   trust: bool = False) -> Potential:
    """Load a potential as an ASE calculator.

    Parameters
    ----------
    name:
        ``"auto"``, a MACE-MP-0 name (see :data:`MACE_MP_MODELS`), ``"chgnet"``,
        ``"student:<study>"``, or a path to a MACE ``.model`` file.
    device:
        ``"cpu"`` or ``"cuda"``; default: CUDA when available.
    dtype:
        Floating-point precision of MACE models (``"float64"`` for relaxations and
        phonons, ``"float32"`` is faster for MD). CHGNet always runs in float32.
    trust:
        For a path: unpickle the model file even though the toolkit does not know its SHA-256 (loading a
        pickle runs its code: only for files from a source you trust). Shipped students and MACE-MP-0
        models in mace-torch's cache need no ``trust``.
    """
    device = _default_device(device)
    if name == "auto":
        name, reason = auto_choice()
        log.info(f"using potential {name!r}: {reason}")
    if name in ("chgnet", FALLBACK):
        return _load_chgnet(device)
    if name.startswith(STUDENT_PREFIX):
        study = name[len(STUDENT_PREFIX):]
        path = student_path(study)
        card = available_students().get(study, {})
        teacher = card.get("teacher", {}).get("name", "an unrecorded teacher")
        return _load_mace_file(path, name, f"student of {teacher} distilled for {study} (card {path.with_suffix('.json')})",
                               device, dtype, "trusted by the caller" if trust else None)
    if name.startswith("gpaw-"):
        from toolkit.dft import load_dft

        return load_dft(name)
    if name in MACE_MP_MODELS:
        path = fetch_mace_mp(name)
        return _load_mace_file(path, name, f"MACE-MP-0 via mace-torch cache ({path})", device, dtype,
                               "a MACE-MP-0 model from mace-torch's own download cache")
    path = Path(name).expanduser()
    if path.is_file():
        return _load_mace_file(path, f"mace-file:{path.name}", f"MACE model file {path}", device, dtype,
                               "trusted by the caller" if trust else None)
    raise PotentialUnavailableError(
        f"unknown potential {name!r}: use 'auto', 'chgnet', one of {', '.join(MACE_MP_MODELS)}, 'gpaw-pbe', "
        f"'gpaw-pbesol' (DFT), '{STUDENT_PREFIX}<study>', or the path of a MACE .model file"
    )


def study_potential(study: str, name: str = "auto", mode: str = "quick", device: str | None = None,
                    dtype: str = "float64", properties=None) -> Potential:
    """The potential a study notebook (or one section of it) runs with, saying which and why.

    Any explicit ``name`` is loaded as :func:`load_potential` would. ``"auto"`` in quick mode
    is the study's student when it was distilled from the very potential ``auto`` picks
    (same file hash) and its model card says it may stand in for it (:func:`~toolkit.students.cards.student_serves`:
    on the card rows ``properties``, a section's, or else on every row the notebook computes);
    otherwise, and always in full mode, ``auto`` is the teacher itself.
    """
    if name != "auto" or mode != "quick":
        return load_potential(name, device, dtype)
    teacher, reason = auto_choice()
    card = available_students().get(study)
    if card is None:
        why = f"no student ships for {study}"
    elif card["teacher"]["sha256"] != _choice_sha256(teacher):
        why = f"student:{study} was distilled from {card['teacher']['name']}, not from {teacher}"
    else:
        agrees, why = student_serves(card, properties)
        if agrees:
            log.info(f"quick mode uses 'student:{study}', distilled from {teacher} ({reason}): {why}")
            return load_potential(f"{STUDENT_PREFIX}{study}", device, dtype)
        why = f"student:{study} is not used: {why}"
    log.info(f"using potential {teacher!r}: {reason}; {why}")
    return load_potential(teacher, device, dtype)


def _choice_sha256(name: str) -> str:
    return file_sha256(chgnet_weights_path() if name == FALLBACK else mace_mp_cache_path(name))


def available_offline() -> list[dict]:
    """Potentials that load here without network: the fallback and cached MACE models."""
    rows = [{"name": FALLBACK, "path": str(chgnet_weights_path()), "source": "bundled with chgnet"}]
    rows += [{"name": n, "path": str(p), "source": "MACE cache"} for n, p in cached_mace_models().items()]
    rows += [{"name": STUDENT_PREFIX + study, "path": str(STUDENTS_DIR / card["model_file"]),
              "source": f"student of {card['teacher']['name']}"} for study, card in available_students().items()]
    return rows
