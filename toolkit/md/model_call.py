"""The engine's MACE model call: the model taken from a toolkit potential, compiled by ``torch.compile`` on a
CPU, or run on inputs of a fixed size and captured as a CUDA graph on a GPU. Units: eV, Å."""

from __future__ import annotations

import warnings

import torch

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
