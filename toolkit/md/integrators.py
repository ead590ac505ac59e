"""The engine's integrators, all with the centre-of-mass momentum of each replica held at zero.

``"nve"``
    velocity Verlet.
``"langevin"``
    BAOAB Langevin (Leimkuhler & Matthews, Appl. Math. Res. Express 2013, 34), friction
    ``friction_per_fs``.
``"csvr"``
    velocity Verlet with the stochastic velocity-rescaling thermostat of Bussi, Donadio &
    Parrinello (J. Chem. Phys. 126, 014101 (2007)), time constant ``tau_fs``.

Each replica draws its noise from its own seeded generator, so a replica's noise does not
depend on which other replicas share its batch. Units: Å, fs, K, eV, amu.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from ase import units

THERMOSTATS = ("nve", "langevin", "csvr")


class Integrators:
    """Time stepping of the engine's state (a mixin of :class:`toolkit.md.engine.MDEngine`)."""

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
