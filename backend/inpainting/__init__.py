"""Inpainting guests into a host framework (the CHGGen method) on the engine's per-step hook.

The host's kept atoms are pinned at every step to their own positions forward-noised to the noise level
the loop is about to denoise from, with their types fixed; the lattice is the host's. Guest atoms start
uniform in the cell and follow the model. RePaint resampling (Lugmayr et al. 2022; CHGGen used jump j=10,
r=3) walks the schedule back j steps r-1 times per block, re-noising the whole state, so guests harmonise
with the host. Everything here is a :class:`~backend.sampling.StepControl` returned by one callback; the
sampler loop is the engine's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from pymatgen.core import Element, Structure

from backend.inpainting.guests import collision, guest_host_clearance, host_mask, mark_guests
from backend.sampling import GenerationRequest, LoadedModel, ModelInfo, StepCallback, StepControl, StepState
from backend.sampling.engine import chain, conditioning_batch, denoise, sample_prior, sampling_session, to_structures
from backend.sampling.request import allowed_elements

MIN_GUEST_DISTANCE = 0.5  # Å, for reporting


class InvalidHost(ValueError):
    """A host or guest choice that cannot be inpainted; the message is one line for the user."""


@dataclass(frozen=True)
class InpaintRequest:
    """Guests to place into a host: fixed elements with counts, plus ``free`` guests typed by the model."""

    guests: tuple[tuple[str, int], ...] = ()
    free_guests: int = 0
    free_elements: tuple[str, ...] = ()
    n: int = 4
    steps: int = 1000
    jump: int = 10
    resample: int = 3
    seed: int = 0
    guidance: float = 1.0

    @property
    def guest_count(self) -> int:
        return sum(c for _, c in self.guests) + self.free_guests


@dataclass(frozen=True)
class InpaintResult:
    structures: tuple[Structure | None, ...]
    failures: tuple[str | None, ...]
    model_calls: int
    cancelled: bool
    seconds: float
    extras: dict = field(default_factory=dict)


def repaint_schedule(n_steps: int, jump: int, resample: int) -> list[int]:
    """Positions p (0 = pure noise ... n_steps-1) at which a denoising step runs, RePaint order.

    After every ``jump`` steps down, the walk goes back up ``jump`` positions ``resample - 1`` times.
    ``jump=1, resample=1`` is the plain schedule 0, 1, ..., n_steps-1.
    """
    if jump < 1 or resample < 1:
        raise InvalidHost("jump length and resample count must be at least 1")
    positions: list[int] = []
    p = 0
    pending = {}
    while p < n_steps:
        positions.append(p)
        p += 1
        if resample > 1 and p % jump == 0 and p < n_steps:
            left = pending.setdefault(p, resample - 1)
            if left > 0:
                pending[p] = left - 1
                p -= jump
    return positions


class _Pin:
    """The per-step hook: re-noise for RePaint jumps, then pin host atoms, types and lattice."""

    def __init__(
        self,
        sampler: object,
        host: Structure,
        keep: np.ndarray,
        fixed_types: torch.Tensor,
        n_crystals: int,
        device: str,
        free_elements: Sequence[str] = (),
    ):
        self.corruption = sampler._multi_corruption
        self.dt = None
        n_atoms = len(fixed_types)
        per_crystal = torch.arange(n_crystals, device=device)[:, None] * n_atoms
        # kept host atoms come first in every crystal, in host order, then the guests
        self.kept = (per_crystal + torch.arange(int(keep.sum()), device=device)[None, :]).flatten()
        typed = torch.nonzero(fixed_types > 0).flatten()
        self.typed = (per_crystal + typed[None, :]).flatten()
        self.types = fixed_types[typed].repeat(n_crystals)
        host_frac = torch.as_tensor(host.frac_coords[keep], dtype=torch.float32, device=device)
        self.host_frac = host_frac.repeat(n_crystals, 1)
        self.cell = torch.as_tensor(host.lattice.matrix, dtype=torch.float32, device=device)[None].repeat(
            n_crystals, 1, 1
        )
        free = torch.nonzero(fixed_types == 0).flatten()
        self.free = (per_crystal + free[None, :]).flatten()
        self.allowed = torch.tensor([Element(e).Z for e in free_elements], device=device, dtype=torch.long)
        d3pm = self.corruption.discrete_corruptions.get("atomic_numbers")
        self.mask_token = int(d3pm.d3pm.dim - 1 + d3pm.offset) if d3pm is not None else None

    def pinned(self, batch: object, t: float | None) -> dict[str, torch.Tensor]:
        """Host positions noised to time ``t`` (exact at the end), host lattice, fixed types."""
        pos = batch["pos"].clone()
        if t is None:
            pos[self.kept] = self.host_frac
        else:
            tt = torch.full((batch.get_batch_size(),), t, device=pos.device)
            _, std = self.corruption.sdes["pos"].marginal_prob(
                torch.zeros_like(pos), tt, batch_idx=batch.get_batch_idx("pos"), batch=batch
            )
            noise = torch.randn_like(self.host_frac) * std[self.kept]
            pos[self.kept] = (self.host_frac + noise) % 1.0
        types = batch["atomic_numbers"].clone()
        types[self.typed] = self.types
        return {"pos": pos, "cell": self.cell.clone(), "atomic_numbers": types}

    def renoise(self, batch: object, t_from: float, t_to: float) -> dict[str, torch.Tensor]:
        """q(x_{t_to} | x_{t_from}) for guests: wrapped Gaussian on positions, absorbing mask on types."""
        idx = batch.get_batch_idx("pos")
        n = batch.get_batch_size()
        sde = self.corruption.sdes["pos"]
        zeros = torch.zeros_like(batch["pos"])
        _, std_to = sde.marginal_prob(zeros, torch.full((n,), t_to, device=zeros.device), batch_idx=idx, batch=batch)
        _, std_from = sde.marginal_prob(
            zeros, torch.full((n,), t_from, device=zeros.device), batch_idx=idx, batch=batch
        )
        extra = torch.sqrt(torch.clamp(std_to**2 - std_from**2, min=0.0))
        pos = (batch["pos"] + extra * torch.randn_like(batch["pos"])) % 1.0
        types = batch["atomic_numbers"].clone()
        if self.mask_token is not None:
            survive = (1.0 - t_to) / max(1.0 - t_from, 1e-6)  # masked-D3PM "standard" schedule: linear in t
            remask = (torch.rand(types.shape, device=types.device) > survive) & (types != self.mask_token)
            types[remask] = self.mask_token
        return {"pos": pos, "atomic_numbers": types}

    def restrict_free(self, batch: object, logits: torch.Tensor | None) -> object:
        """A free guest that resolved to an element outside the allowed set takes the allowed one the model
        rates highest (the chemical-system mask alone would also admit the host's elements)."""
        if not len(self.free) or logits is None or not len(self.allowed):
            return batch
        types = batch["atomic_numbers"].clone()
        current = types[self.free]
        wrong = (current != self.mask_token) & ~torch.isin(current, self.allowed)
        if wrong.any():
            best = logits[self.free][:, self.allowed - 1].argmax(dim=1)
            types[self.free[wrong]] = self.allowed[best[wrong]]
            batch = batch.replace(atomic_numbers=types)
        return batch

    def __call__(self, state: StepState) -> StepControl:
        batch = self.restrict_free(state.batch, state.atom_logits)
        now = state.t + self.dt  # the loop's step took the state from t to t + dt (dt < 0)
        if state.next_t is not None and state.next_t > now + 1e-9:
            batch = batch.replace(**self.renoise(batch, now, state.next_t))
        return StepControl(replace=self.pinned(batch, state.next_t))


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
        positions = repaint_schedule(request.steps, request.jump, request.resample)
        schedule_times = [timesteps[p] for p in positions]
        device = model.info.device
        pin = _Pin(sampler, host, keep, torch.tensor(fixed, device=device), request.n, device, request.free_elements)
        pin.dt = dt
        batch = sample_prior(sampler, conditioning_batch([n_atoms] * request.n, sampling.conditions, device))
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


@dataclass(frozen=True)
class Framework:
    """A host prepared for inpainting: the structure, which of its sites are kept, how it was made."""

    structure: Structure
    keep: tuple[bool, ...]
    note: str

    @property
    def kept(self) -> Structure:
        """Only the kept sites: what the user sees as the framework."""
        return Structure.from_sites([site for site, k in zip(self.structure, self.keep) if k])


def remove_species(host: Structure, remove: Sequence[str]) -> Framework:
    """Keep every site except those of the ``remove`` elements (e.g. the mobile ion)."""
    if len(host) == 0 or not host.is_ordered:
        raise InvalidHost("the host must be an ordered structure with atoms (no partial occupancy)")
    unknown = [e for e in remove if e not in {s.specie.symbol for s in host}]
    if unknown:
        raise InvalidHost(f"the host has no {', '.join(unknown)} to remove")
    keep = tuple(site.specie.symbol not in remove for site in host)
    if not any(keep):
        raise InvalidHost("removing " + ", ".join(remove) + " leaves a framework with 0 atoms")
    return Framework(host, keep, f"removed {', '.join(remove)}" if remove else "kept all sites")


SYMMETRY_LADDER = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5)


def symmetrize_framework(framework: Framework, ladder: Sequence[float] = SYMMETRY_LADDER) -> Framework:
    """Refine the kept framework with spglib at increasing tolerance until its group is above P1.

    The refined framework becomes the host (all of its sites kept); the note says which step of the
    ladder was taken and which group was found.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    kept = framework.kept
    for step, tolerance in enumerate(ladder, start=1):
        try:
            analyzer = SpacegroupAnalyzer(kept, symprec=tolerance)
            if analyzer.get_space_group_number() > 1:
                refined = analyzer.get_refined_structure()
                note = (
                    f"{framework.note}; symmetrised at {tolerance} Å (ladder step {step}): "
                    f"{analyzer.get_space_group_symbol()} ({analyzer.get_space_group_number()})"
                )
                return Framework(refined, (True,) * len(refined), note)
        except Exception:  # spglib failing at one tolerance is a reason to try the next
            continue
    return Framework(kept, (True,) * len(kept), f"{framework.note}; stays P1 up to {ladder[-1]} Å")


def supersize(framework: Framework, repeat: Sequence[int]) -> Framework:
    """A supercell of the framework, so that more guests fit."""
    if any(r < 1 for r in repeat) or len(repeat) != 3:
        raise InvalidHost("supercell repeats must be three positive integers, e.g. 1,1,2")
    if tuple(repeat) == (1, 1, 1):
        return framework
    structure = framework.structure.copy()
    keep = np.array(framework.keep)
    structure.add_site_property("kept", keep.tolist())
    structure.make_supercell(list(repeat))
    new_keep = tuple(bool(k) for k in structure.site_properties["kept"])
    structure.remove_site_property("kept")
    return Framework(structure, new_keep, f"{framework.note}; supercell {'x'.join(map(str, repeat))}")


def prepare_framework(
    host: Structure,
    remove: Sequence[str] = (),
    drop_sites: Sequence[int] = (),
    symmetrize: bool = False,
    repeat: Sequence[int] = (1, 1, 1),
) -> Framework:
    """The host as the page and the CLI prepare it: remove elements or sites, symmetrise, supersize."""
    framework = remove_species(host, remove)
    dropped = set(drop_sites)
    if dropped:
        outside = sorted(i for i in dropped if not 0 <= i < len(host))
        if outside:
            raise InvalidHost(f"site index {outside[0]} is outside 0-{len(host) - 1}")
        keep = tuple(k and i not in dropped for i, k in enumerate(framework.keep))
        if not any(keep):
            raise InvalidHost("nothing of the host is kept: the framework after removal has 0 atoms")
        framework = Framework(host, keep, f"{framework.note}; removed sites {', '.join(map(str, sorted(dropped)))}")
    if symmetrize:
        framework = symmetrize_framework(framework)
    return supersize(framework, repeat)


def parse_guests(text: str) -> tuple[tuple[str, int], ...]:
    """``"Li:4, Na"`` -> ``(("Li", 4), ("Na", 1))``; one clear line for anything else."""
    guests = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        element, _, count = item.partition(":")
        count = count.strip() or "1"
        if not count.isdigit():
            raise InvalidHost(f"guest '{item}' is not ELEMENT:COUNT")
        guests.append((element.strip(), int(count)))
    return tuple(guests)


def parse_indices(text: str) -> tuple[int, ...]:
    """``"0, 1,5"`` -> ``(0, 1, 5)``."""
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise InvalidHost("site indices must be whole numbers separated by commas") from None


@dataclass(frozen=True)
class CandidateGeometry:
    """What is checked before relaxation: host fidelity and guest clearance."""

    max_host_deviation: float  # Å, kept atoms vs the host
    min_guest_host_distance: float  # Å
    space_group: str


def candidate_geometry(
    candidate: Structure, host: Structure, keep: Sequence[bool], symprec: float = 0.1
) -> CandidateGeometry:
    from backend.structures import describe

    keep = np.asarray(keep, dtype=bool)
    mask = host_mask(candidate)
    delta = candidate.frac_coords[np.array(mask)] - host.frac_coords[keep]
    delta -= np.round(delta)
    deviation = float(np.linalg.norm(host.lattice.get_cartesian_coords(delta), axis=1).max())
    clearance = guest_host_clearance(candidate, mask)
    summary = describe(candidate, symprec=symprec)
    return CandidateGeometry(deviation, clearance, summary.space_group)


def write_inpainting(result: InpaintResult, host: Structure, keep: Sequence[bool], out: Path) -> Path:
    """One CIF per candidate and ``summary.csv`` (space group, guest clearance, host deviation)."""
    import pandas as pd

    from backend.structures import write_cif

    rows = []
    for index, (structure, failure) in enumerate(zip(result.structures, result.failures)):
        if structure is None:
            rows.append({"index": index, "status": "failed", "error": failure})
            continue
        geometry = candidate_geometry(structure, host, keep)
        path = write_cif(structure, out / f"{index:04d}_{structure.composition.reduced_formula}.cif")
        rows.append(
            {
                "index": index,
                "status": "ok",
                "error": "",
                "file": path.name,
                "formula": structure.composition.reduced_formula,
                "space_group": geometry.space_group,
                "min_guest_host_distance": geometry.min_guest_host_distance,
                "max_host_deviation": geometry.max_host_deviation,
            }
        )
    summary = out / "summary.csv"
    pd.DataFrame(rows).to_csv(summary, index=False)
    return summary
