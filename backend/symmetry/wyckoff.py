"""Wyckoff assignments: which orbits of a space group a crystal's atoms occupy, in the conventional setting.

pyxtal's tables (the International Tables' Wyckoff positions, conventional cells, hexagonal axes for R groups) give,
for each position, its multiplicity and the affine maps from a generator point (x, y, z) to every member of the
orbit. An assignment is chosen among pyxtal's combinations compatible with the atom counts (per element where the
composition is known), reproducibly by seed; special positions without free parameters are used at most once.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from pymatgen.core import Structure

from backend.limits import SYMPREC

MAX_LISTED_ATOMS = 40  # feasible atom counts are listed up to this many atoms


class NoAssignment(ValueError):
    """No Wyckoff assignment fits; ``str(exc)`` is one line for the user (with the feasible atom counts)."""


@dataclass(frozen=True)
class Orbit:
    """One occupied Wyckoff position: ``multiplicity`` atoms, all of ``element`` (None: the model chooses)."""

    letter: str
    multiplicity: int
    element: str | None
    index: int  # position in pyxtal's list for the group (general position first)


@dataclass(frozen=True)
class WyckoffAssignment:
    """A crystal's orbits, in atom order: orbit k holds the next ``multiplicity`` atoms."""

    space_group: int
    orbits: tuple[Orbit, ...]

    @property
    def n_atoms(self) -> int:
        return sum(o.multiplicity for o in self.orbits)

    @property
    def label(self) -> str:
        """``4a:Na,4b:Cl`` (``4a:?`` where the model chooses the element)."""
        return ",".join(f"{o.multiplicity}{o.letter}:{o.element or '?'}" for o in self.orbits)

    @classmethod
    def p1(cls, structure: Structure) -> WyckoffAssignment:
        """Every atom its own orbit of P1, element kept: the projection leaves such a crystal free."""
        return cls(1, tuple(Orbit("a", 1, site.specie.symbol, 0) for site in structure))

    def to_json(self) -> str:
        return json.dumps({"space_group": self.space_group, "orbits": [asdict(o) for o in self.orbits]})

    @classmethod
    def from_json(cls, text: str) -> WyckoffAssignment:
        data = json.loads(text)
        return cls(data["space_group"], tuple(Orbit(**o) for o in data["orbits"]))


@lru_cache(maxsize=256)
def group(number: int) -> object:
    from pyxtal.symmetry import Group

    return Group(number)


@lru_cache(maxsize=4096)
def _combinations(number: int, counts: tuple[int, ...]) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """pyxtal's Wyckoff combinations for species counts, as position indices per species."""
    combos = group(number).list_wyckoff_combinations(list(counts))
    indices = combos[2] if combos and len(combos) > 2 else []
    return tuple(tuple(tuple(int(i) for i in species) for species in combo) for combo in indices)


def feasible_counts(number: int, limit: int = MAX_LISTED_ATOMS) -> list[int]:
    """Atom counts of the conventional cell that some assignment (one element) reaches."""
    return [n for n in range(1, limit + 1) if _combinations(number, (n,))]


def _refusal(number: int, what: str) -> NoAssignment:
    feasible = feasible_counts(number)
    listed = ", ".join(map(str, feasible[:20])) + (" ..." if len(feasible) > 20 else "")
    symbol = group(number).symbol
    return NoAssignment(
        f"no Wyckoff assignment of space group {number} ({symbol}) fits {what}; feasible atom counts "
        f"(conventional cell): {listed or 'none up to ' + str(MAX_LISTED_ATOMS)}"
    )


MAX_MULTIPLE = 8  # formula-unit multiples tried when suggesting a composition that a group can hold


def _composition_refusal(number: int, composition: dict[str, int]) -> NoAssignment:
    """Why a composition does not fit: per-element counts must each fill whole orbits, and the orbits without a free
    parameter can be used once; which multiple of the composition would fit, if any."""
    what = " ".join(f"{e}{n}" for e, n in composition.items())
    single = feasible_counts(number)
    listed = ", ".join(map(str, single[:12])) + (" ..." if len(single) > 12 else "")
    symbol = group(number).symbol
    fits = next(
        (k for k in range(2, MAX_MULTIPLE + 1) if _combinations(number, tuple(n * k for n in composition.values()))),
        None,
    )
    hint = (
        f"the same composition fits as {' '.join(f'{e}{n * fits}' for e, n in composition.items())} "
        f"({fits} times the cell)"
        if fits
        else f"no multiple up to {MAX_MULTIPLE} fits"
    )
    return NoAssignment(
        f"space group {number} ({symbol}) cannot hold {what}: every element must fill whole orbits (one element alone "
        f"can have {listed} atoms in the conventional cell) and the orbits without a free parameter can be used "
        f"once; {hint}"
    )


def assign(number: int, atoms: int, composition: dict[str, int] | None, seed: int) -> WyckoffAssignment:
    """A seeded choice among the assignments compatible with ``atoms`` (and with ``composition`` if given)."""
    if not 1 <= number <= 230:
        raise NoAssignment(f"space group {number} is outside 1-230")
    elements = sorted(composition) if composition else [None]
    counts = tuple(composition[e] for e in elements) if composition else (atoms,)
    combos = _combinations(number, counts)
    if not combos and composition:
        raise _composition_refusal(number, dict(zip(elements, counts)))
    if not combos:
        raise _refusal(number, f"{atoms} atoms")
    chosen = combos[int(np.random.default_rng(seed).integers(len(combos)))]
    positions = group(number).Wyckoff_positions
    orbits = [
        Orbit(positions[i].letter, int(positions[i].multiplicity), element, i)
        for element, species in zip(elements, chosen)
        for i in species
    ]
    return WyckoffAssignment(number, tuple(orbits))


def has_assignment(number: int, composition: dict[str, int]) -> bool:
    elements = sorted(composition)
    return bool(_combinations(number, tuple(composition[e] for e in elements)))


def parse_assignment(number: int, text: str) -> WyckoffAssignment:
    """``"4a:Na,4b:Cl"`` -> the assignment, each letter checked against the group."""
    positions = {w.letter: (i, w) for i, w in enumerate(group(number).Wyckoff_positions)}
    orbits = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        match = re.fullmatch(r"(\d*)([a-zA-Z])\s*:\s*([A-Z][a-z]?)", part)
        if not match:
            raise NoAssignment(f"cannot read Wyckoff site '{part}': write it like 4a:Na")
        multiplicity, letter, element = match.groups()
        if letter not in positions:
            letters = "".join(sorted(positions))
            raise NoAssignment(f"space group {number} has no Wyckoff position {letter} (it has {letters})")
        index, wp = positions[letter]
        if multiplicity and int(multiplicity) != wp.multiplicity:
            raise NoAssignment(f"Wyckoff position {letter} of space group {number} has multiplicity {wp.multiplicity}")
        orbits.append(Orbit(letter, int(wp.multiplicity), element, index))
    if not orbits:
        raise NoAssignment("empty Wyckoff assignment: write it like 4a:Na,4b:Cl")
    fixed = [o.letter for o in orbits if not group(number).Wyckoff_positions[o.index].get_dof()]
    repeated = sorted({letter for letter in fixed if fixed.count(letter) > 1})
    if repeated:
        raise NoAssignment(f"Wyckoff position {', '.join(repeated)} has no free parameter and can be occupied once")
    return WyckoffAssignment(number, tuple(orbits))


def orbits_of(structure: Structure, symprec: float = SYMPREC) -> tuple[Structure, WyckoffAssignment]:
    """A structure's own symmetry as the projection holds it: its conventional cell rebuilt orbit by orbit, each
    orbit's members in its Wyckoff position's order, with the matching assignment (each orbit's element given).

    pyxtal reads the orbits at ``symprec``; where its reading is in a non-standard setting the rebuilt cell would not
    be the structure, so the round trip is checked and the structure kept as it is, in P1 (every atom its own
    orbit: the projection then leaves it free).
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Lattice
    from pyxtal import pyxtal

    try:
        reading = pyxtal()
        reading.from_seed(structure, tol=symprec)
        number = int(reading.group.number)
        positions = group(number).Wyckoff_positions
        species, coords, orbits = [], [], []
        for site in reading.atom_sites:
            wp = positions[site.wp.index]
            if wp.letter != site.wp.letter:
                raise ValueError("pyxtal read the orbits in a non-standard setting")
            members = np.asarray(wp.apply_ops(site.position)) % 1.0
            species += [site.specie] * len(members)
            coords += list(members)
            orbits.append(Orbit(wp.letter, int(wp.multiplicity), str(site.specie), site.wp.index))
        rebuilt = Structure(Lattice(reading.lattice.matrix), species, coords)
        if not StructureMatcher().fit(rebuilt, structure):
            raise ValueError("the orbits pyxtal read do not rebuild the structure")
        return rebuilt, WyckoffAssignment(number, tuple(orbits))
    except Exception:  # noqa: BLE001 - pyxtal's many ways of not reading a cell all mean: keep it as it is
        return structure.copy(), WyckoffAssignment.p1(structure)
