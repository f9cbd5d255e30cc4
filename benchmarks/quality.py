"""Sample quality of a model: V, U, N over every requested sample, composition statistics beside the training
data's, chemical-system adherence, lattice failures, and how close each generated cell is to the cell CHGNet relaxes
it to (|V_generated / V_relaxed - 1|; ``--relax-steps 0`` skips it). Stability needs the hull: `crystal-canvas
evaluate` on a generate folder.

python benchmarks/quality.py --n 256 --steps 100 --chemsys-n 32 --cell-volume composition
"""

from __future__ import annotations

import argparse
import time

from backend.runtime import configure_threads

configure_threads()

import numpy as np  # noqa: E402

from backend.metrics.rates import batch_rates  # noqa: E402
from backend.metrics.statistics import statistics_table  # noqa: E402
from backend.relax.potentials import chgnet  # noqa: E402
from backend.relax.relaxer import relax_structures  # noqa: E402
from backend.sampling.generate import generate  # noqa: E402
from backend.sampling.models import load_model  # noqa: E402
from backend.sampling.request import CELL_VOLUME_MODES, GenerationRequest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100, help="the Generate page's default")
    parser.add_argument("--chemsys-n", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--composition-source", default="auto", choices=["auto", "proposer", "model"])
    parser.add_argument("--cell-volume", default="auto", choices=CELL_VOLUME_MODES)
    parser.add_argument("--relax-steps", type=int, default=300, help="FIRE steps (fmax 0.05 eV/Å); 0: no relaxation")
    args = parser.parse_args()
    model = load_model(args.model)

    started = time.perf_counter()
    request = GenerationRequest(
        n=args.n,
        atoms=None,
        steps=args.steps,
        seed=args.seed,
        composition_source=args.composition_source,
        cell_volume=args.cell_volume,
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
    lattice = [f for f in result.failures if f and "lattice" in f]
    print(f"\nlattice failures: {len(lattice)} of {args.n} ({len(lattice) / args.n:.1%}): {lattice}")
    if args.relax_steps:
        volume_agreement([s for s in result.structures if s is not None], args.relax_steps)

    request = GenerationRequest(
        n=args.chemsys_n, atoms=8, steps=args.steps, seed=args.seed, chemical_system=("Li", "O")
    )
    chem = generate(model, request)
    inside = sum(s is not None and {e.symbol for e in s.composition.elements} <= {"Li", "O"} for s in chem.structures)
    print(
        f"\nLi-O conditioned, 8 atoms: {inside} of {args.chemsys_n} crystals ({inside / args.chemsys_n:.0%}) "
        f"use only Li and O"
    )


def volume_agreement(structures: list, steps: int) -> None:
    """How far each generated cell's volume is from the volume CHGNet relaxes it to."""
    started = time.perf_counter()
    results = relax_structures(structures, chgnet(), fmax=0.05, steps=steps)
    ratio = np.array([r.initial.volume / r.structure.volume for r in results if r.ok])
    error = np.abs(ratio - 1)
    per_atom = np.array([s.volume / len(s) for s in structures])
    print(
        f"\nvolume per atom of the {len(structures)} generated: median {np.median(per_atom):.1f} Å³ "
        f"(IQR {np.percentile(per_atom, 25):.1f}-{np.percentile(per_atom, 75):.1f})\n"
        f"relaxed {len(ratio)} of {len(structures)} (CHGNet, fmax 0.05 eV/Å, {steps} FIRE steps, "
        f"{time.perf_counter() - started:.0f} s); |V_generated / V_relaxed - 1|: median {np.median(error):.3f}, "
        f"within 25 %: {np.mean(error < 0.25):.1%} ({int(np.sum(error < 0.25))}/{len(ratio)}), "
        f"median V_generated / V_relaxed {np.median(ratio):.3f}\n"
        f"not relaxed: {[r.error for r in results if not r.ok]}"
    )


if __name__ == "__main__":
    main()
