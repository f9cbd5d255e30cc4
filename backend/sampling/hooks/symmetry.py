"""The per-step symmetry projection: after every denoising step, each crystal is put back into its space group.

- Positions: each orbit's members are mapped back to the orbit's first member through the group operations that
  generate them, averaged on the torus, reduced to the Wyckoff position's free parameters by least squares (the
  lattice translation that fits best), and the orbit is regenerated from them.
- Lattice: projected onto the crystal system's metric (equal lengths and fixed angles averaged), in the
  rotation-free symmetric form mattergen trains on; fractional operations do not depend on orientation.
- Atom types: one per orbit. A given element is held on its orbit; otherwise, when the type chain unmasks any
  member, the orbit takes the element with the highest summed probability over its members, all at once.

It is a callback on the engine's hook like inpainting's pin, so the live view and trajectory record what it wrote.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from pymatgen.core import Element, Lattice

from backend.limits import PLAUSIBLE_MIN_VOLUME_PER_ATOM
from backend.sampling.hooks.protocol import MASK_TOKEN_OFFSET, StepControl, StepState
from backend.symmetry.wyckoff import WyckoffAssignment, group

SHIFTS = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)


@lru_cache(maxsize=4096)
def orbit_maps(number: int, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For Wyckoff position ``index`` of group ``number``: (R, t) generator -> member maps, and (Rinv, t) of the
    group operations S_j with S_j(member 0) = member j, used to map members back."""
    wp = group(number).Wyckoff_positions[index]
    general = group(number).Wyckoff_positions[0].ops
    rotations = np.array([op.rotation_matrix for op in wp.ops])
    translations = np.array([op.translation_vector for op in wp.ops])
    probes = np.random.default_rng(0).random((2, 3))
    first = probes @ rotations[0].T + translations[0]
    back_rotations, back_translations = [], []
    for r, t in zip(rotations, translations):
        member = probes @ r.T + t
        for op in general:
            image = first @ op.rotation_matrix.T + op.translation_vector
            difference = image - member
            if np.abs(difference - np.round(difference)).max() < 1e-6:
                back_rotations.append(np.linalg.inv(op.rotation_matrix))
                back_translations.append(op.translation_vector)
                break
        else:
            raise ValueError(f"no operation of group {number} maps member 0 of {wp.letter} onto another member")
    return rotations, translations, np.array(back_rotations), np.array(back_translations)


def project_orbit(frac: np.ndarray, number: int, index: int) -> np.ndarray:
    """The orbit nearest to ``frac`` (members in the Wyckoff position's order), fractional, in [0, 1)."""
    rotations, translations, back_r, back_t = orbit_maps(number, index)
    estimates = np.einsum("jab,jb->ja", back_r, frac - back_t) % 1.0
    estimates = estimates[0] + (estimates - estimates[0] + 0.5) % 1.0 - 0.5
    first = estimates.mean(axis=0)
    a, b = rotations[0], translations[0]
    offsets = (first - b + 0.5) % 1.0 - 0.5 + SHIFTS
    pinv = np.linalg.pinv(a)
    generators = offsets @ pinv.T
    residuals = np.linalg.norm(generators @ a.T - offsets, axis=1)
    generator = generators[int(np.argmin(residuals))]
    return (np.einsum("jab,b->ja", rotations, generator) + translations) % 1.0


def project_lattice(matrix: np.ndarray, system: str, atoms: int = 1) -> np.ndarray:
    """Lattice rows with the crystal system's metric and the same volume, in the symmetric (rotation-free) form.

    The volume is kept because it is the diffusion's to choose: early in the chain a flat noisy cell has long
    edges and little volume, and averaging its edges alone hands the model a cell tens of times too large (measured:
    4 of 16 rock-salt chains diverged). A noisy cell flatter than any crystal (under
    ``PLAUSIBLE_MIN_VOLUME_PER_ATOM``) is given that volume instead: made cubic at its own volume it collapsed (6 of
    16).
    """
    volume = max(abs(np.linalg.det(matrix)), PLAUSIBLE_MIN_VOLUME_PER_ATOM * atoms)
    a, b, c, alpha, beta, gamma = Lattice(matrix).parameters
    if system == "cubic":
        a = b = c = (a + b + c) / 3
        alpha = beta = gamma = 90.0
    elif system == "tetragonal":
        a = b = (a + b) / 2
        alpha = beta = gamma = 90.0
    elif system == "orthorhombic":
        alpha = beta = gamma = 90.0
    elif system in ("hexagonal", "trigonal"):
        a = b = (a + b) / 2
        alpha, beta, gamma = 90.0, 90.0, 120.0
    elif system == "monoclinic":
        alpha = gamma = 90.0
    projected = Lattice.from_parameters(a, b, c, alpha, beta, gamma).matrix
    projected = projected * (volume / abs(np.linalg.det(projected))) ** (1 / 3)
    values, vectors = np.linalg.eigh(projected @ projected.T)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


class SymmetryProjection:
    """The per-step hook; ``assignments[i]`` is crystal i's Wyckoff assignment (global crystal index)."""

    def __init__(self, assignments: Sequence[WyckoffAssignment]):
        self.assignments = list(assignments)
        self.committed: dict[tuple[int, int], int] = {}  # (crystal, orbit) -> atomic number

    def __call__(self, state: StepState) -> StepControl:
        pos = state.frac_coords.astype(float).copy()
        cells = state.lattice.astype(float).copy()
        types = state.batch["atomic_numbers"].cpu().numpy().copy()
        probabilities = state.type_probabilities
        last = state.next_t is None
        start = 0
        for i, n in enumerate(state.num_atoms.tolist()):
            crystal = state.first_crystal + i
            assignment = self.assignments[crystal]
            atoms = slice(start, start + n)
            start += n
            if state.crystal_failed[i]:
                continue
            cells[i] = project_lattice(cells[i], group(assignment.space_group).lattice_type, n)
            first = atoms.start
            for k, orbit in enumerate(assignment.orbits):
                members = slice(first, first + orbit.multiplicity)
                first += orbit.multiplicity
                pos[members] = project_orbit(pos[members], assignment.space_group, orbit.index)
                types[members] = self._orbit_type(
                    crystal, k, orbit.element, types[members], probabilities[members], last
                )
        device, dtype = state.batch["pos"].device, state.batch["pos"].dtype
        z = state.batch["atomic_numbers"]
        return StepControl(
            replace={
                "pos": torch.as_tensor(pos, dtype=dtype, device=device),
                "cell": torch.as_tensor(cells, dtype=state.batch["cell"].dtype, device=device),
                "atomic_numbers": torch.as_tensor(types, dtype=z.dtype, device=z.device),
            }
        )

    def _orbit_type(
        self, crystal: int, k: int, element: str | None, types: np.ndarray, probabilities: np.ndarray, last: bool
    ) -> np.ndarray:
        if element is not None:
            return np.full_like(types, Element(element).Z)
        key = (crystal, k)
        if key not in self.committed:
            unmasked = (types >= 1) & (types <= MASK_TOKEN_OFFSET)
            if not (unmasked.any() or last):
                return types
            self.committed[key] = int(probabilities.sum(axis=0).argmax()) + 1
        return np.full_like(types, self.committed[key])
