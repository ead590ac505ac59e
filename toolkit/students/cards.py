"""What a student's model card says: as Markdown (where it came from, its errors, its properties beside its
teacher's and, for a student anchored on DFT, each potential against DFT on the study's claim), and whether it may
stand in for its teacher in a notebook or one of its sections (:func:`student_agrees`, :func:`closer_to_dft`)."""

from __future__ import annotations

#: A student stands in for its teacher only below this held-out force error (meV/Å), on the kinds of configuration
#: the notebook or section visits (:data:`SECTION_KINDS`), unless its study sets its own (:data:`STUDY_FORCE_LIMITS`).
STUDENT_MAX_FORCE_RMSE_MEV_A = 60.0
#: Study 2's limit: its teacher is itself 0.28 eV/Å from PBE on the study's glass frames, and its student 0.27
#: (``bench/against_dft.py``), so a student within 0.1 eV/Å of the teacher on the MD it runs adds under 7 % to the
#: teacher's own error (in quadrature). The glasses' forces are large: a flat 60 meV/Å would judge the student on
#: the compressed and hard-rattled glasses no section visits.
STUDY_FORCE_LIMITS = {"oxyhalide-volcano": 100.0}
#: Notebook sections that may run on their study's student on their own card rows, even where the student
#: differs from its teacher on other rows: study -> section -> card rows (``study_potential(properties=...)``).
STUDENT_SECTIONS = {
    "liga-alloy": {"transport": ("lattice_B32_A", "lattice_bcc_Li_A", "V_Li_hop_barrier_eV", "D_Li_700K_V_Li_cm2_s",
                                 "bcc_Li_V_Li_hop_barrier_eV", "D_Li_400K_V_Li_bcc_Li_cm2_s")},
    "oxyhalide-volcano": {"transport": ("D_Li_1000K_cm2_s",)},
}
#: The kinds of held-out configuration (the card's ``force_rmse_by_kind_meV_A``) a section visits, where they are
#: not all of them: study 2's transport is MD of the glasses at the temperatures its card sampled.
SECTION_KINDS = {("oxyhalide-volcano", "transport"): ("md 700 K", "md 1000 K")}


def _force_error(card: dict, properties) -> tuple[float, str]:
    """The held-out force RMSE (meV/Å) that judges a student for ``properties`` (a section's rows, or None), and on
    what: the largest over the kinds its section visits, or the whole held-out set."""
    errors = card.get("held_out_errors", {})
    section = next((name for name, rows in STUDENT_SECTIONS.get(card.get("study"), {}).items()
                    if properties is not None and list(rows) == list(properties)), None)
    kinds = SECTION_KINDS.get((card.get("study"), section))
    if kinds:
        by_kind = errors.get("force_rmse_by_kind_meV_A", {})
        return max(by_kind.get(kind, float("inf")) for kind in kinds), f"on {', '.join(kinds)}"
    return errors.get("force_rmse_meV_A", float("inf")), ""


def student_agrees(card: dict, properties=None) -> tuple[bool, str]:
    """Whether a model card shows its student agrees with its teacher, and a one-line reason.

    ``properties``: the card rows that count (a notebook section's); default: every row the card marks as
    computed by the study's notebook. A row that ``properties`` names and the card lacks counts as a
    disagreement: the card has not shown it."""
    rmse, where = _force_error(card, properties)
    limit = STUDY_FORCE_LIMITS.get(card.get("study"), STUDENT_MAX_FORCE_RMSE_MEV_A)
    held_out = f"held-out force RMSE {rmse:.0f} meV/Å" + (f" {where}" if where else "")
    rows = card.get("properties", {})
    if not rows:
        return False, "its card compares no properties"
    if properties is None:
        counted = [name for name, row in rows.items() if row.get("used_by_notebook", True)]
    else:
        counted = list(properties)
        missing = [name for name in counted if name not in rows]
        if missing:
            return False, f"its card does not compare {', '.join(missing)}"
    if rmse >= limit:
        return False, f"{held_out} (limit {limit:g})"
    differs = [name for name in counted if not rows[name]["agrees"]]
    if differs:
        return False, f"it differs from its teacher on {', '.join(differs)}"
    if properties is not None:
        return True, f"{held_out} and {', '.join(counted)} agree on its card"
    ignored = [name for name in rows if name not in counted]
    return True, (f"{held_out} and every property on its card that the notebook computes "
                  f"agrees" + (f" ({', '.join(ignored)} not computed there)" if ignored else ""))


def card_markdown(card: dict) -> str:
    """A model card as Markdown: where the student came from, its errors, and its properties beside the teacher's."""
    errors, speed = card["held_out_errors"], card["speed"]
    lines = [
        f"**student:{card['study']}** — distilled from **{card['teacher']['name']}** "
        f"(teacher SHA-256 {card['teacher']['sha256'][:12]}…) on "
        f"{sum(card['configurations']['train_and_validation'].values())} configurations; "
        f"held-out ({errors['n_configurations']} configurations from an independent sampling): force RMSE "
        f"{errors['force_rmse_meV_A']:.0f} meV/Å, energy RMSE {errors['energy_rmse_meV_atom']:.1f} meV/atom; "
        f"{speed['speedup']:.1f}× faster than the teacher ({speed['n_atoms']} atoms, one force call"
        + (f"; {speed['at_distillation']['speedup']:.1f}× when distilled, re-timed by `{speed['retimed']['command']}`"
           if "retimed" in speed else "") + ").",
    ]
    if "refinement" in card:
        rounds = card["refinement"]["rounds"]
        before = " → ".join(f"{r['held_out_errors_before']['force_rmse_meV_A']:.0f}" for r in rounds)
        lines[0] += (f" Refined in {len(rounds)} round(s) with {sum(r['configurations'] for r in rounds)} teacher "
                     f"labels of the student's own runs (held-out force RMSE {before} → "
                     f"{errors['force_rmse_meV_A']:.0f} meV/Å).")
    if card.get("properties"):
        lines += ["", "| property | teacher | student | tolerance | agrees | in this notebook |",
                  "|---|---|---|---|---|---|"]
    else:
        closer, why = closer_to_dft(card)
        lines += ["", "This card compares no properties with the teacher yet (`python -m toolkit distill "
                      f"{card['study']} --recompare` computes them), "
                      + (f"but quick mode uses the student: it is {why}." if closer
                         else "so quick mode does not use the student.")]
    def show(value):
        if value is None:
            return "failed"
        return f"{value[0]:.2e} ± {value[1]:.1e}" if isinstance(value, list) else f"{value:.4g}"

    for name, row in card.get("properties", {}).items():
        lines.append(f"| {name} | {show(row['teacher'])} | {show(row['student'])} | {row.get('tolerance', '—')} | "
                     f"{'yes' if row['agrees'] else '**no**'} | {'yes' if row.get('used_by_notebook', True) else 'no'} |")
    failures = {row["failed"] for row in card.get("properties", {}).values() if row.get("failed")}
    lines += [f"\nThe student's workflow stopped: {failure}" for failure in failures]
    if "properties_recomputed" in card:
        lines.append(f"\nProperties recomputed for this same student by `{card['properties_recomputed']['command']}`.")
    if "against_dft" in card:
        lines += ["", anchor_markdown(card)]
    return "\n".join(lines)


def anchor_markdown(card: dict) -> str:
    """The card of a student anchored on DFT (``--anchor dft``): how it was trained, its errors on the DFT frames
    beside the teacher's, and study 1's claim decided by each potential beside DFT."""
    anchor = card["anchor"]
    frame_errors = anchor["errors_on_dft_frames"]
    lines = [f"Anchored on DFT: {anchor['frames']} DFT frames weighted {anchor['weight']:g}, their energies placed on "
             f"the teacher's scale at `{anchor['reference_frame']}`; the teacher's "
             f"{', '.join(f'{n} {k!r}' for k, n in anchor['teacher_kinds_left_out'].items())} frames left out. "
             "Errors against DFT on those frames: " + "; ".join(
                 f"{name} {e['force_rmse_meV_A']:.0f} meV/Å, {e['energy_rmse_meV_atom']:.1f} meV/atom"
                 for name, e in frame_errors.items()) + ".", ""]
    rows = card["against_dft"]
    dft = next(iter(rows.values()))["host_tilts"]

    def well(depth):
        return "—" if depth is None else ("none" if depth == 0 else f"{depth:.2f}")

    lines += ["| | a (Å) | M-tilt well (meV/f.u.) | R-tilt well | Γ imaginary (THz): pristine / Y / Y+H | "
              "Y-induced instability |", "|---|---|---|---|---|---|"]
    lines.append(f"| DFT (PBE) | {dft['M']['dft_lattice_A']:.4f} | {well(dft['M']['dft_double_well_meV_fu'])} | "
                 f"{well(dft['R']['dft_double_well_meV_fu'])} | | |")
    for name, row in rows.items():
        tilts, gamma = row["host_tilts"], row["gamma"]
        imaginary = " / ".join(", ".join(f"{f:.2f}" for f in gamma["imaginary_THz"][c]) or "none"
                               for c in ("pristine", "Y-doped", "Y-doped + H"))
        lines.append(f"| {name} | {row['lattice_A']:.4f} | {well(tilts['M']['potential_double_well_meV_fu'])} | "
                     f"{well(tilts['R']['potential_double_well_meV_fu'])} | {imaginary} | "
                     f"{'yes' if gamma['y_induced_instability'] else 'no'} |")
    return "\n".join(lines)


def closer_to_dft(card: dict) -> tuple[bool, str]:
    """Whether a DFT-anchored student's card shows it closer to DFT than its teacher on everything the card sets
    beside DFT: force and energy errors on the DFT frames, the host's lattice (Å) and its tilt double wells (meV per
    formula unit); and a one-line reason. A card without DFT rows is not."""
    if "against_dft" not in card:
        return False, "its card sets nothing beside DFT"
    frames, rows = card["anchor"]["errors_on_dft_frames"], card["against_dft"]
    teacher, student = rows["teacher"], rows["student"]
    dft_tilts = student["host_tilts"]
    gaps = {"DFT-frame force RMSE (meV/Å)": (frames["student"]["force_rmse_meV_A"], frames["teacher"]["force_rmse_meV_A"]),
            "DFT-frame energy RMSE (meV/atom)": (frames["student"]["energy_rmse_meV_atom"],
                                                 frames["teacher"]["energy_rmse_meV_atom"]),
            "lattice error (Å)": (abs(student["lattice_A"] - dft_tilts["M"]["dft_lattice_A"]),
                                  abs(teacher["lattice_A"] - dft_tilts["M"]["dft_lattice_A"]))}
    gaps.update({f"{kind}-tilt well error (meV/f.u.)": tuple(
        abs(r["host_tilts"][kind]["potential_double_well_meV_fu"] - dft_tilts[kind]["dft_double_well_meV_fu"])
        for r in (student, teacher)) for kind in dft_tilts})
    worse = [name for name, (mine, theirs) in gaps.items() if mine > theirs]
    if worse:
        return False, f"it is further from DFT than its teacher on {', '.join(worse)}"
    return True, "closer to DFT than its teacher on its card: " + ", ".join(
        f"{name} {mine:.3g} against {theirs:.3g}" for name, (mine, theirs) in gaps.items())


def student_serves(card: dict, properties=None) -> tuple[bool, str]:
    """Whether quick mode's ``auto`` may run on a card's student (on the rows ``properties``, a section's, or else
    every row the notebook computes), and a one-line reason: it agrees with its teacher (:func:`student_agrees`)
    or, anchored on DFT, departs from its teacher by design and is closer to DFT (:func:`closer_to_dft`)."""
    agrees, why = student_agrees(card, properties)
    if agrees:
        return True, why
    closer, because = closer_to_dft(card)
    return (True, because) if closer else (False, f"{why}, and {because}")
