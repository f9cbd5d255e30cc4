"""The host framework as the page and the CLI prepare it: elements or sites removed, symmetrised, supersized."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from backend.inpainting.request import InvalidHost


@dataclass(frozen=True)
class Framework:
    """A host prepared for inpainting: the structure, which of its sites are kept, how it was made."""

    structure: Structure
    keep: tuple[bool, ...]
    note: str

    @property
    def kept(self) -> Structure:
        """Only the kept sites: what the user sees as the framework."""
        return Structure.from_sites([site for site, k in zip(self.structure, self.keep) if k])


def remove_species(host: Structure, remove: Sequence[str]) -> Framework:
    """Keep every site except those of the ``remove`` elements (e.g. the mobile ion)."""
    if len(host) == 0 or not host.is_ordered:
        raise InvalidHost("the host must be an ordered structure with atoms (no partial occupancy)")
    unknown = [e for e in remove if e not in {s.specie.symbol for s in host}]
    if unknown:
        raise InvalidHost(f"the host has no {', '.join(unknown)} to remove")
    keep = tuple(site.specie.symbol not in remove for site in host)
    if not any(keep):
        raise InvalidHost("removing " + ", ".join(remove) + " leaves a framework with 0 atoms")
    return Framework(host, keep, f"removed {', '.join(remove)}" if remove else "kept all sites")


SYMMETRY_LADDER = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5)


def symmetrize_framework(framework: Framework, ladder: Sequence[float] = SYMMETRY_LADDER) -> Framework:
    """Refine the kept framework with spglib at increasing tolerance until its group is above P1.

    The refined framework becomes the host (all of its sites kept); the note says which step of the
    ladder was taken and which group was found.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    kept = framework.kept
    for step, tolerance in enumerate(ladder, start=1):
        try:
            analyzer = SpacegroupAnalyzer(kept, symprec=tolerance)
            if analyzer.get_space_group_number() > 1:
                refined = analyzer.get_refined_structure()
                note = (
                    f"{framework.note}; symmetrised at {tolerance} Å (ladder step {step}): "
                    f"{analyzer.get_space_group_symbol()} ({analyzer.get_space_group_number()})"
                )
                return Framework(refined, (True,) * len(refined), note)
        except Exception:  # spglib failing at one tolerance is a reason to try the next
            continue
    return Framework(kept, (True,) * len(kept), f"{framework.note}; stays P1 up to {ladder[-1]} Å")


def supersize(framework: Framework, repeat: Sequence[int]) -> Framework:
    """A supercell of the framework, so that more guests fit."""
    if any(r < 1 for r in repeat) or len(repeat) != 3:
        raise InvalidHost("supercell repeats must be three positive integers, e.g. 1,1,2")
    if tuple(repeat) == (1, 1, 1):
        return framework
    structure = framework.structure.copy()
    keep = np.array(framework.keep)
    structure.add_site_property("kept", keep.tolist())
    structure.make_supercell(list(repeat))
    new_keep = tuple(bool(k) for k in structure.site_properties["kept"])
    structure.remove_site_property("kept")
    return Framework(structure, new_keep, f"{framework.note}; supercell {'x'.join(map(str, repeat))}")


def prepare_framework(
    host: Structure,
    remove: Sequence[str] = (),
    drop_sites: Sequence[int] = (),
    symmetrize: bool = False,
    repeat: Sequence[int] = (1, 1, 1),
) -> Framework:
    """The host as the page and the CLI prepare it: remove elements or sites, symmetrise, supersize."""
    framework = remove_species(host, remove)
    dropped = set(drop_sites)
    if dropped:
        outside = sorted(i for i in dropped if not 0 <= i < len(host))
        if outside:
            raise InvalidHost(f"site index {outside[0]} is outside 0-{len(host) - 1}")
        keep = tuple(k and i not in dropped for i, k in enumerate(framework.keep))
        if not any(keep):
            raise InvalidHost("nothing of the host is kept: the framework after removal has 0 atoms")
        framework = Framework(host, keep, f"{framework.note}; removed sites {', '.join(map(str, sorted(dropped)))}")
    if symmetrize:
        framework = symmetrize_framework(framework)
    return supersize(framework, repeat)
