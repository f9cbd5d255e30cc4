"""Chemical sanity of a crystal before any relaxation: no two atoms closer than a set share of their covalent radii.

The textbook pipeline's first filter after generation (before the potential, the hull or a property model): two
atoms closer than :data:`COVALENT_FRACTION` of the sum of their covalent radii (Cordero et al. 2008, pymatgen's
``CovalentRadius``) are overlapping, not bonded. On 2,000 training crystals the lowest ratio is 0.68 (uranyl U-O,
Ce-Ce), so 0.65 passes every one (``tests/test_sanity.py``), while Li-O at 1.05 Å (0.54 of 1.94 Å) or Fe-O at
1.00 Å (0.51) fail. The 0.5 Å floor of structural validity (CDVAE's definition) lets both through.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from backend.limits import COVALENT_FRACTION


@dataclass(frozen=True)
class Sanity:
    """The closest pair relative to its covalent-radius sum, and the verdict."""

    ok: bool
    pair: str  # "Li-O"
    distance: float  # Å
    ratio: float  # distance / covalent-radius sum

    @property
    def text(self) -> str:
        verdict = "ok" if self.ok else "atoms too close"
        return f"{verdict}: closest {self.pair} {self.distance:.2f} Å, {self.ratio:.2f} of the covalent-radius sum"


def _radius(symbol: str) -> float:
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    return float(CovalentRadius.radius.get(symbol, 1.5))


def sanity(structure: Structure) -> Sanity:
    """The closest pair of atoms (periodic images included) against :data:`COVALENT_FRACTION` of its radii."""
    symbols = [site.specie.symbol for site in structure]
    radii = np.array([_radius(s) for s in symbols])
    if len(structure) == 1:
        distance = float(min(structure.lattice.abc))
        ratio = distance / (2 * radii[0])
        return Sanity(ratio >= COVALENT_FRACTION, f"{symbols[0]}-{symbols[0]}", distance, ratio)
    distances = structure.distance_matrix
    np.fill_diagonal(distances, np.inf)
    ratios = distances / (radii[:, None] + radii[None, :])
    i, j = np.unravel_index(np.argmin(ratios), ratios.shape)
    pair = "-".join(sorted((symbols[i], symbols[j])))
    return Sanity(bool(ratios[i, j] >= COVALENT_FRACTION), pair, float(distances[i, j]), float(ratios[i, j]))
