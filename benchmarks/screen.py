"""Screening throughput: candidates per minute locally and with 1 and 2 Ray workers, and time per stage.

python benchmarks/screen.py --n 32 --steps 50
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

from backend.screening.config import ScreenConfig  # noqa: E402
from backend.screening.screen import Screen  # noqa: E402


def run(config: ScreenConfig, workers: int | None) -> tuple[float, Screen]:
    screen = Screen(config)
    started = time.perf_counter()
    screen.run(num_cpus=workers)
    if workers is not None:
        import ray

        ray.shutdown()
    return time.perf_counter() - started, screen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp())
    rows = []
    for label, workers in (("local (threads)", None), ("Ray, 1 worker", 1), ("Ray, 2 workers", 2)):
        config = ScreenConfig(
            out=root / label.replace(" ", "_"),
            n=args.n,
            atoms=8,
            steps=args.steps,
            batch_size=8,
            relax_steps=200,
            ray_address=None if workers is None else "local",
        )
        seconds, screen = run(config, workers)
        rows.append((label, seconds, screen))
    base = rows[0][1]  # the local run: same machine, no Ray
    print("| executor | candidates | steps | wall (s) | candidates/min | vs local |")
    print("|---|---|---|---|---|---|")
    for label, seconds, _ in rows:
        print(
            f"| {label} | {args.n} | {args.steps} | {seconds:.0f} | {60 * args.n / seconds:.1f} | "
            f"{base / seconds:.2f}x |"
        )
    funnels = [screen.funnel() for _, _, screen in rows]
    same = all(funnel.equals(funnels[0]) for funnel in funnels[1:])
    print(f"\nSame funnel table locally and on Ray (same seed): {same}")
    print(funnels[0].to_string(index=False))
    timings = rows[0][2].timings
    total = sum(timings.values())
    print("\nLocal run, share of stage time: " + ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in timings.items()))
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
