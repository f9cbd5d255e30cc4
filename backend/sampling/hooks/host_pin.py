"""The per-step hook that holds a host: inpainting's pin.

The host's kept atoms are pinned at every step to their own positions forward-noised to the noise level the loop is
about to denoise from, with their types fixed; the lattice is the host's. Where the schedule jumps back up (RePaint),
the hook re-noises the guests from the time the loop reached to the time it resumes from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from pymatgen.core import Element, Structure

from backend.sampling.adapter import MattergenSampler
from backend.sampling.hooks.protocol import StepControl, StepState


def position_std(corruption: object, batch: object, t: float) -> torch.Tensor:
    """Per-atom standard deviation of the position noise the schedule has at time ``t``."""
    pos = batch["pos"]
    tt = torch.full((batch.get_batch_size(),), t, device=pos.device)
    _, std = corruption.sdes["pos"].marginal_prob(
        torch.zeros_like(pos), tt, batch_idx=batch.get_batch_idx("pos"), batch=batch
    )
    return std


class Pin:
    """The per-step hook: re-noise for RePaint jumps, then pin host atoms, types and lattice."""

    def __init__(
        self,
        sampler: MattergenSampler,
        host: Structure,
        keep: np.ndarray,
        fixed_types: torch.Tensor,
        n_crystals: int,
        device: str,
        free_elements: Sequence[str] = (),
    ):
        self.corruption = sampler.corruption
        self.dt = None
        n_atoms = len(fixed_types)
        per_crystal = torch.arange(n_crystals, device=device)[:, None] * n_atoms
        # kept host atoms come first in every crystal, in host order, then the guests
        self.kept = (per_crystal + torch.arange(int(keep.sum()), device=device)[None, :]).flatten()
        typed = torch.nonzero(fixed_types > 0).flatten()
        self.typed = (per_crystal + typed[None, :]).flatten()
        self.types = fixed_types[typed].repeat(n_crystals)
        host_frac = torch.as_tensor(host.frac_coords[keep], dtype=torch.float32, device=device)
        self.host_frac = host_frac.repeat(n_crystals, 1)
        self.cell = torch.as_tensor(host.lattice.matrix, dtype=torch.float32, device=device)[None].repeat(
            n_crystals, 1, 1
        )
        free = torch.nonzero(fixed_types == 0).flatten()
        self.free = (per_crystal + free[None, :]).flatten()
        self.allowed = torch.tensor([Element(e).Z for e in free_elements], device=device, dtype=torch.long)
        d3pm = self.corruption.discrete_corruptions.get("atomic_numbers")
        self.mask_token = int(d3pm.d3pm.dim - 1 + d3pm.offset) if d3pm is not None else None

    def pinned(self, batch: object, t: float | None) -> dict[str, torch.Tensor]:
        """Host positions noised to time ``t`` (exact at the end), host lattice, fixed types."""
        pos = batch["pos"].clone()
        if t is None:
            pos[self.kept] = self.host_frac
        else:
            std = position_std(self.corruption, batch, t)
            noise = torch.randn_like(self.host_frac) * std[self.kept]
            pos[self.kept] = (self.host_frac + noise) % 1.0
        types = batch["atomic_numbers"].clone()
        types[self.typed] = self.types
        return {"pos": pos, "cell": self.cell.clone(), "atomic_numbers": types}

    def renoise(self, batch: object, t_from: float, t_to: float) -> dict[str, torch.Tensor]:
        """q(x_{t_to} | x_{t_from}) for guests: wrapped Gaussian on positions, absorbing mask on types."""
        std_to = position_std(self.corruption, batch, t_to)
        std_from = position_std(self.corruption, batch, t_from)
        extra = torch.sqrt(torch.clamp(std_to**2 - std_from**2, min=0.0))
        pos = (batch["pos"] + extra * torch.randn_like(batch["pos"])) % 1.0
        types = batch["atomic_numbers"].clone()
        if self.mask_token is not None:
            survive = (1.0 - t_to) / max(1.0 - t_from, 1e-6)  # masked-D3PM "standard" schedule: linear in t
            remask = (torch.rand(types.shape, device=types.device) > survive) & (types != self.mask_token)
            types[remask] = self.mask_token
        return {"pos": pos, "atomic_numbers": types}

    def restrict_free(self, batch: object, logits: torch.Tensor | None) -> object:
        """A free guest that resolved to an element outside the allowed set takes the allowed one the model
        rates highest (the chemical-system mask alone would also admit the host's elements)."""
        if not len(self.free) or logits is None or not len(self.allowed):
            return batch
        types = batch["atomic_numbers"].clone()
        current = types[self.free]
        wrong = (current != self.mask_token) & ~torch.isin(current, self.allowed)
        if wrong.any():
            best = logits[self.free][:, self.allowed - 1].argmax(dim=1)
            types[self.free[wrong]] = self.allowed[best[wrong]]
            batch = batch.replace(atomic_numbers=types)
        return batch

    def __call__(self, state: StepState) -> StepControl:
        batch = self.restrict_free(state.batch, state.atom_logits)
        now = state.t + self.dt  # the loop's step took the state from t to t + dt (dt < 0)
        if state.next_t is not None and state.next_t > now + 1e-9:
            batch = batch.replace(**self.renoise(batch, now, state.next_t))
        return StepControl(replace=self.pinned(batch, state.next_t))
