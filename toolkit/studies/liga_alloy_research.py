"""Study 3's research campaign (``python -m toolkit reproduce liga-alloy``): the study's own steps
(:mod:`toolkit.studies.liga_alloy`) at :meth:`~toolkit.studies.liga_alloy.LigaSettings.full` settings, one
:class:`~toolkit.campaign.Point` per relaxation series, NEB and MD replica, and :func:`research_result`, which
assembles the committed points into the study's claims, and :func:`claim_rows`, the claim table beside a live run."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.units import kB

from toolkit import liga
from toolkit.campaign import Point, slug
from toolkit.claims import verdict
from toolkit.store import ResultsStore
from toolkit.studies.liga_alloy import (LiDiffusion, LigaResult, LigaSettings, arrhenius, diffusion_table, li_diffusion,
                                        phases, solid_solution, supercells, vacancy_cell, vacancy_hop)

#: The teacher (phases, defects, spot checks) and the student (transport, where its card agrees) of the campaign.
TEACHER, STUDENT = "chgnet", "student:liga-alloy"


def _own_cells(potential, settings: LigaSettings, store: ResultsStore | None) -> dict[str, Atoms]:
    """The perfect supercells of ``settings`` in ``potential``'s own relaxed lattices."""
    return supercells(phases(potential, settings.relax_fmax_eV_A / 2, store, progress=False), settings, potential, store)


def research_solid_solution(potential, settings: dict) -> dict:
    """Campaign point: the phases, the hull and :func:`solid_solution` at ``settings`` (a :class:`LigaSettings` dict)."""
    s, store = LigaSettings(**settings), ResultsStore()
    relaxed = phases(potential, s.relax_fmax_eV_A / 2, store, progress=False)
    solution = solid_solution(relaxed, s, potential, store, progress=False)
    return {"lattice_A": {n: float(a.cell.lengths()[0]) for n, a in relaxed.items()},
            "energies_eV": solution.energies_eV | {n: a.info["relax"]["energy_eV"] for n, a in relaxed.items()},
            "formation_eV": solution.formation_eV, "ga_in_li_eV": solution.ga_in_li_eV,
            "li_vacancy_in_li_eV": solution.li_vacancy_in_li_eV,
            "table": solution.table, "family": solution.family, "x_range": list(solution.x_range),
            "voltage_V": [list(p) for p in solution.voltage], "voltage_in_range_V": list(solution.voltage_in_range_V)}


def research_hop(potential, settings: dict, system: str) -> dict:
    """Campaign point: the Li vacancy hop in ``system`` ("LiGa (B32)" or "Li (bcc)") in ``potential``'s own lattice."""
    s, store = LigaSettings(**settings), ResultsStore()
    hop = vacancy_hop(_own_cells(potential, s, store)[system], potential, s, store)
    band = hop.band
    return {"system": system, "n_atoms": len(hop.start), "barrier_eV": band.barrier_eV,
            "fmax_eV_A": band.fmax_eV_A, "converged": band.converged, "path_A": band.path_A,
            "energies_eV": band.energies_eV}


def research_md(potential, settings: dict, system: str, temperature_K: float, seed: int) -> dict:
    """Campaign point: one MD replica of the vacancy cell of ``system`` at ``temperature_K`` (K) with ``seed``."""
    s, store = LigaSettings(**settings), ResultsStore()
    cell = vacancy_cell(_own_cells(potential, s, store)[system], potential, s, store)
    run = li_diffusion([(cell, temperature_K, seed)], potential, s, store, progress=False)[0]
    n_sites = len(cell.li_sites_A)
    return {"system": system, "n_atoms": len(cell.start), "li_sites": n_sites, "vacancy_fraction": 1 / n_sites,
            "volume_A3": float(cell.start.get_volume()), **run.to_dict()}


def campaign(settings: LigaSettings | None = None) -> list:
    """The research points of study 3 at ``settings`` (default :meth:`LigaSettings.full`), in the order they run:
    the solid solution on the teacher; both hops on the student and, as spot checks, on the teacher; the MD replicas
    on the student, replica by replica so that every temperature has one before any has three; two teacher MD
    spot checks last."""
    s = settings or LigaSettings.full()
    config = s.to_dict()
    hosts = list(s.md_temperatures_K)
    points = [Point("solid-solution-" + slug(TEACHER), research_solid_solution, TEACHER, {"settings": config})]
    points += [Point(f"hop-{slug(system)}-{slug(p)}", research_hop, p, {"settings": config, "system": system})
               for p in (STUDENT, TEACHER) for system in hosts]

    def md(system, temperature, replica, potential):
        return Point(f"md-{slug(system)}-{temperature:g}K-seed{replica}-{slug(potential)}", research_md, potential,
                     {"settings": config, "system": system, "temperature_K": temperature, "seed": replica},
                     {"md": replica})

    points += [md(system, t, r, STUDENT) for r in range(s.md_replicas) for system in hosts
               for t in s.md_temperatures_K[system]]
    points += [md(hosts[0], s.md_temperatures_K[hosts[0]][0], 0, TEACHER),
               md(hosts[1], s.md_temperatures_K[hosts[1]][-1], 0, TEACHER)]
    return points


def at_equilibrium(d_cm2_s, d_err_cm2_s, vacancy_fraction: float, vacancy_energy_eV: float,
                   temperature_K: float = 300.0) -> list[float]:
    """D and its error (cm²/s) of a vacancy cell scaled from the cell's ``vacancy_fraction`` to the equilibrium one,
    exp(−E_v / k_B T) (dilute vacancies, formation entropy left out)."""
    scale = np.exp(-vacancy_energy_eV / (kB * temperature_K)) / vacancy_fraction
    return [d_cm2_s * scale, d_err_cm2_s * scale]


def research_result(records: dict[str, dict]) -> dict:
    """Study 3's claims from committed campaign points (:func:`toolkit.campaign.finished`): whatever of them the
    points so far allow, with the points each rests on.

    - ``solid_solution``: the teacher's single-phase range, voltage across it and the vacancy in bcc Li;
    - ``barrier_eV``: potential -> system -> the hop's NEB barrier (eV) and its largest force (eV/Å);
    - ``D_Li``: system -> temperature (K) -> D (cm²/s) and error over the student's replicas
      (:func:`~toolkit.transport.combine_replicas`), their hops and count, at the cells' vacancy fraction, and
      ``D_from_1ps_cm2_s``, the replicas' mean :meth:`~toolkit.studies.liga_alloy.LiDiffusion.settled_D_cm2_s`: the
      research blocks (3.6 ps) are too short to start their fits past the vibrational rise at 1 ps, so this check
      says how much that reads D high;
    - ``arrhenius``: system -> ``Ea_eV`` and error and ``D_300K_cm2_s`` (where two or more temperatures are done);
    - ``D_Li_metal_equilibrium_cm2_s``: Li metal's self-diffusion at 300 K with its equilibrium vacancy fraction
      exp(−E_v / k_B T) instead of the cell's (E_v from the teacher, formation entropy left out);
    - ``spot_checks``: the teacher's D beside the student's on the same cell, temperature and seed.
    """
    out: dict = {"points": sorted(records)}
    by_kind = {kind: {n: r for n, r in records.items() if n.startswith(kind)} for kind in ("solid-solution", "hop", "md")}
    for record in by_kind["solid-solution"].values():
        r = record["result"]
        out["solid_solution"] = {"potential": record["provenance"]["potential"]["name"], "x_range": r["x_range"],
                                 "voltage_in_range_V": r["voltage_in_range_V"], "voltage_V": r["voltage_V"],
                                 "li_vacancy_in_li_eV": r["li_vacancy_in_li_eV"], "formation_eV": r["formation_eV"],
                                 "lattice_A": r["lattice_A"], "table": r["table"], "family": r["family"]}
    out["barrier_eV"] = {}
    for record in by_kind["hop"].values():
        r, name = record["result"], record["provenance"]["potential"]["name"]
        out["barrier_eV"].setdefault(name, {})[r["system"]] = {"barrier_eV": r["barrier_eV"], "fmax_eV_A": r["fmax_eV_A"],
                                                               "n_atoms": r["n_atoms"]}
    runs: dict = {}  # "student" or "teacher" -> system -> temperature -> replicas
    for record in by_kind["md"].values():
        r, name = record["result"], record["provenance"]["potential"]["name"]
        runs.setdefault("student" if name.startswith("student:") else "teacher", {}).setdefault(r["system"], {}).setdefault(r["temperature_K"], []).append(r)
    student = runs.get("student", {})
    out["D_Li"], out["arrhenius"] = {}, {}
    for system, by_t in student.items():
        replicas = [LiDiffusion.from_dict(x) for xs in by_t.values() for x in xs]  # the study's own combination
        out["D_Li"][system] = {t: {"D_cm2_s": d, "D_err_cm2_s": err, "replicas": len(by_t[t]),
                                   "hops": sum(x["hops"] for x in by_t[t]),
                                   "vacancy_fraction": by_t[t][0]["vacancy_fraction"],
                                   "ps": sum(x["duration_ps"] for x in by_t[t]),
                                   "D_from_1ps_cm2_s": _settled_D([r for r in replicas if r.temperature_K == t])}
                               for t, (d, err) in diffusion_table(replicas).items()}
        if len(by_t) >= 2:
            fit = arrhenius(replicas)
            out["arrhenius"][system] = {"Ea_eV": fit.Ea_eV, "Ea_err_eV": fit.Ea_err_eV,
                                        "D_300K_cm2_s": [float(fit.predict(300.0)), float(fit.predict_err(300.0))]}
    metal = out["D_Li"].get("Li (bcc)", {}).get(300.0)
    if metal and "solid_solution" in out:
        out["D_Li_metal_equilibrium_cm2_s"] = at_equilibrium(metal["D_cm2_s"], metal["D_err_cm2_s"],
                                                             metal["vacancy_fraction"],
                                                             out["solid_solution"]["li_vacancy_in_li_eV"])
    out["spot_checks"] = [
        {"system": system, "temperature_K": t, "teacher": [x["D_cm2_s"], x["D_err_cm2_s"]],
         "student": next(([y["D_cm2_s"], y["D_err_cm2_s"]] for y in student.get(system, {}).get(t, [])
                          if y["seed"] == x["seed"]), None)}
        for system, by_t in runs.get("teacher", {}).items() for t, xs in by_t.items() for x in xs]
    return out


def _settled_D(replicas: list[LiDiffusion]) -> float | None:
    """The replicas' mean D from their MSD past 1 ps (cm²/s), or None for runs too short to have one."""
    try:
        return float(np.mean([r.settled_D_cm2_s() for r in replicas]))
    except ValueError:
        return None


def _log_ratio(a, b) -> tuple[float, float]:
    """log10(a/b) and its 1σ error from two (value, error) pairs."""
    return float(np.log10(a[0] / b[0])), float(np.hypot(a[1] / a[0], b[1] / b[0]) / np.log(10))


def _defect_rows(dft_rows: list[dict]) -> dict[str, dict]:
    """Defect name -> its row of :func:`toolkit.alloy_anchors.b32_defect_rows` among ``dft_rows``."""
    return {r["defect"]: r for r in dft_rows if "defect" in r}


def dft_corrected_range(solution: dict, defect_rows: dict[str, dict], n_perfect: int,
                        tolerance_eV_atom: float) -> tuple[float, float]:
    """The single-phase range (Li fractions) of a solid solution (``solution``: its ``table`` and ``family``) with
    each anchored defect's formation energy moved to DFT's: a cell of ``n_perfect`` sites with k of a defect shifts by
    k (E_f,DFT − E_f,potential) over its atoms, the host and the other phases kept at the potential's. The rows'
    E_f are at the Li-rich end; at the Ga-rich end the two methods' difference changes only by their difference in
    LiGa's formation energy per formula unit (10 meV for CHGNet)."""
    from toolkit.thermodynamics import AB_DEFECTS, shifted_diagram, single_phase_range

    shifts = {}
    for name in solution["family"]:
        words = name.split()  # "B32 <k> <defect>"
        if len(words) == 3 and words[2] in defect_rows:
            k, row = int(words[1]), defect_rows[words[2]]
            n_atoms = n_perfect + k * sum(AB_DEFECTS[words[2]][:2])
            shifts[name] = -k * row["difference"] / n_atoms
    return single_phase_range(shifted_diagram(solution["table"], shifts), solution["family"], tolerance_eV_atom)


def _defect_note(rows: dict[str, dict]) -> str:
    """The B32 defect anchors as the solid-solution claim reads them."""
    if not rows:
        return "no defect anchor"
    return ("E_f at the Li-rich end, potential vs DFT (16-atom cell): "
            + ", ".join(f"{name} {r['potential']:.2f} vs {r['dft']:.2f} eV" for name, r in rows.items()))


def claim_rows(quick: LigaResult, research: dict) -> list[dict]:
    """The claim table of study 3: for each claim of the paper, the quantity that decides it, ``quick``'s value
    (a :class:`~toolkit.studies.liga_alloy.LigaResult`, the live run), the research value (:func:`research_result`),
    the potential against DFT where an anchor bears on it, the paper's or literature's value, and a
    :func:`~toolkit.claims.verdict` on the research value (the quick one where no research point is committed yet).

    LiGa's formation energy against DFT is the error on the hull and, through μ_Li, on the voltage (V ≈ −2 ΔE_f at
    x = 0.5 for a uniform shift of the alloy's energy)."""
    dft_formation = next((abs(r["difference"]) for r in quick.dft_rows if r["quantity"].startswith("formation")), None)
    dft_note = f"ΔE_f = {dft_formation * 1000:.0f} meV/atom" if dft_formation is not None else "no anchor"
    ss, not_yet = research.get("solid_solution"), "not computed yet"
    rows = []

    def row(claim, decided_by, quick_text, research_text, against_dft, literature, decided):
        rows.append({"claim": claim, "decided_by": decided_by, "quick": quick_text, "research": research_text,
                     "against_dft": against_dft, "literature": literature, "verdict": decided})

    b2 = quick.hull["LiGa (B2)"]["e_above_hull_eV_atom"]
    b2_research = ss["table"]["LiGa (B2)"]["e_above_hull_eV_atom"] if ss else None
    row("B32 is LiGa's stable structure (B2 above the hull)", "E above hull of B2 (meV/atom)", f"{1000 * b2:.0f}",
        f"{1000 * b2_research:.0f}" if ss else not_yet, dft_note, "B32 observed (Zintl & Brauer 1933)",
        verdict(b2_research if ss else b2, dft_formation or 0.0, 0.0))
    x_range = quick.solution.x_range
    full = LigaSettings.full()
    resolution = 1 / (8 * full.alloy_supercell ** 3)  # one defect in the research cell, in x
    defect_rows = _defect_rows(quick.dft_rows)
    decided_range, defect_note = (ss["x_range"] if ss else x_range), _defect_note(defect_rows)
    if ss and defect_rows and all(r["potential_name"] == ss["potential"] for r in defect_rows.values()):
        # the research range with the anchored defects at DFT's energies decides: the potential's error on them is
        # larger than the hull tolerance
        decided_range = dft_corrected_range(ss, defect_rows, 4 * full.alloy_supercell ** 3,  # of the 4-atom primitive cell
                                             full.hull_tolerance_eV_atom)
        defect_note += f"; the research range with DFT's defect energies: {decided_range[0]:.3f}–{decided_range[1]:.3f}"
    elif ss and defect_rows:
        defect_note += f" (for {next(iter(defect_rows.values()))['potential_name']}; the research range is {ss['potential']}'s)"
    row("LiGa is one phase over a Li range", "width of x within k_B T of the hull", f"{x_range[0]:.3f}–{x_range[1]:.3f}",
        f"{ss['x_range'][0]:.3f}–{ss['x_range'][1]:.3f}" if ss else not_yet, defect_note,
        "a solid solution around x = 0.5 (paper)", verdict(decided_range[1] - decided_range[0], resolution, 0.0))
    v_err = 2 * dft_formation if dft_formation is not None else 0.0
    v_low = quick.solution.voltage_in_range_V[0]
    row("No Li plating: V > 0 across the single phase", "lowest V in the range (V vs Li/Li+)", f"{v_low:.2f}",
        f"{ss['voltage_in_range_V'][0]:.2f}" if ss else not_yet, f"± {v_err:.2f} V from {dft_note}", "> 0 V (paper)",
        verdict(ss["voltage_in_range_V"][0] if ss else v_low, v_err, 0.0))
    # Li metal at equilibrium: the cell's D scaled from its vacancy fraction to exp(−E_v / k_B T). E_v sets it
    # exponentially, so where the vacancy anchor ships, E_v is corrected by the potential's error against DFT on the
    # anchor's cell (E_v,DFT(16 sites) + [E_v,pot(cell) − E_v,pot(16 sites)]: DFT's value, the potential's finite-size
    # change), and the uncorrected ratio is shown beside it.
    ev = next((r for r in quick.dft_rows if r["quantity"].startswith("vacancy formation")), None)
    to_decades = 1 / (kB * 300.0 * np.log(10))
    ev_shift = ev["difference"] * to_decades if ev else 0.0  # log10 of D(Li metal) corrected / uncorrected, < 0 when soft
    ev_note = (f"E_v {ev['potential']:.2f} ({ev['potential_name']}) vs {ev['dft']:.2f} eV (DFT, 16 sites): "
               f"D(Li metal) × 10^{ev_shift:+.1f}" if ev else "no vacancy anchor")
    hop_note = ""
    for host in ("LiGa", "bcc Li"):
        hop = [r for r in quick.dft_rows if r["quantity"].startswith(f"{host} vacancy hop")]
        hop_note += (f"; {host} hop path, middle − start: {1000 * hop[-1]['potential']:+.0f} vs "
                     f"{1000 * hop[-1]['dft']:+.0f} meV (DFT)" if hop else f"; no {host} hop anchor")
    metal_runs = [r for r in quick.diffusion["Li (bcc)"] if r.temperature_K == 300.0]
    quick_ratio = quick_metal = None
    if metal_runs:
        d, err = diffusion_table(metal_runs)[300.0]
        sites = quick.hops["Li (bcc)"].start.get_chemical_symbols().count("Li") + 1
        quick_metal = [v * 10 ** ev_shift for v in at_equilibrium(d, err, 1 / sites, quick.solution.li_vacancy_in_li_eV)]
        fit = arrhenius(quick.diffusion["LiGa (B32)"])
        quick_ratio = _log_ratio((float(fit.predict(300.0)), float(fit.predict_err(300.0))), quick_metal)
    alloy = research.get("D_Li", {}).get("LiGa (B32)", {}).get(300.0)
    metal = research.get("D_Li_metal_equilibrium_cm2_s")
    research_shift = 0.0
    if metal and ev and ss:
        if ev["potential_name"] == ss["potential"]:
            research_shift = ev_shift
        else:
            ev_note += f" (for {ev['potential_name']}; the research E_v is {ss['potential']}'s, uncorrected)"
    metal = [metal[0] * 10 ** research_shift, metal[1] * 10 ** research_shift] if metal else None
    ratio = _log_ratio((alloy["D_cm2_s"], alloy["D_err_cm2_s"]), metal) if alloy and metal else None
    decided = ratio or quick_ratio
    row("Li moves faster through the alloy than through Li metal (300 K)",
        "log10 D(LiGa, constitutional vacancies) / D(Li metal, equilibrium vacancies, E_v corrected to DFT)",
        f"{quick_ratio[0]:.1f} ± {quick_ratio[1]:.1f}" if quick_ratio else "—",
        f"{ratio[0]:.1f} ± {ratio[1]:.1f}" if ratio else not_yet, ev_note + hop_note,
        "the alloy supplies Li without plating (paper)",
        verdict(*decided, 0.0) + ("" if ratio else " (quick run only)") if decided else not_yet)
    low, high = liga.LI_METAL_SELF_DIFFUSION_300K_CM2_S
    check = metal or quick_metal

    def against_experiment(d):
        return "within 10x of the measured range" if low / 10 < d < high * 10 else "more than 10x off the measured range"

    # DFT's E_v comes from a 16-site cell and PBE: the potential's own E_v is shown beside the corrected value
    own = f"; {check[0] * 10 ** -ev_shift:.1e} with the potential's E_v ({against_experiment(check[0] * 10 ** -ev_shift)})" \
        if check and ev else ""
    row("(check) Li metal's self-diffusion against experiment", "D(Li metal, 300 K) (cm²/s), E_v corrected to DFT",
        f"{quick_metal[0]:.1e}" if quick_metal else "—", f"{metal[0]:.1e} ± {metal[1]:.0e}" if metal else not_yet,
        ev_note, f"{low:.0e}–{high:.0e} (tracer, NMR)",
        against_experiment(check[0]) + own + ("" if metal else " (quick run only)") if check else not_yet)
    return rows
