"""Knowledge-seeded generation: the prototype index, retrieval, partial diffusion from a structure and CSP."""

import numpy as np
import pandas as pd
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from backend.cli import main
from backend.csp import CspCandidate, rank, ranking_line, screen, write_ranking
from backend.csp_order import consensus_order
from backend.paths import ASSETS
from backend.prototypes.index import describe, load_index
from backend.prototypes.retrieval import retrieve
from backend.relax.potentials import chgnet
from backend.sampling.generate import generate
from backend.sampling.request import GenerationRequest, InvalidRequest
from backend.symmetry.wyckoff import orbits_of

NACL = ASSETS / "data" / "hosts" / "NaCl_mp-22862.cif"
OLIVINE = ASSETS / "data" / "hosts" / "LiFePO4_olivine_mp-19017.cif"


def test_index_labels_rock_salt_and_holds_no_benchmark_target():
    number, wyckoff, label = describe(Structure.from_file(NACL))
    assert (number, label) == (225, "AB_225_a_b") and wyckoff in ("A:a B:b", "A:b B:a")
    index = load_index()
    assert len(index) == 15686
    targets = pd.read_csv("benchmarks/data/csp_targets.csv")
    assert not set(targets.material_id) & set(index.material_id)  # MPTS-52 never enters the index


def test_retrieval_substitutes_the_closest_members_and_scales_the_cell():
    found = retrieve("KBr", k=3)
    assert found[0].prototype == "AB_225_a_b"
    assert {el.symbol for el in found[0].structure.composition.elements} == {"K", "Br"}
    assert len({p.prototype for p in found}) == 3
    assert 30 < found[0].structure.volume / len(found[0].structure) < 45  # KBr: 36 Å³/atom
    assert retrieve("Li5Fe3O7") == []


def test_alternative_assignments_swap_equal_count_elements_and_skip_equivalent_swaps():
    found = retrieve("ScZnPd", k=20, per_prototype=3)
    by_prototype: dict[str, list] = {}
    for p in found:
        by_prototype.setdefault(p.prototype, []).append(p)
    assert any(len(group) > 1 for group in by_prototype.values())  # Sc, Zn and Pd trade sites within one type
    listed = retrieve("KBr", k=20, per_prototype=2)
    assert len(listed) == 20 and listed[0].prototype == "AB_225_a_b"
    assert "AB_225_b_a" not in {p.prototype for p in listed}  # rock salt again, its origin shifted
    for i, a in enumerate(listed):  # K and Br trading sites in rock salt is rock salt: listed once
        assert not any(StructureMatcher().fit(a.structure, b.structure) for b in listed[i + 1 :])


def test_energy_screen_keeps_rock_salt_for_kbr():
    pool = retrieve("KBr", k=20, per_prototype=2)
    kept = screen(pool, chgnet(), 3)
    assert len(kept) == 3 and set(map(id, kept)) <= set(map(id, pool))
    assert "AB_225_a_b" in {p.prototype for p in kept}


def test_orbits_of_rebuilds_the_conventional_cell_orbit_by_orbit():
    primitive = Structure.from_file(NACL)
    rebuilt, assignment = orbits_of(primitive)
    assert len(primitive) == 2 and len(rebuilt) == 8
    assert assignment.space_group == 225 and sorted(assignment.label.split(",")) == ["4a:Na", "4b:Cl"]
    assert StructureMatcher().fit(rebuilt, primitive)


def test_a_variation_keeps_the_start_space_group_when_asked(default_model):
    start = Structure.from_file(OLIVINE)
    numbers = {}
    for symmetry in ("free", "keep"):
        request = GenerationRequest(
            n=2, atoms=None, steps=50, seed=0, start_structures=(start.to_json(),), start_symmetry=symmetry
        )
        made = generate(default_model, request).structures
        numbers[symmetry] = {SpacegroupAnalyzer(s, symprec=0.1).get_space_group_number() for s in made}
    assert numbers == {"free": {1}, "keep": {62}}
    with pytest.raises(InvalidRequest, match="keep its types"):
        GenerationRequest(start_structures=(start.to_json(),), start_symmetry="keep", start_types="mask").validate(
            default_model.info
        )


def test_prototype_seeds_keep_their_structure_types(default_model):
    request = GenerationRequest(n=4, atoms=None, steps=50, seed=0, composition_source="prototypes")
    made = [s for s in generate(default_model, request).structures if s is not None]
    assert len(made) == 4
    assert all(SpacegroupAnalyzer(s, symprec=0.1).get_space_group_number() > 1 for s in made)


def _site_rmsd(a: Structure, b: Structure) -> float:
    shift = (a.frac_coords - b.frac_coords + 0.5) % 1.0 - 0.5
    return float(np.sqrt((np.linalg.norm(a.lattice.get_cartesian_coords(shift), axis=1) ** 2).mean()))


def test_start_near_zero_returns_the_start_structure(default_model):
    start = Structure.from_file(OLIVINE)
    request = GenerationRequest(
        n=2, atoms=None, steps=100, seed=0, start_structures=(start.to_json(),), start_time=0.02
    )
    result = generate(default_model, request)
    for structure in result.structures:
        assert structure.composition == start.composition
        assert _site_rmsd(structure, start) < 0.2


def test_start_at_one_is_ordinary_generation(default_model):
    start = Structure.from_file(NACL)
    seeded = GenerationRequest(n=2, atoms=None, steps=20, seed=4, start_structures=(start.to_json(),), start_time=1.0)
    plain = GenerationRequest(n=2, atoms=None, steps=20, seed=4, compositions=("NaCl",))
    assert generate(default_model, seeded).structures == generate(default_model, plain).structures


def test_bad_start_requests_are_one_line(default_model):
    start = Structure.from_file(NACL).to_json()
    with pytest.raises(InvalidRequest, match="start time"):
        GenerationRequest(start_structures=(start,), start_time=0.0).validate(default_model.info)
    with pytest.raises(InvalidRequest, match="fixes the composition"):
        GenerationRequest(start_structures=(start,), compositions=("NaCl",)).validate(default_model.info)


def test_csp_ranks_relaxed_candidates_and_finds_rock_salt(tmp_path):
    out = tmp_path / "kbr"
    args = ["csp", "--composition", "KBr", "--n", "3", "--prototypes", "2", "--steps", "10"]
    assert main([*args, "--relax-steps", "60", "--out", str(out)]) == 0
    ranking = pd.read_csv(out / "ranking.csv", keep_default_na=False)
    assert list(ranking.columns[:6]) == ["rank", "file", "source", "origin", "space_group", "energy_per_atom"]
    assert set(ranking.source) == {"prototype", "variation"}
    energies = ranking.energy_per_atom[ranking["rank"] != ""].astype(float)
    assert energies.is_monotonic_increasing
    best = Structure.from_file(out / ranking.file[0])
    rock_salt = retrieve("KBr", k=1)[0].structure
    assert StructureMatcher().fit(best, rock_salt)


def test_candidates_relaxing_into_one_structure_are_ranked_once(tmp_path):
    rock_salt = Structure.from_file(NACL)
    shaken = rock_salt.copy()
    shaken.perturb(0.05, min_distance=0.02)
    zinc_blende = Structure(rock_salt.lattice, ["Na", "Cl"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    candidates = [
        CspCandidate(f"p{i + 1}", "prototype", "test", s) for i, s in enumerate([rock_salt, shaken, zinc_blende])
    ]
    ranked = rank(candidates, chgnet(), fmax=0.1, steps=20)
    assert [r.candidate.name for r in ranked][0] in ("p1", "p2")  # rock salt is lower than zinc blende
    marks = {r.candidate.name: r.same_as for r in ranked}
    assert {marks["p1"], marks["p2"]} == {None, ranked[0].candidate.name} and marks["p3"] is None
    frame = write_ranking(ranked, tmp_path)
    assert list(frame["rank"]) == [1, "", 2]
    assert frame.same_as[1] == f"{ranked[0].candidate.name}_relaxed.cif"
    assert (tmp_path / f"{ranked[1].candidate.name}_relaxed.cif").exists()
    assert ranking_line(frame, 3) == (
        "2 distinct structures ranked by CHGNet energy per atom from 3 relaxed of 3 candidates (1 relaxed into a "
        "structure ranked above them)"
    )


def test_consensus_sums_each_orders_places_and_puts_unknown_last():
    retrieval, screen_rank, energy = [1, 2, 3, None], [2, 1, 3, None], [-5.0, -4.9, -5.1, -5.3]
    assert consensus_order([energy]) == [3, 2, 0, 1]
    # places 0+1+2, 1+0+3, 2+2+1, 3+3+0: the diffusion sample (no ranks) is last despite its energy
    assert consensus_order([retrieval, screen_rank, energy]) == [0, 1, 2, 3]
    assert consensus_order([[2, 1, 1], [0.0, -1.0, -2.0]]) == [2, 1, 0]  # equal values share a place


def test_csp_ranks_by_consensus_when_asked(tmp_path):
    rock_salt = Structure.from_file(NACL)
    zinc_blende = Structure(rock_salt.lattice, ["Na", "Cl"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    candidates = [
        CspCandidate("p1", "prototype", "test", zinc_blende, retrieval_rank=1, screen_rank=1),
        CspCandidate("p2", "prototype", "test", rock_salt, retrieval_rank=2, screen_rank=2),
    ]
    by_energy = rank(candidates, chgnet(), fmax=0.1, steps=20)
    assert [r.candidate.name for r in by_energy] == ["p2", "p1"]
    by_consensus = rank(candidates, chgnet(), fmax=0.1, steps=20, order="consensus")
    assert [r.candidate.name for r in by_consensus] == ["p1", "p2"]  # first by two judges of three
    frame = write_ranking(by_consensus, tmp_path)
    assert list(frame.file) == ["p1_relaxed.cif", "p2_relaxed.cif"]
    assert ranking_line(frame, 2, "consensus").startswith("2 distinct structures ranked by the consensus of")


def test_csp_without_prototype_says_so_and_uses_diffusion(tmp_path, capsys):
    out = tmp_path / "odd"
    args = ["csp", "--composition", "Li5Fe3O7", "--n", "2", "--steps", "10", "--relax-steps", "5"]
    main([*args, "--out", str(out)])
    assert "no known prototype has the stoichiometry of Li5Fe3O7" in capsys.readouterr().out
    ranking = pd.read_csv(out / "ranking.csv", keep_default_na=False)
    assert set(ranking.source) == {"diffusion"} and len(ranking) == 2
