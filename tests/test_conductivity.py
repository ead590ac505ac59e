import numpy as np
import pytest
from ase.build import bulk

from toolkit.conductivity import conductivity, ion_diffusion
from toolkit.transport import Diffusion


def test_ion_diffusion_follows_the_mobile_species_in_the_order_of_the_runs(emt):
    alloy = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    alloy.symbols[[0, 5]] = "Ag"
    runs = [(alloy, 300.0, 0), (alloy, 1500.0, 1)]
    cold, hot = ion_diffusion(runs, "Ag", emt, n_steps=200, timestep_fs=2.0, sample_every=5,
                              equilibration_fraction=0.2, n_blocks=2, progress=False)
    assert isinstance(cold, Diffusion) and np.isfinite([*cold, *hot]).all()
    assert abs(hot.D_cm2_s) > abs(cold.D_cm2_s)  # two Ag atoms rattle harder in a hotter crystal
    with pytest.raises(ValueError, match="Cu32 holds no Li: nothing to follow"):
        ion_diffusion([(bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2), 300.0, 0)], "Li", emt, 10, 2.0, 5, 0.2, 2)


def test_conductivity_combines_the_runs_and_says_why_where_it_cannot_fit():
    runs = {600.0: [(1.0e-6, 1e-7), (1.2e-6, 1e-7)], 900.0: [(1.0e-5, 1e-6), (0.8e-5, 1e-6)]}
    sigma = conductivity(runs, n_carriers=10, volume_A3=800.0)
    assert sigma["D"][600.0][0] == pytest.approx(1.1e-6) and sigma["fit_problem"] is None
    assert sigma["fit"]["Ea_eV"][0] > 0 and sigma["fit"]["sigma_S_cm"][0] > 0
    falling = conductivity({600.0: [(2e-5, 1e-6)], 900.0: [(1e-5, 1e-6)]}, n_carriers=10, volume_A3=800.0)
    assert falling["fit"] is None and "does not rise with temperature" in falling["fit_problem"]
    single = conductivity({600.0: [(2e-5, 1e-6)]}, n_carriers=10, volume_A3=800.0)
    assert single["fit"] is None and "at least two temperatures" in single["fit_problem"]
