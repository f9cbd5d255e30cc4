"""Running an inpainting job on the engine's per-step hook, once :mod:`backend.inpainting.plan` has accepted it."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from pymatgen.core import Structure

from backend.inpainting.guests import collision, host_mask, mark_guests
from backend.inpainting.plan import InpaintPlan, plan_inpainting
from backend.inpainting.repaint import inpainting_schedule, site_start
from backend.inpainting.request import InpaintRequest, InpaintResult
from backend.sampling.engine import conditioning_batch, denoise, sampling_session, to_structures
from backend.sampling.hooks.host_pin import Pin
from backend.sampling.hooks.protocol import StepCallback, StepState, chain
from backend.sampling.models import LoadedModel


def inpaint(
    model: LoadedModel,
    host: Structure,
    keep: Sequence[bool],
    request: InpaintRequest,
    callback: StepCallback | None = None,
    plan: InpaintPlan | None = None,
) -> InpaintResult:
    """Generate ``request.n`` candidates: the host's kept atoms plus the guests, in the host's cell. ``plan`` is the
    one accepted at submission; without one it is made here."""
    keep = np.asarray(keep, dtype=bool)
    plan = plan or plan_inpainting(model.info, host, keep, request)
    sampling, fixed = plan.sampling, list(plan.fixed)
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
