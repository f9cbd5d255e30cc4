"""Space-group-constrained generation with the embedded model vs the unconstrained model on the same compositions.

Eight groups across the crystal systems, 16 samples each. Constrained: ``space_group`` with ``symmetry="constrain"``
(the embedded model has no space-group conditioning), Wyckoff sites and compositions chosen by seed (composition
proposer, kept where the group can hold the content). Unconstrained: the same model at exactly the same
compositions, no projection. Both relaxed with CHGNet twice, freely and with ASE's FixSymmetry (fmax 0.05 eV/Å,
300 steps). "In group" is spglib at 0.1 Å finding the requested group (not a supergroup or subgroup), over all 16
requested; V (structural and SMACT) over all requested; E_hull median over the freely relaxed.

    python benchmarks/symmetry.py --n 16 --steps 50
"""

from __future__ import annotations

import argparse
import time

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from backend.evaluation import relax_requested  # noqa: E402
from backend.metrics.validity import validity  # noqa: E402
from backend.relax.potentials import chgnet  # noqa: E402
from backend.sampling.generate import generate  # noqa: E402
from backend.sampling.models import load_model  # noqa: E402
from backend.sampling.request import GenerationRequest  # noqa: E402
from backend.structures import describe  # noqa: E402

# (space group, atoms in the conventional cell)
GROUPS = ((225, 8), (221, 5), (194, 8), (166, 12), (139, 10), (62, 12), (14, 12), (2, 8))


def in_group(structures: list, number: int) -> int:
    return sum(s is not None and describe(s, symprec=0.1).space_group_number == number for s in structures)


def assess(structures: list, keep_symmetry: bool) -> tuple[list, list[float]]:
    reports = relax_requested(structures, chgnet(), fmax=0.05, steps=300, keep_symmetry=keep_symmetry)
    relaxed = [r.relaxed if r else None for r in reports]
    return relaxed, [r.e_above_hull for r in reports if r and r.relaxed is not None]


def row(label: str, number: int, structures: list, n: int, seconds: float) -> dict[str, object]:
    free, e_hull = assess(structures, keep_symmetry=False)
    kept, _ = assess(structures, keep_symmetry=True)
    valid = sum(s is not None and validity(s).valid for s in structures)
    return {
        "space group": number,
        "method": label,
        "samples": n,
        "generated": sum(s is not None for s in structures),
        "in group, unrelaxed": f"{in_group(structures, number)}/{n}",
        "in group, free relaxation": f"{in_group(free, number)}/{n}",
        "in group, symmetric relaxation": f"{in_group(kept, number)}/{n}",
        "V": f"{valid}/{n}",
        "E_hull median (eV/atom, free)": round(float(np.median(e_hull)), 3) if e_hull else "",
        "sampling (s)": round(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = load_model("default")
    rows = []
    for number, atoms in GROUPS:
        started = time.perf_counter()
        request = GenerationRequest(
            n=args.n, atoms=atoms, space_group=number, symmetry="constrain", steps=args.steps, seed=args.seed
        )
        constrained = generate(model, request)
        seconds = time.perf_counter() - started
        rows.append(row("constrained", number, list(constrained.structures), args.n, seconds))
        started = time.perf_counter()
        free = generate(
            model, GenerationRequest(n=args.n, compositions=constrained.compositions, steps=args.steps, seed=args.seed)
        )
        rows.append(
            row(
                "unconstrained, same compositions", number, list(free.structures), args.n, time.perf_counter() - started
            )
        )
        print(pd.DataFrame(rows[-2:]).to_markdown(index=False), flush=True)
    print()
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
