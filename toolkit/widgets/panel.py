"""The layout the explorers share: controls, a line of text, a legend, and a plot beside (or above) a 3D view.

The plot is a :class:`WidgetFigure`: a ``matplotlib.figure.Figure`` that the widget owns, rendered to
PNG into an ``ipywidgets.Image``. Neither pyplot nor an ``Output`` widget is involved, because widget
callbacks may run on ipykernel's subshell threads as well as on its main thread: pyplot's global
figure state is not thread-safe, and an ``Output`` widget captures by the parent message of whichever
thread writes, so a redraw from a callback could leave the plot blank or half drawn.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from io import BytesIO

import ipywidgets as widgets
from matplotlib.figure import Figure


def show_beside(row, plot, view) -> None:
    """Make ``view`` (nglview) a direct child of ``row`` next to ``plot``: an NGL stage inside a
    Box nested in a row starts at zero size and stays blank in JupyterLab (seen in Chromium)."""
    row.children = [plot, view]


class WidgetFigure:
    """A matplotlib figure owned by an ``ipywidgets.Image`` (``widget``), redrawn in place.

    ``figsize`` in inches, ``dpi`` in dots per inch. Use :meth:`drawing` to draw::

        with plot.drawing() as fig:
            ax = fig.subplots()
            ax.plot(x, y)

    The figure is cleared on entry and rendered to PNG on a clean exit; redraws from several threads
    take turns (a lock), so each PNG is one whole drawing.
    """

    def __init__(self, figsize=(4.5, 3.2), dpi: int = 100):
        self.figure = Figure(figsize=figsize, dpi=dpi)
        self.widget = widgets.Image(format="png", layout=widgets.Layout(width=f"{figsize[0] * dpi:.0f}px",
                                                                              flex="0 0 auto"))
        self._lock = threading.Lock()

    @contextmanager
    def drawing(self):
        """Clear the figure, let the caller draw on it, then show the result (PNG bytes in ``widget``)."""
        with self._lock:
            self.figure.clear()
            yield self.figure
            self.figure.tight_layout()
            buffer = BytesIO()
            self.figure.savefig(buffer, format="png")
            self.widget.value = buffer.getvalue()

    @property
    def png(self) -> bytes:
        """The PNG the widget shows now (empty before the first drawing)."""
        return bytes(self.widget.value)


class SliderPanel:
    """Base for explorers driven by one selection ``slider``: subclasses draw in :meth:`redraw`,
    filling ``info`` (HTML), the plot (``with self.plot.drawing() as fig``) and the 3D view
    (:meth:`show_view`). ``figsize`` (inches) sizes the plot; a plot too wide to leave room for the
    view beside it in a notebook's column puts the view ``below`` it."""

    def __init__(self, slider: widgets.SelectionSlider, figsize=(4.5, 3.2), below: bool = False):
        self.slider = slider
        self.info = widgets.HTML()
        self.legend = widgets.HTML()
        self.plot = WidgetFigure(figsize)
        self.view = None
        self.row = (widgets.VBox if below else widgets.HBox)([self.plot.widget])
        self.slider.observe(lambda _: self.redraw(), "value")
        self.redraw()
        self.widget = widgets.VBox([self.slider, self.info, self.legend, self.row])

    def redraw(self) -> None:
        raise NotImplementedError

    def show_view(self, view, legend: str) -> None:
        """Put ``view`` (:func:`toolkit.widgets.viewer.stage`) beside the plot (or below), with ``legend``
        (:func:`toolkit.widgets.viewer.caption_html`) above the row. Draw it with ``view=self.view`` after the first
        time (see :func:`~toolkit.widgets.viewer.stage`)."""
        self.view = view
        self.legend.value = legend
        show_beside(self.row, self.plot.widget, view)
