"""Planning and running an inpainting job: refused in the user's terms before it starts, then sampled on the hook."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from pymatgen.core import Element, Structure

from backend.inpainting.guests import collision, host_mask, mark_guests
from backend.inpainting.repaint import Pin, inpainting_schedule, site_start
from backend.inpainting.request import InpaintRequest, InpaintResult, InvalidHost
from backend.sampling import GenerationRequest, LoadedModel, ModelInfo, StepCallback, StepState
from backend.sampling.engine import chain, conditioning_batch, denoise, sampling_session, to_structures
from backend.sampling.request import allowed_elements


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
    if total > 100:
        raise InvalidHost(f"{total} atoms in the cell is more than the 100 the sampler handles; use a smaller host")
    volume_per_guest = host.volume / request.guest_count
    if volume_per_guest < 4.0:
        raise InvalidHost(
            f"{request.guest_count} guests do not fit in a {host.volume:.0f} Å³ cell "
            f"({volume_per_guest:.1f} Å³ each); supersize the host or add fewer"
        )


def plan_inpainting(
    info: ModelInfo, host: Structure, keep: np.ndarray, request: InpaintRequest
) -> tuple[GenerationRequest, list[int]]:
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
    return sampling, fixed


def inpaint(
    model: LoadedModel,
    host: Structure,
    keep: Sequence[bool],
    request: InpaintRequest,
    callback: StepCallback | None = None,
) -> InpaintResult:
    """Generate ``request.n`` candidates: the host's kept atoms plus the guests, in the host's cell."""
    keep = np.asarray(keep, dtype=bool)
    sampling, fixed = plan_inpainting(model.info, host, keep, request)
    n_atoms = len(fixed)
    started = time.perf_counter()
    calls = {"n": 0}
    with sampling_session(model, sampling) as (sampler, timesteps, dt):
        schedule_times = [timesteps[p] for p in inpainting_schedule(request)]
        device = model.info.device
        pin = Pin(sampler, host, keep, torch.tensor(fixed, device=device), request.n, device, request.free_elements)
        pin.dt = dt
        batch = sampler.prior(conditioning_batch([n_atoms] * request.n, sampling.conditions, device))
        if request.guest_start == "sites":
            start = site_start(batch, sampler.corruption, fixed, int(keep.sum()), request, schedule_times[0])
            batch = batch.replace(pos=start)
        batch = batch.replace(**pin.pinned(batch, schedule_times[0]))

        def count(state: StepState) -> None:
            calls["n"] += sampling.model_calls_per_step

        outcome = denoise(sampler, batch, schedule_times, dt, callback=chain(pin, count, callback))
    structures, failures = ([], []) if outcome.cancelled else to_structures(outcome.mean_batch, outcome.failures)
    n_kept = int(keep.sum())
    for index, structure in enumerate(structures):
        if structure is not None:
            problem = collision(mark_guests(structure, n_kept), host_mask(structure))
            if problem:
                structures[index], failures[index] = None, problem
    return InpaintResult(
        structures=tuple(structures),
        failures=tuple(failures),
        model_calls=calls["n"],
        cancelled=outcome.cancelled,
        seconds=time.perf_counter() - started,
    )
