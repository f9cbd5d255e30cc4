"""What a user asks the sampler for, validated once for the CLI, the app and the job store."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from pymatgen.core import Composition, Structure
from pymatgen.core.periodic_table import Element
from pymatgen.symmetry.groups import SpaceGroup

from backend.compositions.cell import cell_formula
from backend.limits import MAX_GENERATED_ATOMS
from backend.sampling.model_info import SCALAR_PROPERTIES, ModelInfo
from backend.thirdparty.patches import install

COMPOSITION_SOURCES = ("auto", "proposer", "prototypes", "model")
SYMMETRY_MODES = ("auto", "condition", "constrain", "both")
CELL_VOLUME_MODES = ("auto", "composition", "model")
START_TYPES = ("keep", "mask")
START_SYMMETRY = ("free", "keep")  # a start structure's space group: left to the variation, or held
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


def cell_histogram(distribution: str) -> dict[int, float]:
    """mattergen's histogram of training cell sizes (atoms per cell -> share)."""
    install()
    from mattergen.common.data.num_atoms_distribution import NUM_ATOMS_DISTRIBUTIONS

    if distribution not in NUM_ATOMS_DISTRIBUTIONS:
        raise InvalidRequest(f"atom-count distribution must be one of {', '.join(NUM_ATOMS_DISTRIBUTIONS)}")
    return dict(NUM_ATOMS_DISTRIBUTIONS[distribution])


def parse_composition(text: str, formula_units: int = 1) -> str:
    """``"Li2Fe2O4"`` or ``"LiFePO4"`` x ``formula_units`` -> the cell's content as a formula, in whole atoms.

    Refused in one line: unknown symbols, zero or fractional counts, no atoms.
    """
    value = text.strip().replace(" ", "")
    if not value:
        raise InvalidRequest("empty composition: give the cell's content, e.g. Li2Fe2O4")
    for symbol in re.findall(r"[A-Z][a-z]*", value):
        if not _is_element(symbol):
            raise InvalidRequest(f"unknown element '{symbol}' in composition '{text}'")
    if re.search(r"[^A-Za-z0-9().]", value) or not re.match(r"[A-Z(]", value):
        raise InvalidRequest(f"cannot read composition '{text}': write it like Li2Fe2O4 or Li3Fe2(PO4)3")
    for symbol, count in re.findall(r"([A-Z][a-z]?)(\d*\.?\d*)", value):
        if count and float(count) == 0:
            raise InvalidRequest(f"{symbol} has count 0 in composition '{text}': leave it out or give at least 1")
    if formula_units < 1:
        raise InvalidRequest(f"formula units must be at least 1 (got {formula_units})")
    try:
        composition = Composition(value) * formula_units
    except (ValueError, KeyError):
        raise InvalidRequest(f"cannot read composition '{text}': write it like Li2Fe2O4 or Li3Fe2(PO4)3") from None
    fractional = [f"{el.symbol}{n:g}" for el, n in composition.items() if abs(n - round(n)) > 1e-6]
    if fractional:
        raise InvalidRequest(
            f"composition '{text}' has fractional counts ({', '.join(fractional)}): give whole atoms per cell"
        )
    return cell_formula(composition)


@dataclass(frozen=True)
class GenerationRequest:
    """One batch of crystals to sample. ``atoms=None`` draws atom counts from ``num_atoms_distribution``.

    ``compositions``: cell contents (one for every crystal, or one per crystal); empty lets
    ``composition_source`` decide: ``proposer`` (composition-first), ``prototypes`` (composition-first, each
    crystal started at ``start_time`` from a known prototype of another composition with its elements substituted,
    ``backend.prototypes.seeding``), ``model`` (the model's own atom types) or
    ``auto`` (the model's default, :meth:`default_source`). A given composition
    fixes the atom count, and ``atoms`` is then not used.

    ``symmetry`` says what ``space_group`` does: ``condition`` (a model trained on space groups is conditioned),
    ``constrain`` (every step is projected into the group, any model), ``both``, or ``auto`` (both where the model
    is conditioned on space groups, else constrain). ``wyckoff`` is ``auto`` or an assignment like ``4a:Na,4b:Cl``.

    ``start_structures`` (pymatgen JSON, one for every crystal or one per crystal) starts each crystal from that
    structure noised to ``start_time`` (partial diffusion, :mod:`backend.sampling.start`); its types are kept or,
    with ``start_types="mask"``, redrawn by the model within its composition. ``start_symmetry="keep"`` holds the
    start's space group and Wyckoff orbits through the variation (its conventional cell, projected every step by
    :class:`~backend.sampling.hooks.symmetry.SymmetryProjection`); prototype seeds always keep theirs.

    ``cell_volume``: ``composition`` holds each cell at the volume its composition takes
    (:mod:`backend.sampling.hooks.cell_volume`), ``model`` leaves the volume to the model, ``auto`` is composition for
    the embedded model and model for every other checkpoint.
    """

    def resolved(self, model: ModelInfo) -> GenerationRequest:
        """The request with ``symmetry``, ``cell_volume`` and ``composition_source`` "auto" made concrete for
        ``model``."""
        request = self
        if request.composition_source == "auto":
            request = replace(request, composition_source=request.default_source(model))
        if request.symmetry == "auto":
            request = replace(request, symmetry="both" if model.supports("space_group") else "constrain")
        if request.cell_volume == "auto":
            request = replace(request, cell_volume="composition" if model.source == "embedded" else "model")
        return request

    def default_source(self, model: ModelInfo) -> str:
        """Where compositions come from when the user gives none: for the embedded model, proposed compositions
        started from known structure types of other compositions (``prototypes``), or the proposer alone where a
        space group or an atom count is asked for (a seed brings its own group and its own cell); a published
        checkpoint is trusted with its own chemistry.

        The embedded model's atom types behave as independent per-site draws (README, "Diagnostics"), so its own
        compositions carry 6-8 elements; seeded from prototypes its crystals are symmetric and twice as often near
        the hull as composition-first ones (benchmarks/README, de-novo generation).
        """
        if model.source != "embedded":
            return "model"
        return "proposer" if self.space_group is not None or self.atoms is not None else "prototypes"

    @property
    def constrains_symmetry(self) -> bool:
        return self.space_group is not None and self.symmetry in ("constrain", "both", "auto")

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
    compositions: tuple[str, ...] = ()
    symmetry: str = "auto"
    wyckoff: str = "auto"
    composition_source: str = "auto"
    composition_method: str = "counts"
    novelty: float = 0.25
    cell_volume: str = "auto"
    start_structures: tuple[str, ...] = ()
    start_time: float = 0.3
    start_types: str = "keep"
    start_symmetry: str = "free"

    @property
    def denoising_steps(self) -> int:
        """Steps the loop runs per batch: all of them, or those below the start time of a partial diffusion."""
        if not (self.start_structures or self.composition_source == "prototypes") or self.start_time >= 1.0:
            return self.steps
        import torch

        from backend.sampling.start import truncated_grid

        grid = torch.linspace(1.0, 1.0 / self.steps, self.steps).tolist()  # the sampler's grid (T = 1, eps = 1/N)
        return len(truncated_grid(grid, self.start_time))

    def starts(self) -> list[Structure]:
        """The start structures, one per crystal (a single one repeated)."""
        structures = [Structure.from_str(text, fmt="json") for text in self.start_structures]
        return structures * self.n if len(structures) == 1 else structures

    @property
    def max_atoms(self) -> int:
        """The model's range: the largest cell of its training-size histogram (20 for MP-20-trained models)."""
        return max(cell_histogram(self.num_atoms_distribution))

    @property
    def conditions(self) -> dict[str, object]:
        """Condition values in mattergen's property names and formats."""
        values: dict[str, object] = {}
        if self.chemical_system:
            values["chemical_system"] = "-".join(self.chemical_system)
        if self.space_group is not None and self.symmetry in ("condition", "both"):
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
        if self.atoms is not None and not 1 <= self.atoms <= MAX_GENERATED_ATOMS:
            raise InvalidRequest(f"atoms per cell must be between 1 and {MAX_GENERATED_ATOMS} (got {self.atoms})")
        if self.steps < 2:
            raise InvalidRequest(f"steps must be at least 2 (got {self.steps})")
        if self.seed < 0:
            raise InvalidRequest(f"seed must be non-negative (got {self.seed})")
        if self.batch_size < 1:
            raise InvalidRequest(f"batch size must be at least 1 (got {self.batch_size})")
        if self.guidance < 0:
            raise InvalidRequest(f"guidance factor must be >= 0 (got {self.guidance})")
        cell_histogram(self.num_atoms_distribution)
        self._validate_compositions(model)
        for name in self.conditions:
            if not model.supports(name):
                supported = ", ".join(model.conditions) or "nothing (unconditional)"
                hint = " (--symmetry constrain imposes a space group with any model)" if name == "space_group" else ""
                raise InvalidRequest(f"model '{model.name}' cannot condition on {name}; it supports {supported}{hint}")
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

    def _validate_assignment(self) -> None:
        """A fixed atom count or composition that no Wyckoff assignment of the group holds is refused now."""
        from backend.symmetry.wyckoff import NoAssignment, assign, feasible_counts

        try:
            for text in self.compositions:
                counts = {el.symbol: int(n) for el, n in Composition(parse_composition(text)).items()}
                assign(self.space_group, sum(counts.values()), counts, self.seed)
            if not self.compositions and self.atoms is not None:
                assign(self.space_group, self.atoms, None, self.seed)
            if not self.compositions and self.atoms is None and not feasible_counts(self.space_group, self.max_atoms):
                raise NoAssignment(
                    f"space group {self.space_group} has no Wyckoff assignment of at most {self.max_atoms} atoms"
                )
        except NoAssignment as exc:
            raise InvalidRequest(str(exc)) from None

    def _validate_starts(self, model: ModelInfo) -> None:
        if not 0.0 < self.start_time <= 1.0:
            raise InvalidRequest(f"start time must be in (0, 1] (got {self.start_time})")
        if self.start_types not in START_TYPES:
            raise InvalidRequest(f"start types must be one of {', '.join(START_TYPES)}")
        if self.start_symmetry not in START_SYMMETRY:
            raise InvalidRequest(f"start symmetry must be one of {', '.join(START_SYMMETRY)}")
        if self.start_symmetry == "keep" and self.start_types != "keep":
            raise InvalidRequest("keeping the start's symmetry keeps its atoms on their orbits: keep its types too")
        if self.composition_source == "prototypes" and self.space_group is not None:
            raise InvalidRequest("prototype seeds bring their own symmetry: give no space group with them")
        if not self.start_structures:
            return
        if len(self.start_structures) not in (1, self.n):
            given = len(self.start_structures)
            raise InvalidRequest(f"give one start structure or one per crystal ({self.n}), not {given}")
        if self.compositions or self.space_group is not None:
            raise InvalidRequest("a start structure fixes the composition: give no composition or space group with it")
        allowed = set(allowed_elements())
        for structure in self.starts()[: len(self.start_structures)]:
            formula = structure.composition.reduced_formula
            if not structure.is_ordered:
                raise InvalidRequest(f"start structure {formula} has partial occupancies: order it first")
            outside = sorted({el.symbol for el in structure.composition.elements} - allowed)
            if outside:
                names = ", ".join(outside)
                raise InvalidRequest(f"model '{model.name}' cannot place {names} (in start structure {formula})")
            if len(structure) > MAX_GENERATED_ATOMS:
                raise InvalidRequest(
                    f"start structure {formula} has {len(structure)} atoms; at most {MAX_GENERATED_ATOMS}"
                )

    def _validate_compositions(self, model: ModelInfo) -> None:
        if self.symmetry not in SYMMETRY_MODES:
            raise InvalidRequest(f"symmetry must be one of {', '.join(SYMMETRY_MODES)}")
        if self.space_group is not None and not 1 <= self.space_group <= 230:
            raise InvalidRequest(f"space group {self.space_group} is outside 1-230")
        if self.wyckoff != "auto":
            if self.space_group is None:
                raise InvalidRequest("a Wyckoff assignment needs a space group")
            from backend.symmetry.wyckoff import NoAssignment, parse_assignment

            try:
                assignment = parse_assignment(self.space_group, self.wyckoff)
            except NoAssignment as exc:
                raise InvalidRequest(str(exc)) from None
            outside = sorted({o.element for o in assignment.orbits} - set(allowed_elements()))
            if outside:
                raise InvalidRequest(f"model '{model.name}' cannot place {', '.join(outside)} (not in its element set)")
        if self.constrains_symmetry and self.wyckoff == "auto":
            self._validate_assignment()
        if self.composition_source not in COMPOSITION_SOURCES:
            raise InvalidRequest(f"composition source must be one of {', '.join(COMPOSITION_SOURCES)}")
        if self.cell_volume not in CELL_VOLUME_MODES:
            raise InvalidRequest(f"cell volume must be one of {', '.join(CELL_VOLUME_MODES)}")
        if self.composition_method not in ("counts", "pin"):
            raise InvalidRequest("composition method must be counts or pin")
        if not 0.0 <= self.novelty <= 1.0:
            raise InvalidRequest(f"novelty must be between 0 and 1 (got {self.novelty})")
        self._validate_starts(model)
        if not self.compositions:
            return
        if len(self.compositions) not in (1, self.n):
            raise InvalidRequest(f"give one composition or one per crystal ({self.n}), not {len(self.compositions)}")
        allowed = set(allowed_elements())
        for text in self.compositions:
            composition = Composition(parse_composition(text))
            atoms = int(composition.num_atoms)
            outside = [el.symbol for el in composition.elements if el.symbol not in allowed]
            if outside:
                raise InvalidRequest(f"model '{model.name}' cannot place {', '.join(outside)} (not in its element set)")
            if atoms > self.max_atoms:
                raise InvalidRequest(
                    f"{text} has {atoms} atoms; model '{model.name}' generates at most {self.max_atoms} per cell "
                    "(give fewer formula units)"
                )
            if self.chemical_system and not {el.symbol for el in composition.elements} <= set(self.chemical_system):
                system = "-".join(self.chemical_system)
                raise InvalidRequest(f"composition {text} is outside the chemical system {system}")
