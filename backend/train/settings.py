"""What a training run is asked for, and the MatterGen model config it builds (from ``model.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from backend.paths import ASSETS

MODEL_TEMPLATE = Path(__file__).with_name("model.yaml")
MP20_CSV = ASSETS / "data" / "mp20" / "mp20_subset.csv.gz"


@dataclass(frozen=True)
class TrainSettings:
    """What a training run needs; defaults reproduce the shipped checkpoint."""

    out: Path
    work_dir: Path
    hidden: int = 96
    small: int = 24
    blocks: int = 2
    neighbors: int = 20
    batch_size: int = 64
    lr: float = 5e-4
    max_minutes: float = 120.0
    max_epochs: int = 10_000
    val_fraction: float = 0.05
    seed: int = 0
    accelerator: str = "auto"
    limit_structures: int | None = None
    init_from: Path | None = None


def model_config(hidden: int, small: int, blocks: int, neighbors: int, lr: float) -> DictConfig:
    """The resolved MatterGen config for a model of the given size (same keys as published configs)."""
    cfg = OmegaConf.load(MODEL_TEMPLATE)
    cfg.hidden, cfg.small, cfg.blocks, cfg.neighbors = hidden, small, blocks, neighbors
    cfg.latent = hidden * (1 + len(cfg.lightning_module.diffusion_module.model.property_embeddings))
    cfg.lightning_module.optimizer_partial.lr = lr
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for key in ("hidden", "small", "blocks", "neighbors", "latent"):
        resolved.pop(key)
    return OmegaConf.create(resolved)
