"""Neighbour lists of the batched engine: periodic pair searches on the engine's own device, kept with a skin.

Each replica's list (cutoff ``r_max + skin``) is rebuilt only when one of its atoms has moved half the skin;
edges beyond the model's cutoff are dropped before each model call, so the result is exact. On a CPU the
search is vesin's; on a GPU small cells of one shape are searched together by :func:`periodic_pairs` in one
fixed-size pass. Units: Å.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from toolkit.md.model_call import StaticModelCall

#: pairs times images per cell (n² · M) up to which a GPU searches a cell's pairs all at once, and how many
#: such vectors one pass over several cells holds (8e6: 200 MB in float64)
BRUTE_FORCE_PAIRS, BRUTE_FORCE_PASS = 2_000_000, 8_000_000


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



class NeighbourLists:
    """The engine's neighbour lists (a mixin of :class:`toolkit.md.engine.MDEngine`, whose state they read)."""

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

