"""Writing a generation's results to a folder: one CIF per crystal, summary.csv, trajectory.extxyz."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from backend.frames import Frame
from backend.metrics.sanity import sanity
from backend.results.folder import TRAJECTORY, ResultFolder, crystal_file
from backend.sampling.generate import GenerationResult
from backend.sampling.hooks.trajectory import write_extxyz
from backend.structures import describe


def write_generation(result: GenerationResult, out: Path, frames: list[Frame] | None = None) -> Path:
    """Write structures, ``summary.csv`` (formula, atoms, spglib group at 0.1 Å, volume/atom, the covalent-radius
    sanity verdict, and the required cell composition where one was given or proposed) and frames."""
    rows, folder = [], ResultFolder(out)
    for index, (structure, failure) in enumerate(zip(result.structures, result.failures)):
        required = {"required_composition": result.compositions[index]} if result.compositions else {}
        if structure is None:
            rows.append({"index": index, "status": "failed", "error": failure, **required})
            continue
        summary = describe(structure)
        path = folder.write_structure(structure, crystal_file(index, summary.reduced_formula))
        verdict = sanity(structure).text
        rows.append(
            {"index": index, "status": "ok", "error": "", "file": path.name, **asdict(summary), "sanity": verdict}
            | required
        )
    summary_path = folder.write_summary(rows)
    if frames:
        write_extxyz(frames, out / TRAJECTORY)
    return summary_path
