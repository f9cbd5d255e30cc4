"""Recording denoising trajectories through the engine's step hook."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO

import numpy as np

from backend.frames import Frame
from backend.sampling.hooks.protocol import StepControl, StepState


def frames_from_state(state: StepState) -> list[Frame]:
    """Split a batch's step state into per-crystal frames (global crystal indices)."""
    probs = state.type_probabilities
    likely = probs.argmax(axis=1) + 1
    confidence = probs.max(axis=1)
    tokens = state.tokens
    frames = []
    start = 0
    for i, n in enumerate(state.num_atoms.tolist()):
        atoms = slice(start, start + n)
        start += n
        resolved = tokens[atoms] > 0
        frames.append(
            Frame(
                crystal=state.first_crystal + i,
                step=state.step,
                t=state.t,
                noise=float(state.noise_level[i]),
                lattice=state.lattice[i].copy(),
                frac_coords=state.frac_coords[atoms].copy(),
                likely_z=np.where(resolved, tokens[atoms], likely[atoms]),
                confidence=np.where(resolved, 1.0, confidence[atoms]).astype(np.float32),
                masked=~resolved,
                failed=bool(state.crystal_failed[i]),
            )
        )
    return frames


class TrajectoryRecorder:
    """A step callback that keeps every frame of every crystal in memory."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def __call__(self, state: StepState) -> StepControl | None:
        self.frames.extend(frames_from_state(state))
        return None


def write_extxyz(frames: Iterable[Frame], path: Path | IO[str]) -> int:
    """Write frames as extended XYZ (one image per crystal per step) to a file or an open text stream; returns the
    number written.

    Atoms whose type is still undecided are written as their most likely element and flagged in the
    per-atom ``masked`` array, so viewers (ASE, OVITO) can colour them apart.
    """
    from ase import Atoms
    from ase.io import write

    images = []
    for frame in sorted(frames, key=lambda f: (f.crystal, f.step)):
        atoms = Atoms(numbers=frame.likely_z, cell=frame.lattice, scaled_positions=frame.frac_coords % 1.0, pbc=True)
        atoms.new_array("confidence", frame.confidence.astype(float))
        atoms.new_array("masked", frame.masked.astype(int))
        atoms.info.update(crystal=frame.crystal, step=frame.step, t=frame.t, noise=frame.noise, failed=frame.failed)
        images.append(atoms)
    write(path, images, format="extxyz")
    return len(images)
