"""Partial diffusion from a structure: the crystal analogue of img2img / SDEdit.

A start structure -- a prototype, an upload, a job's crystal -- is forward-noised to a start time t0 by the
model's own corruption (fractional coordinates by the wrapped VE-SDE, the lattice by the VP-SDE, atom types by
the absorbing-state D3PM when they are to be redrawn), and the engine's one loop denoises it from t0 through the
rest of the time grid. Small t0 gives close variations of the structure, t0 = 1 forgets it: generation then runs
as ordinary generation of the start's composition (``backend.sampling.generate``). Kept types are held by the
exact-composition hook in the start's own site order, its volume by the cell-volume hook.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pymatgen.core import Structure

from backend.sampling.adapter import MattergenSampler


def clean_batch(structures: Sequence[Structure], conditioning: object) -> object:
    """The structures as a batch shaped like ``conditioning`` (same sizes, same condition fields), lattices
    symmetrised by polar decomposition as mattergen's training transform does."""
    from mattergen.common.utils.data_utils import compute_lattice_polar_decomposition

    device = conditioning["cell"].device
    cells = torch.tensor([s.lattice.matrix for s in structures], dtype=torch.float32, device=device)
    pos = torch.tensor([c for s in structures for c in s.frac_coords % 1.0], dtype=torch.float32, device=device)
    types = torch.tensor([z for s in structures for z in s.atomic_numbers], dtype=torch.long, device=device)
    return conditioning.replace(cell=compute_lattice_polar_decomposition(cells), pos=pos, atomic_numbers=types)


def start_batch(
    sampler: MattergenSampler, structures: Sequence[Structure], conditioning: object, start_time: float, keep: bool
) -> object:
    """The structures noised to ``start_time``; types restored when ``keep``."""
    clean = clean_batch(structures, conditioning)
    noisy = sampler.add_noise(clean, start_time)
    return noisy.replace(atomic_numbers=clean["atomic_numbers"]) if keep else noisy


def truncated_grid(timesteps: Sequence[float], start_time: float) -> list[float]:
    """The part of the sampler's time grid at or below ``start_time`` (at least its last step)."""
    kept = [t for t in timesteps if t <= start_time + 1e-9]
    return kept or [timesteps[-1]]
