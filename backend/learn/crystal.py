"""A real crystal through the embedded model's own forward process, and what the model predicts back.

Everything goes through the engine's adapter (``MattergenSampler.add_noise``, ``score``): the Learn page shows the
corruption the model was trained with and sampled by, not a re-implementation. Fractional coordinates diffuse on
the torus (atoms leave one face and come back through the opposite one), the lattice relaxes towards the prior's
cube at the limit density, atom types are absorbed into the mask state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from pymatgen.core import Structure

from backend.frames import Frame
from backend.sampling.engine import build_sampler, conditioning_batch
from backend.sampling.hooks.protocol import MASK_TOKEN_OFFSET
from backend.sampling.models import LoadedModel
from backend.sampling.request import GenerationRequest
from backend.sampling.start import clean_batch

TYPES_SHOWN = 5  # elements listed per atom in the type-probability bars


@dataclass(frozen=True)
class NoiseLevels:
    """The schedule's numbers at one t, printed beside the figure."""

    t: float
    position_std: float  # fractional units
    lattice_signal: float  # mean coefficient a of the lattice VP-SDE
    lattice_std: float  # Å per matrix entry
    masked_share: float  # expected share of types in the mask state


@dataclass(frozen=True)
class Snapshot:
    """Crystals as the live view draws them, with the noise levels that made them."""

    frames: tuple[Frame, ...]
    levels: NoiseLevels


TEACHING_MAX_ATOMS = 24  # a conventional cell up to this size shows its motif; larger stays primitive


def teaching_cell(structure: Structure) -> Structure:
    """The conventional cell where it is small (rock salt's cube of 8 atoms, not its 2-atom rhombohedron)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    conventional = SpacegroupAnalyzer(structure, symprec=0.1).get_conventional_standard_structure()
    return conventional if len(conventional) <= TEACHING_MAX_ATOMS else structure


def _sampler(model: LoadedModel, n: int) -> object:
    return build_sampler(model, GenerationRequest(n=n, steps=1000), conditioned=False)


def _frames(batch: object, probabilities: np.ndarray | None, t: float, noise: float, label: int = 0) -> list[Frame]:
    tokens = batch["atomic_numbers"].cpu().numpy()
    masked = (tokens < 1) | (tokens > MASK_TOKEN_OFFSET)
    out, start = [], 0
    for i, n in enumerate(batch["num_atoms"].cpu().tolist()):
        atoms = slice(start, start + n)
        start += n
        if probabilities is None:
            likely, confidence = np.where(masked[atoms], 0, tokens[atoms]), np.where(masked[atoms], 0.0, 1.0)
        else:
            likely, confidence = probabilities[atoms].argmax(axis=1) + 1, probabilities[atoms].max(axis=1)
        out.append(
            Frame(
                crystal=label + i,
                step=0,
                t=t,
                noise=noise,
                lattice=batch["cell"][i].cpu().numpy().astype(float),
                frac_coords=(batch["pos"][atoms].cpu().numpy() % 1.0).astype(float),
                likely_z=likely.astype(int),
                confidence=confidence.astype(np.float32),
                masked=masked[atoms] if probabilities is None else np.zeros(n, dtype=bool),
                failed=False,
            )
        )
    return out


def noise_levels(model: LoadedModel, structure: Structure, t: float) -> NoiseLevels:
    """The forward process's numbers at ``t`` for this crystal."""
    sampler = _sampler(model, 1)
    batch = clean_batch([structure], conditioning_batch([len(structure)], {}, "cpu"))
    times = torch.tensor([t])
    _, pos_std = sampler.corruption.sdes["pos"].marginal_prob(
        batch["pos"], times, batch_idx=batch.get_batch_idx("pos"), batch=batch
    )
    cell = sampler.corruption.sdes["cell"]
    _, cell_std = cell.marginal_prob(batch["cell"], times, batch=batch)
    d3pm = sampler.corruption.discrete_corruptions["atomic_numbers"].d3pm
    kept = d3pm.state[min(int(round(t * d3pm.num_steps)), d3pm.num_steps)]  # P(type not yet absorbed) at step t N
    return NoiseLevels(
        t=t,
        position_std=float(pos_std[0, 0]),
        lattice_signal=float(cell._marginal_mean_coeff(times)[0]),
        lattice_std=float(cell_std[0, 0, 0]),
        masked_share=1.0 - float(kept),
    )


def noised(model: LoadedModel, structure: Structure, t: float, seed: int = 0, copies: int = 1) -> Snapshot:
    """``copies`` draws of the crystal noised to ``t`` by the model's corruption (t in (0, 1])."""
    sampler = _sampler(model, copies)
    batch = clean_batch([structure] * copies, conditioning_batch([len(structure)] * copies, {}, "cpu"))
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        noisy = sampler.add_noise(batch, t)
    levels = noise_levels(model, structure, t)
    return Snapshot(tuple(_frames(noisy, None, t, levels.position_std)), levels)


@dataclass(frozen=True)
class Prediction:
    """At one t: the noisy crystal, the model's denoised estimate, and each atom's type probabilities."""

    noisy: Frame
    estimate: Frame
    type_bars: tuple[tuple[str, tuple[tuple[str, float], ...]], ...]  # per atom: (true element, top elements)


def predict(model: LoadedModel, structure: Structure, t: float, seed: int = 0) -> Prediction:
    """The model's x0 estimate at ``t``: positions x_t + s^2 score (on the torus), the lattice from the VP
    score, ``(L_t - (1 - a) mu + s^2 score) / a``, types as the model's clean-type probabilities."""
    from pymatgen.core import Element

    sampler = _sampler(model, 1)
    batch = clean_batch([structure], conditioning_batch([len(structure)], {}, "cpu"))
    times = torch.tensor([t])
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        noisy = sampler.add_noise(batch, t)
        scores = sampler.score(noisy, times)
    pos_sde, cell_sde = sampler.corruption.sdes["pos"], sampler.corruption.sdes["cell"]
    _, pos_std = pos_sde.marginal_prob(noisy["pos"], times, batch_idx=noisy.get_batch_idx("pos"), batch=noisy)
    _, cell_std = cell_sde.marginal_prob(noisy["cell"], times, batch=noisy)
    a = cell_sde._marginal_mean_coeff(times)[:, None, None]
    mu = cell_sde.get_limit_mean(x=noisy["cell"], batch=noisy)
    estimate = noisy.replace(
        pos=(noisy["pos"] + pos_std**2 * scores["pos"]) % 1.0,
        cell=(noisy["cell"] - (1 - a) * mu + cell_std**2 * scores["cell"]) / a,
    )
    probabilities = torch.softmax(scores["atomic_numbers"][:, :MASK_TOKEN_OFFSET].float(), dim=-1).numpy()
    bars = []
    for site, row in zip(structure, probabilities):
        top = np.argsort(row)[::-1][:TYPES_SHOWN]
        bars.append((site.specie.symbol, tuple((Element.from_Z(int(z) + 1).symbol, float(row[z])) for z in top)))
    noise = float(pos_std[0, 0])
    return Prediction(
        noisy=_frames(noisy, None, t, noise)[0],
        estimate=_frames(estimate, probabilities, t, noise, label=1)[0],
        type_bars=tuple(bars),
    )
