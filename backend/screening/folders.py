"""Screen folders as the app sees them: where they are, what a page shows of one, and its download.

Everything here reads the stage files a screen writes (and ``metrics.csv`` once it has finished); nothing is
recomputed, so the Screening page can follow a running screen every second without slowing it down.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pymatgen.core import Composition, Structure

from backend.paths import ROOT
from backend.results.folder import METRICS
from backend.screening.config import SCREEN_NAME, ScreenConfig
from backend.screening.screen import Screen
from backend.stability.figures import Candidate
from backend.structures import StructureFileError, read_structure


def screen_roots() -> tuple[Path, Path]:
    """Where the app looks for screens: ``screens/`` in its data folder (the page's own screens go there) and
    ``$CRYSTAL_CANVAS_SCREENS`` (./runs)."""
    data = Path(os.environ.get("CRYSTAL_CANVAS_DATA", ROOT / "data"))
    return (data / "screens").resolve(), Path(os.environ.get("CRYSTAL_CANVAS_SCREENS", ROOT / "runs")).resolve()


def screen_folders() -> dict[str, Path]:
    """Screens (folders with a screen.json) under :func:`screen_roots`, by a name relative to their root.

    Only folders found there are offered: the page never opens a path typed by a user.
    """
    found = {}
    for root in screen_roots():
        if root.is_dir():
            for marker in sorted(root.rglob("screen.json")):
                found[f"{root.name}/{marker.parent.relative_to(root)}"] = marker.parent
    return found


@dataclass(frozen=True)
class ScreenView:
    """A screen as the Screening page shows it, read from its stage files without writing anything."""

    config: ScreenConfig
    funnel: pd.DataFrame
    shortlist: pd.DataFrame
    metrics: pd.DataFrame | None  # metrics.csv, written when the screen finished
    structures: dict[str, Structure]  # relaxed shortlist candidates by id, for the viewer
    hull_candidates: tuple[Candidate, ...]  # every relaxed candidate, for the hull of the screen's system
    complete: bool  # nothing left to generate or relax

    @property
    def hull_system(self) -> str | None:
        """The screen's chemical system when its hull can be drawn (1-4 elements)."""
        chemsys = self.config.chemsys
        return chemsys if chemsys and len(chemsys.split("-")) <= 4 else None


def screen_view(folder: Path, **thresholds: object) -> ScreenView:
    """Read a screen; ``thresholds`` (e.g. ``max_e_hull``) re-apply a shortlist to what was relaxed, for display."""
    config = ScreenConfig.read(folder).with_thresholds(**thresholds)
    screen = Screen(config)
    shortlist = screen.shortlist()
    structures = {}
    for cid in shortlist.id:
        try:
            structures[cid] = read_structure(folder / "relaxed" / f"{cid}.cif")
        except StructureFileError:
            continue
    relaxed, e_hull = screen.relaxed_ok()
    e_form = pd.to_numeric(relaxed.e_form_per_atom, errors="coerce")
    candidates = tuple(
        Candidate(cid, Composition(formula), float(form), float(hull))
        for cid, formula, form, hull in zip(relaxed.id, relaxed.formula, e_form, e_hull)
        if pd.notna(form) and pd.notna(hull)
    )
    metrics_path = folder / METRICS
    return ScreenView(
        config,
        screen.funnel(),
        shortlist,
        pd.read_csv(metrics_path) if metrics_path.is_file() else None,
        structures,
        candidates,
        screen.complete,
    )


def screen_zip(folder: Path) -> bytes:
    """The screen's config, funnel, metrics, stage files and the shortlist's relaxed CIFs, as one zip."""
    shortlist = Screen(ScreenConfig.read(folder)).shortlist()
    wanted = [folder / name for name in ("screen.json", "funnel.csv", "shortlist.csv", METRICS, "timings.json")]
    wanted += sorted((folder / "stages").glob("*.csv"))
    wanted += [folder / "relaxed" / f"{cid}.cif" for cid in shortlist.id]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in wanted:
            if path.is_file():
                archive.write(path, arcname=f"{folder.name}/{path.relative_to(folder)}")
    return buffer.getvalue()


def new_screen_folder(name: str) -> Path:
    """The folder a screen started from the page writes to: ``screens/NAME`` in the app's data folder."""
    from backend.sampling.request import InvalidRequest

    if not SCREEN_NAME.match(name or ""):
        raise InvalidRequest(
            f"screen name '{name}' cannot be a folder name: use letters, digits, '-', '_' or '.' (at most 64)"
        )
    return screen_roots()[0] / name


def where_screens_run(ray_address: str | None, ray_cpus: int | None) -> str:
    """One line for the page: the server's executor for screens (set by its operator, not by the form)."""
    if not ray_address:
        return (
            "Screens run in this server's job worker (local threads: relaxation starts while later batches are still "
            "generated), taking turns with other users' jobs. The operator can run them on Ray instead: "
            "CRYSTAL_CANVAS_RAY=local (with CRYSTAL_CANVAS_RAY_CPUS) or a cluster address."
        )
    size = f" with {ray_cpus} CPUs" if ray_cpus else ""
    where = "a local Ray instance" if ray_address == "local" else f"the Ray cluster at {ray_address}"
    return f"Screens run their stages as Ray tasks on {where}{size}, taking turns with other users' jobs."
