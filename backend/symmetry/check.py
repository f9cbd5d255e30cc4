"""Is a structure in a space group, in the setting it was generated in? Invariance under every operation.

spglib reports the full group, so a crystal that happens to have more symmetry than asked for (two orbits taking
the same element, a free parameter landing on a special value) reads as a supergroup; what a constraint promises
is that every operation of the requested group maps the crystal onto itself, which this checks directly.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from backend.symmetry.wyckoff import group


def invariant(structure: Structure, number: int, tolerance: float = 0.01) -> bool:
    """Every operation of group ``number`` (conventional setting) maps each atom within ``tolerance`` Å of an atom
    of the same element."""
    frac = structure.frac_coords
    lattice = structure.lattice.matrix
    species = np.array([site.specie.symbol for site in structure])
    same = species[:, None] == species[None, :]
    for op in group(number).Wyckoff_positions[0].ops:
        image = frac @ op.rotation_matrix.T + op.translation_vector
        difference = image[:, None, :] - frac[None, :, :]
        difference -= np.round(difference)
        distance = np.linalg.norm(difference @ lattice, axis=2)
        if not (np.where(same, distance, np.inf).min(axis=1) <= tolerance).all():
            return False
    return True
