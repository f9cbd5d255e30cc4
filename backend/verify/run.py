"""Verifying candidates: tight symmetric relaxation, then phonons and properties, one report per structure.

A structure that cannot be verified (disordered, too large for finite displacements on this machine, a relaxation
that fails) gets its one-line reason and the others carry on. Each report is written as JSON beside a results
table, so pages and the CLI read what was computed instead of computing it again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from pymatgen.core import Structure

from backend.limits import MAX_VERIFY_ATOMS
from backend.relax.relaxer import relax_structures
from backend.verify.phonons import IMAGINARY_THZ, PhononResult, check_phonons
from backend.verify.properties import Properties, compute_properties

if TYPE_CHECKING:
    from backend.relax.potentials import CHGNetPotential  # the type only: computing loads torch on first use

TIGHT_FMAX = 0.01  # eV/Å before phonons: residual forces become spurious imaginary modes
RESULTS = "verify.csv"
REPORTS = "verify"


@dataclass(frozen=True)
class VerifyReport:
    name: str
    formula: str
    phonons: PhononResult | None
    properties: Properties | None
    error: str | None = None

    def row(self) -> dict[str, object]:
        """One line of the results table (the CLI's CSV, the page's table)."""
        phonons, properties = self.phonons, self.properties
        return {
            "file": self.name,
            "formula": self.formula,
            "dynamically_stable": "" if phonons is None else phonons.stable,
            "lowest_frequency_thz": math.nan if phonons is None else round(phonons.lowest_thz, 3),
            "lowest_at": "" if phonons is None else phonons.lowest_at,
            "supercell": "" if phonons is None else "x".join(map(str, phonons.supercell)),
            "bulk_modulus_gpa": math.nan if properties is None else round(properties.bulk_modulus_gpa, 1),
            "magnetic_density": math.nan if properties is None else round(properties.magnetic_density, 4),
            "max_magmom": math.nan if properties is None else max(properties.magmoms, default=0.0),
            "density": math.nan if properties is None else round(properties.density, 3),
            "band_gap": "not predicted (no offline model)",
            "error": self.error or "",
        }

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "formula": self.formula,
            "phonons": self.phonons.to_dict() if self.phonons else None,
            "properties": self.properties.to_dict() if self.properties else None,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, values: dict) -> VerifyReport:
        return cls(
            values["name"],
            values["formula"],
            PhononResult.from_dict(values["phonons"]) if values["phonons"] else None,
            Properties.from_dict(values["properties"]) if values["properties"] else None,
            values["error"],
        )


def refusal(structure: Structure) -> str | None:
    """Why ``structure`` cannot be verified here, in one line; None when it can."""
    if not structure.is_ordered:
        return "disordered structure (partial occupancies): order it first, e.g. on the Inpainting page"
    if len(structure) > MAX_VERIFY_ATOMS:
        return (
            f"{len(structure)} atoms in the cell: phonons by finite displacements are limited to {MAX_VERIFY_ATOMS} "
            "atoms here"
        )
    return None


def verify(
    names: Sequence[str],
    structures: Sequence[Structure],
    potential: CHGNetPotential,
    phonons: bool = True,
    properties: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[VerifyReport]:
    """Verify each structure in turn; ``progress(done, total, name)`` after each, ``stop`` asked between them."""
    reports = []
    for index, (name, structure) in enumerate(zip(names, structures)):
        if stop is not None and stop():
            break
        reports.append(_verify_one(name, structure, potential, phonons, properties, stop))
        if progress:
            progress(index + 1, len(structures), name)
    return reports


def _verify_one(
    name: str,
    structure: Structure,
    potential: CHGNetPotential,
    phonons: bool,
    properties: bool,
    stop: Callable[[], bool] | None,
) -> VerifyReport:
    formula = structure.composition.reduced_formula
    problem = refusal(structure)
    if problem:
        return VerifyReport(name, formula, None, None, problem)
    (relaxed,) = relax_structures([structure], potential, fmax=TIGHT_FMAX, steps=500, keep_symmetry=True)
    if not relaxed.ok:
        return VerifyReport(name, formula, None, None, f"the tight relaxation failed: {relaxed.error}")
    phonon_result = computed = None
    try:
        if phonons:
            phonon_result, _ = check_phonons(relaxed.structure, potential, stop)
        if properties:
            computed = compute_properties(relaxed.structure, potential)
    except ValueError as exc:
        return VerifyReport(name, formula, phonon_result, computed, str(exc))
    return VerifyReport(name, formula, phonon_result, computed)


def write_reports(reports: Sequence[VerifyReport], out: Path) -> pd.DataFrame:
    """``verify.csv`` (one row per structure) and ``verify/NAME.json`` (bands, DOS, EOS) in ``out``."""
    folder = out / REPORTS
    folder.mkdir(parents=True, exist_ok=True)
    for report in reports:
        (folder / f"{report.name}.json").write_text(json.dumps(report.to_dict()))
    frame = pd.DataFrame([r.row() for r in reports])
    frame.to_csv(out / RESULTS, index=False)
    return frame


def read_reports(out: Path) -> dict[str, VerifyReport]:
    """The reports a verification wrote, by structure name."""
    return {
        path.stem: VerifyReport.from_dict(json.loads(path.read_text()))
        for path in sorted((out / REPORTS).glob("*.json"))
    }


THRESHOLD_TEXT = f"dynamically stable: no mode below {IMAGINARY_THZ} THz (acoustic branches at and near Γ not judged)"
