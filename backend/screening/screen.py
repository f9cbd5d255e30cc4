"""Running a screen: relaxation starts as soon as the first generated batch passes the filter, while later batches
are still being generated (a consumer thread here; Ray tasks with ``ray_address``); funnel, shortlist and rates
are read back from the stage files."""

from __future__ import annotations

import json
import math
import queue
import threading
import time
from collections.abc import Callable

import pandas as pd
from pymatgen.core import Structure

from backend.metrics.rates import BatchRates
from backend.paths import write_whole
from backend.relax.relaxer import RelaxationStopped
from backend.results.folder import METRICS
from backend.sampling.hooks.protocol import StepControl
from backend.screening.config import ScreenConfig, config_dict
from backend.screening.stages import (
    STAGES,
    Candidate,
    StageLog,
    generate_batch,
    relax_batch,
    sanity_filter,
    verify_candidate,
)


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
    def pending_batches(self) -> list[int]:
        generated = self.log.rows("generate")
        counts = generated.groupby("batch").size().to_dict() if len(generated) else {}
        return [b for b, size in enumerate(self.config.batch_sizes()) if counts.get(b, 0) < size]

    def record_generation(self, rows: list[dict], candidates: list[Candidate]) -> list[Candidate]:
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

    def record_relaxation(self, results: list[tuple[dict, str | None]]) -> None:
        for row, cif in results:
            if cif is not None:
                (self.config.out / "relaxed" / f"{row['id']}.cif").write_text(cif)
        self.log.append("relax", [row for row, _ in results])

    def unrelaxed(self) -> list[Candidate]:
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
    def run(self, num_cpus: int | None = None, stop: Callable[[], bool] | None = None) -> pd.DataFrame | None:
        """Run what the stage files do not hold yet and write the results; returns the funnel, or None when ``stop``
        ended the run early (asked between sampler steps and relaxation steps: what was written stays, and the next
        run continues from there)."""
        self.write_config()
        should_stop = stop or (lambda: False)
        try:
            if self.config.ray_address:
                from backend.screening.distributed import run_on_ray

                run_on_ray(self, num_cpus=num_cpus, stop=should_stop)  # num_cpus: a local Ray's size
                self.verify_pending(should_stop)
                complete = self.complete
            else:
                complete = self._run_local(should_stop)
        finally:
            self._save_timings()
        return self.write_results() if complete else None

    def write_config(self) -> None:
        """Create the folder with its ``screen.json``: from then on the screen is listed (a queued one included)."""
        (self.config.out / "generated").mkdir(parents=True, exist_ok=True)
        (self.config.out / "relaxed").mkdir(parents=True, exist_ok=True)
        write_whole(self.config.out / "screen.json", json.dumps(config_dict(self.config), indent=2))

    def _run_local(self, stop: Callable[[], bool]) -> bool:
        work: queue.Queue[list[Candidate] | None] = queue.Queue()
        errors: list[BaseException] = []

        def relax_worker() -> None:
            try:
                while (items := work.get()) is not None:
                    for start in range(0, len(items), self.config.relax_batch):
                        began = time.perf_counter()
                        group = items[start : start + self.config.relax_batch]
                        self.record_relaxation(relax_batch(self.config, group, stop=stop))
                        self.timings["relax"] += time.perf_counter() - began
            except RelaxationStopped:
                return
            except BaseException as exc:  # surfaced after the join, never swallowed
                errors.append(exc)

        def on_step(_: object) -> StepControl | None:
            return StepControl(stop=True) if stop() else None

        worker = threading.Thread(target=relax_worker, name="screen-relax", daemon=True)
        worker.start()
        work.put(self.unrelaxed())
        for batch in self.pending_batches():
            if stop():
                break
            began = time.perf_counter()
            generated = generate_batch(self.config, batch, callback=on_step)
            self.timings["generate"] += time.perf_counter() - began
            if generated is None:
                break
            work.put(self.record_generation(*generated))
        work.put(None)
        worker.join()
        if errors:
            raise errors[0]
        self.verify_pending(stop)
        return self.complete

    @property
    def complete(self) -> bool:
        """Nothing left to generate, relax or verify."""
        return not self.pending_batches() and not self.unrelaxed() and not self.unverified()

    def _save_timings(self) -> None:
        """Add this run's seconds per stage to ``timings.json`` (all runs of the folder): the time estimate of the
        next screen on this machine is read from them."""
        path = self.config.out / "timings.json"
        total = json.loads(path.read_text()) if path.is_file() else {}
        for stage, seconds in self.timings.items():
            total[stage] = total.get(stage, 0.0) + seconds
        write_whole(path, json.dumps(total, indent=2))
        self.timings = {stage: 0.0 for stage in STAGES}

    # --- results ------------------------------------------------------------------------------
    def funnel(self) -> pd.DataFrame:
        """Stage, input, rejected %, survivors, cumulative survival (the seed's funnel table)."""
        n = self.config.n
        generated = self.log.rows("generate")
        filtered = self.log.rows("filter")
        ok_generated = int((generated.status == "ok").sum())
        ok_filtered = int((filtered.passed.astype(str) == "True").sum())
        ok_relaxed, _ = self.relaxed_ok()
        stages = [
            ("generate", n, ok_generated),
            ("sanity filter", ok_generated, ok_filtered),
            ("relax (CHGNet)", ok_filtered, len(ok_relaxed)),
        ]
        before = len(ok_relaxed)
        for stage, survivors in self._after_relaxation():
            stages.append((stage, before, len(survivors)))
            before = len(survivors)
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

    def relaxed_ok(self) -> tuple[pd.DataFrame, pd.Series]:
        relaxed = self.log.rows("relax")
        ok = relaxed[relaxed.error == ""]
        return ok, pd.to_numeric(ok.e_above_hull, errors="coerce")

    def under_threshold(self) -> pd.DataFrame:
        """Relaxed candidates with E_above_hull at most ``max_e_hull``, most stable first."""
        ok, e_hull = self.relaxed_ok()
        return ok.assign(e_above_hull=e_hull)[e_hull <= self.config.max_e_hull].sort_values("e_above_hull")

    def unverified(self) -> list[str]:
        """Candidates under the threshold that the configured verification stages have not checked yet."""
        if not self.config.verifies:
            return []
        done = self.log.done_ids("verify")
        return [cid for cid in self.under_threshold().id if cid not in done]

    def _after_relaxation(self) -> list[tuple[str, pd.DataFrame]]:
        """Each stage after relaxation with its survivors, most stable first: the E_hull threshold, the
        verification stages the config has, the shortlist size. The funnel counts them; the last is the shortlist."""
        survivors = self.under_threshold()
        stages = [(f"E_hull <= {self.config.max_e_hull} eV/atom", survivors)]
        checks = self.log.rows("verify").set_index("id")
        minimum = self.config.bulk_modulus_min
        if self.config.phonons:
            survivors = survivors[[_stable(checks, cid) for cid in survivors.id]]
            stages.append(("dynamically stable (phonons)", survivors))
        if minimum is not None:
            survivors = survivors[[_stiff(checks, cid, minimum) for cid in survivors.id]]
            stages.append((f"bulk modulus >= {minimum:g} GPa", survivors))
        if self.config.shortlist_size is not None:
            stages.append(
                (f"shortlist (best {self.config.shortlist_size})", survivors.head(self.config.shortlist_size))
            )
        return stages

    def shortlist(self) -> pd.DataFrame:
        """Candidates under the threshold that pass the verification stages, most stable first; the best
        ``shortlist_size`` when one is set."""
        return self._after_relaxation()[-1][1]

    def verify_pending(self, stop: Callable[[], bool]) -> None:
        """Stage 4, after relaxation: phonons and/or properties of each candidate under the threshold, one at a
        time (the few that get here; a candidate takes seconds to a minute on a CPU)."""
        for cid in self.unverified():
            if stop():
                return
            began = time.perf_counter()
            rows = verify_candidate(self.config, cid, (self.config.out / "relaxed" / f"{cid}.cif").read_text(), stop)
            if rows is None:
                return
            self.log.append("verify", rows)
            self.timings["verify"] += time.perf_counter() - began

    def write_results(self) -> pd.DataFrame:
        """funnel.csv, shortlist.csv and metrics.csv beside the stage files; returns the funnel."""
        table = self.funnel()
        table.to_csv(self.config.out / "funnel.csv", index=False)
        self.shortlist().to_csv(self.config.out / "shortlist.csv", index=False)
        self.rates().frame().to_csv(self.config.out / METRICS, index=False)
        return table

    def rates(self) -> BatchRates:
        """V/S/U/N over all ``n`` candidates asked for; only relaxed ones can be valid or stable."""
        from backend.metrics.rates import batch_rates

        ok_relaxed, e_hull = self.relaxed_ok()
        relaxed = {
            cid: Structure.from_file(self.config.out / "relaxed" / f"{cid}.cif")
            for cid in ok_relaxed.id
            if (self.config.out / "relaxed" / f"{cid}.cif").is_file()
        }
        energies = dict(zip(ok_relaxed.id, e_hull))
        structures = list(relaxed.values()) + [None] * (self.config.n - len(relaxed))
        values = [energies[cid] for cid in relaxed] + [math.nan] * (self.config.n - len(relaxed))
        return batch_rates(structures, values)[1]


def _stable(checks: pd.DataFrame, cid: str) -> bool:
    return cid in checks.index and checks.at[cid, "error"] == "" and str(checks.at[cid, "dynamically_stable"]) == "True"


def _stiff(checks: pd.DataFrame, cid: str, minimum: float) -> bool:
    if cid not in checks.index or checks.at[cid, "error"] != "":
        return False
    modulus = pd.to_numeric(checks.at[cid, "bulk_modulus_gpa"], errors="coerce")
    return bool(modulus >= minimum)
