"""Properties computed with the product's own potential: bulk modulus from an equation of state, magnetic moments.

The bulk modulus is the Birch-Murnaghan fit (pymatgen's EOS) to energies at seven isotropic strains of the relaxed
cell, -6 % to +6 % in volume, each with its atoms relaxed at fixed cell (CHGNet against experiment on NaCl, MgO,
Si, Cu and LiFePO4: 5-29 %, mean 16 %, softer for stiff oxides and covalent solids -- benchmarks/README). Magnetic
moments are CHGNet's per-site predictions (trained on MP's DFT magmoms; their sign is not predicted), the magnetic
density is their sum over the cell volume in μB/Å³, the unit of MatterGen's ``dft_mag_density``. No offline model
here predicts a band gap: it is named, not guessed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.analysis.eos import EOS
from pymatgen.core import Structure

from backend.relax.relaxer import relax_structures

if TYPE_CHECKING:
    from backend.relax.potentials import CHGNetPotential  # the type only: computing loads torch on first use

EV_PER_A3_IN_GPA = 160.21766
STRAINS = np.linspace(0.94, 1.06, 7)  # volume ratios of the EOS points


@dataclass(frozen=True)
class Properties:
    bulk_modulus_gpa: float
    eos_volumes: list[float]  # Å³/atom
    eos_energies: list[float]  # eV/atom
    eos_fit_volumes: list[float]
    eos_fit_energies: list[float]
    magmoms: list[float]  # μB per site, magnitude
    magnetic_density: float  # μB/Å³
    density: float  # g/cm³

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Properties:
        return cls(**values)


def compute_properties(structure: Structure, potential: CHGNetPotential) -> Properties:
    """Bulk modulus, magnetic moments and density of an already relaxed ``structure``."""
    strained = []
    for ratio in STRAINS:
        copy = structure.copy()
        copy.scale_lattice(structure.volume * ratio)
        strained.append(copy)
    results = relax_structures(strained, potential, fmax=0.02, steps=200, relax_cell=False)
    failed = [r.error for r in results if not r.ok]
    if failed:
        raise ValueError(f"a strained cell could not be relaxed for the equation of state: {failed[0]}")
    n = len(structure)
    volumes = np.array([s.volume / n for s in strained])
    energies = np.array([r.energy_per_atom for r in results])
    fit = EOS("birch_murnaghan").fit(volumes, energies)
    grid = np.linspace(volumes.min(), volumes.max(), 60)
    magmoms = np.abs(potential.magnetic_moments(structure))
    return Properties(
        bulk_modulus_gpa=float(fit.b0 * EV_PER_A3_IN_GPA),
        eos_volumes=volumes.round(5).tolist(),
        eos_energies=energies.round(6).tolist(),
        eos_fit_volumes=grid.round(5).tolist(),
        eos_fit_energies=np.asarray(fit.func(grid)).round(6).tolist(),
        magmoms=magmoms.round(3).tolist(),
        magnetic_density=float(magmoms.sum() / structure.volume),
        density=float(structure.density),
    )
