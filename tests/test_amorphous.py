"""Study 2 machinery: the amorphous-cell generator, melt–quench, coordination analysis, conductivity."""

from dataclasses import replace

import numpy as np
import pytest
from ase.build import bulk
from ase.units import kB

from toolkit import amorphous as am
from toolkit import coordination as co
from toolkit.store import ResultsStore
from toolkit.transport import arrhenius_fit, nernst_einstein_conductivity_S_cm
from toolkit.validation import find_overlaps


@pytest.mark.parametrize("x", [0.5, 1.0, 1.5, 2.0, 2.5])
def test_packing_has_the_composition_charge_neutrality_density_and_distances(x):
    counts = am.oxyhalide_counts(x, 4)
    assert counts == {"Ta": 4, "Cl": 20, "Li": int(8 * x), "O": int(4 * x)}
    density = am.ideal_mixing_density_g_cm3(x)
    atoms = am.random_packing(counts, density, seed=3)
    assert {s: atoms.get_chemical_symbols().count(s) for s in counts} == counts
    assert am.formal_charge(atoms) == 0
    assert am.mass_density_g_cm3(atoms) == pytest.approx(density, rel=1e-9)
    distances = atoms.get_all_distances(mic=True)
    symbols = atoms.get_chemical_symbols()
    for i in range(len(atoms)):
        for j in range(i):
            assert distances[i, j] >= am.min_distance_A(symbols[i], symbols[j]) - 1e-9
    assert not find_overlaps(atoms)


def test_oxyhalide_packing_is_the_composition_packed_at_the_ideal_mixing_density():
    atoms = am.oxyhalide_packing(1.5, 4, seed=3)
    assert len(atoms) == 42 and am.formal_charge(atoms) == 0
    assert am.mass_density_g_cm3(atoms) == pytest.approx(am.ideal_mixing_density_g_cm3(1.5), rel=1e-9)
    reference = am.random_packing(am.oxyhalide_counts(1.5, 4), am.ideal_mixing_density_g_cm3(1.5), seed=3)
    assert np.array_equal(atoms.positions, reference.positions)
    with pytest.raises(ValueError, match="multiple of 2 Ta"):
        am.oxyhalide_packing(1.5, 3, seed=3)


def test_packing_is_reproducible_from_its_seed():
    counts = am.oxyhalide_counts(1.0, 2)
    a, b = (am.random_packing(counts, 3.0, seed=7) for _ in range(2))
    assert np.allclose(a.positions, b.positions)
    assert not np.allclose(a.positions, am.random_packing(counts, 3.0, seed=8).positions)


def test_a_crowded_packing_gets_the_tries_it_needs_and_the_ones_that_needed_few_stay_the_same():
    """The research x = 3 glass of seed 1 (210 atoms) could not place atom 208 in 5000 tries."""
    counts, density = am.oxyhalide_counts(3.0, 14), am.ideal_mixing_density_g_cm3(3.0)
    with pytest.raises(ValueError, match="could not place atom 208 \\(Li\\) of 210"):
        am.random_packing(counts, density, seed=1, max_tries=5000)
    packed = am.oxyhalide_packing(3.0, 14, seed=1)
    assert len(packed) == 210 and packed.get_volume() == pytest.approx(14.89**3, rel=1e-3)
    before = am.random_packing(counts, density, seed=0, max_tries=5000)  # the committed research glass's start
    assert np.array_equal(before.positions, am.oxyhalide_packing(3.0, 14, seed=0).positions)


def test_ideal_mixing_density_runs_between_the_end_members():
    assert am.ideal_mixing_density_g_cm3(0.0) == pytest.approx(3.68)
    assert 2.013 < am.ideal_mixing_density_g_cm3(2.0) < am.ideal_mixing_density_g_cm3(1.0) < 3.68


def test_impossible_compositions_and_densities_are_refused():
    with pytest.raises(ValueError, match="multiple of 4 Ta"):
        am.oxyhalide_counts(0.25, 2)
    with pytest.raises(ValueError, match="negative"):
        am.oxyhalide_counts(-1, 2)
    with pytest.raises(ValueError, match=r"could not place atom .*lower the density"):
        am.random_packing(am.oxyhalide_counts(1.0, 2), 20.0, seed=0, max_tries=200)
    with pytest.raises(ValueError, match="unknown element"):
        am.random_packing({"Xx": 1}, 1.0, seed=0)


def test_quench_protocol_follows_its_rate():
    protocol = am.MeltQuench(melt_K=1300, melt_ps=1.0, final_K=300, quench_rate_K_per_ps=500, quench_stages=4,
                             anneal_ps=0.5, timestep_fs=2.0)
    stages = protocol.stages()
    assert stages[0] == (1300, 500) and stages[-1] == (300, 250)
    quench = stages[1:-1]
    assert [t for t, _ in quench] == [1050, 800, 550, 300]
    assert sum(n for _, n in quench) * 2.0 / 1000 == pytest.approx(1000 / 500)  # 2 ps to cool 1000 K


def test_melt_quench_is_cached_and_relaxes_to_zero_pressure(emt, tmp_path):
    atoms = am.random_packing({"Cu": 16}, 6.0, seed=1)
    protocol = am.MeltQuench(melt_K=2000, melt_ps=0.02, final_K=300, quench_rate_K_per_ps=85000, quench_stages=2,
                             anneal_ps=0.01, timestep_fs=2.0, relax_fmax_eV_A=0.05)
    store = ResultsStore(tmp_path)
    glass = am.melt_quench(atoms, emt, protocol, seed=0, store=store, progress=False)
    record = glass.info["melt_quench"]
    assert record["seed"] == 0 and record["melt_K"] == 2000
    assert record["density_g_cm3"] == pytest.approx(am.mass_density_g_cm3(glass))
    assert glass.info["relax"]["converged"]
    glass.calc = emt
    assert np.abs(glass.get_stress()).max() < 0.01  # eV/Å³: the cell relaxed
    n_rows = len(store)
    again = am.melt_quench(atoms, emt, protocol, seed=0, store=store, progress=False)
    assert np.allclose(again.positions, glass.positions) and len(store) == n_rows
    assert record["relax_converged"] and record["relax_max_steps"] == 300
    short = am.melt_quench(atoms, emt, replace(protocol, relax_fmax_eV_A=1e-4, relax_max_steps=2), seed=0,
                           progress=False)
    assert not short.info["melt_quench"]["relax_converged"] and short.info["relax"]["steps"] <= 2


@pytest.fixture(scope="module")
def rock_salt():
    return bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(2)


def test_coordination_of_rock_salt_from_its_rdf_minimum(rock_salt):
    r, g = co.partial_rdf(rock_salt, "Na", "Cl", r_max_A=5.0)
    cutoff = co.first_minimum_A(r, g)
    assert 3.6 < cutoff < 4.1  # the middle of the gap between the first (a/2) and second (a√3/2) shells
    r2, g2 = co.partial_rdf(rock_salt, "Na", "Na", r_max_A=6.0)
    cutoff_nana = co.first_minimum_A(r2, g2)
    assert 3.99 < cutoff_nana < 5.64
    cn = co.coordination_numbers(rock_salt, {("Na", "Cl"): cutoff, ("Cl", "Na"): cutoff, ("Na", "Na"): cutoff_nana})
    assert cn == {"Na-Cl": pytest.approx(6.0), "Cl-Na": pytest.approx(6.0), "Na-Na": pytest.approx(12.0)}
    # the first peak integrates to the coordination number: ρ ∫ g 4π r² dr = 6
    density = 32 / rock_salt.get_volume()
    dr = r[1] - r[0]
    assert np.sum((g * 4 * np.pi * r**2 * dr * density)[r < cutoff]) == pytest.approx(6.0, rel=1e-4)


def test_rdf_tends_to_one_in_an_ideal_gas():
    atoms = am.random_packing({"Ar": 400}, 0.05, seed=0)  # far from any overlap rule
    r, g = co.partial_rdf(atoms, "Ar", "Ar", r_max_A=8.0, dr_A=0.5)
    assert np.mean(g[r > 4]) == pytest.approx(1.0, abs=0.1)


def test_motifs_bridges_sharing_and_angles_of_rock_salt(rock_salt):
    cutoffs = {("Na", "Cl"): 3.3}
    assert co.motifs(rock_salt, cutoffs, center="Na", ligands=("Cl",)) == {"NaCl6": 1.0}
    assert co.bridging_fraction(rock_salt, cutoffs, anion="Cl", center="Na") == 1.0
    sharing = co.polyhedral_sharing(rock_salt, cutoffs, center="Na", ligands=("Cl",))
    assert sharing == {"corner": pytest.approx(3.0), "edge": pytest.approx(6.0), "face": 0.0}  # per Na
    angles = co.bond_angles(rock_salt, "Na", ("Cl",), cutoffs)
    assert len(angles) == 32 * 15  # six Cl per Na: 15 pairs
    assert np.allclose(np.sort(np.unique(angles.round(6))), [90.0, 180.0])
    with pytest.raises(KeyError, match="Na–O"):
        co.motifs(rock_salt, cutoffs, center="Na", ligands=("O",))


def test_isolated_octahedra_share_nothing():
    from ase import Atoms

    octahedron = [(0, 0, 0)] + [tuple(2.4 * s * np.eye(3)[k]) for k in range(3) for s in (1, -1)]
    atoms = Atoms("TaCl6", positions=octahedron, cell=[12] * 3, pbc=True)
    cutoffs = {("Ta", "Cl"): 2.8, ("Ta", "O"): 2.4}
    assert co.motifs(atoms, cutoffs) == {"TaO0Cl6": 1.0}
    assert co.polyhedral_sharing(atoms, cutoffs) == {"corner": 0.0, "edge": 0.0, "face": 0.0}


def test_nernst_einstein_matches_a_hand_calculation():
    # 1e22 Li/cm³, D = 1e-7 cm²/s, 300 K: σ = n e² D / (kB T) = 6.197e-3 S/cm
    sigma = nernst_einstein_conductivity_S_cm(1e-7, 10, 1e-21 * 1e24, 300.0)
    assert sigma == pytest.approx(1e22 * (1.602176634e-19) ** 2 * 1e-7 / (1.380649e-23 * 300), rel=1e-12)
    assert sigma == pytest.approx(6.197e-3, rel=1e-3)
    assert nernst_einstein_conductivity_S_cm(1e-7, 10, 1000.0, 300.0, haven_ratio=0.5) == pytest.approx(2 * sigma)


def test_arrhenius_extrapolation_error_grows_away_from_the_data():
    rng = np.random.default_rng(2)
    t = np.array([600.0, 800.0, 1000.0])
    d = 1e-3 * np.exp(-0.3 / (kB * t)) * (1 + 0.05 * rng.normal(size=3))
    fit = arrhenius_fit(t, d, 0.05 * d)
    relative = [fit.predict_err(temp) / fit.predict(temp) for temp in (800.0, 300.0)]
    assert 0 < relative[0] < relative[1]
    assert fit.predict(300.0) == pytest.approx(1e-3 * np.exp(-0.3 / (kB * 300)), rel=3 * relative[1])


def test_replicas_combine_into_a_mean_with_the_larger_error():
    from toolkit.transport import combine_replicas

    assert combine_replicas([(2e-6, 1e-7)]) == pytest.approx((2e-6, 1e-7))
    # replicas that agree: their own errors dominate, shrinking as 1/√n
    assert combine_replicas([(2e-6, 2e-7)] * 4) == pytest.approx((2e-6, 1e-7))
    # replicas that disagree: the spread dominates
    mean, error = combine_replicas([(1e-6, 1e-8), (3e-6, 1e-8)])
    assert mean == pytest.approx(2e-6) and error == pytest.approx(1e-6)
