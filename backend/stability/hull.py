"""Energy above the convex hull by linear programming, at any number of elements.

The hull energy at a composition x is the lowest energy of any mixture of reference phases with that composition:
minimise sum_j w_j E_j subject to sum_j w_j x_j = x, w >= 0 (w_j: fraction of atoms in phase j). That is what
pymatgen's ``PhaseDiagram`` computes from a qhull triangulation of the whole system, whose cost explodes past five or
six elements (generated crystals with 8-16 elements took minutes each); one HiGHS solve over the points of the
candidate's subsystems takes milliseconds and gives the same energy and decomposition (tests and
benchmarks/README compare the two).

Formation energies of candidates use MP's 2023 elemental reference energies. Potentials trained on MP2020-corrected
energies (CHGNet) are compared as predicted: correcting them again shifts oxides by about -0.23 eV/atom (Li2O: -2.068
as predicted vs -2.066 experiment, -2.297 if corrected twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pymatgen.analysis.phase_diagram import PhaseDiagram
from pymatgen.core import Composition
from pymatgen.entries.computed_entries import ComputedEntry
from scipy.optimize import linprog

from backend.stability.reference import Coverage, StabilityError, elemental_energies, reference_table

_WEIGHT_FLOOR = 1e-9  # a phase with a smaller share of the atoms is solver noise, not part of the decomposition
_DEGENERATE = 1e-9  # eV/atom: a phase this close to the hull of the others lies on it, not below it


@dataclass(frozen=True)
class Phase:
    """One competing phase of a decomposition: its share of the atoms, and where its energy comes from."""

    formula: str
    fraction: float
    material_id: str
    source: str


@dataclass(frozen=True)
class HullResult:
    chemical_system: str
    formation_energy_per_atom: float
    e_above_hull: float
    decomposition: tuple[Phase, ...]  # largest share first
    coverage: Coverage

    @property
    def decomposition_text(self) -> str:
        return " + ".join(f"{p.fraction:.3g} {p.formula}" for p in self.decomposition)

    @property
    def hull_quality(self) -> str:
        return self.coverage.quality

    @property
    def hull_missing(self) -> tuple[str, ...]:
        """MP-stable phases with no energy here at all (the candidate looks more stable than it is)."""
        return self.coverage.absent

    @property
    def hull_filled(self) -> tuple[str, ...]:
        """MP-stable phases whose GGA energy is stood in for by a recalibrated 2019 matbench energy."""
        return self.coverage.filled


def chemical_system_of(elements: Iterable[str]) -> str:
    """'Fe-Li-O': sorted, each element once."""
    return "-".join(sorted(set(elements)))


def formation_energy_per_atom(composition: Composition, energy_per_atom: float) -> float:
    references = elemental_energies()
    missing = sorted(e.symbol for e in composition.elements if e.symbol not in references)
    if missing:
        raise StabilityError(f"no Materials Project elemental reference for {', '.join(missing)}")
    return energy_per_atom - sum(
        composition.get_atomic_fraction(e) * references[e.symbol] for e in composition.elements
    )


def hull_energy(composition: Composition) -> tuple[float, tuple[Phase, ...]]:
    """The reference hull's formation energy per atom at ``composition`` and the phases that realise it.

    Where the optimum is degenerate (a phase lying exactly on a facet of others, such as a formation energy of 0 on
    the line between its elements), the decomposition is made of hull vertices only, as qhull's is: a phase that is
    no vertex is left out and the programme solved again.
    """
    left_out: frozenset[str] = frozenset()
    while True:
        energy, phases = _solve(composition, left_out)
        not_vertices = {p.formula for p in phases if not _is_vertex(p.formula)}
        if not not_vertices:
            return energy, phases
        left_out |= not_vertices


@lru_cache(maxsize=65536)
def _is_vertex(formula: str) -> bool:
    """Whether a reference phase lies strictly below the hull of all the others (elements always are)."""
    composition = Composition(formula)
    if len(composition.elements) == 1:
        return True
    group = next(g for g in reference_table().groups(e.symbol for e in composition.elements) if formula in g.formulas)
    own = float(group.e_form[group.formulas.index(formula)])
    return _solve(composition, frozenset({formula}))[0] > own + _DEGENERATE


def _solve(composition: Composition, left_out: frozenset[str]) -> tuple[float, tuple[Phase, ...]]:
    """min sum_j w_j E_j subject to sum_j w_j x_j = x, w >= 0, over the reference points not ``left_out``."""
    elements = sorted(e.symbol for e in composition.elements)
    column = {e: i for i, e in enumerate(elements)}
    blocks, energies, labels = [], [], []
    for group in reference_table().groups(elements):
        block = np.zeros((len(group.formulas), len(elements)))
        block[:, [column[e] for e in group.elements]] = group.fractions
        keep = np.array([f not in left_out for f in group.formulas])
        blocks.append(block[keep])
        energies.append(group.e_form[keep])
        labels.extend(label for label, k in zip(zip(group.formulas, group.material_ids, group.sources), keep) if k)
    solution = linprog(
        np.concatenate(energies),
        A_eq=np.vstack(blocks).T,
        b_eq=np.array([composition.get_atomic_fraction(e) for e in elements]),
        bounds=(0, None),
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if solution.status != 0:
        raise StabilityError(f"no hull could be computed for {composition.reduced_formula}: {solution.message}")
    phases = [
        Phase(formula, float(w), material_id, source)
        for w, (formula, material_id, source) in zip(solution.x, labels)
        if w > _WEIGHT_FLOOR
    ]
    total = sum(p.fraction for p in phases)
    phases = sorted(
        (Phase(p.formula, p.fraction / total, p.material_id, p.source) for p in phases), key=lambda p: -p.fraction
    )
    return float(solution.fun), tuple(phases)


def assess(composition: Composition, energy_per_atom: float, corrected_by_mp2020: bool = True) -> HullResult:
    """Place a total energy per atom (eV, MP2020-compatible) on the reference hull of its chemical system."""
    if not corrected_by_mp2020:
        raise StabilityError(
            "this potential's energies lack MP2020 corrections; apply MaterialsProject2020Compatibility first"
        )
    elements = [e.symbol for e in composition.elements]
    e_form = formation_energy_per_atom(composition, energy_per_atom)
    e_hull, phases = hull_energy(composition)
    return HullResult(
        chemical_system=chemical_system_of(elements),
        formation_energy_per_atom=e_form,
        e_above_hull=e_form - e_hull,
        decomposition=phases,
        coverage=reference_table().coverage(elements),
    )


@lru_cache(maxsize=64)
def phase_diagram(chemical_system: str) -> PhaseDiagram:
    """pymatgen's diagram over the same reference points, for drawing hulls of up to four elements."""
    elements = chemical_system.split("-")
    if len(elements) > 4:
        raise StabilityError(f"a hull of {len(elements)} elements cannot be drawn (at most 4)")
    entries = []
    for group in reference_table().groups(elements):
        for formula, material_id, e_form in zip(group.formulas, group.material_ids, group.e_form):
            composition = Composition(formula)
            entries.append(
                ComputedEntry(composition, float(e_form) * composition.num_atoms, entry_id=material_id or None)
            )
    return PhaseDiagram(entries)
