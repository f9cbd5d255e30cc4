"""The crystal-canvas CLI: outputs of generate, and one clear line for every bad argument."""

import subprocess
import sys

import pandas as pd
import pytest
from ase.io import read
from pymatgen.core import Structure

from backend.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n", "-1"], "--n: must be at least 1"),
        (["--atoms", "abc"], "not a whole number"),
        (["--steps", "0"], "--steps: must be at least 1"),
        (["--chemsys", "Li-Xx"], "unknown element 'Xx'"),
        (["--chemsys", "He-Li"], "cannot place He"),
        (["--chemsys", "Li-Na-K-Rb-Cs-Fe-Co-O"], "at most 7"),
        (["--space-group", "231"], "outside 1-230"),
        (["--space-group", "Xyz"], "unknown space group"),
        (["--space-group", "62", "--symmetry", "condition"], "cannot condition on space_group"),
        (["--space-group", "225", "--atoms", "7"], "feasible atom counts (conventional cell): 4, 8, 12"),
        (["--space-group", "225", "--composition", "NaCl"], "cannot hold Cl1 Na1"),
        (["--space-group", "225", "--wyckoff", "4z:Na"], "has no Wyckoff position z"),
        (["--wyckoff", "4a:Na"], "needs a space group"),
        (["--target", "dft_band_gap=-1"], "cannot condition on dft_band_gap"),
        (["--model", "no_such_model"], "unknown model"),
        (["--guidance", "-2", "--chemsys", "Li-O"], "guidance factor must be >= 0"),
        (["--composition", "Li2Xx2O4"], "unknown element 'Xx'"),
        (["--composition", "Li0Fe2O4"], "Li has count 0"),
        (["--composition", "Li8Fe8O16"], "32 atoms; model 'default' generates at most 20"),
        (["--composition", "LiFePO4", "--formula-units", "4"], "28 atoms"),
        (["--composition", "Li0.5CoO2"], "fractional counts"),
        (["--composition", "He2O"], "cannot place He"),
        (["--composition", "Li2Fe2O4", "--atoms", "6"], "contradicts"),
        (["--composition", "LiFeO2", "--chemsys", "Li-O"], "outside the chemical system Li-O"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, tmp_path, capsys):
    code = main(["generate", "--out", str(tmp_path / "out"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_published_model_offline_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["generate", "--model", "dft_band_gap", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Hugging Face hub" in err[0]


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["generate", "--n", "1", "--steps", "2", "--out", str(blocker / "sub")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_generate_writes_cifs_summary_and_trajectory(tmp_path, capsys):
    """The same seed writes the same files in a fresh process and in this one."""
    outs = [tmp_path / "a", tmp_path / "b"]
    arguments = ["generate", "--n", "3", "--atoms", "6", "--steps", "12", "--seed", "1", "--chemsys", "Li-O"]
    command = [sys.executable, "-m", "backend.cli", *arguments, "--out", str(outs[0]), "--trajectory"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    assert main([*arguments, "--out", str(outs[1]), "--trajectory"]) in (0, 1)
    assert "Traceback" not in capsys.readouterr().err
    summary = pd.read_csv(outs[0] / "summary.csv", keep_default_na=False)
    assert len(summary) == 3
    ok = summary[summary.status == "ok"]
    for column in ("index", "formula", "n_atoms", "space_group_number", "volume_per_atom", "sanity"):
        assert column in summary.columns
    cifs = sorted(outs[0].glob("*.cif"))
    assert len(cifs) == len(ok)
    for cif in cifs:
        structure = Structure.from_file(cif)
        assert {e.symbol for e in structure.composition.elements} <= {"Li", "O"}
        assert (outs[1] / cif.name).read_text() == cif.read_text()
    frames = read(outs[0] / "trajectory.extxyz", index=":")
    assert len(frames) == 3 * 12
    assert {f.info["crystal"] for f in frames} == {0, 1, 2}
