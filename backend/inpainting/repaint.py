"""RePaint's schedule and the guests' start at a disordered host's sites: what inpainting hands the engine's one
loop besides the host pin (:mod:`backend.sampling.hooks.host_pin`).

RePaint resampling (Lugmayr et al. 2022; CHGGen used jump j=10, r=3) walks the schedule back j steps r-1 times per
block, re-noising the whole state, so guests harmonise with the host."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from pymatgen.core import Element

from backend.inpainting.request import InpaintRequest, InvalidHost
from backend.sampling.hooks.host_pin import position_std


def repaint_schedule(n_steps: int, jump: int, resample: int) -> list[int]:
    """Positions p (0 = pure noise ... n_steps-1) at which a denoising step runs, RePaint order.

    After every ``jump`` steps down, the walk goes back up ``jump`` positions ``resample - 1`` times.
    ``jump=1, resample=1`` is the plain schedule 0, 1, ..., n_steps-1.
    """
    if jump < 1 or resample < 1:
        raise InvalidHost("jump length and resample count must be at least 1")
    positions: list[int] = []
    p = 0
    pending = {}
    while p < n_steps:
        positions.append(p)
        p += 1
        if resample > 1 and p % jump == 0 and p < n_steps:
            left = pending.setdefault(p, resample - 1)
            if left > 0:
                pending[p] = left - 1
                p -= jump
    return positions


def inpainting_schedule(request: InpaintRequest) -> list[int]:
    """Indices into the sampler's time grid at which steps run: RePaint's order, from the grid's start, or,
    for guests starting at sites, from the step whose time is ``request.start_time``."""
    first = round(request.steps * (1.0 - request.start_time)) if request.guest_start == "sites" else 0
    first = min(first, request.steps - 1)
    return [first + p for p in repaint_schedule(request.steps - first, request.jump, request.resample)]


def site_start(
    batch: object, corruption: object, fixed: Sequence[int], n_kept: int, request: InpaintRequest, t: float
) -> torch.Tensor:
    """Guest positions for a chain that starts at time ``t``: each guest on a disordered site of its element
    (free guests: of an allowed element; no two guests on one site), then noised as the schedule has it at ``t``."""
    rng = np.random.default_rng(request.seed)
    sites = [(Element(e).Z, np.round(np.asarray(f, dtype=float) % 1.0, 6)) for e, f in request.guest_sites]
    free = {Element(e).Z for e in request.free_elements}
    pos = batch["pos"].clone()
    n_atoms = len(fixed)
    guests = []
    for crystal in range(request.n):
        taken: set[tuple[float, ...]] = set()
        for offset, z in enumerate(fixed[n_kept:]):
            fits = [f for zs, f in sites if (zs == z if z else zs in free) and tuple(f) not in taken]
            chosen = fits[rng.integers(len(fits))] if fits else rng.random(3)
            taken.add(tuple(chosen))
            index = crystal * n_atoms + n_kept + offset
            pos[index] = torch.as_tensor(chosen, dtype=pos.dtype, device=pos.device)
            guests.append(index)
    std = position_std(corruption, batch, t)
    guests = torch.tensor(guests, device=pos.device, dtype=torch.long)
    pos[guests] = (pos[guests] + torch.randn_like(pos[guests]) * std[guests]) % 1.0
    return pos
