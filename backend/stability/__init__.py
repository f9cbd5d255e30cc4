"""Stability of candidates: energy above an offline Materials Project GGA/GGA+U hull, and its figures."""

from backend.stability.hull import HullResult, Phase, assess, chemical_system_of, formation_energy_per_atom
from backend.stability.reference import HULL_LABEL, Coverage, StabilityError, elemental_energies, reference_table

__all__ = [
    "HULL_LABEL",
    "Coverage",
    "HullResult",
    "Phase",
    "StabilityError",
    "assess",
    "chemical_system_of",
    "elemental_energies",
    "formation_energy_per_atom",
    "reference_table",
]
