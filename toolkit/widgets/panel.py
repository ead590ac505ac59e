"""The layout the explorers share: one slider, a line of text, and a plot beside a 3D view."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display


class SliderPanel:
    """Base for explorers driven by one selection ``slider``: subclasses draw in :meth:`redraw`,
    filling ``info`` (HTML), the plot (through :meth:`show_figure`) and ``view_box``."""

    def __init__(self, slider: widgets.SelectionSlider):
        self.slider = slider
        self.info = widgets.HTML()
        self.plot = widgets.Output()
        self.view_box = widgets.Box()
        self.slider.observe(lambda _: self.redraw(), "value")
        self.redraw()
        self.widget = widgets.VBox([self.slider, self.info, widgets.HBox([self.plot, self.view_box])])

    def redraw(self) -> None:
        raise NotImplementedError

    def show_figure(self, fig) -> None:
        """Replace the plot area's content with ``fig`` (and free it)."""
        self.plot.clear_output(wait=True)
        with self.plot:
            fig.tight_layout()
            display(fig)
        plt.close(fig)
