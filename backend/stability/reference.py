"""The shipped Materials Project reference table, indexed by element set once per process.

``assets/data/hull/mp_hull_2024.csv.gz`` (built by ``scripts/build_reference_data.py``, see the README beside it) has
one row per reduced formula MP knows: the lowest formation energy on the GGA/GGA+U (MP2020) scale where one is known,
with its material id and source, and whether MP lists the formula as stable on its own mixed GGA/r2SCAN hull. The
points with an energy are the hull's reference points; the MP-stable formulas without a GGA-scale energy are what a
candidate's hull lacks, said per candidate (:class:`Coverage`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np
import pandas as pd

from backend.paths import ASSETS

HULL_DIR = ASSETS / "data" / "hull"
HULL_TABLE = HULL_DIR / "mp_hull_2024.csv.gz"
GGA_SOURCES = frozenset({"mp2024-gga", "mp2024-ambiguous", "mp20", "mpts52", "mp2023-elemental-reference"})
FILL_SOURCE = "matbench-2019"
HULL_LABEL = "offline Materials Project GGA/GGA+U hull"


class StabilityError(ValueError):
    """A composition or energy the hull cannot place; the message is for the user."""


@dataclass(frozen=True)
class PointGroup:
    """The reference points of one element set: fractions over ``elements`` (rows sum to 1), energies in eV/atom."""

    elements: tuple[str, ...]
    formulas: tuple[str, ...]
    material_ids: tuple[str, ...]
    sources: tuple[str, ...]
    fractions: np.ndarray
    e_form: np.ndarray


@dataclass(frozen=True)
class Coverage:
    """How completely the reference points cover MP's stable phases of a chemical system and its subsystems.

    ``quality``: ``complete`` (every MP-stable formula has a GGA-scale energy), ``filled`` (the missing ones are
    stood in for by 2019 matbench formation energies), ``incomplete`` (some have no energy here at all).
    ``missing``: the MP-stable formulas without a GGA-scale energy; ``filled``: those of them matbench stands in for;
    ``absent``: those with no energy here at all (what a user must know is missing).
    """

    quality: str
    missing: tuple[str, ...]
    filled: tuple[str, ...]

    @property
    def text(self) -> str:
        """The verdict in the words a scientist reads at a glance (tables, figure titles)."""
        if self.quality == "complete":
            return "complete MP GGA/GGA+U hull"
        if self.quality == "filled":
            return f"filled from 2019 matbench energies: {', '.join(self.filled)}"
        return f"incomplete: missing {', '.join(self.absent)}"

    @property
    def absent(self) -> tuple[str, ...]:
        return tuple(f for f in self.missing if f not in self.filled)


class ReferenceTable:
    """Reference points and MP's stable formulas by element set; lookups are cheap after construction."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.elemental = {e: float(v) for e, v in zip(frame.elements, frame.e_form_per_atom) if "-" not in e and v == v}
        self.mp_formulas = frozenset(frame.formula)
        self._mp = {
            formula: (mp_id, float(e_hull))
            for formula, mp_id, e_hull in zip(frame.formula, frame.mp_id, frame.mp_e_above_hull)
            if isinstance(mp_id, str)
        }
        points = frame[frame.e_form_per_atom.notna()]
        self._points = {
            "formula": points.formula.to_numpy(),
            "material_id": points.material_id.fillna("").to_numpy(),
            "source": points.source.to_numpy(),
            "amounts": points.amounts.to_numpy(),
            "e_form": points.e_form_per_atom.to_numpy(float),
        }
        self._rows = {
            frozenset(key.split("-")): rows for key, rows in points.groupby("elements", sort=False).indices.items()
        }
        self._groups: dict[frozenset[str], PointGroup] = {}
        stable = frame[frame.mp_stable == 1]
        self._stable: dict[frozenset[str], list[tuple[str, str]]] = {}
        for key, formula, source in zip(stable.elements, stable.formula, stable.source.fillna("")):
            self._stable.setdefault(frozenset(key.split("-")), []).append((formula, source))

    def _subsets(self, elements: frozenset[str], index: dict[frozenset[str], object]) -> Iterator[frozenset[str]]:
        """Keys of ``index`` that are subsets of ``elements``, by enumeration or by scan, whichever is shorter."""
        if 2 ** len(elements) <= len(index):
            for size in range(1, len(elements) + 1):
                for subset in combinations(sorted(elements), size):
                    key = frozenset(subset)
                    if key in index:
                        yield key
        else:
            yield from (key for key in index if key <= elements)

    def element_sets(self) -> list[frozenset[str]]:
        """Every element set that has reference points (for sampling benchmarks)."""
        return list(self._rows)

    def _group(self, key: frozenset[str]) -> PointGroup:
        """One element set's points as arrays, built on first use (most of the 60,000 sets are never asked for)."""
        group = self._groups.get(key)
        if group is None:
            rows, p = self._rows[key], self._points
            amounts = np.array([[float(x) for x in a.split()] for a in p["amounts"][rows]])
            group = PointGroup(
                elements=tuple(sorted(key)),
                formulas=tuple(p["formula"][rows]),
                material_ids=tuple(p["material_id"][rows]),
                sources=tuple(p["source"][rows]),
                fractions=amounts / amounts.sum(axis=1, keepdims=True),
                e_form=p["e_form"][rows],
            )
            self._groups[key] = group
        return group

    def groups(self, elements: Iterable[str]) -> list[PointGroup]:
        """Every reference point group whose elements lie within ``elements`` (the elements themselves included)."""
        wanted = frozenset(elements)
        missing = sorted(e for e in wanted if e not in self.elemental)
        if missing:
            raise StabilityError(f"no Materials Project elemental reference for {', '.join(missing)}")
        return [self._group(key) for key in self._subsets(wanted, self._rows)]

    def coverage(self, elements: Iterable[str]) -> Coverage:
        wanted = frozenset(elements)
        missing, filled = [], []
        for key in self._subsets(wanted, self._stable):
            for formula, source in self._stable[key]:
                if source not in GGA_SOURCES:
                    missing.append(formula)
                    if source == FILL_SOURCE:
                        filled.append(formula)
        if not missing:
            return Coverage("complete", (), ())
        quality = "filled" if len(filled) == len(missing) else "incomplete"
        return Coverage(quality, tuple(sorted(missing)), tuple(sorted(filled)))

    def known_phase(self, reduced_formula: str) -> tuple[str, float] | None:
        """MP's material with the lowest E_hull (its mixed-scale value, eV/atom) at this formula, if MP has one."""
        return self._mp.get(reduced_formula)


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load() -> ReferenceTable:
    # keep_default_na=False: sodium nitride's formula is "NaN", which pandas would otherwise read as missing
    return ReferenceTable(
        pd.read_csv(HULL_TABLE, dtype={"amounts": str, "elements": str}, keep_default_na=False, na_values=[""])
    )


def reference_table() -> ReferenceTable:
    """The process's one reference table (built on first use, about a second; threads wait for the one build)."""
    with _lock:
        return _load()


@lru_cache(maxsize=1)
def elemental_energies() -> dict[str, float]:
    """MP (2023-02-07) ground-state energy per atom of each element, eV (the zero of every formation energy)."""
    frame = pd.read_csv(HULL_DIR / "mp_elemental_refs.csv")
    return dict(zip(frame.element, frame.energy_per_atom))
