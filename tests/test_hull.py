"""The offline MP hull: known phases land on it, it reproduces MP's own verdicts, LP equals pymatgen's qhull."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Lattice, Structure

from backend.stability.hull import assess, hull_energy, phase_diagram
from backend.stability.reference import reference_table

DATA = Path(__file__).parent / "data"


def li2o_antifluorite() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.61), ["Li", "O"], [[0.25, 0.25, 0.25], [0, 0, 0]])


def li2o2_p63mmc() -> Structure:
    """Li2O2 (mp-841's P6_3/mmc type, 8 atoms): the candidate the old hull scored at -0.59 eV/atom."""
    return Structure.from_spacegroup(
        "P6_3/mmc",
        Lattice.hexagonal(3.14, 7.65),
        ["Li", "Li", "O"],
        [[0, 0, 0], [1 / 3, 2 / 3, 0.25], [1 / 3, 2 / 3, 0.65]],
    )


@pytest.fixture(scope="module")
def relaxed():
    from backend.relax.potentials import chgnet
    from backend.relax.relaxer import relax_structures

    structures = {
        "Li2O": li2o_antifluorite(),
        "LiFePO4": Structure.from_file(DATA / "hosts" / "LiFePO4_olivine_mp-19017.cif"),
        "Li15Si4": Structure.from_file(DATA / "hosts" / "Li15Si4_mp-569849.cif"),
        "Li2O2": li2o2_p63mmc(),
    }
    results = relax_structures(list(structures.values()), chgnet("cpu"), fmax=0.05, steps=300)
    assert all(r.ok for r in results), [r.error for r in results]
    return {name: assess(r.structure.composition, r.energy_per_atom) for name, r in zip(structures, results)}


@pytest.mark.parametrize("name", ["Li2O", "LiFePO4", "Li15Si4"])
def test_known_ground_states_land_on_the_hull(relaxed, name):
    assert -0.06 <= relaxed[name].e_above_hull <= 0.08, relaxed[name]


def test_li2o_hull_is_complete_and_li2o2_is_not_below_it(relaxed):
    assert relaxed["Li2O"].hull_quality == "complete" and relaxed["Li2O"].hull_missing == ()
    assert relaxed["Li2O"].decomposition[0].formula == "Li2O"
    assert relaxed["Li2O"].decomposition[0].material_id == "mp-1960"
    assert relaxed["Li2O2"].e_above_hull > -0.3, relaxed["Li2O2"]


def test_hull_reproduces_materials_projects_verdicts():
    """500 random unstable GGA-scale MP 2024 entries of 2-4 elements (tests/data/mp_hull_check.csv, drawn with seed 0
    from ../shared/data/hull/mp_entries_2024.csv.gz), each placed on the hull with itself included."""
    sample = pd.read_csv(DATA / "mp_hull_check.csv")
    errors = []
    for composition, e_form, mp_value in zip(
        sample.composition, sample.e_form_per_atom_gga, sample.e_above_hull_mp_mixed
    ):
        hull, _ = hull_energy(Composition(json.loads(composition)))
        errors.append(abs(max(e_form - hull, 0.0) - mp_value))
    within = np.mean(np.array(errors) < 0.010)
    assert within >= 0.90, within


def test_linear_programme_equals_phase_diagram():
    from pymatgen.analysis.phase_diagram import PDEntry

    rng = np.random.default_rng(1)
    systems = ["Li-O", "Fe-Li-O", "Fe-Li-O-P", "Li-Si", "Na-Cl", "Ga-N", "Mn-O-Sr-Ti", "Cl-La-Li"]
    for k in range(40):
        elements = systems[k % len(systems)].split("-")
        amounts = rng.integers(1, 6, size=len(elements))
        composition = Composition(dict(zip(elements, amounts.tolist())))
        e_form = float(rng.uniform(-3, 0.5))
        hull, phases = hull_energy(composition)
        diagram = phase_diagram("-".join(sorted(elements)))
        decomposition, theirs = diagram.get_decomp_and_e_above_hull(
            PDEntry(composition, e_form * composition.num_atoms), allow_negative=True
        )
        assert e_form - hull == pytest.approx(theirs, abs=1e-6)
        mine = {p.formula: p.fraction for p in phases}
        pymatgen = {entry.composition.reduced_formula: amount for entry, amount in decomposition.items()}
        assert mine.keys() == pymatgen.keys()
        for formula, fraction in mine.items():
            assert fraction == pytest.approx(pymatgen[formula], abs=1e-6)


def test_many_elements_are_assessed():
    composition = Composition("LiNaKMgCaSrBaAlSiO10")
    result = assess(composition, -6.0)
    recombined = sum(
        p.fraction * np.array([Composition(p.formula).get_atomic_fraction(e) for e in composition.elements])
        for p in result.decomposition
    )
    target = np.array([composition.get_atomic_fraction(e) for e in composition.elements])
    np.testing.assert_allclose(recombined, target, atol=1e-8)
    assert np.isfinite(result.e_above_hull)


def test_coverage_is_said_in_a_scientists_words():
    table = reference_table()
    assert table.coverage(["Li", "O"]).text == "complete MP GGA/GGA+U hull"
    filled = table.coverage(["Fe", "Li", "O", "P"])
    assert filled.quality == "filled" and "LiP" in filled.filled
    assert filled.text.startswith("filled from 2019 matbench energies: ")
    incomplete = table.coverage(["Ag", "Nd"])
    assert incomplete.quality == "incomplete" and "Nd14Ag51" in incomplete.missing
    assert incomplete.text.startswith("incomplete: missing ") and "Nd14Ag51" in incomplete.text


def test_hull_takes_gga_scale_energies_only():
    frame = pd.read_csv(Path(__file__).resolve().parents[1] / "assets" / "data" / "hull" / "mp_hull_2024.csv.gz")
    allowed = {"mp2024-gga", "mp2024-ambiguous", "mp20", "mpts52", "matbench-2019", "mp2023-elemental-reference"}
    assert set(frame.source.dropna()) <= allowed
    assert frame.e_form_per_atom.notna().sum() == frame.source.notna().sum()
    nacl = frame.set_index("formula").loc["NaCl"]  # NaCl's 2024 energy is r2SCAN: the legacy GGA one stands in
    assert nacl.source in ("mp20", "mpts52") and -2.2 < nacl.e_form_per_atom < -2.0


def test_sodium_nitride_is_a_formula_not_a_missing_value():
    from backend.stability.reference import reference_table

    table = reference_table()
    assert "NaN" in table.mp_formulas
    assert all(isinstance(formula, str) for formula in table.mp_formulas)
    assert table.known_phase("NaN") is not None


def test_a_filled_phase_is_not_called_missing():
    """Relax & hull listed matbench-filled phases (DyGa3) under hull_missing while the figure drew them stable."""
    from backend.stability.reference import Coverage, reference_table

    coverage = reference_table().coverage(["Dy", "Ga"])
    assert coverage.filled == ("DyGa3",) and coverage.absent == ("Dy3Ga2",)
    assert coverage.text == "incomplete: missing Dy3Ga2"
    filled = Coverage("filled", ("DyGa3",), ("DyGa3",))
    assert filled.absent == () and filled.text == "filled from 2019 matbench energies: DyGa3"
