"""Jobs: persistence (SQLite + job folders) and the server-side worker that runs them."""

from backend.jobs.kinds import CspSpec, GenerateSpec, InpaintSpec, RelaxSpec, ScreenSpec, VerifySpec, spec_of
from backend.jobs.runner import JobRefused, JobRunner
from backend.jobs.store import DataDirError, Job, JobStore, latest_frames

__all__ = [
    "CspSpec",
    "DataDirError",
    "Job",
    "JobRunner",
    "JobStore",
    "JobRefused",
    "GenerateSpec",
    "InpaintSpec",
    "RelaxSpec",
    "ScreenSpec",
    "VerifySpec",
    "latest_frames",
    "spec_of",
]
