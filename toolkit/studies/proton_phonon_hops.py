"""Study 1's proton steps: how the proton moves in Y-doped BaSnO3, and how the lattice modulates it.

- :func:`proton_barriers`: climbing-image NEB of the proton's transfer (to the O it points at) and rotation
  (90° about its O), from the site next to Y and the site furthest from it;
- :func:`coupling`: the lattice mode that most stretches the donor–acceptor O–O distance
  (:func:`coupling_mode`), frozen in at several amplitudes Q, the transfer barrier at each, and dE_a/dQ where the
  transfer keeps a barrier (:func:`coupling_slopes`);
- :func:`proton_md`: Langevin MD of the protonated cell, its proton hops with the O–O distance at each, and
  D_H with an Arrhenius fit where there are two temperatures or more.

Units: Å, eV, THz, K, fs, cm²/s.
"""

from __future__ import annotations

import logging

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.geometry import find_mic

from toolkit import perovskite as pv
from toolkit import phonons as ph
from toolkit.barriers import neb_barrier
from toolkit.coupling import barrier_vs_amplitude
from toolkit.md import run_md_many
from toolkit.progress import progress_bar
from toolkit.protons import host_oxygen, proton_jumps, rotation_final_states, transfer_final_state
from toolkit.relax import relax
from toolkit.store import ResultsStore
from toolkit.transport import ArrheniusFit, arrhenius_fit, diffusion_coefficient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProtonBarriers:
    """NEB bands (:class:`toolkit.barriers.NEBResult`) by ``(kind, where)``, kind ``"transfer"`` or
    ``"rotation"``, where ``"near Y"`` or ``"far from Y"`` (None for a rotation with no rotated minimum,
    :func:`rotated_end`); ``transfers`` holds each transfer's relaxed ``(initial, final, donor, acceptor)``."""

    paths: dict = field(repr=False)
    transfers: dict = field(repr=False)

    def barrier_eV(self, kind: str, where: str = "near Y") -> float | None:
        """The barrier (eV), or None where the potential has no rotated minimum to go to."""
        band = self.paths[(kind, where)]
        return None if band is None else float(band.barrier_eV)

    def to_dict(self) -> dict:
        return {"barriers_eV": {f"{k} {w}": self.barrier_eV(k, w) for k, w in self.paths},
                "neb_converged": {f"{k} {w}": b.converged for (k, w), b in self.paths.items() if b is not None}}


def proton_barriers(y_cell: Atoms, sites: list[dict], potential, relax_fmax_eV_A: float, n_images: int,
                    fmax_eV_A: float, max_steps: int, store: ResultsStore | None = None,
                    progress: bool = True) -> ProtonBarriers:
    """Transfer and rotation barriers (eV) of a proton added to the relaxed Y-doped cell ``y_cell`` at the site
    of ``sites`` nearest Y and at the one furthest from it (:func:`toolkit.perovskite.distinct_proton_sites`);
    end states relaxed to ``relax_fmax_eV_A`` (eV/Å) in the fixed cell, bands of ``n_images`` to ``fmax_eV_A``."""
    near = sites[int(np.argmin([s["d_Y_A"] for s in sites]))]
    far = sites[int(np.argmax([s["d_Y_A"] for s in sites]))]
    fixed_cell = dict(fmax_eV_A=relax_fmax_eV_A, relax_cell=False, store=store)
    starts = {where: relax(pv.add_proton(y_cell, s["o_index"], s["direction"]), potential, **fixed_cell)
              for where, s in (("near Y", near), ("far from Y", far))}
    neb = dict(n_images=n_images, fmax_eV_A=fmax_eV_A, max_steps=max_steps, store=store)
    paths, transfers = {}, {}
    for where, start in progress_bar(starts.items(), desc="NEB", disable=not progress):
        h = len(start) - 1
        final, donor, acceptor = transfer_final_state(start, h)
        final = relax(final, potential, **fixed_cell)
        paths[("transfer", where)] = neb_barrier(start, final, potential, **neb)
        transfers[where] = (start, final, donor, acceptor)
        rotated = rotated_end(start, h, potential, **fixed_cell)
        paths[("rotation", where)] = None if rotated is None else neb_barrier(start, rotated, potential, **neb)
    return ProtonBarriers(paths, transfers)


#: How far (Å) the proton of a relaxed rotation end state must sit from its start: a 90° turn about O moves it
#: about 1.4 Å.
ROTATION_MIN_SHIFT_A = 0.5


def rotated_end(start: Atoms, h: int, potential, **relax_args) -> Atoms | None:
    """The first of the proton's 90° rotations (:func:`toolkit.protons.rotation_final_states`) that stays rotated
    when relaxed. An orientation that is not a minimum relaxes back to the start, and an NEB between two copies of
    the start reads a barrier of 0 eV: with the DFT-anchored student the near-Y rotation did. None where every
    rotation relaxes back (the potential has no rotated minimum there), which is logged."""
    for candidate, _ in rotation_final_states(start, h):
        end = relax(candidate, potential, **relax_args)
        if np.linalg.norm(find_mic(end.positions[h] - start.positions[h], start.cell)[0]) > ROTATION_MIN_SHIFT_A:
            return end
    log.warning(f"every 90° rotation of the proton (atom {h}) relaxes back to its start with {potential.info.name}: "
                "that orientation has no neighbouring minimum, so there is no rotation barrier to measure")
    return None


@dataclass(frozen=True)
class CouplingMode:
    """The lattice mode that most changes the donor–acceptor O–O distance: its Γ ``band`` and ``frequency_THz``,
    its ``displacements_A`` (largest atomic displacement 1 Å) and ``d_OO_per_Q``, the change of the O–O distance
    per Å of amplitude (a first-order coupling needs it to be non-zero)."""

    band: int
    frequency_THz: float
    displacements_A: np.ndarray = field(repr=False, compare=False)
    d_OO_per_Q: float

    def to_dict(self) -> dict:
        return {"band": self.band, "frequency_THz": self.frequency_THz, "d_OO_per_Q": self.d_OO_per_Q}


def coupling_mode(phonon, atoms: Atoms, donor: int, acceptor: int, h_index: int,
                  max_frequency_THz: float = 15.0) -> CouplingMode:
    """Among the Γ modes of ``phonon`` (cell ``atoms``) up to ``max_frequency_THz`` (the lattice modes: the O–H
    bend and stretch lie far above), acoustic modes and modes led by the proton left out, the one whose
    displacement changes the ``donor``–``acceptor`` O–O distance most per unit amplitude."""
    freqs = ph.frequencies_at(phonon)
    acoustic = ph.acoustic_bands(freqs)
    axis = atoms.get_distance(donor, acceptor, mic=True, vector=True)
    axis = axis / np.linalg.norm(axis)
    best = None
    for band in range(len(freqs)):
        if band in acoustic or freqs[band] > max_frequency_THz:
            continue
        u = ph.mode_displacements(phonon, band)
        if np.linalg.norm(u[h_index]) > 0.999:  # the proton moves most: an O–H libration, not a lattice mode
            continue
        slope = float(np.dot(u[acceptor] - u[donor], axis))
        if best is None or abs(slope) > abs(best.d_OO_per_Q):
            best = CouplingMode(band, float(freqs[band]), u, slope)
    if best is None:
        raise ValueError(f"no lattice mode below {max_frequency_THz} THz to couple to")
    return best


MERGED_BARRIER_eV = 1e-3


def coupling_slope(amplitudes_A, barriers_eV) -> tuple[float, float]:
    """dE_a/dQ (eV/Å) and its standard error from a quadratic fit of the barrier against the amplitude, taken at
    the centre of the amplitudes (Q = 0 for a range symmetric about it; a mode that does not couple at first order
    then gives a symmetric curve and a slope of zero within the error)."""
    q, e = np.asarray(amplitudes_A, dtype=float), np.asarray(barriers_eV, dtype=float)
    if len(q) < 4:
        raise ValueError(f"a slope with an error needs at least 4 amplitudes, not {len(q)}")
    coefficients, covariance = np.polyfit(q - (q.min() + q.max()) / 2, e, 2, cov=True)
    return float(coefficients[1]), float(np.sqrt(covariance[1, 1]))


def transfer_rows(rows: list[dict]) -> list[dict]:
    """The rows of :func:`toolkit.coupling.barrier_vs_amplitude` where the transfer still has a barrier of
    ``MERGED_BARRIER_eV`` or more. Below it the donor and acceptor sites have merged into one minimum (a short
    O–O distance centres the proton): E_a has a kink there, and a smooth fit through both regimes would fit a
    step, not a coupling."""
    return [r for r in rows if r["barrier_eV"] >= MERGED_BARRIER_eV]


def intrinsic_barriers_eV(rows: list[dict]) -> list[float]:
    """E_0 = E_a − ΔE/2 (eV) of each row: the intrinsic barrier (Marcus), with the mode's tilt of the reaction
    energy ΔE taken out."""
    return [r["barrier_eV"] - r["reaction_eV"] / 2 for r in rows]


def coupling_slopes(rows: list[dict]) -> dict:
    """dE_a/dQ and dE_0/dQ (eV/Å, each ``[value, error]``; E_0 = E_a − ΔE/2) by :func:`coupling_slope` over the
    :func:`transfer_rows` only, the range of Q they span (Å), and the amplitudes where the sites merged.
    The slopes are None where fewer than 4 amplitudes keep a barrier."""
    kept = transfer_rows(rows)
    q = [r["amplitude_A"] for r in kept]
    found = {"fitted_amplitudes_A": q, "merged_amplitudes_A": [r["amplitude_A"] for r in rows if r not in kept],
             "dEa_dQ_eV_per_A": None, "dE0_dQ_eV_per_A": None}
    if len(kept) >= 4:
        found["dEa_dQ_eV_per_A"] = list(coupling_slope(q, [r["barrier_eV"] for r in kept]))
        found["dE0_dQ_eV_per_A"] = list(coupling_slope(q, intrinsic_barriers_eV(kept)))
    return found


def rows_from_dict(result: dict) -> list[dict]:
    """The per-amplitude rows (``amplitude_A``, ``barrier_eV``, ``reaction_eV``) back from a :meth:`Coupling.to_dict`
    (a committed research point keeps them as ``[Q, value]`` pairs)."""
    reaction = dict(map(tuple, result["reaction_vs_amplitude"]))
    return [{"amplitude_A": q, "barrier_eV": e, "reaction_eV": reaction[q]} for q, e in result["barrier_vs_amplitude"]]


@dataclass(frozen=True)
class Coupling:
    """The transfer barrier on the lattice frozen along ``mode`` at each amplitude (``rows``:
    :func:`toolkit.coupling.barrier_vs_amplitude`'s) and its slopes (:func:`coupling_slopes`)."""

    mode: CouplingMode
    rows: list[dict]

    @property
    def amplitudes_A(self) -> list[float]:
        return [r["amplitude_A"] for r in self.rows]

    @property
    def barriers_eV(self) -> list[float]:
        return [r["barrier_eV"] for r in self.rows]

    @property
    def slopes(self) -> dict:
        """:func:`coupling_slopes`: dE_a/dQ and dE_0/dQ, the intrinsic barrier E_0 = E_a − ΔE/2 (Marcus) being
        what is left of the coupling once the mode's tilt of the reaction energy ΔE is taken out. A mode that
        stretches the donor–acceptor distance can lower E_a through ΔE while it raises E_0."""
        return coupling_slopes(self.rows)

    def to_dict(self) -> dict:
        return {"coupling_mode": self.mode.to_dict(), **self.slopes,
                "reaction_vs_amplitude": [[r["amplitude_A"], r["reaction_eV"]] for r in self.rows],
                "barrier_vs_amplitude": [[r["amplitude_A"], r["barrier_eV"]] for r in self.rows],
                "d_OO_vs_amplitude": [[r["amplitude_A"], r["d_OO_A"]] for r in self.rows]}


def coupling(barriers: ProtonBarriers, phonon, doped: Atoms, potential, amplitudes_A, n_images: int,
             fmax_eV_A: float, max_steps: int, store: ResultsStore | None = None) -> Coupling:
    """The near-Y transfer on the lattice of its saddle point frozen along the :func:`coupling_mode` of
    ``phonon`` (Γ phonons of the protonated cell ``doped``, the proton its last atom) at ``amplitudes_A`` (Å).

    The mode is chosen by its stretch of the donor–acceptor O–O distance: a mode that leaves it alone (the
    softest one often does) can only couple at second order, symmetric in Q."""
    start, final, donor, acceptor = barriers.transfers["near Y"]
    h = len(doped) - 1
    mode = coupling_mode(phonon, doped, donor, acceptor, h)
    rows = barrier_vs_amplitude(barriers.paths[("transfer", "near Y")].saddle, start, final, mode.displacements_A,
                                list(amplitudes_A), potential, h, donor, acceptor, n_images=n_images,
                                fmax_eV_A=fmax_eV_A, max_steps=max_steps, store=store)
    return Coupling(mode, rows)


@dataclass(frozen=True)
class ProtonMD:
    """MD of the protonated cell: per temperature (K) its ``frames`` and proton ``jumps``
    (:func:`toolkit.protons.proton_jumps`); ``d_OO_A``, O–O distances from the proton's host O to its 8 nearest
    O over the runs, and ``d_OO_at_hops_A`` at each hop; ``diffusion`` D_H (cm²/s, error) by temperature and its
    Arrhenius ``fit`` where there are two temperatures or more (else both empty)."""

    runs: dict = field(repr=False)
    d_OO_A: list[float] = field(repr=False)
    d_OO_at_hops_A: list[float]
    diffusion: dict
    fit: ArrheniusFit | None

    def to_dict(self) -> dict:
        return {"md_proton_hops": {str(t): len(run["jumps"]) for t, run in self.runs.items()},
                "md_d_OO_at_hops_A": list(self.d_OO_at_hops_A),
                "D_H_cm2_s": {str(t): list(v) for t, v in self.diffusion.items()},
                "Ea_H_eV": [self.fit.Ea_eV, self.fit.Ea_err_eV] if self.fit else None}


def proton_md(doped: Atoms, potential, temperatures_K, n_steps: int, timestep_fs: float, sample_every: int,
              seed: int, store: ResultsStore | None = None) -> ProtonMD:
    """Langevin runs of ``doped`` (the proton its last atom) at each of ``temperatures_K``, seeds ``seed``,
    ``seed + 1``, ... (on the MD engine for MACE potentials, all in one batch)."""
    h = len(doped) - 1
    dt_sample = timestep_fs * sample_every
    temperatures = list(temperatures_K)
    frames_by_run = run_md_many([doped] * len(temperatures), potential, temperatures, n_steps,
                                timestep_fs=timestep_fs, seeds=[seed + k for k in range(len(temperatures))],
                                sample_every=sample_every, store=store)
    runs = {t: {"frames": frames, "jumps": proton_jumps(frames, [h], time_step_fs=dt_sample)}
            for t, frames in zip(temperatures, frames_by_run)}
    oxygens = [i for i, s in enumerate(doped.get_chemical_symbols()) if s == "O"]
    d_oo, d_oo_hops = [], []
    for run in runs.values():
        for frame in run["frames"][:: max(1, len(run["frames"]) // 100)]:
            host_o = host_oxygen(frame, h)
            d_oo.extend(np.sort(frame.get_distances(host_o, [o for o in oxygens if o != host_o], mic=True))[:8])
        d_oo_hops.extend(j["d_OO_A"] for j in run["jumps"])
    diffusion, fit = {}, None
    if len(runs) >= 2:
        diffusion = {t: diffusion_coefficient(run["frames"], [h], dt_sample) for t, run in runs.items()}
        fit = arrhenius_fit(list(diffusion), *zip(*diffusion.values()))
    return ProtonMD(runs, [float(d) for d in d_oo], [float(d) for d in d_oo_hops], diffusion, fit)
