"""What pages, requests and the CLI know about a model without loading it: the published names, the scalar
properties a model may be conditioned on, a loaded model's description and the one error loading raises. Torch-free,
so the pages that name a model do not load the sampler.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PUBLISHED_MODELS = (
    "mattergen_base",
    "mp_20_base",
    "chemical_system",
    "space_group",
    "dft_band_gap",
    "dft_mag_density",
    "ml_bulk_modulus",
    "dft_mag_density_hhi_score",
    "chemical_system_energy_above_hull",
)
SCALAR_PROPERTIES = (
    "dft_band_gap",
    "dft_mag_density",
    "ml_bulk_modulus",
    "dft_bulk_modulus",
    "dft_shear_modulus",
    "hhi_score",
    "energy_above_hull",
    "formation_energy_per_atom",
)


class ModelUnavailable(Exception):
    """A model could not be found or loaded; the message is meant for the user as is."""


@dataclass(frozen=True)
class ModelInfo:
    """What the UI and CLI need to know about a loaded model."""

    name: str
    source: str  # "embedded", "local" or "hub"
    path: Path
    conditions: tuple[str, ...]
    parameters: int
    trained_steps: int
    device: str

    def supports(self, condition: str) -> bool:
        return condition in self.conditions
