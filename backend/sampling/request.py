"""What a user asks the sampler for, validated once for the CLI, the app and the job store."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pymatgen.core.periodic_table import Element
from pymatgen.symmetry.groups import SpaceGroup

from backend.sampling.models import SCALAR_PROPERTIES, ModelInfo
from backend.thirdparty.patches import install

MAX_ATOMS = 100
MAX_ELEMENTS = 7
NONNEGATIVE_TARGETS = {
    "dft_band_gap",
    "dft_mag_density",
    "ml_bulk_modulus",
    "dft_bulk_modulus",
    "hhi_score",
    "dft_shear_modulus",
    "energy_above_hull",
}


class InvalidRequest(ValueError):
    """A request the sampler cannot honour; ``str(exc)`` is one line for the user."""


def allowed_elements() -> tuple[str, ...]:
    """Elements MatterGen may place (its ``SELECTED_ATOMIC_NUMBERS``: no noble gases or Z > 83 except Th-Pu)."""
    install()
    from mattergen.common.utils.globals import SELECTED_ATOMIC_NUMBERS

    return tuple(Element.from_Z(z).symbol for z in SELECTED_ATOMIC_NUMBERS)


def parse_chemical_system(text: str) -> tuple[str, ...]:
    """``"Li-Fe-O"``, ``"Li Fe O"`` or ``"LiFeO"`` -> ``("Fe", "Li", "O")``, checking every symbol."""
    tokens = [t for t in re.split(r"[-,\s]+", text.strip()) if t]
    if len(tokens) == 1 and not _is_element(tokens[0]) and tokens[0] != tokens[0].lower():
        tokens = re.findall(r"[A-Z][a-z]?|[^A-Z]+", tokens[0])
    tokens = [t[:1].upper() + t[1:].lower() for t in tokens]  # "li-fe-o" means Li-Fe-O
    if not tokens:
        raise InvalidRequest("empty chemical system: give elements like Li-Fe-O")
    for token in tokens:
        if not _is_element(token):
            raise InvalidRequest(f"unknown element '{token}' in chemical system '{text}'")
    repeated = sorted({t for t in tokens if tokens.count(t) > 1})
    if repeated:
        raise InvalidRequest(f"{', '.join(repeated)} is listed twice in chemical system '{text}'")
    elements = tuple(sorted(set(tokens)))
    if len(elements) > MAX_ELEMENTS:
        raise InvalidRequest(f"chemical system has {len(elements)} elements; at most {MAX_ELEMENTS} are supported")
    return elements


def _is_element(symbol: str) -> bool:
    return Element.is_valid_symbol(symbol)


def parse_space_group(text: str | int) -> int:
    """A number 1-230 or a Hermann-Mauguin symbol (``Pnma``, ``P6_3/mmc``) -> the number."""
    value = str(text).strip()
    if value.lstrip("-").isdigit():
        number = int(value)
    else:
        try:
            number = SpaceGroup(value).int_number
        except ValueError:
            raise InvalidRequest(f"unknown space group '{value}': use a number 1-230 or a symbol like Pnma") from None
    if not 1 <= number <= 230:
        raise InvalidRequest(f"space group {number} is outside 1-230")
    return number


@dataclass(frozen=True)
class GenerationRequest:
    """One batch of crystals to sample. ``atoms=None`` draws atom counts from ``num_atoms_distribution``."""

    n: int = 8
    atoms: int | None = 8
    chemical_system: tuple[str, ...] | None = None
    space_group: int | None = None
    targets: tuple[tuple[str, float], ...] = field(default_factory=tuple)
    guidance: float = 1.0
    steps: int = 1000
    seed: int = 0
    batch_size: int = 64
    num_atoms_distribution: str = "ALEX_MP_20"

    @property
    def conditions(self) -> dict[str, object]:
        """Condition values in mattergen's property names and formats."""
        values: dict[str, object] = {}
        if self.chemical_system:
            values["chemical_system"] = "-".join(self.chemical_system)
        if self.space_group is not None:
            values["space_group"] = self.space_group
        values.update(dict(self.targets))
        return values

    @property
    def model_calls_per_step(self) -> int:
        """Predictor + corrector, each doubled when guidance mixes conditional and unconditional scores."""
        guided = bool(self.conditions) and self.guidance not in (0.0, 1.0)
        return 2 * (2 if guided else 1)

    def validate(self, model: ModelInfo) -> GenerationRequest:
        """Raise :class:`InvalidRequest` with one clear line, or return self."""
        if self.n < 1:
            raise InvalidRequest(f"number of crystals must be at least 1 (got {self.n})")
        if self.atoms is not None and not 1 <= self.atoms <= MAX_ATOMS:
            raise InvalidRequest(f"atoms per cell must be between 1 and {MAX_ATOMS} (got {self.atoms})")
        if self.steps < 2:
            raise InvalidRequest(f"steps must be at least 2 (got {self.steps})")
        if self.seed < 0:
            raise InvalidRequest(f"seed must be non-negative (got {self.seed})")
        if self.batch_size < 1:
            raise InvalidRequest(f"batch size must be at least 1 (got {self.batch_size})")
        if self.guidance < 0:
            raise InvalidRequest(f"guidance factor must be >= 0 (got {self.guidance})")
        install()
        from mattergen.common.data.num_atoms_distribution import NUM_ATOMS_DISTRIBUTIONS

        if self.num_atoms_distribution not in NUM_ATOMS_DISTRIBUTIONS:
            raise InvalidRequest(f"atom-count distribution must be one of {', '.join(NUM_ATOMS_DISTRIBUTIONS)}")
        for name in self.conditions:
            if not model.supports(name):
                supported = ", ".join(model.conditions) or "nothing (unconditional)"
                raise InvalidRequest(f"model '{model.name}' cannot condition on {name}; it supports {supported}")
        if self.conditions and self.guidance == 0:
            raise InvalidRequest("guidance 0 samples unconditionally and would ignore the conditions: use 1 or more")
        if self.chemical_system:
            allowed = set(allowed_elements())
            outside = [e for e in self.chemical_system if e not in allowed]
            if outside:
                raise InvalidRequest(f"model '{model.name}' cannot place {', '.join(outside)} (not in its element set)")
            if self.atoms is not None and self.atoms < len(self.chemical_system):
                raise InvalidRequest(
                    f"{self.atoms} atoms cannot hold the {len(self.chemical_system)} elements of "
                    f"{'-'.join(self.chemical_system)}"
                )
        for name, value in self.targets:
            if name not in SCALAR_PROPERTIES:
                raise InvalidRequest(f"unknown target property '{name}'")
            if name in NONNEGATIVE_TARGETS and value < 0:
                raise InvalidRequest(f"{name} cannot be negative (got {value})")
        return self
