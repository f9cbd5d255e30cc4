"""Dynamical stability by finite displacements: phonopy's force constants from the product's own potential.

A structure is first relaxed tightly within its space group (forces below 0.01 eV/Å: residual forces turn into
spurious imaginary modes), put in its standard primitive cell (the cell pymatgen's high-symmetry path is written
for), and repeated to a supercell at least ``MIN_SUPERCELL_WIDTH`` wide in every direction. Its displaced copies
are evaluated in batches by the potential. A candidate is dynamically stable when no mode on a Gamma-centred mesh
or along the band path is below ``IMAGINARY_THZ`` (PhononBench's -0.1 THz); the three acoustic modes at Gamma, zero
by translation symmetry and slightly negative only by numerical noise, are left out there and close to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
from pymatgen.symmetry.bandstructure import HighSymmKpath

from backend.limits import PRIMITIVE_SYMPREC
from backend.relax.interface import Potential

MIN_SUPERCELL_WIDTH = 8.0  # Å between opposite faces of the supercell (PhononBench: 2x2x2 of the cell)
IMAGINARY_THZ = -0.1  # PhononBench's threshold; imaginary modes are plotted as negative frequencies
# Å. Not phonopy's 0.01: CHGNet's force on a displaced Na in rock-salt NaCl is not linear below 0.02 Å (force/
# displacement 0.14, -0.14, -0.64, -1.09, -1.15 eV/Å² at 0.002, 0.005, 0.01, 0.02, 0.03 Å; its angle features are
# not smooth at the 180° bond angles of a high-symmetry site), which made NaCl "unstable" (-1.2 THz at X) at 0.01 Å.
DISPLACEMENT = 0.03
MESH = 8  # q-points per reciprocal axis of the Gamma-centred mesh (DOS and the stability test)
# Reduced-coordinate distance from Γ within which the three acoustic branches are not judged: there they are
# ~v|q| small, and force-constant noise made -0.09 to -0.12 THz at the path point next to Γ in both ZnS polytypes
# (MP ground states). An acoustic instability is an elastic one; finite displacements are not the test for it.
ACOUSTIC_RADIUS = 0.1
BAND_POINTS = 31  # q-points per path segment


@dataclass(frozen=True)
class PhononResult:
    """What the check found, ready for a table (``stable``, lowest mode) and for the band and DOS figures."""

    stable: bool
    lowest_thz: float  # the lowest frequency found (negative: imaginary), acoustic modes at Gamma left out
    lowest_at: str  # where: a high-symmetry label or the q-point's fractional coordinates
    supercell: tuple[int, int, int]
    supercell_atoms: int
    displacements: int
    seconds: float
    distances: list[float]  # band path: cumulative distance of each q-point (1/Å)
    bands: list[list[float]]  # frequencies (THz) per q-point along the path, one row per q-point
    ticks: list[tuple[float, str]]  # high-symmetry points: distance and label
    dos_thz: list[float]
    dos: list[float]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> PhononResult:
        values = dict(values)
        values["supercell"] = tuple(values["supercell"])
        values["ticks"] = [tuple(t) for t in values["ticks"]]
        return cls(**values)


def supercell_size(lattice: Lattice, width: float = MIN_SUPERCELL_WIDTH) -> tuple[int, int, int]:
    """Repeats so that the distance between opposite faces is at least ``width`` in every direction."""
    volume = lattice.volume
    matrix = lattice.matrix
    repeats = []
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        face = np.linalg.norm(np.cross(matrix[j], matrix[k]))
        repeats.append(max(1, int(np.ceil(width / (volume / face) - 1e-6))))
    return tuple(repeats)


def band_path(primitive: Structure) -> tuple[list[np.ndarray], list[str]]:
    """Segments of the standard high-symmetry path (Setyawan-Curtarolo) in the primitive cell's reciprocal
    coordinates, and the labels of their ends, broken where the path jumps."""
    kpath = HighSymmKpath(primitive, path_type="setyawan_curtarolo", symprec=PRIMITIVE_SYMPREC)
    points = kpath.kpath["kpoints"]
    segments, labels = [], []
    for branch in kpath.kpath["path"]:
        for start, end in zip(branch[:-1], branch[1:]):
            segments.append(np.linspace(points[start], points[end], BAND_POINTS))
            labels.append((start, end))
    return segments, [_pretty(name) for pair in labels for name in pair]


def _pretty(label: str) -> str:
    return "Γ" if label.upper() in ("GAMMA", "\\GAMMA", "G") else label.replace("_", "")


def check_phonons(
    structure: Structure, potential: Potential, stop: Callable[[], bool] | None = None
) -> tuple[PhononResult, Structure]:
    """Phonons of an already relaxed ``structure``; returns the result and the primitive cell they belong to."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    started = time.perf_counter()
    primitive = SpacegroupAnalyzer(structure, symprec=PRIMITIVE_SYMPREC).get_primitive_standard_structure()
    repeats = supercell_size(primitive.lattice)
    unit = PhonopyAtoms(
        symbols=[site.specie.symbol for site in primitive],
        cell=primitive.lattice.matrix,
        scaled_positions=primitive.frac_coords,
    )
    phonon = Phonopy(unit, supercell_matrix=np.diag(repeats), primitive_matrix=None, log_level=0)
    phonon.generate_displacements(distance=DISPLACEMENT)
    displaced = [
        Structure(Lattice(cell.cell), cell.symbols, cell.scaled_positions)
        for cell in phonon.supercells_with_displacements
    ]
    forces = []
    for start in range(0, len(displaced), 8):
        if stop is not None and stop():
            raise InterruptedError
        forces += [evaluation.forces for evaluation in potential.evaluate(displaced[start : start + 8])]
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()

    phonon.run_mesh([MESH] * 3, is_gamma_center=True)
    mesh = phonon.get_mesh_dict()
    lowest, lowest_at = _lowest(mesh["qpoints"], mesh["frequencies"])
    segments, labels = band_path(primitive)
    phonon.run_band_structure(segments)
    band = phonon.get_band_structure_dict()
    band_lowest, band_at = _lowest(np.concatenate(band["qpoints"]), np.concatenate(band["frequencies"]))
    if band_lowest < lowest:
        lowest, lowest_at = band_lowest, band_at
    phonon.run_total_dos()
    dos = phonon.get_total_dos_dict()

    distances = np.concatenate(band["distances"]).tolist()
    ticks = []
    for index, segment in enumerate(band["distances"]):
        ticks += [(float(segment[0]), labels[2 * index]), (float(segment[-1]), labels[2 * index + 1])]
    result = PhononResult(
        stable=bool(lowest >= IMAGINARY_THZ),
        lowest_thz=float(lowest),
        lowest_at=lowest_at,
        supercell=repeats,
        supercell_atoms=len(primitive) * int(np.prod(repeats)),
        displacements=len(displaced),
        seconds=time.perf_counter() - started,
        distances=distances,
        bands=np.concatenate(band["frequencies"]).round(4).tolist(),
        ticks=ticks,
        dos_thz=np.asarray(dos["frequency_points"]).round(4).tolist(),
        dos=np.asarray(dos["total_dos"]).round(5).tolist(),
    )
    return result, primitive


def _lowest(qpoints: np.ndarray, frequencies: np.ndarray) -> tuple[float, str]:
    """Lowest frequency over q-points, leaving out the three acoustic modes at and near Γ (``ACOUSTIC_RADIUS``)."""
    lowest, where = np.inf, ""
    for q, modes in zip(np.asarray(qpoints), np.asarray(frequencies)):
        ordered = np.sort(modes)
        offset = q - np.round(q)
        at_gamma = np.allclose(offset, 0, atol=1e-8)
        candidates = ordered[3:] if np.linalg.norm(offset) <= ACOUSTIC_RADIUS else ordered
        if len(candidates) and candidates[0] < lowest:
            lowest = float(candidates[0])
            where = "Γ" if at_gamma else "q = (" + ", ".join(f"{x:.3f}" for x in q) + ")"
    return lowest, where
