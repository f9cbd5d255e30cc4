"""Jobs: persistence (SQLite + job folders) and the server-side worker that runs them."""

from backend.jobs.runner import JobRefused, JobRunner, request_from_params, request_to_params
from backend.jobs.store import DataDirError, Job, JobStore, latest_frames

__all__ = [
    "DataDirError",
    "Job",
    "JobRunner",
    "JobStore",
    "JobRefused",
    "latest_frames",
    "request_from_params",
    "request_to_params",
]
