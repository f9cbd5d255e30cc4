"""An inpainting run's files: one CIF per candidate and summary.csv with its geometry against the host."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from backend.inpainting.guests import guest_host_clearance, host_mask
from backend.inpainting.request import InpaintResult


@dataclass(frozen=True)
class CandidateGeometry:
    """What is checked before relaxation: host fidelity and guest clearance."""

    max_host_deviation: float  # Å, kept atoms vs the host
    min_guest_host_distance: float  # Å
    space_group: str


def candidate_geometry(
    candidate: Structure, host: Structure, keep: Sequence[bool], symprec: float = 0.1
) -> CandidateGeometry:
    from backend.structures import describe

    keep = np.asarray(keep, dtype=bool)
    mask = host_mask(candidate)
    delta = candidate.frac_coords[np.array(mask)] - host.frac_coords[keep]
    delta -= np.round(delta)
    deviation = float(np.linalg.norm(host.lattice.get_cartesian_coords(delta), axis=1).max())
    clearance = guest_host_clearance(candidate, mask)
    summary = describe(candidate, symprec=symprec)
    return CandidateGeometry(deviation, clearance, summary.space_group)


def write_inpainting(result: InpaintResult, host: Structure, keep: Sequence[bool], out: Path) -> Path:
    """One CIF per candidate and ``summary.csv`` (space group, guest clearance, host deviation)."""
    from backend.results.folder import ResultFolder, crystal_file

    rows, folder = [], ResultFolder(out)
    for index, (structure, failure) in enumerate(zip(result.structures, result.failures)):
        if structure is None:
            rows.append({"index": index, "status": "failed", "error": failure})
            continue
        geometry = candidate_geometry(structure, host, keep)
        path = folder.write_structure(structure, crystal_file(index, structure.composition.reduced_formula))
        rows.append(
            {
                "index": index,
                "status": "ok",
                "error": "",
                "file": path.name,
                "formula": structure.composition.reduced_formula,
                "space_group": geometry.space_group,
                "min_guest_host_distance": geometry.min_guest_host_distance,
                "max_host_deviation": geometry.max_host_deviation,
            }
        )
    return folder.write_summary(rows)
