"""What a screen is asked for: the same keys work as CLI flags and in ``--config screen.toml``."""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class ScreenConfig:
    """Everything a screen needs; the same keys work as CLI flags and in ``--config screen.toml``."""

    out: Path
    model: str = "default"
    n: int = 64
    atoms: int | None = 8
    chemsys: str | None = None
    compositions: tuple[str, ...] = ()  # cell contents, taken in turn by the candidates (fix their atom counts)
    composition_source: str = "auto"  # without compositions: "proposer", "model" or the model's default
    steps: int = 200
    seed: int = 0
    guidance: float = 1.0
    batch_size: int = 16
    min_distance: float = 0.5
    require_charge_neutral: bool = True
    max_e_hull: float = 0.1
    fmax: float = 0.05
    relax_steps: int = 300
    relax_batch: int = 8
    device: str | None = None
    ray_address: str | None = None

    @property
    def batches(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def batch_sizes(self) -> list[int]:
        return [min(self.batch_size, self.n - b * self.batch_size) for b in range(self.batches)]

    @classmethod
    def from_toml(cls, path: Path, **overrides: object) -> ScreenConfig:
        values = tomllib.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown keys in {path}: {', '.join(unknown)}")
        merged = {**values, **{k: v for k, v in overrides.items() if v is not None}}
        merged["out"] = Path(merged["out"])
        if isinstance(merged.get("compositions"), str):
            merged["compositions"] = [merged["compositions"]]
        merged["compositions"] = tuple(merged.get("compositions", ()))
        return cls(**merged)


def config_dict(config: ScreenConfig) -> dict:
    values = asdict(config)
    values["out"] = str(config.out)
    return values
