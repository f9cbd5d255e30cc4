"""The sampling engine: MatterGen's predictor-corrector sampler behind one per-step hook.

Modelled on k-diffusion's ``sample(model, x, sigmas, callback=...)`` and diffusers'
``callback_on_step_end``: :func:`denoise` is the only reverse-diffusion loop in the project. It runs
mattergen's own predictors and correctors (the same objects ``PredictorCorrector`` builds) over a
schedule of diffusion times it is given, and after every step hands a :class:`StepState` to one
callback, which may stop the loop or overwrite fields of the state. The live view records frames
through it, inpainting pins host atoms through it, the CLI draws its progress bar through it.

mattergen's own loop (``PredictorCorrector._denoise``) cannot be used for this: it has no hook, and
``record_trajectories`` clones every intermediate batch and returns them only at the end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import torch
from omegaconf import OmegaConf
from pymatgen.core import Lattice, Structure

from backend.limits import VOLUME_PER_ATOM_BOUNDS
from backend.runtime import TORCH_RNG
from backend.sampling.adapter import MattergenSampler
from backend.sampling.hooks.protocol import MASK_TOKEN_OFFSET, StepCallback, StepState
from backend.sampling.models import LoadedModel
from backend.sampling.request import GenerationRequest

# A crystal whose cell leaves those bounds within one step goes back to the state it had at the start of the step
# and takes the step again with fresh noise, at most this many times before it is reported as failed. The
# divergences are single-step events of the predictor-corrector's noise (README, "Lattice failures"), not a
# property of the crystal; the retries are counted in each result.
MAX_STEP_RETRIES = 3


@dataclass(frozen=True)
class DenoiseOutcome:
    batch: object
    mean_batch: object
    failures: tuple[str | None, ...]
    cancelled: bool
    steps_run: int
    retried_steps: int = 0  # steps taken again after a diverging cell (see MAX_STEP_RETRIES)


def denoise(
    sampler: MattergenSampler,
    batch: object,
    timesteps: Sequence[float],
    dt: float,
    callback: StepCallback | None = None,
    batch_index: int = 0,
    first_crystal: int = 0,
) -> DenoiseOutcome:
    """Reverse diffusion from ``batch`` through ``timesteps`` with mattergen's predictors/correctors.

    ``sampler`` wraps a mattergen ``PredictorCorrector`` (its score function, predictors and correctors
    are used, its loop is not). ``dt`` is the (negative) predictor step; a schedule that goes back up in
    time, as RePaint's does, is followed as given and the callback re-noises the state for it.
    A crystal whose lattice diverges within a step takes that step again from where it started (at most
    ``MAX_STEP_RETRIES`` times); one that keeps diverging is frozen to a harmless cube and reported as failed, so
    one exploding cell never takes the rest of the batch down.
    """
    corruption = sampler.corruption
    device = batch["cell"].device
    n_crystals = batch.get_batch_size()
    failed = torch.zeros(n_crystals, dtype=torch.bool, device=device)
    failures: list[str | None] = [None] * n_crystals
    mean_batch = batch.clone()
    dt_tensor = torch.tensor(dt, device=device)
    retries = torch.zeros(n_crystals, dtype=torch.long, device=device)
    start = batch
    for i, t_value in enumerate(timesteps):
        t = torch.full((n_crystals,), float(t_value), device=device)
        batch, mean_batch = _retry(batch, mean_batch, start, retries, failed)
        start = batch = _guard(batch, failed, failures, step=i)
        for _ in range(sampler.corrector_steps):
            update = sampler.correct(batch, mean_batch, t, dt_tensor)
            batch, mean_batch = _retry(update.batch, update.mean_batch, start, retries, failed)
            batch = _guard(batch, failed, failures, step=i)
        update = sampler.predict(batch, mean_batch, t, dt_tensor)
        batch, mean_batch = update.batch, update.mean_batch
        if callback is None:
            continue
        state = StepState(
            step=i,
            n_steps=len(timesteps),
            t=float(t_value),
            next_t=float(timesteps[i + 1]) if i + 1 < len(timesteps) else None,
            batch_index=batch_index,
            first_crystal=first_crystal,
            batch=batch,
            atom_logits=update.score["atomic_numbers"] if "atomic_numbers" in sampler.fields else None,
            pos_sigma=_pos_sigma(corruption, batch, t),
            failed=failed.clone(),
        )
        control = callback(state)
        if control is not None:
            if control.replace:
                batch = batch.replace(**control.replace)
                mean_batch = mean_batch.replace(**control.replace)
            if control.stop:
                return DenoiseOutcome(batch, mean_batch, tuple(failures), True, i + 1, int(retries.sum()))
    batch = _guard(batch, failed, failures, step=len(timesteps))
    return DenoiseOutcome(batch, mean_batch, tuple(failures), False, len(timesteps), int(retries.sum()))


def _pos_sigma(corruption: object, batch: object, t: torch.Tensor) -> torch.Tensor:
    sde = corruption.sdes.get("pos")
    if sde is None:
        return torch.zeros_like(t)
    idx = batch.get_batch_idx("pos")
    _, std = sde.marginal_prob(torch.zeros_like(batch["pos"]), t, batch_idx=idx, batch=batch)
    first_atom = torch.cumsum(batch["num_atoms"], 0) - batch["num_atoms"]
    return std[first_atom, 0]


def _diverged(batch: object) -> torch.Tensor:
    """Per crystal: a non-finite cell or position, or a volume per atom outside ``VOLUME_PER_ATOM_BOUNDS``."""
    cell, pos, num_atoms = batch["cell"], batch["pos"], batch["num_atoms"]
    per_atom = torch.linalg.det(cell).abs() / num_atoms
    crystal_of_atom = batch.get_batch_idx("pos")
    atom_bad = ~torch.isfinite(pos).all(dim=1)
    pos_bad = torch.zeros(len(num_atoms), dtype=torch.bool, device=cell.device).index_put(
        (crystal_of_atom,), atom_bad, accumulate=True
    )
    low, high = VOLUME_PER_ATOM_BOUNDS
    return ~torch.isfinite(cell).flatten(1).all(dim=1) | pos_bad | ~(per_atom >= low) | ~(per_atom <= high)


def _retry(
    batch: object, mean_batch: object, start: object, retries: torch.Tensor, failed: torch.Tensor
) -> tuple[object, object]:
    """Put crystals whose cell diverged back to ``start`` (the state at the start of the step) while they have
    retries left; the step's fresh noise then gives them another draw."""
    again = _diverged(batch) & ~failed & (retries < MAX_STEP_RETRIES)
    if not again.any():
        return batch, mean_batch
    retries += again.long()
    atoms = again[batch.get_batch_idx("pos")][:, None]
    cell = torch.where(again[:, None, None], start["cell"], batch["cell"])
    pos = torch.where(atoms, start["pos"], batch["pos"])
    mean_cell = torch.where(again[:, None, None], start["cell"], mean_batch["cell"])
    mean_pos = torch.where(atoms, start["pos"], mean_batch["pos"])
    return batch.replace(cell=cell, pos=pos), mean_batch.replace(cell=mean_cell, pos=mean_pos)


def _guard(batch: object, failed: torch.Tensor, failures: list[str | None], step: int) -> object:
    """Mark crystals with a non-finite or degenerate cell as failed and park them in a safe cube."""
    cell, pos, num_atoms = batch["cell"], batch["pos"], batch["num_atoms"]
    per_atom = torch.linalg.det(cell).abs() / num_atoms
    crystal_of_atom = batch.get_batch_idx("pos")
    bad = _diverged(batch)
    newly = bad & ~failed
    for index in torch.nonzero(newly).flatten().tolist():
        volume = float(per_atom[index])
        failures[index] = f"lattice diverged at step {step} (volume {volume:.3g} Å³/atom)"
    if not bad.any() and not failed.any():
        return batch
    failed |= bad
    side = (num_atoms.to(cell.dtype) * 15.0) ** (1 / 3)
    safe_cell = torch.diag_embed(side[:, None].expand(-1, 3))
    cell = torch.where(failed[:, None, None], safe_cell, cell)
    pos = torch.where(failed[crystal_of_atom][:, None] | ~torch.isfinite(pos), torch.full_like(pos, 0.5), pos)
    return batch.replace(cell=cell, pos=pos)


def conditioning_batch(
    counts: Sequence[int], conditions: dict[str, object] | Sequence[dict[str, object]], device: str
) -> object:
    """Empty ChemGraphs of the requested sizes carrying the condition values (the same for every crystal, or one
    dict per crystal), as mattergen's loader makes."""
    from mattergen.common.data.chemgraph import ChemGraph
    from mattergen.common.data.collate import collate
    from mattergen.common.data.transform import SetProperty

    per_crystal = [conditions] * len(counts) if isinstance(conditions, dict) else list(conditions)
    graphs = []
    for n, values in zip(counts, per_crystal):
        setters = [SetProperty(k, v) for k, v in values.items()]
        graph = ChemGraph(
            pos=torch.full((n, 3), torch.nan),
            cell=torch.full((1, 3, 3), torch.nan),
            atomic_numbers=torch.full((n,), -1, dtype=torch.long),
            num_atoms=torch.tensor(n),
            num_nodes=torch.tensor(n),
        )
        for setter in setters:
            graph = setter(graph)
        graphs.append(graph)
    return collate(graphs).to(device)


def build_sampler(model: LoadedModel, request: GenerationRequest, conditioned: bool | None = None) -> MattergenSampler:
    """mattergen's guided predictor-corrector with its default sampling settings, for ``request.steps``.

    The D3PM atom-type chain must have as many steps as the sampler, so its schedule is rebuilt for the
    requested count (the mask schedule's marginals do not depend on the count). ``conditioned`` (default: the request
    has conditions) turns classifier-free guidance on. Call under ``model.lock``.
    """
    from hydra.utils import instantiate
    from mattergen.common.diffusion.predictors_correctors import (
        LatticeAncestralSamplingPredictor,
        LatticeLangevinDiffCorrector,
    )
    from mattergen.diffusion.d3pm.d3pm_predictors_correctors import D3PMAncestralSamplingPredictor
    from mattergen.diffusion.sampling.classifier_free_guidance import GuidedPredictorCorrector
    from mattergen.diffusion.wrapped.wrapped_predictors_correctors import (
        WrappedAncestralSamplingPredictor,
        WrappedLangevinCorrector,
    )
    from mattergen.property_embeddings import SetConditionalEmbeddingType, SetUnconditionalEmbeddingType

    diffusion = model.module.diffusion_module
    atom_types = diffusion.corruption.discrete_corruptions.get("atomic_numbers")
    if atom_types is not None and atom_types.N != request.steps:
        d3pm_config = OmegaConf.create(
            OmegaConf.to_container(
                model.config.lightning_module.diffusion_module.corruption.discrete_corruptions.atomic_numbers.d3pm
            )
        )
        d3pm_config.schedule.num_steps = request.steps
        atom_types.d3pm = instantiate(d3pm_config)
    predictors = {
        "pos": partial(WrappedAncestralSamplingPredictor),
        "cell": partial(LatticeAncestralSamplingPredictor),
    }
    if atom_types is not None:
        predictors["atomic_numbers"] = partial(D3PMAncestralSamplingPredictor, predict_x0=True)
    guided = GuidedPredictorCorrector(
        diffusion_module=diffusion,
        device=torch.device(model.info.device),
        N=request.steps,
        eps_t=1.0 / request.steps,
        n_steps_corrector=1,
        predictor_partials=predictors,
        corrector_partials={
            "pos": partial(WrappedLangevinCorrector, max_step_size=1e6, snr=0.4),
            "cell": partial(LatticeLangevinDiffCorrector, max_step_size=1e6, snr=0.2),
        },
        guidance_scale=request.guidance if (bool(request.conditions) if conditioned is None else conditioned) else 0.0,
        remove_conditioning_fn=SetUnconditionalEmbeddingType(),
        keep_conditioning_fn=SetConditionalEmbeddingType(),
    )
    return MattergenSampler(guided)


@contextmanager
def sampling_session(
    model: LoadedModel, request: GenerationRequest, conditioned: bool | None = None
) -> Iterator[tuple[MattergenSampler, list[float], float]]:
    """Exclusive, seeded, gradient-free use of ``model``: yields (sampler, timesteps, dt).

    The global torch RNG is seeded with ``request.seed`` inside a fork, so runs are reproducible and the
    caller's RNG state is untouched; :data:`~backend.runtime.TORCH_RNG` keeps other threads' draws (a
    network being built) out of the stream. Generation and inpainting both sample inside one of these.
    """
    devices = [torch.device(model.info.device)] if model.info.device.startswith("cuda") else []
    with TORCH_RNG, model.lock, torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(request.seed)
        sampler = build_sampler(model, request, conditioned)
        timesteps, dt = sampler.time_grid()
        yield sampler, timesteps, dt


def to_structures(batch: object, failures: Sequence[str | None]) -> tuple[list[Structure | None], list[str | None]]:
    """pymatgen Structures from a final batch; crystals with unresolved atom types fail too."""
    cells = batch["cell"].cpu().numpy().astype(float)
    pos = batch["pos"].cpu().numpy().astype(float)
    z = batch["atomic_numbers"].cpu().numpy()
    out: list[Structure | None] = []
    reasons = list(failures)
    start = 0
    for i, n in enumerate(batch["num_atoms"].cpu().tolist()):
        species, coords = z[start : start + n], pos[start : start + n] % 1.0
        start += n
        if reasons[i] is None and ((species < 1) | (species > MASK_TOKEN_OFFSET)).any():
            reasons[i] = "atom types still masked at the last step"
        out.append(None if reasons[i] else Structure(Lattice(cells[i]), species.tolist(), coords))
    return out, reasons
