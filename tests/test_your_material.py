from datetime import datetime, timezone

import pytest
from ase import Atoms
from ase.build import bulk

from toolkit.calculator import UnsupportedElementsError
from toolkit.studies import your_material as ym
from toolkit.validation import StructureError


def test_shipped_examples_load_and_bad_input_is_named(emt, tmp_path):
    from toolkit.potentials import load_potential

    chgnet = load_potential("chgnet")
    for name, (_, ion) in ym.EXAMPLES.items():
        atoms = ym.load_structure(name, ion, chgnet)
        assert ion in atoms.get_chemical_symbols() and atoms.pbc.all()
    assert {ion for _, ion in ym.EXAMPLES.values()} == {"Li", "Na", "K", "H"}  # a Li, Na and K conductor, and a proton one
    bzy = ym.load_structure("BaZrO3:Y,H (proton)", "H", chgnet)
    assert bzy.get_chemical_formula() == "HBa8O24YZr7"  # one proton balances one Y on a Zr site
    with pytest.raises(StructureError, match="Li3N holds no Na: choose the mobile ion among Li, N"):
        ym.load_structure("Li3N", "Na", chgnet)
    with pytest.raises(UnsupportedElementsError, match="does not cover element"):
        ym.load_structure("Li3N", "Li", emt)
    garbage = tmp_path / "broken.cif"
    garbage.write_text("data_broken\n_cell_length_a oops\n")
    with pytest.raises(StructureError, match="could not read broken.cif as a crystal structure"):
        ym.load_structure(garbage, "Li", chgnet)
    with pytest.raises(FileNotFoundError, match="no structure file"):
        ym.load_structure(tmp_path / "missing.cif", "Li", chgnet)
    squeezed = Atoms("Cu2", positions=[[0, 0, 0], [0.3, 0, 0]], cell=[4, 4, 4], pbc=True)
    with pytest.raises(StructureError, match="overlap|close"):
        ym.load_structure(squeezed, "Cu", emt)


def test_md_cell_is_wide_enough_in_every_direction():
    li3n = ym.load_structure("Li3N", "Li", type("Any", (), {"check_elements": lambda self, atoms: None})())
    cell = ym.md_cell(li3n, 9.0)
    assert (ym.cell_widths_A(cell) >= 9.0).all() and len(cell) == len(li3n) * 3 * 3 * 3
    assert ym.cell_widths_A(bulk("Cu", "fcc", a=3.6, cubic=True)) == pytest.approx([3.6] * 3)


def test_hull_places_the_material_against_its_competing_phases(emt):
    """Cu3Au-ordered Cu3Ag with EMT against fcc Cu and Ag: EMT mixes Cu and Ag endothermically, so it sits above
    the hull; without an Ag phase the hull cannot be drawn, and the error says which element lacks one."""
    from ase.build import bulk

    settings = ym.MaterialSettings.quick()
    ordered = bulk("Cu", "fcc", a=3.7, cubic=True)
    ordered.symbols[0] = "Ag"
    material = ym.relaxed(ordered, emt, settings)
    competing = {"Cu (fcc)": bulk("Cu", "fcc", a=3.6), "Ag (fcc)": bulk("Ag", "fcc", a=4.1)}
    table = ym.hull(material, emt, competing, settings)
    assert table["material"]["e_above_hull_eV_atom"] > 0 and table["Cu (fcc)"]["stable"]
    with pytest.raises(ValueError, match="none for Ag"):
        ym.hull(material, emt, {"Cu (fcc)": competing["Cu (fcc)"]}, settings)


def test_the_command_line_refuses_what_it_cannot_run(tmp_path, capsys):
    from toolkit.__main__ import main

    assert main(["run", "proton-phonon", "--ion", "Na"]) == 2
    assert "--structure, --ion and --amorphous belong to 'run your-material'" in capsys.readouterr().err
    assert main(["run", "liga-alloy", "--amorphous"]) == 2
    assert main(["run", "your-material", "--structure", str(tmp_path / "missing.cif")]) == 2
    assert "no structure file" in capsys.readouterr().err


def test_the_picker_checks_each_pick(tmp_path):
    """The notebook's picker: an example loads and names what will run; an upload without the chosen ion, or
    with elements the potential lacks, is refused in its status line before anything is computed."""
    from toolkit.potentials import load_potential
    from toolkit.widgets.material_picker import MaterialPicker

    chgnet = load_potential("chgnet")
    picker = MaterialPicker(chgnet, tmp_path)
    assert picker.source == "Li3N" and picker.ion == "Li" and "Li3N, 4 atoms, mobile ion Li" in picker.status.value
    picker.examples.value = "Na3PS4 (cubic)"
    assert picker.ion == "Na" and "Na6P2S8" in picker.status.value
    cif = (ym.EXAMPLE_DIR / "Li3N.cif").read_bytes()
    picker.upload.value = ({"name": "mine.cif", "type": "", "size": len(cif), "content": memoryview(cif),
                            "last_modified": datetime.now(timezone.utc)},)
    assert picker.source == tmp_path / "mine.cif" and picker.ion == "Li" and "mine.cif" in picker.status.value
    broken = b"data_x\n_cell_length_a oops\n"
    picker.upload.value = ({"name": "broken.cif", "type": "", "size": len(broken), "content": memoryview(broken),
                            "last_modified": datetime.now(timezone.utc)},)
    assert "could not read broken.cif" in picker.status.value


def test_the_amorphous_variant_is_a_denser_or_looser_glass_above_the_crystal_with_its_own_transport(chgnet, tmp_path):
    """Li3N melt-quenched (CHGNet, 32 atoms, a protocol of a few dozen steps: mechanics, not a glass to
    study): the glass sits above the crystal in energy, has a density of its own, runs the crystal's transport
    steps, and goes into a summary the schema accepts."""
    import json

    import jsonschema

    from toolkit.amorphous import MeltQuench
    from toolkit.studies import SCHEMA_DIR
    from toolkit.store import ResultsStore

    settings = ym.MaterialSettings.quick(
        relax_fmax_eV_A=0.05, phonon_displacements_A=(0.03,), md_ps=0.04, md_runs=1, md_sample_every=2, md_blocks=2,
        melt_quench=MeltQuench(melt_ps=0.04, quench_rate_K_per_ps=60000.0, quench_stages=2, anneal_ps=0.02,
                               relax_fmax_eV_A=0.5), phonon_supercell=1)
    result = ym.run("Li3N", "Li", settings, chgnet, ResultsStore(tmp_path / "store"), progress=False,
                    with_amorphous=True)
    glassy = result.amorphous
    assert len(glassy["atoms"]) == len(ym.md_cell(result.structure, settings.md_min_width_A))
    assert glassy["atoms"].info["melt_quench"]["packing_density_g_cm3"] > 0
    assert glassy["energy_above_crystal_eV_atom"] > 0.01  # disorder costs energy against the relaxed crystal
    assert glassy["density_g_cm3"] != pytest.approx(glassy["crystal_density_g_cm3"], rel=1e-3)  # its cell relaxed
    assert set(glassy["transport"]["D"]) == {800.0, 1000.0}
    summary = result.to_summary()
    jsonschema.validate({**summary, "potential": "chgnet", "provenance": {"potential": {}, "parameters": {},
                                                                         "seeds": {}, "versions": {}}},
                        json.loads((SCHEMA_DIR / "your-material.json").read_text()))
    assert summary["amorphous"]["n_atoms"] == len(glassy["atoms"]) and summary["amorphous"]["D_cm2_s"]
    assert ym.run("Li3N", "Li", settings, chgnet, ResultsStore(tmp_path / "store"), progress=False).amorphous is None


def test_an_md_cell_narrower_than_the_cutoff_is_refused(chgnet):
    assert chgnet.info.cutoff_A == pytest.approx(6.0)  # CHGNet 0.3.0's atom graph
    li3n = ym.load_structure("Li3N", "Li", chgnet)
    with pytest.raises(StructureError, match=r"Li3N is 3.16 Å across, narrower than the 6 Å cutoff of chgnet"):
        ym.transport(li3n, "Li", chgnet, ym.MaterialSettings.quick())
