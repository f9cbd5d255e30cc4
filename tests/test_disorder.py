"""Ordering a partially occupied host by inpainting: the plan (framework, guests, supercells), the run, bad inputs."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from backend.cli import main
from backend.inpainting.disorder import integral_supercells, occupancy_table, plan_order_disorder
from backend.inpainting.request import InvalidHost
from backend.structures import StructureFileError, read_checked

DATA = Path(__file__).parent / "data"
OLIVINE = DATA / "disorder" / "LiFePO4_olivine_Li0.5.cif"
LACL3 = DATA / "disorder" / "LaCl3_Li_channel.cif"


def host(path: Path) -> Structure:
    return read_checked(path, disorder_allowed=True)


def test_olivine_with_half_lithium_orders_into_four_candidates(tmp_path):
    """The acceptance case: 4 ordered candidates with 2 Li each; Fe, P and O where the host has them."""
    out = tmp_path / "ordered"
    code = main(["inpaint", "--host", str(OLIVINE), "--order-disorder", "--n", "4", "--steps", "50", "--out", str(out)])
    assert code == 0
    summary = pd.read_csv(out / "summary.csv")
    assert (summary.status == "ok").sum() == 4, summary.error.tolist()
    reference = host(OLIVINE)
    framework = [site for site in reference if site.is_ordered]
    for name in summary.file:
        candidate = Structure.from_file(out / name)
        assert candidate.composition["Li"] == 2 and candidate.composition.reduced_formula == "LiFe2(PO4)2"
        for element in ("Fe", "P", "O"):
            mine = candidate.frac_coords[[s.specie.symbol == element for s in candidate]]
            theirs = np.array([s.frac_coords for s in framework if s.specie.symbol == element])
            assert len(mine) == len(theirs)
            delta = mine[:, None, :] - theirs[None, :, :]
            delta -= np.round(delta)
            distance = np.linalg.norm(reference.lattice.get_cartesian_coords(delta.reshape(-1, 3)), axis=1)
            assert distance.reshape(len(mine), -1).min(axis=1).max() < 0.01, element


def test_lacl3_plan_needs_a_tripled_cell():
    structure = host(LACL3)
    plan = plan_order_disorder(structure)
    assert plan.counts.repeat == (1, 1, 3)
    assert plan.guests == (("La", 5), ("Li", 3)) and plan.free_guests == 0
    assert plan.framework.structure.composition.formula == "Cl18"
    assert "Li3La5Cl18" in plan.note and "rounded" in plan.note
    assert sorted({e for e, _ in plan.guest_sites}) == ["La", "Li"] and len(plan.guest_sites) == 12
    assert {o.label for o in integral_supercells(structure) if o.cells == 3} == {"1,1,3", "1,3,1", "3,1,1"}
    roles = [site.row()["role"] for site in occupancy_table(structure)]
    assert roles.count("framework") == 6 and roles.count("guests") == 4


def test_a_mixed_site_gives_counted_or_free_guests():
    structure = host(DATA / "bad" / "partial_occupancy.cif")  # K 0.5 / Na 0.5 on one site, Cl full
    counted = plan_order_disorder(structure)
    assert counted.counts.repeat == (1, 1, 2) and counted.guests == (("K", 1), ("Na", 1))
    free = plan_order_disorder(structure, mixed="free")
    assert free.counts.repeat == (1, 1, 1) and free.guests == () and free.free_guests == 1
    assert free.free_elements == ("K", "Na")
    request = free.request(n=2, steps=10)
    assert request.free_guests == 1 and request.guest_sites


def _write(structure: Structure, path: Path) -> Path:
    from pymatgen.io.cif import CifWriter

    CifWriter(structure).write_file(path)
    return path


ROCKSALT = Lattice.cubic(5.64)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: plan_order_disorder(Structure(ROCKSALT, [{"Na": 0.5}, {"Cl": 0.5}], [[0, 0, 0], [0.5, 0.5, 0.5]])),
            "no site is fully occupied by one element",
        ),
        (
            lambda: plan_order_disorder(Structure(ROCKSALT, ["Cl", {"Li": 0.071}], [[0, 0, 0], [0.5, 0.5, 0.5]])),
            "no supercell up to 4x4x4 makes the guest counts whole within 0.05; the nearest is 3,3,3",
        ),
        (lambda: plan_order_disorder(host(LACL3), (1, 1, 1)), "the smallest that do: 1,1,3 / 1,3,1 / 3,1,1"),
        (lambda: plan_order_disorder(host(DATA / "hosts" / "NaCl_mp-22862.cif")), "nothing to order"),
        (lambda: plan_order_disorder(host(OLIVINE), mixed="some"), "'counts' or 'free'"),
    ],
)
def test_hosts_that_cannot_be_ordered_get_one_line(make, message):
    with pytest.raises(InvalidHost) as caught:
        make()
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_occupancies_above_one_are_named_with_the_site(tmp_path):
    text = (DATA / "bad" / "partial_occupancy.cif").read_text().replace("0.00000000  0.5\n", "0.00000000  0.7\n", 1)
    (tmp_path / "over.cif").write_text(text)
    structure = host(DATA / "bad" / "partial_occupancy.cif").as_dict()
    structure["sites"][0]["species"][0]["occu"] = 0.8
    (tmp_path / "over.json").write_text(json.dumps(structure))
    for name, total in (("over.cif", "1.2"), ("over.json", "1.3")):
        with pytest.raises(StructureFileError) as caught:
            host(tmp_path / name)
        message = str(caught.value)
        assert f"sum to {total}" in message and "at most 1" in message and "\n" not in message


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--add", "Li:1"], "--order-disorder takes the guests from the host's occupancies; drop --add"),
        (["--supercell", "1,1,2"], "supercell 1,1,2 gives La 3.33, Li 2.00 guests, not whole numbers"),
        (["--guest-start", "sites", "--start-time", "0"], "must be in (0, 1]"),
    ],
)
def test_the_cli_refuses_bad_ordering_requests_with_one_line(extra, message, tmp_path, capsys):
    code = main(["inpaint", "--host", str(LACL3), "--order-disorder", *extra, "--out", str(tmp_path / "out")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in lines[-1], lines


def test_sites_start_needs_a_disordered_host(tmp_path, capsys):
    argv = ["inpaint", "--host", str(DATA / "hosts" / "NaCl_mp-22862.cif"), "--add", "Li:1", "--guest-start", "sites"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert "only for a disordered host" in capsys.readouterr().err
