"""Guidance and constraints side by side: one seed generated with and without them, for the Learn page."""

from __future__ import annotations

from pymatgen.core import Structure

from backend.frames import Frame
from backend.sampling.generate import generate
from backend.sampling.models import LoadedModel
from backend.sampling.request import GenerationRequest

GUIDANCE_SCALES = (0.0, 1.0, 2.0)


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
