"""The stages of a screen, each a function of its inputs (Ray runs the same ones), and the log they append to.

Every candidate has an id (``b<batch>-<index>``) and every stage appends one row per candidate to its CSV in
``OUT/stages/`` with the reason when it is rejected; a rerun reads those files and skips work already written."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from pymatgen.core import Structure

from backend.screening.config import ScreenConfig

if TYPE_CHECKING:
    from backend.sampling.hooks.protocol import StepCallback

STAGES = ("generate", "filter", "relax", "verify")
STAGE_COLUMNS = {
    "generate": ["id", "batch", "formula", "n_atoms", "status", "reason"],
    "filter": ["id", "passed", "reason"],
    "relax": [
        "id",
        "formula",
        "energy_per_atom",
        "e_form_per_atom",
        "e_above_hull",
        "hull_quality",
        "hull_missing",
        "converged",
        "steps",
        "error",
    ],
    "verify": ["id", "dynamically_stable", "lowest_frequency_thz", "lowest_at", "bulk_modulus_gpa", "error"],
}


@dataclass(frozen=True)
class Candidate:
    id: str
    batch: int
    cif: str


class StageLog:
    """Append-only CSV per stage; what is in it is done and is not redone on a rerun."""

    def __init__(self, out: Path):
        self.folder = out / "stages"
        self._lock = threading.Lock()

    def path(self, stage: str) -> Path:
        return self.folder / f"{stage}.csv"

    def rows(self, stage: str) -> pd.DataFrame:
        path = self.path(stage)
        if not path.is_file():
            return pd.DataFrame(columns=STAGE_COLUMNS[stage])
        return pd.read_csv(path, keep_default_na=False, dtype={"id": str})

    def done_ids(self, stage: str) -> set[str]:
        return set(self.rows(stage).id)

    def append(self, stage: str, rows: Iterable[dict]) -> None:
        rows = list(rows)
        if not rows:
            return
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.path(stage)
            new = not path.is_file()
            with path.open("a", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=STAGE_COLUMNS[stage])
                if new:
                    writer.writeheader()
                writer.writerows({k: row.get(k, "") for k in STAGE_COLUMNS[stage]} for row in rows)


def generate_batch(
    config: ScreenConfig, batch: int, callback: StepCallback | None = None
) -> tuple[list[dict], list[Candidate]] | None:
    """Stage 1 for one batch: stage rows for every candidate and the generated ones as CIF text; None when
    ``callback`` stopped the sampler (a cancelled or yielding screen: the batch is generated again on resume)."""
    from backend.runtime import configure_threads

    configure_threads()  # a Ray worker is a fresh process: same threads, same arithmetic, same crystals
    from backend.sampling.generate import generate
    from backend.sampling.models import load_model

    result = generate(load_model(config.model, device=config.device), config.request(batch), callback=callback)
    if result.cancelled:
        return None
    rows, candidates = [], []
    for index, (structure, failure) in enumerate(zip(result.structures, result.failures)):
        cid = f"b{batch:04d}-{index:03d}"
        if structure is None:
            rows.append({"id": cid, "batch": batch, "status": "rejected", "reason": failure})
            continue
        rows.append(
            {
                "id": cid,
                "batch": batch,
                "formula": structure.composition.reduced_formula,
                "n_atoms": len(structure),
                "status": "ok",
                "reason": "",
            }
        )
        candidates.append(Candidate(cid, batch, structure.to(fmt="cif")))
    return rows, candidates


def sanity_filter(config: ScreenConfig, candidate: Candidate) -> tuple[bool, str]:
    """Stage 2: structural validity, minimum distance, covalent-radius sanity, optional SMACT charge neutrality."""
    from backend.limits import COVALENT_FRACTION, MIN_VOLUME_PER_ATOM
    from backend.metrics.sanity import sanity
    from backend.metrics.validity import min_distance, smact_valid

    structure = Structure.from_str(candidate.cif, fmt="cif")
    distance = min_distance(structure)
    if distance < config.min_distance:
        return False, f"atoms {distance:.2f} Å apart (< {config.min_distance} Å)"
    verdict = sanity(structure)
    if not verdict.ok:
        return False, f"{verdict.pair} {verdict.distance:.2f} Å apart (< {COVALENT_FRACTION} of the covalent radii)"
    if structure.volume / len(structure) <= MIN_VOLUME_PER_ATOM:
        return False, "volume per atom too small"
    if config.require_charge_neutral and not smact_valid(structure.composition):
        return False, "no charge-neutral oxidation states (SMACT)"
    return True, ""


def relax_batch(
    config: ScreenConfig, candidates: Sequence[Candidate], stop: Callable[[], bool] | None = None
) -> list[tuple[dict, str | None]]:
    """Stage 3 for a group of candidates: relaxation and hull; (stage row, relaxed CIF or None). ``stop`` ends it
    between steps with ``RelaxationStopped`` (nothing of the group is recorded; it is relaxed again on resume)."""
    from backend.evaluation import relax_and_assess
    from backend.relax.potentials import chgnet

    structures = [Structure.from_str(c.cif, fmt="cif") for c in candidates]
    reports = relax_and_assess(
        [c.id for c in candidates],
        structures,
        chgnet(config.device),
        fmax=config.fmax,
        steps=config.relax_steps,
        stop=stop,
    )
    out = []
    for report in reports:
        row = {"id": report.name, **{k: v for k, v in report.row().items() if k in STAGE_COLUMNS["relax"]}}
        relaxed = report.relax.structure.to(fmt="cif") if report.relax.structure is not None else None
        out.append((row, relaxed if report.error is None else None))
    return out


def verify_candidate(
    config: ScreenConfig, cid: str, cif: str, stop: Callable[[], bool] | None = None
) -> list[dict] | None:
    """Stage 4 for one relaxed candidate: the verification stages the config asks for (phonons, the properties a
    property filter needs); its stage row, or None when ``stop`` interrupted it."""
    from backend.relax.potentials import chgnet
    from backend.verify.run import verify

    structure = Structure.from_str(cif, fmt="cif")
    try:
        reports = verify(
            [cid],
            [structure],
            chgnet(config.device),
            phonons=config.phonons,
            properties=config.bulk_modulus_min is not None,
            stop=stop,
        )
    except InterruptedError:
        return None
    if not reports:
        return None
    row = reports[0].row()
    return [{"id": cid, **{k: row.get(k, "") for k in STAGE_COLUMNS["verify"] if k != "id"}}]
