"""Structure viewer: nglview with chosen elements or atoms drawn large and coloured."""

from __future__ import annotations

from ase import Atoms

#: Default highlight colours for the species the studies care about.
HIGHLIGHT_COLOURS = {"H": "white", "Y": "orange", "Li": "limegreen", "Ga": "purple", "Ta": "teal"}


def highlight_indices(atoms: Atoms, symbols) -> dict[str, list[int]]:
    """Indices of each requested element present in ``atoms`` (absent ones are left out)."""
    found: dict[str, list[int]] = {}
    for index, symbol in enumerate(atoms.get_chemical_symbols()):
        if symbol in symbols:
            found.setdefault(symbol, []).append(index)
    return found


def structure_view(atoms: Atoms, highlight=("H", "Y"), extra: dict[str, list[int]] | None = None):
    """An ``nglview`` widget of ``atoms``: ball-and-stick, unit cell, highlighted species as spheres.

    ``extra`` maps a colour to atom indices to highlight as well (vacancy neighbours, a
    migrating ion, ...).
    """
    import nglview

    view = nglview.show_ase(atoms)
    view.clear_representations()
    view.add_ball_and_stick(radiusScale=0.6)
    view.add_unitcell()
    groups = {HIGHLIGHT_COLOURS.get(s, "red"): idx for s, idx in highlight_indices(atoms, highlight).items()}
    groups.update(extra or {})
    for colour, indices in groups.items():
        if indices:
            view.add_spacefill(selection=list(map(int, indices)), color=colour, radiusScale=0.5)
    view.camera = "orthographic"
    return view
