"""Generating a batch of crystals: atom counts, compositions and conditions per crystal, then the engine's loop."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Composition, Structure

from backend.compositions.cell import cell_formula
from backend.limits import MAX_GENERATED_ATOMS
from backend.prototypes.index import composition_volume
from backend.sampling.composition import batch_compositions
from backend.sampling.engine import conditioning_batch, denoise, sampling_session, to_structures
from backend.sampling.hooks.cell_volume import CellVolume
from backend.sampling.hooks.composition import ExactComposition
from backend.sampling.hooks.protocol import StepCallback, chain
from backend.sampling.hooks.symmetry import SymmetryProjection
from backend.sampling.models import LoadedModel
from backend.sampling.request import GenerationRequest, InvalidRequest, cell_histogram
from backend.sampling.start import start_batch, truncated_grid
from backend.symmetry.wyckoff import (
    NoAssignment,
    WyckoffAssignment,
    assign,
    feasible_counts,
    orbits_of,
    parse_assignment,
)


@dataclass(frozen=True)
class GenerationResult:
    """Structures in request order; ``None`` where that crystal failed (reason in ``failures``).

    ``compositions`` holds each crystal's required cell content where one was given or proposed (else empty).
    """

    request: GenerationRequest
    structures: tuple[Structure | None, ...]
    failures: tuple[str | None, ...]
    cancelled: bool
    seconds: float
    compositions: tuple[str, ...] = ()
    retried_steps: int = 0  # steps crystals took again after a diverging cell (engine.MAX_STEP_RETRIES)

    @property
    def succeeded(self) -> list[tuple[int, Structure]]:
        return [(i, s) for i, s in enumerate(self.structures) if s is not None]


def atom_counts(request: GenerationRequest) -> list[int]:
    """Atoms per crystal: fixed, or drawn (seeded) from mattergen's Alex-MP-20 histogram (among the sizes a
    constrained space group can hold)."""
    if request.atoms is not None:
        return [request.atoms] * request.n
    histogram = cell_histogram(request.num_atoms_distribution)
    if request.chemical_system:
        histogram = {k: v for k, v in histogram.items() if k >= len(request.chemical_system)}
    if request.constrains_symmetry:
        feasible = set(feasible_counts(request.space_group, max(histogram)))
        histogram = {k: v for k, v in histogram.items() if k in feasible}
    sizes = np.array(list(histogram))
    weights = np.array(list(histogram.values()), dtype=float)
    rng = np.random.default_rng(request.seed)
    return rng.choice(sizes, size=request.n, p=weights / weights.sum()).tolist()


def generate(
    model: LoadedModel,
    request: GenerationRequest,
    callback: StepCallback | None = None,
) -> GenerationResult:
    """Sample ``request.n`` crystals; same request and device give the same structures.

    With compositions (given or proposed) each crystal has its own size, its composition is held by
    :class:`~backend.sampling.composition.ExactComposition` on the hook (before ``callback``, which therefore sees
    the constrained state), and where the model takes a chemical-system condition it is conditioned on its
    composition's elements. With a space-group constraint each crystal gets a Wyckoff assignment and
    :class:`~backend.sampling.hooks.symmetry.SymmetryProjection` projects every step into the group instead.
    """
    request = request.validate(model.info).resolved(model.info)
    started = time.perf_counter()
    fixed = parse_assignment(request.space_group, request.wyckoff) if request.wyckoff != "auto" else None
    if fixed is not None:
        compositions = [Composition(dict(Counter(o.element for o in fixed.orbits for _ in range(o.multiplicity))))]
        compositions *= request.n
    else:
        compositions = batch_compositions(request, model.info)
    starts = request.starts() if request.start_structures else _seeds(request, compositions)
    assignments = None
    if starts is not None:
        if request.start_time >= 1.0:  # noised to t = 1 nothing of the start is left: generate its composition
            compositions, starts = [s.composition for s in starts], None
        elif request.start_types == "keep" and (request.start_symmetry == "keep" or not request.start_structures):
            starts, assignments = _symmetric_starts(starts)
        if starts is not None:
            compositions = [s.composition for s in starts]
    if compositions is None:
        counts, conditions = atom_counts(request), [request.conditions] * request.n
        hook = None
    else:
        counts = [int(c.num_atoms) for c in compositions]
        supported = model.info.supports("chemical_system")
        conditions = [_with_system(request, c.chemical_system, supported) for c in compositions]
        hook = ExactComposition(compositions, request.composition_method, seed=request.seed)
        if starts is not None and request.start_types == "keep":
            hook = ExactComposition.of_sites([s.atomic_numbers for s in starts])
    if request.constrains_symmetry:
        assignments = [fixed] * request.n if fixed else _assignments(request, counts, compositions)
        counts = [a.n_atoms for a in assignments]
    if assignments is not None:
        hook = SymmetryProjection(assignments)  # holds the types per orbit, composition included
    structures: list[Structure | None] = []
    failures: list[str | None] = []
    cancelled = False
    retried = 0
    volume = _volume_hook(model, request, compositions, starts)
    with sampling_session(model, request, conditioned=any(conditions)) as (sampler, timesteps, dt):
        if starts is not None:
            timesteps = truncated_grid(timesteps, request.start_time)
        for batch_index, first in enumerate(range(0, request.n, request.batch_size)):
            last = first + request.batch_size
            conditioning = conditioning_batch(counts[first:last], conditions[first:last], model.info.device)
            if starts is None:
                initial = sampler.prior(conditioning)
            else:
                keep = request.start_types == "keep"
                initial = start_batch(sampler, starts[first:last], conditioning, request.start_time, keep)
            outcome = denoise(
                sampler,
                initial,
                timesteps,
                dt,
                callback=chain(hook, volume, callback),
                batch_index=batch_index,
                first_crystal=first,
            )
            if outcome.cancelled:
                cancelled = True
                break
            retried += outcome.retried_steps
            batch_structures, batch_failures = to_structures(outcome.mean_batch, outcome.failures)
            structures += batch_structures
            failures += batch_failures
    return GenerationResult(
        request=request,
        structures=tuple(structures),
        failures=tuple(failures),
        cancelled=cancelled,
        seconds=time.perf_counter() - started,
        compositions=tuple(cell_formula(c) for c in compositions) if compositions else (),
        retried_steps=retried,
    )


def _assignments(
    request: GenerationRequest, counts: list[int], compositions: list[Composition] | None
) -> list[WyckoffAssignment]:
    """One seeded Wyckoff assignment per crystal for its atom count (and composition, where known)."""
    out = []
    for i, n in enumerate(counts):
        content = {el.symbol: int(k) for el, k in compositions[i].items()} if compositions else None
        try:
            out.append(assign(request.space_group, n, content, request.seed * 100_003 + i))
        except NoAssignment as exc:
            raise InvalidRequest(str(exc)) from None
    return out


def _symmetric_starts(starts: list[Structure]) -> tuple[list[Structure], list[WyckoffAssignment]]:
    """Each start in its conventional cell, orbit by orbit, with the Wyckoff assignment that keeps its space group
    and orbits through the variation; a start whose conventional cell would exceed the sampler's limit stays as it
    is, in P1."""
    out, assignments = [], []
    for start in starts:
        rebuilt, assignment = orbits_of(start)
        if len(rebuilt) > MAX_GENERATED_ATOMS:
            rebuilt, assignment = start, WyckoffAssignment.p1(start)
        out.append(rebuilt)
        assignments.append(assignment)
    return out, assignments


def _seeds(request: GenerationRequest, compositions: list[Composition] | None) -> list[Structure] | None:
    """Prototype seeds for the proposed compositions where the (resolved) source is ``prototypes``, else None. The
    proposer only proposes compositions with a prototype of another composition; where it found none and the
    source was the default, it proposed freely (``composition.proposals``) and the crystals start from noise."""
    if request.composition_source != "prototypes" or request.compositions or compositions is None:
        return None
    from backend.prototypes.seeding import has_foreign_prototype, seed_structure

    if not all(has_foreign_prototype(c) for c in compositions):
        return None
    rng = np.random.default_rng(request.seed)
    return [seed_structure(c, rng, max_atoms=request.max_atoms) for c in compositions]


def _volume_hook(
    model: LoadedModel,
    request: GenerationRequest,
    compositions: list[Composition] | None,
    starts: list[Structure] | None,
) -> CellVolume | None:
    """The composition-aware cell volume where the request asks for it (targets: a start structure's own volume,
    else the compositions' where they are fixed, else the chain's types)."""
    if request.cell_volume != "composition":
        return None
    if starts is not None:
        volumes = [s.volume for s in starts]
    else:
        volumes = [composition_volume(c) for c in compositions] if compositions else None
    return CellVolume(model.module.diffusion_module.corruption.sdes["cell"], volumes)


def _with_system(request: GenerationRequest, system: str, supported: bool) -> dict[str, object]:
    """The request's conditions plus the composition's chemical system, where the model takes one."""
    values = dict(request.conditions)
    if supported and "chemical_system" not in values:
        values["chemical_system"] = system
    return values
