"""A job as the pages show it, read from its folder once and cached (a finished job's folder no longer changes):
its structures, failures and table, a relaxation with its stored rates, verification reports, the live figure, the
whole-job zip built in memory."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd
import plotly.graph_objects as go
from pymatgen.core import Structure

from backend.app.figures import frames_figure
from backend.jobs.specs import spec_of
from backend.jobs.store import JobStore
from backend.metrics.rates import BatchRates
from backend.metrics.statistics import statistics_table
from backend.results.folder import ResultFolder
from backend.stability.figures import Candidate
from backend.verify.run import VerifyReport


def live_figure(store: JobStore, job_id: str, host_atoms: int = 0) -> go.Figure | None:
    """The live view of a job's latest frames, or None before the first one.

    Built once per new frame and shared: thirty browsers watching one job poll every second, and
    rebuilding the figure for each of them would cost more than the sampling they watch.
    """
    return _live_figure(store, job_id, store.frame_count(job_id), host_atoms)


@lru_cache(maxsize=32)
def _live_figure(store: JobStore, job_id: str, frame_count: int, host_atoms: int) -> go.Figure | None:
    frames = store.latest_frames(job_id)
    return frames_figure(frames, host_atoms=host_atoms) if frames else None


def job_structures(store: JobStore, job_id: str) -> dict[str, Structure]:
    """Structures a finished job wrote, by file stem (unreadable files left out: :meth:`ResultFolder.structures`)."""
    return ResultFolder(store.folder(job_id)).structures()


def job_failures(store: JobStore, job_id: str) -> list[str]:
    """Why each failed crystal of a finished generation or inpainting job failed, from its summary."""
    summary = ResultFolder(store.folder(job_id)).summary()
    if summary is None:
        return []
    failed = summary[summary.status != "ok"]
    return [f"#{index}: {error}" for index, error in zip(failed["index"], failed.error)]


def job_table(store: JobStore, job_id: str) -> pd.DataFrame | None:
    """A job's ranking (structure prediction), results (relaxation) or summary (generation)."""
    return ResultFolder(store.folder(job_id)).table()


@dataclass(frozen=True)
class Relaxation:
    """A finished relaxation job as Relax & hull shows it."""

    results: pd.DataFrame  # every row of results.csv
    relaxed: pd.DataFrame  # the rows that relaxed, e_above_hull numeric
    structures: tuple[Structure, ...]  # the relaxed structures, in ``relaxed``'s order
    rates: BatchRates  # over every crystal the source job was asked for
    statistics: pd.DataFrame  # composition statistics beside the training data's

    def hull_systems(self, max_elements: int = 4) -> list[str]:
        """Chemical systems of the candidates that a hull figure can draw (up to quaternary)."""
        systems = {"-".join(sorted(s.composition.chemical_system.split("-"))) for s in self.structures}
        return sorted(s for s in systems if len(s.split("-")) <= max_elements)

    def candidates_in(self, system: str) -> list[Candidate]:
        """The candidates whose elements all lie in ``system``, for its hull figure."""
        elements = set(system.split("-"))
        return [
            Candidate(row.name, structure.composition, row.e_form_per_atom, row.e_above_hull)
            for structure, row in zip(self.structures, self.relaxed.itertuples())
            if set(structure.composition.chemical_system.split("-")) <= elements
        ]

    def shortlist(self, max_e_hull: float) -> pd.DataFrame:
        return self.relaxed[self.relaxed.e_above_hull <= max_e_hull]


@lru_cache(maxsize=16)
def relaxation(store: JobStore, job_id: str) -> Relaxation:
    """A finished relaxation job, read once per server: its folder no longer changes, and its rates were written
    when it finished (computed here once for a job from before they were stored)."""
    folder = ResultFolder(store.folder(job_id))
    results = folder.results()
    found = folder.relaxed_structures()
    relaxed = results[results.error == ""].copy()
    for column in ("e_above_hull", "e_form_per_atom", "energy_per_atom"):
        relaxed[column] = pd.to_numeric(relaxed[column])
    relaxed = relaxed[[name in found for name in relaxed.name]]
    structures = tuple(found[name] for name in relaxed.name)
    rates = folder.rates()
    if rates is None:
        source = spec_of(store.get(job_id)).source
        summary = ResultFolder(store.folder(source)).summary() if source else None
        _, rates = folder.write_rates(dict(zip(relaxed.name, structures)), summary)
    return Relaxation(results, relaxed, structures, rates, statistics_table(list(structures), label="relaxed"))


def verification_of(store: JobStore, job_id: str, name: str) -> VerifyReport | None:
    """The newest finished verification of structure ``name`` (``NAME_relaxed``) of relaxation job ``job_id``."""
    from backend.verify.run import read_reports

    candidate = name.removesuffix("_relaxed")
    for check in store.jobs(kind="verify"):
        if check.status == "done" and check.params["source"] == job_id and candidate in check.params["names"]:
            return read_reports(store.folder(check.id)).get(candidate)
    return None


def job_zip(store: JobStore, job_id: str, names: list[str] | None = None) -> bytes:
    """Every file of a finished job (or only the named structures) as a zip, with the trajectory as extxyz; built
    once per job and selection (the pages offer it on every rerun, and a finished job's folder no longer changes)."""
    return _job_zip(store, job_id, tuple(names) if names is not None else None)


@lru_cache(maxsize=8)
def _job_zip(store: JobStore, job_id: str, names: tuple[str, ...] | None) -> bytes:
    from backend.sampling.hooks.trajectory import write_extxyz

    folder = store.folder(job_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file() and (names is None or path.stem in names or path.suffix == ".csv"):
                archive.write(path, arcname=f"{job_id}/{path.name}")
        frames = store.all_frames(job_id) if names is None else []
        if frames:  # written in memory: a file in the job folder made two downloads at once collide
            trajectory = io.StringIO()
            write_extxyz(frames, trajectory)
            archive.writestr(f"{job_id}/trajectory.extxyz", trajectory.getvalue())
    return buffer.getvalue()


def ctk_link(job_id: str, name: str) -> str:
    """The Crystal Toolkit view of one job structure, by ids (the view reads it from the store)."""
    from urllib.parse import urlencode

    return "/ctk/?" + urlencode({"job": job_id, "structure": name})
