"""Guidance and constraints side by side: one seed generated with and without them, for the Learn page.

The examples for the page's seeds are made once, by the embedded model, and shipped (``EXAMPLES``, written by
``python scripts/learn_examples.py``): the first visit in a classroom -- after every server restart -- no longer
waits 25 s for fifteen generations. A model other than the one they were made with (its checkpoint's SHA-256
differs) gets its own examples, made on the spot.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pymatgen.core import Structure

from backend.codec import decode, encode
from backend.compositions.cell import cell_formula
from backend.frames import Frame
from backend.metrics.sanity import sanity
from backend.metrics.validity import smact_valid
from backend.paths import ASSETS
from backend.sampling.generate import generate
from backend.sampling.models import LoadedModel
from backend.sampling.request import GenerationRequest

GUIDANCE_SCALES = (0.0, 1.0, 2.0)
SEEDS = (0, 1, 2)
EXAMPLES = ASSETS / "learn" / "guidance_examples.json"


def structure_frame(structure: Structure, label: int, t: float = 0.0) -> Frame:
    """A finished crystal as the live view draws it (every type decided)."""
    import numpy as np

    return Frame(
        crystal=label,
        step=0,
        t=t,
        noise=0.0,
        lattice=structure.lattice.matrix.copy(),
        frac_coords=structure.frac_coords % 1.0,
        likely_z=np.array(structure.atomic_numbers),
        confidence=np.ones(len(structure), dtype=np.float32),
        masked=np.zeros(len(structure), dtype=bool),
        failed=False,
    )


def guidance_examples(
    model: LoadedModel, system: tuple[str, ...] = ("Li", "O"), seed: int = 0, steps: int = 50
) -> list[tuple[float, Structure | None]]:
    """The same seed with classifier-free guidance 0 (unconditional), 1 and 2 towards ``system``, 8 atoms, the
    model's own types (so the condition is what steers them)."""
    out = []
    for scale in GUIDANCE_SCALES:
        conditioned = {"chemical_system": system, "guidance": scale} if scale > 0 else {}
        request = GenerationRequest(n=1, atoms=8, steps=steps, seed=seed, composition_source="model", **conditioned)
        out.append((scale, generate(model, request).structures[0]))
    return out


def symmetry_examples(model: LoadedModel, seed: int = 0, steps: int = 50) -> list[tuple[str, Structure | None]]:
    """Rock salt's content (Na4Cl4) with the same seed: free, and constrained to Fm-3m at every step."""
    free = GenerationRequest(n=1, atoms=None, compositions=("Na4Cl4",), steps=steps, seed=seed)
    constrained = GenerationRequest(n=1, atoms=None, space_group=225, wyckoff="4a:Na,4b:Cl", steps=steps, seed=seed)
    return [
        ("no constraint", generate(model, free).structures[0]),
        ("space group 225 (Fm-3m), 4a:Na 4b:Cl", generate(model, constrained).structures[0]),
    ]


@dataclass(frozen=True)
class SeedExamples:
    """One seed's crystals: by guidance scale, and free vs held to rock salt's group."""

    seed: int
    guided: tuple[tuple[float, Structure | None], ...]
    symmetric: tuple[tuple[str, Structure | None], ...]


@dataclass(frozen=True)
class ShippedExamples:
    """The examples as shipped: which checkpoint made them, and each seed's."""

    checkpoint_sha256: str
    seeds: tuple[SeedExamples, ...]


def checkpoint_sha256(model: LoadedModel) -> str:
    return hashlib.sha256((model.info.path / "checkpoints" / "last.ckpt").read_bytes()).hexdigest()


def make_examples(model: LoadedModel, seed: int) -> SeedExamples:
    return SeedExamples(seed, tuple(guidance_examples(model, seed=seed)), tuple(symmetry_examples(model, seed=seed)))


def write_examples(model: LoadedModel, path: Path = EXAMPLES) -> ShippedExamples:
    shipped = ShippedExamples(checkpoint_sha256(model), tuple(make_examples(model, seed) for seed in SEEDS))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(encode(shipped)))
    return shipped


def examples(model: LoadedModel, path: Path = EXAMPLES) -> dict[int, SeedExamples]:
    """Every seed's examples: the shipped ones when ``model`` made them, made here otherwise."""
    if path.is_file():
        shipped = decode(ShippedExamples, json.loads(path.read_text()))
        if shipped.checkpoint_sha256 == checkpoint_sha256(model):
            return {found.seed: found for found in shipped.seeds}
    return {seed: make_examples(model, seed) for seed in SEEDS}


def verdict(structure: Structure | None) -> str:
    """What a chemist checks first in a generated crystal, in one line: the cell's content, whether some
    oxidation states balance it (SMACT) and its closest pair of atoms (:func:`backend.metrics.sanity.sanity`).

    Guidance steers which elements appear, not whether the crystal is physical; a class that sees Li2O6 with
    atoms 1.1 Å apart should be told so beside the picture, not left to take it for a material.
    """
    if structure is None:
        return "failed"
    content = cell_formula(structure.composition)
    balanced = "charge-balanced" if smact_valid(structure.composition) else "not charge-balanced"
    return f"{content}, {balanced}, {sanity(structure).text}"
