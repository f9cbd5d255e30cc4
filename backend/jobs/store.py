"""Persistent jobs: SQLite for state and frames, a folder per job for structure files.

Everything a user may come back for -- parameters, status, every denoising frame, results, errors --
is written as it happens, so a closed tab, a reload, a second user or a server restart finds it. A job
that was running when the server died is marked failed on the next start, with its frames so far.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.frames import Frame

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    owner TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS frames (
    job_id TEXT NOT NULL,
    crystal INTEGER NOT NULL,
    step INTEGER NOT NULL,
    t REAL NOT NULL,
    noise REAL NOT NULL,
    failed INTEGER NOT NULL,
    lattice BLOB NOT NULL,
    frac BLOB NOT NULL,
    z BLOB NOT NULL,
    confidence BLOB NOT NULL,
    masked BLOB NOT NULL,
    PRIMARY KEY (job_id, crystal, step)
);
CREATE INDEX IF NOT EXISTS frames_by_step ON frames (job_id, step);
"""


class DataDirError(RuntimeError):
    """The data directory cannot be used (unwritable, full); the message is for the operator."""


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    owner: str
    params: dict
    status: str
    progress: float
    message: str
    error: str
    cancel_requested: bool
    created: float
    started: float | None
    finished: float | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def _frame_row(job_id: str, frame: Frame) -> tuple:
    return (
        job_id,
        frame.crystal,
        frame.step,
        frame.t,
        frame.noise,
        int(frame.failed),
        frame.lattice.astype(np.float32).tobytes(),
        frame.frac_coords.astype(np.float32).tobytes(),
        frame.likely_z.astype(np.int16).tobytes(),
        frame.confidence.astype(np.float16).tobytes(),
        frame.masked.astype(np.uint8).tobytes(),
    )


def _frame_from_row(row: sqlite3.Row) -> Frame:
    return Frame(
        crystal=row["crystal"],
        step=row["step"],
        t=row["t"],
        noise=row["noise"],
        lattice=np.frombuffer(row["lattice"], dtype=np.float32).reshape(3, 3),
        frac_coords=np.frombuffer(row["frac"], dtype=np.float32).reshape(-1, 3),
        likely_z=np.frombuffer(row["z"], dtype=np.int16).astype(int),
        confidence=np.frombuffer(row["confidence"], dtype=np.float16).astype(np.float32),
        masked=np.frombuffer(row["masked"], dtype=np.uint8).astype(bool),
        failed=bool(row["failed"]),
    )


class JobStore:
    """Thread-safe access to the jobs database and job folders under ``root``."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-test"
            probe.write_bytes(b"0" * 4096)
            probe.unlink()
        except OSError as exc:
            raise DataDirError(f"data directory {self.root} is not usable: {exc.strerror or exc}") from None
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "jobs.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._recover()

    def _recover(self) -> None:
        """Jobs left 'running' by a dead server failed; their frames stay."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET status='failed', error='the server stopped while this job was running', "
                "finished=? WHERE status='running'",
                (time.time(),),
            )

    def folder(self, job_id: str) -> Path:
        """The job's own folder; ids are generated hex, so no path can escape ``root``."""
        if not job_id.isalnum():
            raise KeyError(job_id)
        path = self.root / "jobs" / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def submit(self, kind: str, owner: str, params: dict) -> str:
        job_id = uuid.uuid4().hex[:12]
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, kind, owner, params, status, created) VALUES (?, ?, ?, ?, 'queued', ?)",
                (job_id, kind, owner, json.dumps(params), time.time()),
            )
        return job_id

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs(self, owner: str | None = None, kind: str | None = None, limit: int = 200) -> list[Job]:
        query, args = "SELECT * FROM jobs WHERE 1=1", []
        if owner is not None:
            query, args = query + " AND owner=?", [*args, owner]
        if kind is not None:
            query, args = query + " AND kind=?", [*args, kind]
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created DESC LIMIT ?", (*args, limit)).fetchall()
        return [_job(r) for r in rows]

    def claim_next(self) -> Job | None:
        """Take the next job and mark it running in one statement, so no two workers can run the same job.

        The next job is the oldest queued one of the owner who has waited longest (round-robin between users).
        """
        with self._lock:
            row = self._db.execute(
                """UPDATE jobs SET status='running', started=?, message='starting'
                   WHERE status='queued' AND id = (
                       SELECT id FROM jobs WHERE status='queued' ORDER BY
                       (SELECT MAX(COALESCE(j2.started, 0)) FROM jobs j2 WHERE j2.owner = jobs.owner), created
                       LIMIT 1)
                   RETURNING *""",
                (time.time(),),
            ).fetchone()
        return _job(row) if row else None

    def queued_count(self, owner: str) -> int:
        with self._lock:
            return self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE owner=? AND status IN ('queued', 'running')", (owner,)
            ).fetchone()[0]

    def others_waiting(self, owner: str) -> bool:
        """Whether another user has a job queued (a long screen then gives the worker up between two batches)."""
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM jobs WHERE owner<>? AND status='queued' LIMIT 1", (owner,)).fetchone()
                is not None
            )

    def update(self, job_id: str, **fields: object) -> None:
        if not fields:
            return
        columns = ", ".join(f"{name}=?" for name in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {columns} WHERE id=?", (*fields.values(), job_id))

    def request_cancel(self, job_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET cancel_requested=1, "
                "status=CASE WHEN status='queued' THEN 'cancelled' ELSE status END WHERE id=?",
                (job_id,),
            )

    def cancel_requested(self, job_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT cancel_requested FROM jobs WHERE id=?", (job_id,)).fetchone()
        return bool(row and row[0])

    def add_frames(self, job_id: str, frames: Iterable[Frame]) -> None:
        rows = [_frame_row(job_id, f) for f in frames]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO frames VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)

    def latest_step(self, job_id: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT MAX(step) FROM frames WHERE job_id=?", (job_id,)).fetchone()
        return row[0]

    def frames_at(self, job_id: str, step: int) -> list[Frame]:
        """The frame of every crystal at ``step`` (or the latest earlier one, for crystals of later batches)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM frames WHERE job_id=? AND step=? ORDER BY crystal", (job_id, step)
            ).fetchall()
        return [_frame_from_row(r) for r in rows]

    def frame_count(self, job_id: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM frames WHERE job_id=?", (job_id,)).fetchone()[0]

    def latest_frames(self, job_id: str) -> list[Frame]:
        """The most recent frame of every crystal of a job (what the live view draws)."""
        with self._lock:
            rows = self._db.execute(
                """SELECT f.* FROM frames f JOIN (SELECT crystal, MAX(step) AS step FROM frames WHERE job_id=?
                   GROUP BY crystal) m ON f.crystal = m.crystal AND f.step = m.step WHERE f.job_id=?
                   ORDER BY f.crystal""",
                (job_id, job_id),
            ).fetchall()
        return [_frame_from_row(r) for r in rows]

    def all_frames(self, job_id: str) -> list[Frame]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM frames WHERE job_id=? ORDER BY crystal, step", (job_id,)).fetchall()
        return [_frame_from_row(r) for r in rows]


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        owner=row["owner"],
        params=json.loads(row["params"]),
        status=row["status"],
        progress=row["progress"],
        message=row["message"],
        error=row["error"],
        cancel_requested=bool(row["cancel_requested"]),
        created=row["created"],
        started=row["started"],
        finished=row["finished"],
    )
