"""Thin ipywidgets/nglview layers over the toolkit's science functions.

Science modules never import from here; widgets call the science, not the other way round.
"""

from toolkit.widgets.viewer import highlight_indices, structure_view

__all__ = ["highlight_indices", "structure_view"]
