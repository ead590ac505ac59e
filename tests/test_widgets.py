"""Widgets are thin layers: state changes must produce the right frames and options."""

import numpy as np
import pytest

from toolkit import phonons as ph
from toolkit.perovskite import add_proton, basno3, y_doped
from toolkit.widgets import highlight_indices, structure_view
from toolkit.widgets.phonon_explorer import PhononModeExplorer


def test_structure_view_highlights_y_and_h():
    doped = add_proton(y_doped(basno3(), np.eye(3) * 2), 2, [0, 0, 1])
    assert highlight_indices(doped, ("H", "Y")) == {"Y": [1], "H": [40]}
    view = structure_view(doped)
    spheres = {m["kwargs"]["sele"]: m["kwargs"]["color"] for m in view._ngl_msg_archive
               if m.get("methodName") == "addRepresentation" and m["args"] == ["spacefill"]}
    assert spheres == {"@1": "orange", "@40": "white"}


@pytest.fixture(scope="module")
def host_phonon(chgnet):
    return ph.compute_phonons(basno3(4.19), chgnet, supercell=(2, 2, 2), progress=False)


def test_mode_explorer_follows_its_controls(host_phonon):
    explorer = PhononModeExplorer(host_phonon, points=ph.CUBIC_POINTS, bands=ph.band_structure(host_phonon, 5),
                                  n_frames=6)
    # starts on the softest branch at Γ
    assert explorer.branch.value == int(np.argmin(ph.frequencies_at(host_phonon, (0, 0, 0))))
    assert len(explorer.frames) == 6 and len(explorer.frames[0]) == 5
    assert explorer.view.max_frame == 5  # the viewer holds the whole animation

    explorer.q_picker.value = ph.CUBIC_POINTS["R"]
    assert len(explorer.frames[0]) == 40  # an R mode needs the 2x2x2 cell
    options = explorer.branch.options
    freqs = ph.frequencies_at(host_phonon, ph.CUBIC_POINTS["R"])
    marked = [i for label, i in options if "imaginary" in label]
    assert len(options) == 15 and marked == [i for i, f in enumerate(freqs) if f < -0.3]
    assert explorer.branch.value == int(np.argmin(freqs))

    explorer.amplitude.value = 0.5
    moves = max(np.linalg.norm(f.positions - explorer.frames[0].positions, axis=1).max() for f in explorer.frames)
    assert moves == pytest.approx(1.0, rel=0.05)  # peak to peak, twice the amplitude

    before = [f.positions.copy() for f in explorer.frames]
    explorer.branch.value = options[-1][1]
    assert not np.allclose(before[1], explorer.frames[1].positions)


def test_mode_explorer_marks_imaginary_branches(host_phonon):
    explorer = PhononModeExplorer(host_phonon, points=ph.CUBIC_POINTS, threshold_THz=0.3)
    assert sum("imaginary" in label for label, _ in explorer.branch.options) == 0  # the host is stable
    explorer.threshold = -100.0  # everything below +100 THz is now "imaginary"
    explorer.q_picker.value = ph.CUBIC_POINTS["X"]
    assert sum("imaginary" in label for label, _ in explorer.branch.options) == 15
