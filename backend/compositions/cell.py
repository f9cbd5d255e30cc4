"""A cell's content written as one formula string, the form compositions travel in (requests, CSV, JSON)."""

from __future__ import annotations

from pymatgen.core import Composition


def cell_formula(composition: Composition) -> str:
    """``Li4Fe4O8``: every atom of the cell in pymatgen's element order, counts of one left out (not reduced)."""
    return "".join(f"{el.symbol}{'' if n == 1 else int(round(n))}" for el, n in composition.items())
