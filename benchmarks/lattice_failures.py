"""Lattice failures at exact compositions: how many crystals a diverging cell loses, with and without the
composition-aware cell volume.

16 compositions of 4-20 atoms (the first 16 CSP targets of that size, ``benchmarks/data/csp_targets.csv``), 4
crystals each, 100 steps, seed 0; both cell modes on the same requests.

    python benchmarks/lattice_failures.py
    python benchmarks/lattice_failures.py --modes composition --default-path 256   # + the default path, 64 a seed
"""

from __future__ import annotations

import argparse
import time

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pymatgen.core import Composition  # noqa: E402

from backend.prototypes.index import composition_volume  # noqa: E402
from backend.sampling.generate import generate  # noqa: E402
from backend.sampling.models import load_model  # noqa: E402
from backend.sampling.request import GenerationRequest  # noqa: E402

TARGETS = "benchmarks/data/csp_targets.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modes", default="model,composition", help="cell modes to run: model, composition")
    parser.add_argument("--default-path", type=int, default=0, help="also N composition-first crystals, 64 a seed")
    args = parser.parse_args()
    model = load_model("default")
    if args.default_path:
        default_path(model, args.default_path)
    formulas = [f for f in pd.read_csv(TARGETS).formula if 4 <= Composition(f).num_atoms <= 20][:16]
    rows = []
    for mode in [m for m in args.modes.split(",") if m]:
        started = time.perf_counter()
        failures, errors, retried = [], [], 0
        for index, formula in enumerate(formulas):
            request = GenerationRequest(
                n=4, atoms=None, compositions=(formula,), steps=100, seed=index, cell_volume=mode
            )
            result = generate(model, request)
            failures += [f for f in result.failures if f and "lattice" in f]
            retried += result.retried_steps
            expected = composition_volume(Composition(formula))
            errors += [abs(s.volume / expected - 1) for s in result.structures if s is not None]
        rows.append(
            {
                "cell": "model's own" if mode == "model" else "composition-aware (hook)",
                "crystals": 4 * len(formulas),
                "lattice failures": f"{len(failures)} ({len(failures) / (4 * len(formulas)):.1%})",
                "steps retried": retried,
                "median |V / V_composition - 1|": round(float(np.median(errors)), 3),
                "sampling (s)": round(time.perf_counter() - started),
            }
        )
        print(f"{mode}: {failures}")
    print(f"compositions: {', '.join(formulas)}\n")
    print(pd.DataFrame(rows).to_markdown(index=False))


def default_path(model: object, n: int) -> None:
    """The product's default generation (composition-first, 100 steps) in batches of 64, seeds 0, 1, ...: lattice
    failures and retried steps."""
    started = time.perf_counter()
    failures, retried = [], 0
    for seed, first in enumerate(range(0, n, 64)):
        size = min(64, n - first)
        result = generate(model, GenerationRequest(n=size, atoms=None, steps=100, seed=seed, batch_size=64))
        failures += [f for f in result.failures if f and "lattice" in f]
        retried += result.retried_steps
    seconds = time.perf_counter() - started
    print(f"default path: {n} crystals, {len(failures)} lattice failures, {retried} steps retried, {seconds:.0f} s")


if __name__ == "__main__":
    main()
