"""Phonon-mode explorer: pick a q-point and a branch, see where it sits, watch it move."""

from __future__ import annotations

import threading

import ipywidgets as widgets
import numpy as np

from toolkit import phonons
from toolkit.widgets.panel import WidgetFigure, show_beside
from toolkit.widgets.viewer import VIEW_WIDTH, caption_html, mode_arrows, stage


class PhononModeExplorer:
    """Band structure (or Γ spectrum), a q/branch picker with imaginary modes marked, and an
    nglview animation of the chosen mode with an amplitude slider (Å), displacement arrows, and a
    caption with the mode's frequency, which elements carry it, and the element legend.

    ``points`` maps labels to reduced q; ``bands`` is :func:`toolkit.phonons.band_structure`
    output (omit it for a supercell whose bands are not meaningful: the Γ spectrum is drawn).
    """

    def __init__(self, phonon, points=None, bands=None, threshold_THz: float = 0.3, highlight=("H", "Y"),
                 n_frames: int = 16):
        self.phonon, self.bands, self.threshold, self.highlight = phonon, bands, threshold_THz, highlight
        self.n_frames = n_frames
        points = points or {"Γ": (0.0, 0.0, 0.0)}
        self.q_picker = widgets.Dropdown(options=list(points.items()), description="q-point")
        self.branch = widgets.Dropdown(description="branch", layout=widgets.Layout(width="320px"))
        self.amplitude = widgets.FloatSlider(value=0.3, min=0.05, max=1.0, step=0.05, description="amplitude Å")
        self.play = widgets.Play(min=0, max=n_frames - 1, interval=80, description="play the mode")
        self.plot = WidgetFigure((4.5, 3.2))
        self.row = widgets.HBox([self.plot.widget])
        self.caption = widgets.HTML()
        self.frames: list = []
        self._link = None
        self.view = None  # one stage for every mode (see toolkit.widgets.viewer.stage)
        self._updating = False
        # one redraw at a time: callbacks can arrive on ipykernel's subshell threads as well as its main thread
        self._lock = threading.RLock()
        self._update_branches()
        self.q_picker.observe(lambda _: self._update_branches(), "value")
        self.branch.observe(lambda _: self._updating or self._redraw(), "value")
        self.amplitude.observe(lambda _: self._redraw(), "value")
        self.widget = widgets.VBox([widgets.HBox([self.q_picker, self.branch, self.amplitude, self.play]),
                                    self.caption, self.row])

    def branch_options(self) -> list[tuple[str, int]]:
        """Dropdown entries for the current q: ``(label, band_index)``, imaginary ones marked."""
        freqs = phonons.frequencies_at(self.phonon, self.q_picker.value)
        return [(f"{i}: {f:+.2f} THz" + ("  ← imaginary" if f < -self.threshold else ""), i)
                for i, f in enumerate(freqs)]

    def _update_branches(self) -> None:
        with self._lock:
            options = self.branch_options()
            softest = int(np.argmin(phonons.frequencies_at(self.phonon, self.q_picker.value)))
            self._updating = True  # one redraw for the new q, not one per intermediate branch value
            self.branch.options = options
            self.branch.value = options[softest][1]
            self._updating = False
            self._redraw()

    def _redraw(self) -> None:
        with self._lock:
            self._redraw_unlocked()

    def _redraw_unlocked(self) -> None:
        if self.branch.value is None:
            return
        self.frames = phonons.mode_animation(self.phonon, self.branch.value, self.q_picker.value,
                                             self.amplitude.value, self.n_frames)
        arrows = mode_arrows(self.frames)
        view = stage(self.frames, highlight=self.highlight, width=VIEW_WIDTH, arrows=arrows, view=self.view)
        self.caption.value = caption_html(self.frames[0], self.highlight, title=self.title(), arrows=True)
        if self._link is not None:
            self._link.unlink()
        self._link = widgets.jslink((self.play, "value"), (view, "frame"))  # played in the browser, no kernel round trip
        self.view = view
        show_beside(self.row, self.plot.widget, view)
        self._draw_plot()

    def title(self) -> str:
        """The chosen mode in words: q-point, branch, frequency (THz), and the share of the mode
        (mass-weighted eigenvector norm) each element carries, largest first."""
        label = next(lab for lab, q in self.q_picker.options if q == self.q_picker.value)
        freq = phonons.frequencies_at(self.phonon, self.q_picker.value)[self.branch.value]
        cell = self.phonon.primitive
        groups = {s: [i for i, t in enumerate(cell.symbols) if t == s] for s in dict.fromkeys(cell.symbols)}
        shares = phonons.participation(self.phonon, self.branch.value, groups, self.q_picker.value)
        carried = ", ".join(f"{s} {100 * w:.0f} %" for s, w in sorted(shares.items(), key=lambda kv: -kv[1]) if w >= 0.05)
        kind = " (imaginary: unstable)" if freq < -self.threshold else ""
        return f"{label}, branch {self.branch.value}: {freq:+.2f} THz{kind}; moves {carried}"

    def _draw_plot(self) -> None:
        label = next(lab for lab, q in self.q_picker.options if q == self.q_picker.value)
        freqs = phonons.frequencies_at(self.phonon, self.q_picker.value)
        with self.plot.drawing() as fig:
            ax = fig.subplots()
            if self.bands is not None:
                for d, f in zip(self.bands["distances"], self.bands["frequencies_THz"]):
                    ax.plot(d, f, c="k", lw=0.8)
                ax.set_xticks(self.bands["label_positions"], self.bands["labels"])
                x = self.bands["label_positions"][self.bands["labels"].index(label)] if label in self.bands["labels"] else 0
                ax.plot([x], [freqs[self.branch.value]], "o", c="C3", ms=8)
                ax.set_xlim(self.bands["label_positions"][0], self.bands["label_positions"][-1])
            else:
                colours = np.where(freqs < -self.threshold, "C3", "C0")
                ax.scatter(np.arange(len(freqs)), freqs, c=colours, s=10)
                ax.plot([self.branch.value], [freqs[self.branch.value]], "o", mfc="none", mec="k", ms=10)
                ax.set_xlabel(f"branch at {label}")
            ax.axhline(0, c="grey", lw=0.5)
            ax.set_ylabel("frequency (THz)")
