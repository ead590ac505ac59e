"""Pick the structure and mobile ion for notebook 04: a shipped example or an uploaded CIF, checked as it is
picked (:func:`toolkit.studies.your_material.load_structure`), with the verdict in a line of text."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets

from toolkit.studies import your_material as ym


class MaterialPicker:
    """``widget``: an example dropdown, a CIF upload, the mobile ion and a status line. An upload is written to
    ``upload_dir`` (the notebook's output folder) and becomes :attr:`source`; :attr:`ion` is the chosen ion.
    ``potential`` checks each pick, so a structure it cannot run is refused before any calculation."""

    def __init__(self, potential, upload_dir, source=None, ion: str | None = None):
        self.potential, self.upload_dir = potential, Path(upload_dir)
        self.source = source or next(iter(ym.EXAMPLES))
        first_ion = ion or ym.EXAMPLES.get(self.source, (None, "Li"))[1]
        self.examples = widgets.Dropdown(options=list(ym.EXAMPLES), description="example",
                                         value=self.source if self.source in ym.EXAMPLES else None)
        self.upload = widgets.FileUpload(accept=".cif", multiple=False, description="upload a CIF")
        self.ions = widgets.Dropdown(options=[first_ion], value=first_ion, description="mobile ion")
        self.status = widgets.HTML()
        self.examples.observe(self._on_example, names="value")
        self.upload.observe(self._on_upload, names="value")
        self.ions.observe(lambda _: self.check(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.examples, self.upload, self.ions]), self.status])
        self.check()

    @property
    def ion(self) -> str:
        return self.ions.value

    def _on_example(self, change) -> None:
        if change["new"]:
            self.source = change["new"]
            self._offer_ions(ym.EXAMPLES[self.source][1])

    def _on_upload(self, change) -> None:
        if not change["new"]:
            return
        upload = change["new"][0]
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        path = self.upload_dir / Path(upload["name"]).name
        path.write_bytes(bytes(upload["content"]))
        self.source = path
        self._offer_ions(self.ion)

    def _offer_ions(self, preferred: str) -> None:
        """The ions to choose from: the structure's cations that move in known conductors, else all its elements."""
        try:
            atoms = ym.load_structure(self.source, None, self.potential)
            elements = sorted(set(atoms.get_chemical_symbols()))
        except Exception as error:  # noqa: BLE001 - shown to the user, who picks again
            self.status.value = f"<span style='color:#b00'>{error}</span>"
            return
        mobile = [e for e in ("H", "Li", "Na", "K", "Ag", "Cu", "Mg", "F", "O") if e in elements] or elements
        self.ions.options = mobile
        self.ions.value = preferred if preferred in mobile else mobile[0]
        self.check()

    def check(self) -> bool:
        """Load and check the current pick; say what is wrong, or what will run."""
        try:
            atoms = ym.load_structure(self.source, self.ion, self.potential)
        except Exception as error:  # noqa: BLE001
            self.status.value = f"<span style='color:#b00'>{error}</span>"
            return False
        name = self.source if isinstance(self.source, str) else Path(self.source).name
        self.status.value = (f"<b>{name}</b>: {atoms.get_chemical_formula()}, {len(atoms)} atoms, "
                             f"mobile ion {self.ion}, potential {self.potential.info.name}. "
                             "Run the cells below to compute it.")
        return True
