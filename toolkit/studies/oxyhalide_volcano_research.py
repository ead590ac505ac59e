"""Study 2's research campaign (``python -m toolkit reproduce oxyhalide-volcano``): the study's own steps
(:mod:`toolkit.studies.oxyhalide_volcano`) at :meth:`~toolkit.studies.oxyhalide_volcano.VolcanoSettings.full`
settings, one :class:`~toolkit.campaign.Point` per glass and one per glass's MD at every temperature, and
:func:`research_result`, which assembles the committed points into the volcano, its peak with a bootstrap interval,
the structure per x, the Haven ratio and the student's spot checks.

The teacher makes the glasses and runs their MD. The study's student was tried for both and let Li fall together
(0.97–1.25 Å) in Li-rich glasses of research size: while melt-quenching (x = 1.5 from 1500 K, x = 3 even from
1000 K) and in MD of the teacher's x = 1.5 glass at 800 K. Its MD of the two glasses where it held (x = 0.5 and 1)
are spot checks of its D against the teacher's. The student would make the MD affordable: its four temperatures run
as one batch in 14–20 CPU-minutes per glass, where the teacher takes 2.5–5 CPU-hours (ASE, one temperature after
another, 0.218 against the student's 0.070 s per force call on a 147-atom glass).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from scipy.stats import linregress

from toolkit import amorphous as am
from toolkit import coordination as co
from toolkit.campaign import Point, campaign_dir, finished, slug
from toolkit.claims import FAILS, HOLDS, UNDECIDED, verdict
from toolkit.conductivity import ion_transport
from toolkit.store import ResultsStore
from toolkit.studies import oxyhalide_volcano as ov
from toolkit.studies.oxyhalide_volcano import VolcanoSettings, glass, volcano_row
from toolkit.transport import combine_replicas

STUDY = "oxyhalide-volcano"
#: The teacher (every glass and its MD) and the student (MD spot checks) of the campaign.
TEACHER, STUDENT = "chgnet", "student:oxyhalide-volcano"
#: The student's MD spot checks, at every temperature of the campaign: (x, the index of the glass's seed).
STUDENT_MD = ((0.5, 0), (1.0, 0))


def glass_name(x: float, seed: int) -> str:
    return f"glass-x{x:g}-seed{seed}-{slug(TEACHER)}"


def research_glass(potential, settings: dict, x: float, seed: int) -> dict:
    """Campaign point: the glass of ``x`` and ``seed`` melt-quenched at ``settings`` (a
    :meth:`~toolkit.studies.oxyhalide_volcano.VolcanoSettings.to_dict`), with its density (g/cm³) beside the
    ideal-mixing one, its energy (eV), how its final relaxation ended and its atoms (Å)."""
    made = glass(x, seed, VolcanoSettings.from_dict(settings), potential, ResultsStore(), progress=False)
    return {"x": x, "seed": seed, "n_atoms": len(made), "density_g_cm3": made.info["melt_quench"]["density_g_cm3"],
            "ideal_mixing_density_g_cm3": am.ideal_mixing_density_g_cm3(x),
            "energy_eV": made.info["melt_quench"]["energy_eV"], "relax": made.info["relax"],
            "symbols": made.get_chemical_symbols(),
            "cell_A": made.cell.array.tolist(), "positions_A": made.positions.tolist()}


def glass_atoms(result: dict) -> Atoms:
    """The glass of a :func:`research_glass` result."""
    return Atoms(result["symbols"], positions=result["positions_A"], cell=result["cell_A"], pbc=True)


def committed_glass(name: str) -> Atoms:
    """The glass of the committed point ``name``; a clear error if it is not committed yet."""
    record = finished(STUDY).get(name)
    if record is None:
        raise RuntimeError(f"this MD point needs the glass point {name}, which is not in {campaign_dir(STUDY)} yet: "
                           f"run `python -m toolkit reproduce {STUDY} --only {name}` first")
    return glass_atoms(record["result"])


def research_md(potential, settings: dict, glass_point: str, seed: int, temperatures_K: list[float]) -> dict:
    """Campaign point: Langevin MD of the glass of the committed point ``glass_point`` at each of
    ``temperatures_K`` (K; one batch), seed ``seed``; per temperature the Li tracer D and collective D_σ (cm²/s,
    block errors) and the MSD exponent (:func:`toolkit.conductivity.ion_transport`)."""
    s, atoms = VolcanoSettings.from_dict(settings), committed_glass(glass_point)
    found = ion_transport([(atoms, t, seed) for t in temperatures_K], "Li", potential, s.md_steps, s.md_timestep_fs,
                          s.md_sample_every, s.md_equilibration_fraction, s.md_blocks, ResultsStore(), progress=False)
    return {"glass": glass_point, "seed": seed, "n_Li": atoms.get_chemical_symbols().count("Li"),
            "volume_A3": float(atoms.get_volume()), "duration_ps": s.md_ps,
            "by_temperature": {f"{t:g}": f.to_dict() for t, f in zip(temperatures_K, found)}}


def campaign(settings: VolcanoSettings | None = None) -> list[Point]:
    """The research points of study 2 at ``settings`` (default :meth:`VolcanoSettings.full`), in the order they run:
    every glass first, replica by replica (the k-th glass of every x), then their MD in the same order, then the
    student's MD spot checks. A glass costs 14–63 CPU-minutes and the teacher's MD of one 2.5–5 CPU-hours, so the
    structure claims (Ta–O coordination, density) are decided on three glasses per x long before the volcano is."""
    s = settings or VolcanoSettings.full()
    config = s.to_dict()

    def make(x, seed):
        return Point(glass_name(x, seed), research_glass, TEACHER, {"settings": config, "x": x, "seed": seed},
                     {"packing_and_melt_quench": seed})

    def md(x, seed, potential):
        return Point(f"md-x{x:g}-seed{seed}-{slug(potential)}", research_md, potential,
                     {"settings": config, "glass_point": glass_name(x, seed), "seed": seed,
                      "temperatures_K": list(s.md_temperatures_K)}, {"md": seed})

    points = [make(x, seed) for seed in s.seeds for x in s.x_values]
    points += [md(x, seed, TEACHER) for seed in s.seeds for x in s.x_values]
    return points + [md(x, s.seeds[k], STUDENT) for x, k in STUDENT_MD if x in s.x_values and k < len(s.seeds)]


def _slope(x, y) -> list[float] | None:
    """[slope, standard error] of the least-squares line of ``y`` on ``x`` (None for fewer than three points or one
    x): the error comes from the scatter about the line, so glass-to-glass differences are in it."""
    if len(x) < 3 or len(set(x)) < 2:
        return None
    fit = linregress(x, y)
    return [float(fit.slope), float(fit.stderr)]


def _sem(values) -> float | None:
    """The standard error of the mean of ``values`` (None for fewer than two)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else None


def _rows(md: dict[str, dict], glasses: dict[str, dict]) -> list[dict]:
    """:func:`~toolkit.studies.oxyhalide_volcano.volcano` rows of the MD points ``md`` on the glasses ``glasses``."""
    return [volcano_row(glasses[r["glass"]]["x"], glasses[r["glass"]]["seed"], r["n_Li"], r["volume_A3"],
                        glasses[r["glass"]]["density_g_cm3"], {t: v["D_cm2_s"] for t, v in r["by_temperature"].items()})
            for r in md.values()]


def _by_x_and_temperature(md: dict[str, dict], glasses: dict[str, dict]) -> dict[float, dict[float, list[dict]]]:
    """x -> T -> what the MD points ``md`` (on ``glasses``) found at T, one entry per glass, in x and T order."""
    out: dict = {}
    for r in md.values():
        for t, v in r["by_temperature"].items():
            out.setdefault(glasses[r["glass"]]["x"], {}).setdefault(float(t), []).append(v)
    return {x: dict(sorted(by_t.items())) for x, by_t in sorted(out.items())}


def _mean_exponent(found: list[dict]) -> float | None:
    """The MSD exponent α averaged over the glasses' runs ``found`` (None where a run was too short to have one)."""
    exponents = [f["msd_exponent"] for f in found]
    return None if None in exponents else float(np.mean(exponents))


def bootstrap_peak(rows: list[dict], n_draws: int = 1000, seed: int = 0) -> dict[float, float]:
    """How often each x is the peak of the volcano over ``n_draws`` bootstrap draws (x -> fraction): in each draw
    the glasses of every x are drawn with replacement and each glass's D at each temperature is redrawn from its
    block error, then :func:`~toolkit.studies.oxyhalide_volcano.volcano` and its peak are recomputed. Draws in which
    no composition has a fit count for no x."""
    rng = np.random.default_rng(seed)
    by_x: dict[float, list[dict]] = {}
    for row in rows:
        by_x.setdefault(float(row["parameters"]["x"]), []).append(row)
    counts = dict.fromkeys(by_x, 0)
    for _ in range(n_draws):
        drawn = []
        for group in by_x.values():
            for k in rng.integers(len(group), size=len(group)):
                row = group[k]
                d = {t: [max(v[0] + v[1] * rng.standard_normal(), 1e-3 * abs(v[0]) + 1e-12), v[1]]
                     for t, v in row["result"]["D_Li_cm2_s"].items()}
                drawn.append({"parameters": row["parameters"], "result": {**row["result"], "D_Li_cm2_s": d}})
        top = ov.peak(ov.volcano(drawn))
        if top is not None:
            counts[top] += 1
    return {x: n / n_draws for x, n in sorted(counts.items())}


def inverse_haven_ratios(md: dict[str, dict], glasses: dict[str, dict]) -> dict[float, dict]:
    """Per x, the inverse Haven ratio 1/H_R = D_σ / D* at each temperature, from the collective D_σ and the tracer D
    of all its glasses, each combined over the glasses (:func:`~toolkit.transport.combine_replicas`), with the
    error of the ratio propagated from both: x -> T -> [1/H_R, error].

    The inverse, because D_σ is the noisy one (one collective coordinate against dozens of tracers): D_σ / D* is
    linear in it, so its noise averages out over temperatures and compositions (:func:`pooled_haven_ratio`), where
    D* / D_σ would blow up wherever a D_σ comes out near zero."""
    out: dict = {}
    for x, by_t in _by_x_and_temperature(md, glasses).items():
        out[x] = {}
        for t, values in by_t.items():
            tracer = combine_replicas([v["D_cm2_s"] for v in values])
            charge = combine_replicas([v["D_sigma_cm2_s"] for v in values])
            ratio = charge[0] / tracer[0]
            out[x][t] = [ratio, float(np.hypot(charge[1] / tracer[0], ratio * tracer[1] / tracer[0]))]
    return out


def pooled_haven_ratio(inverse: dict[float, dict]) -> list[float] | None:
    """H_R and its error from :func:`inverse_haven_ratios`: the weighted mean of 1/H_R over every x and
    temperature, inverted (None without any, or where the mean is not positive)."""
    values = np.array([v for by_t in inverse.values() for v in by_t.values()])
    if not len(values):
        return None
    weights = 1 / np.maximum(values[:, 1], 1e-12) ** 2
    mean, err = float(np.sum(weights * values[:, 0]) / weights.sum()), float(1 / np.sqrt(weights.sum()))
    return [1 / mean, err / mean**2] if mean > 0 else None


def research_result(records: dict[str, dict]) -> dict:
    """Study 2's claims from committed campaign points (:func:`toolkit.campaign.finished`): whatever of them the
    points so far allow, with the points each rests on.

    - ``glasses``: x -> the glasses: ``n``, ``n_atoms``, ``density_g_cm3`` and ``CN_Ta_O`` (each [mean, standard
      error over the glasses], with the cutoffs below) and ``ideal_mixing_density_g_cm3``;
    - ``CN_Ta_O_slope``: [slope, error] of CN(Ta–O) against x through every glass (:func:`_slope`);
    - ``structure``: the cutoffs (Å) from the RDFs of all glasses and per x the coordination numbers, Ta
      motifs, bridging O, sharing and angles (:func:`~toolkit.studies.oxyhalide_volcano.structure`); ``descriptors``;
    - ``volcano``: x -> ``D`` (T -> [D, error], cm²/s, combined over glasses, so the glass-to-glass scatter is in the
      error), ``n_glasses``, ``Ea_eV`` and ``sigma_300K_S_cm`` ([value, error]; None where no Arrhenius line fits,
      and ``fit_problem`` says why) and ``msd_exponent`` (T -> mean over glasses; 1 when diffusive);
    - ``msd_fs_A2``: x -> T -> the Li MSD curve of each glass (rows of lag in fs and MSD in Å²), to judge by eye
      whether the MD reached diffusion;
    - ``peak_x`` and ``peak_bootstrap`` (x -> how often it is the peak, :func:`bootstrap_peak`);
    - ``correlations``: each descriptor's Pearson r with log σ(300 K);
    - ``inverse_haven_ratio``: x -> T -> [1/H_R, error] (:func:`inverse_haven_ratios`) and ``haven_ratio``,
      [H_R, error] pooled over them (:func:`pooled_haven_ratio`);
    - ``spot_checks``: the student's D beside the teacher's on the same glass, temperature and seed.
    """
    out: dict = {"points": sorted(records)}
    mine = {name: r["result"] for name, r in records.items() if name.startswith("glass-")}  # all the teacher's
    md = {by: {name: r["result"] for name, r in records.items() if name.startswith("md-")
               and (r["provenance"]["potential"]["name"] == STUDENT) == (by == STUDENT)} for by in (STUDENT, TEACHER)}
    teacher_md = md[TEACHER]
    if not mine:
        return out
    by_x: dict[float, list[dict]] = {}
    for r in mine.values():
        by_x.setdefault(float(r["x"]), []).append(r)
    by_x = dict(sorted(by_x.items()))
    found = ov.structure({x: [glass_atoms(r) for r in rs] for x, rs in by_x.items()})
    ta_o = {x: [co.coordination_numbers([glass_atoms(r)], found.cutoffs_A)["Ta-O"] for r in rs] for x, rs in by_x.items()}
    out["glasses"] = {x: {"n": len(rs), "n_atoms": rs[0]["n_atoms"], "CN_Ta_O": [float(np.mean(ta_o[x])), _sem(ta_o[x])],
                          "density_g_cm3": [float(np.mean([r["density_g_cm3"] for r in rs])),
                                            _sem([r["density_g_cm3"] for r in rs])],
                          "ideal_mixing_density_g_cm3": rs[0]["ideal_mixing_density_g_cm3"]} for x, rs in by_x.items()}
    out["CN_Ta_O_slope"] = _slope([x for x, cns in ta_o.items() for _ in cns], [c for cns in ta_o.values() for c in cns])
    out["structure"] = found.to_dict()
    out["descriptors"] = {name: {x: float(v) for x, v in values.items()}
                          for name, values in ov.descriptors(found.by_x).items()}
    if teacher_md:
        rows = _rows(teacher_md, mine)
        transport = ov.volcano(rows)
        per_glass = _by_x_and_temperature(teacher_md, mine)
        out["volcano"] = {x: {"D": v["D"], "n_glasses": v["n_glasses"],
                              "Ea_eV": v["fit"]["Ea_eV"] if v["fit"] else None,
                              "sigma_300K_S_cm": v["fit"]["sigma_S_cm"] if v["fit"] else None,
                              "fit_problem": v["fit_problem"],
                              "msd_exponent": {t: _mean_exponent(found) for t, found in per_glass[x].items()}}
                          for x, v in transport.items()}
        out["msd_fs_A2"] = {x: {t: [f["msd_fs_A2"] for f in found if f.get("msd_fs_A2")] for t, found in by_t.items()}
                            for x, by_t in per_glass.items()}
        out["peak_x"] = ov.peak(transport)
        out["peak_bootstrap"] = bootstrap_peak(rows)
        out["correlations"] = ov.correlations(ov.descriptors({x: found.by_x[x] for x in transport}), transport)
        out["inverse_haven_ratio"] = inverse_haven_ratios(teacher_md, mine)
        out["haven_ratio"] = pooled_haven_ratio(out["inverse_haven_ratio"])
    out["spot_checks"] = [
        {"x": mine[r["glass"]]["x"], "glass": r["glass"], "temperature_K": float(t), "D_cm2_s": {
            STUDENT: v["D_cm2_s"], TEACHER: next((m["by_temperature"][t]["D_cm2_s"] for m in teacher_md.values()
                                                  if m["glass"] == r["glass"]), None)}}
        for r in md[STUDENT].values() for t, v in r["by_temperature"].items()]
    return out


#: The MSD exponent α (MSD ∝ t^α from 1 ps on) below which a D is not read as diffusion.
DIFFUSIVE_EXPONENT = 0.9
#: Pearson's |r| that six points reach by chance 5 % of the time (two-sided): a descriptor "tracks" σ above it.
R_CRITICAL_6 = 0.811


def claim_rows(quick, research: dict, research_dft: dict | None = None) -> list[dict]:
    """The claim table of study 2: for each claim of the paper, the quantity that decides it, ``quick``'s value (a
    :class:`~toolkit.studies.oxyhalide_volcano.VolcanoResult`, the live run), the research value
    (:func:`research_result`), the research potential against DFT (``research_dft``: its
    :func:`~toolkit.studies.oxyhalide_volcano.dft_summary`), the paper's or literature's value, and a verdict on the
    research value (the quick one where no research point is committed yet). The claims on σ(x) wait for a
    research fit at every x of :meth:`VolcanoSettings.full`: a peak among some compositions says nothing of the
    others."""
    rows, not_yet = [], "not computed yet"

    def row(claim, decided_by, quick_text, research_text, against_dft, literature, decided):
        rows.append({"claim": claim, "decided_by": decided_by, "quick": quick_text, "research": research_text,
                     "against_dft": against_dft, "literature": literature, "verdict": decided})

    dft_note = "no DFT anchor for this potential"
    if research_dft:
        density = next((r for r in research_dft["rows"] if "density" in r["quantity"]), None)
        rmse = research_dft["force_rmse_eV_A"]
        dft_note = (f"force RMSE {', '.join(f'{k} {v:.2f}' for k, v in rmse.items())} eV/Å on DFT frames"
                    + (f"; glass density {density['potential']:.2f} vs {density['dft']:.2f} g/cm³ (DFT)" if density else ""))
    transport, volcano = quick.transport, research.get("volcano")
    fitted, every_x = [x for x, v in (volcano or {}).items() if v["sigma_300K_S_cm"]], VolcanoSettings.full().x_values
    if volcano and len(fitted) < len(every_x):
        volcano, not_yet = None, f"{len(fitted)} of {len(every_x)} compositions fitted so far"
    # a D read where the MSD is still sub-diffusive measures the cage, not transport: σ is not decided on it
    exponents = [a for v in (volcano or {}).values() for a in v["msd_exponent"].values() if a is not None]
    caged = f"{UNDECIDED} (Li MSD sub-diffusive: α down to {min(exponents):.2f})" \
        if exponents and min(exponents) < DIFFUSIVE_EXPONENT else None
    quick_peak = ov.peak(transport)
    xs = sorted(transport)
    interior = research.get("peak_bootstrap")
    inside = sum(f for x, f in interior.items() if min(interior) < x < max(interior)) if interior else None
    quick_interior = quick_peak is not None and xs[0] < quick_peak < xs[-1]
    row("σ(x) rises, then falls: a volcano", "bootstrap share of draws whose σ(300 K) peak is inside the x range",
        f"peak at x = {quick_peak}" + (" (inside)" if quick_interior else " (at an end)"),
        f"peak at x = {research['peak_x']}; inside in {100 * inside:.0f} % of draws ("
        + ", ".join(f"{x:g}: {100 * f:.0f} %" for x, f in interior.items() if f) + ")" if volcano else not_yet,
        dft_note, "rises then falls with x (JACS 2025)",
        caged or (HOLDS if inside >= 0.95 else FAILS if inside <= 0.05 else UNDECIDED) if volcano else
        ("holds" if quick_interior else "does not hold with this potential") + " (quick run only)")
    best = volcano[research["peak_x"]]["sigma_300K_S_cm"] if volcano and research.get("peak_x") is not None else None
    quick_best = transport[quick_peak]["fit"]["sigma_S_cm"] if quick_peak is not None else None

    def log_sigma(s):
        return (np.log10(s[0]), s[1] / s[0] / np.log(10)) if s else None

    decided = log_sigma(best) or log_sigma(quick_best)
    row("the best glass is a superionic conductor (σ(300 K) ≥ 0.1 mS/cm)", "log10 σ(300 K) at the peak (S/cm), H_R = 1",
        f"{log_sigma(quick_best)[0]:.1f} ± {log_sigma(quick_best)[1]:.1f}" if quick_best else "—",
        f"{log_sigma(best)[0]:.1f} ± {log_sigma(best)[1]:.1f}" if best else not_yet, dft_note,
        "mS/cm for the best glasses (JACS 2025); >> 1 mS/cm for amorphous oxyhalides (Binci et al., arXiv:2601.06384)",
        (caged if best and caged else verdict(*decided, -4.0) + ("" if best else " (quick run only)")) if decided
        else not_yet)
    by_x = quick.structure.by_x
    quick_slope = _slope(list(by_x), [v["coordination"]["Ta-O"] for v in by_x.values()])
    slope, glasses = research.get("CN_Ta_O_slope"), sum(g["n"] for g in research.get("glasses", {}).values())
    decided = slope or quick_slope
    row("O enters the Ta shell as x grows", "slope of CN(Ta–O) against x, a line through every glass (per Li₂O)",
        f"{quick_slope[0]:+.2f} ± {quick_slope[1]:.2f}" if quick_slope else "—",
        f"{slope[0]:+.2f} ± {slope[1]:.2f} ({glasses} glasses)" if slope else not_yet, "—",
        "Ta–O motifs replace Ta–Cl as x grows (JACS 2025)",
        verdict(*decided, 0.0) + ("" if slope else " (quick run only)") if decided else not_yet)
    correlations = research.get("correlations") or {}
    strongest = max(((n, r) for n, r in correlations.items() if r is not None), key=lambda c: abs(c[1]), default=None)
    quick_r = {n: r for n, r in ov.correlations(ov.descriptors(by_x), transport).items() if r is not None}
    decided_r = strongest[1] if strongest else max(quick_r.values(), key=abs, default=None)
    row("the Ta coordination structure sets σ", f"the strongest |r| of a descriptor with log σ (chance: {R_CRITICAL_6} "
        "for six x at 5 %)", ", ".join(f"{n}: {r:+.2f}" for n, r in quick_r.items()) or "—",
        f"{strongest[0]}: {strongest[1]:+.2f}" if strongest else not_yet, "—",
        "σ follows the Ta–O/Ta–Cl motifs (JACS 2025)",
        not_yet if decided_r is None else (HOLDS if abs(decided_r) >= R_CRITICAL_6 else UNDECIDED)
        + ("" if strongest else " (quick run only)"))
    pooled, pairs = research.get("haven_ratio"), sum(map(len, research.get("inverse_haven_ratio", {}).values()))
    row("Li hops are uncorrelated (H_R ≈ 1, as σ assumes)", "Haven ratio D*/D_σ, from D_σ/D* weighted over x and T",
        "not computed",
        f"{pooled[0]:.2f} ± {pooled[1]:.2f} ({pairs} x–T pairs)" if pooled else not_yet, "—",
        "H_R close to 1 in amorphous oxyhalides (Binci et al., arXiv:2601.06384)",
        (HOLDS if abs(pooled[0] - 1) < 2 * pooled[1] and pooled[1] < 0.25 else
         FAILS if abs(pooled[0] - 1) > 2 * pooled[1] else UNDECIDED) if pooled else not_yet)
    return rows
