"""Screening at scale: generate -> sanity filter -> MLIP relax -> E_hull -> shortlist, resumable.

Every candidate has an id (``b<batch>-<index>``) and every stage appends one row per candidate to its
CSV in ``OUT/stages/`` with the reason when it is rejected; a rerun reads those files and skips work
already written. Relaxation starts as soon as the first generated batch passes the filter, while later
batches are still being generated (a consumer thread here; Ray tasks with ``ray_address``).
"""

from __future__ import annotations

import csv
import json
import math
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd
import tomllib
from pymatgen.core import Structure

from backend.metrics import BatchRates

STAGES = ("generate", "filter", "relax")
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
}


@dataclass(frozen=True)
class ScreenConfig:
    """Everything a screen needs; the same keys work as CLI flags and in ``--config screen.toml``."""

    out: Path
    model: str = "default"
    n: int = 64
    atoms: int | None = 8
    chemsys: str | None = None
    steps: int = 200
    seed: int = 0
    guidance: float = 1.0
    batch_size: int = 16
    min_distance: float = 0.5
    require_charge_neutral: bool = True
    max_e_hull: float = 0.1
    fmax: float = 0.05
    relax_steps: int = 300
    relax_batch: int = 8
    device: str | None = None
    ray_address: str | None = None

    @property
    def batches(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def batch_sizes(self) -> list[int]:
        return [min(self.batch_size, self.n - b * self.batch_size) for b in range(self.batches)]

    @classmethod
    def from_toml(cls, path: Path, **overrides: object) -> ScreenConfig:
        values = tomllib.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown keys in {path}: {', '.join(unknown)}")
        merged = {**values, **{k: v for k, v in overrides.items() if v is not None}}
        merged["out"] = Path(merged["out"])
        return cls(**merged)


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


def batch_seed(config: ScreenConfig, batch: int) -> int:
    """Each batch has its own seed, so any batch can be (re)generated alone with the same result."""
    return config.seed * 1_000_003 + batch


def generate_batch(config: ScreenConfig, batch: int) -> tuple[list[dict], list[Candidate]]:
    """Stage 1 for one batch: stage rows for every candidate and the generated ones as CIF text."""
    from backend.runtime import configure_threads

    configure_threads()  # a Ray worker is a fresh process: same threads, same arithmetic, same crystals
    from backend.sampling import GenerationRequest, generate, load_model, parse_chemical_system

    size = config.batch_sizes()[batch]
    request = GenerationRequest(
        n=size,
        atoms=config.atoms,
        chemical_system=parse_chemical_system(config.chemsys) if config.chemsys else None,
        steps=config.steps,
        seed=batch_seed(config, batch),
        guidance=config.guidance,
        batch_size=size,
    )
    result = generate(load_model(config.model, device=config.device), request)
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
    """Stage 2: structural validity, minimum distance, optional SMACT charge neutrality."""
    from backend.metrics import MIN_VOLUME_PER_ATOM, min_distance, smact_valid

    structure = Structure.from_str(candidate.cif, fmt="cif")
    distance = min_distance(structure)
    if distance < config.min_distance:
        return False, f"atoms {distance:.2f} Å apart (< {config.min_distance} Å)"
    if structure.volume / len(structure) <= MIN_VOLUME_PER_ATOM:
        return False, "volume per atom too small"
    if config.require_charge_neutral and not smact_valid(structure.composition):
        return False, "no charge-neutral oxidation states (SMACT)"
    return True, ""


def relax_batch(config: ScreenConfig, candidates: Sequence[Candidate]) -> list[tuple[dict, str | None]]:
    """Stage 3 for a group of candidates: relaxation and hull; (stage row, relaxed CIF or None)."""
    from backend.evaluation import relax_and_assess
    from backend.relax import chgnet

    structures = [Structure.from_str(c.cif, fmt="cif") for c in candidates]
    reports = relax_and_assess(
        [c.id for c in candidates], structures, chgnet(config.device), fmax=config.fmax, steps=config.relax_steps
    )
    out = []
    for report in reports:
        row = {"id": report.name, **{k: v for k, v in report.row().items() if k in STAGE_COLUMNS["relax"]}}
        relaxed = report.relax.structure.to(fmt="cif") if report.relax.structure is not None else None
        out.append((row, relaxed if report.error is None else None))
    return out


class Screen:
    """Runs a screen into ``config.out``; local threads by default, Ray tasks with an address.

    Only :meth:`run` writes; ``funnel``, ``shortlist`` and ``rates`` read the stage files, so the Screening page
    can follow a running screen without touching it.
    """

    def __init__(self, config: ScreenConfig):
        self.config = config
        self.log = StageLog(config.out)
        self.timings = {stage: 0.0 for stage in STAGES}

    # --- bookkeeping shared by both executors -------------------------------------------------
    def _pending_batches(self) -> list[int]:
        generated = self.log.rows("generate")
        counts = generated.groupby("batch").size().to_dict() if len(generated) else {}
        return [b for b, size in enumerate(self.config.batch_sizes()) if counts.get(b, 0) < size]

    def _record_generation(self, rows: list[dict], candidates: list[Candidate]) -> list[Candidate]:
        """Write a generated batch and run the (cheap) filter; return the candidates to relax."""
        for candidate in candidates:
            (self.config.out / "generated" / f"{candidate.id}.cif").write_text(candidate.cif)
        self.log.append("generate", rows)
        started = time.perf_counter()
        passed, filter_rows = [], []
        for candidate in candidates:
            ok, reason = sanity_filter(self.config, candidate)
            filter_rows.append({"id": candidate.id, "passed": ok, "reason": reason})
            if ok:
                passed.append(candidate)
        self.log.append("filter", filter_rows)
        self.timings["filter"] += time.perf_counter() - started
        return passed

    def _record_relaxation(self, results: list[tuple[dict, str | None]]) -> None:
        for row, cif in results:
            if cif is not None:
                (self.config.out / "relaxed" / f"{row['id']}.cif").write_text(cif)
        self.log.append("relax", [row for row, _ in results])

    def _unrelaxed(self) -> list[Candidate]:
        """Filtered candidates with no relaxation row yet (work an interrupted run left)."""
        passed = self.log.rows("filter")
        passed = passed[passed.passed.astype(str) == "True"]
        done = self.log.done_ids("relax")
        todo = []
        for cid in passed.id:
            if cid not in done:
                cif = (self.config.out / "generated" / f"{cid}.cif").read_text()
                todo.append(Candidate(cid, int(cid[1:5]), cif))
        return todo

    # --- executors ----------------------------------------------------------------------------
    def run(self) -> pd.DataFrame:
        (self.config.out / "generated").mkdir(parents=True, exist_ok=True)
        (self.config.out / "relaxed").mkdir(parents=True, exist_ok=True)
        (self.config.out / "screen.json").write_text(json.dumps(config_dict(self.config), indent=2))
        if self.config.ray_address:
            from backend.screening.distributed import run_on_ray

            run_on_ray(self)
        else:
            self._run_local()
        return self.write_results()

    def _run_local(self) -> None:
        work: queue.Queue[list[Candidate] | None] = queue.Queue()
        errors: list[BaseException] = []

        def relax_worker() -> None:
            try:
                while (items := work.get()) is not None:
                    for start in range(0, len(items), self.config.relax_batch):
                        began = time.perf_counter()
                        self._record_relaxation(
                            relax_batch(self.config, items[start : start + self.config.relax_batch])
                        )
                        self.timings["relax"] += time.perf_counter() - began
            except BaseException as exc:  # surfaced after the join, never swallowed
                errors.append(exc)

        worker = threading.Thread(target=relax_worker, name="screen-relax", daemon=True)
        worker.start()
        work.put(self._unrelaxed())
        for batch in self._pending_batches():
            began = time.perf_counter()
            rows, candidates = generate_batch(self.config, batch)
            self.timings["generate"] += time.perf_counter() - began
            work.put(self._record_generation(rows, candidates))
        work.put(None)
        worker.join()
        if errors:
            raise errors[0]

    # --- results ------------------------------------------------------------------------------
    def funnel(self) -> pd.DataFrame:
        """Stage, input, rejected %, survivors, cumulative survival (the seed's funnel table)."""
        n = self.config.n
        generated = self.log.rows("generate")
        filtered = self.log.rows("filter")
        ok_generated = int((generated.status == "ok").sum())
        ok_filtered = int((filtered.passed.astype(str) == "True").sum())
        ok_relaxed, e_hull = self._relaxed_ok()
        shortlisted = int((e_hull <= self.config.max_e_hull).sum())
        stages = [
            ("generate", n, ok_generated),
            ("sanity filter", ok_generated, ok_filtered),
            ("relax (CHGNet)", ok_filtered, len(ok_relaxed)),
            (f"E_hull <= {self.config.max_e_hull} eV/atom", len(ok_relaxed), shortlisted),
        ]
        table = pd.DataFrame(
            [
                {
                    "stage": stage,
                    "input": inp,
                    "rejected %": round(100 * (1 - out / inp), 1) if inp else 0.0,
                    "survivors": out,
                    "cumulative %": round(100 * out / n, 1) if n else 0.0,
                }
                for stage, inp, out in stages
            ]
        )
        return table

    def _relaxed_ok(self) -> tuple[pd.DataFrame, pd.Series]:
        relaxed = self.log.rows("relax")
        ok = relaxed[relaxed.error == ""]
        return ok, pd.to_numeric(ok.e_above_hull, errors="coerce")

    def shortlist(self) -> pd.DataFrame:
        ok, e_hull = self._relaxed_ok()
        return ok[e_hull <= self.config.max_e_hull].sort_values("e_above_hull")

    def write_results(self) -> pd.DataFrame:
        """funnel.csv, shortlist.csv and metrics.csv beside the stage files; returns the funnel."""
        table = self.funnel()
        table.to_csv(self.config.out / "funnel.csv", index=False)
        self.shortlist().to_csv(self.config.out / "shortlist.csv", index=False)
        self.rates().frame().to_csv(self.config.out / "metrics.csv", index=False)
        return table

    def rates(self) -> BatchRates:
        """V/S/U/N over all ``n`` candidates asked for; only relaxed ones can be valid or stable."""
        from backend.metrics import batch_rates

        ok_relaxed, e_hull = self._relaxed_ok()
        relaxed = {
            cid: Structure.from_file(self.config.out / "relaxed" / f"{cid}.cif")
            for cid in ok_relaxed.id
            if (self.config.out / "relaxed" / f"{cid}.cif").is_file()
        }
        energies = dict(zip(ok_relaxed.id, e_hull))
        structures = list(relaxed.values()) + [None] * (self.config.n - len(relaxed))
        values = [energies[cid] for cid in relaxed] + [math.nan] * (self.config.n - len(relaxed))
        return batch_rates(structures, values)[1]


def config_dict(config: ScreenConfig) -> dict:
    values = asdict(config)
    values["out"] = str(config.out)
    return values


__all__ = ["Candidate", "Screen", "ScreenConfig", "StageLog", "config_dict"]
