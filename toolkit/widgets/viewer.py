"""Structure viewer: nglview with chosen elements or atoms drawn large and coloured."""

from __future__ import annotations

from ase import Atoms

#: Width of a viewer placed beside a plot in the explorers.
VIEW_WIDTH = "480px"
#: Highlight colours for the species the studies care about, chosen apart from each other and from the
#: element colours nglview draws (O red, Cl green, Ba dark green, Sn grey, ...).
HIGHLIGHT_COLOURS = {"H": "white", "Y": "orange", "Li": "limegreen", "Ga": "purple", "Ta": "teal", "Sn": "royalblue"}
#: Highlight colours for any other element, in turn.
OTHER_HIGHLIGHTS = ("gold", "deepskyblue", "sienna", "hotpink")
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


def structure_view(atoms: Atoms | list[Atoms], highlight=("H", "Y"), extra: dict[str, list[int]] | None = None,
                   width: str | None = None):
    """An ``nglview`` widget of ``atoms``: ball-and-stick, unit cell, highlighted species as spheres,
    seen slightly off the cell axes (:data:`VIEW_TILT_RAD`).

    A list of ``Atoms`` is shown as a trajectory whose frames the viewer's ``frame`` selects.
    ``extra`` maps a colour to atom indices to highlight as well (vacancy neighbours, a
    migrating ion, ...). ``width`` (CSS, e.g. ``"480px"``) is needed where the viewer sits in
    a row beside other widgets: a flex row squeezes a viewer without one to 1 pixel.
    """
    import nglview

    frames = list(atoms) if isinstance(atoms, (list, tuple)) else [atoms]
    view = nglview.show_asetraj(frames) if len(frames) > 1 else nglview.show_ase(frames[0])
    atoms = frames[0]
    view.clear_representations()
    view.add_ball_and_stick(radiusScale=0.6)
    view.add_unitcell()
    others = iter(OTHER_HIGHLIGHTS * len(highlight))
    groups = {HIGHLIGHT_COLOURS.get(s) or next(others): idx for s, idx in highlight_indices(atoms, highlight).items()}
    groups.update(extra or {})
    for colour, indices in groups.items():
        if indices:
            view.add_spacefill(selection=list(map(int, indices)), color=colour, radiusScale=0.5)
    view.camera = "orthographic"
    view.control.spin([1, 0, 0], VIEW_TILT_RAD[0])
    view.control.spin([0, 1, 0], VIEW_TILT_RAD[1])
    if width is not None:
        view.layout.width = width
    return view
