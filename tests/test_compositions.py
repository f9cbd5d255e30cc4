"""Exact compositions on the hook, and the composition proposer behind composition-first generation."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from backend.cli import main
from backend.compositions.proposer import CompositionProposer
from backend.metrics.validity import smact_valid
from backend.sampling.composition import proposals
from backend.sampling.generate import generate
from backend.sampling.request import (
    GenerationRequest,
    InvalidRequest,
    allowed_elements,
    cell_histogram,
    parse_composition,
)


def _proposer(**kwargs) -> CompositionProposer:
    settings = dict(
        seed=0, allowed_elements=allowed_elements(), max_atoms=20, cell_histogram=cell_histogram("ALEX_MP_20")
    )
    return CompositionProposer(**{**settings, **kwargs})


def test_generate_writes_exactly_the_requested_composition(tmp_path):
    out = tmp_path / "out"
    assert main(["generate", "--composition", "Li2Fe2O4", "--n", "4", "--steps", "20", "--out", str(out)]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.status) == ["ok"] * 4
    assert set(summary.required_composition) == {"Li2Fe2O4"}
    for name in summary.file:
        assert Structure.from_file(out / name).composition == Composition("Li2Fe2O4")


@pytest.mark.parametrize("method", ["counts", "pin"])
def test_both_composition_methods_hold_every_crystal_to_its_content(default_model, method):
    wanted = ("LiFePO4", "Li4O2", "Na4Cl4")
    request = GenerationRequest(n=3, compositions=wanted, composition_method=method, steps=30, seed=3)
    result = generate(default_model, request)
    assert result.compositions == wanted
    made = [(s, f) for s, f in zip(result.structures, wanted) if s is not None]
    assert len(made) >= 2, result.failures  # a diverged lattice is reported, not hidden
    for structure, formula in made:
        assert structure.composition == Composition(formula)


def test_formula_units_multiply_the_cell():
    assert Composition(parse_composition("LiFePO4", formula_units=4)) == Composition("Li4Fe4P4O16")
    assert parse_composition("Li3Fe2(PO4)3") == "Li3Fe2P3O12"
    with pytest.raises(InvalidRequest, match="cannot read composition"):
        parse_composition("Li2-O")


def test_proposals_look_like_the_training_data_and_are_charge_balanced():
    proposed = _proposer(novelty=0.25).propose(64)
    elements = Counter(len(Composition(p.formula)) for p in proposed)
    assert sum(n for k, n in elements.items() if k <= 4) >= 0.9 * 64, elements
    assert all(smact_valid(Composition(p.formula)) for p in proposed)
    assert all(Composition(p.formula).num_atoms <= 20 for p in proposed)
    assert [p.formula for p in _proposer(novelty=0.25).propose(64)] == [p.formula for p in proposed]  # seeded


def test_the_novelty_knob_moves_proposals_away_from_known_compositions():
    assert all(p.known for p in _proposer(novelty=0.0).propose(32))
    novel = _proposer(novelty=1.0).propose(32)
    assert sum(not p.known for p in novel) >= 12  # a swap that makes a new balanced formula is not always found
    assert all(p.origin.startswith("substitution") for p in novel if not p.known)


def test_a_chemical_system_restricts_the_proposer_to_it():
    for p in _proposer(chemical_system=("Fe", "Li", "O")).propose(16):
        assert {e.symbol for e in Composition(p.formula).elements} == {"Fe", "Li", "O"}
    fixed = _proposer(chemical_system=("Li", "O"), cell_atoms=6).propose(8)
    assert all(Composition(p.formula).num_atoms == 6 for p in fixed)


def test_the_embedded_model_seeds_proposed_compositions_by_default(default_model):
    assert GenerationRequest(atoms=None).default_source(default_model.info) == "prototypes"
    for own in (dict(space_group=225), dict(atoms=8)):  # a seed brings its own group and its own cell
        assert GenerationRequest(**{"atoms": None, **own}).default_source(default_model.info) == "proposer"
    request = GenerationRequest(n=4, atoms=None, steps=12, seed=0)
    shown = proposals(request, default_model.info)
    result = generate(default_model, request)
    reduced = [Composition(c).reduced_formula for c in result.compositions]  # a seed's cell: its conventional one
    assert reduced == [Composition(p.formula).reduced_formula for p in shown]
    assert all(SpacegroupAnalyzer(s, symprec=0.1).get_space_group_number() > 1 for s in result.structures if s)
    assert proposals(GenerationRequest(composition_source="model"), default_model.info) is None


def test_a_system_without_charge_balanced_compositions_is_one_line(default_model):
    with pytest.raises(InvalidRequest, match="no charge-balanced composition of F-Na fits in 3 atoms"):
        proposals(GenerationRequest(chemical_system=("F", "Na"), atoms=3), default_model.info)


def test_counts_hook_survives_a_redrawn_or_remasked_atom():
    """A crystal whose cell diverges gets NaN type scores, and its decided atoms can come back masked (token 101) or
    as an element outside its counts; the hook must re-decide them, not fail the whole batch (KeyError: 101)."""
    from types import SimpleNamespace

    from pymatgen.core import Composition

    from backend.sampling.hooks.composition import ExactComposition

    hook = ExactComposition([Composition("Li2O")])
    probabilities = np.full((3, 100), 0.01)
    state = SimpleNamespace(
        step=0, batch_index=0, first_crystal=0, next_t=0.5, num_atoms=np.array([3]), type_probabilities=probabilities
    )
    assert hook._constrained(state, np.array([3, 3, 8])).tolist() == [3, 3, 8]
    state.step = 1
    assert hook._constrained(state, np.array([3, 101, 8])).tolist() == [3, 101, 8]  # re-masked: waits
    state.step, state.next_t = 2, None
    assert hook._constrained(state, np.array([3, 26, 8])).tolist() == [3, 3, 8]  # Fe is not owed: Li is
