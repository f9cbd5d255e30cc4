"""Lattice failures at exact compositions: how many crystals a diverging cell loses, with and without the
composition-aware cell volume.

16 compositions of 4-20 atoms (the first 16 CSP targets of that size, ``benchmarks/data/csp_targets.csv``), 4
crystals each, 100 steps, seed 0; both cell modes on the same requests.

    python benchmarks/lattice_failures.py
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

from backend.sampling import GenerationRequest, generate, load_model  # noqa: E402
from backend.sampling.cell_volume import composition_volume  # noqa: E402

TARGETS = "benchmarks/data/csp_targets.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modes", default="model,composition", help="cell modes to run: model, composition")
    args = parser.parse_args()
    model = load_model("default")
    formulas = [f for f in pd.read_csv(TARGETS).formula if 4 <= Composition(f).num_atoms <= 20][:16]
    rows = []
    for mode in args.modes.split(","):
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


if __name__ == "__main__":
    main()
