"""What a job kind sees of the server: at submission (:class:`Server`) and while it runs (:class:`JobContext`).

A spec validates itself against the server (which models it offers, its device, its store) and runs itself with
a context that records progress, frames and cancel requests in the store. The runner only queues and dispatches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from backend.jobs.store import Job, JobStore
from backend.sampling.hooks.protocol import StepCallback, StepControl, StepState
from backend.sampling.hooks.trajectory import frames_from_state

if TYPE_CHECKING:
    from backend.sampling.model_info import ModelInfo
    from backend.sampling.models import LoadedModel


class JobRefused(Exception):
    """A submission the queue turns down (quota reached, same job already waiting); the message is for the user."""


@dataclass(frozen=True)
class Server:
    """The serving process's settings: its store, device, the model folders it offers and where screens run.

    ``ray_address`` ('local' or a cluster's address) runs screens' stages as Ray tasks; ``ray_cpus`` sizes a local
    Ray instance. Without them screens run in the worker's threads.
    """

    store: JobStore
    device: str | None = None
    models_root: Path | None = None
    ray_address: str | None = None
    ray_cpus: int | None = None

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

    def load(self, model: str) -> LoadedModel:
        """An offered model on the server's device, loaded once and kept for every later job."""
        from backend.sampling.models import load_model

        self.check_model(model)
        return load_model(model, device=self.device)

    def model_info(self, model: str) -> ModelInfo:
        return self.load(model).info


@dataclass(frozen=True)
class JobContext:
    """One running job: its folder, and how it reports progress and learns of a cancel request."""

    server: Server
    job: Job

    @property
    def store(self) -> JobStore:
        return self.server.store

    @property
    def folder(self) -> Path:
        return self.store.folder(self.job.id)

    def report(self, message: str, progress: float | None = None) -> None:
        """Show ``message`` (and ``progress``, 0-1) on the job's pages."""
        fields = {"message": message} | ({} if progress is None else {"progress": progress})
        self.store.update(self.job.id, **fields)

    def cancelled(self) -> bool:
        return self.store.cancel_requested(self.job.id)

    def step_recorder(self, total: int, steps_per_batch: int) -> StepCallback:
        """The hook every sampling job uses: store frames, progress and ETA; stop on a cancel request."""
        started = time.time()

        def on_step(state: StepState) -> StepControl | None:
            self.store.add_frames(self.job.id, frames_from_state(state))
            done = state.batch_index * steps_per_batch + state.step + 1
            eta = (time.time() - started) / done * (total - done)
            self.report(
                f"step {state.step + 1}/{state.n_steps} of batch {state.batch_index + 1}, t={state.t:.3f}, "
                f"noise {float(state.noise_level.mean()):.3f}, ETA {eta:.0f} s",
                min(done / total, 1.0),
            )
            return StepControl(stop=True) if self.cancelled() else None

        return on_step
