"""Batched relaxation vs one CHGNet StructOptimizer loop per structure, same 32 MP-20 structures, same fmax.

Each mode runs in its own process (so peak memory is its own); prints a markdown table.

    python benchmarks/relax.py --n 32 --fmax 0.05
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pymatgen.core import Structure  # noqa: E402

from backend.paths import ASSETS  # noqa: E402


def structures(n: int) -> list[Structure]:
    """``n`` MP-20 crystals (seeded pick), rattled by 0.05 Å so every relaxation has work to do."""
    frame = pd.read_csv(ASSETS / "data" / "mp20" / "mp20_subset.csv.gz").sample(n=n, random_state=1)
    out = []
    rng = np.random.default_rng(0)
    for cif in frame.cif:
        s = Structure.from_str(cif, fmt="cif")
        for i, shift in enumerate(rng.normal(scale=0.05, size=(len(s), 3))):
            s.translate_sites([i], shift, frac_coords=False)
        out.append(s)
    return out


def run_mode(mode: str, n: int, fmax: float, steps: int) -> dict:
    items = structures(n)
    started = time.perf_counter()
    if mode == "batched":
        from backend.relax import chgnet, relax_structures

        results = relax_structures(items, chgnet("cpu"), fmax=fmax, steps=steps)
        energies = [r.energy_per_atom for r in results]
        total_steps = sum(r.steps for r in results)
    else:
        from chgnet.model import StructOptimizer

        optimizer = StructOptimizer(use_device="cpu")
        energies, total_steps = [], 0
        for s in items:
            out = optimizer.relax(s, fmax=fmax, steps=steps, verbose=False)
            energies.append(float(out["trajectory"].energies[-1]) / len(s))
            total_steps += len(out["trajectory"].energies) - 1
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "energies": energies, "steps": total_steps, "peak_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--fmax", type=float, default=0.05)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--mode", choices=["batched", "sequential"], default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.n, args.fmax, args.steps)))
        return
    runs = {}
    for mode in ("sequential", "batched"):
        command = [
            sys.executable,
            __file__,
            "--mode",
            mode,
            "--n",
            str(args.n),
            "--fmax",
            str(args.fmax),
            "--steps",
            str(args.steps),
        ]
        runs[mode] = json.loads(
            subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1]
        )
    seq, bat = runs["sequential"], runs["batched"]
    diff = np.abs(np.array(seq["energies"]) - np.array(bat["energies"])) * 1000
    print(
        "| structures | fmax | StructOptimizer loop (s) | batched (s) | speed-up | FIRE steps (loop / batched) "
        "| max energy diff (meV/atom) | peak RSS loop / batched (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.n} | {args.fmax} | {seq['seconds']:.1f} | {bat['seconds']:.1f} "
        f"| {seq['seconds'] / bat['seconds']:.2f}x "
        f"| {seq['steps']} / {bat['steps']} | {diff.max():.2f} | {seq['peak_mb']:.0f} / {bat['peak_mb']:.0f} |"
    )


if __name__ == "__main__":
    main()
