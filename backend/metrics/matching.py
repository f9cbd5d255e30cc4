"""Uniqueness within a batch and novelty against known materials.

- Uniqueness: pymatgen ``StructureMatcher`` with CDVAE's tolerances (ltol 0.2, stol 0.3, angle_tol 5°), compared only
  within a reduced-formula bucket, so the cost grows with duplicates, not with the square of the batch.
- Structure novelty: no match (stol 0.5, ltol 0.3, angle_tol 10°, the concept-composition paper's settings) among
  the shipped MP-20 subset and MPTS-52 structures of the same reduced formula. This is not the training data alone:
  MPTS-52 holds 11,562 experimental MP structures the model never saw.
- Composition novelty: the reduced formula is absent from all 153,235 Materials Project entries of 2024 (and from
  MP-20/MPTS-52); a far stricter test, since most of MP's compositions have no structure shipped here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache

import pandas as pd
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Composition, Structure

from backend.paths import ASSETS
from backend.stability.reference import reference_table

UNIQUENESS_TOLERANCES = {"ltol": 0.2, "stol": 0.3, "angle_tol": 5.0}
NOVELTY_TOLERANCES = {"ltol": 0.3, "stol": 0.5, "angle_tol": 10.0}
MP20_CSV = ASSETS / "data" / "mp20" / "mp20_subset.csv.gz"
MPTS52_CSV = ASSETS / "data" / "novelty" / "mpts52_structures.csv.gz"


def unique_mask(structures: Sequence[Structure]) -> list[bool]:
    """True for the first occurrence of every distinct structure (bucketed by reduced formula)."""
    matcher = StructureMatcher(**UNIQUENESS_TOLERANCES)
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
def _known_structures() -> dict[str, list[str]]:
    """CIF text of every shipped MP-20 and MPTS-52 structure, by reduced formula (parsed only when compared)."""
    grouped: dict[str, list[str]] = defaultdict(list)
    mp20 = pd.read_csv(MP20_CSV, usecols=["pretty_formula", "cif"], keep_default_na=False)
    for formula, cif in zip(mp20.pretty_formula, mp20.cif):
        grouped[Composition(formula).reduced_formula].append(cif)
    mpts = pd.read_csv(MPTS52_CSV, usecols=["formula", "cif"], keep_default_na=False)
    for formula, cif in zip(mpts.formula, mpts.cif):
        grouped[formula].append(cif)
    return grouped


def structure_novel(structure: Structure) -> bool:
    """Not matched by any shipped MP-20 or MPTS-52 crystal of the same reduced formula."""
    candidates = _known_structures().get(structure.composition.reduced_formula, [])
    if not candidates:
        return True
    matcher = StructureMatcher(**NOVELTY_TOLERANCES)
    return not any(matcher.fit(structure, Structure.from_str(cif, fmt="cif")) for cif in candidates)


def composition_novel(composition: Composition) -> bool:
    """The reduced formula is not among the compositions the Materials Project lists."""
    return composition.reduced_formula not in reference_table().mp_formulas
