"""Inpainting guests into a host framework (the CHGGen method) on the engine's per-step hook.

The host's kept atoms are pinned at every step to their own positions forward-noised to the noise level
the loop is about to denoise from, with their types fixed; the lattice is the host's. Guest atoms start
uniform in the cell (ordering a disordered host: at its partial sites, part-way down the chain) and follow
the model. RePaint resampling (Lugmayr et al. 2022; CHGGen used jump j=10, r=3) walks the schedule back
j steps r-1 times per block, re-noising the whole state, so guests harmonise with the host. The sampler
loop is the engine's; everything here is a callback on it.
"""

from backend.inpainting.disorder import (
    DisorderPlan,
    OccupiedSite,
    SupercellCounts,
    integral_supercells,
    occupancy_table,
    plan_order_disorder,
    smallest_supercells,
)
from backend.inpainting.framework import (
    SYMMETRY_LADDER,
    Framework,
    prepare_framework,
    remove_species,
    supersize,
    symmetrize_framework,
)
from backend.inpainting.output import CandidateGeometry, candidate_geometry, write_inpainting
from backend.inpainting.repaint import inpainting_schedule, repaint_schedule
from backend.inpainting.request import InpaintRequest, InpaintResult, InvalidHost, parse_guests, parse_indices
from backend.inpainting.run import check_inpainting, inpaint, plan_inpainting

__all__ = [
    "SYMMETRY_LADDER",
    "CandidateGeometry",
    "DisorderPlan",
    "Framework",
    "InpaintRequest",
    "InpaintResult",
    "InvalidHost",
    "OccupiedSite",
    "SupercellCounts",
    "candidate_geometry",
    "check_inpainting",
    "inpaint",
    "inpainting_schedule",
    "integral_supercells",
    "occupancy_table",
    "parse_guests",
    "parse_indices",
    "plan_inpainting",
    "plan_order_disorder",
    "prepare_framework",
    "remove_species",
    "repaint_schedule",
    "smallest_supercells",
    "supersize",
    "symmetrize_framework",
    "write_inpainting",
]
