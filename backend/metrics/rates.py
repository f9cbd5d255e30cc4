"""V, S, U, N and their combinations over every crystal asked for: the one implementation behind ``evaluate``,
Relax & hull, the screening funnel and ``benchmarks/quality.py``.

The denominator is the number of crystals requested: a crystal whose generation or relaxation failed counts as
neither valid nor stable (leaving failures out would rate a model that fails half its samples as well as one that
fails none). Definitions:

- V: structurally valid (all pairs > 0.5 Å, volume > 0.1 Å^3/atom) and SMACT-valid (smact14 oxidation states).
- Sane: no pair closer than 0.65 of its covalent-radius sum (``metrics.sanity``), stricter than V's 0.5 Å; kept
  apart from V so that V stays the published definition other models are compared by.
- U: valid crystals that are the first of their kind in the batch, over the valid crystals.
- N: novel, two ways: structure-novel against the shipped MP-20 subset and MPTS-52 (StructureMatcher stol 0.5,
  ltol 0.3, angle_tol 10°), and composition-novel (a reduced formula absent from all 153k MP entries).
- S: E_above_hull <= 0.1 eV/atom on the offline MP GGA/GGA+U hull (and <= 0); measured only after relaxation.
- S.U.N. = stable, unique and novel; V.S.U.N. also valid: each with either novelty, over all requested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pymatgen.core import Structure

from backend.limits import COVALENT_FRACTION, STABLE_THRESHOLD
from backend.metrics.matching import composition_novel, structure_novel, unique_mask
from backend.metrics.sanity import sanity
from backend.metrics.validity import OXIDATION_STATES, validity


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def value(self) -> float:
        return self.numerator / self.denominator if self.denominator else 0.0

    @property
    def text(self) -> str:
        return f"{self.value:.1%} ({self.numerator}/{self.denominator})"


DEFINITIONS = {
    "V": f"structurally valid (all pairs > 0.5 Å, > 0.1 Å³/atom) and SMACT charge-balanced ({OXIDATION_STATES})",
    "V (structural)": "all interatomic distances > 0.5 Å and volume > 0.1 Å³/atom",
    "V (SMACT)": f"SMACT charge neutrality with Pauling test, {OXIDATION_STATES} oxidation states",
    "Sane (covalent radii)": f"no two atoms closer than {COVALENT_FRACTION} of the sum of their covalent radii",
    "U": "valid crystals that are the first of their kind in the batch (ltol 0.2, stol 0.3, angle 5°), over the valid",
    "N (structure)": "no match among MP-20 and MPTS-52 structures (stol 0.5, ltol 0.3, angle 10°)",
    "N (composition)": "reduced formula absent from all 153,235 Materials Project entries (2024)",
    "S (<= 0.1 eV/atom)": "E_above_hull <= 0.1 eV/atom on the offline MP GGA/GGA+U hull, after CHGNet relaxation",
    "S (<= 0 eV/atom)": "E_above_hull <= 0 eV/atom",
    "S.U.N. (structure)": "stable, unique and structure-novel",
    "S.U.N. (composition)": "stable, unique and composition-novel",
    "V.S.U.N. (structure)": "valid, stable, unique and structure-novel",
    "V.S.U.N. (composition)": "valid, stable, unique and composition-novel",
}


@dataclass(frozen=True)
class BatchRates:
    """Every rate with its numerator and denominator; the stability rates are None where nothing was relaxed."""

    requested: int
    rates: tuple[tuple[str, Rate], ...]

    def __getitem__(self, name: str) -> Rate:
        return dict(self.rates)[name]

    @classmethod
    def read(cls, path: Path) -> BatchRates:
        """The rates a ``metrics.csv`` holds (as :meth:`frame` wrote them)."""
        frame = pd.read_csv(path, keep_default_na=False)
        rates = tuple((m, Rate(int(n), int(d))) for m, n, d in zip(frame.metric, frame.numerator, frame.denominator))
        requested = dict(rates)["V"].denominator if rates else 0
        return cls(requested, rates)

    def frame(self) -> pd.DataFrame:
        """metrics.csv: metric, numerator, denominator, rate, definition."""
        return pd.DataFrame(
            [
                {
                    "metric": name,
                    "numerator": rate.numerator,
                    "denominator": rate.denominator,
                    "rate": round(rate.value, 4),
                    "definition": DEFINITIONS[name],
                }
                for name, rate in self.rates
            ]
        )


def batch_rates(
    structures: Sequence[Structure | None], e_above_hull: Sequence[float] | None = None
) -> tuple[pd.DataFrame, BatchRates]:
    """Per-crystal flags and batch rates over all ``structures`` requested (None: generation or relaxation failed).

    ``e_above_hull`` (eV/atom, NaN where unknown) gives the stability rates; without it they are left out.
    """
    made = [(index, s) for index, s in enumerate(structures) if s is not None]
    uniques = dict(zip((i for i, _ in made), unique_mask([s for _, s in made])))
    rows = []
    for index, structure in enumerate(structures):
        e_hull = e_above_hull[index] if e_above_hull is not None else math.nan
        if structure is None:
            rows.append({"index": index, "formula": "", "failed": True, "e_above_hull": e_hull})
            continue
        v = validity(structure)
        rows.append(
            {
                "index": index,
                "formula": structure.composition.reduced_formula,
                "failed": False,
                "structural_valid": v.structural,
                "compositional_valid": v.compositional,
                "sane": sanity(structure).ok,
                "valid": v.valid,
                "e_above_hull": e_hull,
                "unique": uniques[index],
                "novel_structure": structure_novel(structure),
                "novel_composition": composition_novel(structure.composition),
            }
        )
    table = pd.DataFrame(rows)
    for column in (
        "structural_valid",
        "compositional_valid",
        "sane",
        "valid",
        "unique",
        "novel_structure",
        "novel_composition",
    ):
        table[column] = table[column].fillna(False).astype(bool) if column in table else False
    e_hull = pd.to_numeric(table.e_above_hull, errors="coerce")
    table["stable"] = (e_hull <= STABLE_THRESHOLD).fillna(False)
    table["stable_strict"] = (e_hull <= 0).fillna(False)
    n = len(table)
    valid = int(table.valid.sum())
    rates: list[tuple[str, Rate]] = [
        ("V", Rate(valid, n)),
        ("V (structural)", Rate(int(table.structural_valid.sum()), n)),
        ("V (SMACT)", Rate(int(table.compositional_valid.sum()), n)),
        ("Sane (covalent radii)", Rate(int(table.sane.sum()), n)),
        ("U", Rate(int((table.valid & table.unique).sum()), valid)),
        ("N (structure)", Rate(int(table.novel_structure.sum()), n)),
        ("N (composition)", Rate(int(table.novel_composition.sum()), n)),
    ]
    if e_above_hull is not None:
        sun = table.stable & table.unique
        rates += [
            ("S (<= 0.1 eV/atom)", Rate(int(table.stable.sum()), n)),
            ("S (<= 0 eV/atom)", Rate(int(table.stable_strict.sum()), n)),
            ("S.U.N. (structure)", Rate(int((sun & table.novel_structure).sum()), n)),
            ("S.U.N. (composition)", Rate(int((sun & table.novel_composition).sum()), n)),
            ("V.S.U.N. (structure)", Rate(int((sun & table.valid & table.novel_structure).sum()), n)),
            ("V.S.U.N. (composition)", Rate(int((sun & table.valid & table.novel_composition).sum()), n)),
        ]
    return table, BatchRates(requested=n, rates=tuple(rates))
