"""Self-checks for the notebooks' exercises: each takes a participant's answer (and what the notebook computed) and
says whether it is plausible, and why, without giving the answer away first.

Every function returns a :class:`Feedback`, which a notebook cell shows as a line of Markdown. An answer left as
``None`` gets a reminder instead of an error, so that "Run All" passes over unanswered exercises.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Room-temperature lattice parameters (Å) of cubic perovskites the exercises relax: SrTiO3 (Pm-3m; e.g.
#: Okazaki & Kawaminami, Mater. Res. Bull. 1973), BaSnO3 (Pm-3m; Large et al., Phys. Rev. B 2008),
#: BaZrO3 (Pm-3m; Kreuer, Annu. Rev. Mater. Res. 2003).
LATTICE_A = {"SrTiO3": 3.905, "BaSnO3": 4.116, "BaZrO3": 4.193}
#: How far (fraction) a universal potential's lattice parameter may sit from experiment and still be plausible:
#: PBE-trained potentials run 0.5–1.5 % large on oxides, and finite temperature adds a few tenths of a per cent.
LATTICE_TOLERANCE = 0.03


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``plausible`` (None where no answer was given) and a ``message`` that says why."""

    plausible: bool | None
    message: str

    def _repr_markdown_(self) -> str:
        mark = {True: "✅ plausible", False: "❌ look again", None: "✏️ no answer yet"}[self.plausible]
        return f"**{mark}**: {self.message}"

    def __str__(self) -> str:
        return self._repr_markdown_()


def _missing(answer, what: str) -> Feedback | None:
    if answer is None:
        return Feedback(None, f"set {what} and run this cell again")
    if not np.isfinite(float(answer)):
        return Feedback(False, f"{what} is {answer}: a number is needed")
    return None


def lattice_parameter(answer_A: float | None, material: str) -> Feedback:
    """Is ``answer_A`` (Å), a relaxed cubic lattice parameter of ``material`` (:data:`LATTICE_A`), within
    :data:`LATTICE_TOLERANCE` of experiment?"""
    if material not in LATTICE_A:
        raise ValueError(f"no reference lattice parameter for {material!r}; known: {', '.join(LATTICE_A)}")
    missing = _missing(answer_A, "your lattice parameter (Å)")
    if missing:
        return missing
    reference = LATTICE_A[material]
    off = answer_A / reference - 1
    if abs(off) <= LATTICE_TOLERANCE:
        return Feedback(True, f"{answer_A:.3f} Å is {100 * off:+.1f} % from experiment ({reference} Å); a PBE-trained "
                              "potential usually sits 0.5–1.5 % large")
    hint = " (a cell of several formula units? divide by their number along the edge)" if off > 0.5 else ""
    return Feedback(False, f"{answer_A:.3f} Å is {100 * off:+.1f} % from experiment ({reference} Å), more than a "
                           f"potential's usual error{hint}: was the cell relaxed, and is this the cubic edge?")


def vanishing_amplitude(answer_A: float | None, barrier_vs_amplitude, zero_eV: float = 0.01) -> Feedback:
    """Is ``answer_A`` (|Q|, Å) where the frozen-lattice barrier vanishes along ``barrier_vs_amplitude``
    (``[(amplitude_A, barrier_eV), ...]``, as in study 1's summary)? Answer ``float("inf")`` for "never".

    The reference: on the side of Q where the barrier falls, the smallest |Q| of the scan with a barrier below
    ``zero_eV``; without one, the zero of the straight line through that side's two largest amplitudes. An answer
    within a quarter of it, or one step of the scan, counts. Where the barrier rises both ways, "never" is right."""
    if answer_A is None:
        return Feedback(None, "set the amplitude (Å) where the barrier vanishes (float('inf') for never) and run "
                              "this cell again")
    q, b = np.array(sorted((float(a), float(e)) for a, e in barrier_vs_amplitude)).T
    step = float(np.diff(q).min())
    sides = [side for side in (q >= 0, q <= 0) if side.sum() >= 2]
    side = min(sides, key=lambda m: b[m][np.argmax(np.abs(q[m]))])
    amplitude, barrier = np.abs(q[side]), b[side]
    order = np.argsort(amplitude)
    amplitude, barrier = amplitude[order], barrier[order]
    if barrier[-1] >= barrier[0]:
        ok = not np.isfinite(answer_A)
        return Feedback(ok, "the barrier rises with |Q| both ways in this scan: no amplitude makes it vanish"
                            + ("" if ok else "; answer float('inf') for never"))
    below = amplitude[barrier < zero_eV]
    if len(below):
        zero, how = float(below[0]), f"the scan's barrier is below {1000 * zero_eV:g} meV from |Q| = {below[0]:.2f} Å"
    else:
        (q1, q2), (b1, b2) = amplitude[-2:], barrier[-2:]
        zero = float(q2 + b2 * (q2 - q1) / (b1 - b2))
        how = f"a straight line through the scan's last two points reaches zero near |Q| = {zero:.2f} Å"
    close = np.isfinite(answer_A) and abs(abs(answer_A) - zero) <= max(0.25 * zero, step)
    return Feedback(bool(close), how + ("" if close else f"; {abs(answer_A):.2f} Å is too far from it"))


def haven_ratio_effect(sigma_before_S_cm: float | None, sigma_after_S_cm: float | None,
                       haven_before: float = 1.0, haven_after: float = 0.5) -> Feedback:
    """Did σ change as Nernst–Einstein says when the Haven ratio went from ``haven_before`` to ``haven_after``?
    σ goes as 1 / H_R, so the ratio of the σ values (S/cm) should be ``haven_before / haven_after``."""
    for value, what in ((sigma_before_S_cm, "σ before (S/cm)"), (sigma_after_S_cm, "σ after (S/cm)")):
        missing = _missing(value, what)
        if missing:
            return missing
    expected, found = haven_before / haven_after, sigma_after_S_cm / sigma_before_S_cm
    ok = abs(found / expected - 1) < 0.01
    return Feedback(ok, f"σ changed by a factor {found:.3g}; Nernst–Einstein with H_R {haven_before:g} → "
                        f"{haven_after:g} gives {expected:.3g}" + ("" if ok else ": was the same D used both times?")
                        + ". D, Ea and which x is the peak do not change: H_R scales every σ alike.")


def diffusion_time(answer_s: float | None, length_um: float, D_cm2_s: float | None) -> Feedback:
    """Is ``answer_s`` (s) the time Li needs to cross ``length_um`` (µm) with diffusion coefficient ``D_cm2_s``?
    The estimate t = L²/(2D) (one dimension); anything within a factor of three of it (L²/D to L²/6D) counts."""
    missing = _missing(D_cm2_s, "your D (cm²/s)") or _missing(answer_s, "your time (s)")
    if missing:
        return missing
    if D_cm2_s <= 0:
        raise ValueError(f"D must be positive, got {D_cm2_s} cm²/s")
    estimate = (length_um * 1e-4) ** 2 / (2 * D_cm2_s)
    ok = estimate / 3 <= answer_s <= 3 * estimate
    return Feedback(ok, f"t ≈ L²/(2D) = {estimate:.3g} s for {length_um:g} µm at D = {D_cm2_s:.2g} cm²/s"
                        + ("" if ok else f"; {answer_s:.3g} s is off by more than a factor of three "
                                         "(units: 1 µm = 1e-4 cm)"))
