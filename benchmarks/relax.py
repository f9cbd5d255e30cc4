"""Batched relaxation vs one CHGNet StructOptimizer loop per structure, same 32 MP-20 structures, same fmax.

Each configuration runs in its own process (so peak memory and thread settings are its own), one after
the other on an otherwise idle machine, in ``--repeat`` rounds; prints a markdown table of medians. The
fair two-core baseline is the loop in two processes at once, each relaxing every other structure: both
load the model, wait for a common start time, and the wall time runs to the later one's end.

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


def run_mode(mode: str, n: int, fmax: float, steps: int, lanes: int, part: int, parts: int, start_at: float) -> dict:
    """Relax structures ``part, part + parts, ...`` of ``n`` in this process; the clock starts once the model is
    loaded, or at ``start_at`` (epoch seconds) when processes run side by side."""
    items = structures(n)[part::parts]
    if mode == "batched":
        from backend.relax.potentials import CHGNetPotential
        from backend.relax.relaxer import relax_structures

        potential = CHGNetPotential("cpu", lanes=lanes)
        started = _wait_until(start_at)
        results = relax_structures(items, potential, fmax=fmax, steps=steps)
        energies = [r.energy_per_atom for r in results]
        total_steps = sum(r.steps for r in results)
    else:
        from chgnet.model import StructOptimizer

        optimizer = StructOptimizer(use_device="cpu")
        started = _wait_until(start_at)
        energies, total_steps = [], 0
        for s in items:
            out = optimizer.relax(s, fmax=fmax, steps=steps, verbose=False)
            energies.append(float(out["trajectory"].energies[-1]) / len(s))
            # the observer records the start, every step, and once more after the run: steps + 2 entries
            total_steps += len(out["trajectory"].energies) - 2
    seconds = time.time() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "energies": energies, "steps": total_steps, "peak_mb": peak_mb, "part": part}


def _wait_until(start_at: float) -> float:
    """Sleep to ``start_at`` (0: start now); return the start time (epoch seconds)."""
    if start_at:
        time.sleep(max(0.0, start_at - time.time()))
        return start_at
    return time.time()


# (label, mode, torch threads, lanes, processes): the loop on one and on two torch threads and in two
# processes (the fair two-core baseline), the batched relaxation on one core and on every core (one
# single-threaded lane per core, the product's default on CPU).
CONFIGURATIONS = [
    ("StructOptimizer loop, 1 thread", "sequential", 1, 1, 1),
    ("StructOptimizer loop, 2 threads", "sequential", 2, 1, 1),
    ("StructOptimizer loop, 2 processes x 1 thread", "sequential", 1, 1, 2),
    ("batched, 1 lane x 1 thread", "batched", 1, 1, 1),
    ("batched, 2 lanes x 1 thread", "batched", 1, 2, 1),
]
MODEL_LOAD_SECONDS = 40  # side-by-side processes start together this long after launch


def run_configuration(args: argparse.Namespace, mode: str, threads: int, lanes: int, processes: int) -> dict:
    """One configuration, its processes side by side; energies back in structure order."""
    start_at = time.time() + MODEL_LOAD_SECONDS if processes > 1 else 0.0
    env = {**os.environ, **{var: str(threads) for var in THREAD_VARS}}
    launched = []
    for part in range(processes):
        command = [sys.executable, __file__, "--mode", mode, "--lanes", str(lanes), "--start-at", str(start_at)]
        command += ["--part", str(part), "--parts", str(processes)]
        command += ["--n", str(args.n), "--fmax", str(args.fmax), "--steps", str(args.steps)]
        launched.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env))
    outs = []
    for process in launched:
        stdout, _ = process.communicate()
        if process.returncode:
            raise SystemExit(f"{mode} run failed")
        outs.append(json.loads(stdout.splitlines()[-1]))
    energies = [0.0] * args.n
    for out in outs:
        energies[out["part"] :: processes] = out["energies"]
    return {
        "seconds": max(out["seconds"] for out in outs),
        "energies": energies,
        "steps": sum(out["steps"] for out in outs),
        "peak_mb": max(out["peak_mb"] for out in outs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--fmax", type=float, default=0.05)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the table gives medians")
    parser.add_argument("--mode", choices=["batched", "sequential"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--lanes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--parts", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        out = run_mode(args.mode, args.n, args.fmax, args.steps, args.lanes, args.part, args.parts, args.start_at)
        print(json.dumps(out))
        return
    runs: dict[str, list[dict]] = {label: [] for label, *_ in CONFIGURATIONS}
    for _ in range(args.repeat):  # rounds of every configuration, so that a slow spell hits all of them
        for label, *setting in CONFIGURATIONS:
            runs[label].append(run_configuration(args, *setting))
    seconds = {label: statistics.median(r["seconds"] for r in rounds) for label, rounds in runs.items()}
    reference = runs[CONFIGURATIONS[0][0]][0]
    two_process_loop = seconds["StructOptimizer loop, 2 processes x 1 thread"]
    print(f"{args.n} MP-20 structures, fmax {args.fmax} eV/Å, model loading not timed, median of {args.repeat}\n")
    print(
        "| configuration | wall (s), median | each run (s) | vs the loop in 2 processes | FIRE steps "
        "| max energy diff vs loop (meV/atom) | peak RSS (MB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, rounds in runs.items():
        diff = max(np.abs(np.array(r["energies"]) - np.array(reference["energies"])).max() for r in rounds) * 1000
        each = " / ".join(f"{r['seconds']:.1f}" for r in rounds)
        print(
            f"| {label} | {seconds[label]:.1f} | {each} | {two_process_loop / seconds[label]:.2f}x "
            f"| {rounds[0]['steps']} | {diff:.2f} | {max(r['peak_mb'] for r in rounds):.0f} |"
        )


if __name__ == "__main__":
    main()
