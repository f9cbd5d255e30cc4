"""What an inpainting run is asked for and what it gives back, and the parsing of the page's and CLI's text fields."""

from __future__ import annotations

from dataclasses import dataclass, field

from pymatgen.core import Structure


class InvalidHost(ValueError):
    """A host or guest choice that cannot be inpainted; the message is one line for the user."""


@dataclass(frozen=True)
class InpaintRequest:
    """Guests to place into a host: fixed elements with counts, plus ``free`` guests typed by the model."""

    guests: tuple[tuple[str, int], ...] = ()
    free_guests: int = 0
    free_elements: tuple[str, ...] = ()
    n: int = 4
    steps: int = 1000
    jump: int = 10
    resample: int = (
        1  # RePaint resampling hurt the embedded model at 100 steps (benchmarks/README, inpainting defaults)
    )
    seed: int = 0
    guidance: float = 1.0
    guest_start: str = "uniform"  # or "sites": start guests at ``guest_sites`` noised to ``start_time``
    start_time: float = 0.3
    guest_sites: tuple[tuple[str, tuple[float, float, float]], ...] = ()  # (element, frac) in the host's cell

    @property
    def guest_count(self) -> int:
        return sum(c for _, c in self.guests) + self.free_guests


@dataclass(frozen=True)
class InpaintResult:
    structures: tuple[Structure | None, ...]
    failures: tuple[str | None, ...]
    model_calls: int
    cancelled: bool
    seconds: float
    extras: dict = field(default_factory=dict)


def parse_guests(text: str) -> tuple[tuple[str, int], ...]:
    """``"Li:4, Na"`` -> ``(("Li", 4), ("Na", 1))``; one clear line for anything else."""
    guests = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        element, _, count = item.partition(":")
        count = count.strip() or "1"
        if not count.isdigit():
            raise InvalidHost(f"guest '{item}' is not ELEMENT:COUNT")
        guests.append((element.strip(), int(count)))
    return tuple(guests)


def parse_indices(text: str) -> tuple[int, ...]:
    """``"0, 1,5"`` -> ``(0, 1, 5)``."""
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise InvalidHost("site indices must be whole numbers separated by commas") from None
