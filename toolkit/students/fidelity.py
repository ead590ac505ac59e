"""Does a student reproduce its teacher? Each study's key properties computed with both, side by side.

Every property is computed by the same toolkit workflow for both potentials, from the same
starting structure (for amorphous cells: the same teacher-made glasses), so differences come
from the potentials alone. Each row has ``teacher``, ``student``, the ``tolerance`` that
counts as agreement and why, ``agrees``, and ``used_by_notebook``: whether the study's
notebook computes that property (a quick-mode stand-in must agree on those; the others are
reported for the reader). Diffusion coefficients come from three independent runs (seeds 0, 1,
2), each block-averaged, combined with the spread between runs as the error, and agree when
they are within a factor of 2 of each other. Their errors (tens of per cent) are shown but do
not widen that: "within twice the combined error" would pass a student three times off. One
run is not enough: a single proton's D from one 5 ps run and from its first 1 ps differed 12-fold.

A student that breaks a workflow (its relaxation collapses atoms onto each other, its MD
explodes, its forces go NaN) is a finding, not a crash: the properties it did not reach get
``student: None``, ``agrees: False`` and ``failed`` naming the error.

Units are in the property names (Å, THz, eV, cm²/s, g/cm³).
"""

from __future__ import annotations

import numpy as np

from toolkit import amorphous as am
from toolkit import liga
from toolkit import perovskite as pv
from toolkit import phonons as ph
from toolkit.barriers import neb_barrier
from toolkit.md import run_md_many
from toolkit.protons import transfer_final_state
from toolkit.relax import relax
from toolkit.store import ResultsStore
from toolkit.studies import oxyhalide_volcano as ov
from toolkit.studies import proton_phonon as pp
from toolkit.students.samplers import liga_hops, liga_phases
from toolkit.transport import combine_replicas, diffusion_coefficient
from toolkit.validation import MDExplosionError, NonFiniteForcesError, StructureError, check_structure

#: Errors by which a student's workflow shows it is unphysical (caught and reported on the card).
STUDENT_FAILURES = (StructureError, MDExplosionError, NonFiniteForcesError)


def _row(teacher: float, student: float, tolerance: float, why: str) -> dict:
    return {"teacher": float(teacher), "student": float(student), "tolerance": tolerance, "why": why,
            "agrees": bool(abs(student - teacher) <= tolerance)}


def _diffusion_row(teacher: tuple[float, float], student: tuple[float, float], tolerance: str, why: str) -> dict:
    """``teacher`` and ``student`` are (D, error) in cm²/s; a D that is not positive agrees with nothing."""
    within_factor = teacher[0] > 0 and student[0] > 0 and 0.5 <= student[0] / teacher[0] <= 2.0
    return {"teacher": list(map(float, teacher)), "student": list(map(float, student)),
            "tolerance": tolerance, "why": why, "agrees": bool(within_factor)}


#: seeds of the independent runs behind each diffusion coefficient
DIFFUSION_SEEDS = (0, 1, 2)


def _diffusion(atoms, potential, temperature_K: float, n_steps: int, timestep_fs: float, species: str,
               store) -> tuple[float, float]:
    """``(D, error)`` (cm²/s) of ``species``: each run's block average, one run per seed of
    :data:`DIFFUSION_SEEDS`, combined by :func:`~toolkit.transport.combine_replicas` (whose spread catches
    what one run's blocks cannot)."""
    runs = run_md_many([atoms] * len(DIFFUSION_SEEDS), potential, temperature_K, n_steps, timestep_fs=timestep_fs,
                       seeds=DIFFUSION_SEEDS, sample_every=5, store=store, progress=False)
    movers = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == species]
    return combine_replicas([diffusion_coefficient(frames[len(frames) // 5:], movers, 5 * timestep_fs, n_blocks=4)
                             for frames in runs])


def _proton_phonon(potential, store, out: dict, reference=None) -> None:
    """The host of study 1's quick run (its own :func:`~toolkit.studies.proton_phonon.host` step) and, in its
    lattice, a proton's transfer far from Y in the 12.5 % cell, at the quick settings' tolerances."""
    settings = pp.ProtonSettings.quick()
    host = pp.host(potential, settings.host_supercell, settings.phonon_displacement_A, store, progress=False)
    a = out["lattice_A"] = host.lattice_A
    out["freq_Gamma_optical_THz"] = ph.softest_optical_mode(host.phonons)[1]
    out.update({f"freq_{q}_THz": host.lowest_THz[q] for q in ("X", "M", "R")})
    fmax = settings.relax_fmax_eV_A
    y_cell = relax(pv.y_doped(pv.basno3(a), np.eye(3, dtype=int) * 2), potential, fmax_eV_A=fmax, store=store)
    far = max(pv.distinct_proton_sites(y_cell), key=lambda s: s["d_Y_A"])
    start = relax(pv.add_proton(y_cell, far["o_index"], far["direction"]), potential, fmax_eV_A=fmax,
                  relax_cell=False, store=store)
    h = len(start) - 1
    final = relax(transfer_final_state(start, h)[0], potential, fmax_eV_A=fmax, relax_cell=False, store=store)
    out["md_start"] = start
    out["transfer_barrier_eV"] = neb_barrier(start, final, potential, n_images=settings.neb_images,
                                             fmax_eV_A=settings.neb_fmax_eV_A, store=store).barrier_eV
    md_start = start if reference is None else reference["md_start"]
    out["D_H_1200K_cm2_s"] = _diffusion(md_start, potential, 1200.0, 10000, 0.5, "H", store)


#: the card's glasses: x = 1.5 with 4 Ta (42 atoms), made by the study's own step with its quick protocol; their
#: diffusion is the study's own step too, at 1000 K, one glass per seed
CARD_SETTINGS = ov.VolcanoSettings.quick(n_ta=4, x_values=(1.5,), seeds=(0, 1, 2), md_temperatures_K=(1000.0,),
                                         md_ps=3.0)
CARD_X = CARD_SETTINGS.x_values[0]


def card_glass(potential, seed: int = 7, store=None):
    """The oxyhalide card's glass: the study's own :func:`~toolkit.studies.oxyhalide_volcano.glass` at
    :data:`CARD_SETTINGS` (0.3 ps at 1500 K, 6000 K/ps), so that every card can afford it with any teacher."""
    return ov.glass(CARD_X, seed, CARD_SETTINGS, potential, store, progress=False)


def glass_structure(glasses: list, potential, store=None) -> tuple:
    """``(relaxed, properties)``: each of ``glasses`` relaxed by ``potential`` with its cell (to 0.05 eV/Å), their
    mean ``density_g_cm3``, and the coordination numbers ``CN_Ta_O``, ``CN_Ta_Cl``, ``CN_Li_Cl`` of the study's own
    :func:`~toolkit.studies.oxyhalide_volcano.structure`, as the notebook computes them: cutoffs at the first
    minima of these glasses' partial RDFs."""
    relaxed = [relax(glass, potential, fmax_eV_A=0.05, relax_cell=True, store=store) for glass in glasses]
    for atoms in relaxed:
        check_structure(atoms)
    cn = ov.structure({CARD_X: relaxed}, CARD_SETTINGS.rdf_r_max_A).by_x[CARD_X]["coordination"]
    return relaxed, {"density_g_cm3": float(np.mean([am.mass_density_g_cm3(atoms) for atoms in relaxed])),
                     "CN_Ta_O": cn["Ta-O"], "CN_Ta_Cl": cn["Ta-Cl"], "CN_Li_Cl": cn["Li-Cl"]}


#: seeds of the oxyhalide card's glasses (:func:`card_glass`). One 42-atom glass is one sample: CHGNet's six
#: relaxed to 2.35–2.79 g/cm³ (standard deviation 0.16), more than the density tolerance.
GLASS_SEEDS = (7, 8, 9, 10, 11, 12)


def _oxyhalide_volcano(potential, store, out: dict, reference=None) -> None:
    # the teacher makes the glasses both potentials start from; each relaxes them, and its structure and D are
    # the study's own steps on its relaxed glasses (D: the first three, one seed each, combined)
    glasses = [card_glass(potential, seed, store) for seed in GLASS_SEEDS] if reference is None else reference["glasses"]
    out["glasses"] = glasses
    relaxed, properties = glass_structure(glasses, potential, store)
    out.update(properties)
    rows = ov.diffusion({CARD_X: relaxed[:len(CARD_SETTINGS.seeds)]}, CARD_SETTINGS, potential, store, progress=False)
    out["D_Li_1000K_cm2_s"] = combine_replicas([row["result"]["D_Li_cm2_s"]["1000"] for row in rows])


def _liga_alloy(potential, store, out: dict, reference=None) -> None:
    phases, lattices = liga_phases(potential, store)
    energy = {name: atoms.info["relax"]["energy_eV"] / len(atoms) for name, atoms in phases.items()}
    out.update(lattices)
    a_b32 = lattices["lattice_B32_A"]
    out["formation_B32_eV_atom"] = energy["LiGa (B32)"] - 0.5 * (energy["Li (bcc)"] + energy["Ga (alpha)"])
    primitive = liga.liga_b32(a_b32, primitive=True)
    phonons = ph.compute_phonons(relax(primitive, potential, fmax_eV_A=0.002, store=store), potential,
                                 supercell=(2, 2, 2), store=store, progress=False)
    gamma = np.sort(ph.frequencies_at(phonons))[3:]
    out["freq_Gamma_lowest_optical_THz"], out["freq_Gamma_highest_THz"] = float(gamma[0]), float(gamma[-1])
    for label, band, temperature_K in liga_hops(potential, store, phases):
        out[f"{label}V_Li_hop_barrier_eV"] = band.barrier_eV
        out[f"D_Li_{temperature_K:.0f}K_V_Li_{label}cm2_s"] = _diffusion(band.images[0], potential, temperature_K,
                                                                         1500, 2.0, "Li", store)


#: Structures the teacher's run hands to the student's (so both start alike); not properties.
SHARED_STRUCTURES = {"md_start", "glasses"}
#: Card properties a study's notebook does not compute (study 3 computes no phonons).
NOT_IN_NOTEBOOK = {"liga-alloy": {"freq_Gamma_lowest_optical_THz", "freq_Gamma_highest_THz"}}
PROPERTIES = {"proton-phonon": _proton_phonon, "oxyhalide-volcano": _oxyhalide_volcano, "liga-alloy": _liga_alloy}
#: Agreement tolerances by property-name prefix or suffix, with the reason.
TOLERANCES = {
    "D_": ("a factor of 2", "short MD: errors of tens of per cent"),
    "CN_": (0.3, "coordination numbers to 0.3 (in glasses: means over the card's glasses)"),
    "_A": (0.02, "lattice parameters to 0.02 Å (about 0.5 %)"),
    "_THz": (0.3, "phonon frequencies to 0.3 THz (the finite-displacement noise floor)"),
    "barrier_eV": (0.05, "barriers to 50 meV (2 k_B T at 300 K)"),
    "_eV_atom": (0.01, "formation energies to 10 meV/atom"),
    "_g_cm3": (0.1, "mean density of the card's glasses to 0.1 g/cm³"),
}


def tolerance_for(name: str) -> tuple:
    """The ``(tolerance, why)`` of property ``name``, by its prefix or suffix in :data:`TOLERANCES`."""
    return next(t for affix, t in TOLERANCES.items() if name.startswith(affix) or name.endswith(affix))


def judged(name: str, teacher, student) -> dict:
    """The card row of property ``name`` computed by both potentials, with its tolerance and verdict."""
    tolerance, why = tolerance_for(name)
    rule = _diffusion_row if name.startswith("D_") else _row
    return rule(teacher, student, tolerance, why)


def compare_properties(study: str, teacher, student, store: ResultsStore | None = None) -> dict:
    """The study's key properties with ``teacher`` and ``student`` (see the module docstring)."""
    store = store if store is not None else ResultsStore()
    compute = PROPERTIES[study]
    with_teacher, with_student = {}, {}
    compute(teacher, store, with_teacher)
    failure = None
    try:
        compute(student, store, with_student, reference=with_teacher)
    except STUDENT_FAILURES as error:
        failure = f"{type(error).__name__}: {str(error)[:300]}"
    rows = {}
    for name, value in with_teacher.items():
        if name in SHARED_STRUCTURES:
            continue
        if name in with_student:
            rows[name] = judged(name, value, with_student[name])
        else:
            tolerance, why = tolerance_for(name)
            rows[name] = {"teacher": list(map(float, value)) if name.startswith("D_") else float(value),
                          "student": None, "tolerance": tolerance, "why": why, "agrees": False, "failed": failure}
    for name, row in rows.items():
        row["used_by_notebook"] = name not in NOT_IN_NOTEBOOK.get(study, set())
    return rows
