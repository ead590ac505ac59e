"""Alloy explorer: a Li-content slider over computed configurations, showing where each sits
on the convex hull and the voltage curve, and its structure with defects highlighted."""

from __future__ import annotations

import ipywidgets as widgets

from toolkit.defects import defect_map
from toolkit.widgets.panel import SliderPanel
from toolkit.widgets.viewer import VIEW_WIDTH, caption_html, stage


class AlloyExplorer(SliderPanel):
    """``table``: :func:`toolkit.thermodynamics.hull_table`; ``configurations``: name -> relaxed
    Atoms (the slider runs over them by Li fraction); ``perfect``: the defect-free cell they were
    made from; ``voltage``: points ``(x, V)`` from :func:`toolkit.thermodynamics.voltage_curve`."""

    def __init__(self, table: dict, configurations: dict, perfect, voltage):
        self.table, self.configurations, self.perfect, self.voltage = table, configurations, perfect, voltage
        names = sorted(configurations, key=lambda n: table[n]["x"])
        super().__init__(widgets.SelectionSlider(options=[(f"x={table[n]['x']:.3f}", n) for n in names],
                                                 description="Li content", layout=widgets.Layout(width="480px")),
                         figsize=(4.5, 5))

    def highlights(self, found: dict | None = None) -> dict[str, tuple[str, list[int]]]:
        """Label -> (colour, atom indices): antisites red, neighbours of vacancies blue; ``found`` is the shown
        configuration's :func:`toolkit.defects.defect_map`, when the caller has it already."""
        found = found or defect_map(self.configurations[self.slider.value], self.perfect)
        return {"antisite": ("red", found["antisites"]), "next to a vacancy": ("blue", found["vacancy_neighbours"])}

    def redraw(self) -> None:
        name = self.slider.value
        row = self.table[name]
        found = defect_map(self.configurations[name], self.perfect)
        self.info.value = (f"<b>{name}</b>: x = {row['x']:.3f}, formation energy {row['formation_eV_atom']:.3f} eV/atom, "
                           f"{1000 * row['e_above_hull_eV_atom']:.1f} meV/atom above the hull; "
                           f"{len(found['vacancies'])} vacancy(ies), {len(found['antisites'])} antisite(s)")
        atoms, marks = self.configurations[name], self.highlights(found)
        self.show_view(stage(atoms, highlight=(), extra=marks, width=VIEW_WIDTH, view=self.view), caption_html(atoms, (), marks))
        with self.plot.drawing() as fig:
            ax, ax_v = fig.subplots(2, 1, sharex=True)
            for other, r in self.table.items():
                ax.plot(r["x"], r["formation_eV_atom"], "o" if r["stable"] else "x", c="k" if r["stable"] else "grey", ms=4)
            stable = sorted((r["x"], r["formation_eV_atom"]) for r in self.table.values() if r["stable"])
            ax.plot(*zip(*stable), "-", c="k", lw=0.8)
            ax.plot(row["x"], row["formation_eV_atom"], "o", mfc="none", mec="C3", ms=12)
            ax.set_ylabel("formation energy (eV/atom)")
            ax_v.plot(*zip(*self.voltage), "-", c="C0")
            ax_v.axvline(row["x"], c="C3", ls=":")
            ax_v.axhline(0, c="grey", lw=0.5)
            ax_v.set_xlabel("x in Li$_x$Ga$_{1-x}$")
            ax_v.set_ylabel("V vs Li/Li$^+$ (V)")
