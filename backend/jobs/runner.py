"""The server-side worker: runs queued jobs one at a time, outside any page script.

A page only submits a job and reads the store; the work happens here, in a thread owned by the server
process, so clicking elsewhere or closing the tab never stops it. One sampler at a time keeps the CPU
(or GPU) for the job that is running; users' queued jobs are taken round-robin.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from pathlib import Path

from backend.jobs.context import JobContext, JobRefused, Server
from backend.jobs.kinds.base import JobKind
from backend.jobs.specs import spec_of
from backend.jobs.store import Job, JobStore

log = logging.getLogger(__name__)

MAX_ACTIVE_PER_OWNER = 3


class JobRunner:
    """Owns one worker thread; :meth:`submit` lets a spec validate itself, stores it and wakes the worker."""

    def __init__(
        self,
        store: JobStore,
        device: str | None = None,
        models_root: Path | None = None,
        ray_address: str | None = None,
        ray_cpus: int | None = None,
    ):
        """``ray_address`` ('local' or a cluster's address) runs screens' stages as Ray tasks; ``ray_cpus`` sizes
        a local Ray instance. Without them screens run in this worker's threads."""
        self.server = Server(store, device, models_root.resolve() if models_root else None, ray_address, ray_cpus)
        self._wake = threading.Event()
        self._warm = False
        self.ready = threading.Event()  # set once the warm-up (if any) is over: the next job starts at once
        self._thread = threading.Thread(target=self._loop, name="crystal-canvas-worker", daemon=True)

    @property
    def store(self) -> JobStore:
        return self.server.store

    def start(self, warm_up: bool = False) -> JobRunner:
        """Start the worker thread (once; a second call does nothing) and return the runner. ``warm_up`` (the app's
        server) samples one tiny crystal before the first job; scripts and tests leave it off, so no thread is in
        the middle of torch when their interpreter exits."""
        self._warm = warm_up
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()
        return self

    # --- submission -------------------------------------------------------------------------
    def submit(self, owner: str, spec: JobKind) -> str:
        """Queue ``spec`` once it has validated itself (a one-line error for the user otherwise); the job's id."""
        spec = spec.validate(self.server)
        job_id = self._admit(owner, spec)
        spec.queued(self.server)
        return job_id

    def _admit(self, owner: str, spec: JobKind) -> str:
        """Store the job unless the owner is at the quota or the identical job is already waiting or running.

        A double click or an impatient resubmit in a classroom would otherwise queue the same batch
        twice and cost everyone behind it the time of one more job.
        """
        kind, params = spec.kind, spec.to_params()
        stored = json.loads(json.dumps(params))  # as the store gives them back
        for job in self.store.jobs(owner=owner, kind=kind):
            if job.active and job.params == stored:
                raise JobRefused(f"the same {kind} job is already {job.status} (job {job.id}); open it instead")
        if self.store.queued_count(owner) >= MAX_ACTIVE_PER_OWNER:
            raise JobRefused(
                f"you already have {MAX_ACTIVE_PER_OWNER} jobs queued or running; wait for one to finish or cancel one"
            )
        job_id = self.store.submit(kind, owner, params)
        self._wake.set()
        return job_id

    def resubmit(self, owner: str, job_id: str) -> str:
        """Queue a finished, failed or cancelled job again with the same parameters (e.g. after a crash)."""
        job = self.store.get(job_id)
        if job is None:
            raise JobRefused(f"there is no job {job_id}")
        if job.active:
            raise JobRefused(f"job {job_id} is still {job.status}")
        for other in self.store.jobs(kind=job.kind):  # any owner: two tabs are two sessions, one job link
            if other.active and other.params == job.params and other.created > job.created:
                raise JobRefused(f"job {job_id} was already queued again as job {other.id} ({other.status}); open it")
        return self._admit(owner, spec_of(job))

    # --- worker -----------------------------------------------------------------------------
    def _warm_up(self) -> None:
        """Sample one tiny crystal before the first job: the default model, the composition proposer's tables and
        the element volumes load now, not after a classroom's first click (the first live frame came 5 s late)."""
        from backend.sampling.generate import generate
        from backend.sampling.request import GenerationRequest

        try:
            generate(self.server.load("default"), GenerationRequest(n=1, atoms=None, steps=2))
        except Exception:  # a broken default model is reported by the job that needs it, with its reason
            log.warning("warm-up failed:\n%s", traceback.format_exc())

    def _loop(self) -> None:
        if self._warm:
            self._warm_up()
        self.ready.set()
        while True:
            job = self.store.claim_next()
            if job is None:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        """Run a job :meth:`JobStore.claim_next` has already marked running."""
        try:
            outcome = spec_of(job).run(JobContext(self.server, job))
            if outcome == "queued":  # gave the worker up to other users; claimed again after them
                self.store.update(job.id, status="queued")
                return
            progress = 1.0 if outcome == "done" else self.store.get(job.id).progress
            self.store.update(job.id, status=outcome, progress=progress, finished=time.time())
        except Exception as exc:  # one job's failure (bad input, OOM, NaN) must not stop the worker
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            self.store.update(job.id, status="failed", error=f"{type(exc).__name__}: {exc}", finished=time.time())
