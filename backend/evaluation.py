"""Candidate evaluation, the validation half of the funnel: relax -> E_hull -> batch metrics.

Pages, the CLI and screening call this one function so a candidate is judged the same way everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pymatgen.core import Structure

from backend.inpainting.guests import guest_host_clearance, host_mask
from backend.limits import SYMPREC, TIGHT_SYMPREC
from backend.metrics.sanity import sanity
from backend.relax.interface import Potential
from backend.relax.relaxer import ProgressCallback, RelaxProgress, RelaxResult, relax_structures
from backend.stability.hull import HullResult, assess
from backend.stability.reference import StabilityError
from backend.structures import describe


@dataclass(frozen=True)
class CandidateReport:
    """One relaxed candidate on the hull. ``host_mask``: which sites are an inpainting host's (empty otherwise)."""

    name: str
    relax: RelaxResult
    hull: HullResult | None
    error: str | None
    host_mask: tuple[bool, ...] = ()

    @property
    def relaxed(self) -> Structure | None:
        """The relaxed structure when relaxation and the hull placement both succeeded."""
        return self.relax.structure if self.error is None else None

    @property
    def e_above_hull(self) -> float:
        return self.hull.e_above_hull if self.error is None and self.hull else math.nan

    def row(self) -> dict[str, object]:
        r, h = self.relax, self.hull
        structure = r.structure or r.initial
        relaxed = r.structure if r.ok else None
        row = {
            "name": self.name,
            "formula": structure.composition.reduced_formula if structure is not None else "",
            "n_atoms": len(structure) if structure is not None else 0,
            "space_group": _space_group(relaxed, SYMPREC),
            "space_group_tight": _space_group(relaxed, TIGHT_SYMPREC),
            "energy_per_atom": r.energy_per_atom,
            "e_form_per_atom": h.formation_energy_per_atom if h else math.nan,
            "e_above_hull": h.e_above_hull if h else math.nan,
            "hull_quality": h.hull_quality if h else "",
            "hull_missing": " ".join(h.hull_missing) if h else "",
            "hull_filled": " ".join(h.hull_filled) if h else "",
            "decomposition": h.decomposition_text if h else "",
            "rmsd": r.rmsd,
            "volume_change": r.volume_change,
            "steps": r.steps,
            "converged": r.converged,
            "error": self.error or "",
            "sanity_before": sanity(r.initial).text if r.initial is not None else "",
        }
        if self.host_mask:
            row["min_guest_host_distance"] = (
                guest_host_clearance(relaxed, self.host_mask) if relaxed is not None else math.nan
            )
        return row


def _space_group(structure: Structure | None, symprec: float) -> str:
    return describe(structure, symprec=symprec).space_group if structure is not None else ""


def relax_and_assess(
    names: Sequence[str],
    structures: Sequence[Structure],
    potential: Potential,
    fmax: float = 0.05,
    steps: int = 500,
    fixed: Sequence[Sequence[int]] | None = None,
    progress: ProgressCallback | None = None,
    inpainted: bool = False,
    fix_host: bool = False,
    keep_symmetry: bool = False,
    stop: Callable[[], bool] | None = None,
) -> list[CandidateReport]:
    """Relax every structure in one batch and place each relaxed one on the reference hull.

    Inpainted candidates (``inpainted``: their guests carry inpainting's guest labels) get the guest-host clearance
    reported, and with ``fix_host`` only the guests (and the cell) relax around a fixed host. ``keep_symmetry`` relaxes
    each structure within the space group it starts in; ``stop`` ends it between steps (see ``relax_structures``).
    """
    masks = [host_mask(s) for s in structures] if inpainted else [()] * len(structures)
    if fix_host and inpainted:
        fixed = [[i for i, is_host in enumerate(mask) if is_host] for mask in masks]
    reports = []
    results = relax_structures(
        structures,
        potential,
        fmax=fmax,
        steps=steps,
        fixed=fixed,
        progress=progress,
        keep_symmetry=keep_symmetry,
        stop=stop,
    )
    for name, result, mask in zip(names, results, masks):
        hull, error = None, result.error
        if result.ok:
            try:
                hull = assess(result.structure.composition, result.energy_per_atom, potential.corrected_by_mp2020)
            except StabilityError as exc:
                error = str(exc)
        reports.append(CandidateReport(name=name, relax=result, hull=hull, error=error, host_mask=mask))
    return reports


def relax_requested(
    structures: Sequence[Structure | None], potential: Potential, **options: object
) -> list[CandidateReport | None]:
    """:func:`relax_and_assess` over a list of requested crystals in which failed ones are None: the gaps stay,
    so rates over the result keep every requested crystal in the denominator."""
    made = [(i, s) for i, s in enumerate(structures) if s is not None]
    reports = relax_and_assess([str(i) for i, _ in made], [s for _, s in made], potential, **options)
    out: list[CandidateReport | None] = [None] * len(structures)
    for (i, _), report in zip(made, reports):
        out[i] = report
    return out


__all__ = [
    "CandidateReport",
    "RelaxProgress",
    "relax_and_assess",
    "relax_requested",
]
