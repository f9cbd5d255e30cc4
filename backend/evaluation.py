"""Candidate evaluation, the validation half of the funnel: relax -> E_hull -> batch metrics.

Pages, the CLI and screening call this one function so a candidate is judged the same way everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from pymatgen.core import Structure

from backend.metrics import novel, unique_mask, validity
from backend.relax import Potential, RelaxProgress, RelaxResult, relax_structures
from backend.relax.relaxer import ProgressCallback
from backend.stability import HullResult, StabilityError, assess

STABLE_THRESHOLD = 0.1  # eV/atom: MatterGen's "stable" for S.U.N. (metastable window)


@dataclass(frozen=True)
class CandidateReport:
    name: str
    relax: RelaxResult
    hull: HullResult | None
    error: str | None

    def row(self) -> dict[str, object]:
        r, h = self.relax, self.hull
        structure = r.structure or r.initial
        return {
            "name": self.name,
            "formula": structure.composition.reduced_formula if structure is not None else "",
            "n_atoms": len(structure) if structure is not None else 0,
            "energy_per_atom": r.energy_per_atom,
            "e_form_per_atom": h.formation_energy_per_atom if h else math.nan,
            "e_above_hull": h.e_above_hull if h else math.nan,
            "hull_is_approximate": h.hull_is_approximate if h else None,
            "decomposition": h.decomposition_text if h else "",
            "rmsd": r.rmsd,
            "volume_change": r.volume_change,
            "steps": r.steps,
            "converged": r.converged,
            "error": self.error or "",
        }


def relax_and_assess(
    names: Sequence[str],
    structures: Sequence[Structure],
    potential: Potential,
    fmax: float = 0.05,
    steps: int = 500,
    fixed: Sequence[Sequence[int]] | None = None,
    progress: ProgressCallback | None = None,
) -> list[CandidateReport]:
    """Relax every structure in one batch and place each relaxed one on the reference hull."""
    reports = []
    results = relax_structures(structures, potential, fmax=fmax, steps=steps, fixed=fixed, progress=progress)
    for name, result in zip(names, results):
        hull, error = None, result.error
        if result.ok:
            try:
                hull = assess(result.structure.composition, result.energy_per_atom, potential.corrected_by_mp2020)
            except StabilityError as exc:
                error = str(exc)
        reports.append(CandidateReport(name=name, relax=result, hull=hull, error=error))
    return reports


def reports_frame(reports: Sequence[CandidateReport]) -> pd.DataFrame:
    return pd.DataFrame([r.row() for r in reports])


@dataclass(frozen=True)
class BatchRates:
    """V, S, U, N and their combinations as fractions of all structures in the batch."""

    total: int
    valid: float
    stable: float
    stable_strict: float
    unique: float
    novel: float
    sun: float
    vsun: float


def batch_metrics(structures: Sequence[Structure], e_above_hull: Sequence[float]) -> tuple[pd.DataFrame, BatchRates]:
    """Per-structure V/S/U/N flags and batch rates (S: E_hull <= 0.1 eV/atom; strict: <= 0)."""
    uniques = unique_mask(structures)
    rows = []
    for index, (structure, e_hull, is_unique) in enumerate(zip(structures, e_above_hull, uniques)):
        v = validity(structure)
        stable = bool(math.isfinite(e_hull) and e_hull <= STABLE_THRESHOLD)
        is_novel = novel(structure)
        rows.append(
            {
                "index": index,
                "formula": structure.composition.reduced_formula,
                "structural_valid": v.structural,
                "compositional_valid": v.compositional,
                "valid": v.valid,
                "e_above_hull": e_hull,
                "stable": stable,
                "stable_strict": bool(math.isfinite(e_hull) and e_hull <= 0.0),
                "unique": is_unique,
                "novel": is_novel,
                "sun": stable and is_unique and is_novel,
                "vsun": v.valid and stable and is_unique and is_novel,
            }
        )
    frame = pd.DataFrame(rows)
    n = max(len(frame), 1)
    rate = (lambda column: float(frame[column].sum()) / n) if len(frame) else (lambda column: 0.0)
    rates = BatchRates(
        total=len(frame),
        valid=rate("valid"),
        stable=rate("stable"),
        stable_strict=rate("stable_strict"),
        unique=rate("unique"),
        novel=rate("novel"),
        sun=rate("sun"),
        vsun=rate("vsun"),
    )
    return frame, rates


__all__ = [
    "BatchRates",
    "CandidateReport",
    "RelaxProgress",
    "batch_metrics",
    "relax_and_assess",
    "reports_frame",
]
