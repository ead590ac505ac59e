"""Energy–volume curves and the equation of state (ASE's fits)."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.eos import EquationOfState
from ase.units import GPa

from toolkit.validation import check_structure


def energy_volume(atoms: Atoms, potential, strains=np.linspace(-0.03, 0.03, 7), eos: str = "birchmurnaghan") -> dict:
    """Energies of isotropically strained copies of ``atoms`` and a fitted equation of state.

    ``strains`` are linear strains (fractions of the lattice parameter). Returns
    ``volumes_A3``, ``energies_eV``, ``v0_A3``, ``e0_eV``, ``bulk_modulus_GPa`` and ``eos``.
    """
    check_structure(atoms)
    potential.check_elements(atoms)
    volumes, energies = [], []
    for strain in strains:
        strained = atoms.copy()
        strained.set_cell(atoms.cell * (1 + strain), scale_atoms=True)
        strained.calc = potential
        volumes.append(strained.get_volume())
        energies.append(strained.get_potential_energy())
    fit = EquationOfState(volumes, energies, eos=eos)
    v0, e0, b = fit.fit()
    return {"volumes_A3": np.array(volumes), "energies_eV": np.array(energies), "v0_A3": float(v0),
            "e0_eV": float(e0), "bulk_modulus_GPa": float(b / GPa), "eos": eos}
