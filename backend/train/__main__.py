"""``python -m backend.train --out DIR``: reproduce the embedded default checkpoint (CPU or GPU)."""

from __future__ import annotations

import argparse
from pathlib import Path

from backend.runtime import configure_threads

configure_threads()

from backend.thirdparty.patches import install  # noqa: E402

install()

from backend.train.loop import export_last, train  # noqa: E402
from backend.train.settings import TrainSettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m backend.train", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="model folder to write (config.yaml + checkpoints/)")
    parser.add_argument("--work-dir", type=Path, default=Path("runs/train"), help="data cache, logs, resumable state")
    parser.add_argument("--hidden", type=int, default=TrainSettings.hidden)
    parser.add_argument("--small", type=int, default=TrainSettings.small)
    parser.add_argument("--blocks", type=int, default=TrainSettings.blocks)
    parser.add_argument("--neighbors", type=int, default=TrainSettings.neighbors, help="GemNet max_neighbors")
    parser.add_argument("--batch-size", type=int, default=TrainSettings.batch_size)
    parser.add_argument("--lr", type=float, default=TrainSettings.lr)
    parser.add_argument("--max-minutes", type=float, default=TrainSettings.max_minutes)
    parser.add_argument("--max-epochs", type=int, default=TrainSettings.max_epochs)
    parser.add_argument("--seed", type=int, default=TrainSettings.seed)
    parser.add_argument("--accelerator", default=TrainSettings.accelerator, help="auto, cpu or gpu")
    parser.add_argument("--limit-structures", type=int, default=None, help="train on the first N crystals only")
    parser.add_argument("--init-from", type=Path, default=None, help="continue from an exported model folder's weights")
    parser.add_argument("--export-only", action="store_true", help="export WORK_DIR's last checkpoint and stop")
    args = parser.parse_args()
    settings = TrainSettings(
        out=args.out,
        work_dir=args.work_dir,
        hidden=args.hidden,
        small=args.small,
        blocks=args.blocks,
        neighbors=args.neighbors,
        batch_size=args.batch_size,
        lr=args.lr,
        max_minutes=args.max_minutes,
        max_epochs=args.max_epochs,
        seed=args.seed,
        accelerator=args.accelerator,
        limit_structures=args.limit_structures,
        init_from=args.init_from,
    )
    folder = export_last(settings) if args.export_only else train(settings)
    print(f"model written to {folder}")


if __name__ == "__main__":
    main()
