"""What a screen is asked for: the same keys work as CLI flags, in ``--config screen.toml`` and in the Screening
page's form, and :meth:`ScreenConfig.validate` is the one place all three are checked."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from backend.sampling.model_info import ModelInfo
from backend.sampling.request import GenerationRequest, InvalidRequest

# Keys a rerun of an existing screen folder may change: they are re-applied to what was already relaxed. Every
# other key decides what was generated, filtered or relaxed, so a folder holds one value of each.
THRESHOLD_KEYS = ("max_e_hull", "shortlist_size", "device", "ray_address", "batch_size", "relax_batch")
MAX_CANDIDATES = 100_000
MAX_E_HULL = 1.0  # eV/atom: beyond this a "shortlist" holds everything the hull has
SCREEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ScreenConfig:
    """Everything a screen needs; the same keys work as CLI flags and in ``--config screen.toml``."""

    out: Path
    model: str = "default"
    n: int = 64
    atoms: int | None = 8
    chemsys: str | None = None
    compositions: tuple[str, ...] = ()  # cell contents, taken in turn by the candidates (fix their atom counts)
    composition_source: str = "auto"  # without compositions: "proposer", "prototypes", "model" or the default
    space_group: int | None = None  # imposed on every candidate by the symmetry hook
    steps: int = 200
    seed: int = 0
    guidance: float = 1.0
    batch_size: int = 16
    min_distance: float = 0.5
    require_charge_neutral: bool = True
    max_e_hull: float = 0.1
    shortlist_size: int | None = None  # the best this many under max_e_hull; None: all of them
    phonons: bool = False  # stage 4: phonons of the candidates under max_e_hull; the shortlist keeps stable ones
    bulk_modulus_min: float | None = None  # stage 4: bulk modulus (EOS) filter, GPa
    fmax: float = 0.05
    relax_steps: int = 300
    relax_batch: int = 8
    device: str | None = None
    ray_address: str | None = None

    @property
    def verifies(self) -> bool:
        """Whether the screen has the verification stage (phonons or a property filter)."""
        return self.phonons or self.bulk_modulus_min is not None

    @property
    def batches(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def batch_sizes(self) -> list[int]:
        return [min(self.batch_size, self.n - b * self.batch_size) for b in range(self.batches)]

    def request(self, batch: int) -> GenerationRequest:
        """The generation request of one batch: its own seed, so any batch can be (re)generated alone."""
        from backend.sampling.request import parse_chemical_system, parse_composition

        size = self.batch_sizes()[batch]
        first = batch * self.batch_size
        given = [parse_composition(text) for text in self.compositions]
        return GenerationRequest(
            n=size,
            atoms=None if given else self.atoms,
            compositions=tuple(given[(first + k) % len(given)] for k in range(size)) if given else (),
            composition_source=self.composition_source,
            chemical_system=parse_chemical_system(self.chemsys) if self.chemsys else None,
            space_group=self.space_group,
            steps=self.steps,
            seed=self.seed * 1_000_003 + batch,
            guidance=self.guidance,
            batch_size=size,
        )

    def validate(self, model: ModelInfo) -> ScreenConfig:
        """Raise :class:`InvalidRequest` with one line for the user (CLI, config file or page), or return self."""
        if not self.chemsys and not self.compositions:
            raise InvalidRequest("a screen needs elements: give a chemical system (e.g. Li-Fe-O) or compositions")
        if not 1 <= self.n <= MAX_CANDIDATES:
            raise InvalidRequest(f"number of candidates must be between 1 and {MAX_CANDIDATES} (got {self.n})")
        if not 0 < self.min_distance <= 3:
            raise InvalidRequest(f"minimum distance must be in (0, 3] Å (got {self.min_distance})")
        if not 0 <= self.max_e_hull <= MAX_E_HULL:
            raise InvalidRequest(f"E_above_hull threshold must be between 0 and {MAX_E_HULL} eV/atom")
        if self.shortlist_size is not None and self.shortlist_size < 1:
            raise InvalidRequest(f"shortlist size must be at least 1 (got {self.shortlist_size})")
        if self.bulk_modulus_min is not None and not 0 <= self.bulk_modulus_min <= 1000:
            raise InvalidRequest(f"bulk modulus filter must be between 0 and 1000 GPa (got {self.bulk_modulus_min})")
        if not 0 < self.fmax <= 1:
            raise InvalidRequest(f"force tolerance fmax must be in (0, 1] eV/Å (got {self.fmax})")
        if self.relax_steps < 1 or self.relax_batch < 1:
            raise InvalidRequest("relaxation steps and relaxation batch must be at least 1")
        self.request(0).validate(model)
        return self

    def differs_beyond_thresholds(self, other: ScreenConfig) -> list[str]:
        """Keys that decide a screen's generated or relaxed candidates and differ between the two configs."""
        return [
            f.name
            for f in fields(self)
            if f.name not in (*THRESHOLD_KEYS, "out") and getattr(self, f.name) != getattr(other, f.name)
        ]

    def with_thresholds(self, **values: object) -> ScreenConfig:
        unknown = set(values) - set(THRESHOLD_KEYS)
        if unknown:
            raise ValueError(f"not a threshold: {', '.join(sorted(unknown))}")
        return replace(self, **values)

    @classmethod
    def from_dict(cls, values: dict) -> ScreenConfig:
        """From a TOML table, ``screen.json`` or a stored job's parameters (lists where tuples belong)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(unknown)}")
        merged = dict(values)
        merged["out"] = Path(merged["out"])
        if isinstance(merged.get("compositions"), str):
            merged["compositions"] = [merged["compositions"]]
        merged["compositions"] = tuple(merged.get("compositions", ()))
        return cls(**merged)

    @classmethod
    def from_toml(cls, path: Path, **overrides: object) -> ScreenConfig:
        values = tomllib.loads(Path(path).read_text())
        try:
            return cls.from_dict({**values, **{k: v for k, v in overrides.items() if v is not None}})
        except ValueError as exc:
            raise ValueError(f"{exc} in {path}") from None

    @classmethod
    def read(cls, folder: Path) -> ScreenConfig:
        """The config a screen folder was (last) run with, pointing at the folder where it now is."""
        import json

        return cls.from_dict({**json.loads((folder / "screen.json").read_text()), "out": folder})


def config_dict(config: ScreenConfig) -> dict:
    values = asdict(config)
    values["out"] = str(config.out)
    return values


def small_screen(out: Path) -> ScreenConfig:
    """The Screening page's default: 32 candidates of 8 atoms at 100 steps, a few minutes on a laptop CPU
    (estimate and measured time in benchmarks/README); the CLI's defaults are for longer, unattended runs."""
    return ScreenConfig(out=out, n=32, atoms=8, chemsys="Li-Fe-O", steps=100, batch_size=8)
