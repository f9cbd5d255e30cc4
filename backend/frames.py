"""One crystal at one denoising step, as the job store keeps it and the live view draws it.

Torch-free on purpose: the job store and the pages read frames, and opening them must not load torch (the sampler
that makes frames, ``backend.sampling.hooks.trajectory``, does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One crystal at one denoising step, as the live view draws it."""

    crystal: int
    step: int
    t: float
    noise: float
    lattice: np.ndarray  # (3, 3) rows are lattice vectors, Å
    frac_coords: np.ndarray  # (n, 3)
    likely_z: np.ndarray  # (n,) most probable element under the model's current belief
    confidence: np.ndarray  # (n,) probability of that element
    masked: np.ndarray  # (n,) True where the sampled type is still the mask token
    failed: bool
