"""The offline hull: load cost, LP against pymatgen's PhaseDiagram, many-element candidates, MP reproduction.

python benchmarks/hull.py --n 200

Run in a fresh process so that the first-use figures (load time, memory) are real.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from backend.runtime import configure_threads

configure_threads()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import psutil  # noqa: E402
from pymatgen.analysis.phase_diagram import PDEntry  # noqa: E402
from pymatgen.core import Composition  # noqa: E402

from backend.stability.hull import (  # noqa: E402
    assess,  # noqa: E402
    hull_energy,
    phase_diagram,
)
from backend.stability.reference import reference_table  # noqa: E402

CHECK = Path(__file__).resolve().parents[1] / "tests" / "data" / "mp_hull_check.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="random candidates of 2-4 elements for LP vs qhull")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.perf_counter()
    assess(Composition("Li2O"), -4.0)
    first = time.perf_counter() - started
    loaded = process.memory_info().rss - before

    table = reference_table()
    rng = np.random.default_rng(args.seed)
    systems = sorted({key for key in table.element_sets() if 2 <= len(key) <= 4})
    picks = [systems[i] for i in rng.choice(len(systems), size=args.n, replace=False)]
    worst, same, lp_time, pd_time, pd_build = 0.0, 0, 0.0, 0.0, 0.0
    for elements in picks:
        elements = sorted(elements)
        composition = Composition(dict(zip(elements, rng.integers(1, 6, size=len(elements)).tolist())))
        e_form = float(rng.uniform(-3.0, 0.5))
        t0 = time.perf_counter()
        hull, phases = hull_energy(composition)
        t1 = time.perf_counter()
        diagram = phase_diagram("-".join(elements))
        t2 = time.perf_counter()
        decomposition, theirs = diagram.get_decomp_and_e_above_hull(
            PDEntry(composition, e_form * composition.num_atoms), allow_negative=True
        )
        t3 = time.perf_counter()
        lp_time, pd_build, pd_time = lp_time + t1 - t0, pd_build + t2 - t1, pd_time + t3 - t2
        worst = max(worst, abs((e_form - hull) - theirs))
        ours = {p.formula: round(p.fraction, 6) for p in phases}
        pymatgen = {e.composition.reduced_formula: round(a, 6) for e, a in decomposition.items()}
        same += ours == pymatgen

    many = Composition("LiNaKMgCaSrBaAlSiO10")
    t0 = time.perf_counter()
    repeats = 20
    for _ in range(repeats):
        assess(many, -6.0)
    many_time = (time.perf_counter() - t0) / repeats

    check = pd.read_csv(CHECK)
    errors = np.array(
        [
            abs(max(e - hull_energy(Composition(json.loads(c)))[0], 0.0) - mp)
            for c, e, mp in zip(check.composition, check.e_form_per_atom_gga, check.e_above_hull_mp_mixed)
        ]
    )

    print("| measure | value |")
    print("|---|---|")
    print(f"| first E_hull of a process (table load included) | {first:.2f} s |")
    print(f"| memory added by the table | {loaded / 1e6:.0f} MB |")
    print(
        f"| LP vs PhaseDiagram, {args.n} random candidates of 2-4 elements: max abs difference | {worst:.1e} eV/atom |"
    )
    print(f"| same decomposition (phases and fractions to 1e-6) | {same}/{args.n} |")
    print(f"| LP per candidate (mean) | {1000 * lp_time / args.n:.1f} ms |")
    print(
        f"| PhaseDiagram per system: build / query (mean) | {1000 * pd_build / args.n:.0f} ms / "
        f"{1000 * pd_time / args.n:.1f} ms |"
    )
    print(f"| 10-element candidate ({many.reduced_formula}), LP assess | {1000 * many_time:.1f} ms |")
    print(
        f"| MP reproduction, {len(errors)} unstable GGA entries of 2-4 elements: within 10 / 50 meV | "
        f"{np.mean(errors < 0.01):.1%} / {np.mean(errors < 0.05):.1%} |"
    )


if __name__ == "__main__":
    main()
