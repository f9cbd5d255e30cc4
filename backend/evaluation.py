"""Candidate evaluation, the validation half of the funnel: relax -> E_hull -> batch metrics.

Pages, the CLI and screening call this one function so a candidate is judged the same way everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pymatgen.core import Structure

from backend.inpainting.guests import guest_host_clearance, host_mask
from backend.metrics.rates import BatchRates, batch_rates
from backend.metrics.sanity import sanity
from backend.relax import Potential, RelaxProgress, RelaxResult, relax_structures
from backend.relax.relaxer import ProgressCallback
from backend.stability import HullResult, StabilityError, assess
from backend.structures import SYMPREC, describe, safe_name, write_cif

TIGHT_SYMPREC = 0.01  # Å: the symmetry a relaxed candidate really has, beside the app's 0.1 Å reading


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


def read_summary(folder: Path) -> pd.DataFrame | None:
    """A generation or inpainting folder's summary.csv (one row per requested crystal), or None without one."""
    path = folder / "summary.csv"
    return pd.read_csv(path, keep_default_na=False) if path.is_file() else None


def requested_outcomes(
    results: pd.DataFrame, relaxed: Mapping[str, Structure], summary: pd.DataFrame | None = None
) -> tuple[list[Structure | None], list[float]]:
    """One (relaxed structure or None, E_above_hull) per crystal that was asked for, for the batch rates.

    ``summary`` is the generation's summary.csv (one row per requested crystal, failed ones included); without it the
    relaxation's own rows are the denominator. A crystal that failed generation, failed relaxation or could not be
    placed on the hull is None: it counts in the denominator and as neither valid nor stable.
    """
    done = {}
    for name, error, e_hull in zip(results.name.astype(str), results.error, results.e_above_hull):
        if error == "" and name in relaxed:
            done[name] = (relaxed[name], float(e_hull))
    if summary is None:
        names = list(results.name.astype(str))
    else:
        files = summary["file"] if "file" in summary else [""] * len(summary)
        names = [Path(str(f)).stem if status == "ok" else "" for f, status in zip(files, summary.status)]
    pairs = [done.get(name, (None, math.nan)) for name in names]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def write_rates(
    folder: Path, relaxed: Mapping[str, Structure], summary: pd.DataFrame | None
) -> tuple[list[Structure | None], BatchRates]:
    """The batch rates of a relaxation folder (its ``results.csv``; ``relaxed`` by name, ``summary`` the source
    job's), written once as ``metrics.csv`` and ``metrics_per_crystal.csv`` for every later reader: a relaxation job
    when it finishes, ``crystal-canvas evaluate``. Novelty is a StructureMatcher search, too slow for a page rerun."""
    results = pd.read_csv(folder / "results.csv", keep_default_na=False, dtype={"name": str})
    structures, e_hull = requested_outcomes(results, relaxed, summary)
    table, rates = batch_rates(structures, e_hull)
    table.to_csv(folder / "metrics_per_crystal.csv", index=False)
    rates.frame().to_csv(folder / "metrics.csv", index=False)
    return structures, rates


__all__ = [
    "CandidateReport",
    "RelaxProgress",
    "read_summary",
    "relax_and_assess",
    "relax_requested",
    "requested_outcomes",
    "reports_frame",
    "write_rates",
    "write_reports",
]
