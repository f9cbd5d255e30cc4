"""What the viewer says about one structure: formula, symmetry, lattice, charge balance, chemical sanity, the
closest known phase, coordination, and the structure's downloadable files. Shared by the Structure viewer and the
Crystal Toolkit view's side panel."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from backend.limits import MAX_RELAX_ATOMS, SYMPREC
from backend.structures import describe, safe_name


@dataclass(frozen=True)
class StructureFacts:
    formula: str  # reduced formula, as every table writes it
    cell_content: str  # "Li4 Fe4 P4 O16 (28 atoms)"
    space_group: str
    lattice: str
    density: float
    volume_per_atom: float
    charge_balance: str  # SMACT (smact14) verdict with the oxidation states found
    known_phase: str  # MP's material at this composition, or that MP has none
    coordination: pd.DataFrame
    sanity: str  # the closest pair against the covalent-radius threshold


def structure_facts(structure: Structure) -> StructureFacts:
    """Formula, spglib group, lattice, density and a per-site coordination summary (CrystalNN)."""
    summary = describe(structure)
    a, b, c = structure.lattice.abc
    alpha, beta, gamma = structure.lattice.angles
    return StructureFacts(
        formula=summary.reduced_formula,
        cell_content=f"{structure.composition.formula} ({len(structure)} atoms)",
        space_group=summary.space_group,
        lattice=f"a={a:.3f} b={b:.3f} c={c:.3f} Å, α={alpha:.1f} β={beta:.1f} γ={gamma:.1f}°",
        density=summary.density,
        volume_per_atom=summary.volume_per_atom,
        charge_balance=_charge_balance_text(structure),
        known_phase=_known_phase_text(summary.reduced_formula),
        coordination=pd.DataFrame(_coordination(structure)),
        sanity=_sanity_text(structure),
    )


def _sanity_text(structure: Structure) -> str:
    from backend.limits import COVALENT_FRACTION
    from backend.metrics.sanity import sanity

    if not structure.is_ordered:
        return "not assessed for a structure with partial occupancy"
    return f"{sanity(structure).text} (too close below {COVALENT_FRACTION})"


def _charge_balance_text(structure: Structure) -> str:
    from backend.metrics.validity import charge_balance, unassessable_elements

    if not structure.is_ordered:
        return "not assessed for a structure with partial occupancy"
    unknown = unassessable_elements(structure.composition)
    if unknown:
        return f"not assessed: SMACT has no oxidation states for {', '.join(unknown)}"
    states = charge_balance(structure.composition)
    if states is None:
        return "not charge-balanced with SMACT's smact14 oxidation states"
    if not states:
        return "a single element or an all-metal alloy (valid by SMACT's rule)"
    return "charge-balanced (SMACT, smact14): " + " ".join(f"{e}{o:+d}" for e, o in states)


def _known_phase_text(reduced_formula: str) -> str:
    from backend.stability.reference import reference_table

    known = reference_table().known_phase(reduced_formula)
    if known is None:
        return f"no Materials Project entry has the composition {reduced_formula} (2024)"
    material_id, e_hull = known
    return (
        f"{material_id} ({reduced_formula}), E_above_hull {e_hull:.3f} eV/atom in MP: the Materials Project's lowest "
        "entry of this composition, not matched to this structure"
    )


def _coordination(structure: Structure) -> list[dict[str, object]]:
    from pymatgen.analysis.local_env import CrystalNN

    def note(text: str) -> list[dict[str, object]]:
        return [{"site": "-", "element": "-", "coordination": 0, "neighbours": text}]

    if not structure.is_ordered:
        return note("not computed for a structure with partial occupancy")
    if len(structure) > MAX_RELAX_ATOMS:
        return note(f"not computed for more than {MAX_RELAX_ATOMS} atoms")
    rows = []
    try:
        nn = CrystalNN()
        for index, site in enumerate(structure):
            neighbours = nn.get_nn_info(structure, index)
            rows.append(
                {
                    "site": index,
                    "element": site.specie.symbol,
                    "coordination": len(neighbours),
                    "neighbours": ", ".join(sorted(n["site"].specie.symbol for n in neighbours)),
                    "shortest bond (Å)": min((_bond_length(site, n["site"]) for n in neighbours), default=float("nan")),
                }
            )
    except Exception:  # CrystalNN gives up on unphysical cells (no neighbours, atoms on top of each other)
        return note("not available: CrystalNN finds no sensible neighbours in this cell")
    return rows


def _bond_length(site: object, neighbour: object) -> float:
    """Å between a site and a neighbour at the image CrystalNN found it in: a periodic site's own ``distance``
    takes the minimum image and reads 0 for a site bonded to its own image (fcc Cu, BeTe's Te)."""
    return float(np.linalg.norm(neighbour.coords - site.coords))


def structure_downloads(structure: Structure, name: str) -> dict[str, tuple[str, str]]:
    """File name and text of the structure as a symmetrised conventional CIF (spglib-refined at 0.1 Å, space group
    and Wyckoff orbits written), the P1 CIF as it is, POSCAR and extended XYZ."""
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.cif import CifWriter
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from backend.limits import SYMPREC

    stem = safe_name(name)
    if not structure.is_ordered:  # POSCAR and extxyz hold one species per site; CIF keeps the occupancies
        return {"CIF": (f"{stem}.cif", structure.to(fmt="cif"))}
    xyz = io.StringIO()
    write(xyz, AseAtomsAdaptor.get_atoms(structure), format="extxyz")
    files = {
        "CIF (P1, as is)": (f"{stem}.cif", structure.to(fmt="cif")),
        "POSCAR": (f"{stem}.vasp", structure.to(fmt="poscar")),
        "extxyz": (f"{stem}.extxyz", xyz.getvalue()),
    }
    try:
        refined = SpacegroupAnalyzer(structure, symprec=SYMPREC).get_refined_structure()
    except Exception:  # spglib finds no cell to refine (degenerate lattice): the P1 files stand alone
        return files
    symmetrised = str(CifWriter(refined, symprec=SYMPREC))
    return {"CIF (symmetrised, conventional cell)": (f"{stem}_symmetrised.cif", symmetrised), **files}


def wyckoff_orbits(structure: Structure) -> dict[str, list[int]]:
    """Symmetry-equivalent site groups, labelled 'Li 4a' etc. (spglib at :data:`~backend.limits.SYMPREC`)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        symmetrized = SpacegroupAnalyzer(structure, symprec=SYMPREC).get_symmetrized_structure()
    except Exception:  # no symmetry found: every site is its own orbit
        return {f"{site.specie.symbol} site {i}": [i] for i, site in enumerate(structure)}
    return {
        f"{structure[indices[0]].specie.symbol} {wyckoff} (sites {', '.join(map(str, indices))})": list(indices)
        for indices, wyckoff in zip(symmetrized.equivalent_indices, symmetrized.wyckoff_symbols)
    }
