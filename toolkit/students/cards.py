"""A student's model card as Markdown: where it came from, its errors, its properties beside its teacher's, and,
for a student anchored on DFT, each potential against DFT on the study's claim."""

from __future__ import annotations


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
