"""The per-step hook's protocol: what the engine hands a callback after every denoising step (:class:`StepState`),
what a callback may ask back (:class:`StepControl`) and how several run as one (:func:`chain`).

Every hook -- recorders, the exact-composition mask, the symmetry projection, the cell-volume hold, inpainting's
host pin -- is a :data:`StepCallback`. This module is torch-free (tensors are only carried, and read through numpy),
so the pages and the job store that name these types do not load the sampler.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

MASK_TOKEN_OFFSET = 100  # D3PM's absorbing "mask" class sits after the 100 element classes


@dataclass(frozen=True)
class StepState:
    """The state of one batch after a denoising step, as handed to the callback.

    Tensors live on the sampling device; the numpy views are computed on first access only, so a
    callback that reads nothing costs nothing.
    """

    step: int
    n_steps: int
    t: float
    next_t: float | None
    batch_index: int
    first_crystal: int
    batch: object  # mattergen ChemGraph batch: pos (fractional), cell, atomic_numbers, num_atoms
    atom_logits: torch.Tensor | None
    pos_sigma: torch.Tensor
    failed: torch.Tensor

    @cached_property
    def num_atoms(self) -> np.ndarray:
        return self.batch["num_atoms"].cpu().numpy()

    @cached_property
    def lattice(self) -> np.ndarray:
        """(crystals, 3, 3) lattice vectors as rows, Å."""
        return self.batch["cell"].cpu().numpy()

    @cached_property
    def frac_coords(self) -> np.ndarray:
        """(atoms, 3) fractional coordinates of every atom of the batch, crystal after crystal."""
        return self.batch["pos"].cpu().numpy()

    @cached_property
    def tokens(self) -> np.ndarray:
        """(atoms,) current atomic numbers; 0 where the type is still masked."""
        z = self.batch["atomic_numbers"].cpu().numpy()
        return np.where(z > MASK_TOKEN_OFFSET, 0, z)

    @cached_property
    def type_probabilities(self) -> np.ndarray:
        """(atoms, 100) the model's current belief over elements Z=1..100 for every atom."""
        if self.atom_logits is None:
            return np.zeros((len(self.tokens), MASK_TOKEN_OFFSET), dtype=np.float32)
        logits = self.atom_logits[:, :MASK_TOKEN_OFFSET].float().cpu().numpy()
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        return weights / weights.sum(axis=1, keepdims=True)

    @cached_property
    def noise_level(self) -> np.ndarray:
        """(crystals,) standard deviation of the fractional-coordinate noise at this step."""
        return self.pos_sigma.cpu().numpy()

    @cached_property
    def crystal_failed(self) -> np.ndarray:
        return self.failed.cpu().numpy()


@dataclass(frozen=True)
class StepControl:
    """What a callback may ask of the loop: stop, and/or overwrite batch fields (e.g. pinned host atoms)."""

    stop: bool = False
    replace: dict[str, torch.Tensor] = field(default_factory=dict)


StepCallback = Callable[[StepState], StepControl | None]


def chain(*callbacks: StepCallback | None) -> StepCallback:
    """Run several callbacks on every step, in order; any may stop. Each sees the state as the callbacks before it
    left it (a recorder after a pin records the pinned state), and their replacements are merged in order."""
    active = [c for c in callbacks if c is not None]

    def run_all(state: StepState) -> StepControl | None:
        stop, replace = False, {}
        for callback in active:
            control = callback(state)
            if isinstance(control, StepControl):
                stop = stop or control.stop
                if control.replace:
                    replace.update(control.replace)
                    state = dataclasses.replace(state, batch=state.batch.replace(**control.replace))
        return StepControl(stop=stop, replace=replace) if stop or replace else None

    return run_all
