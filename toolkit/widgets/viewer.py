"""Structure viewer: nglview with an element legend, highlighted atoms, coordination polyhedra and
displacement arrows.

Two layers: :func:`stage` builds the bare ``nglview`` widget (what the explorers place beside their
plots), and :func:`structure_view` puts a caption with the legend above it (what a notebook cell shows).
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.data.colors import jmol_colors
from matplotlib.colors import to_hex, to_rgb

#: Width of a viewer placed beside a plot in the explorers, and the height of every viewer: nglview's own
#: default is a short strip, too small to tell an octahedron from its neighbours.
VIEW_WIDTH = "480px"
VIEW_HEIGHT = "400px"
#: Highlight colours for the species the studies care about, chosen apart from each other and from the
#: element colours nglview draws (O red, Cl and Ba green, Sn grey, Ta light blue, ...).
HIGHLIGHT_COLOURS = {"H": "white", "Y": "orange", "Li": "deeppink", "Ga": "purple", "Ta": "teal", "Sn": "royalblue"}
#: Highlight colours for any other element, in turn.
OTHER_HIGHLIGHTS = ("black", "navy", "saddlebrown", "cyan", "olive", "deepskyblue")
#: Two colours in one view closer than this (RGB distance, 0–1 per channel) are not told apart.
MIN_CONTRAST = 0.3
#: Displacement arrows: a colour no element is drawn in, and the length (Å) of the longest arrow.
ARROW_COLOUR = "magenta"
ARROW_LONGEST_A = 1.5
#: Polyhedra are drawn half transparent so that the centre atom stays visible.
POLYHEDRON_OPACITY = 0.5
#: A ligand belongs to a polyhedron within this factor of the sum of the two covalent radii
#: (Sn–O 2.05 Å x 1.2 = 2.46 Å; Ta–Cl 2.72 Å x 1.2 = 3.26 Å).
BOND_FACTOR = 1.2
#: Messages of an nglview stage that belong to its components (see :func:`stage`).
STALE_AFTER_REMOVAL = (("addRepresentation", "compList"), ("addShape", "Widget"), ("setParameters", "Representation"),
                       ("loadFile", "Stage"))
#: The default view turns this far (rad) about the screen's x and then y axis: looking straight down a
#: cell axis, atoms hide behind each other (an Sn behind its O octahedron).
VIEW_TILT_RAD = (0.35, 0.5)


def highlight_indices(atoms: Atoms, symbols) -> dict[str, list[int]]:
    """Indices of each requested element present in ``atoms`` (absent ones are left out)."""
    found: dict[str, list[int]] = {}
    for index, symbol in enumerate(atoms.get_chemical_symbols()):
        if symbol in symbols:
            found.setdefault(symbol, []).append(index)
    return found


def highlight_colours(atoms: Atoms, highlight) -> dict[str, str]:
    """Element -> the colour its highlight spheres get, for the requested elements present in ``atoms``:
    its :data:`HIGHLIGHT_COLOURS` entry, or else the first of :data:`OTHER_HIGHLIGHTS`, passing over any
    colour within :data:`MIN_CONTRAST` of another element's colour in this view (or of the arrows')."""
    marked = highlight_indices(atoms, highlight)
    taken = [jmol_colors[atomic_numbers[s]] for s in dict.fromkeys(atoms.get_chemical_symbols()) if s not in marked]
    taken.append(to_rgb(ARROW_COLOUR))
    chosen = {}
    for symbol in marked:
        candidates = ([HIGHLIGHT_COLOURS[symbol]] if symbol in HIGHLIGHT_COLOURS else []) + list(OTHER_HIGHLIGHTS)
        colour = next((c for c in candidates if min(np.linalg.norm(np.subtract(to_rgb(c), t)) for t in taken)
                       >= MIN_CONTRAST), candidates[0])
        chosen[symbol] = colour
        taken.append(to_rgb(colour))
    return chosen


def element_colours(atoms: Atoms, highlight=()) -> dict[str, str]:
    """Element -> the CSS colour (``#rrggbb``) it is drawn in: its highlight colour, or else the element
    colour nglview uses, which is Jmol's table as ASE holds it (``ase.data.colors.jmol_colors``)."""
    marked = highlight_colours(atoms, highlight)
    return {s: to_hex(to_rgb(marked[s])) if s in marked else to_hex(jmol_colors[atomic_numbers[s]])
            for s in dict.fromkeys(atoms.get_chemical_symbols())}


def legend_html(colours: dict[str, str], marks: dict[str, str] | None = None) -> str:
    """An HTML legend: a coloured swatch per element of ``colours``, then one per entry of ``marks``
    (label -> colour: antisites, displacement arrows, ...). Each swatch carries its colour in
    ``data-colour`` so that a browser test can find it on the canvas."""
    def swatch(label: str, colour: str) -> str:
        colour = to_hex(to_rgb(colour))
        return (f'<span class="toolkit-legend-entry" data-colour="{colour}" style="margin-right:0.8em;white-space:nowrap">'
                f'<span style="display:inline-block;width:0.9em;height:0.9em;border:1px solid #555;'
                f'border-radius:50%;vertical-align:middle;background:{colour}"></span> {html.escape(label)}</span>')

    entries = [swatch(s, c) for s, c in colours.items()] + [swatch(k, c) for k, c in (marks or {}).items()]
    return f'<div class="toolkit-legend">{"".join(entries)}</div>'


def polyhedra_mesh(atoms: Atoms, centres, ligands=("O", "Cl", "F", "N", "S"), colours: dict[str, str] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Triangles of the coordination polyhedra around each atom of the ``centres`` elements (SnO6, TaCl6, ...):
    the convex hull of its ``ligands`` within :data:`BOND_FACTOR` times the covalent bond length, across
    the periodic boundary. Returns ``(positions, colours)``, each (n_triangles x 3 x 3), in Å and RGB
    (0–1; each polyhedron in its centre's colour from ``colours``, default :func:`element_colours`).
    A centre with fewer than four ligands, or all in one plane, has no polyhedron."""
    from ase.neighborlist import neighbor_list
    from scipy.spatial import ConvexHull, QhullError

    symbols = atoms.get_chemical_symbols()
    present = set(symbols)
    colours = colours or element_colours(atoms)
    cutoffs = {(c, lig): BOND_FACTOR * (covalent_radii[atomic_numbers[c]] + covalent_radii[atomic_numbers[lig]])
               for c in centres if c in present for lig in ligands if lig in present}
    if not cutoffs:
        return np.zeros((0, 3, 3)), np.zeros((0, 3, 3))
    first, second, vectors = neighbor_list("ijD", atoms, cutoffs)
    triangles, rgb = [], []
    for centre in np.unique(first):
        if symbols[centre] not in centres:
            continue
        mine = (first == centre) & np.isin([symbols[j] for j in second], ligands)
        corners = atoms.positions[centre] + vectors[mine]
        if len(corners) < 4:
            continue
        try:
            hull = ConvexHull(corners)
        except QhullError:  # flat: a square-planar centre, say
            continue
        triangles.append(corners[hull.simplices])
        rgb.append(np.broadcast_to(to_rgb(colours[symbols[centre]]), (len(hull.simplices), 3, 3)))
    if not triangles:
        return np.zeros((0, 3, 3)), np.zeros((0, 3, 3))
    return np.concatenate(triangles), np.concatenate(rgb)


def mode_arrows(frames: list[Atoms], longest_A: float = ARROW_LONGEST_A, smallest_fraction: float = 0.1
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` (Å) of displacement arrows for one period of a mode (as from
    :func:`toolkit.phonons.mode_animation`): from each atom's mean position (its equilibrium: a sine
    averages to zero over the period) along its displacement in the first frame, scaled so that the longest
    arrow is ``longest_A``. Atoms that move less than ``smallest_fraction`` of the most-moving one get none."""
    positions = np.array([f.positions for f in frames])
    centre = positions.mean(axis=0)
    moves = positions[0] - centre
    lengths = np.linalg.norm(moves, axis=1)
    if lengths.max() == 0:
        return np.zeros((0, 3)), np.zeros((0, 3))
    keep = lengths >= smallest_fraction * lengths.max()
    return centre[keep], centre[keep] + moves[keep] * (longest_A / lengths.max())


def stage(atoms: Atoms | list[Atoms], highlight=("H", "Y"), extra: dict[str, tuple[str, list[int]]] | None = None,
          width: str | None = None, polyhedra=(), arrows: tuple[np.ndarray, np.ndarray] | None = None, view=None):
    """The ``nglview`` widget of ``atoms``: ball-and-stick in the element colours, unit cell, highlighted
    species as spheres, seen slightly off the cell axes (:data:`VIEW_TILT_RAD`).

    A list of ``Atoms`` is shown as a trajectory whose frames the viewer's ``frame`` selects.
    ``extra`` maps a label to ``(colour, atom indices)`` to mark as well (antisites, a migrating ion, ...).
    ``polyhedra`` names the centre elements whose coordination polyhedra to draw (:func:`polyhedra_mesh`,
    on the first frame). ``arrows`` is ``(starts, ends)`` (Å) as from :func:`mode_arrows`. ``width``
    (CSS, e.g. ``"480px"``) is needed where the viewer sits in a row beside other widgets: a flex row
    squeezes a viewer without one to 1 pixel.

    ``view``: an earlier ``stage`` to draw into instead of a new one, keeping its camera. Explorers pass theirs
    on every redraw: each NGL stage holds a WebGL context that nglview never releases, a browser keeps about 16,
    and past that it drops the oldest, blanking another viewer on the page.
    """
    import nglview

    frames = list(atoms) if isinstance(atoms, (list, tuple)) else [atoms]
    fresh = view is None
    if fresh:
        view = nglview.NGLWidget()
    for component in list(view._ngl_component_ids):
        view.remove_component(component)
    # nglview drops a removed component's loadFile from the messages it replays when the widget is shown again,
    # but keeps the representations and shapes drawn on it, which would land on the new structure
    view._ngl_msg_archive = [m for m in view._ngl_msg_archive if (m.get("methodName"), m.get("target"))
                             not in STALE_AFTER_REMOVAL]
    if len(frames) > 1:
        view.add_trajectory(nglview.ASETrajectory(frames), default_representation=False)
    else:
        view.add_structure(nglview.ASEStructure(frames[0]), default_representation=False)
    atoms = frames[0]
    view.add_ball_and_stick(radiusScale=0.6)
    view.add_unitcell()
    marked = highlight_indices(atoms, highlight)
    groups = {colour: marked[s] for s, colour in highlight_colours(atoms, highlight).items()}
    groups.update({colour: indices for colour, indices in (extra or {}).values()})
    for colour, indices in groups.items():
        if len(indices):
            view.add_spacefill(selection=list(map(int, indices)), color=colour, radiusScale=0.5)
    if polyhedra:
        triangles, rgb = polyhedra_mesh(atoms, polyhedra, colours=element_colours(atoms, highlight))
        if len(triangles):
            view.shape.add_mesh(triangles.ravel().tolist(), rgb.ravel().tolist())
            view.update_representation(component=len(view._ngl_component_ids) - 1, opacity=POLYHEDRON_OPACITY)
    if arrows is not None:
        for start, end in zip(*arrows):
            view.shape.add_arrow(np.asarray(start).tolist(), np.asarray(end).tolist(), list(to_rgb(ARROW_COLOUR)), 0.12)
    view.center()  # fit the structure: a stage keeps its first zoom, set before the structure or the shapes arrived
    if fresh:
        view.camera = "orthographic"
        view.control.spin([1, 0, 0], VIEW_TILT_RAD[0])
        view.control.spin([0, 1, 0], VIEW_TILT_RAD[1])
        view.layout.height = VIEW_HEIGHT
        if width is not None:
            view.layout.width = width
    return view


def caption_html(atoms: Atoms, highlight=("H", "Y"), extra: dict[str, tuple[str, list[int]]] | None = None,
                 title: str | None = None, arrows: bool = False) -> str:
    """The HTML above a viewer: ``title`` (HTML) and the legend of what :func:`stage` draws."""
    marks = {label: colour for label, (colour, indices) in (extra or {}).items() if len(indices)}
    if arrows:
        marks["displacement"] = ARROW_COLOUR
    return (f"<b>{title}</b>" if title else "") + legend_html(element_colours(atoms, highlight), marks)


class StructureView(widgets.VBox):
    """A caption (title and element legend, ``caption``) above an nglview ``stage``.

    Place a ``StructureView`` on its own (as a cell's result, or in a column): an NGL stage inside a Box
    nested in a row starts at zero size in JupyterLab, so explorers put :func:`stage` in their rows instead.
    """

    def __init__(self, stage_widget, caption: str):
        self.stage = stage_widget
        self.caption = widgets.HTML(caption)
        super().__init__([self.caption, stage_widget])


def structure_view(atoms: Atoms | list[Atoms], highlight=("H", "Y"), extra=None, polyhedra=(), title: str | None = None,
                   width: str | None = None) -> StructureView:
    """:func:`stage` of ``atoms`` under a caption with ``title`` and the element legend: the viewer a notebook
    shows. ``polyhedra``: centre elements whose coordination polyhedra to draw, e.g. ``("Sn", "Y")``."""
    first = atoms[0] if isinstance(atoms, (list, tuple)) else atoms
    return StructureView(stage(atoms, highlight, extra, width, polyhedra),
                         caption_html(first, highlight, extra, title))
