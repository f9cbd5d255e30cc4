"""A job's result folder, owned by one type: :class:`ResultFolder` names every file a generation, inpainting,
relaxation or structure-prediction job writes, writes the tables, and hands them back typed -- the summary, the
relaxation results, the stored batch rates, the structures -- so pages, the CLI and jobs never spell a file name or
rebuild a join themselves.

Layout: ``NNNN_FORMULA.cif`` per generated crystal and ``summary.csv`` (one row per requested crystal, failed ones
included); ``NAME_relaxed.cif`` per relaxed candidate and ``results.csv`` (one row per candidate); beside every
CIF, ``structures/STEM.json``, the same structure as pymatgen wrote it (sites in their order, site properties kept),
which is what this folder reads back -- a CIF read back is regrouped by element;
``metrics.csv`` and ``metrics_per_crystal.csv``, the batch rates written once when a relaxation finishes;
``ranking.csv`` for structure prediction; ``trajectory.extxyz`` with the denoising frames where asked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd
from pymatgen.core import Structure

from backend.metrics.rates import BatchRates, batch_rates
from backend.structures import StructureFileError, read_structure, safe_name, write_cif

SUMMARY = "summary.csv"
RESULTS = "results.csv"
METRICS = "metrics.csv"
METRICS_PER_CRYSTAL = "metrics_per_crystal.csv"
RANKING = "ranking.csv"
TRAJECTORY = "trajectory.extxyz"
EXACT = "structures"  # pymatgen JSON of each CIF, by stem


class Report(Protocol):
    """What a results row needs of a candidate (``backend.evaluation.CandidateReport``, which sits above this
    module: evaluation reads guests' marks from inpainting, whose output writes here)."""

    name: str
    error: str | None

    @property
    def relaxed(self) -> Structure | None: ...

    def row(self) -> dict[str, object]: ...


def crystal_file(index: int, formula: str) -> str:
    """A generated or inpainted crystal's CIF: its request index, then its formula."""
    return f"{index:04d}_{safe_name(formula)}.cif"


def relaxed_file(name: str) -> str:
    """A relaxed candidate's CIF, named after the structure it was relaxed from."""
    return f"{safe_name(name)}_relaxed.cif"


@dataclass(frozen=True)
class ResultFolder:
    """One job's folder (or any folder the CLI wrote): what is in it, typed."""

    path: Path

    def summary(self) -> pd.DataFrame | None:
        """The generation's or inpainting's summary.csv (one row per requested crystal), or None without one."""
        return self._csv(SUMMARY)

    def write_summary(self, rows: Sequence[Mapping[str, object]]) -> Path:
        path = self.path / SUMMARY
        pd.DataFrame(list(rows)).to_csv(path, index=False)
        return path

    def results(self) -> pd.DataFrame | None:
        """The relaxation's results.csv (one row per candidate; ``error`` empty where it relaxed), or None."""
        return self._csv(RESULTS, dtype={"name": str})

    def write_structure(self, structure: Structure, file: str) -> Path:
        """``file`` (a CIF, for people and other programs) and its exact pymatgen JSON (for this folder's readers)."""
        exact = self.path / EXACT / f"{Path(file).stem}.json"
        exact.parent.mkdir(exist_ok=True)
        exact.write_text(structure.to_json())
        return write_cif(structure, self.path / file)

    def read(self, stem: str) -> Structure:
        """The structure of ``STEM.cif`` as it was written: from its JSON, or from the CIF in a folder written before
        the JSON was (:class:`StructureFileError` where neither can be read)."""
        exact = self.path / EXACT / f"{stem}.json"
        return read_structure(exact if exact.is_file() else self.path / f"{stem}.cif")

    def write_results(self, reports: Sequence[Report]) -> pd.DataFrame:
        """``NAME_relaxed.cif`` for every relaxed candidate and ``results.csv`` for all."""
        for report in reports:
            if report.relaxed is not None:
                self.write_structure(report.relaxed, relaxed_file(report.name))
        frame = pd.DataFrame([r.row() for r in reports])
        frame.to_csv(self.path / RESULTS, index=False)
        return frame

    def relaxed(self, name: str) -> Structure:
        """Candidate ``name``'s relaxed structure (:class:`StructureFileError` where it has none)."""
        return self.read(Path(relaxed_file(name)).stem)

    def relaxed_structures(
        self, unreadable: Callable[[str, StructureFileError], None] | None = None
    ) -> dict[str, Structure]:
        """Every relaxed candidate of results.csv by name; one whose file cannot be read is left out (and told to
        ``unreadable``)."""
        results = self.results()
        found = {}
        for name in [] if results is None else results.name[results.error == ""]:
            try:
                found[name] = self.relaxed(name)
            except StructureFileError as exc:
                if unreadable:
                    unreadable(name, exc)
        return found

    def structures(self, unreadable: Callable[[str, StructureFileError], None] | None = None) -> dict[str, Structure]:
        """Every structure the folder holds, by file stem; one that cannot be read back is left out (and told to
        ``unreadable``)."""
        found = {}
        for path in sorted(self.path.glob("*.cif")):
            try:
                found[path.stem] = self.read(path.stem)
            except StructureFileError as exc:
                if unreadable:
                    unreadable(path.stem, exc)
        return found

    def rates(self) -> BatchRates | None:
        """The batch rates written when the relaxation finished, or None before."""
        path = self.path / METRICS
        return BatchRates.read(path) if path.is_file() else None

    def write_rates(
        self, relaxed: Mapping[str, Structure], summary: pd.DataFrame | None
    ) -> tuple[list[Structure | None], BatchRates]:
        """The batch rates of this relaxation folder (``relaxed`` by name, ``summary`` the source job's), written
        once as metrics.csv and metrics_per_crystal.csv for every later reader: a relaxation job when it finishes,
        ``crystal-canvas evaluate``. Novelty is a StructureMatcher search, too slow for a page rerun."""
        results = self.results()
        if results is None:
            raise FileNotFoundError(f"{self.path / RESULTS} does not exist: relax first")
        structures, e_hull = requested_outcomes(results, relaxed, summary)
        table, rates = batch_rates(structures, e_hull)
        table.to_csv(self.path / METRICS_PER_CRYSTAL, index=False)
        rates.frame().to_csv(self.path / METRICS, index=False)
        return structures, rates

    def table(self) -> pd.DataFrame | None:
        """The folder's main table: ranking.csv (structure prediction), results.csv (relaxation) or summary.csv."""
        for name in (RANKING, RESULTS, SUMMARY):
            if (self.path / name).is_file():
                return self._csv(name)
        return None

    def _csv(self, name: str, **options: object) -> pd.DataFrame | None:
        path = self.path / name
        return pd.read_csv(path, keep_default_na=False, **options) if path.is_file() else None


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
