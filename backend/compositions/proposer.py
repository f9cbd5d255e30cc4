"""A composition proposer mined from the Materials Project's compositions, for composition-first generation.

The concept-composition finding (conditioning on generated compositions raised V.S.U.N. by 53 % on MP-20) and
Chemeleon's composition mode both put chemistry first: pick a plausible cell content, then let the diffusion model
find a structure for exactly that content. The embedded model needs it most: its per-site atom types are nearly
independent draws (see the README's diagnostics), so left alone it writes 6-8 elements into 8 atoms.

How a proposal is drawn (seeded, so the Generate page can show the same list the job will sample):

1. the number of distinct elements k from the training data's distribution (MP-20: 24 % binary, 71 % ternary,
   3.4 % quaternary, 0.5 % with 5 or more);
2. a reduced formula with k elements from the 104,665 MP formulas shipped with the hull table (plus the training
   set's), among those the model can place, that fit the cell and that are SMACT charge-balanced (smact14);
3. with probability ``novelty``, one of its ions swapped for another by pymatgen's data-mined ionic substitution
   probabilities (Hautier et al. 2011), kept only if the result is absent from MP and still charge-balanced;
4. the number of formula units from the Alex-MP-20 cell-size histogram, among the multiples that fit.

With a chemical system the formulas are those of exactly that system; where MP has none, small charge-balanced
integer compositions of the system are enumerated.
"""

from __future__ import annotations

import ast
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Species

from backend.compositions.cell import cell_formula
from backend.metrics.validity import charge_balance
from backend.paths import ASSETS

HULL_TABLE = ASSETS / "data" / "hull" / "mp_hull_2024.csv.gz"
MP20_CSV = ASSETS / "data" / "mp20" / "mp20_subset.csv.gz"
MAX_TRIES = 400  # draws per proposal before the proposer gives up on a constraint set
ENUMERATED_CHOICES = 12  # an unknown system: choose among this many of its smallest balanced compositions
SUBSTITUTION_FLOOR = 1e-3  # ignore ion swaps the lambda table rates less likely than this


class NoComposition(ValueError):
    """No composition satisfies the constraints; ``str(exc)`` is one line for the user."""


@dataclass(frozen=True)
class Proposal:
    """One proposed cell content and where it came from."""

    formula: str  # the cell's content, e.g. "Li4Fe4O8"
    reduced_formula: str
    known: bool  # the reduced formula is a Materials Project composition
    origin: str  # "MP", "substitution: Mn2+ -> Fe2+ in LiMnPO4", "enumerated"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Proposal:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class _Formulas:
    """Known reduced formulas, grouped by number of elements and by element set."""

    by_size: dict[int, tuple[str, ...]]
    by_system: dict[frozenset[str], tuple[str, ...]]
    known: frozenset[str]
    size_weights: dict[int, float]  # share of training crystals with k distinct elements


@lru_cache(maxsize=1)
def _formulas() -> _Formulas:
    # keep_default_na=False: sodium nitride's formula is "NaN"
    mp = pd.read_csv(HULL_TABLE, usecols=["formula", "elements"], dtype=str, keep_default_na=False)
    train = pd.read_csv(MP20_CSV, usecols=["pretty_formula", "elements"], dtype=str, keep_default_na=False)
    train_systems = [frozenset(ast.literal_eval(elements)) for elements in train.elements]
    systems: dict[frozenset[str], set[str]] = {}
    for formula, elements in zip(mp.formula, mp.elements):
        systems.setdefault(frozenset(elements.split("-")), set()).add(formula)
    for formula, system in zip(train.pretty_formula, train_systems):
        systems.setdefault(system, set()).add(formula)  # MP-20's pretty formulas are reduced formulas
    by_size: dict[int, list[str]] = {}
    for system, formulas in sorted(systems.items(), key=lambda item: sorted(item[0])):
        by_size.setdefault(len(system), []).extend(sorted(formulas))
    sizes = pd.Series([len(system) for system in train_systems]).value_counts(normalize=True)
    return _Formulas(
        by_size={k: tuple(v) for k, v in by_size.items()},
        by_system={k: tuple(sorted(v)) for k, v in systems.items()},
        known=frozenset().union(*systems.values()),
        size_weights={int(k): float(v) for k, v in sizes.items()},
    )


@lru_cache(maxsize=1)
def _substitutions() -> object:
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionProbability

    return SubstitutionProbability()


@lru_cache(maxsize=65536)
def _balanced(reduced_formula: str) -> tuple[tuple[str, int], ...] | None:
    return charge_balance(Composition(reduced_formula))


def _cell_sizes(formula_atoms: int, max_atoms: int, histogram: dict[int, float]) -> tuple[list[int], list[float]]:
    """Multiples of the formula's atom count that fit, weighted by how often MP-20-like cells have that size."""
    sizes = [z * formula_atoms for z in range(1, max_atoms // formula_atoms + 1)]
    weights = [histogram.get(size, 0.0) for size in sizes]
    if not sum(weights):
        weights = [1.0] * len(sizes)
    return sizes, weights


class CompositionProposer:
    """Draws :class:`Proposal` s; construct once per request (it holds the seeded generator)."""

    def __init__(
        self,
        seed: int,
        allowed_elements: Sequence[str],
        max_atoms: int,
        cell_histogram: dict[int, float],
        chemical_system: Sequence[str] | None = None,
        novelty: float = 0.25,
        cell_atoms: int | None = None,
        accept: Callable[[Composition], bool] | None = None,
        constraint: str = "",
    ):
        if not 0.0 <= novelty <= 1.0:
            raise NoComposition(f"novelty must be between 0 and 1 (got {novelty})")
        self.rng = np.random.default_rng(seed)
        self.allowed = frozenset(allowed_elements)
        self.max_atoms = max_atoms
        self.histogram = cell_histogram
        self.system = frozenset(chemical_system) if chemical_system else None
        self.novelty = novelty
        self.cell_atoms = cell_atoms  # a fixed cell size: only formulas whose atom count divides it
        self.accept = accept  # a further test of the cell's content (e.g. a Wyckoff assignment exists)
        self.constraint = constraint  # says what ``accept`` asks, for the refusal
        self.data = _formulas()

    def propose(self, n: int) -> list[Proposal]:
        return [self._one() for _ in range(n)]

    def _fits(self, reduced_formula: str) -> bool:
        composition = Composition(reduced_formula)
        atoms = int(composition.num_atoms)
        size_ok = self.cell_atoms % atoms == 0 if self.cell_atoms else atoms <= self.max_atoms
        return (
            size_ok
            and all(e.symbol in self.allowed for e in composition.elements)
            and _balanced(reduced_formula) is not None
        )

    def _one(self) -> Proposal:
        for _ in range(MAX_TRIES if self.accept else 1):
            proposal = self._draw()
            if self.accept is None or self.accept(Composition(proposal.formula)):
                return proposal
        raise NoComposition(f"no charge-balanced composition found {self.constraint or 'that fits'}")

    def _draw(self) -> Proposal:
        base, origin = self._base_formula()
        reduced = base
        if self.system is None and self.rng.random() < self.novelty:
            substituted = self._substitute(base)
            if substituted is not None:
                reduced, origin = substituted
        composition = Composition(reduced)
        if self.cell_atoms:
            total = self.cell_atoms
        else:
            sizes, weights = _cell_sizes(int(composition.num_atoms), self.max_atoms, self.histogram)
            total = int(self.rng.choice(sizes, p=np.array(weights) / sum(weights)))
        cell = composition * (total // int(composition.num_atoms))
        return Proposal(
            formula=cell_formula(cell),
            reduced_formula=reduced,
            known=reduced in self.data.known,
            origin=origin,
        )

    def _base_formula(self) -> tuple[str, str]:
        if self.system is not None:
            return self._in_system()
        sizes = sorted(k for k in self.data.size_weights if k in self.data.by_size)
        weights = np.array([self.data.size_weights[k] for k in sizes])
        for _ in range(MAX_TRIES):
            k = int(self.rng.choice(sizes, p=weights / weights.sum()))
            pool = self.data.by_size[k]
            formula = pool[int(self.rng.integers(len(pool)))]
            if self._fits(formula):
                return formula, "MP"
        raise NoComposition("no charge-balanced MP composition fits these constraints")

    def _in_system(self) -> tuple[str, str]:
        pool = [f for f in self.data.by_system.get(self.system, ()) if self._fits(f)]
        if pool:
            return pool[int(self.rng.integers(len(pool)))], "MP"
        enumerated = [f for f in _enumerated(tuple(sorted(self.system)), self.max_atoms) if self._fits(f)]
        if not enumerated:
            raise NoComposition(
                f"no charge-balanced composition of {'-'.join(sorted(self.system))} fits in "
                f"{self.cell_atoms or self.max_atoms} atoms"
            )
        smallest = enumerated[:ENUMERATED_CHOICES]
        return smallest[int(self.rng.integers(len(smallest)))], "enumerated"

    def _substitute(self, formula: str) -> tuple[str, str] | None:
        """Swap one ion of ``formula`` for a likely substitute; None when no swap gives a new balanced formula."""
        states = _balanced(formula)
        if not states:
            return None
        table = _substitutions()
        ions = [(element, state) for element, state in states if state != 0]
        self.rng.shuffle(ions)
        present = {element for element, _ in states}
        for element, state in ions:
            try:
                original = Species(element, state)
                options = [
                    (s, table.cond_prob(original, s))
                    for s in table.species
                    if s.oxi_state == state and s.symbol not in present and s.symbol in self.allowed
                ]
            except (KeyError, ValueError):
                continue
            options = [(s, p) for s, p in options if p > SUBSTITUTION_FLOOR]
            if not options:
                continue
            probabilities = np.array([p for _, p in options])
            order = self.rng.choice(
                len(options), size=len(options), replace=False, p=probabilities / probabilities.sum()
            )
            for index in order:
                substitute = options[int(index)][0]
                swapped = Composition(formula).replace({element: substitute.symbol}).reduced_formula
                if swapped not in self.data.known and self._fits(swapped):
                    return swapped, f"substitution: {original} -> {substitute} in {formula}"
        return None


@lru_cache(maxsize=256)
def _enumerated(system: tuple[str, ...], max_atoms: int) -> list[str]:
    """Charge-balanced reduced formulas using every element of ``system``, counts 1-8, that fit the cell."""
    found = set()
    for counts in itertools.product(range(1, 9), repeat=len(system)):
        if sum(counts) > max_atoms:
            continue
        composition = Composition(dict(zip(system, counts)))
        reduced = composition.reduced_formula
        if reduced not in found and _balanced(reduced) is not None:
            found.add(reduced)
    return sorted(found, key=lambda f: (Composition(f).num_atoms, f))


def proposal_table(proposals: Sequence[Proposal]) -> pd.DataFrame:
    """The proposals as a chemist reads them, one row per crystal."""
    return pd.DataFrame(
        {
            "crystal": range(len(proposals)),
            "cell composition": [p.formula for p in proposals],
            "reduced formula": [p.reduced_formula for p in proposals],
            "in Materials Project": ["yes" if p.known else "no" for p in proposals],
            "origin": [p.origin for p in proposals],
        }
    )
