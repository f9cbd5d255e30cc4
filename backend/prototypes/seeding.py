"""De-novo seeds: a proposed composition dressed in a known structure type of *another* composition.

A prototype of the same reduced formula is the known material itself; a seed for new materials must come from
other compositions' crystals with elements substituted (``retrieval.retrieve`` with the formula left out). The
generator then starts each crystal from its seed noised to ``start_time`` (partial diffusion), so the model
adapts the substituted structure instead of inventing one from noise.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pymatgen.core import Composition, Structure

from backend.prototypes.index import load_index
from backend.prototypes.retrieval import retrieve

SEED_CHOICES = 3  # a seed is drawn among this many best prototypes, so one composition gives several seeds


@lru_cache(maxsize=1)
def _patterns() -> dict[str, frozenset[str]]:
    """Reduced formulas of the training crystals, by anonymous formula."""
    index = load_index()
    grouped: dict[str, set[str]] = {}
    for anonymous, formula in zip(index.anonymous_formula, index.reduced_formula):
        grouped.setdefault(anonymous, set()).add(formula)
    return {k: frozenset(v) for k, v in grouped.items()}


def has_foreign_prototype(composition: Composition) -> bool:
    """Some training crystal of another reduced formula shares this composition's stoichiometry pattern."""
    formulas = _patterns().get(composition.anonymized_formula, frozenset())
    return bool(formulas - {composition.reduced_formula})


def seed_structure(composition: Composition, rng: np.random.Generator, max_atoms: int | None = None) -> Structure:
    """A prototype of another composition, elements substituted and cell scaled to ``composition``, drawn among the
    best :data:`SEED_CHOICES`; its cell holds ``composition`` (formula units as the template has them)."""
    found = retrieve(composition, k=SEED_CHOICES, max_atoms=max_atoms, exclude_formula=True)
    if not found:
        raise ValueError(f"no prototype of another composition has the stoichiometry of {composition.reduced_formula}")
    return found[int(rng.integers(len(found)))].structure
