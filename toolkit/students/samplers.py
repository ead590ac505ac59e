"""Each study's sampler and refiner: what its student is trained on (:func:`sample`), and the student's own
runs that the teacher labels in each round of refinement (:data:`REFINERS`).
"""

from __future__ import annotations

import logging
from functools import partial

import numpy as np
from ase import Atoms
from ase.build import make_supercell

from toolkit import amorphous as am
from toolkit import defects, liga
from toolkit import perovskite as pv
from toolkit.barriers import NEBResult
from toolkit.protons import rotation_final_state, transfer_final_state
from toolkit.store import ResultsStore
from toolkit.studies import liga_alloy as ls
from toolkit.students.sampling import (
    deformed, frozen_modes, md_frames, path_images, phonon_cells, rattled_and_strained, relaxation_frames,
    scaled_count, training_frame, volume_series,
)
from toolkit.validation import MDExplosionError, find_overlaps

log = logging.getLogger(__name__)


#: Studies with a student, and the elements each must cover.
STUDY_ELEMENTS = {
    "proton-phonon": ("H", "O", "Y", "Sn", "Ba"),
    "oxyhalide-volcano": ("Li", "O", "Cl", "Ta"),
    "liga-alloy": ("Li", "Ga"),
}


def _proton_phonon(teacher, seed: int, scale: float, store) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    n = partial(scaled_count, scale=scale)
    host = pv.basno3()
    host222 = make_supercell(host, np.eye(3, dtype=int) * 2)
    y_cell = pv.y_doped(host, np.eye(3, dtype=int) * 2)
    sites = pv.distinct_proton_sites(y_cell)
    near = min(sites, key=lambda s: s["d_Y_A"])
    far = max(sites, key=lambda s: s["d_Y_A"])
    configs = rattled_and_strained(host, n(20), rng, 0.05, 0.04)
    configs += rattled_and_strained(host222, n(20), rng, 0.08, 0.03)
    configs += rattled_and_strained(y_cell, n(10), rng, 0.08, 0.03, "Y-doped")
    configs += volume_series(host, rng) + volume_series(host222, rng) + volume_series(y_cell, rng)
    configs += phonon_cells(host, (2, 2, 2), rng)
    configs += frozen_modes(host, teacher, (2, 2, 2), (0.1, 0.2, 0.3), rng, store)
    for site in (near, far, sites[len(sites) // 2]):
        with_h = pv.add_proton(y_cell, site["o_index"], site["direction"])
        h = len(with_h) - 1
        configs += rattled_and_strained(with_h, n(8), rng, 0.06, 0.02, "OH")
        configs += path_images(with_h, transfer_final_state(with_h, h)[0], 5, rng, kind="transfer path")
        configs += path_images(with_h, rotation_final_state(with_h, h)[0], 4, rng, kind="rotation path")
    start = pv.add_proton(y_cell, far["o_index"], far["direction"])
    configs += md_frames(start, teacher, (300, 700, 1000, 1200), n(400), 20, seed, store, timestep_fs=0.5)
    return configs


def _oxyhalide_quench(packed: Atoms, potential, seed: int, store) -> Atoms:
    """The sampler's melt–quench of ``packed`` (short: 0.2 ps melt, 6000 K/ps) with ``potential``."""
    protocol = am.MeltQuench(melt_ps=0.2, quench_rate_K_per_ps=6000.0, quench_stages=3, anneal_ps=0.1,
                             relax_fmax_eV_A=0.1)
    return am.melt_quench(packed, potential, protocol, seed=seed, store=store, progress=False)


def _oxyhalide_packings(seed: int) -> list[tuple[Atoms, int]]:
    """The oxyhalide sampler's six packings and their seeds: two formula units at each x, and four
    at x = 1.5 (the size the study's MD uses)."""
    sizes = [(x, 2, seed + k) for k, x in enumerate((0.5, 1.0, 1.5, 2.0, 2.5))] + [(1.5, 4, seed + 10)]
    return [(am.oxyhalide_packing(x, units, s), s) for x, units, s in sizes]


def _oxyhalide_glasses(teacher, seed: int, store) -> list[tuple[Atoms, Atoms, int]]:
    """``(packing, glass, seed)`` of :func:`_oxyhalide_packings`, melt-quenched by ``teacher``."""
    return [(packed, _oxyhalide_quench(packed, teacher, s, store), s) for packed, s in _oxyhalide_packings(seed)]


def _oxyhalide_volcano(teacher, seed: int, scale: float, store) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    n = partial(scaled_count, scale=scale)

    def around(glass: Atoms) -> list[Atoms]:
        # the first students collapsed glasses in a cell relaxation (contacts of 0.2-1.2 Å): besides
        # the expanded cells, show them the teacher's relaxation, compressed cells and hard rattles
        # (a hard rattle that puts two atoms on top of each other is dropped: no workflow goes there)
        near = (rattled_and_strained(glass, n(6), rng, 0.05, 0.05, "glass")
                + rattled_and_strained(glass, n(4), rng, 0.12, 0.05, "glass rattled")
                + volume_series(glass, rng, np.linspace(-0.05, 0.20, max(4, int(8 * scale))))
                + volume_series(glass, rng, np.linspace(-0.10, -0.06, n(3)), rattle_A=0.05, kind="compressed")
                + relaxation_frames(glass, teacher, n(8), rng, store))
        return [atoms for atoms in near if not find_overlaps(atoms)]

    *small, bigger = _oxyhalide_glasses(teacher, seed, store)
    configs = []
    for packed, glass, glass_seed in small:
        configs += md_frames(am.settle(packed, teacher, store), teacher, (1500,), max(20, int(200 * scale)), 10,
                             glass_seed, store, timestep_fs=2.0, kind="melt")
        configs += around(glass)
        configs += md_frames(glass, teacher, (700, 1000), max(20, int(300 * scale)), 20, glass_seed, store,
                             timestep_fs=2.0)
    packed, glass, glass_seed = bigger
    configs += md_frames(am.settle(packed, teacher, store), teacher, (1500, 800), max(20, int(200 * scale)), 20,
                         glass_seed, store, timestep_fs=2.0)
    configs += around(glass)
    return configs


def _liga_alloy(teacher, seed: int, scale: float, store) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    n = partial(scaled_count, scale=scale)
    configs = []
    for build in liga.PHASES.values():
        configs += rattled_and_strained(build(), n(12), rng, 0.06, 0.05)
        configs += volume_series(build(), rng)
    b32 = make_supercell(liga.liga_b32(primitive=True), np.eye(3, dtype=int) * 2)
    li = make_supercell(liga.bcc_li(), np.eye(3, dtype=int) * 3)
    ga = make_supercell(liga.alpha_ga(), np.diag([2, 1, 2]))
    defective = [defects.vacancies(b32, "Li", 1)[0], defects.vacancies(b32, "Ga", 1)[0],
                 defects.substitutions(b32, "Ga", "Li", 1)[0], defects.substitutions(b32, "Li", "Ga", 1)[0],
                 defects.vacancies(b32, "Li", 2)[0], defects.substitutions(li, "Li", "Ga", 1)[0]]
    for cell in [b32, li, ga] + defective:
        configs += rattled_and_strained(cell, n(4), rng, 0.08, 0.03, "supercell")
    configs += volume_series(ga, rng) + volume_series(b32, rng)
    # α-Ga relaxes anisotropically (the teacher stretches a by 4 %): sample strains along each axis
    configs += rattled_and_strained(liga.alpha_ga(), n(30), rng, 0.05, 0.07, "Ga strained")
    configs += phonon_cells(liga.liga_b32(primitive=True), (2, 2, 2), rng) + phonon_cells(liga.bcc_li(), (3, 3, 3), rng)
    configs += frozen_modes(liga.liga_b32(primitive=True), teacher, (2, 2, 2), (0.1, 0.2), rng, store, n_modes=2)
    for perfect in (b32, li):
        site = [i for i, s in enumerate(perfect.get_chemical_symbols()) if s == "Li"][0]
        initial, final, _ = defects.vacancy_hop(perfect, site)
        configs += path_images(initial, final, 5, rng, kind="vacancy hop")
    configs += hop_path_frames(teacher, store, n(3), rng, "vacancy hop path")
    configs += md_frames(defects.vacancies(b32, "Li", 1)[0], teacher, (300, 500, 700, 900), n(300), 15, seed, store,
                         timestep_fs=2.0)
    configs += md_frames(defects.vacancies(li, "Li", 1)[0], teacher, (250, 400), n(300), 15, seed, store,
                         timestep_fs=2.0)
    configs += md_frames(ga, teacher, (300, 600), n(150), 15, seed, store, timestep_fs=2.0)
    return configs


SAMPLERS = {"proton-phonon": _proton_phonon, "oxyhalide-volcano": _oxyhalide_volcano, "liga-alloy": _liga_alloy}


def _oxyhalide_refinement(student, teacher, seed: int, store, round_index: int = 0) -> list[Atoms]:
    """The student's own glasses (its melt–quenches of packings the sampler never used), its cell
    relaxations of those and of the teacher's glasses, and its 1000 K MD of both (for the teacher to label).

    A glass's density comes out of a cell relaxation, and a student relaxes a glass it never saw
    along its own way, into cells no teacher run visited (the first student expanded an unseen
    glass of the teacher's from 2.50 to 2.22 g/cm³ while keeping its training glasses within 0.02,
    and blew up in some melt–quenches of its own): these frames show it what the teacher says about
    the places it goes. Where the student's melt–quench blows up or collapses (atoms falling onto
    each other), the frames before are kept.
    Each round (``round_index``) quenches packings of its own seeds.
    """
    rng = np.random.default_rng(seed + 500 + round_index)
    glasses = [glass for _, glass, _ in _oxyhalide_glasses(teacher, seed, store)]
    out = []
    for packed, own_seed in _oxyhalide_packings(seed + 100 * (round_index + 1)):
        try:
            glasses.append(_oxyhalide_quench(packed, student, own_seed, store))
        except MDExplosionError as blown:
            log.info(f"the student's melt–quench (seed {own_seed}) blew up; its frames before are kept: {blown}")
            out += [training_frame(frame, "student blow-up") for frame in blown.frames[0]]
    for k, glass in enumerate(glasses):
        out += relaxation_frames(glass, student, 8, rng, store, kind="student relax")
        out += md_frames(glass, student, (1000,), 200, 20, seed + k, store, timestep_fs=2.0, kind="student md")
    return [atoms for atoms in out if not find_overlaps(atoms)]


def _liga_refinement(student, teacher, seed: int, store, round_index: int = 0) -> list[Atoms]:
    """The student's own 10 ps MD of cells as large as the study's full mode runs: B32 LiGa (500 and 800 K)
    and bcc Li (400 K), 127 atoms each with one Li vacancy (the full mode's bcc Li cell; its B32 cell is
    3 x 3 x 3 primitive cells, 107 atoms, this one the conventional cell doubled), and its own paths of the
    quick mode's vacancy hops (for the teacher to label).

    The sampler's MD is of 31- to 53-atom cells over 0.6 ps; in the 127-atom B32 cell the first
    student blew up within 10 ps at 600 and 700 K, and within 40 ps at 500 K. Where a run blows
    up, the frames before are kept.
    """
    runs = [(liga.liga_b32().repeat(2), (500, 800)), (make_supercell(liga.bcc_li(), np.eye(3, dtype=int) * 4), (400,))]
    out = hop_path_frames(student, store, 1, np.random.default_rng(seed + 600 + round_index), "student hop path")
    for k, (perfect, temperatures) in enumerate(runs):
        out += md_frames(defects.vacancies(perfect, "Li", 1)[0], student, temperatures, 5000, 100,
                         seed + 10 * round_index + 2 * k, store, timestep_fs=2.0, kind="student md",
                         explode_factor=3.0, blow_up_kind="student blow-up")
    return [atoms for atoms in out if not find_overlaps(atoms)]


#: Studies whose student is refined, and in how many rounds: each round labels the latest student's
#: own runs (``refiner(student, teacher, seed, store, round_index)``) with the teacher, adds them to
#: the training set and trains again on the whole set (DAgger-style active learning).
REFINERS = {"oxyhalide-volcano": (_oxyhalide_refinement, 2), "liga-alloy": (_liga_refinement, 2)}


def sample(study: str, teacher, seed: int = 0, scale: float = 1.0, store: ResultsStore | None = None) -> list[Atoms]:
    """Configurations of ``study`` (``info["config_type"]`` says where each came from).

    ``scale`` multiplies the number of configurations of each kind (the test set uses a
    smaller scale and another seed); MD and melt–quench runs use the ``teacher``.
    """
    if study not in SAMPLERS:
        raise ValueError(f"no sampler for study {study!r}; studies with students: {', '.join(SAMPLERS)}")
    return SAMPLERS[study](teacher, seed, scale, store)


#: the held-out set is an independent sampling: the training seed plus this, at a smaller scale
HELD_OUT_SEED_OFFSET = 1000


HELD_OUT_SCALE = 0.3


def liga_phases(potential, store: ResultsStore | None = None) -> tuple[dict, dict]:
    """``(phases, lattices)``: the LiGa study's phases relaxed by ``potential`` (cell included, to 0.005 eV/Å),
    and the card's lattice parameters from them (Å): ``lattice_B32_A``, ``lattice_bcc_Li_A``,
    ``lattice_alpha_Ga_a_A``."""
    phases = ls.phases(potential, 0.005, store, progress=False)
    lattices = {f"lattice_{label}_A": float(phases[name].cell.lengths()[0])
                for label, name in (("B32", "LiGa (B32)"), ("bcc_Li", "Li (bcc)"), ("alpha_Ga_a", "Ga (alpha)"))}
    return phases, lattices


def liga_hops(potential, store: ResultsStore | None = None,
              phases: dict | None = None) -> list[tuple[str, NEBResult, float]]:
    """The notebook's transport section in its quick-mode cells: a Li vacancy hop in the B32 alloy and, for
    contrast, in Li metal, through the study's own steps (:func:`toolkit.studies.liga_alloy.supercells` and
    :func:`~toolkit.studies.liga_alloy.vacancy_hop`, quick settings) in ``potential``'s own relaxed lattices
    (``phases``: :func:`liga_phases`'s first item), as ``(label, band, temperature_K)``: the card row's prefix,
    the NEB band (its first image is the relaxed initial state) and the card's MD temperature (K; 400 K in Li,
    which melts at 454 K)."""
    phases = phases if phases is not None else liga_phases(potential, store)[0]
    settings = ls.LigaSettings.quick()
    hosts = ls.supercells(phases, settings, potential, store)
    return [(label, ls.vacancy_hop(hosts[name], potential, settings, store).band, temperature_K)
            for label, name, temperature_K in (("", "LiGa (B32)", 700.0), ("bcc_Li_", "Li (bcc)", 400.0))]


def hop_path_frames(potential, store, n: int, rng, kind: str, rattle_A: float = 0.03) -> list[Atoms]:
    """``n`` rattled copies of each image of ``potential``'s own minimum-energy paths of the LiGa study's Li
    vacancy hops (:func:`liga_hops`: the notebook's quick-mode cells, in its relaxed lattices).

    Interpolated images (``path_images``) are not the relaxed path: fitted to them, the first student put the
    hop in bcc Li at 0.158 eV against its teacher's 0.109 eV (its earlier card), and even on the
    teacher's own path it rose to 0.136 eV, from tangential forces only some 30 meV/Å off on the hopping atom.
    That barrier difference alone makes D at 400 K 2.5 times too small.
    """
    return [deformed(image, np.eye(3), rng, rattle_A, kind)
            for _, band, _ in liga_hops(potential, store) for image in band.images for _ in range(n)]
