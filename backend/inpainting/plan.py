"""Planning an inpainting job: refused in the user's terms before it starts, and turned into the sampler's request.

Torch-free, so the job runner can refuse a bad host at submission without loading the sampler.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Element, Structure

from backend.inpainting.request import InpaintRequest, InvalidHost
from backend.limits import MAX_GENERATED_ATOMS
from backend.sampling.model_info import ModelInfo
from backend.sampling.request import GenerationRequest, allowed_elements


def check_inpainting(host: Structure, keep: np.ndarray, request: InpaintRequest) -> None:
    """Raise :class:`InvalidHost` with one line when the host or guests cannot be inpainted."""
    if len(host) == 0 or not host.is_ordered:
        raise InvalidHost("the host must be an ordered structure with atoms (no partial occupancy)")
    if not keep.any():
        raise InvalidHost("nothing of the host is kept: the framework after removal has 0 atoms")
    if request.guest_count < 1:
        raise InvalidHost("choose at least one guest atom")
    placeable = set(allowed_elements())
    for element, count in request.guests:
        if not Element.is_valid_symbol(element):
            raise InvalidHost(f"unknown guest element '{element}'")
        if element not in placeable:
            raise InvalidHost(f"the model cannot place {element} (not in its element set)")
        if count < 1:
            raise InvalidHost(f"guest count for {element} must be at least 1")
    for element in request.free_elements:
        if element not in placeable:
            raise InvalidHost(f"free-guest element '{element}' is unknown or outside the model's element set")
    if request.free_guests and not request.free_elements:
        raise InvalidHost("free guests need a set of allowed elements")
    if request.guest_start not in ("uniform", "sites"):
        raise InvalidHost(f"guests start 'uniform' or at 'sites', not '{request.guest_start}'")
    if request.guest_start == "sites":
        if not request.guest_sites:
            raise InvalidHost("guests can start at sites only for a disordered host (its partially occupied sites)")
        if not 0.0 < request.start_time <= 1.0:
            raise InvalidHost(f"the start time for guests at sites must be in (0, 1], not {request.start_time}")
    total = int(keep.sum()) + request.guest_count
    if total > MAX_GENERATED_ATOMS:
        raise InvalidHost(
            f"{total} atoms in the cell is more than the {MAX_GENERATED_ATOMS} the sampler handles; use a smaller host"
        )
    volume_per_guest = host.volume / request.guest_count
    if volume_per_guest < 4.0:
        raise InvalidHost(
            f"{request.guest_count} guests do not fit in a {host.volume:.0f} Å³ cell "
            f"({volume_per_guest:.1f} Å³ each); supersize the host or add fewer"
        )


@dataclass(frozen=True)
class InpaintPlan:
    """An accepted inpainting: the sampler's request and each atom's pinned atomic number (0: a free guest).

    Made once, at submission, and kept with the job, so the worker runs what was accepted."""

    sampling: GenerationRequest
    fixed: tuple[int, ...]


def plan_inpainting(info: ModelInfo, host: Structure, keep: np.ndarray, request: InpaintRequest) -> InpaintPlan:
    """The sampler's request for this host and these guests, and each atom's pinned atomic number (0: free).

    Checked in full, so a job that would be refused by the sampler is refused at submission instead.
    With a model conditioned on the chemical system, the system is every element the crystal may hold:
    the kept host's, the fixed guests' and all allowed free-guest elements.
    """
    check_inpainting(host, keep, request)
    kept_species = [site.specie.symbol for site, k in zip(host, keep) if k]
    fixed = [Element(e).Z for e in kept_species]
    for element, count in request.guests:
        fixed += [Element(element).Z] * count
    fixed += [0] * request.free_guests
    elements = sorted(set(kept_species) | {e for e, _ in request.guests} | set(request.free_elements))
    conditions = info.supports("chemical_system")
    if conditions and len(fixed) < len(elements):
        raise InvalidHost(
            f"{len(fixed)} atoms (kept host plus guests) cannot hold all {len(elements)} elements the model is "
            f"asked for ({'-'.join(elements)}, every allowed free-guest element included): allow fewer or add guests"
        )
    sampling = GenerationRequest(
        n=request.n,
        atoms=len(fixed),
        chemical_system=tuple(elements) if conditions else None,
        guidance=request.guidance,
        steps=request.steps,
        seed=request.seed,
        batch_size=request.n,
    ).validate(info)
    return InpaintPlan(sampling, tuple(fixed))
