"""Validity of a generated crystal, with the definitions the literature's tables use (CDVAE, MatterGen).

- Structural: every interatomic distance > 0.5 Å and volume > 0.1 Å^3 per atom.
- Compositional: SMACT charge neutrality with the Pauling electronegativity test over the ``smact14`` oxidation
  states (the list CDVAE used and MatterGen's and later papers' tables inherit; smact 3+ defaults to ICSD24, which
  rates other compositions valid). Single elements and all-metal alloys count as valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np
from pymatgen.core import Composition, Element, Structure

from backend.limits import MIN_DISTANCE, MIN_VOLUME_PER_ATOM

OXIDATION_STATES = "smact14"


@dataclass(frozen=True)
class Validity:
    structural: bool
    compositional: bool
    min_distance: float

    @property
    def valid(self) -> bool:
        return self.structural and self.compositional


def min_distance(structure: Structure) -> float:
    """Shortest interatomic distance under periodic boundary conditions (the shortest cell edge for one atom)."""
    if len(structure) == 1:
        return float(min(structure.lattice.abc))
    distances = structure.distance_matrix
    np.fill_diagonal(distances, np.inf)
    return float(distances.min())


def structurally_valid(structure: Structure) -> bool:
    return min_distance(structure) > MIN_DISTANCE and structure.volume / len(structure) > MIN_VOLUME_PER_ATOM


def smact_valid(composition: Composition) -> bool:
    """SMACT validity over the smact14 states: some assignment is neutral and passes Pauling's test.

    Same answer as ``smact.screening.smact_validity(..., oxidation_states_set="smact14")`` (a test compares them).
    """
    return charge_balance(composition) is not None


def unassessable_elements(composition: Composition) -> list[str]:
    """Elements SMACT has no data for (oganesson, ...): no charge-balance verdict can be given for them."""
    import smact

    out = []
    for el in composition.elements:
        try:
            smact.Element(el.symbol)
        except (KeyError, NameError):
            out.append(el.symbol)
    return out


def charge_balance(composition: Composition) -> tuple[tuple[str, int], ...] | None:
    """The first smact14 oxidation-state assignment that is neutral and passes Pauling's test, or None.

    Single elements and all-metal alloys are valid with no assignment (an empty tuple). Found by a depth-first
    search that prunes partial assignments whose charge the remaining elements can no longer cancel: generated
    compositions with six or seven elements have millions of combinations.
    """
    import smact
    from smact.screening import pauling_test

    amounts = {symbol: int(round(n)) for symbol, n in composition.get_el_amt_dict().items()}
    symbols = tuple(amounts)
    if len(symbols) == 1 or all(s in smact.metals for s in symbols):
        return ()
    if unassessable_elements(composition):  # no oxidation states known: not shown to be balanced
        return None
    divisor = 0
    for n in amounts.values():
        divisor = gcd(divisor, n)
    counts = [amounts[s] // max(divisor, 1) for s in symbols]
    space = smact.element_dictionary(symbols)
    # The same smact14 states with each element's common ones (pymatgen's list) tried first: the verdict is
    # unchanged, and the assignment shown to a chemist reads Li+1 Fe+2 P+5 O-2 rather than the first neutral oddity.
    states = [
        sorted(space[s].oxidation_states_smact14 or [], key=lambda o, s=s: o not in Element(s).common_oxidation_states)
        for s in symbols
    ]
    electronegativities = [space[s].pauling_eneg for s in symbols]
    if any(not options for options in states):
        return None
    low = [c * min(o) for c, o in zip(counts, states)]
    high = [c * max(o) for c, o in zip(counts, states)]
    rest_low = [sum(low[k:]) for k in range(len(symbols) + 1)]
    rest_high = [sum(high[k:]) for k in range(len(symbols) + 1)]

    def search(k: int, charge: int, chosen: list[int]) -> list[int] | None:
        if k == len(symbols):
            if charge != 0:
                return None
            try:
                return chosen if pauling_test(tuple(chosen), electronegativities) else None
            except TypeError:  # an element without a Pauling electronegativity: SMACT accepts it
                return chosen
        for state in states[k]:
            total = charge + state * counts[k]
            if rest_low[k + 1] <= -total <= rest_high[k + 1]:
                found = search(k + 1, total, [*chosen, state])
                if found is not None:
                    return found
        return None

    found = search(0, 0, [])
    return None if found is None else tuple(zip(symbols, found))


def validity(structure: Structure) -> Validity:
    distance = min_distance(structure)
    structural = distance > MIN_DISTANCE and structure.volume / len(structure) > MIN_VOLUME_PER_ATOM
    return Validity(structural=structural, compositional=smact_valid(structure.composition), min_distance=distance)
