"""Known structure types for a composition: the prototypes of its stoichiometry pattern, elements substituted.

For a composition (say Ca3V2O8) every training crystal with the same anonymous formula (A2B3C8, formula-unit
multiples included) is a candidate template. Its elements are replaced class by class -- the element that
occupies a class with the same count in the template's formula takes the target's element of that count; among
classes of equal count every permutation is tried -- and the assignment is scored by how alike the swapped
elements are: the mean of the squared differences in Pauling electronegativity (per 0.5) and atomic radius (per
0.2 Å) over the swapped pairs (CSPML-style elemental distance; ``benchmarks/csp.py`` measures the ranking). The
cell is scaled so the template's volume changes by the ratio of the two compositions' predicted volumes
(per-element volumes fitted on the training data), which keeps the template's packing. Each distinct prototype
(AFLOW-style label) is represented by its member whose elements fit best; prototypes are ranked by that fit,
more populous structure types first among near ties. A dressed candidate that matches one listed before it is left
out: two labels can name one structure type (rock salt's A on 4a or on 4b is an origin shift).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from pymatgen.core import Composition, Structure
from pymatgen.core.periodic_table import Element

from backend.prototypes.index import composition_volume, load_index, training_structure

ELECTRONEGATIVITY_SCALE = 0.5  # Pauling units that count as one unit of distance
RADIUS_SCALE = 0.2  # Å of atomic radius that count as one unit of distance
POPULATION_WEIGHT = 0.05  # distance units a tenfold more populous prototype is worth
MAX_PERMUTATIONS = 720  # classes of equal count beyond this many orderings are not enumerated


@dataclass(frozen=True)
class Prototype:
    """A known structure type dressed with the target's elements, and why it was chosen."""

    prototype: str  # AFLOW-style label, e.g. "AB_225_a_b"
    template_id: str  # the training crystal it was made from
    template_formula: str
    substitution: str  # "Na->K Cl->Br" (identity swaps left out)
    distance: float  # elemental distance of the swap (0: the template's own elements)
    members: int  # training crystals of this prototype
    space_group: int
    structure: Structure


def prototype_score(distance: float, members: int) -> float:
    """Lower is better: the swap's distance, with populous structure types slightly preferred."""
    return distance - POPULATION_WEIGHT * math.log10(members)


def _properties(symbol: str) -> tuple[float, float]:
    element = Element(symbol)
    x = element.X if not math.isnan(element.X) else 1.5
    radius = float(element.atomic_radius or element.atomic_radius_calculated or 1.5)
    return x, radius


def element_distance(a: str, b: str) -> float:
    """How unlike two elements are for a substitution (0 for the same element)."""
    (xa, ra), (xb, rb) = _properties(a), _properties(b)
    return ((xa - xb) / ELECTRONEGATIVITY_SCALE) ** 2 + ((ra - rb) / RADIUS_SCALE) ** 2


def _classes(composition: Composition) -> dict[int, list[str]]:
    """Elements grouped by their amount in the formula divided by the amounts' common divisor (the anonymous
    formula's counts: pymatgen's reduced composition keeps peroxides whole, Li2O2, where the pattern is AB)."""
    amounts = {el.symbol: int(round(n)) for el, n in composition.items()}
    divisor = math.gcd(*amounts.values())
    grouped: dict[int, list[str]] = defaultdict(list)
    for symbol, n in amounts.items():
        grouped[n // divisor].append(symbol)
    return grouped


@lru_cache(maxsize=65536)
def _oxidation_states(reduced_formula: str) -> dict[str, float] | None:
    """pymatgen's most likely oxidation state per element, or None where it finds no neutral assignment."""
    guesses = Composition(reduced_formula).oxi_state_guesses(max_sites=-20)
    return dict(guesses[0]) if guesses else None


def substitution_cost(template: Composition, target: Composition) -> Callable[[str, str], float]:
    """Pair cost from the data-mined ionic substitution probabilities (pymatgen's ``SubstitutionProbability``,
    Hautier et al. 2011): -log10 of the probability that the target's ion takes the template ion's place, with
    each composition's most likely oxidation states; the elemental distance where either has none."""
    from pymatgen.core import Species

    have = _oxidation_states(template.reduced_formula)
    want = _oxidation_states(target.reduced_formula)
    if have is None or want is None:
        return element_distance

    def cost(source: str, chosen: str) -> float:
        if source == chosen:
            return 0.0
        try:
            p = _substitutions().cond_prob(Species(chosen, want[chosen]), Species(source, have[source]))
        except (KeyError, ValueError, ZeroDivisionError):  # an ion the table has never seen
            return element_distance(source, chosen)
        return -math.log10(max(p, 1e-6))

    return cost


@lru_cache(maxsize=1)
def _substitutions() -> object:
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionProbability

    return SubstitutionProbability()


def assignments(
    template: Composition, target: Composition, scoring: str = "distance", limit: int = 1
) -> list[tuple[dict[str, str], float]]:
    """The ``limit`` template-element -> target-element maps of least mean cost (best first), empty where the
    stoichiometry patterns differ. Classes of equal count have several maps (NaCl's two elements can swap sites);
    ``scoring``: ``distance`` (elemental property distance) or ``substitution`` (ionic substitution probability)."""
    have, want = _classes(template), _classes(target)
    pair_cost = element_distance if scoring == "distance" else substitution_cost(template, target)
    if sorted((k, len(v)) for k, v in have.items()) != sorted((k, len(v)) for k, v in want.items()):
        return []
    per_class = []
    for amount, sources in have.items():
        options = itertools.islice(itertools.permutations(want[amount]), MAX_PERMUTATIONS)
        scored = sorted((sum(pair_cost(s, t) for s, t in zip(sources, p)), p) for p in options)
        per_class.append([(cost, dict(zip(sources, p))) for cost, p in scored[:limit]])
    pairs = sum(len(v) for v in have.values())
    combined = []
    for choice in itertools.product(*per_class):
        mapping = {source: chosen for _, part in choice for source, chosen in part.items()}
        combined.append((mapping, sum(cost for cost, _ in choice) / max(pairs, 1)))
    combined.sort(key=lambda item: item[1])
    return combined[:limit]


def dress(template: Structure, mapping: dict[str, str], target: Composition) -> Structure:
    """The template with its elements swapped and its cell scaled by the predicted volume ratio."""
    swapped = template.copy()
    swapped.replace_species({el: mapping[el.symbol] for el in template.composition.elements})
    ratio = composition_volume(swapped.composition) / composition_volume(template.composition)
    swapped.scale_lattice(template.volume * ratio)
    return swapped


def retrieve(
    composition: Composition | str,
    k: int = 5,
    max_atoms: int | None = None,
    exclude_formula: bool = False,
    scoring: str = "distance",
    per_prototype: int = 1,
) -> list[Prototype]:
    """The ``k`` best distinct prototypes for ``composition`` (best first); empty when no training crystal shares
    its stoichiometry pattern. ``max_atoms`` leaves out templates whose cell is larger; ``exclude_formula`` leaves out
    crystals of the composition itself (de-novo seeds must be new); ``per_prototype`` > 1 lists a prototype's next
    best element assignments too (elements of equal count on each other's sites), each a candidate of its own."""
    target = Composition(composition)
    index = load_index()
    rows = index[index.anonymous_formula == target.anonymized_formula]
    if exclude_formula:
        rows = rows[rows.reduced_formula != target.reduced_formula]
    if max_atoms is not None:
        rows = rows[rows.n_atoms <= max_atoms]
    best: dict[str, tuple[tuple[float, float, int], object]] = {}
    for row in rows.itertuples(index=False):
        found = assignments(Composition(row.reduced_formula), target, scoring)
        if not found:
            continue
        key = (found[0][1], row.e_above_hull, row.n_atoms)
        if row.prototype not in best or key < best[row.prototype][0]:
            best[row.prototype] = (key, row)
    members = rows.prototype.value_counts().to_dict()
    options = []
    for label, (_, row) in best.items():
        for mapping, distance in assignments(Composition(row.reduced_formula), target, scoring, per_prototype):
            swaps = " ".join(f"{s}->{t}" for s, t in sorted(mapping.items()) if s != t)
            options.append(
                (prototype_score(distance, members[label]), row.material_id, swaps, label, row, mapping, distance)
            )
    out: list[Prototype] = []
    for _, _, swaps, label, row, mapping, distance in sorted(options, key=lambda o: o[:3]):
        structure = dress(training_structure(row.material_id), mapping, target)
        if any(other.space_group == row.space_group and _same(structure, other.structure) for other in out):
            continue  # a label of the same structure type (origin shift, swapped equivalent sites): listed already
        out.append(
            Prototype(
                prototype=label,
                template_id=row.material_id,
                template_formula=row.reduced_formula,
                substitution=swaps or "none",
                distance=round(distance, 4),
                members=int(members[label]),
                space_group=int(row.space_group),
                structure=structure,
            )
        )
        if len(out) == k:
            break
    return out


def _same(a: Structure, b: Structure) -> bool:
    from pymatgen.analysis.structure_matcher import StructureMatcher

    return StructureMatcher().fit(a, b)


def prototype_starts(composition: str, n: int, k: int = 5, max_atoms: int | None = None) -> tuple[list[Structure], str]:
    """``n`` start structures for partial diffusion at ``composition`` -- its ``k`` best prototypes in turn -- and
    a line for the user (which prototypes, or that none exists and generation starts from noise)."""
    found = retrieve(composition, k=min(k, n), max_atoms=max_atoms)
    reduced = Composition(composition).reduced_formula
    if not found:
        return [], f"no known prototype has the stoichiometry of {reduced}: generating from noise"
    labels = ", ".join(f"{p.prototype} ({p.template_formula})" for p in found)
    starts = [found[i % len(found)].structure for i in range(n)]
    return starts, f"starting from {len(found)} prototypes of {reduced}: {labels}"
