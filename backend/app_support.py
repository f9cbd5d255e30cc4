"""What the pages need from the backend, without Streamlit: the shared job services, job contents and
downloads, uploads, display formatting (one structure's facts: ``backend.structure_facts``). Pages hold layout
only and call these."""

from __future__ import annotations

import io
import os
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import pandas as pd
import plotly.graph_objects as go
from pymatgen.core import Structure

from backend.evaluation import read_summary, write_rates
from backend.jobs.kinds import spec_of
from backend.jobs.runner import JobRunner
from backend.jobs.store import JobStore
from backend.metrics import BatchRates, statistics_table
from backend.paths import ROOT
from backend.runtime import steady_import_path
from backend.sampling import ModelInfo, load_model
from backend.stability.figures import Candidate
from backend.structures import (
    StructureFileError,
    read_checked,
    read_for_viewing,
    read_structure,
    safe_name,
)
from backend.verify.run import VerifyReport
from backend.views import frames_figure

_services_lock = threading.Lock()
T = TypeVar("T")


_services: tuple[JobStore, JobRunner] | None = None


def services(warm_up: bool = False) -> tuple[JobStore, JobRunner]:
    """The server's one job store and worker (data in ``$CRYSTAL_CANVAS_DATA``, default ./data; screens on Ray with
    ``$CRYSTAL_CANVAS_RAY`` = 'local' or a cluster address, a local instance sized by ``$CRYSTAL_CANVAS_RAY_CPUS``).

    Checked and built under one lock: Streamlit runs each session's script in its own thread, and two first
    visitors at once must not get two workers running the same queue. ``warm_up``: the app's entry point asks the
    worker to load the model before the first job (see :meth:`JobRunner.start`).
    """
    global _services
    with _services_lock:
        if _services is None:
            steady_import_path(str(ROOT), str(ROOT / "pages"))
            store = JobStore(Path(os.environ.get("CRYSTAL_CANVAS_DATA", ROOT / "data")))
            ray_cpus = os.environ.get("CRYSTAL_CANVAS_RAY_CPUS")
            runner = JobRunner(
                store,
                models_root=models_folder(),
                ray_address=os.environ.get("CRYSTAL_CANVAS_RAY") or None,
                ray_cpus=int(ray_cpus) if ray_cpus else None,
            )
            _services = store, runner.start(warm_up=warm_up)
        return _services


def reset_services() -> None:
    """Forget the built services (tests point ``$CRYSTAL_CANVAS_DATA`` elsewhere between modules)."""
    global _services
    with _services_lock:
        _services = None


def models_folder() -> Path:
    """Where the operator puts extra checkpoint folders for the app (``$CRYSTAL_CANVAS_MODELS``, default ./models)."""
    return Path(os.environ.get("CRYSTAL_CANVAS_MODELS", ROOT / "models")).resolve()


def local_models() -> dict[str, str]:
    """Checkpoint folders (published layout) in the models folder, by name."""
    root = models_folder()
    if not root.is_dir():
        return {}
    return {
        p.name: str(p)
        for p in sorted(root.iterdir())
        if (p / "config.yaml").is_file() and (p / "checkpoints" / "last.ckpt").is_file()
    }


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


def model_info(spec: str) -> ModelInfo:
    return load_model(spec).info


def default_model_summary() -> dict[str, str]:
    """Name, size and conditions of the embedded default model, as display strings."""
    info = model_info("default")
    return {
        "model": f"{info.name} ({info.source})",
        "parameters": f"{info.parameters / 1e6:.2f} M",
        "conditions": ", ".join(info.conditions) or "none (unconditional)",
        "device": info.device,
        "trained diffusion steps": str(info.trained_steps),
    }


def job_structures(store: JobStore, job_id: str) -> dict[str, Structure]:
    """Structures a finished job wrote, by file stem; files pymatgen cannot read back are left out.

    A generated crystal with two atoms on top of each other is written fine but parsed as partial
    occupancy; such a candidate is not worth viewing or relaxing.
    """
    found = {}
    for path in sorted(store.folder(job_id).glob("*.cif")):
        try:
            found[path.stem] = read_structure(path)
        except StructureFileError:
            continue
    return found


def job_failures(store: JobStore, job_id: str) -> list[str]:
    """Why each failed crystal of a finished generation or inpainting job failed, from its summary.csv."""
    summary = read_summary(store.folder(job_id))
    if summary is None:
        return []
    failed = summary[summary.status != "ok"]
    return [f"#{index}: {error}" for index, error in zip(failed["index"], failed.error)]


def job_table(store: JobStore, job_id: str) -> pd.DataFrame | None:
    """A job's ranking.csv (structure prediction), results.csv (relaxation) or summary.csv (generation)."""
    folder = store.folder(job_id)
    for name in ("ranking.csv", "results.csv", "summary.csv"):
        if (folder / name).is_file():
            return pd.read_csv(folder / name, keep_default_na=False)
    return None


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
    when it finished (``metrics.csv``; computed here once for a job from before that file existed)."""
    folder = store.folder(job_id)
    results = pd.read_csv(folder / "results.csv", keep_default_na=False, dtype={"name": str})
    relaxed = results[results.error == ""].copy()
    for column in ("e_above_hull", "e_form_per_atom", "energy_per_atom"):
        relaxed[column] = pd.to_numeric(relaxed[column])
    files = job_structures(store, job_id)
    relaxed = relaxed[[f"{name}_relaxed" in files for name in relaxed.name]]
    structures = tuple(files[f"{name}_relaxed"] for name in relaxed.name)
    if (folder / "metrics.csv").is_file():
        rates = BatchRates.read(folder / "metrics.csv")
    else:
        source = spec_of(store.get(job_id)).source
        summary = read_summary(store.folder(source)) if source else None
        _, rates = write_rates(folder, dict(zip(relaxed.name, structures)), summary)
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
    from backend.sampling.trajectory import write_extxyz

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


def _uploaded(name: str, data: bytes, reader: Callable[[Path], T]) -> T:
    """Run ``reader`` on an uploaded file kept in a private temp folder (never executed or unpickled)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / safe_name(Path(name).name)
        path.write_bytes(data)
        return reader(path)


def read_upload(name: str, data: bytes, disorder_allowed: bool = False) -> Structure:
    """An upload through :func:`read_checked`, the gate before any job (a disordered host, when allowed)."""
    return _uploaded(name, data, lambda path: read_checked(path, disorder_allowed=disorder_allowed))


def read_upload_for_viewing(name: str, data: bytes) -> tuple[Structure, str | None]:
    """An upload through the viewer's side of the same gate: (structure, why no job would take it, or None)."""
    return _uploaded(name, data, read_for_viewing)


def bundled_hosts() -> dict[str, Structure]:
    """The Materials Project host structures shipped in assets/data/hosts, by file stem."""
    from backend.paths import ASSETS

    return {p.stem: read_structure(p) for p in sorted((ASSETS / "data" / "hosts").glob("*.cif"))}


def wyckoff_orbits(structure: Structure) -> dict[str, list[int]]:
    """Symmetry-equivalent site groups, labelled 'Li 4a' etc. (spglib at 0.1 Å)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        symmetrized = SpacegroupAnalyzer(structure, symprec=0.1).get_symmetrized_structure()
    except Exception:  # no symmetry found: every site is its own orbit
        return {f"{site.specie.symbol} site {i}": [i] for i, site in enumerate(structure)}
    return {
        f"{structure[indices[0]].specie.symbol} {wyckoff} (sites {', '.join(map(str, indices))})": list(indices)
        for indices, wyckoff in zip(symmetrized.equivalent_indices, symmetrized.wyckoff_symbols)
    }


# Column names with units, and decimals, for every table a page shows (the CSV files keep the plain names).
DISPLAY_COLUMNS = {
    "energy_per_atom": ("E (eV/atom)", 4),
    "e_form_per_atom": ("E_form (eV/atom)", 3),
    "e_above_hull": ("E_above_hull (eV/atom)", 3),
    "rmsd": ("RMSD from generated (Å)", 3),
    "volume_change": ("volume change (fraction)", 3),
    "min_guest_host_distance": ("closest guest-host (Å)", 2),
    "max_host_deviation": ("largest host deviation (Å)", 3),
    "volume_per_atom": ("volume (Å³/atom)", 2),
    "density": ("density (g/cm³)", 3),
    "n_atoms": ("atoms", 0),
    "steps": ("steps", 0),
    "rate": ("rate", 3),
    "shortest bond (Å)": ("shortest bond (Å)", 3),
    "lowest_frequency_thz": ("lowest frequency (THz)", 2),
    "bulk_modulus_gpa": ("bulk modulus (GPa)", 1),
    "magnetic_density": ("magnetic density (μB/Å³)", 4),
    "max_magmom": ("largest moment (μB)", 2),
}


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with units in the column names and sensible decimals (no 15-digit floats)."""
    shown = frame.copy()
    if "reduced_formula" in shown:  # one formula style everywhere: pymatgen's reduced formula
        shown = shown.drop(columns=["formula"], errors="ignore").rename(columns={"reduced_formula": "formula"})
    for column, (label, decimals) in DISPLAY_COLUMNS.items():
        if column in shown:
            shown[column] = pd.to_numeric(shown[column], errors="coerce").round(decimals)
            shown = shown.rename(columns={column: label})
    return shown
