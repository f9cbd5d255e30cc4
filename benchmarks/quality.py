"""Sample quality of a model: V, U, N over every requested sample, composition statistics beside the training
data's, and chemical-system adherence. Stability needs relaxation: `crystal-canvas evaluate` on a generate folder.

python benchmarks/quality.py --n 256 --steps 100 --chemsys-n 32
"""

from __future__ import annotations

import argparse
import time

from backend.runtime import configure_threads

configure_threads()

from backend.metrics import batch_rates, statistics_table  # noqa: E402
from backend.sampling import GenerationRequest, generate, load_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100, help="the Generate page's default")
    parser.add_argument("--chemsys-n", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--composition-source", default="auto", choices=["auto", "proposer", "model"])
    args = parser.parse_args()
    model = load_model(args.model)

    started = time.perf_counter()
    request = GenerationRequest(
        n=args.n, atoms=None, steps=args.steps, seed=args.seed, composition_source=args.composition_source
    )
    result = generate(model, request)
    sample_seconds = time.perf_counter() - started
    _, rates = batch_rates(result.structures)
    failures = sum(s is None for s in result.structures)
    print(f"{args.n} samples, {args.steps} steps, sampled in {sample_seconds:.0f} s, {failures} failed generation\n")
    print("| metric | rate (numerator/denominator) | definition |")
    print("|---|---|---|")
    for (name, rate), definition in zip(rates.rates, rates.frame().definition):
        print(f"| {name} | {rate.text} | {definition} |")
    print()
    print(statistics_table([s for s in result.structures if s is not None]).to_markdown(index=False))

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
