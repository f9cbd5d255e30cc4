"""Which sites of an inpainted candidate are guests, and whether they collide with anything.

Guests are marked by their site label (``Li_guest``), not by their position in the site list: a CIF read back by
pymatgen comes out grouped by element (the guests of olivine LiFePO4 first), so "the first n sites are the host"
fixed the wrong atoms in a relaxation. The label travels through CIF files, the relaxer and back.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from backend.limits import MIN_DISTANCE

GUEST_SUFFIX = "_guest"


def mark_guests(structure: Structure, host_sites: int) -> Structure:
    """Label the sites after the first ``host_sites`` (inpainting's own order) as guests, the rest by element."""
    for index, site in enumerate(structure):
        site.label = site.specie.symbol + (GUEST_SUFFIX if index >= host_sites else "")
    return structure


def host_mask(structure: Structure) -> tuple[bool, ...]:
    """True for each host site, whatever order the sites come in."""
    return tuple(not (site.label or "").endswith(GUEST_SUFFIX) for site in structure)


def guest_host_clearance(structure: Structure, mask: tuple[bool, ...]) -> float:
    """Closest guest-host distance (Å), inf without guests or host."""
    host = np.array(mask, dtype=bool)
    if host.all() or not host.any():
        return float("inf")
    return float(structure.distance_matrix[~host][:, host].min())


def collision(structure: Structure, mask: tuple[bool, ...]) -> str | None:
    """Why a candidate is physically impossible (two atoms closer than 0.5 Å, at least one a guest), or None."""
    distances = structure.distance_matrix
    np.fill_diagonal(distances, np.inf)
    host = np.array(mask, dtype=bool)
    distances[np.ix_(host, host)] = np.inf  # the host's own geometry is the user's input
    i, j = np.unravel_index(np.argmin(distances), distances.shape)
    if distances[i, j] >= MIN_DISTANCE:
        return None
    roles = " and ".join(
        f"{structure[k].specie.symbol} ({'host' if host[k] else 'guest'})" for k in sorted((int(i), int(j)))
    )
    return f"a guest collides: {roles} are {distances[i, j]:.2f} Å apart (closer than {MIN_DISTANCE} Å)"
