"""Volcano explorer: a slider over the Li2O content x showing the glass (Li highlighted), its
Ta-centred motifs, where that x sits on the conductivity volcano, and its Arrhenius fit."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from toolkit.widgets.panel import SliderPanel
from toolkit.widgets.viewer import VIEW_WIDTH, caption_html, stage


class VolcanoExplorer(SliderPanel):
    """``compositions``: x -> dict with ``atoms`` (a glass), ``motifs`` (motif -> fraction,
    from :func:`toolkit.coordination.motifs`), ``D_Li_cm2_s`` (T -> [D, error]),
    ``sigma_300K_S_cm`` ([value, error]) and ``arrhenius`` (a :func:`toolkit.transport.arrhenius_fit`
    result, or None where no fit was possible)."""

    def __init__(self, compositions: dict, label: str = ""):
        self.compositions, self.label = compositions, label
        super().__init__(widgets.SelectionSlider(options=[(f"{x:g}", x) for x in sorted(compositions)],
                                                 description="x (Li₂O)", layout=widgets.Layout(width="420px")),
                         figsize=(11, 3.2), below=True)

    def volcano(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, σ, error)`` (S/cm) of every composition with a conductivity."""
        rows = [(x, *c["sigma_300K_S_cm"]) for x, c in sorted(self.compositions.items()) if c["sigma_300K_S_cm"]]
        return tuple(np.array(column) for column in zip(*rows)) if rows else (np.array([]),) * 3

    def redraw(self) -> None:
        x = self.slider.value
        entry = self.compositions[x]
        sigma = entry["sigma_300K_S_cm"]
        top = max(entry["motifs"], key=entry["motifs"].get)
        self.info.value = (f"<b>TaCl₅·{x:g}Li₂O</b>, {len(entry['atoms'])} atoms: most common motif {top} "
                           f"({100 * entry['motifs'][top]:.0f} % of Ta); σ(300 K) = "
                           + (f"{sigma[0]:.2e} ± {sigma[1]:.1e} S/cm" if sigma else "no Arrhenius fit"))
        self.show_view(stage(entry["atoms"], highlight=("Li",), width=VIEW_WIDTH, polyhedra=("Ta",), view=self.view),
                       caption_html(entry["atoms"], highlight=("Li",)))
        with self.plot.drawing() as fig:
            ax_m, ax_v, ax_a = fig.subplots(1, 3)
            names = sorted(entry["motifs"])
            ax_m.bar(range(len(names)), [entry["motifs"][n] for n in names], color="C2")
            ax_m.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
            ax_m.set_ylabel("fraction of Ta")
            xs, s, e = self.volcano()
            if len(xs):
                ax_v.errorbar(xs, s, yerr=e, fmt="o-", c="C0", capsize=3)
            ax_v.axvline(x, c="C3", ls=":")
            ax_v.set_yscale("log")
            ax_v.set_xlabel("x in TaCl$_5$·xLi$_2$O")
            ax_v.set_ylabel("σ(300 K) (S/cm)")
            temperatures = np.array(sorted(entry["D_Li_cm2_s"]), dtype=float)
            values = np.array([entry["D_Li_cm2_s"][t] for t in sorted(entry["D_Li_cm2_s"])])
            ax_a.errorbar(1000 / temperatures, values[:, 0], yerr=values[:, 1], fmt="o", c="C1")
            if entry["arrhenius"] is not None:
                grid = np.linspace(300, temperatures.max(), 40)
                ax_a.plot(1000 / grid, entry["arrhenius"].predict(grid), "--", c="C1",
                          label=f"E$_a$ = {entry['arrhenius'].Ea_eV:.2f} ± {entry['arrhenius'].Ea_err_eV:.2f} eV")
                ax_a.legend(fontsize=7)
            ax_a.set_yscale("log")
            ax_a.set_xlabel("1000 / T (1/K)")
            ax_a.set_ylabel("D$_{Li}$ (cm$^2$/s)")
            fig.suptitle(self.label, fontsize=9)
