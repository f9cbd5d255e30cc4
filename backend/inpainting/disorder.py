"""Ordering a partially occupied host by inpainting, the CHGGen paper's stated use ("systems with partial
occupancy or intercalation chemistry").

Fully occupied single-element sites are the framework and stay pinned. Every partially occupied species becomes
guests: its count is the sum of its occupancies over its sites times the supercell size, rounded (vacancies are
simply the rest of each site). A mixed site (La 0.5 / Ta 0.5) gives guests of each of its elements with those
counts, or, with ``mixed="free"``, free guests the model types among the site's elements. The disordered sites'
positions go with the request, so guests can start there (with noise) instead of uniform in the cell.
pymatgen's ``OrderDisorderedStructureTransformation`` instead enumerates orderings by Ewald energy, which grows
combinatorially with the cell.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from backend.inpainting.framework import Framework, supersize
from backend.inpainting.request import InpaintRequest, InvalidHost

TOLERANCE = 0.05  # a count within this of a whole number is integral
MAX_REPEAT = 4  # supercells searched: up to 4x4x4
MIXED_CHOICES = ("counts", "free")


@dataclass(frozen=True)
class OccupiedSite:
    """One site of the host as its file gives it: position and each species' occupancy."""

    index: int
    frac: tuple[float, float, float]
    occupancy: tuple[tuple[str, float], ...]

    @property
    def total(self) -> float:
        return sum(share for _, share in self.occupancy)

    @property
    def framework(self) -> bool:
        """Fully occupied by one element: kept as the framework."""
        return len(self.occupancy) == 1 and self.total > 1.0 - 1e-6

    @property
    def mixed(self) -> bool:
        return len(self.occupancy) > 1

    def row(self) -> dict[str, object]:
        """One line of the occupancy table the Inpainting page shows."""
        return {
            "site": self.index,
            "position (frac)": ", ".join(f"{x:.4f}" for x in self.frac),
            "occupancy": ", ".join(f"{e} {share:.3g}" for e, share in self.occupancy),
            "vacancy": round(max(0.0, 1.0 - self.total), 3),
            "role": "framework" if self.framework else "guests",
        }


def occupancy_table(host: Structure) -> tuple[OccupiedSite, ...]:
    """Every site with its occupancies; a site whose occupancies sum above 1 is refused."""
    sites = []
    for index, site in enumerate(host):
        occupancy = tuple((element.symbol, float(share)) for element, share in site.species.items())
        entry = OccupiedSite(index, tuple(float(x) for x in site.frac_coords), occupancy)
        if entry.total > 1.0 + 1e-3:
            shares = ", ".join(f"{e} {s:g}" for e, s in occupancy)
            raise InvalidHost(f"occupancies on site {index} sum to {entry.total:.3g} ({shares}); at most 1 is possible")
        sites.append(entry)
    return tuple(sites)


@dataclass(frozen=True)
class SupercellCounts:
    """Guest counts a supercell implies: exact (occupancy sums times the cell count) and rounded."""

    repeat: tuple[int, int, int]
    exact: tuple[tuple[str, float], ...]

    @property
    def cells(self) -> int:
        return int(np.prod(self.repeat))

    @property
    def worst(self) -> float:
        """The largest distance of a count from a whole number of at least 1: every partial species stays."""
        return max((abs(x - n) for (_, x), (_, n) in zip(self.exact, self.rounded)), default=0.0)

    @property
    def integral(self) -> bool:
        return self.worst <= TOLERANCE

    @property
    def rounded(self) -> tuple[tuple[str, int], ...]:
        return tuple((element, max(1, int(round(x)))) for element, x in self.exact)

    @property
    def label(self) -> str:
        return ",".join(map(str, self.repeat))

    def counts_text(self) -> str:
        """``"La 1.67, Li 1.00"``: the exact counts as the user's messages give them (free guests as 'free')."""
        return ", ".join(f"{'free' if e == '*' else e} {x:.2f}" for e, x in self.exact)


def _guest_sources(sites: tuple[OccupiedSite, ...], mixed: str) -> dict[str, float]:
    """Per guest kind, occupancy summed over one cell; free guests from mixed sites are the key ``"*"``."""
    sums: dict[str, float] = {}
    for site in sites:
        if site.framework:
            continue
        if site.mixed and mixed == "free":
            sums["*"] = sums.get("*", 0.0) + site.total
            continue
        for element, share in site.occupancy:
            sums[element] = sums.get(element, 0.0) + share
    return sums


def supercell_counts(host: Structure, repeat: tuple[int, int, int], mixed: str = "counts") -> SupercellCounts:
    per_cell = _guest_sources(occupancy_table(host), mixed)
    cells = int(np.prod(repeat))
    return SupercellCounts(tuple(repeat), tuple((e, x * cells) for e, x in sorted(per_cell.items())))


def supercell_options(host: Structure, mixed: str = "counts") -> list[SupercellCounts]:
    """Every diagonal supercell up to 4x4x4, smallest first, then the closest to integral."""
    options = [
        supercell_counts(host, repeat, mixed) for repeat in itertools.product(range(1, MAX_REPEAT + 1), repeat=3)
    ]
    return sorted(options, key=lambda o: (o.cells, round(o.worst, 6), o.repeat))


def integral_supercells(host: Structure, mixed: str = "counts", most_cells: int = 8) -> list[SupercellCounts]:
    """Supercells of at most ``most_cells`` cells whose guest counts are whole, smallest first."""
    return [o for o in supercell_options(host, mixed) if o.integral and o.cells <= most_cells]


def smallest_supercells(host: Structure, mixed: str = "counts") -> list[SupercellCounts]:
    """The integral supercells of the smallest size (e.g. 1,1,3 / 1,3,1 / 3,1,1), or none."""
    integral = [o for o in supercell_options(host, mixed) if o.integral]
    return [o for o in integral if o.cells == integral[0].cells] if integral else []


@dataclass(frozen=True)
class DisorderPlan:
    """What ordering a disordered host asks of inpainting: the pinned framework, the guests, where they may start."""

    framework: Framework
    counts: SupercellCounts
    guests: tuple[tuple[str, int], ...]
    free_guests: int
    free_elements: tuple[str, ...]
    guest_sites: tuple[tuple[str, tuple[float, float, float]], ...]
    note: str

    def request(self, **sampling: object) -> InpaintRequest:
        """The inpainting request for these guests; ``sampling`` holds n, steps, seed, guest_start, ..."""
        return InpaintRequest(
            guests=self.guests,
            free_guests=self.free_guests,
            free_elements=self.free_elements,
            guest_sites=self.guest_sites,
            **sampling,
        )


def _rounding_note(counts: SupercellCounts, framework: Structure, guests: dict[str, int]) -> str:
    parts = [f"{'free' if e == '*' else e} {x:.3f} -> {n}" for (e, x), (_, n) in zip(counts.exact, counts.rounded)]
    cell = framework.composition + {e: n for e, n in guests.items() if e != "*" and n}
    free = f" + {guests['*']} free" if guests.get("*") else ""
    return (
        f"ordered by inpainting in supercell {'x'.join(map(str, counts.repeat))}: guests {', '.join(parts)} "
        f"(rounded); cell {cell.formula.replace(' ', '')}{free}"
    )


def plan_order_disorder(
    host: Structure, repeat: tuple[int, int, int] | None = None, mixed: str = "counts"
) -> DisorderPlan:
    """The framework, guests and start sites that order ``host`` in ``repeat`` (default: the smallest integral)."""
    if mixed not in MIXED_CHOICES:
        raise InvalidHost(f"mixed sites are 'counts' or 'free', not '{mixed}'")
    sites = occupancy_table(host)
    if host.is_ordered:
        raise InvalidHost("the host has no partial occupancy: nothing to order (inpaint it with chosen guests)")
    if not any(site.framework for site in sites):
        raise InvalidHost(
            "no site is fully occupied by one element: ordering by inpainting keeps such sites as the framework"
        )
    smallest = smallest_supercells(host, mixed)
    if repeat is None:
        if not smallest:
            nearest = supercell_options(host, mixed)
            nearest = min(nearest, key=lambda o: (round(o.worst, 6), o.cells))
            raise InvalidHost(
                f"no supercell up to {MAX_REPEAT}x{MAX_REPEAT}x{MAX_REPEAT} makes the guest counts whole within "
                f"{TOLERANCE}; the nearest is {nearest.label} ({nearest.counts_text()})"
            )
        counts = smallest[0]
    else:
        counts = supercell_counts(host, tuple(repeat), mixed)
        if not counts.integral:
            hint = (
                f"the smallest that do: {' / '.join(o.label for o in smallest)}"
                if smallest
                else f"none up to {MAX_REPEAT}x{MAX_REPEAT}x{MAX_REPEAT} does"
            )
            given = counts.counts_text()
            raise InvalidHost(f"supercell {counts.label} gives {given} guests, not whole numbers; {hint}")
    rounded = dict(counts.rounded)
    ordered = Structure.from_sites([host[s.index] for s in sites if s.framework])
    framework = supersize(Framework(ordered, (True,) * len(ordered), "disordered host"), counts.repeat)
    disordered = Structure.from_sites([host[s.index] for s in sites if not s.framework])
    disordered.make_supercell(list(counts.repeat))
    starts = tuple(
        (element.symbol, tuple(float(x) for x in site.frac_coords)) for site in disordered for element in site.species
    )
    guests = tuple((e, n) for e, n in sorted(rounded.items()) if e != "*" and n)
    note = _rounding_note(counts, framework.structure, rounded)
    free_elements = tuple(sorted({e for s in sites if s.mixed for e, _ in s.occupancy})) if "*" in rounded else ()
    return DisorderPlan(
        framework=Framework(framework.structure, framework.keep, note),
        counts=counts,
        guests=guests,
        free_guests=rounded.get("*", 0),
        free_elements=free_elements,
        guest_sites=starts,
        note=note,
    )
