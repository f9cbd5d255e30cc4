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


class StructureFileError(ValueError):
    """A file that is not a usable crystal structure; the message is one line for the user."""


MAX_FILE_BYTES = 5 * 2**20
EXTXYZ_SUFFIXES = (".xyz", ".extxyz")


def read_structure(path: Path) -> Structure:
    """Parse a CIF, POSCAR/CONTCAR, extended XYZ or pymatgen JSON file (never executed or unpickled)."""
    import warnings

    path = Path(path)
    if not path.is_file():
        raise StructureFileError(f"{path.name}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise StructureFileError(f"{path.name}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise StructureFileError(f"{path.name}: {size / 2**20:.1f} MB is over the {MAX_FILE_BYTES // 2**20} MB limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path.suffix.lower() in EXTXYZ_SUFFIXES:
                from ase.io import read
                from pymatgen.io.ase import AseAtomsAdaptor

                structure = AseAtomsAdaptor.get_structure(read(path, format="extxyz"))
            else:
                structure = Structure.from_file(path)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StructureFileError(f"{path.name}: not a readable crystal structure ({reason[:160]})") from None
    if len(structure) == 0:
        raise StructureFileError(f"{path.name}: the structure has no atoms")
    return structure


STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".json", ".xyz", ".extxyz")


def structure_files(inputs: list[Path]) -> list[Path]:
    """Files named directly, plus the structure files inside named folders (sorted)."""
    found: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found += sorted(
                p
                for p in item.iterdir()
                if p.is_file()
                and (p.suffix.lower() in STRUCTURE_SUFFIXES or p.name.upper().startswith(("POSCAR", "CONTCAR")))
            )
        else:
            found.append(item)
    return found
