"""Relaxation with machine-learned potentials (CHGNet by default), batched across structures."""

from backend.relax.potentials import CHGNetPotential, Evaluation, Potential, chgnet
from backend.relax.relaxer import (
    RelaxationStopped,
    RelaxProgress,
    RelaxResult,
    displacement_rmsd,
    relax_structures,
)
from backend.structures import check_structure

__all__ = [
    "CHGNetPotential",
    "Evaluation",
    "Potential",
    "RelaxProgress",
    "RelaxationStopped",
    "RelaxResult",
    "check_structure",
    "chgnet",
    "displacement_rmsd",
    "relax_structures",
]
