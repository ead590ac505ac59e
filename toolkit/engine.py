"""A low-overhead MD engine for MACE models: several replicas in one batched model call.

ASE's integrators call mace-torch's ASE calculator once per step and replica; each call
rebuilds the neighbour list, converts the structure to a graph, and computes the stress
too. On a small model that bookkeeping costs as much as the model itself. Here the state
(positions, momenta) stays in torch tensors, the neighbour list is built with a skin, on the
engine's own device (vesin; on a GPU, :func:`periodic_pairs` for small cells, in one fixed-size
pass that is itself a captured CUDA graph where the replicas are all of one shape), and
reused until an atom has moved half the skin (edges beyond the model's cutoff are dropped
before each call, so the result is exact), no stress is computed (the cell is fixed), and
any number of replicas — different temperatures, seeds or structures — go through the
model as one batch.

Integrators (all with the centre-of-mass momentum of each replica held at zero):

``"nve"``
    velocity Verlet.
``"langevin"``
    BAOAB Langevin (Leimkuhler & Matthews, Appl. Math. Res. Express 2013, 34), friction
    ``friction_per_fs``.
``"csvr"``
    velocity Verlet with the stochastic velocity-rescaling thermostat of Bussi, Donadio &
    Parrinello (J. Chem. Phys. 126, 014101 (2007)), time constant ``tau_fs``.

Each replica draws its noise from its own seeded generator, so a replica's noise does not
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

from toolkit.progress import progress_bar
from toolkit.replicas import per_replica, replay_explosion
from toolkit.validation import (
    MDExplosionError, NonFiniteForcesError, check_md_frame, check_structure, check_temperature, overlap_radii_A,
    temperature_limit_K,
)

THERMOSTATS = ("nve", "langevin", "csvr")
#: pairs times images per cell (n² · M) up to which a GPU searches a cell's pairs all at once, and how many
#: such vectors one pass over several cells holds (8e6: 200 MB in float64)
BRUTE_FORCE_PAIRS, BRUTE_FORCE_PASS = 2_000_000, 8_000_000
#: torch.compile options for :func:`compiled_energy`. Inductor's vectorised C++ kernels on two threads crashed the
#: process (double free) and, in the call before, gave forces 0.011 eV/Å off on this project's machine (AMD EPYC
#: with AVX2, torch 2.13). Scalar kernels (SIMD length 1) on two threads, or vectorised ones on one
#: (``cpp.threads``: 1), agree with the eager call to 4e-7 eV/Å and were as fast as each other (15-17 ms a step
#: for 64 atoms); both still fuse the thousands of small ops a small cell's call is made of.
INDUCTOR_OPTIONS = {"cpp.simdlen": 1}
#: compiled model calls by (model file SHA-256, dtype, device): dynamo guards each compiled function on the
#: types of the modules it ran, which a rebuilt model makes anew, so each engine compiling its own call would
#: recompile (and after torch's recompile limit, 8, silently run eagerly)
_COMPILED_CALLS: dict[tuple, object] = {}


def image_reach(cell_A, cutoff_A: float) -> tuple[int, int, int]:
    """How many periodic images along each cell vector can hold a neighbour within ``cutoff_A`` (Å): the
    cutoff over the spacing of each pair of lattice planes, rounded up."""
    reciprocal_lengths = np.linalg.norm(np.linalg.inv(np.asarray(cell_A, dtype=float)), axis=0)  # 1 / spacings
    return tuple(int(r) for r in np.ceil(cutoff_A * reciprocal_lengths))


def pair_images(n_atoms: int, reach: tuple[int, int, int]) -> int:
    """How many pair-image vectors (n² · M, M images) one cell of ``n_atoms`` takes in :func:`periodic_pairs`."""
    return n_atoms**2 * int(np.prod(2 * np.asarray(reach) + 1))


def periodic_pairs(positions_A: torch.Tensor, cells_A: torch.Tensor, cutoff_A: float,
                   reach: tuple[int, int, int], inverse_cells: torch.Tensor | None = None,
                   capacity: int | None = None) -> tuple[torch.Tensor, ...]:
    """Pairs closer than ``cutoff_A`` (Å) in B periodic cells of n atoms each, in one pass over every pair and
    periodic image: ``(system, i, j, S, count)``, the vector from i to j being r_j − r_i + S · cell, as vesin
    and MACE count pairs, and how many pairs there are (a 0-d tensor on the device).

    ``positions_A``: (B, n, 3), Å, unwrapped or not; ``cells_A``: (B, 3, 3), Å; ``reach``: the images to
    search along each cell vector (:func:`image_reach`, the largest over the B cells); ``inverse_cells``: the
    cells' inverses (1/Å) where the caller keeps them (a GPU's ``linalg.inv`` waits for its own error check).
    It holds B · n² · M vectors (M images) at once: for small cells on a GPU, where one pass for many cells
    beats a cell-list search (and a read of the GPU) for each. With a ``capacity``, every output has exactly
    that many rows, the first ``count`` of them the pairs (more pairs than rows are cut off): outputs of a
    fixed size, found without waiting for the GPU, which a CUDA graph can capture.
    """
    fractional = positions_A @ (torch.linalg.inv(cells_A) if inverse_cells is None else inverse_cells)
    home = torch.floor(fractional)  # which image of the cell each atom is in
    wrapped = (fractional - home) @ cells_A
    images = torch.cartesian_prod(*[torch.arange(-r, r + 1, dtype=positions_A.dtype, device=positions_A.device)
                                    for r in reach])
    vectors = (wrapped[:, None, :, None, :] - wrapped[:, :, None, None, :]
               + (images @ cells_A)[:, None, None, :, :])  # (B, i, j, image, 3)
    close = torch.linalg.vector_norm(vectors, dim=-1) < cutoff_A
    # each atom itself (the middle image is S = 0); a fill, since assigning a Python scalar copies it from the host
    close[:, :, :, images.shape[0] // 2].diagonal(dim1=1, dim2=2).fill_(False)
    found = close.nonzero() if capacity is None else torch.nonzero_static(close, size=capacity, fill_value=0)
    system, i, j, image = found.unbind(1)
    return system, i, j, images[image] - home[system, j] + home[system, i], close.sum()


def edge_lengths_A(positions_A: torch.Tensor, edge_index: torch.Tensor, shifts_A: torch.Tensor) -> torch.Tensor:
    """Length (Å) of each edge ``(sender, receiver)`` with shift ``S · cell`` (Å):
    |r_receiver − r_sender + S · cell|."""
    sender, receiver = edge_index
    return torch.linalg.vector_norm(positions_A[receiver] - positions_A[sender] + shifts_A, dim=1)


def mace_model(potential):
    """The torch module and cutoff (Å) of a MACE-family toolkit potential."""
    inner = getattr(potential, "inner", None)
    if getattr(potential, "info", None) is None or potential.info.family != "mace" or not hasattr(inner, "models"):
        name = getattr(getattr(potential, "info", None), "name", type(potential).__name__)
        raise TypeError(f"the MD engine runs MACE models only, not {name!r}; use toolkit.md.run_md for other potentials")
    return inner.models[0], float(inner.r_max), inner.z_table


def compiled_energy(model: torch.nn.Module, key: tuple):
    """``energy(inputs)``: a MACE model's energies (eV, one per graph of the batch ``inputs``, mace-torch's
    input dict) through ``torch.compile`` (inductor, :data:`INDUCTOR_OPTIONS`), with dynamic shapes, since
    the number of edges changes from step to step. Forces are minus the gradient of the energies' sum with
    respect to ``inputs["positions"]`` (eV/Å), whose backward AOTAutograd compiles too.

    Dynamo cannot trace e3nn's TorchScript-generated modules, so the model is first rebuilt from its own
    configuration and weights without them (mace-torch's :func:`mace.tools.compile.prepare`), in the dtype
    and on the device of ``model``. The first call compiles: on this project's 2 cores about 75 s, or about
    8 s where inductor's on-disk cache already holds the kernels. Later calls with the same ``key`` (see
    :data:`_COMPILED_CALLS`) return the same compiled function, which compiles once per process.
    """
    if key in _COMPILED_CALLS:
        return _COMPILED_CALLS[key]
    from mace.tools.compile import prepare
    from mace.tools.scripts_utils import extract_model

    like = next(model.parameters())
    rebuilt = prepare(extract_model, allow_autograd=False)(model=model, map_location=like.device)
    rebuilt = rebuilt.to(dtype=like.dtype).eval()
    for parameter in rebuilt.parameters():
        parameter.requires_grad_(False)

    def energy(inputs: dict) -> torch.Tensor:
        return rebuilt(inputs, training=False, compute_force=False, compute_stress=False)["energy"]

    _COMPILED_CALLS[key] = torch.compile(energy, dynamic=True, options=INDUCTOR_OPTIONS)
    return _COMPILED_CALLS[key]


class StaticModelCall:
    """A MACE model call on inputs of a fixed size, captured once as a CUDA graph on a GPU and replayed.

    A small cell's call is thousands of small kernels, so on a GPU it is bound by their launches;
    a captured graph launches them all at once. A capture needs every input at a fixed address
    and size, so the edges are padded to a fixed capacity with edges from an atom to its own
    image ``far_A`` away: far past the cutoff, where MACE's radial envelope (and ZBL's) is
    exactly zero, so they add exactly nothing to energies or forces (each atom gets a share of
    them). The skin's edges beyond the cutoff stay in for the same reason. One capture serves
    until a neighbour list outgrows the capacity (:meth:`load_edges` says so; the caller then
    makes a new one).

    On a CPU, or where capture fails (the failure is warned about), the same padded call runs
    eagerly.
    """

    def __init__(self, model, graph: dict, edge_index: torch.Tensor, shifts: torch.Tensor, far_A: float,
                 spare: float = 0.25):
        self.model = model
        self.capacity = int(edge_index.shape[1] * (1 + spare)) + 64
        like = dict(dtype=graph["node_attrs"].dtype, device=graph["node_attrs"].device)
        self.inputs = dict(graph, positions=torch.zeros((graph["node_attrs"].shape[0], 3), **like),
                           edge_index=torch.zeros((2, self.capacity), dtype=torch.long, device=like["device"]),
                           shifts=torch.zeros((self.capacity, 3), **like),
                           unit_shifts=torch.zeros((self.capacity, 3), **like))  # read for stress only, never here
        # padding edges spread over all atoms: piled on one, their (zero) sums serialise on its atomic adds
        self.rows = torch.arange(self.capacity, device=like["device"])
        self.pad_nodes = self.rows % graph["node_attrs"].shape[0]
        self.pad_shifts = torch.zeros((self.capacity, 3), **like)
        self.pad_shifts[:, 0] = far_A
        self.load_edges(edge_index, shifts)
        self.cuda_graph = None
        if like["device"].type == "cuda":
            self._capture()

    def load_edges(self, edge_index: torch.Tensor, shifts: torch.Tensor) -> bool:
        """Copy a neighbour list into the padded inputs; False (nothing copied) when it exceeds the capacity."""
        missing = self.capacity - edge_index.shape[1]
        if missing < 0:
            return False
        self.load_padded(torch.nn.functional.pad(edge_index, (0, missing)),
                         torch.nn.functional.pad(shifts, (0, 0, 0, missing)), edge_index.shape[1])
        return True

    def load_padded(self, edge_index: torch.Tensor, shifts: torch.Tensor, count: torch.Tensor | int) -> None:
        """Copy ``capacity`` rows of edges, the first ``count`` (an int, or a 0-d tensor on the device) real,
        the rest replaced by padding: in place and of fixed size, so a CUDA graph can capture it."""
        real = self.rows < count
        with torch.no_grad():
            self.inputs["edge_index"].copy_(torch.where(real, edge_index, self.pad_nodes))
            self.inputs["shifts"].copy_(torch.where(real[:, None], shifts, self.pad_shifts))

    def _run(self) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(self.inputs, training=False, compute_force=True, compute_stress=False)
        return out["energy"].detach(), out["forces"].detach()

    def _capture(self) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        try:
            with torch.cuda.stream(side):  # warm-up outside the capture, as CUDA graphs require
                for _ in range(3):
                    self._run()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self.outputs = self._run()
        except RuntimeError as problem:
            warnings.warn(f"CUDA graph capture of the model call failed, running it eagerly: {problem}",
                          stacklevel=3)
            torch.cuda.synchronize()
            return
        self.cuda_graph = graph

    def __call__(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Energies (eV, one per graph) and forces (eV/Å) at ``positions`` (Å), in the model's dtype. A
        captured call returns the same two tensors each time, overwritten by the next call."""
        with torch.no_grad():
            self.inputs["positions"].copy_(positions)
        if self.cuda_graph is None:
            return self._run()
        self.cuda_graph.replay()
        return self.outputs


class MDEngine:
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

    def _build_graph(self) -> None:
        """What stays fixed while the cell does (species, batch layout, cells), through mace-torch's own data
        pipeline, and every replica's neighbour list."""
        from mace import data as mace_data
        from mace.tools import torch_geometric

        graphs = [mace_data.AtomicData.from_config(mace_data.config_from_atoms(t), z_table=self.z_table,
                                                   cutoff=self.r_max_A) for t in self.templates]
        batch = torch_geometric.batch.Batch.from_data_list(graphs).to(self.device)
        self.graph = {key: batch[key] for key in ("node_attrs", "batch", "ptr", "head", "cell") if key in batch.keys}
        self.graph["node_attrs"] = self.graph["node_attrs"].to(self.model_dtype)
        self.graph["cell"] = self.graph["cell"].to(self.model_dtype)
        self.replica_edges = [None] * self.n_replicas
        self.positions_at_build = self.positions.clone()
        self._build_neighbours(range(self.n_replicas))

    def _pairs(self, replicas, cutoff_A: float):
        """Yield ``(k, i, j, S)``: the pairs closer than ``cutoff_A`` (Å) of each replica ``k`` of ``replicas``,
        found on the engine's device (no copy to the host and back). On a GPU small cells of one size are
        searched together (:func:`periodic_pairs`: one pass and two reads of the GPU, not a search and a read
        per replica); others one by one, by vesin."""
        same_shape: dict[tuple, list[int]] = {}
        for k in replicas:
            same_shape.setdefault((self.sizes[k], self.reach[k]), []).append(k)
        for (n, reach), same in same_shape.items():
            per_cell = pair_images(n, reach)
            if self._search_together and per_cell <= BRUTE_FORCE_PAIRS:
                per_pass = max(1, BRUTE_FORCE_PASS // per_cell)
                for first in range(0, len(same), per_pass):
                    group = same[first:first + per_pass]
                    rows = (torch.tensor(self.offsets[group], device=self.device)[:, None]
                            + torch.arange(n, device=self.device))
                    system, i, j, shifts, _ = periodic_pairs(self.positions[rows], self.cells_A[group], cutoff_A,
                                                             reach, self.inverse_cells[group])
                    counts = torch.bincount(system, minlength=len(group)).tolist()
                    yield from zip(group, i.split(counts), j.split(counts), shifts.split(counts))
            else:
                from vesin_torch import NeighborList

                search = NeighborList(cutoff=cutoff_A, full_list=True)
                for k in same:
                    span = slice(int(self.offsets[k]), int(self.offsets[k + 1]))
                    yield (k, *search.compute(self.positions[span], self.cells_A[k], True, "ijS"))

    def _build_neighbours(self, replicas) -> None:
        """Rebuild the lists (cutoff r_max + skin) of ``replicas``; the others keep theirs, so a batch of many
        replicas rebuilds no more often than each one alone. Where a GPU searches in one fixed-size pass
        (:meth:`_search_padded`), every replica's list is rebuilt at once, straight into the static call."""
        started = time.perf_counter()
        if self._static_call is not None and self._one_pass and self._search_together:
            self._run_half("search", self._search_padded)
            if int(self.pair_count) <= self._static_call.capacity:  # the one read of the GPU a rebuild needs
                self.neighbour_builds += self.n_replicas
                self.neighbour_seconds += time.perf_counter() - started
                return
            replicas = range(self.n_replicas)  # outgrown: search the usual way, for a call with more room
        cells = self.graph["cell"].view(-1, 3, 3)
        for k, sender, receiver, unit_shifts in self._pairs(replicas, self.r_max_A + self.skin_A):
            span = slice(int(self.offsets[k]), int(self.offsets[k + 1]))
            # pairs (i, j, S) are MACE's edges (sender, receiver, unit shift): D = r_j − r_i + S · cell
            edge_index = torch.stack((sender, receiver)).to(torch.long) + int(self.offsets[k])
            unit_shifts = unit_shifts.to(self.model_dtype)
            # the shift of each edge (S · cell) is fixed while the cell is
            self.replica_edges[k] = (edge_index, unit_shifts, unit_shifts @ cells[k])
            self.positions_at_build[span] = self.positions[span]
            self.neighbour_builds += 1
        edges, unit_shifts, shifts = zip(*self.replica_edges)
        self.all_edges = torch.cat(edges, dim=1)
        self.all_unit_shifts, self.all_shifts = torch.cat(unit_shifts), torch.cat(shifts)
        if self.static_graph:
            if self._static_call is None or not self._static_call.load_edges(self.all_edges, self.all_shifts):
                self._static_call = StaticModelCall(self.model, self.graph, self.all_edges, self.all_shifts,
                                                    far_A=10 * (self.r_max_A + self.skin_A))
                self._graphs = {}  # they read and write the old call's tensors
        self.neighbour_seconds += time.perf_counter() - started

    def _search_padded(self) -> None:
        """Every replica's pairs in one pass of :func:`periodic_pairs`, written in place into the static call's
        padded edges, sized to its capacity: fixed shapes and no read of the GPU, so on a GPU the rebuild is a
        captured CUDA graph too, not dozens of kernels launched from Python. ``self.pair_count`` says how many
        pairs there were (more than the capacity: the edges were cut off, and the caller searches again). The
        per-replica lists (``replica_edges``, ``all_edges``) are not updated: the static call holds the edges."""
        n = self.sizes[0]
        system, i, j, unit_shifts, count = periodic_pairs(
            self.positions.view(self.n_replicas, n, 3), self.cells_A, self.r_max_A + self.skin_A, self.reach[0],
            self.inverse_cells, capacity=self._static_call.capacity)
        first = system * n  # each replica's first atom
        cells = self.graph["cell"].view(-1, 3, 3)
        shifts = torch.einsum("ek,ekl->el", unit_shifts.to(self.model_dtype), cells[system])
        self._static_call.load_padded(torch.stack((i + first, j + first)), shifts, count)
        self.positions_at_build.copy_(self.positions)
        self.pair_count.copy_(count)

    def _flag_stale(self) -> None:
        """Flag the replicas with an atom that has moved more than half the skin since its list was built."""
        moved = torch.linalg.vector_norm(self.positions - self.positions_at_build, dim=1)
        self._furthest_A.scatter_reduce_(0, self.replica_of_atom, moved, reduce="amax", include_self=False)
        torch.gt(self._furthest_A, 0.5 * self.skin_A, out=self.flags[1:])

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

    def _check_finite(self, finite: bool) -> None:
        """Raise :class:`~toolkit.validation.NonFiniteForcesError` naming the atoms, unless ``finite`` (the flag
        of the forces now held, computed ``self.steps_done`` steps in)."""
        if not finite:
            bad = torch.where(~torch.isfinite(self.forces).all(dim=1))[0].tolist()
            raise NonFiniteForcesError(f"the potential returned NaN/inf forces on {len(bad)} atom(s) after "
                                       f"{self.steps_done} steps: " + ", ".join(self._label(i) for i in bad[:10]))

    def _label(self, flat_index: int) -> str:
        k = int(np.searchsorted(self.offsets, flat_index, side="right") - 1)
        i = flat_index - int(self.offsets[k])
        return f"replica {k}: {self.templates[k][i].symbol}{i}"

    # --- integrators ----------------------------------------------------------------------------------------------

    def _per_replica_sum(self, values: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((self.n_replicas,) + values.shape[1:], dtype=values.dtype, device=self.device)
        return out.index_add_(0, self.replica_of_atom, values)

    def _zero_com(self, momenta: torch.Tensor) -> torch.Tensor:
        """Remove each replica's total momentum, shared out in proportion to mass (in place)."""
        return momenta.addcmul_(self.mass_share, self._per_replica_sum(momenta)[self.replica_of_atom], value=-1.0)

    def kinetic_energies_eV(self) -> torch.Tensor:
        return 0.5 * self._per_replica_sum((self.momenta**2 / self.masses).sum(dim=1, keepdim=True))[:, 0]

    def current_temperatures_K(self) -> np.ndarray:
        """Kinetic temperature of each replica (K), counting 3N − 3 degrees of freedom."""
        return (2 * self.kinetic_energies_eV() / (self.dof * units.kB)).cpu().numpy()

    def _noise(self, n_steps: int) -> torch.Tensor:
        """The Langevin noise of the next ``n_steps`` steps, shape (steps, atoms, 3), sent to the device at once:
        each replica's generator gives the same numbers as ``n_steps`` draws one step at a time."""
        return torch.tensor(np.concatenate([rng.standard_normal((n_steps, n, 3))
                                            for rng, n in zip(self.rngs, self.sizes)], axis=1),
                            dtype=torch.float64, device=self.device)

    # fused in-place ops: on a GPU each op is a kernel, which even inside a CUDA graph costs microseconds
    def _half_kick(self) -> None:
        self.momenta.add_(self.forces, alpha=0.5 * self.dt)

    def _drift(self, fraction: float) -> None:
        self.positions.addcdiv_(self.momenta, self.masses, value=fraction * self.dt)

    def _langevin_o(self) -> None:
        self._zero_com(self.momenta.mul_(self.langevin_c1).addcmul_(self.langevin_sigma, self.noise))

    def _csvr_rescale(self) -> None:
        """Bussi–Donadio–Parrinello rescaling: the kinetic energy follows its canonical distribution."""
        kinetic = self.kinetic_energies_eV().cpu().numpy()
        target = 0.5 * self.dof.cpu().numpy() * units.kB * self.temperatures_K
        c = math.exp(-self.dt / self.tau)
        alpha = np.ones(self.n_replicas)
        for k, rng in enumerate(self.rngs):
            nf = float(self.dof[k])
            r1 = rng.standard_normal()
            rest = 2.0 * rng.standard_gamma(0.5 * (nf - 1)) if nf > 1 else 0.0  # sum of nf−1 squared normals
            new = (kinetic[k] * c + target[k] / nf * (1 - c) * (r1**2 + rest)
                   + 2 * r1 * math.sqrt(c * (1 - c) * kinetic[k] * target[k] / nf))
            alpha[k] = math.copysign(math.sqrt(max(new, 0.0) / kinetic[k]),
                                     r1 + math.sqrt(c * nf * kinetic[k] / ((1 - c) * target[k])))
        scale = torch.tensor(alpha, dtype=torch.float64, device=self.device)[self.replica_of_atom][:, None]
        self.momenta *= scale

    def _first_half(self) -> None:
        """Everything before the step's model call: a half kick, the drift (BAOAB's drift, noise, drift for
        Langevin), and which replicas' neighbour lists are stale now."""
        self._half_kick()
        if self.thermostat == "langevin":
            self._drift(0.5)
            self._langevin_o()
            self._drift(0.5)
        else:
            self._drift(1.0)
        self._flag_stale()

    def _second_half(self, energies: torch.Tensor, forces: torch.Tensor) -> None:
        self._take_forces(energies, forces)
        self._half_kick()

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

    def collapsed_replicas(self) -> list[int]:
        """The replicas with a pair of atoms closer than :data:`~toolkit.validation.OVERLAP_FRACTION` times the
        sum of their covalent radii, found in the neighbour lists on the engine's device with one read of it.

        Every pair that close (under 2.6 Å for any two elements) is well within a MACE model's cutoff (4–6 Å),
        so in the lists (with a static call: its padded edges, whose padding is far apart). The shifts are in
        the model's dtype, so the test keeps a margin of 1e-4: it may flag a replica for
        :func:`~toolkit.validation.find_overlaps` to clear, never miss one."""
        if self._static_call is not None:
            edge_index, shifts = self._static_call.inputs["edge_index"], self._static_call.inputs["shifts"]
        else:
            edge_index, shifts = self.all_edges, self.all_shifts
        sender, receiver = edge_index
        limit_A = (1 + 1e-4) * (self.overlap_radii_A[sender] + self.overlap_radii_A[receiver])
        close = edge_lengths_A(self.positions, edge_index, shifts.to(self.positions.dtype)) < limit_A
        close_pairs = torch.zeros(self.n_replicas, dtype=torch.long, device=self.device)
        close_pairs.index_add_(0, self.replica_of_atom[sender], close.long())
        return [k for k, count in enumerate(close_pairs.tolist()) if count]

    def check_replicas(self, explode_factor: float = 3.0, snapshots: list[Atoms] | None = None) -> None:
        """Raise :class:`~toolkit.validation.MDExplosionError` naming the replica whose temperature ran away
        or whose atoms fell onto each other (:func:`~toolkit.validation.check_md_frame`).

        ``snapshots``: every replica's :meth:`snapshot` of this step, where the caller has them already. Only the
        replicas :meth:`collapsed_replicas` flags have their frames searched for the atoms to name: ASE's
        neighbour search for each frame (10 ms for 216 atoms) would cost more than a batch's steps on a GPU."""

        snapshots = snapshots or [self.snapshot(k) for k in range(self.n_replicas)]
        collapsed = self.collapsed_replicas()
        for k, atoms in enumerate(snapshots):
            target = self.temperatures_K[k]
            check = check_md_frame if k in collapsed else check_temperature
            try:
                check(atoms, target, temperature_limit_K(target, explode_factor))
            except MDExplosionError as problem:
                error = MDExplosionError(f"replica {k} (seed {self.seeds[k]}): {problem}")
                error.replica = k
                raise error from None


def run_replicas(replicas: list[Atoms], potential, temperatures_K, n_steps: int, thermostat: str = "langevin",
                 timestep_fs: float = 1.0, seeds=0, sample_every: int = 10, friction_per_fs: float = 0.01,
                 tau_fs: float = 100.0, dtype: str = "float32", store=None, explode_factor: float = 3.0,
                 progress: bool = True, compile_model: bool = False) -> list[list[Atoms]]:
    """Run :class:`MDEngine` for ``n_steps``; returns each replica's frames every ``sample_every`` steps.

    The frames' positions are unwrapped (ready for :mod:`toolkit.transport`). With a
    ``store``, each replica checkpoints to its own ASE trajectory (keyed by its structure,
    temperature, seed and the run's settings) and a rerun resumes from the last frame all
    replicas reached, drawing the noise after a resume from ``seed + steps done`` (as
    :func:`toolkit.md.run_md` does). ``compile_model``: see :class:`MDEngine` (it enters the store key, since
    compiled and eager calls round differently).
    """
    from ase.io import Trajectory, read

    # compile_model only where set, so that the store keys of eager runs stay those they always were
    engine_args = dict(thermostat=thermostat, timestep_fs=timestep_fs, friction_per_fs=friction_per_fs, tau_fs=tau_fs,
                       dtype=dtype, **({"compile_model": True} if compile_model else {}))
    temperatures, seed_list = per_replica(len(replicas), temperatures_K, seeds)
    keys, frames = [], [[] for _ in replicas]
    if store is not None:
        for atoms, temperature, seed in zip(replicas, temperatures, seed_list):
            params = {"engine": engine_args, "temperature_K": float(temperature), "seed": int(seed),
                      "n_steps": n_steps, "sample_every": sample_every}
            keys.append(store.key("md-engine", atoms, potential, params))
        replay_explosion(store, keys)
        paths = [store.checkpoint(key) for key in keys]
        saved = [read(p, index=":") if p.exists() and p.stat().st_size else [] for p in paths]
        common = min(len(s) for s in saved)
        frames = [s[:common] for s in saved]
        for path, replica_frames in zip(paths, frames):  # drop frames some replicas wrote past the others
            with Trajectory(path, "w") as traj:
                for frame in replica_frames:
                    traj.write(frame)
    done = (len(frames[0]) - 1) * sample_every if frames[0] else 0
    if done >= n_steps:
        return frames
    start = [f[-1] for f in frames] if done else replicas
    engine = MDEngine(potential, start, temperatures, seeds=[s + done for s in seed_list], **engine_args)
    engine.steps_done = done
    trajs = [Trajectory(store.checkpoint(key), "a") for key in keys] if store is not None else []
    if not done:
        for k in range(len(replicas)):
            frames[k].append(engine.snapshot(k))
            if trajs:
                trajs[k].write(frames[k][0])
    bar = progress_bar(total=n_steps, initial=done, desc=f"MD ×{len(replicas)} replicas", disable=not progress, leave=False)
    try:
        while engine.steps_done < n_steps:
            chunk = min(sample_every, n_steps - engine.steps_done)
            engine.step(chunk)
            bar.update(chunk)
            snapshots = [engine.snapshot(k) for k in range(len(replicas))]
            try:
                engine.check_replicas(explode_factor, snapshots)
            except MDExplosionError as blown:
                blown.frames = frames
                if store is not None:
                    store.put(keys[blown.replica], "md-engine", replicas[blown.replica], {"exploded": str(blown)})
                raise
            for k, snapshot in enumerate(snapshots):
                frames[k].append(snapshot)
                if trajs:
                    trajs[k].write(snapshot)
    finally:
        bar.close()
        for traj in trajs:
            traj.close()
    return frames
