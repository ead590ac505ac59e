"""The engine's guards: forces that are not finite, temperatures that run away, atoms that fall onto each
other. Each raises an error that names the replica and the atoms (:mod:`toolkit.validation`)."""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms

from toolkit.md.neighbours import edge_lengths_A
from toolkit.validation import (
    MDExplosionError, NonFiniteForcesError, check_md_frame, check_temperature, temperature_limit_K,
)


class Guards:
    """Checks of the engine's state (a mixin of :class:`toolkit.md.engine.MDEngine`)."""

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
