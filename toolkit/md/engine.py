"""A low-overhead MD engine for MACE models: several replicas in one batched model call.

ASE's integrators call mace-torch's ASE calculator once per step and replica; each call
rebuilds the neighbour list, converts the structure to a graph, and computes the stress
too. On a small model that bookkeeping costs as much as the model itself. Here the state
(positions, momenta) stays in torch tensors, the neighbour list is built with a skin, on the
engine's own device (:mod:`toolkit.md.neighbours`; on a GPU, :func:`periodic_pairs` for small cells, in one fixed-size
pass that is itself a captured CUDA graph where the replicas are all of one shape), and
reused until an atom has moved half the skin (edges beyond the model's cutoff are dropped
before each call, so the result is exact), no stress is computed (the cell is fixed), and
any number of replicas — different temperatures, seeds or structures — go through the
model as one batch.

Integrators: :mod:`toolkit.md.integrators`; guards: :mod:`toolkit.md.guards`. A replica's noise does not
depend on which other replicas share its batch. Its trajectory does, through rounding alone (in
float32, positions 2e-7 Å apart after 300 steps of 54 bcc Li atoms, alone or with two others),
which MD's chaos grows over picoseconds: statistics agree, frames do not. Units: Å, fs, K, eV, amu.
"""

from __future__ import annotations

import copy
import math
import time
import warnings

import numpy as np
import torch
from ase import Atoms, units

from toolkit.md.guards import Guards
from toolkit.md.integrators import THERMOSTATS, Integrators
from toolkit.md.model_call import compiled_energy, mace_model
from toolkit.md.neighbours import (
    BRUTE_FORCE_PAIRS, BRUTE_FORCE_PASS, NeighbourLists, edge_lengths_A, image_reach, pair_images,
)
from toolkit.md.replicas import per_replica
from toolkit.validation import check_structure, overlap_radii_A


class MDEngine(NeighbourLists, Integrators, Guards):
    """Replicas of a system integrated together, one model call per step for all of them.

    Parameters
    ----------
    potential:
        a MACE potential from :func:`toolkit.potentials.load_potential` (MACE-MP-0, a
        ``.model`` file, a ``student:<study>``).
    replicas:
        ``Atoms`` to integrate (any sizes; each needs a 3D periodic cell). Momenta already
        set are kept; otherwise they are drawn from Maxwell–Boltzmann at the replica's
        temperature.
    temperatures_K:
        one temperature per replica, or one for all (the thermostat target; for ``"nve"``
        only the initial velocities).
    seeds:
        one seed per replica, or one base seed ``s`` giving ``s, s+1, ...``.
    dtype:
        ``"float32"`` (default, fast) or ``"float64"`` for the model; the integrator state
        is always float64.
    skin_A:
        neighbour-list skin (Å); a replica's list is rebuilt when one of its atoms has moved
        half of it.
    static_graph:
        give the model inputs of a fixed size (edges padded, see :class:`StaticModelCall`) and,
        on a GPU, capture the call once as a CUDA graph and replay it each step, with the
        integrator's halves before and after it captured too. Default: on a GPU only, where a
        small cell's call is thousands of kernel launches; on a CPU the padding
        and the skin's edges (2.8 times the edges within the cutoff for 64 atoms of bcc Li) make
        each call about twice as slow.
    compile_model:
        run the model call through ``torch.compile`` (:func:`compiled_energy`): on a CPU it fuses the
        thousands of small ops of a small cell's call (on 2 cores 1.3–1.9 times faster for 64 and 128 atoms),
        after a first call that compiles (about 75 s on 2 cores, 8 s from inductor's cache). Worth it for
        runs of thousands of steps of small cells: for 8 cells of 54 atoms in one batch the compiled call was
        no faster. Where compiling fails (no C++ compiler, say), a warning says so and the call runs eagerly.
        Not with ``static_graph`` (so on a GPU it turns the default off).
    """

    def __init__(self, potential, replicas: list[Atoms], temperatures_K, thermostat: str = "langevin",
                 timestep_fs: float = 1.0, friction_per_fs: float = 0.01, tau_fs: float = 100.0, seeds=0,
                 skin_A: float = 1.0, dtype: str = "float32", device: str | None = None,
                 static_graph: bool | None = None, compile_model: bool = False):
        if thermostat not in THERMOSTATS:
            raise ValueError(f"unknown thermostat {thermostat!r}; choose from {', '.join(THERMOSTATS)}")
        if not replicas:
            raise ValueError("no replicas to integrate")
        if compile_model and static_graph:
            raise ValueError("compile_model and static_graph exclude each other: choose one")
        model, self.r_max_A, self.z_table = mace_model(potential)
        for atoms in replicas:
            check_structure(atoms)  # a 3D periodic cell too, which the neighbour search assumes
            potential.check_elements(atoms)
        self.potential = potential
        self.n_replicas = len(replicas)
        self.temperatures_K, self.seeds = per_replica(self.n_replicas, temperatures_K, seeds)
        self.thermostat = thermostat
        self.dt = timestep_fs * units.fs
        self.timestep_fs = timestep_fs
        self.friction = friction_per_fs / units.fs
        self.tau = tau_fs * units.fs
        self.skin_A = skin_A
        self.device = torch.device(device or next(model.parameters()).device)
        self.model_dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
        # a private copy: converting the user's model to float32 in place would change their results
        self.model = copy.deepcopy(model).to(device=self.device, dtype=self.model_dtype).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self._compiled = (compiled_energy(self.model, (potential.info.sha256, self.model_dtype, self.device))
                          if compile_model else None)
        self.rngs = [np.random.default_rng(s) for s in self.seeds]

        self.templates = [atoms.copy() for atoms in replicas]
        self.sizes = [len(a) for a in replicas]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        f64 = dict(dtype=torch.float64, device=self.device)
        self.positions = torch.tensor(np.concatenate([a.positions for a in replicas]), **f64)
        self.masses = torch.tensor(np.concatenate([a.get_masses() for a in replicas]), **f64)[:, None]
        # a pair closer than the sum of its atoms' overlap radii has collapsed (see collapsed_replicas)
        self.overlap_radii_A = torch.tensor(overlap_radii_A(np.concatenate([a.numbers for a in replicas])), **f64)
        self.cells_A = torch.tensor(np.array([np.array(a.cell) for a in replicas]), **f64)
        self.inverse_cells = torch.tensor(np.linalg.inv(self.cells_A.cpu().numpy()), **f64)
        self.reach = [image_reach(a.cell, self.r_max_A + skin_A) for a in replicas]
        self._search_together = self.device.type == "cuda"  # see _pairs
        # replicas all of one shape, each small enough for a search over all pairs (as in _pairs) and all
        # together few enough for one pass of periodic_pairs: see _search_padded
        per_cell = pair_images(self.sizes[0], self.reach[0])
        self._one_pass = (len(set(zip(self.sizes, self.reach))) == 1 and per_cell <= BRUTE_FORCE_PAIRS
                          and self.n_replicas * per_cell <= BRUTE_FORCE_PASS)
        self.pair_count = torch.zeros((), dtype=torch.long, device=self.device)
        self.replica_of_atom = torch.repeat_interleave(torch.arange(self.n_replicas, device=self.device),
                                                       torch.tensor(self.sizes, device=self.device))
        self.kT = torch.tensor(units.kB * self.temperatures_K, **f64)
        # constants of the per-step arithmetic, computed once: on a GPU each small op is a kernel launch
        self.mass_share = self.masses / self._per_replica_sum(self.masses)[self.replica_of_atom]
        self.langevin_c1 = math.exp(-self.friction * self.dt)
        self.langevin_sigma = torch.sqrt((1 - self.langevin_c1**2) * self.masses
                                         * self.kT[self.replica_of_atom][:, None])
        self.dof = torch.tensor([3 * n - 3 for n in self.sizes], **f64)
        momenta = []
        for k, atoms in enumerate(replicas):
            p = atoms.get_momenta()
            if not np.any(p):
                m = atoms.get_masses()[:, None]
                p = self.rngs[k].standard_normal((len(atoms), 3)) * np.sqrt(m * units.kB * self.temperatures_K[k])
            momenta.append(p)
        self.momenta = self._zero_com(torch.tensor(np.concatenate(momenta), **f64))
        # the state is only ever updated in place: a captured half-step reads and writes these addresses
        self.forces = torch.zeros_like(self.positions)
        self.energies_eV = torch.zeros(self.n_replicas, **f64)
        self.noise = torch.zeros_like(self.positions)  # this step's Langevin noise
        # whether the last forces were all finite, then which replicas' neighbour lists are stale: read in one
        # transfer per step, since each read waits for the GPU
        self.flags = torch.ones(1 + self.n_replicas, dtype=torch.bool, device=self.device)
        self._furthest_A = torch.zeros(self.n_replicas, **f64)
        self._graphs: dict = {}  # name: None (to capture next), a CUDA graph, or False (capture failed)
        self.steps_done = 0
        #: neighbour lists built, counting each replica's own rebuilds
        self.neighbour_builds = 0
        #: wall time (s) inside the model call (forward and force backward), in neighbour-list builds (with a
        #: static graph: and in its captures), and in whole steps
        self.model_seconds = self.neighbour_seconds = self.step_seconds = 0.0
        self.static_graph = (self.device.type == "cuda" and not compile_model) if static_graph is None else static_graph
        self._static_call = None
        self._build_graph()
        self._take_forces(*self._call_model())
        self._check_finite(bool(self.flags[0]))
        self.model_seconds = self.neighbour_seconds = 0.0  # count only what stepping costs


    # --- the model call -------------------------------------------------------------------------------------------

    def _call_model(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Energies (eV, per replica) and forces (eV/Å) at the current positions, in the model's dtype."""
        started = time.perf_counter()
        if self._static_call is not None:
            energies, forces = self._static_call(self.positions)
        else:
            positions = self.positions.to(self.model_dtype, copy=True)
            # the skin's extra edges carry zero weight in MACE: drop them
            keep = edge_lengths_A(positions, self.all_edges, self.all_shifts) < self.r_max_A
            data = dict(self.graph, positions=positions, edge_index=self.all_edges[:, keep],
                        shifts=self.all_shifts[keep], unit_shifts=self.all_unit_shifts[keep])
            if self._compiled is not None:
                positions.requires_grad_(True)
                try:
                    energy = self._compiled(data)
                    forces = -torch.autograd.grad(energy.sum(), positions)[0]
                    energies = energy.detach()
                except Exception as problem:
                    # inductor needs a C++ compiler and may fail to lower an op: the eager call below then gives
                    # the same forces, or raises what the model itself rejects
                    warnings.warn(f"the compiled model call failed, running it eagerly from here: {problem}",
                                  stacklevel=3)
                    self._compiled = None
            if self._compiled is None:
                out = self.model(data, training=False, compute_force=True, compute_stress=False)
                energies, forces = out["energy"].detach(), out["forces"].detach()
        if self.device.type == "cuda":  # kernels run asynchronously: count them here, not in the next sync
            torch.cuda.synchronize(self.device)
        self.model_seconds += time.perf_counter() - started
        return energies, forces

    def _take_forces(self, energies: torch.Tensor, forces: torch.Tensor) -> None:
        """Copy a model call's results into the float64 state and flag whether they are all finite."""
        self.energies_eV.copy_(energies)
        self.forces.copy_(forces)
        torch.logical_and(torch.isfinite(self.forces).all(), torch.isfinite(self.energies_eV).all(),
                          out=self.flags[0])

    def _run_half(self, name: str, half, *args) -> None:
        """Run a half step (or a neighbour search); where the model call is a captured CUDA graph, as a CUDA
        graph of its own too, since a small cell's integrator is otherwise dozens of kernel launches per step.
        Its first use runs eagerly (the warm-up a capture needs), its second captures it, later ones replay;
        one whose capture failed runs eagerly from then on."""
        if self._static_call is None or self._static_call.cuda_graph is None:
            return half(*args)
        if name not in self._graphs:
            self._graphs[name] = None
            return half(*args)
        if self._graphs[name] is None:
            self._graphs[name] = self._capture(name, half, *args)
        if self._graphs[name] is False:
            return half(*args)
        self._graphs[name].replay()

    def _capture(self, name: str, half, *args):
        """``half`` captured as a CUDA graph (not run), or False, with a warning, where capture fails."""
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                half(*args)
        except RuntimeError as problem:
            warnings.warn(f"CUDA graph capture of the engine's {name!r} step failed, running it eagerly: {problem}",
                          stacklevel=4)
            torch.cuda.synchronize()
            return False
        return graph

    def step(self, n_steps: int = 1) -> None:
        """Advance every replica ``n_steps`` time steps."""
        started = time.perf_counter()
        noise_block = 100  # steps of noise drawn and sent at once
        for s in range(n_steps):
            if self.thermostat == "langevin":
                if s % noise_block == 0:
                    noise = self._noise(min(noise_block, n_steps - s))
                self.noise.copy_(noise[s % noise_block])
            self._run_half("first", self._first_half)
            finite, *stale = self.flags.tolist()
            self._check_finite(finite)  # the last step's forces (a NaN there has spoilt only this half step)
            stale = [k for k, flag in enumerate(stale) if flag]
            if stale:
                self._build_neighbours(stale)
            self._run_half("second", self._second_half, *self._call_model())
            self.steps_done += 1
            if self.thermostat == "csvr":
                self._csvr_rescale()
        self._check_finite(bool(self.flags[0]))
        self.step_seconds += time.perf_counter() - started

    def overhead_fraction(self) -> float:
        """Share of the stepping time spent outside the model call (integrator, neighbour lists, checks)."""
        return 1.0 - self.model_seconds / self.step_seconds if self.step_seconds else float("nan")

    # --- ASE in and out -------------------------------------------------------------------------------------------

    def snapshot(self, k: int) -> Atoms:
        """Replica ``k`` now, as ``Atoms`` with momenta (positions unwrapped: continuous in time)."""
        atoms = self.templates[k].copy()
        atoms.set_constraint()
        span = slice(int(self.offsets[k]), int(self.offsets[k + 1]))
        atoms.positions = self.positions[span].cpu().numpy()
        atoms.set_momenta(self.momenta[span].cpu().numpy(), apply_constraint=False)
        atoms.info["step"] = self.steps_done
        atoms.info["energy_eV"] = float(self.energies_eV[k])
        return atoms
