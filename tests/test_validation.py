import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule

from toolkit.md import run_md
from toolkit.relax import relax
from toolkit.validation import (
    MDExplosionError, OverlappingAtomsError, StructureError, check_structure, find_overlaps,
)


def test_overlapping_atoms_are_named_with_their_distance(emt):
    atoms = bulk("Cu", cubic=True)
    atoms.positions[2] = atoms.positions[0] + [0.3, 0, 0]
    with pytest.raises(OverlappingAtomsError, match=r"Cu0–Cu2 0\.300 Å"):
        relax(atoms, emt)


def test_overlap_across_the_periodic_boundary_is_found():
    atoms = Atoms("OH", positions=[(0.1, 0, 0), (3.9, 0, 0)], cell=[4.0, 4.0, 4.0], pbc=True)
    assert find_overlaps(atoms) == [(0, 1, 0.2)]
    atoms.positions[1] = (1.07, 0, 0)  # a real O–H bond is fine
    assert find_overlaps(atoms) == []


@pytest.mark.parametrize("atoms, message", [
    (Atoms(), "no atoms"),
    (molecule("H2O"), "periodic cell is needed"),
    (Atoms("Cu", cell=[[1, 0, 0], [0, 1, 0], [0, 0, 0]], pbc=True), "empty or flat"),
])
def test_bad_cells_are_refused(atoms, message):
    with pytest.raises(StructureError, match=message):
        check_structure(atoms)


def test_exploding_md_stops_and_names_the_fastest_atoms(emt):
    atoms = bulk("Cu", cubic=True).repeat(2)
    atoms.positions[5] += [0.9, 0.0, 0.0]  # squeezed far up the repulsive wall, not overlapping
    with pytest.raises(MDExplosionError, match=r"exceeds the limit 600 K.*Cu") as blown:
        run_md(atoms, emt, temperature_K=100, n_steps=200, timestep_fs=5.0, sample_every=5, progress=False)
    (frames,) = blown.value.frames  # the run up to the blow-up, for a look or for a better potential's labels
    assert 1 <= len(frames) < 200 // 5 and np.allclose(frames[0].positions, atoms.positions)


def test_md_whose_atoms_fall_together_stops_as_a_collapse_even_when_cool():
    from ase.calculators.morse import MorsePotential

    from toolkit.calculator import from_ase_calculator

    # a well at 1.0 Å, under the 1.32 Å that Cu–Cu overlaps at: a student's spurious short-range minimum
    well = from_ase_calculator(MorsePotential(epsilon=1.0, r0=1.0, rho0=3.0), "morse", elements=["Cu"])
    dimer = Atoms("Cu2", positions=[(0, 0, 0), (1.6, 0, 0)], cell=[8.0, 8.0, 8.0], pbc=True)
    with pytest.raises(MDExplosionError, match=r"collapsed: .*Cu0–Cu1") as blown:
        run_md(dimer, well, temperature_K=10, n_steps=200, timestep_fs=1.0, sample_every=2, progress=False,
               explode_factor=1e5)  # no temperature limit: only the collapse can stop it
    (frames,) = blown.value.frames
    assert 1 <= len(frames) < 100 and not find_overlaps(frames[-1])


def test_a_stored_run_that_blew_up_blows_up_again_not_resumed_past_it(emt, tmp_path):
    from toolkit.store import ResultsStore

    atoms = bulk("Cu", cubic=True).repeat(2)
    atoms.positions[5] += [0.9, 0.0, 0.0]
    args = dict(temperature_K=100, n_steps=200, timestep_fs=5.0, sample_every=5, progress=False,
                store=ResultsStore(tmp_path))
    with pytest.raises(MDExplosionError) as first:
        run_md(atoms, emt, **args)
    with pytest.raises(MDExplosionError) as again:
        run_md(atoms, emt, **args)
    assert str(again.value) == str(first.value)
    assert [len(f) for f in again.value.frames] == [len(f) for f in first.value.frames]


def test_functions_take_ase_names_for_what_ase_functions_do(emt):
    """An ASE user's `relax(atoms, calc, fmax=0.01)` and `run_md(..., timestep=1 * units.fs, steps=20)` work,
    with ASE's units, and both names at once is an error that names them."""
    from ase import units
    from ase.build import bulk

    from toolkit.md import run_md
    from toolkit.relax import relax

    atoms = bulk("Cu", "fcc", a=3.7, cubic=True)
    atoms.rattle(0.05, seed=1)
    ase_way = relax(atoms, emt, fmax=0.02, steps=40, relax_cell=False)
    toolkit_way = relax(atoms, emt, fmax_eV_A=0.02, max_steps=40, relax_cell=False)
    assert ase_way.info["relax"] == toolkit_way.info["relax"] and ase_way.info["relax"]["fmax_eV_A"] == 0.02
    with pytest.raises(TypeError, match="both 'fmax' .ASE's name. and 'fmax_eV_A'"):
        relax(atoms, emt, fmax=0.02, fmax_eV_A=0.02)
    a = run_md(atoms, emt, temperature_K=300, steps=20, timestep=2 * units.fs, sample_every=10, progress=False)
    b = run_md(atoms, emt, 300, 20, timestep_fs=2.0, sample_every=10, progress=False)
    assert len(a) == len(b) == 3 and np.allclose(a[-1].positions, b[-1].positions)
    assert "``fmax`` for ``fmax_eV_A``" in relax.__doc__
