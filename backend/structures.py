"""Describing and writing pymatgen Structures: what every page, the CLI and the job store share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

SYMPREC = 0.1  # Å, spglib tolerance for reporting generated structures


@dataclass(frozen=True)
class StructureSummary:
    formula: str
    reduced_formula: str
    n_atoms: int
    space_group_symbol: str
    space_group_number: int
    volume_per_atom: float
    density: float


def describe(structure: Structure, symprec: float = SYMPREC) -> StructureSummary:
    """Formula, spglib space group (``symprec`` Å), volume per atom (Å^3) and density (g/cm^3)."""
    try:
        analyzer = SpacegroupAnalyzer(structure, symprec=symprec)
        symbol, number = analyzer.get_space_group_symbol(), analyzer.get_space_group_number()
    except Exception:  # spglib gives up on degenerate cells; P1 is the honest answer then
        symbol, number = "P1", 1
    return StructureSummary(
        formula=structure.composition.formula.replace(" ", ""),
        reduced_formula=structure.composition.reduced_formula,
        n_atoms=len(structure),
        space_group_symbol=symbol,
        space_group_number=number,
        volume_per_atom=structure.volume / len(structure),
        density=float(structure.density),
    )


def safe_name(text: str) -> str:
    """A file-name-safe version of ``text`` (no path separators, no dot-dot)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "structure"


def write_cif(structure: Structure, path: Path) -> Path:
    CifWriter(structure).write_file(path)
    return path
