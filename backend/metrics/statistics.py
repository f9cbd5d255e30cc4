"""Composition and symmetry statistics of a batch, beside the training data's: a model whose crystals carry six
elements in eight atoms, all P1, is failing, whatever its validity rates say."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd
from pymatgen.core import Structure

from backend.limits import SYMPREC
from backend.metrics.matching import MP20_CSV
from backend.structures import describe


@dataclass(frozen=True)
class CompositionStatistics:
    """Distinct elements per crystal (histogram), share with five or more, share above P1 (spglib at 0.1 Å)."""

    crystals: int
    elements_histogram: tuple[tuple[int, int], ...]  # (distinct elements, crystals), ascending
    share_five_or_more: float
    share_above_p1: float

    @property
    def histogram_text(self) -> str:
        return ", ".join(f"{k}: {n}" for k, n in self.elements_histogram)

    def row(self, label: str) -> dict[str, object]:
        return {
            "crystals": label,
            "n": self.crystals,
            "distinct elements (count: crystals)": self.histogram_text,
            "share with >= 5 elements": f"{self.share_five_or_more:.1%}",
            "share above P1 (0.1 Å)": f"{self.share_above_p1:.1%}",
        }


def _statistics(element_counts: Sequence[int], above_p1: Sequence[bool]) -> CompositionStatistics:
    n = len(element_counts)
    return CompositionStatistics(
        crystals=n,
        elements_histogram=tuple(sorted(Counter(element_counts).items())),
        share_five_or_more=sum(k >= 5 for k in element_counts) / n if n else 0.0,
        share_above_p1=sum(above_p1) / n if n else 0.0,
    )


def composition_statistics(structures: Sequence[Structure]) -> CompositionStatistics:
    """Statistics of the crystals that exist (failed generations have no composition to count)."""
    return _statistics(
        [len(s.composition.elements) for s in structures],
        [describe(s, symprec=SYMPREC).space_group_number > 1 for s in structures],
    )


@lru_cache(maxsize=1)
def training_statistics() -> CompositionStatistics:
    """The same statistics of the shipped MP-20 subset the embedded model is trained on (MP's own space groups)."""
    frame = pd.read_csv(MP20_CSV, usecols=["elements", "spacegroup.number"])
    counts = [len(_listed_elements(e)) for e in frame.elements]
    return _statistics(counts, list(frame["spacegroup.number"] > 1))


def _listed_elements(text: str) -> list[str]:
    """MP-20's ``elements`` column: a Python list literal such as "['Li', 'O']"."""
    return [part.strip(" '\"") for part in text.strip("[]").split(",") if part.strip()]


def statistics_table(structures: Sequence[Structure], label: str = "generated") -> pd.DataFrame:
    return pd.DataFrame([composition_statistics(structures).row(label), training_statistics().row("training data")])
