"""Energy above the convex hull against an offline Materials Project hull.

The hull is built per chemical system from the shipped MP data (``assets/data/hull``): every MP-20 /
MPTS-52 material's hull formation energy (MP's own ``formation_energy_per_atom - e_above_hull``, GGA/GGA+U
with MP2020 corrections) plus the elements at zero. Formation energies of candidates use MP's 2023
elemental reference energies. Potentials trained on MP2020-corrected energies (CHGNet) are compared as
predicted: correcting them again shifts oxides by about -0.23 eV/atom (Li2O: -2.068 as predicted vs
-2.066 experiment, -2.297 if corrected twice).

The data covers part of MP, not all of it: a missing stable phase makes the hull too high and a
candidate look more stable than it is. ``hull_is_approximate`` is False only where MP's own hull
energy at the candidate's composition is in the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition

from backend.paths import ASSETS

HULL_DIR = ASSETS / "data" / "hull"
HULL_LABEL = "approximate MP-20/MPTS-52 hull"


class StabilityError(ValueError):
    """A composition or energy the hull cannot place; the message is for the user."""


@dataclass(frozen=True)
class HullResult:
    chemical_system: str
    formation_energy_per_atom: float
    e_above_hull: float
    decomposition: tuple[tuple[str, float], ...]  # (formula, fraction) of the competing phases
    hull_is_approximate: bool

    @property
    def decomposition_text(self) -> str:
        return " + ".join(f"{fraction:.3g} {formula}" for formula, fraction in self.decomposition)


@lru_cache(maxsize=1)
def elemental_references() -> dict[str, float]:
    """MP (2023-02-07) ground-state energy per atom of each element, eV."""
    frame = pd.read_csv(HULL_DIR / "mp_elemental_refs.csv")
    return dict(zip(frame.element, frame.energy_per_atom))


@lru_cache(maxsize=1)
def _hull_points() -> pd.DataFrame:
    frame = pd.read_csv(HULL_DIR / "mp_hull_points.csv.gz")
    frame["elements"] = frame.chemsys.map(lambda c: frozenset(c.split("-")))
    frame["reduced_formula"] = frame.composition.map(lambda c: Composition(json.loads(c)).reduced_formula)
    return frame


def chemical_system_of(elements: Iterable[str]) -> str:
    return "-".join(sorted(set(elements)))


@lru_cache(maxsize=256)
def phase_diagram(chemical_system: str) -> PhaseDiagram:
    """The reference hull of one chemical system (cached: building one takes up to a second)."""
    elements = frozenset(chemical_system.split("-"))
    missing = sorted(e for e in elements if e not in elemental_references())
    if missing:
        raise StabilityError(f"no MP elemental reference for {', '.join(missing)}")
    points = _hull_points()
    rows = points[points.elements.map(lambda e: e <= elements)]
    entries = [PDEntry(Composition(e), 0.0, name=e) for e in sorted(elements)]
    for composition, e_form, formula, material_id in zip(
        rows.composition, rows.e_form_hull, rows.formula, rows.material_id
    ):
        comp = Composition(json.loads(composition))
        entries.append(PDEntry(comp, e_form * comp.num_atoms, name=formula, attribute=material_id))
    return PhaseDiagram(entries)


def formation_energy_per_atom(composition: Composition, energy_per_atom: float) -> float:
    references = elemental_references()
    missing = sorted(e.symbol for e in composition.elements if e.symbol not in references)
    if missing:
        raise StabilityError(f"no MP elemental reference for {', '.join(missing)}")
    return energy_per_atom - sum(
        composition.get_atomic_fraction(e) * references[e.symbol] for e in composition.elements
    )


def assess(composition: Composition, energy_per_atom: float, corrected_by_mp2020: bool = True) -> HullResult:
    """Place a total energy per atom (eV, MP2020-compatible) on the reference hull of its system."""
    if not corrected_by_mp2020:
        raise StabilityError(
            "this potential's energies lack MP2020 corrections; apply MaterialsProject2020Compatibility first"
        )
    chemsys = chemical_system_of(e.symbol for e in composition.elements)
    diagram = phase_diagram(chemsys)
    e_form = formation_energy_per_atom(composition, energy_per_atom)
    candidate = PDEntry(composition, e_form * composition.num_atoms)
    decomposition, e_above = diagram.get_decomp_and_e_above_hull(candidate, allow_negative=True)
    points = _hull_points()
    exact = bool((points.reduced_formula == composition.reduced_formula).any())
    return HullResult(
        chemical_system=chemsys,
        formation_energy_per_atom=e_form,
        e_above_hull=float(e_above),
        decomposition=tuple(
            sorted(((entry.name, float(fraction)) for entry, fraction in decomposition.items()), key=lambda x: -x[1])
        ),
        hull_is_approximate=not exact,
    )
