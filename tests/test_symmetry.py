"""Space-group constraints on the per-step hook: every step projected into the group, with any checkpoint."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from backend.relax.potentials import chgnet
from backend.relax.relaxer import relax_structures
from backend.sampling.generate import generate
from backend.sampling.hooks.symmetry import project_lattice, project_orbit
from backend.sampling.hooks.trajectory import TrajectoryRecorder
from backend.sampling.request import GenerationRequest
from backend.symmetry.check import invariant
from backend.symmetry.wyckoff import assign, group


def _number(structure: Structure, symprec: float = 0.01) -> int:
    return SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_number()


def test_rocksalt_group_for_at_least_15_of_16_crystals(default_model):
    request = GenerationRequest(n=16, atoms=8, chemical_system=("Cl", "Na"), space_group=225, steps=30, seed=0)
    result = generate(default_model, request)
    numbers = [_number(s) if s is not None else None for s in result.structures]
    assert sum(n == 225 for n in numbers) >= 15, (numbers, result.failures)
    for structure in result.structures:
        if structure is not None:
            assert structure.composition.reduced_formula == "NaCl"


@pytest.mark.parametrize(
    ("space_group", "atoms"),
    [(2, 6), (14, 8), (62, 8), (139, 6), (166, 6), (194, 8), (221, 5)],
    ids=["triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic"],
)
def test_one_group_per_crystal_system(default_model, space_group, atoms):
    request = GenerationRequest(n=4, atoms=atoms, space_group=space_group, steps=12, seed=1, composition_source="model")
    result = generate(default_model, request)
    made = [s for s in result.structures if s is not None]
    assert len(made) >= 2, result.failures  # a diverged lattice is reported, not hidden
    # every operation of the group holds; spglib may report a supergroup (e.g. two orbits took one element)
    assert all(invariant(s, space_group) for s in made)


def test_every_frame_after_the_first_step_is_in_the_group(default_model):
    recorder = TrajectoryRecorder()
    request = GenerationRequest(n=2, atoms=8, chemical_system=("Cl", "Na"), space_group=225, steps=10, seed=2)
    result = generate(default_model, request, callback=recorder)
    assert all(s is not None for s in result.structures)
    for frame in recorder.frames:
        species = result.structures[frame.crystal].species
        structure = Structure(Lattice(frame.lattice), species, frame.frac_coords)
        assert _number(structure) == 225, (frame.crystal, frame.step)


def test_projection_is_idempotent_and_lands_in_the_group():
    rng = np.random.default_rng(0)
    assignment = assign(194, 8, {"Zn": 4, "S": 4}, seed=3)
    lattice = project_lattice(np.diag([3.8, 3.9, 6.2]) + rng.normal(0, 0.2, (3, 3)), "hexagonal")
    coords, species = [], []
    for orbit in assignment.orbits:
        members = project_orbit(rng.random((orbit.multiplicity, 3)), 194, orbit.index)
        np.testing.assert_allclose(project_orbit(members, 194, orbit.index), members, atol=1e-12)
        coords.append(members)
        species += [orbit.element] * orbit.multiplicity
    np.testing.assert_allclose(project_lattice(lattice, "hexagonal"), lattice, atol=1e-10)
    symmetric = Structure(Lattice(lattice), species, np.vstack(coords))
    assert _number(symmetric) == 194 and invariant(symmetric, 194)
    assert not invariant(Structure(Lattice(lattice), species, rng.random((8, 3))), 194)
    assert group(194).lattice_type == "hexagonal"


def test_symmetric_relaxation_keeps_the_group():
    strained = Structure(
        Lattice.cubic(5.9),
        ["Na"] * 4 + ["Cl"] * 4,
        [
            [0, 0, 0],
            [0.5, 0.5, 0],
            [0.5, 0, 0.5],
            [0, 0.5, 0.5],
            [0.5, 0, 0],
            [0, 0.5, 0],
            [0, 0, 0.5],
            [0.5, 0.5, 0.5],
        ],
    )
    (result,) = relax_structures([strained], chgnet(), fmax=0.05, steps=100, keep_symmetry=True)
    assert result.ok and _number(result.structure) == 225
    assert 5.4 < result.structure.lattice.a < 5.9


def test_a_composition_the_group_cannot_hold_says_why_and_which_multiple_fits():
    """Li2Fe2O4 in Fm-3m: 8 atoms is a feasible count, but 2 + 2 + 4 per element is not."""
    from backend.symmetry.wyckoff import NoAssignment, assign

    with pytest.raises(NoAssignment) as caught:
        assign(225, 8, {"Li": 2, "Fe": 2, "O": 4}, 0)
    text = str(caught.value)
    assert text.startswith("space group 225 (Fm-3m) cannot hold Fe2 Li2 O4: every element must fill whole orbits")
    assert text.endswith("the same composition fits as Fe4 Li4 O8 (2 times the cell)")
