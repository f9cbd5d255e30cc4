"""Exact cell compositions on the engine's per-step hook.

Two ways to make every crystal end with exactly its composition, both callbacks on the engine's one loop
(no copy of it), chosen by ``GenerationRequest.composition_method``:

- ``counts`` (count-constrained D3PM): MatterGen's atom-type chain runs as trained -- atoms unmask one by one from the
  absorbing mask state -- but an atom that unmasks as an element whose remaining count is zero takes instead the
  element the model rates highest among those still owed; at the last step any atom still masked gets the same
  treatment. The chain stays on its training distribution: types appear when the model resolves them.
- ``pin``: the types are fixed from the first step, a seeded shuffle of the composition over the sites, as
  inpainting pins its host's types; only positions and lattice are denoised.

A chemical-system condition on the composition's elements is added where the model supports one (the element
mask keeps the model's type beliefs within the composition). ``benchmarks/csp.py`` compares the two methods.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from pymatgen.core import Composition

from backend.sampling.hooks.protocol import MASK_TOKEN_OFFSET, StepControl, StepState

METHODS = ("counts", "pin")


class ExactComposition:
    """The per-step hook; ``compositions[i]`` is crystal i's cell content (global crystal index)."""

    def __init__(self, compositions: Sequence[Composition], method: str = "counts", seed: int = 0):
        if method not in METHODS:
            raise ValueError(f"composition method must be one of {', '.join(METHODS)}")
        self.method = method
        self.targets = [{el.Z: int(round(n)) for el, n in c.items()} for c in compositions]
        rng = np.random.default_rng(seed)
        self.pinned = [rng.permutation([z for z, n in target.items() for _ in range(n)]) for target in self.targets]
        self._previous_masked: np.ndarray | None = None
        self._batch: int | None = None

    @classmethod
    def of_sites(cls, site_types: Sequence[Sequence[int]]) -> ExactComposition:
        """Types pinned site by site as given (a start structure's own order), instead of a seeded shuffle."""
        hook = cls([Composition(dict(Counter(int(z) for z in types))) for types in site_types], method="pin")
        hook.pinned = [np.asarray(types, dtype=int) for types in site_types]
        return hook

    def __call__(self, state: StepState) -> StepControl | None:
        z = state.batch["atomic_numbers"]
        types = z.cpu().numpy().copy()
        if self.method == "pin":
            fixed = np.concatenate([self.pinned[state.first_crystal + i] for i in range(len(state.num_atoms))])
        else:
            fixed = self._constrained(state, types.copy())
        if np.array_equal(fixed, types):
            return None
        return StepControl(replace={"atomic_numbers": torch.as_tensor(fixed, dtype=z.dtype, device=z.device)})

    def _constrained(self, state: StepState, types: np.ndarray) -> np.ndarray:
        masked = (types < 1) | (types > MASK_TOKEN_OFFSET)
        if state.step == 0 or self._batch != state.batch_index or self._previous_masked is None:
            previous = np.ones_like(masked)
        else:
            previous = self._previous_masked
        probabilities = state.type_probabilities
        last = state.next_t is None
        start = 0
        for i, n in enumerate(state.num_atoms.tolist()):
            atoms = np.arange(start, start + n)
            start += n
            remaining = dict(self.targets[state.first_crystal + i])
            settled = ~previous[atoms] & ~masked[atoms]  # committed earlier and still decided
            for k in np.nonzero(settled)[0]:
                element = int(types[atoms[k]])
                if remaining.get(element, 0) > 0:
                    remaining[element] -= 1
                else:  # a type outside the counts (a diverging cell's NaN scores): decided again below
                    settled[k] = False
            due = atoms[~settled & (~masked[atoms] | last)]
            confidence = [probabilities[a, types[a] - 1] if not masked[a] else 0.0 for a in due]
            for atom in due[np.argsort(confidence, kind="stable")[::-1]]:
                element = int(types[atom])
                if masked[atom] or remaining.get(element, 0) <= 0:
                    owed = [e for e, left in remaining.items() if left > 0]
                    element = owed[int(np.argmax([probabilities[atom, e - 1] for e in owed]))]
                    types[atom] = element
                remaining[element] -= 1
        self._batch = state.batch_index
        self._previous_masked = (types < 1) | (types > MASK_TOKEN_OFFSET)
        return types
