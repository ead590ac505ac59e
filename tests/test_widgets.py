"""Widgets are thin layers: state changes must produce the right frames and options."""

import numpy as np
import pytest
from ase import Atoms

from toolkit import phonons as ph
from toolkit.perovskite import add_proton, basno3, y_doped
from toolkit.widgets import highlight_indices, structure_view
from toolkit.widgets.viewer import element_colours, mode_arrows, polyhedra_mesh, stage
from toolkit.widgets.phonon_explorer import PhononModeExplorer

from explorer_inputs import toy_alloy_explorer, toy_volcano_compositions


def test_structure_view_highlights_y_and_h():
    doped = add_proton(y_doped(basno3(), np.eye(3) * 2), 2, [0, 0, 1])
    assert highlight_indices(doped, ("H", "Y")) == {"Y": [1], "H": [40]}
    view = structure_view(doped).stage
    spheres = {m["kwargs"]["sele"]: m["kwargs"]["color"] for m in view._ngl_msg_archive
               if m.get("methodName") == "addRepresentation" and m["args"] == ["spacefill"]}
    assert spheres == {"@1": "orange", "@40": "white"}
    spins = [m["args"] for m in view._ngl_msg_archive if m.get("methodName") == "spin"]
    assert len(spins) == 2 and all(angle > 0.1 for _, angle in spins)  # not straight down an axis


def test_the_legend_names_every_element_in_the_colour_it_is_drawn():
    doped = add_proton(y_doped(basno3(), np.eye(3) * 2), 2, [0, 0, 1])
    colours = element_colours(doped, highlight=("H", "Y"))
    # nglview's element colours are Jmol's: Ba green, Sn grey-blue, O red; highlighted ones take their sphere's colour
    assert colours == {"Ba": "#00c900", "Y": "#ffa500", "Sn": "#668080", "O": "#ff0d0d", "H": "#ffffff"}
    view = structure_view(doped, title="BaSn<sub>7</sub>YO<sub>24</sub>H")
    legend = view.caption.value
    assert "BaSn<sub>7</sub>YO<sub>24</sub>H" in legend
    for element, colour in colours.items():
        assert f'data-colour="{colour}"' in legend and f"</span> {element}</span>" in legend


def test_octahedra_around_each_sn_and_nothing_for_a_flat_or_two_fold_centre():
    host = basno3(4.116).repeat(2)
    triangles, rgb = polyhedra_mesh(host, centres=("Sn",))
    assert triangles.shape == (8 * 8, 3, 3)  # eight SnO6 octahedra of eight faces each, across the boundary
    edges = np.linalg.norm(triangles - np.roll(triangles, 1, axis=1), axis=2)
    assert np.allclose(edges, 4.116 / np.sqrt(2), atol=1e-6)  # O–O edges of a regular octahedron
    assert np.allclose(rgb, [0.4, 0.5, 0.5], atol=0.01)  # Sn's colour
    assert polyhedra_mesh(host, centres=("Ba",), ligands=("Sn",))[0].shape == (8 * 12, 3, 3)  # BaSn8 cubes
    assert polyhedra_mesh(host, centres=("O",), ligands=("Ba",))[0].shape == (0, 3, 3)  # four Ba in a plane
    assert polyhedra_mesh(host, centres=("O",), ligands=("Sn",))[0].shape == (0, 3, 3)  # two Sn: no polyhedron
    view = stage(host, highlight=(), polyhedra=("Sn",))
    meshes = [m for m in view._ngl_msg_archive if m.get("methodName") == "addShape"]
    assert len(meshes) == 1 and len(meshes[0]["args"][1][0][1]) == 64 * 9


def test_mode_arrows_start_at_equilibrium_and_follow_the_mode(host_phonon):
    frames = ph.mode_animation(host_phonon, 0, ph.CUBIC_POINTS["R"], amplitude_A=0.2, n_frames=8)
    starts, ends = mode_arrows(frames, longest_A=1.5)
    base = np.mean([f.positions for f in frames], axis=0)
    lengths = np.linalg.norm(ends - starts, axis=1)
    assert lengths.max() == pytest.approx(1.5) and 0 < len(starts) <= len(base)
    moves = np.linalg.norm(frames[0].positions - base, axis=1)
    assert len(starts) == (moves >= 0.1 * moves.max()).sum()
    assert all(np.isclose(np.linalg.norm(base - s, axis=1).min(), 0) for s in starts)
    unit = (ends - starts) / lengths[:, None]
    moved = frames[0].positions[moves >= 0.1 * moves.max()] - starts
    assert np.allclose(unit, moved / np.linalg.norm(moved, axis=1)[:, None])


def test_highlights_never_share_a_colour_with_oxygen_or_each_other():
    host = basno3().repeat(2)
    spheres = [m["kwargs"]["color"] for m in stage(host, highlight=("Sn", "Ba", "O"))._ngl_msg_archive
               if m.get("methodName") == "addRepresentation" and m["args"] == ["spacefill"]]
    assert "royalblue" in spheres and len(set(spheres)) == 3 and "red" not in spheres


@pytest.mark.parametrize("example, ion", [("Li3N", "Li"), ("Na3PS4", "Na")])
def test_every_colour_in_a_view_stands_apart(example, ion):
    """Each element (highlighted or not) and the arrows get colours a participant can tell apart:
    the Li highlight once took lime green, which is Cl's colour in the oxyhalide glasses."""
    from matplotlib.colors import to_rgb

    from ase.io import read

    from toolkit.studies.your_material import EXAMPLE_DIR
    from toolkit.widgets.viewer import ARROW_COLOUR, MIN_CONTRAST

    glass = Atoms("TaCl5Li2O", positions=np.arange(27).reshape(9, 3), cell=[9, 9, 9], pbc=True)
    for atoms, highlight in ((glass, ("Li",)), (glass, ("Li", "Ta")), (read(EXAMPLE_DIR / f"{example}.cif"), (ion,)),
                             (basno3().repeat(2), ("Sn", "Ba"))):
        colours = [to_rgb(c) for c in element_colours(atoms, highlight).values()] + [to_rgb(ARROW_COLOUR)]
        gaps = [np.linalg.norm(np.subtract(a, b)) for i, a in enumerate(colours) for b in colours[i + 1:]]
        assert min(gaps) >= MIN_CONTRAST, (atoms.get_chemical_formula(), highlight, element_colours(atoms, highlight))


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
    assert explorer.play.max == 5 and explorer._link.target == (explorer.view, "frame")  # play drives this viewer

    explorer.q_picker.value = ph.CUBIC_POINTS["R"]
    assert len(explorer.frames[0]) == 40  # an R mode needs the 2x2x2 cell
    options = explorer.branch.options
    freqs = ph.frequencies_at(host_phonon, ph.CUBIC_POINTS["R"])
    marked = [i for label, i in options if "imaginary" in label]
    assert len(options) == 15 and marked == [i for i, f in enumerate(freqs) if f < -0.3]
    assert explorer.branch.value == int(np.argmin(freqs))

    # the caption names the mode and what carries it; the stage has its displacement arrows
    freq = freqs[explorer.branch.value]
    assert f"R, branch {explorer.branch.value}: {freq:+.2f} THz" in explorer.caption.value
    assert "moves O" in explorer.caption.value and "displacement" in explorer.caption.value
    arrows = [m for m in explorer.view._ngl_msg_archive if m.get("methodName") == "addShape" and m["args"][1][0][0] == "arrow"]
    assert 0 < len(arrows) <= len(explorer.frames[0])
    loaded = [m for m in explorer.view._ngl_msg_archive if m.get("methodName") == "loadFile"]
    assert len(loaded) == 1  # one stage, redrawn: what it replays when shown again is the current mode alone

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


def test_alloy_explorer_follows_the_slider():
    explorer = toy_alloy_explorer()
    assert [value for _, value in explorer.slider.options] == ["vacancy", "perfect", "antisite"]  # by Li content
    explorer.slider.value = "antisite"
    assert explorer.highlights()["antisite"][1] and not explorer.highlights()["next to a vacancy"][1]
    assert "antisite" in explorer.legend.value and "next to a vacancy" not in explorer.legend.value
    assert "1 antisite" in explorer.info.value
    explorer.slider.value = "vacancy"
    assert explorer.highlights()["next to a vacancy"][1] and not explorer.highlights()["antisite"][1]
    assert "x = 0.484" in explorer.info.value


def test_volcano_explorer_follows_the_slider():
    from toolkit.widgets.volcano_explorer import VolcanoExplorer

    compositions = toy_volcano_compositions({0.5: 1e-4, 1.5: 1e-3, 2.5: None})
    explorer = VolcanoExplorer(compositions, label="test")
    xs, sigma, error = explorer.volcano()
    assert xs.tolist() == [0.5, 1.5] and sigma.tolist() == [1e-4, 1e-3]  # x = 2.5 has no fit, no point
    assert explorer.slider.value == 0.5 and "1.00e-04" in explorer.info.value
    explorer.slider.value = 2.5
    assert "no Arrhenius fit" in explorer.info.value
    li = [i for i, s in enumerate(compositions[2.5]["atoms"].get_chemical_symbols()) if s == "Li"]
    spheres = [m["kwargs"]["sele"] for m in explorer.view._ngl_msg_archive
               if m.get("methodName") == "addRepresentation" and m["args"] == ["spacefill"]]
    assert spheres == ["@" + ",".join(map(str, li))]


def test_explorer_plots_are_drawn_without_pyplot_and_stay_whole_under_threaded_callbacks(host_phonon, monkeypatch):
    """Callbacks may run on ipykernel's subshell threads: no pyplot (global state), and every PNG the
    widget shows is one whole drawing even when callbacks from several threads overlap."""
    import threading
    from io import BytesIO

    import matplotlib.pyplot as plt
    from PIL import Image

    def no_pyplot(*args, **kwargs):
        raise AssertionError("an explorer drew through pyplot")

    monkeypatch.setattr(plt, "figure", no_pyplot)
    monkeypatch.setattr(plt, "subplots", no_pyplot)
    explorer = PhononModeExplorer(host_phonon, points=ph.CUBIC_POINTS, bands=ph.band_structure(host_phonon, 5),
                                  n_frames=2)
    shown = []
    explorer.plot.widget.observe(lambda change: shown.append(bytes(change["new"])), "value")

    def click(seed):
        for k in range(4):
            explorer.branch.value = (seed + 3 * k) % 15
            explorer.q_picker.value = list(ph.CUBIC_POINTS.values())[(seed + k) % 4]

    threads = [threading.Thread(target=click, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(shown) >= 12
    sizes = {Image.open(BytesIO(png)).size for png in shown}
    assert sizes == {(450, 320)}  # figsize 4.5 x 3.2 in at 100 dpi, every time
    for png in shown:
        grey = np.asarray(Image.open(BytesIO(png)).convert("L"))
        assert (grey < 120).mean(axis=1).max() > 0.3  # the x axis is drawn in every one
