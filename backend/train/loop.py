"""Training with Lightning as mattergen's own ``run.py`` does, and export in the published checkpoint layout."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from backend.train.data import prepare_dataset
from backend.train.settings import TrainSettings, model_config


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
