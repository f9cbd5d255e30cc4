"""The training data: the shipped MP-20 subset, re-split by a hash of the material id, in mattergen's CSV layout."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from backend.train.settings import MP20_CSV, TrainSettings


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
