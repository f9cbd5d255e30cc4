"""Train the embedded default MatterGen model (``python -m backend.train``).

The model is MatterGen itself -- ``mattergen``'s diffusion module, GemNet-T denoiser and loss -- built from
``model.yaml`` at a size that samples interactively on a CPU. Training uses Lightning exactly as
mattergen's own ``run.py`` does, minus the cluster settings (DDP, wandb) that do not apply here. The
result is written in the published layout (``config.yaml`` + ``checkpoints/last.ckpt``) with weights only,
so the shipped checkpoint loads through the same path as a downloaded one.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
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


def _split_of(material_id: str, val_fraction: float) -> str:
    """Deterministic split by hashing the id, so re-running never leaks a crystal between splits."""
    bucket = int(hashlib.sha256(material_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if bucket < val_fraction else "train"


def prepare_dataset(settings: TrainSettings) -> tuple[Path, Path]:
    """Re-split the shipped MP-20 subset and build mattergen's numpy cache for each split."""
    from mattergen.common.data.dataset import CrystalDataset

    cache = settings.work_dir / "cache"
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(MP20_CSV)[["material_id", "cif"]]
    if settings.limit_structures:
        frame = frame.iloc[: settings.limit_structures]
    frame["split"] = [_split_of(m, settings.val_fraction) for m in frame.material_id]
    if not (frame.split == "val").any():  # tiny runs: Lightning's validation loop needs one crystal
        frame.loc[frame.index[-1], "split"] = "val"
    paths = []
    for split in ("train", "val"):
        target = cache / split
        if not (target / "pos.npy").exists():
            csv = settings.work_dir / f"{split}.csv"
            frame[frame.split == split].drop(columns="split").reset_index(drop=True).to_csv(csv, index=False)
            CrystalDataset.from_csv(csv_path=str(csv), cache_path=str(target))
        paths.append(target)
    return paths[0], paths[1]


def train(settings: TrainSettings) -> Path:
    """Train, then export weights only in the published layout; returns the model folder."""
    import pytorch_lightning as pl
    from hydra.utils import instantiate
    from mattergen.common.data.datamodule import CrystDataModule
    from mattergen.common.data.dataset import CrystalDataset
    from mattergen.common.data.transform import set_chemical_system_string, symmetrize_lattice

    pl.seed_everything(settings.seed, workers=True)
    train_path, val_path = prepare_dataset(settings)
    transforms = [symmetrize_lattice, set_chemical_system_string]
    datasets = {
        name: CrystalDataset.from_cache_path(cache_path=str(path), transforms=transforms)
        for name, path in (("train", train_path), ("val", val_path))
    }
    data = CrystDataModule(
        train_dataset=datasets["train"],
        val_dataset=datasets["val"],
        num_workers=OmegaConf.create({"train": 0, "val": 0}),
        batch_size=OmegaConf.create({"train": settings.batch_size, "val": settings.batch_size}),
    )
    cfg = model_config(settings.hidden, settings.small, settings.blocks, settings.neighbors, settings.lr)
    module = instantiate(cfg.lightning_module)
    ckpt_dir = settings.work_dir / "lightning"
    resume = ckpt_dir / "last.ckpt"
    before = {"epochs": 0, "optimizer_steps": 0, "wall_minutes": 0.0}
    if settings.init_from and not resume.exists():
        before = _continue_from(module, settings.init_from)
    trainer = pl.Trainer(
        accelerator=settings.accelerator,
        devices=1,
        max_epochs=settings.max_epochs,
        max_time={"minutes": settings.max_minutes},
        gradient_clip_val=0.5,
        gradient_clip_algorithm="value",
        logger=pl.loggers.CSVLogger(settings.work_dir, name="log"),
        callbacks=[
            pl.callbacks.ModelCheckpoint(
                dirpath=ckpt_dir, save_last=True, every_n_epochs=1, save_on_train_epoch_end=True
            )
        ],
        check_val_every_n_epoch=5,
        enable_progress_bar=True,
        log_every_n_steps=20,
    )
    started = time.time()
    trainer.fit(module, datamodule=data, ckpt_path=str(resume) if resume.exists() else None)
    minutes = (time.time() - started) / 60
    export(module, cfg, settings.out)
    report = {
        "train_structures": len(datasets["train"]),
        "val_structures": len(datasets["val"]),
        "epochs": before["epochs"] + trainer.current_epoch,
        "optimizer_steps": before["optimizer_steps"] + trainer.global_step,
        "wall_minutes": round(before["wall_minutes"] + minutes, 1),
        "continued_from": str(settings.init_from) if settings.init_from else None,
        "hardware": torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU x{torch.get_num_threads()}",
        "parameters": sum(p.numel() for p in module.parameters()),
        "val_loss": float(trainer.callback_metrics.get("loss_val", float("nan"))),
    }
    OmegaConf.save(OmegaConf.create(report), settings.out / "training.yaml")
    return settings.out


def _continue_from(module: torch.nn.Module, folder: Path) -> dict[str, float]:
    """Start from an exported model's weights (fresh optimiser); return its recorded training totals.

    The shipped checkpoint has no optimiser state, so a later session (or a GPU) can only continue it
    this way; totals add up in training.yaml so the README reports the whole run.
    """
    state = torch.load(folder / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    module.load_state_dict(state)
    done = OmegaConf.load(folder / "training.yaml") if (folder / "training.yaml").exists() else {}
    return {
        "epochs": int(done.get("epochs", 0)),
        "optimizer_steps": int(done.get("optimizer_steps", 0)),
        "wall_minutes": float(done.get("wall_minutes", done.get("wall_minutes_this_run", 0.0))),
    }


def export_last(settings: TrainSettings) -> Path:
    """Export the latest Lightning checkpoint of ``settings.work_dir`` (e.g. of a run still training)."""
    from hydra.utils import instantiate

    checkpoint = torch.load(settings.work_dir / "lightning" / "last.ckpt", map_location="cpu", weights_only=False)
    cfg = model_config(settings.hidden, settings.small, settings.blocks, settings.neighbors, settings.lr)
    module = instantiate(cfg.lightning_module)
    module.load_state_dict(checkpoint["state_dict"])
    export(module, cfg, settings.out)
    return settings.out


def export(module: torch.nn.Module, cfg: DictConfig, out: Path) -> None:
    """Write ``config.yaml`` and a weights-only ``checkpoints/last.ckpt`` (no optimiser state)."""
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out / "config.yaml")
    state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    torch.save({"state_dict": state}, out / "checkpoints" / "last.ckpt")
