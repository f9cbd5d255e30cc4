"""Batched relaxation vs one CHGNet StructOptimizer loop per structure, same 32 MP-20 structures, same fmax.

Each configuration runs in its own process (so peak memory and thread settings are its own), one after
the other on an otherwise idle machine, in ``--repeat`` rounds; prints a markdown table of medians.

    python benchmarks/relax.py --n 32 --fmax 0.05
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from backend.runtime import THREAD_VARS, configure_threads, quiet_library_warnings

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


def run_mode(mode: str, n: int, fmax: float, steps: int, lanes: int) -> dict:
    """Relax ``n`` structures in this process; the clock starts once the model is loaded."""
    items = structures(n)
    if mode == "batched":
        from backend.relax import relax_structures
        from backend.relax.potentials import CHGNetPotential

        potential = CHGNetPotential("cpu", lanes=lanes)
        started = time.perf_counter()
        results = relax_structures(items, potential, fmax=fmax, steps=steps)
        energies = [r.energy_per_atom for r in results]
        total_steps = sum(r.steps for r in results)
    else:
        from chgnet.model import StructOptimizer

        optimizer = StructOptimizer(use_device="cpu")
        started = time.perf_counter()
        energies, total_steps = [], 0
        for s in items:
            out = optimizer.relax(s, fmax=fmax, steps=steps, verbose=False)
            energies.append(float(out["trajectory"].energies[-1]) / len(s))
            total_steps += len(out["trajectory"].energies) - 1
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "energies": energies, "steps": total_steps, "peak_mb": peak_mb}


# (label, mode, torch threads, lanes): the loop on one and on two torch threads, the batched relaxation on
# one core and on every core (one single-threaded lane per core, the product's default on CPU).
CONFIGURATIONS = [
    ("StructOptimizer loop, 1 thread", "sequential", 1, 1),
    ("StructOptimizer loop, 2 threads", "sequential", 2, 1),
    ("batched, 1 lane x 1 thread", "batched", 1, 1),
    ("batched, 2 lanes x 1 thread", "batched", 1, 2),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--fmax", type=float, default=0.05)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the table gives medians")
    parser.add_argument("--mode", choices=["batched", "sequential"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--lanes", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.n, args.fmax, args.steps, args.lanes)))
        return
    runs: dict[str, list[dict]] = {label: [] for label, *_ in CONFIGURATIONS}
    for _ in range(args.repeat):  # rounds of every configuration, so that a slow spell hits all of them
        for label, mode, threads, lanes in CONFIGURATIONS:
            command = [sys.executable, __file__, "--mode", mode, "--lanes", str(lanes)]
            command += ["--n", str(args.n), "--fmax", str(args.fmax), "--steps", str(args.steps)]
            env = {**os.environ, **{var: str(threads) for var in THREAD_VARS}}
            done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            runs[label].append(json.loads(done.stdout.splitlines()[-1]))
    seconds = {label: statistics.median(r["seconds"] for r in rounds) for label, rounds in runs.items()}
    reference = runs[CONFIGURATIONS[0][0]][0]
    best_loop = min(seconds[label] for label, mode, *_ in CONFIGURATIONS if mode == "sequential")
    print(f"{args.n} MP-20 structures, fmax {args.fmax} eV/Å, model loading not timed, median of {args.repeat}\n")
    print(
        "| configuration | wall (s), median | each run (s) | vs the loop's best | FIRE steps "
        "| max energy diff vs loop (meV/atom) | peak RSS (MB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, rounds in runs.items():
        diff = max(np.abs(np.array(r["energies"]) - np.array(reference["energies"])).max() for r in rounds) * 1000
        each = " / ".join(f"{r['seconds']:.1f}" for r in rounds)
        print(
            f"| {label} | {seconds[label]:.1f} | {each} | {best_loop / seconds[label]:.2f}x | {rounds[0]['steps']} "
            f"| {diff:.2f} | {max(r['peak_mb'] for r in rounds):.0f} |"
        )


if __name__ == "__main__":
    main()
