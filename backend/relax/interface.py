"""What the relaxer, evaluation and CSP need of a potential: one batched call returning energies, forces and
stresses. Kept apart from the implementations (:mod:`backend.relax.potentials`) so that code which only passes a
potential along -- and the pages that import it -- does not load torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pymatgen.core import Structure


@dataclass(frozen=True)
class Evaluation:
    """Energy (eV, whole cell), forces (eV/Å) and stress (eV/Å^3, 3x3, ASE's sign) of one structure."""

    energy: float
    forces: np.ndarray
    stress: np.ndarray


class Potential(Protocol):
    name: str
    corrected_by_mp2020: bool
    max_atomic_number: int
    lanes: int  # how many batched calls may run at once from different threads

    def evaluate(self, structures: Sequence[Structure]) -> list[Evaluation]:
        """Energies, forces and stresses of several structures in one batched call."""
