import json

import numpy as np
import pytest
from ase.build import bulk

from toolkit.barriers import neb_barrier
from toolkit.coupling import barrier_vs_amplitude
from toolkit.defects import vacancy_hop
from toolkit.relax import relax
from toolkit.store import ResultsStore


@pytest.fixture
def cu_vacancy_hop(emt):
    """A Cu vacancy hop with EMT: a symmetric path, so forward and reverse barriers are equal."""
    perfect = relax(bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2), emt, fmax_eV_A=0.01)
    initial, final, mover = vacancy_hop(perfect, 0)
    assert np.isclose(initial.get_distance(mover, 0, mic=True), final.get_distance(mover, 0, mic=True))
    ends = [relax(state, emt, fmax_eV_A=0.01, relax_cell=False) for state in (initial, final)]
    return ends, mover


def test_neb_of_a_symmetric_vacancy_hop(emt, cu_vacancy_hop, tmp_path):
    (initial, final), _ = cu_vacancy_hop
    store = ResultsStore(tmp_path)
    band = neb_barrier(initial, final, emt, n_images=3, fmax_eV_A=0.05, store=store)
    assert band.converged
    assert len(band.images) == 5 and band.energies_eV[0] == 0
    assert 0.3 < band.barrier_eV < 1.2  # EMT Cu vacancy migration, ~0.6–0.7 eV
    assert band.barrier_eV == pytest.approx(band.reverse_barrier_eV, abs=0.02)
    assert np.argmax(band.energies_eV) == 2  # the saddle is in the middle
    again = neb_barrier(initial, final, emt, n_images=3, fmax_eV_A=0.05, store=store)
    assert again.barrier_eV == band.barrier_eV and len(store) == 1
    numbers = json.loads(json.dumps(band.to_dict()))
    assert numbers["barrier_eV"] == band.barrier_eV and len(numbers["energies_eV"]) == 5 and numbers["converged"]


def test_neb_refuses_mismatched_end_states(emt, cu_vacancy_hop):
    (initial, _), _ = cu_vacancy_hop
    with pytest.raises(ValueError, match="same atoms"):
        neb_barrier(initial, initial[:-1], emt)


def test_barrier_vs_amplitude_on_a_frozen_lattice(emt, cu_vacancy_hop):
    (initial, final), mover = cu_vacancy_hop
    band = neb_barrier(initial, final, emt, n_images=3, fmax_eV_A=0.05)
    with pytest.raises(ValueError, match="must sit still"):
        neb_barrier(initial, final, emt, moving=[mover])
    # a "mode" that pushes apart the two atoms flanking the hop's saddle widens the gate
    saddle = band.saddle
    midpoint = 0.5 * (initial.positions[mover] + final.positions[mover])
    gate = np.argsort(np.linalg.norm(saddle.positions - midpoint, axis=1))[1:3]
    mode = np.zeros((len(saddle), 3))
    outward = saddle.positions[gate[0]] - saddle.positions[gate[1]]
    mode[gate[0]], mode[gate[1]] = outward / np.linalg.norm(outward), -outward / np.linalg.norm(outward)
    rows = barrier_vs_amplitude(initial, initial, final, mode, [-0.1, 0.0, 0.1], emt, mover,
                                int(gate[0]), int(gate[1]), n_images=3, fmax_eV_A=0.05)
    assert [r["amplitude_A"] for r in rows] == [-0.1, 0.0, 0.1]
    assert rows[0]["d_OO_A"] < rows[1]["d_OO_A"] < rows[2]["d_OO_A"]
    assert rows[1]["barrier_eV"] > band.barrier_eV - 0.02  # a frozen lattice cannot make the hop easier
    assert rows[0]["barrier_eV"] > rows[1]["barrier_eV"] > rows[2]["barrier_eV"]  # a wider gate, a lower barrier


@pytest.mark.parametrize("fmax", [0.05, 0.01])
def test_a_converged_band_has_every_image_converged_the_climbing_one_included(emt, cu_vacancy_hop, fmax):
    from ase.mep import NEB

    from toolkit.barriers import band_fmax_eV_A

    (initial, final), _ = cu_vacancy_hop
    band = neb_barrier(initial, final, emt, n_images=3, fmax_eV_A=fmax)
    images = [image.copy() for image in band.images]
    for image in images:
        image.calc = emt
    check = NEB(images, climb=True, allow_shared_calculator=True, method="aseneb")  # the band's own forces, again
    assert band.converged and band_fmax_eV_A(check) == pytest.approx(band.fmax_eV_A, abs=1e-6)
    assert band.fmax_eV_A <= fmax
    climbing = int(np.argmax(band.energies_eV))
    assert np.sqrt((emt.get_forces(images[climbing]) ** 2).sum(axis=1)).max() < 10 * fmax + 0.05  # at the saddle


def test_the_proton_keeps_its_bond_on_a_frozen_lattice_that_moves_its_o():
    """A mode that moves the proton's O by 0.6 Å must not put the two on top of each other."""
    from ase import Atoms

    from toolkit.coupling import _on_frozen_lattice

    state = Atoms("OOH", positions=[[0, 0, 0], [2.5, 0, 0], [0.98, 0, 0]], cell=[8, 8, 8], pbc=True)
    lattice = state.copy()
    lattice.positions[0] += [0.6, 0, 0]
    placed = _on_frozen_lattice(state, lattice, 2)
    assert placed.get_distance(0, 2) == pytest.approx(0.98)
    assert placed.constraints[0].index.tolist() == [0, 1]
