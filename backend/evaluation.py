"""Candidate evaluation, the validation half of the funnel: relax -> E_hull -> batch metrics.

Pages, the CLI and screening call this one function so a candidate is judged the same way everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pymatgen.core import Structure

from backend.metrics import novel, unique_mask, validity
from backend.relax import Potential, RelaxProgress, RelaxResult, relax_structures
from backend.relax.relaxer import ProgressCallback
from backend.stability import HullResult, StabilityError, assess
from backend.structures import SYMPREC, describe, safe_name, write_cif

STABLE_THRESHOLD = 0.1  # eV/atom: MatterGen's "stable" for S.U.N. (metastable window)


TIGHT_SYMPREC = 0.01  # Å: the symmetry a relaxed candidate really has, beside the app's 0.1 Å reading


@dataclass(frozen=True)
class CandidateReport:
    """One relaxed candidate on the hull. ``host_atoms``: its first sites are an inpainting host's."""

    name: str
    relax: RelaxResult
    hull: HullResult | None
    error: str | None
    host_atoms: int = 0

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
            "hull_is_approximate": h.hull_is_approximate if h else None,
            "decomposition": h.decomposition_text if h else "",
            "rmsd": r.rmsd,
            "volume_change": r.volume_change,
            "steps": r.steps,
            "converged": r.converged,
            "error": self.error or "",
        }
        if self.host_atoms:
            row["min_guest_host_distance"] = _clearance(relaxed, self.host_atoms)
        return row


def _space_group(structure: Structure | None, symprec: float) -> str:
    return describe(structure, symprec=symprec).space_group if structure is not None else ""


def _clearance(structure: Structure | None, host_atoms: int) -> float:
    """Closest guest-host distance (Å): did relaxation push a guest into the framework?"""
    if structure is None or len(structure) <= host_atoms:
        return math.nan
    return float(structure.distance_matrix[host_atoms:, :host_atoms].min())


def relax_and_assess(
    names: Sequence[str],
    structures: Sequence[Structure],
    potential: Potential,
    fmax: float = 0.05,
    steps: int = 500,
    fixed: Sequence[Sequence[int]] | None = None,
    progress: ProgressCallback | None = None,
    host_atoms: int = 0,
    fix_host: bool = False,
) -> list[CandidateReport]:
    """Relax every structure in one batch and place each relaxed one on the reference hull.

    Inpainted candidates pass ``host_atoms`` (their first sites are the host's) to get the guest-host
    clearance reported, and ``fix_host`` to relax only the guests (and the cell) around a fixed host.
    """
    if fix_host and host_atoms:
        fixed = [range(host_atoms)] * len(structures)
    reports = []
    results = relax_structures(structures, potential, fmax=fmax, steps=steps, fixed=fixed, progress=progress)
    for name, result in zip(names, results):
        hull, error = None, result.error
        if result.ok:
            try:
                hull = assess(result.structure.composition, result.energy_per_atom, potential.corrected_by_mp2020)
            except StabilityError as exc:
                error = str(exc)
        reports.append(CandidateReport(name=name, relax=result, hull=hull, error=error, host_atoms=host_atoms))
    return reports


def reports_frame(reports: Sequence[CandidateReport]) -> pd.DataFrame:
    return pd.DataFrame([r.row() for r in reports])


def write_reports(reports: Sequence[CandidateReport], out: Path) -> pd.DataFrame:
    """``NAME_relaxed.cif`` for every relaxed candidate and ``results.csv`` for all: what the app and CLI keep."""
    for report in reports:
        if report.error is None and report.relax.structure is not None:
            write_cif(report.relax.structure, out / f"{safe_name(report.name)}_relaxed.cif")
    frame = reports_frame(reports)
    frame.to_csv(out / "results.csv", index=False)
    return frame


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
    "write_reports",
]
