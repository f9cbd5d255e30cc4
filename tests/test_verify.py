"""Verification: phonons tell stable from unstable crystals, the bulk modulus of NaCl, and bad input in one line."""

import json

import pytest
from pymatgen.core import Lattice, Structure

from backend.limits import MAX_VERIFY_ATOMS
from backend.relax.potentials import chgnet
from backend.verify.run import VerifyReport, verify, write_reports


def rock_salt(a: float = 5.69) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])


@pytest.fixture(scope="module")
def known():
    structures = {
        "NaCl": rock_salt().get_primitive_structure(),
        "Si": Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.47), ["Si"], [[0, 0, 0]]).get_primitive_structure(),
        "Na simple cubic": Structure(Lattice.cubic(3.0), ["Na"], [[0, 0, 0]]),
        "BaTiO3 cubic": Structure(
            Lattice.cubic(4.0),
            ["Ba", "Ti", "O", "O", "O"],
            [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        ),
    }
    reports = verify(list(structures), list(structures.values()), chgnet("cpu"))
    return {report.name: report for report in reports}


def test_rock_salt_and_diamond_are_dynamically_stable(known):
    for name in ("NaCl", "Si"):
        phonons = known[name].phonons
        assert known[name].error is None and phonons.stable, (name, phonons.lowest_thz, phonons.lowest_at)
        assert phonons.lowest_thz > -0.1


def test_known_unstable_structures_have_an_imaginary_mode(known):
    for name in ("Na simple cubic", "BaTiO3 cubic"):
        phonons = known[name].phonons
        assert not phonons.stable and phonons.lowest_thz < -0.5, (name, phonons.lowest_thz)


def test_bulk_modulus_of_rock_salt_is_within_20_percent_of_25_gpa(known):
    properties = known["NaCl"].properties
    assert properties.bulk_modulus_gpa == pytest.approx(25, rel=0.2)
    assert properties.magnetic_density < 0.01 and properties.density == pytest.approx(2.16, rel=0.05)
    assert len(properties.eos_volumes) == 7


def test_bands_dos_and_eos_survive_the_report_file(known, tmp_path):
    frame = write_reports(list(known.values()), tmp_path)
    assert set(frame.dynamically_stable) == {True, False}
    again = VerifyReport.from_dict(json.loads((tmp_path / "verify" / "NaCl.json").read_text()))
    assert again == known["NaCl"]
    assert len(again.phonons.bands[0]) == 3 * 2 and again.phonons.ticks[0][1] == "Γ"


def test_bad_structures_get_one_line_each_and_the_rest_completes():
    disordered = rock_salt().get_primitive_structure()
    disordered.replace_species({"Na": {"Na": 0.5, "K": 0.5}})
    big = rock_salt()
    big.make_supercell([2, 2, 3])  # 96 atoms
    overlapping = Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.02, 0, 0]])
    names = ["disordered", "big", "overlapping", "NaCl"]
    structures = [disordered, big, overlapping, rock_salt().get_primitive_structure()]
    reports = verify(names, structures, chgnet("cpu"), phonons=True, properties=False)
    errors = {r.name: r.error for r in reports}
    assert errors["disordered"].startswith("disordered structure (partial occupancies)")
    assert errors["big"] == (
        f"96 atoms in the cell: phonons by finite displacements are limited to {MAX_VERIFY_ATOMS} atoms here"
    )
    assert errors["overlapping"].startswith("the tight relaxation failed: ") and "\n" not in errors["overlapping"]
    assert errors["NaCl"] is None and reports[-1].phonons.stable


def test_cli_verify_writes_one_row_per_structure(tmp_path, capsys):
    from backend.cli import main

    (tmp_path / "in").mkdir()
    rock_salt().get_primitive_structure().to(filename=str(tmp_path / "in" / "NaCl.cif"))
    assert main(["verify", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--phonons"]) == 0
    import pandas as pd

    rows = pd.read_csv(tmp_path / "out" / "verify.csv")
    assert list(rows.file) == ["NaCl"] and bool(rows.dynamically_stable[0])
    assert "dynamically stable: no mode below -0.1 THz" in capsys.readouterr().out
