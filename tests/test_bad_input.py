"""Every kind of bad input, through the same gates the pages and the CLI use: one clear line, no traceback.

Structure files go through ``read_checked`` (CLI relax/inpaint) and ``read_upload`` (the pages'
uploads, which call it); form fields through the request parsers and ``validate``; inpainting choices
through ``prepare_framework``/``check_inpainting``/``plan_inpainting``. Duplicate submissions are in test_jobs.
"""

from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Structure

from backend.app.uploads import read_upload
from backend.cli import main
from backend.inpainting.framework import prepare_framework
from backend.inpainting.plan import check_inpainting, plan_inpainting
from backend.inpainting.request import InpaintRequest, InvalidHost, parse_guests
from backend.sampling.model_info import ModelInfo
from backend.sampling.models import load_model
from backend.sampling.request import GenerationRequest, InvalidRequest, parse_chemical_system, parse_space_group
from backend.structures import StructureFileError, read_checked

DATA = Path(__file__).parent / "data"
BAD_FILES = {
    "not_a_structure.cif": "no data_ block: this is not a CIF",
    "binary_junk.cif": "binary data, not a structure file",
    "empty.cif": "the file is empty",
    "missing_lattice.cif": "the CIF has no lattice",
    "partial_occupancy.cif": "partial occupancy",
    "too_many_atoms_1000.cif": "1000 atoms is more than the 500",
    "zero_volume.vasp": "zero or negative volume",
    "overlapping_atoms.cif": "overlapping atoms: two sites are 0.20 Å apart",
    "unknown_element.cif": "unknown element symbol Xx",
    "element_beyond_chgnet_Am.cif": "CHGNet does not cover Am",
    "angle_180_zero_volume.cif": "γ=180°) has no volume: an angle of 0 or 180°",
    "nan_coordinate.cif": "atom Cl1: its fractional coordinate x is not a number (nan)",
}
CONDITIONED = ModelInfo(
    name="conditioned",
    source="local",
    path=Path("."),
    conditions=("chemical_system", "space_group", "dft_band_gap"),
    parameters=0,
    trained_steps=1000,
    device="cpu",
)


def test_the_corpus_is_covered():
    assert {p.name for p in (DATA / "bad").iterdir()} == set(BAD_FILES)


@pytest.mark.parametrize(("name", "message"), sorted(BAD_FILES.items()))
def test_bad_files_are_refused_with_one_line(name, message):
    path = DATA / "bad" / name
    for read in (lambda: read_checked(path), lambda: read_upload(name, path.read_bytes())):
        with pytest.raises(StructureFileError) as caught:
            read()
        text = str(caught.value)
        assert text.startswith(f"{name}: ") and message in text and "\n" not in text


NACL_POSCAR = """NaCl
1.0
5.6 0 0
0 5.6 0
0 0 5.6
Na Cl
4 4
Direct
"""


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("short.vasp", NACL_POSCAR + "0 0 0\n0.5 0.5 0\n", "add up to 8 atoms but 2 positions follow"),
        ("scale.vasp", NACL_POSCAR.replace("1.0", "one", 1) + "0 0 0\n" * 8, "line 2: the scale factor"),
        ("vector.vasp", NACL_POSCAR.replace("0 5.6 0", "0 5.6") + "0 0 0\n" * 8, "line 4: a lattice vector"),
        (
            "atoms.cif",
            "data_x\n_cell_length_a 5\n_cell_length_b 5\n_cell_length_c 5\n_cell_angle_alpha 90\n"
            "_cell_angle_beta 90\n_cell_angle_gamma 90\n",
            "the CIF lists no atoms",
        ),
        ("cell.cif", "data_x\n_cell_length_a five\n", "line 2: _cell_length_a has no number (five)"),
        ("broken.json", '{"lattice": ', "not valid JSON (line 1, column 13)"),
        ("other.json", '{"molecule": 1}', "JSON without a pymatgen Structure"),
        ("cell.extxyz", "2\ncomment\nNa 0 0 0\nCl 1 1 1\n", 'line 2 has no Lattice="..."'),
    ],
)
def test_unreadable_files_say_what_is_wrong_in_the_users_terms(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(StructureFileError) as caught:
        read_checked(path)
    assert message in str(caught.value), str(caught.value)
    assert "index" not in str(caught.value) and "Invalid CIF" not in str(caught.value)


def test_a_huge_file_is_refused_before_parsing(tmp_path):
    huge = tmp_path / "huge.cif"
    huge.write_bytes((DATA / "hosts" / "NaCl_mp-22862.cif").read_bytes() + b"#" * (6 * 2**20))
    with pytest.raises(StructureFileError, match="6.0 MB is over the 5 MB limit"):
        read_checked(huge)


def test_an_atom_on_its_own_periodic_image_is_an_overlap():
    """A collapsed cell (one lattice vector 0.3 Å) puts every atom 0.3 Å from its image: the distance matrix, which
    compares sites only, did not see it, and CHGNet took minutes per step on such a cell's neighbour graph."""
    from pymatgen.core import Lattice

    from backend.structures import check_structure

    collapsed = Structure(Lattice([[0.3, 0, 0], [0, 4, 0], [0, 0, 4]]), ["Co", "Si"], [[0, 0, 0], [0, 0.5, 0.5]])
    assert check_structure(collapsed) == "overlapping atoms: two sites are 0.30 Å apart (minimum 0.5 Å)"
    copper = Structure(Lattice.cubic(3.61), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    assert check_structure(copper) is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: parse_chemical_system("Li-Qq"), "unknown element 'Qq'"),
        (lambda: parse_chemical_system("Li-Na-K-Rb-Cs-Fe-Co-O"), "8 elements; at most 7"),
        (lambda: parse_chemical_system(" "), "empty chemical system"),
        (lambda: parse_space_group("0"), "space group 0 is outside 1-230"),
        (lambda: parse_space_group("231"), "space group 231 is outside 1-230"),
        (lambda: parse_space_group("Pxyz"), "unknown space group 'Pxyz'"),
        (lambda: GenerationRequest(chemical_system=("He", "Li")).validate(CONDITIONED), "cannot place He"),
        (lambda: GenerationRequest(targets=(("dft_band_gap", -1.0),)).validate(CONDITIONED), "cannot be negative"),
        (lambda: GenerationRequest(n=-1).validate(CONDITIONED), "at least 1 (got -1)"),
        (lambda: GenerationRequest(atoms=0).validate(CONDITIONED), "between 1 and 100 (got 0)"),
        (lambda: GenerationRequest(atoms=2, chemical_system=("Fe", "Li", "O")).validate(CONDITIONED), "cannot hold"),
        (lambda: GenerationRequest(steps=1).validate(CONDITIONED), "at least 2"),
    ],
)
def test_bad_form_fields_are_refused_with_one_line(make, message):
    with pytest.raises(InvalidRequest) as caught:
        make()
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--chemsys", "Li-Na-K-Rb-Cs-Fe-Co-O"], "at most 7"),
        (["generate", "--space-group", "0"], "outside 1-230"),
        (["relax", str(DATA / "bad" / "zero_volume.vasp")], "none of the inputs is a usable structure"),
        (["inpaint", "--host", str(DATA / "bad" / "partial_occupancy.cif"), "--add", "Li:1"], "partial occupancy"),
        (["inpaint", "--host", str(DATA / "hosts" / "NaCl_mp-22862.cif"), "--add", "Li:x"], "is not ELEMENT:COUNT"),
        (["inpaint", "--host", str(DATA / "hosts" / "NaCl_mp-22862.cif"), "--add", "Ne:1"], "cannot place Ne"),
    ],
)
def test_the_cli_says_one_line_and_exits_2(argv, message, tmp_path, capsys):
    code = main([*argv, "--out", str(tmp_path / "out")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and lines[-1].startswith("error: ") and message in lines[-1], lines
    assert not any("Traceback" in line for line in lines)


NACL = Structure.from_file(DATA / "hosts" / "NaCl_mp-22862.cif")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: prepare_framework(NACL, ["Na", "Cl"]), "0 atoms"),
        (lambda: prepare_framework(NACL, drop_sites=range(len(NACL))), "0 atoms"),
        (lambda: prepare_framework(NACL, ["K"]), "the host has no K"),
        (lambda: prepare_framework(NACL, drop_sites=[99]), "site index 99 is outside"),
        (lambda: prepare_framework(NACL, repeat=(0, 1, 1)), "three positive integers"),
        (lambda: parse_guests("Li:x"), "is not ELEMENT:COUNT"),
        (lambda: _check(InpaintRequest(guests=(("Li", 40),))), "do not fit"),
        (lambda: _check(InpaintRequest()), "at least one guest"),
        (lambda: _check(InpaintRequest(guests=(("Xq", 1),))), "unknown guest element 'Xq'"),
        (lambda: _check(InpaintRequest(guests=(("Ne", 1),))), "cannot place Ne"),
        (lambda: _check(InpaintRequest(free_guests=1)), "need a set of allowed elements"),
        (lambda: _check(InpaintRequest(free_guests=1, free_elements=("Zz",))), "'Zz' is unknown"),
        (lambda: _plan(InpaintRequest(free_guests=1, free_elements=("Li", "K", "O"))), "cannot hold all 5 elements"),
    ],
)
def test_bad_inpainting_choices_are_refused_with_one_line(make, message):
    with pytest.raises(InvalidHost) as caught:
        make()
    assert message in str(caught.value) and "\n" not in str(caught.value)


def _check(request: InpaintRequest) -> None:
    check_inpainting(NACL, np.ones(len(NACL), dtype=bool), request)


def _plan(request: InpaintRequest) -> None:
    plan_inpainting(load_model("default", device="cpu").info, NACL, np.ones(len(NACL), dtype=bool), request)


@pytest.mark.parametrize(("name", "message"), sorted(BAD_FILES.items()))
def test_the_crystal_toolkit_upload_gives_the_same_specific_line(name, message):
    """/ctk's upload said only "could not be read" for 9 of 13 files: its catch-all caught the gate's reason first."""
    import base64

    from backend.app.ctk_view import uploaded_structure
    from backend.app.uploads import read_upload_for_viewing

    data = (DATA / "bad" / name).read_bytes()
    structure, line = uploaded_structure("data:;base64," + base64.b64encode(data).decode(), name)
    try:
        _, expected = read_upload_for_viewing(name, data)
    except StructureFileError as exc:
        expected = str(exc)
        assert structure is None
    assert line == expected and "could not be read" not in line
