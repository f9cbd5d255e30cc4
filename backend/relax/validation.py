"""Can a structure be relaxed at all? One clear reason when not."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Element, Species, Structure

MAX_ATOMS = 500
MIN_DISTANCE = 0.5  # Å: closer atoms are overlapping, not bonded


def check_structure(structure: Structure, potential: object | None = None) -> str | None:
    """The reason ``structure`` cannot go through a potential, or None when it can."""
    if len(structure) == 0:
        return "the structure has no atoms"
    if not structure.is_ordered:
        return "partial occupancy: order the structure first (e.g. pymatgen OrderDisorderedStructureTransformation)"
    if len(structure) > MAX_ATOMS:
        return f"{len(structure)} atoms is more than the {MAX_ATOMS} this app relaxes"
    volume = structure.volume
    if not np.isfinite(volume) or volume <= 1e-6:
        return "the cell has zero or negative volume"
    unknown = sorted({str(site.specie) for site in structure if not isinstance(site.specie, Element | Species)})
    if unknown:
        return f"unknown element symbol {', '.join(unknown)}"
    max_z = getattr(potential, "max_atomic_number", 94)
    beyond = sorted({site.specie.symbol for site in structure if site.specie.Z > max_z})
    if beyond:
        name = getattr(potential, "name", "the potential")
        return f"{name} does not cover {', '.join(beyond)} (elements up to Z={max_z})"
    if len(structure) > 1:
        distances = structure.distance_matrix
        np.fill_diagonal(distances, np.inf)
        closest = float(distances.min())
        if closest < MIN_DISTANCE:
            return f"overlapping atoms: two sites are {closest:.2f} Å apart (minimum {MIN_DISTANCE} Å)"
    return None
