"""Study 2, the oxyhalide volcano: TaCl5·xLi2O glasses made by melt–quench, their Ta–O/Ta–Cl motifs, and Li
conductivity against x. The steps, shared by the notebook, the Dask sweep, the student card and the tests:

- :func:`glass`: one glass, packed at the ideal-mixing density (seed ``seed``) and melt-quenched;
- :func:`structure`: cutoffs from the first minima of the partial RDFs of all glasses, then per x the
  coordination numbers, Ta motifs, bridging O, polyhedral sharing and bond angles;
- :func:`diffusion`: NVT MD of each glass at each temperature (one batch on the MD engine for MACE models),
  D_Li per glass and temperature, as the rows :func:`volcano` takes;
- :func:`volcano`: per x, the glasses combined, an Arrhenius fit and σ(300 K);
- :func:`descriptors` and :func:`correlations`: structural descriptors per x and their correlation with log σ;
- :func:`run` composes them into a :class:`VolcanoResult`, whose :meth:`~VolcanoResult.to_summary` is the one place
  the study's ``summary.json`` schema lives (checked against ``schemas/oxyhalide-volcano.json``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
from ase import Atoms

from toolkit import amorphous as am
from toolkit import coordination as co
from toolkit import glass_anchors as ga
from toolkit.conductivity import conductivity, ion_diffusion
from toolkit.dft import frame_errors
from toolkit.store import ResultsStore

#: The element pairs whose RDFs set the coordination cutoffs.
PAIRS = (("Ta", "O"), ("Ta", "Cl"), ("Li", "O"), ("Li", "Cl"))


@dataclass(frozen=True)
class VolcanoSettings:
    """Everything a run of study 2 depends on. ``x_values``: Li2O per TaCl5; ``n_ta``: Ta atoms per cell;
    ``seeds``: one glass per seed and x (packing and melt–quench), whose MD at every temperature uses the same
    seed; MD of ``md_ps`` (ps) at each of ``md_temperatures_K`` (K), sampled every ``md_sample_every`` steps,
    the first ``md_equilibration_fraction`` dropped and D's error from ``md_blocks`` blocks."""

    x_values: tuple = (0.5, 1.0, 1.5, 2.0, 2.5)
    n_ta: int = 2
    seeds: tuple = (0,)
    protocol: am.MeltQuench = field(default_factory=lambda: am.MeltQuench(
        melt_ps=0.3, quench_rate_K_per_ps=6000.0, quench_stages=3, anneal_ps=0.1, relax_fmax_eV_A=0.1))
    md_temperatures_K: tuple = (700.0, 1000.0)
    md_ps: float = 1.0
    md_timestep_fs: float = 2.0
    md_sample_every: int = 5
    md_blocks: int = 3
    md_equilibration_fraction: float = 0.2
    rdf_r_max_A: float = 5.0
    haven_ratio: float = 1.0

    @classmethod
    def quick(cls, seed: int = 0, **changes) -> "VolcanoSettings":
        """Minutes on 2 cores: 2 Ta per cell, one glass per x, 1 ps at 700 and 1000 K."""
        return replace(cls(seeds=(seed,)), **changes)

    @classmethod
    def full(cls, seed: int = 0, **changes) -> "VolcanoSettings":
        """Research settings (hours; ``python -m toolkit reproduce oxyhalide-volcano``): 14 Ta per cell (105–210
        atoms), three glasses per x, six x, a quench 20 times slower than quick mode's, and 20 ps at four
        temperatures."""
        return replace(cls(x_values=(0.5, 1.0, 1.5, 2.0, 2.5, 3.0), n_ta=14, seeds=(seed, seed + 1, seed + 2),
                           protocol=am.MeltQuench(melt_ps=3.0, quench_rate_K_per_ps=300.0, quench_stages=8,
                                                  anneal_ps=1.0, relax_fmax_eV_A=0.02, relax_max_steps=1000),
                           md_temperatures_K=(600.0, 700.0, 800.0, 900.0), md_ps=20.0, md_blocks=4), **changes)

    @classmethod
    def from_dict(cls, settings: dict) -> "VolcanoSettings":
        """The settings :meth:`to_dict` wrote."""
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items() if k != "md_steps"}
        return cls(**{**fields, "protocol": am.MeltQuench(**settings["protocol"])})

    @property
    def md_steps(self) -> int:
        return int(self.md_ps * 1000 / self.md_timestep_fs)

    def to_dict(self) -> dict:
        return {**asdict(self), "md_steps": self.md_steps}


def glass(x: float, seed: int, settings: VolcanoSettings, potential, store: ResultsStore | None = None,
          progress: bool = True) -> Atoms:
    """A TaCl5·xLi2O glass of ``settings.n_ta`` Ta: packed at random (``seed``) at the ideal-mixing density and
    melt-quenched with ``settings.protocol``; ``info["melt_quench"]`` holds its density (g/cm³) and energy (eV)."""
    return am.melt_quench(am.oxyhalide_packing(x, settings.n_ta, seed), potential, settings.protocol, seed=seed,
                          store=store, progress=progress)


@dataclass(frozen=True)
class Structure:
    """The glasses' structure: ``cutoffs_A`` (pair -> Å, the RDFs' first minima), ``rdfs`` (pair -> (r, g)) and
    per x the coordination numbers, Ta motifs, bridging-O fraction, polyhedral sharing and bond angles (deg)."""

    cutoffs_A: dict
    rdfs: dict = field(repr=False)
    by_x: dict

    def to_dict(self) -> dict:
        return {"cutoffs_A": {co.pair_label(a, b): r for (a, b), r in self.cutoffs_A.items()},
                "by_x": {f"{x:g}": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                         for x, s in self.by_x.items()}}


def structure(glasses: dict[float, list[Atoms]], r_max_A: float = 5.0) -> Structure:
    """:class:`Structure` of ``glasses`` (x -> glasses): the cutoffs come from the RDFs of all of them at once."""
    every = [g for group in glasses.values() for g in group]
    rdfs = {pair: co.partial_rdf(every, *pair, r_max_A=r_max_A) for pair in PAIRS}
    cutoffs = {pair: co.first_minimum_A(*rdf) for pair, rdf in rdfs.items()}
    by_x = {x: {"coordination": co.coordination_numbers(g, cutoffs),
                "motifs": co.motifs(g, cutoffs, "Ta", ("O", "Cl")),
                "bridging_O": co.bridging_fraction(g, cutoffs, "O", "Ta") if x > 0 else 0.0,
                "sharing": co.polyhedral_sharing(g, cutoffs, "Ta", ("O", "Cl")),
                "anion_Ta_anion_deg": co.bond_angles(g, "Ta", ("O", "Cl"), cutoffs),
                "Ta_O_Ta_deg": co.bond_angles(g, "O", ("Ta",), cutoffs)} for x, g in glasses.items()}
    return Structure(cutoffs, rdfs, by_x)


def diffusion(glasses: dict[float, list[Atoms]], settings: VolcanoSettings, potential,
              store: ResultsStore | None = None, progress: bool = True) -> list[dict]:
    """D_Li of every glass at every temperature of ``settings``: the k-th glass of each x runs with seed
    ``settings.seeds[k]``. One row per glass, ``{"parameters": {"x", "seed"}, "result": {"n_Li", "volume_A3",
    "density_g_cm3", "D_Li_cm2_s": {"T": [D, error]}}}`` (cm²/s), as :func:`volcano` takes them."""
    runs = [(x, t, k, g) for x, group in glasses.items() for t in settings.md_temperatures_K
            for k, g in enumerate(group)]
    values = ion_diffusion([(g, t, settings.seeds[k]) for x, t, k, g in runs], "Li", potential, settings.md_steps,
                           settings.md_timestep_fs, settings.md_sample_every, settings.md_equilibration_fraction,
                           settings.md_blocks, store, progress)
    rows: dict[tuple, dict] = {}
    for (x, t, k, g), d in zip(runs, values):
        row = rows.setdefault((x, k), volcano_row(x, settings.seeds[k], g.get_chemical_symbols().count("Li"),
                                                  float(g.get_volume()), g.info["melt_quench"]["density_g_cm3"], {}))
        row["result"]["D_Li_cm2_s"][f"{t:g}"] = list(d)
    return list(rows.values())


def volcano_row(x: float, seed: int, n_li: int, volume_A3: float, density_g_cm3: float,
                d_li_cm2_s: dict[str, list[float]]) -> dict:
    """One glass's row as :func:`volcano` takes it: its x and seed, its Li count, volume (Å³), density (g/cm³) and
    ``d_li_cm2_s`` (temperature in K as text -> [D, error], cm²/s)."""
    return {"parameters": {"x": x, "seed": seed}, "result": {"n_Li": n_li, "volume_A3": volume_A3,
                                                             "density_g_cm3": density_g_cm3, "D_Li_cm2_s": d_li_cm2_s}}


def volcano(rows: list[dict], temperature_K: float = 300.0, haven_ratio: float = 1.0) -> dict:
    """σ(``temperature_K``) against x from :func:`diffusion` rows (or the sweep's, which are the same).

    Per x, the glasses are combined at each temperature with :func:`~toolkit.transport.combine_replicas`, then
    fitted and converted by :func:`toolkit.conductivity.conductivity` (Haven ratio ``haven_ratio``). Returns
    ``{x: {"D": {T: [D, err]}, "n_glasses", "density_g_cm3", "fit", "fit_problem"}}`` (``fit`` is None, and
    ``fit_problem`` says why, when a D is not positive or D does not rise with T).
    """
    by_x: dict[float, list[dict]] = {}
    for row in rows:
        by_x.setdefault(float(row["parameters"]["x"]), []).append(row["result"])
    out = {}
    for x, results in sorted(by_x.items()):
        temperatures = sorted({float(t) for r in results for t in r["D_Li_cm2_s"]})
        sigma = conductivity({t: [r["D_Li_cm2_s"][f"{t:g}"] for r in results if f"{t:g}" in r["D_Li_cm2_s"]]
                              for t in temperatures}, results[0]["n_Li"],
                             float(np.mean([r["volume_A3"] for r in results])), temperature_K, haven_ratio=haven_ratio)
        out[x] = {**sigma, "n_glasses": len(results),
                  "density_g_cm3": float(np.mean([r["density_g_cm3"] for r in results]))}
    return out


def peak(volcano_result: dict) -> float | None:
    """The x of the highest σ among the compositions with a fit, or None."""
    fitted = {x: v["fit"] for x, v in volcano_result.items() if v["fit"] is not None}
    return max(fitted, key=lambda x: fitted[x]["sigma_S_cm"][0]) if fitted else None


def _cl_rich(motif_fractions: dict) -> float:
    """The fraction of Ta in motifs with at most one O (TaO0Clb, TaO1Clb)."""
    return sum(f for name, f in motif_fractions.items() if int(name.split("O")[1].split("Cl")[0]) <= 1)


def descriptors(by_x: dict) -> dict[str, dict[float, float]]:
    """Structural descriptors per x from :attr:`Structure.by_x`: the Cl-rich Ta motifs, the bridging-O fraction and
    the Li–Cl coordination number, each x -> value."""
    return {"Cl-rich Ta motifs (≤ 1 O)": {x: _cl_rich(s["motifs"]) for x, s in by_x.items()},
            "bridging O fraction": {x: s["bridging_O"] for x, s in by_x.items()},
            "CN Li–Cl": {x: s["coordination"]["Li-Cl"] for x, s in by_x.items()}}


def correlations(descriptor_values: dict, volcano_result: dict) -> dict[str, float | None]:
    """Pearson's r between each descriptor and log10 σ(300 K) over the compositions with a fit (None with fewer than
    three, or where the descriptor does not vary)."""
    fitted = {x: v["fit"] for x, v in volcano_result.items() if v["fit"] is not None}
    out = {}
    for name, values in descriptor_values.items():
        d = np.array([values[x] for x in fitted])
        log_sigma = np.log10([fitted[x]["sigma_S_cm"][0] for x in fitted])
        r = float(np.corrcoef(d, log_sigma)[0, 1]) if len(fitted) > 2 and d.std() > 0 else float("nan")
        out[name] = None if np.isnan(r) else r
    return out


@dataclass(frozen=True)
class VolcanoResult:
    """A run of study 2, from its steps: the ``glasses`` (x -> list), their :class:`Structure`, the :func:`diffusion`
    rows, and the potential against the DFT anchors (:func:`against_dft`) or None."""

    settings: VolcanoSettings
    glasses: dict = field(repr=False)
    structure: Structure = field(repr=False)
    rows: list = field(repr=False)
    dft: dict | None = field(default=None, repr=False)

    @property
    def transport(self) -> dict:
        return volcano(self.rows, haven_ratio=self.settings.haven_ratio)

    def to_summary(self, claims: list[dict] = ()) -> dict:
        """The study's ``summary.json`` keys (units in their names); ``claims``: the claim table's rows
        (:func:`toolkit.studies.oxyhalide_volcano_research.claim_rows`)."""
        transport, by_x = self.transport, self.structure.by_x
        return {
            "compositions": [{
                "x": x,
                "n_atoms": len(glasses[0]),
                "density_g_cm3": float(np.mean([g.info["melt_quench"]["density_g_cm3"] for g in glasses])),
                "coordination": by_x[x]["coordination"],
                "motifs": by_x[x]["motifs"],
                "bridging_O_fraction": by_x[x]["bridging_O"],
                "polyhedral_sharing_per_Ta": by_x[x]["sharing"],
                "D_Li_cm2_s": {f"{t:g}": v for t, v in transport[x]["D"].items()},
                "Ea_eV": transport[x]["fit"]["Ea_eV"] if transport[x]["fit"] else None,
                "sigma_300K_S_cm": transport[x]["fit"]["sigma_S_cm"] if transport[x]["fit"] else None,
            } for x, glasses in self.glasses.items()],
            "peak_x": peak(transport),
            "cutoffs_A": {co.pair_label(a, b): rc for (a, b), rc in self.structure.cutoffs_A.items()},
            "descriptor_correlation_with_log_sigma": correlations(descriptors(by_x), transport),
            "haven_ratio": self.settings.haven_ratio,
            "against_dft": None if self.dft is None else dft_summary(self.dft),
            "claims": list(claims),
        }


def against_dft(potential) -> dict:
    """``potential`` beside study 2's DFT anchors (:mod:`toolkit.glass_anchors`): ``eos``, the equation of state of
    the anchored glass by both (None while a point is missing); ``frames``, its force and energy errors on each DFT
    frame; ``convergence``, what tighter DFT settings change (the pressure at the converged cutoff among them)."""
    points = ga.load_points()
    return {"eos": ga.eos_against_dft(potential, points), "frames": frame_errors(potential, points),
            "convergence": ga.convergence_rows(points)}


def dft_summary(dft: dict) -> dict:
    """The summary's part of :func:`against_dft`: ``rows`` (quantity, potential, dft, difference) for the anchored
    glass's density at its energy minimum (g/cm³), its bulk modulus (GPa) and the pressure (GPa) on the potential's
    relaxed glass, DFT's at each higher cutoff; the force RMSE (eV/Å) per group of frames, and the frame count."""
    rows, eos = [], dft["eos"]
    if eos is not None:
        rows += [{"quantity": f"x = {eos['x']:g} glass: {name}", "potential": eos["potential"][key],
                  "dft": eos["dft"][key], "difference": eos["potential"][key] - eos["dft"][key]}
                 for name, key in (("density at the E(V) minimum (g/cm³)", "density_g_cm3"),
                                   ("bulk modulus (GPa)", "bulk_modulus_GPa"))]
        rows += [{"quantity": f"x = {eos['x']:g} glass: pressure on the glass as CHGNet relaxed it (GPa; DFT at "
                              f"{row['setting']} = {row['value']:g})", "potential": eos["relaxed_pressure_GPa"],
                  "dft": row["pressure_GPa"], "difference": eos["relaxed_pressure_GPa"] - row["pressure_GPa"]}
                 for row in dft["convergence"] if row["setting"] == "ecut_eV"]  # the stress converges with the cutoff
    return {"rows": rows, "n_frames": len(dft["frames"]), "force_rmse_eV_A": ga.force_rmse_by_group(dft["frames"])}


def run(settings: VolcanoSettings, potential, store: ResultsStore | None = None, progress: bool = True) -> VolcanoResult:
    """Study 2 from its steps: a glass per x and seed, their structure, and their Li diffusion."""
    glasses = {x: [glass(x, s, settings, potential, store, progress) for s in settings.seeds] for x in settings.x_values}
    found = structure(glasses, settings.rdf_r_max_A)
    return VolcanoResult(settings, glasses, found, diffusion(glasses, settings, potential, store, progress),
                         against_dft(potential))
