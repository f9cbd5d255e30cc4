"""De-novo generation: single-stage vs composition-first vs prototype-seeded, same model and sample count, one run.

Single-stage: the model chooses its own atom types (``composition_source="model"``). Composition-first: each crystal
gets a composition from the proposer (MP-mined, SMACT charge-balanced, 25 % by ionic substitution), then a
structure at exactly that content. Prototype-seeded (``composition_source="prototypes"``): the proposer's
compositions (among those with a prototype of another composition), each started from such a prototype with its
elements substituted, noised to t0 and denoised. All: 100 steps, seed 0, every crystal relaxed with CHGNet (fmax
0.05 eV/Å, 300 steps) and placed on the offline hull; every rate is over all requested samples, with the
definitions of ``backend/metrics/rates.py``.

    python benchmarks/dng.py --n 64 --steps 100 --arms single,proposer,prototypes --seed-times 0.3
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

from backend.evaluation import relax_requested  # noqa: E402
from backend.metrics.rates import batch_rates  # noqa: E402
from backend.metrics.statistics import composition_statistics, training_statistics  # noqa: E402
from backend.relax.potentials import chgnet  # noqa: E402
from backend.sampling.composition import proposals  # noqa: E402
from backend.sampling.generate import generate  # noqa: E402
from backend.sampling.models import load_model  # noqa: E402
from backend.sampling.request import GenerationRequest  # noqa: E402

HEADLINE = (
    "V",
    "V (SMACT)",
    "U",
    "N (composition)",
    "S (<= 0.1 eV/atom)",
    "S.U.N. (composition)",
    "V.S.U.N. (composition)",
    "S.U.N. (structure)",
    "V.S.U.N. (structure)",
)


def arm(model: object, label: str, requests: list[GenerationRequest]) -> tuple[dict, dict]:
    started = time.perf_counter()
    structures = []
    for request in requests:
        structures += list(generate(model, request).structures)
    sampled = time.perf_counter() - started
    reports = relax_requested(structures, chgnet(), fmax=0.05, steps=300)
    relaxed = [r.relaxed if r else None for r in reports]
    e_hull = [r.e_above_hull if r else np.nan for r in reports]
    _, rates = batch_rates(relaxed, e_hull)
    by_name = dict(rates.rates)
    small = sum(s is not None and len(s.composition) <= 4 for s in structures)
    row = {
        "arm": label,
        "samples": len(structures),
        "<= 4 elements": f"{small / len(structures):.1%} ({small}/{len(structures)})",
        **{k: by_name[k].text for k in HEADLINE if k in by_name},
    }
    stats = composition_statistics([s for s in structures if s is not None]).row(label)
    stats["sampling (s)"] = round(sampled)
    stats["relaxed"] = sum(s is not None for s in relaxed)
    return row, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arms", default="single,proposer,prototypes", help="comma-separated arms to run")
    parser.add_argument("--seed-times", default="0.3", help="t0 of the prototype-seeded arm, comma-separated")
    args = parser.parse_args()
    model = load_model("default")
    first = GenerationRequest(n=args.n, atoms=None, steps=args.steps, seed=args.seed, composition_source="proposer")
    arms: list[tuple[str, list[GenerationRequest]]] = []
    chosen = args.arms.split(",")
    if "single" in chosen:
        sizes = [int(Composition(p.formula).num_atoms) for p in proposals(first, model.info)]
        single = [
            GenerationRequest(n=1, atoms=size, steps=args.steps, seed=args.seed * 1000 + i, composition_source="model")
            for i, size in enumerate(sizes)
        ]
        arms.append(("single-stage (model's own types)", single))
    if "proposer" in chosen:
        arms.append(("composition-first (proposer)", [first]))
    if "prototypes" in chosen:
        for t0 in (float(t) for t in args.seed_times.split(",")):
            seeded = GenerationRequest(
                n=args.n, atoms=None, steps=args.steps, seed=args.seed, composition_source="prototypes", start_time=t0
            )
            arms.append((f"prototype-seeded (t0 {t0:g})", [seeded]))
    rows, stats = [], []
    for label, requests in arms:
        row, stat = arm(model, label, requests)
        rows.append(row)
        stats.append(stat)
    stats.append(training_statistics().row("training data (MP-20 subset)"))
    print(pd.DataFrame(rows).to_markdown(index=False))
    print()
    print(pd.DataFrame(stats).to_markdown(index=False))


if __name__ == "__main__":
    main()
