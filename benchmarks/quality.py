"""Sample quality of a model: validity, uniqueness, novelty of N samples, and chemical-system adherence.

python benchmarks/quality.py --n 256 --steps 100 --chemsys-n 32
"""

from __future__ import annotations

import argparse
import time

from backend.runtime import configure_threads

configure_threads()

import math  # noqa: E402

from backend.evaluation import batch_metrics  # noqa: E402
from backend.sampling import GenerationRequest, generate, load_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--chemsys-n", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = load_model(args.model)

    started = time.perf_counter()
    result = generate(model, GenerationRequest(n=args.n, atoms=None, steps=args.steps, seed=args.seed))
    sample_seconds = time.perf_counter() - started
    structures = [s for s in result.structures if s is not None]
    table, _ = batch_metrics(structures, [math.nan] * len(structures))
    n = args.n
    print(
        "| samples | steps | sampled (s) | lattice failures | structural valid | SMACT valid | valid | unique | novel |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {n} | {args.steps} | {sample_seconds:.0f} | {n - len(structures)} | "
        f"{table.structural_valid.sum() / n:.1%} | {table.compositional_valid.sum() / n:.1%} | "
        f"{table.valid.sum() / n:.1%} | {table.unique.sum() / n:.1%} | {table.novel.sum() / n:.1%} |"
    )

    request = GenerationRequest(
        n=args.chemsys_n, atoms=8, steps=args.steps, seed=args.seed, chemical_system=("Li", "O")
    )
    chem = generate(model, request)
    inside = sum(s is not None and {e.symbol for e in s.composition.elements} <= {"Li", "O"} for s in chem.structures)
    print(
        f"\nLi-O conditioned, 8 atoms: {inside} of {args.chemsys_n} crystals ({inside / args.chemsys_n:.0%}) "
        f"use only Li and O"
    )


if __name__ == "__main__":
    main()
