"""Describing and writing pymatgen Structures: what every page, the CLI and the job store share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pymatgen.core import Element, Structure
from pymatgen.io.cif import CifWriter
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from backend.limits import MAX_FILE_BYTES, MAX_RELAX_ATOMS, MIN_DISTANCE, SYMPREC
from backend.structure_files import unreadable_reason


@dataclass(frozen=True)
class StructureSummary:
    formula: str
    reduced_formula: str
    n_atoms: int
    space_group_symbol: str
    space_group_number: int
    volume_per_atom: float
    density: float

    @property
    def space_group(self) -> str:
        """``"Pnma (62)"``: how every table and report in the app labels a space group."""
        return f"{self.space_group_symbol} ({self.space_group_number})"


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
    except Exception:  # noqa: BLE001 - every parser failure gets the same plain-words diagnosis
        raise StructureFileError(f"{path.name}: {unreadable_reason(path)}") from None
    if len(structure) == 0:
        raise StructureFileError(f"{path.name}: the structure has no atoms")
    return structure


@dataclass(frozen=True)
class Problem:
    """Why a structure cannot go into a job; ``viewable``: it can still be looked at (and the viewer says why not
    more), as with overlapping atoms, too many atoms, disorder or an element the potential lacks."""

    message: str
    viewable: bool


def structure_problem(
    structure: Structure, potential: object | None = None, disorder_allowed: bool = False
) -> Problem | None:
    """The first reason ``structure`` cannot go through a potential, or None when it can.

    ``potential=None`` checks against CHGNet's element range, the potential this app relaxes with.
    ``disorder_allowed``: a partially occupied host that inpainting will order; overlaps are then checked
    among its fully occupied sites only (split sites of a disordered model may sit closer than atoms can).
    """
    if len(structure) == 0:
        return Problem("the structure has no atoms", viewable=False)
    volume = structure.volume
    if not np.isfinite(volume) or volume <= 1e-6:
        return Problem("the cell has zero or negative volume", viewable=False)
    unknown = sorted({e.symbol for e in structure.composition.elements if not Element.is_valid_symbol(e.symbol)})
    if unknown:
        return Problem(f"unknown element symbol {', '.join(unknown)}", viewable=False)
    if not structure.is_ordered and not disorder_allowed:
        return Problem(
            "partial occupancy: order the structure first (inpainting's order-disorder mode orders it, "
            "as does pymatgen's OrderDisorderedStructureTransformation)",
            viewable=True,
        )
    if len(structure) > MAX_RELAX_ATOMS:
        return Problem(f"{len(structure)} atoms is more than the {MAX_RELAX_ATOMS} this app relaxes", viewable=True)
    max_z = getattr(potential, "max_atomic_number", 94)
    beyond = sorted({e.symbol for e in structure.composition.elements if e.Z > max_z})
    if beyond:
        name = getattr(potential, "name", "CHGNet")
        return Problem(f"{name} does not cover {', '.join(beyond)} (elements up to Z={max_z})", viewable=True)
    if disorder_allowed:
        structure = Structure.from_sites([site for site in structure if site.is_ordered] or structure.sites[:1])
    _, _, _, distances = structure.get_neighbor_list(MIN_DISTANCE)  # periodic images included: a collapsed cell
    if len(distances):  # puts an atom on its own image, which the distance matrix does not see
        return Problem(
            f"overlapping atoms: two sites are {float(distances.min()):.2f} Å apart (minimum {MIN_DISTANCE} Å)",
            viewable=True,
        )
    return None


def check_structure(
    structure: Structure, potential: object | None = None, disorder_allowed: bool = False
) -> str | None:
    """:func:`structure_problem`'s message, for callers that only refuse."""
    problem = structure_problem(structure, potential, disorder_allowed)
    return problem.message if problem else None


def read_checked(path: Path, potential: object | None = None, disorder_allowed: bool = False) -> Structure:
    """:func:`read_structure`, then :func:`check_structure`: the one gate every upload and CLI input passes
    (``disorder_allowed`` for a host that inpainting orders)."""
    structure = read_structure(path)
    problem = check_structure(structure, potential, disorder_allowed)
    if problem:
        raise StructureFileError(f"{Path(path).name}: {problem}")
    return structure


def read_for_viewing(path: Path) -> tuple[Structure, str | None]:
    """The same gate for the viewer: refuse what cannot be shown, and say why no job would take the rest."""
    structure = read_structure(path)
    problem = structure_problem(structure)
    if problem is None:
        return structure, None
    if not problem.viewable:
        raise StructureFileError(f"{Path(path).name}: {problem.message}")
    return structure, f"{Path(path).name}: {problem.message}. Shown for viewing only; no job will take this file."


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
