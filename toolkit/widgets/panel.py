"""The layout the explorers share: one slider, a line of text, and a plot beside a 3D view."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display


def show_beside(row, plot, view) -> None:
    """Make ``view`` (nglview) a direct child of ``row`` next to ``plot``: an NGL stage inside a
    Box nested in a row starts at zero size and stays blank in JupyterLab (seen in Chromium)."""
    row.children = [plot, view]


class SliderPanel:
    """Base for explorers driven by one selection ``slider``: subclasses draw in :meth:`redraw`,
    filling ``info`` (HTML), the plot (:meth:`show_figure`) and the 3D view (:meth:`show_view`)."""

    def __init__(self, slider: widgets.SelectionSlider):
        self.slider = slider
        self.info = widgets.HTML()
        self.plot = widgets.Output()
        self.row = widgets.HBox([self.plot])
        self.slider.observe(lambda _: self.redraw(), "value")
        self.redraw()
        self.widget = widgets.VBox([self.slider, self.info, self.row])

    def redraw(self) -> None:
        raise NotImplementedError

    def show_view(self, view) -> None:
        """Put ``view`` beside the plot, replacing the previous one."""
        self.view = view
        show_beside(self.row, self.plot, view)

    def show_figure(self, fig) -> None:
        """Replace the plot area's content with ``fig`` (and free it)."""
        self.plot.clear_output(wait=True)
        with self.plot:
            fig.tight_layout()
            display(fig)
        plt.close(fig)
