"""Running a screen: relaxation starts as soon as the first generated batch passes the filter, while later batches
are still being generated (a consumer thread here; Ray tasks with ``ray_address``); funnel, shortlist and rates
are read back from the stage files."""

from __future__ import annotations

import json
import math
import queue
import threading
import time

import pandas as pd
from pymatgen.core import Structure

from backend.metrics import BatchRates
from backend.screening.config import ScreenConfig, config_dict
from backend.screening.stages import STAGES, Candidate, StageLog, generate_batch, relax_batch, sanity_filter


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
    def run(self, num_cpus: int | None = None) -> pd.DataFrame:
        (self.config.out / "generated").mkdir(parents=True, exist_ok=True)
        (self.config.out / "relaxed").mkdir(parents=True, exist_ok=True)
        (self.config.out / "screen.json").write_text(json.dumps(config_dict(self.config), indent=2))
        if self.config.ray_address:
            from backend.screening.distributed import run_on_ray

            run_on_ray(self, num_cpus=num_cpus)  # num_cpus: a local Ray instance's size
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
