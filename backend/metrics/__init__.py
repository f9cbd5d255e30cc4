"""Batch quality metrics for generated crystals, with the definitions the literature uses.

- Structural validity (CDVAE): every interatomic distance > 0.5 Å and volume > 0.1 Å^3 per atom.
- Compositional validity (CDVAE): SMACT charge neutrality with the Pauling electronegativity test;
  single elements and all-metal alloys count as valid.
- Uniqueness: pymatgen ``StructureMatcher`` (ltol 0.2, stol 0.3, angle_tol 5°), compared only within
  a reduced-formula bucket, so the cost grows with duplicates, not with the square of the batch.
- Novelty: the same matcher against the shipped MP-20 crystals with the same reduced formula.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from math import gcd

import numpy as np
import pandas as pd
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Composition, Structure

from backend.paths import ASSETS

MIN_DISTANCE = 0.5  # Å
MIN_VOLUME_PER_ATOM = 0.1  # Å^3
MATCHER_TOLERANCES = {"ltol": 0.2, "stol": 0.3, "angle_tol": 5.0}
MP20_CSV = ASSETS / "data" / "mp20" / "mp20_subset.csv.gz"


@dataclass(frozen=True)
class Validity:
    structural: bool
    compositional: bool
    min_distance: float

    @property
    def valid(self) -> bool:
        return self.structural and self.compositional


def min_distance(structure: Structure) -> float:
    """Shortest interatomic distance under periodic boundary conditions (inf for one atom alone)."""
    if len(structure) == 1:
        return float(min(structure.lattice.abc))
    distances = structure.distance_matrix
    np.fill_diagonal(distances, np.inf)
    return float(distances.min())


def structurally_valid(structure: Structure) -> bool:
    return min_distance(structure) > MIN_DISTANCE and structure.volume / len(structure) > MIN_VOLUME_PER_ATOM


def smact_valid(composition: Composition) -> bool:
    """CDVAE's compositional validity: some oxidation-state assignment is neutral and passes Pauling.

    Same answer as CDVAE's loop over every combination of oxidation states, found by a depth-first
    search that prunes partial assignments whose charge the remaining elements can no longer cancel:
    generated compositions with six or seven elements have millions of combinations.
    """
    import smact
    from smact.screening import pauling_test

    amounts = {symbol: int(round(n)) for symbol, n in composition.get_el_amt_dict().items()}
    symbols = tuple(amounts)
    if len(symbols) == 1 or all(s in smact.metals for s in symbols):
        return True
    divisor = 0
    for n in amounts.values():
        divisor = gcd(divisor, n)
    counts = [amounts[s] // max(divisor, 1) for s in symbols]
    space = smact.element_dictionary(symbols)
    states = [list(space[s].oxidation_states or []) for s in symbols]
    electronegativities = [space[s].pauling_eneg for s in symbols]
    if any(not options for options in states):
        return False
    low = [c * min(o) for c, o in zip(counts, states)]
    high = [c * max(o) for c, o in zip(counts, states)]
    rest_low = [sum(low[k:]) for k in range(len(symbols) + 1)]
    rest_high = [sum(high[k:]) for k in range(len(symbols) + 1)]

    def search(k: int, charge: int, chosen: list[int]) -> bool:
        if k == len(symbols):
            if charge != 0:
                return False
            try:
                return bool(pauling_test(tuple(chosen), electronegativities))
            except TypeError:  # an element without a Pauling electronegativity: CDVAE accepts it
                return True
        for state in states[k]:
            total = charge + state * counts[k]
            if rest_low[k + 1] <= -total <= rest_high[k + 1] and search(k + 1, total, [*chosen, state]):
                return True
        return False

    return search(0, 0, [])


def validity(structure: Structure) -> Validity:
    distance = min_distance(structure)
    structural = distance > MIN_DISTANCE and structure.volume / len(structure) > MIN_VOLUME_PER_ATOM
    return Validity(structural=structural, compositional=smact_valid(structure.composition), min_distance=distance)


def _matcher() -> StructureMatcher:
    return StructureMatcher(**MATCHER_TOLERANCES)


def unique_mask(structures: Sequence[Structure]) -> list[bool]:
    """True for the first occurrence of every distinct structure (bucketed by reduced formula)."""
    matcher = _matcher()
    kept: dict[str, list[Structure]] = defaultdict(list)
    mask = []
    for structure in structures:
        bucket = kept[structure.composition.reduced_formula]
        duplicate = any(matcher.fit(structure, other) for other in bucket)
        if not duplicate:
            bucket.append(structure)
        mask.append(not duplicate)
    return mask


@lru_cache(maxsize=1)
def _reference_by_formula() -> dict[str, list[str]]:
    frame = pd.read_csv(MP20_CSV, usecols=["pretty_formula", "cif"])
    grouped: dict[str, list[str]] = defaultdict(list)
    for formula, cif in zip(frame.pretty_formula, frame.cif):
        grouped[Composition(formula).reduced_formula].append(cif)
    return grouped


def novel(structure: Structure) -> bool:
    """Not matched by any shipped MP-20 crystal of the same reduced formula."""
    candidates = _reference_by_formula().get(structure.composition.reduced_formula, [])
    matcher = _matcher()
    return not any(matcher.fit(structure, Structure.from_str(cif, fmt="cif")) for cif in candidates)
