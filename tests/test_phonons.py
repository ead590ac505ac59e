import numpy as np
import pytest
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.geometry import find_mic

from toolkit import phonons as ph
from toolkit.perovskite import basno3
from toolkit.calculator import from_ase_calculator


class Springs(Calculator):
    """Each atom tied to its reference position by springs k (eV/Å², per atom and axis):
    an Einstein crystal whose frequencies are sqrt(k/m)/2π, imaginary where k < 0."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, reference, k):
        super().__init__()
        self.reference, self.k = reference, np.asarray(k)

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        u = find_mic(atoms.positions - self.reference.positions, atoms.cell, pbc=True)[0]
        self.results = {"energy": 0.5 * np.sum(self.k * u**2), "forces": -self.k * u}


def thz(k_eV_A2, mass_amu):
    return np.sign(k_eV_A2) * np.sqrt(abs(k_eV_A2) * units._e * 1e20 / (mass_amu * units._amu)) / (2 * np.pi) / 1e12


@pytest.fixture
def einstein():
    atoms = Atoms("CuAgAu", positions=[(0.1, 0.2, 0.3), (2.3, 1.1, 0.7), (1.2, 2.9, 2.1)],
                  cell=[[4.5, 0.2, 0.1], [0.3, 4.7, 0.2], [0.1, 0.4, 4.9]], pbc=True)
    k = np.ones((3, 3))
    k[1, 0] = -0.5  # Ag unstable along x
    return atoms, k


def test_imaginary_mode_detection_on_a_crystal_built_to_have_one(einstein):
    atoms, k = einstein
    calc = from_ase_calculator(Springs(atoms, k), "springs")
    phonon = ph.compute_phonons(atoms, calc, supercell=(1, 1, 1), symmetrize=False, progress=False)
    q = (0.5, 0.0, 0.0)  # away from Γ, where no mode is treated as acoustic
    expected = sorted(thz(kk, m) for kk, m in zip(k.ravel(), np.repeat(atoms.get_masses(), 3)))
    assert np.allclose(ph.frequencies_at(phonon, q), expected, atol=1e-3)
    found = ph.imaginary_modes(phonon, q=q, threshold_THz=0.3)
    assert len(found) == 1 and found[0][1] == pytest.approx(thz(-0.5, atoms.get_masses()[1]), abs=1e-3)
    band = found[0][0]
    # the unstable mode is the Ag atom moving along x, and nothing else
    assert ph.participation(phonon, band, {"Ag": [1], "rest": [0, 2]}, q=(0, 0, 0))["Ag"] == pytest.approx(1.0)
    u = ph.mode_displacements(phonon, band, amplitude_A=0.2)
    assert np.allclose(np.abs(u[1]), [0.2, 0, 0], atol=1e-8) and np.allclose(u[[0, 2]], 0, atol=1e-8)
    # a threshold below the mode's |ω| hides it
    assert ph.imaginary_modes(phonon, q=q, threshold_THz=abs(found[0][1]) + 0.1) == []


def test_host_phonons_and_band_path(chgnet, tmp_path):
    from toolkit.store import ResultsStore

    store = ResultsStore(tmp_path)
    phonon = ph.compute_phonons(basno3(4.19), chgnet, supercell=(2, 2, 2), store=store, progress=False)
    n_displacements = len(phonon.supercells_with_displacements)
    assert n_displacements <= 4  # Pm-3m symmetry found despite float32 noise
    assert len(store) == n_displacements  # every displaced supercell's forces were cached
    bands = ph.band_structure(phonon, npoints=5)
    assert bands["labels"][:5] == ["Γ", "X", "M", "Γ", "R"]
    lowest = ph.lowest_frequencies(phonon)
    assert abs(lowest["Γ"]) < 0.05  # acoustic sum rule imposed
    assert 0 < ph.acoustic_noise_THz(phonon) < 0.3  # ... but the raw noise is measured
    assert ph.imaginary_modes(phonon) == []  # nothing unstable at Γ
    frames = ph.mode_animation(phonon, 0, q=(0.5, 0.5, 0.5), amplitude_A=0.25, n_frames=8)
    assert len(frames) == 8 and len(frames[0]) == 5 * 8  # R needs a 2x2x2 cell
    moves = [np.linalg.norm(f.positions - frames[0].positions, axis=1).max() for f in frames]
    assert max(moves) == pytest.approx(0.5, rel=0.05)  # peak-to-peak = 2 x amplitude


def test_frozen_mode_energy_is_harmonic_for_springs(einstein):
    atoms, k = einstein
    calc = from_ase_calculator(Springs(atoms, k), "springs")
    u = np.zeros((3, 3))
    u[1, 0] = 1.0  # the unstable Ag-x direction
    energies = ph.mode_energy_profile(atoms, u, [-0.2, 0.1, 0.2], calc)
    assert np.allclose(energies, 0.5 * -0.5 * np.array([0.04, 0.01, 0.04]))


def test_tilt_character_separates_rotation_from_stretching():
    atoms = basno3().repeat(2)
    oxygens = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "O"]
    sn = 1
    stretch = np.zeros((len(atoms), 3))
    for o in oxygens:
        if atoms.get_distance(sn, o, mic=True) < 2.1:
            stretch[o] = atoms.get_distance(sn, o, mic=True, vector=True)
    assert ph.tilt_character(atoms, stretch) == pytest.approx(0.0, abs=1e-9)
    rotation = np.zeros((len(atoms), 3))
    for o in oxygens:
        if atoms.get_distance(sn, o, mic=True) < 2.1:
            rotation[o] = np.cross([0, 0, 1], atoms.get_distance(sn, o, mic=True, vector=True))
    assert ph.tilt_character(atoms, rotation) == pytest.approx(1.0)



class SpringsBySpecies(Calculator):
    """:class:`Springs` with k (eV/Å² per axis) set by each atom's element, tied to the positions of the cell of
    that formula in ``references``."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, references, k_by_element):
        super().__init__()
        self.references, self.k_by_element = references, k_by_element

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        reference = self.references[atoms.get_chemical_formula()]
        k = np.array([self.k_by_element[s] for s in atoms.get_chemical_symbols()])
        u = find_mic(atoms.positions - reference.positions, atoms.cell, pbc=True)[0]
        self.results = {"energy": 0.5 * np.sum(k * u**2), "forces": -k * u}


@pytest.mark.parametrize("pristine_unstable", [False, True])
def test_y_induced_instability_needs_a_mode_the_pristine_cell_lacks(einstein, pristine_unstable):
    from toolkit.studies.proton_phonon import gamma_modes

    pristine, _ = einstein
    doped = pristine.copy()
    doped.symbols[2] = "Pt"  # the "dopant": its spring along x is negative, and strong enough to stand out of the
    # acoustic "noise" that an Einstein crystal (no translational invariance) shows
    if pristine_unstable:
        pristine = pristine.copy()
        pristine.symbols[2] = "Pd"
    k = {"Cu": [1.0] * 3, "Ag": [1.0] * 3, "Au": [1.0] * 3, "Pt": [-40.0, 4.0, 4.0], "Pd": [-40.0, 4.0, 4.0]}
    calc = from_ase_calculator(SpringsBySpecies({a.get_chemical_formula(): a for a in (pristine, doped)}, k), "springs")
    found = gamma_modes({"pristine": pristine, "Y-doped": doped}, calc, progress=False)
    assert len(found.imaginary_THz["Y-doped"]) == 1 and found.imaginary_THz["Y-doped"][0] < -found.threshold_THz
    assert bool(found.imaginary_THz["pristine"]) == pristine_unstable
    assert found.y_induced is not pristine_unstable
    assert found.to_dict()["y_induced_instability"] is not pristine_unstable


def test_coupling_slope_recovers_a_linear_term_and_its_absence():
    from toolkit.studies.proton_phonon_hops import coupling_slope

    q = np.linspace(-0.3, 0.3, 5)
    slope, error = coupling_slope(q, 0.3 + 0.2 * q + 0.5 * q**2 + np.array([1, -1, 0, 1, -1]) * 1e-3)
    assert slope == pytest.approx(0.2, abs=3 * error) and error < 0.01
    flat, flat_error = coupling_slope(q, 0.08 + 0.1 * q**2)  # symmetric in Q: no first-order coupling
    assert abs(flat) <= 1e-9 + 3 * flat_error
    with pytest.raises(ValueError, match="at least 4"):
        coupling_slope(q[:3], q[:3])


def test_the_coupling_is_fitted_only_where_the_transfer_keeps_a_barrier():
    """Where a short O–O distance centres the proton, E_a is zero and has a kink: those amplitudes are named and
    left out of the fit, which is taken about the centre of the amplitudes it keeps."""
    from toolkit.studies.proton_phonon_hops import coupling_slopes, rows_from_dict

    q = np.round(np.linspace(-0.4, 0.4, 9), 2)
    barrier = np.where(q > 0, 0.08 - 0.1 * q + 0.05 * q**2, 0.0)  # no barrier at Q ≤ 0
    rows = [{"amplitude_A": a, "barrier_eV": b, "reaction_eV": -0.2 * a} for a, b in zip(q, barrier)]
    found = coupling_slopes(rows)
    assert found["merged_amplitudes_A"] == list(q[q <= 0]) and found["fitted_amplitudes_A"] == list(q[q > 0])
    assert found["dEa_dQ_eV_per_A"][0] == pytest.approx(-0.1 + 2 * 0.05 * 0.25, abs=1e-9)  # at Q = 0.25 Å
    assert found["dE0_dQ_eV_per_A"][0] == pytest.approx(-0.1 + 0.1 + 0.1 * 0.25, abs=1e-9)  # −ΔE/2 adds 0.1 Q
    stored = {"barrier_vs_amplitude": [[r["amplitude_A"], r["barrier_eV"]] for r in rows],
              "reaction_vs_amplitude": [[r["amplitude_A"], r["reaction_eV"]] for r in rows]}
    assert coupling_slopes(rows_from_dict(stored)) == found
    assert coupling_slopes(rows[:7])["dEa_dQ_eV_per_A"] is None  # 3 amplitudes with a barrier: no slope


def test_the_coupling_mode_is_the_one_that_stretches_donor_and_acceptor():
    from toolkit.studies.proton_phonon_hops import coupling_mode

    atoms = Atoms("CuAgAu", positions=[(0.5, 0.5, 0.5), (2.5, 0.5, 0.5), (1.5, 2.5, 2.5)], cell=[5.0, 5.0, 5.0],
                  pbc=True)
    k = np.array([[3.0, 1.0, 1.5], [2.0, 2.5, 4.0], [0.5, 0.8, 0.6]])  # Cu, Ag, Au ("H") springs per axis
    phonon = ph.compute_phonons(atoms, from_ase_calculator(Springs(atoms, k), "springs"), supercell=(1, 1, 1),
                                symmetrize=False, progress=False)
    found = coupling_mode(phonon, atoms, donor=0, acceptor=1, h_index=2, max_frequency_THz=100.0)
    moving = np.argwhere(np.abs(found.displacements_A) > 0.5)
    assert abs(found.d_OO_per_Q) == pytest.approx(1.0)  # one atom moving 1 Å along the Cu–Ag axis (x)
    assert len(moving) == 1 and moving[0][1] == 0 and moving[0][0] in (0, 1)
