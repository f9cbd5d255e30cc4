"""Every job kind by its stored name: a stored job back as its typed spec."""

from __future__ import annotations

from backend.jobs.kinds.base import JobKind
from backend.jobs.kinds.csp import CspSpec
from backend.jobs.kinds.generate import GenerateSpec
from backend.jobs.kinds.inpaint import InpaintSpec
from backend.jobs.kinds.relax import RelaxSpec
from backend.jobs.kinds.screen import ScreenSpec
from backend.jobs.kinds.verify import VerifySpec
from backend.jobs.store import Job

SPECS: dict[str, type[JobKind]] = {
    spec.kind: spec for spec in (GenerateSpec, InpaintSpec, RelaxSpec, CspSpec, ScreenSpec, VerifySpec)
}


def spec_of(job: Job) -> JobKind:
    """The typed spec of a stored job."""
    return SPECS[job.kind].from_params(job.params)
