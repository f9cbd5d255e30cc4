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
from dataclasses import replace
from pathlib import Path

import numpy as np

from backend.inpainting.framework import Framework
from backend.inpainting.plan import plan_inpainting
from backend.inpainting.request import InpaintRequest
from backend.jobs.kinds import CspSpec, GenerateSpec, InpaintSpec, JobSpec, RelaxSpec, ScreenSpec, VerifySpec, spec_of
from backend.jobs.store import Job, JobStore
from backend.sampling.hooks.protocol import StepCallback, StepControl, StepState
from backend.sampling.hooks.trajectory import frames_from_state
from backend.sampling.request import GenerationRequest
from backend.screening.config import ScreenConfig

log = logging.getLogger(__name__)

MAX_ACTIVE_PER_OWNER = 3


class JobRefused(Exception):
    """A submission the queue turns down (quota reached, same job already waiting); the message is for the user."""


class JobRunner:
    """Owns one worker thread; :meth:`submit_*` validate, store and wake it."""

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
        self.store = store
        self.device = device
        self.models_root = models_root.resolve() if models_root else None
        self.ray_address = ray_address
        self.ray_cpus = ray_cpus
        self._wake = threading.Event()
        self._warm = False
        self.ready = threading.Event()  # set once the warm-up (if any) is over: the next job starts at once
        self._thread = threading.Thread(target=self._loop, name="crystal-canvas-worker", daemon=True)

    def start(self, warm_up: bool = False) -> JobRunner:
        """Start the worker thread (once; a second call does nothing) and return the runner. ``warm_up`` (the app's
        server) samples one tiny crystal before the first job; scripts and tests leave it off, so no thread is in
        the middle of torch when their interpreter exits."""
        self._warm = warm_up
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()
        return self

    # --- submission -------------------------------------------------------------------------
    def _admit(self, owner: str, spec: JobSpec) -> str:
        """Store the job unless the owner is at the quota or already has the identical job waiting.

        A double click or an impatient resubmit in a classroom would otherwise queue the same batch
        twice and cost everyone behind it the time of one more job.
        """
        kind, params = spec.kind, spec.to_params()
        stored = json.loads(json.dumps(params))  # as the store gives them back: tuples become lists
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

    def check_model(self, model: str) -> None:
        """Browsers may pick the default, a published name or a folder under ``models_root``, nothing else.

        A checkpoint can carry pickled code: the server loads only what its operator put in place.
        """
        from backend.sampling.model_info import PUBLISHED_MODELS

        if model in ("default", *PUBLISHED_MODELS):
            return
        if self.models_root is None or not Path(model).resolve().is_relative_to(self.models_root):
            where = f"folders in {self.models_root}" if self.models_root else "no local folders"
            raise JobRefused(f"model '{model}' is not offered by this server (it serves {where})")

    def submit_generation(self, owner: str, model: str, request: GenerationRequest) -> str:
        from backend.sampling.models import load_model

        self.check_model(model)
        request.validate(load_model(model, device=self.device).info)
        return self._admit(owner, GenerateSpec(model, request))

    def submit_relaxation(
        self,
        owner: str,
        source_job: str,
        fmax: float = 0.05,
        steps: int = 500,
        fix_host: bool = False,
        keep_symmetry: bool = False,
    ) -> str:
        """Relax a finished job's crystals; ``fix_host`` keeps an inpainting job's host atoms in place,
        ``keep_symmetry`` each crystal's space group."""
        return self._admit(owner, RelaxSpec(source_job, fmax, steps, fix_host, keep_symmetry))

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
        from backend.sampling.models import load_model
        from backend.sampling.request import GenerationRequest

        try:
            generate(load_model("default", device=self.device), GenerationRequest(n=1, atoms=None, steps=2))
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
            spec = spec_of(job)
            run = {
                "generate": self._generate,
                "inpaint": self._inpaint,
                "relax": self._relax,
                "csp": self._csp,
                "screen": self._screen,
                "verify": self._verify,
            }[spec.kind]
            outcome = run(job, spec)
            if outcome == "queued":  # gave the worker up to other users; claimed again after them
                self.store.update(job.id, status="queued")
                return
            progress = 1.0 if outcome == "done" else self.store.get(job.id).progress
            self.store.update(job.id, status=outcome, progress=progress, finished=time.time())
        except Exception as exc:  # one job's failure (bad input, OOM, NaN) must not stop the worker
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            self.store.update(job.id, status="failed", error=f"{type(exc).__name__}: {exc}", finished=time.time())

    def _step_recorder(self, job: Job, total: int, steps_per_batch: int) -> StepCallback:
        """The hook every sampling job uses: store frames, progress and ETA; stop on a cancel request."""
        started = time.time()

        def on_step(state: StepState) -> StepControl | None:
            self.store.add_frames(job.id, frames_from_state(state))
            done = state.batch_index * steps_per_batch + state.step + 1
            eta = (time.time() - started) / done * (total - done)
            self.store.update(
                job.id,
                progress=min(done / total, 1.0),
                message=f"step {state.step + 1}/{state.n_steps} of batch {state.batch_index + 1}, t={state.t:.3f}, "
                f"noise {float(state.noise_level.mean()):.3f}, ETA {eta:.0f} s",
            )
            return StepControl(stop=True) if self.store.cancel_requested(job.id) else None

        return on_step

    def _generate(self, job: Job, spec: GenerateSpec) -> str:
        from backend.sampling.generate import generate
        from backend.sampling.models import load_model
        from backend.sampling.output import write_generation

        model = load_model(spec.model, device=self.device)
        request = spec.request.resolved(model.info)  # the steps a job runs depend on where its compositions come from
        batches = -(-request.n // request.batch_size)
        steps = request.denoising_steps
        result = generate(model, request, callback=self._step_recorder(job, steps * batches, steps))
        if result.cancelled:
            self.store.update(job.id, message="cancelled")
            return "cancelled"
        write_generation(result, self.store.folder(job.id))
        ok = sum(s is not None for s in result.structures)
        self.store.update(job.id, message=f"{ok} of {request.n} crystals generated in {result.seconds:.0f} s")
        return "done"

    def submit_csp(self, owner: str, spec: CspSpec) -> str:
        """Check the composition as generation would (one line for the user), then queue the prediction."""
        from backend.sampling.models import load_model
        from backend.sampling.request import GenerationRequest, parse_composition

        self.check_model(spec.model)
        formula = parse_composition(spec.composition)
        GenerationRequest(n=spec.n, compositions=(formula,), steps=spec.steps, seed=spec.seed).validate(
            load_model(spec.model, device=self.device).info
        )
        if not 0 < spec.start_time <= 1:
            raise JobRefused(f"noise level must be in (0, 1] (got {spec.start_time})")
        return self._admit(owner, spec)

    def _csp(self, job: Job, spec: CspSpec) -> str:
        from backend.csp import plan_candidates, rank, ranking_line, write_ranking
        from backend.relax.potentials import chgnet
        from backend.sampling.models import load_model

        model = load_model(spec.model, device=self.device)
        potential = chgnet(self.device)
        recorder = self._step_recorder(job, 2 * spec.steps, spec.steps)
        plan = plan_candidates(
            model,
            spec.composition,
            spec.n,
            spec.prototypes,
            spec.start_time,
            spec.steps,
            spec.seed,
            recorder,
            potential,
        )
        if self.store.cancel_requested(job.id):
            return "cancelled"

        def on_progress(progress):  # noqa: ANN001, ANN202 - a relax ProgressCallback
            self.store.update(
                job.id,
                message=f"relaxing: step {progress.step}, {progress.finished}/{progress.total} candidates finished",
            )

        ranked = rank(plan.candidates, potential, spec.fmax, spec.relax_steps, progress=on_progress)
        frame = write_ranking(ranked, self.store.folder(job.id))
        self.store.update(job.id, message=f"{plan.note}; {ranking_line(frame, len(plan.candidates))}")
        return "done"

    def submit_screen(self, owner: str, config: ScreenConfig) -> str:
        """Validate a screen as the CLI does, then queue it. Its folder may hold only the same screen (a resume, or
        a rerun with other thresholds), and only one job at a time may write to it. The server decides where the
        stages run (its Ray address or this worker) and on which device."""
        from backend.sampling.models import load_model
        from backend.screening.screen import Screen

        self.check_model(config.model)
        config = replace(config, device=self.device, ray_address=self.ray_address)
        config.validate(load_model(config.model, device=self.device).info)
        name = config.out.name
        if (config.out / "screen.json").is_file():
            differ = config.differs_beyond_thresholds(ScreenConfig.read(config.out))
            if differ:
                raise JobRefused(
                    f"screen '{name}' already exists with other {', '.join(differ)}: pick another name, or open it "
                    "and resume it as it was"
                )
        for other in self.store.jobs(kind="screen"):
            if other.active and Path(other.params["out"]) == config.out:
                raise JobRefused(
                    f"screen '{name}' is already {other.status} (job {other.id}); wait for it or cancel it"
                )
        job_id = self._admit(owner, ScreenSpec(config))
        Screen(config).write_config()  # listed on the page while it waits in the queue
        return job_id

    def _screen(self, job: Job, spec: ScreenSpec) -> str:
        """Run the screen until done, cancelled, or -- once it has made progress -- another user's job waits: then it
        goes back to the queue and resumes from its stage files when claimed again."""
        from backend.screening.estimate import machine_rates, progress_of
        from backend.screening.screen import Screen

        screen = Screen(spec.config)
        before = (len(screen.log.rows("generate")), len(screen.log.rows("relax")))
        fallback = machine_rates(self.store.root)
        reported = [0.0]
        yielded = [False]

        def stop() -> bool:
            if yielded[0] or self.store.cancel_requested(job.id):
                return True
            if time.time() - reported[0] < 1.0:
                return False
            reported[0] = time.time()
            progress = progress_of(screen, before, fallback)
            self.store.update(job.id, progress=progress.fraction, message=progress.message())
            moved = (progress.generated, progress.relaxed) != before
            yielded[0] = moved and self.store.others_waiting(job.owner)
            return yielded[0]

        funnel = screen.run(num_cpus=self.ray_cpus, stop=stop)
        if funnel is None:
            if self.store.cancel_requested(job.id):
                self.store.update(job.id, message="cancelled: what was generated and relaxed is kept; Resume continues")
                return "cancelled"
            if yielded[0]:
                self.store.update(job.id, message="paused for other users' jobs; continues after them")
                return "queued"
        shortlisted = int(funnel.survivors.iloc[-1]) if funnel is not None else 0
        self.store.update(job.id, message=f"{spec.config.n} candidates screened; {shortlisted} on the shortlist")
        return "done"

    def submit_verification(self, owner: str, spec: VerifySpec) -> str:
        """Verify candidates of a finished relaxation job; at least one check and one candidate."""
        source = self.store.get(spec.source)
        if source is None or source.kind != "relax" or source.status != "done":
            raise JobRefused("verification needs a finished relaxation job")
        if not spec.names:
            raise JobRefused("choose at least one relaxed candidate to verify")
        if not spec.phonons and not spec.properties:
            raise JobRefused("choose phonons, properties or both")
        return self._admit(owner, spec)

    def _verify(self, job: Job, spec: VerifySpec) -> str:
        from backend.relax.potentials import chgnet
        from backend.results.folder import ResultFolder
        from backend.structures import StructureFileError
        from backend.verify.run import VerifyReport, verify, write_reports

        folder = ResultFolder(self.store.folder(spec.source))
        names, structures, unreadable = [], [], []
        for name in spec.names:
            try:
                structures.append(folder.relaxed(name))
                names.append(name)
            except StructureFileError:
                unreadable.append(VerifyReport(name, "", None, None, "its relaxation failed: nothing to verify"))

        def on_progress(done: int, total: int, name: str) -> None:
            self.store.update(job.id, progress=done / total, message=f"verified {done}/{total} ({name})")

        def stop() -> bool:
            return self.store.cancel_requested(job.id)

        try:
            reports = verify(names, structures, chgnet(self.device), spec.phonons, spec.properties, on_progress, stop)
        except InterruptedError:
            return "cancelled"
        if stop():
            return "cancelled"
        reports = unreadable + reports
        write_reports(reports, self.store.folder(job.id))
        ok = sum(r.error is None for r in reports)
        self.store.update(job.id, message=f"{ok} of {len(reports)} candidates verified")
        return "done"

    def submit_inpainting(self, owner: str, model: str, framework: Framework, request: InpaintRequest) -> str:
        from backend.sampling.models import load_model

        self.check_model(model)
        info = load_model(model, device=self.device).info
        plan_inpainting(info, framework.structure, np.array(framework.keep), request)
        spec = InpaintSpec(model, framework.structure, tuple(bool(k) for k in framework.keep), framework.note, request)
        return self._admit(owner, spec)

    def _inpaint(self, job: Job, spec: InpaintSpec) -> str:
        from backend.inpainting.output import write_inpainting
        from backend.inpainting.repaint import inpainting_schedule
        from backend.inpainting.run import inpaint
        from backend.sampling.models import load_model

        host, keep, request = spec.host, list(spec.keep), spec.request
        model = load_model(spec.model, device=self.device)
        total = len(inpainting_schedule(request))
        result = inpaint(model, host, keep, request, callback=self._step_recorder(job, total, total))
        if result.cancelled:
            return "cancelled"
        write_inpainting(result, host, keep, self.store.folder(job.id))
        ok = sum(s is not None for s in result.structures)
        self.store.update(job.id, message=f"{ok} of {request.n} candidates inpainted in {result.seconds:.0f} s")
        return "done"

    def _relax(self, job: Job, spec: RelaxSpec) -> str:
        from backend.evaluation import relax_and_assess
        from backend.relax.potentials import chgnet
        from backend.results.folder import ResultFolder
        from backend.structures import StructureFileError, read_structure

        source_job = self.store.get(spec.source)
        files = sorted(self.store.folder(spec.source).glob("*.cif"))
        if source_job is None or not files:
            raise ValueError("the source job has no structures to relax")
        names, structures, unreadable = [], [], []
        for path in files:
            try:
                structures.append(read_structure(path))
                names.append(path.stem)
            except StructureFileError as exc:
                unreadable.append(str(exc))

        def on_progress(progress):  # noqa: ANN001, ANN202 - a relax ProgressCallback
            self.store.update(
                job.id,
                progress=progress.finished / progress.total,
                message=f"step {progress.step}: {progress.finished}/{progress.total} structures finished",
            )

        reports = relax_and_assess(
            names,
            structures,
            chgnet(self.device),
            fmax=spec.fmax,
            steps=spec.steps,
            progress=on_progress,
            inpainted=source_job.kind == "inpaint",
            fix_host=spec.fix_host,
            keep_symmetry=spec.keep_symmetry,
        )
        folder = ResultFolder(self.store.folder(job.id))
        folder.write_results(reports)
        relaxed = {r.name: r.relaxed for r in reports if r.relaxed is not None}
        folder.write_rates(relaxed, ResultFolder(self.store.folder(spec.source)).summary())  # once, for every reader
        skipped = f"; {len(unreadable)} unreadable files skipped" if unreadable else ""
        self.store.update(job.id, message=f"{sum(r.error is None for r in reports)} of {len(reports)} relaxed{skipped}")
        return "done"
