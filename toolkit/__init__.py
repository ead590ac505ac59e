"""Helper package for the solid-state ionics study notebooks.

Science modules take and return ASE ``Atoms`` and phonopy objects; widgets live in
:mod:`toolkit.widgets` and are never imported by the science modules.
"""

__version__ = "0.1.0"
