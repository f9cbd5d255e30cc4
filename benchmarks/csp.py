"""Crystal structure prediction: the embedded model at exact compositions vs a random structure search.

Targets (``benchmarks/data/csp_targets.csv``, built by ``--build-targets`` from MPTS-52 test, CC BY 4.0
Materials Project data): 100 materials of at most 20 atoms, of elements the model can place, whose reduced
formula is absent from the training data (the MP-20 subset), seed 0. For each, the cell's exact content is
generated ``--samples`` times (count-constrained D3PM; the first sample also with pinned types, to choose
between the two), every sample relaxed with CHGNet, and matched against the MP structure (StructureMatcher
stol 0.5, angle_tol 10, ltol 0.3, as DiffCSP). The baseline in the same run: as many pyxtal random symmetric
structures per composition (random space group compatible with the content), relaxed the same way. Match@1
uses the first sample, match@k any of k; RMSE (normalised by (V/N)^(1/3), pymatgen's get_rms_dist) is over
matched targets.

    python benchmarks/csp.py --samples 5 --steps 50
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pymatgen.analysis.structure_matcher import StructureMatcher  # noqa: E402
from pymatgen.core import Composition, Structure  # noqa: E402

from backend.compositions.cell import cell_formula  # noqa: E402
from backend.relax import chgnet, relax_structures  # noqa: E402
from backend.sampling import GenerationRequest, generate, load_model  # noqa: E402
from backend.sampling.request import allowed_elements  # noqa: E402
from backend.train.settings import MP20_CSV  # noqa: E402

TARGETS = Path(__file__).with_name("data") / "csp_targets.csv"
MATCHER = StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)


def build_targets(source: Path, n: int = 100, max_atoms: int = 20) -> None:
    """Pick the targets from an MPTS-52 test CSV (material_id, cif); writes :data:`TARGETS`."""
    training = {Composition(f).reduced_formula for f in pd.read_csv(MP20_CSV, keep_default_na=False).pretty_formula}
    placeable = set(allowed_elements())
    frame = pd.read_csv(source).sample(frac=1.0, random_state=0)
    rows = []
    for material_id, cif in zip(frame.material_id, frame.cif):
        structure = Structure.from_str(cif, fmt="cif")
        elements = {el.symbol for el in structure.composition.elements}
        new = structure.composition.reduced_formula not in training
        if len(structure) <= max_atoms and new and elements <= placeable:
            rows.append({"material_id": material_id, "formula": cell_formula(structure.composition), "cif": cif})
        if len(rows) == n:
            break
    TARGETS.parent.mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(TARGETS, index=False)


def random_structures(formula: str, count: int, seed: int) -> list[Structure | None]:
    """pyxtal random symmetric crystals of exactly ``formula`` (None where pyxtal finds none)."""
    from pyxtal import pyxtal

    composition = Composition(formula)
    species = [el.symbol for el in composition]
    counts = [int(composition[el]) for el in composition]
    rng = np.random.default_rng(seed)
    out: list[Structure | None] = []
    for _ in range(count):
        made = None
        for _attempt in range(20):
            crystal = pyxtal()
            try:
                crystal.from_random(3, int(rng.integers(1, 231)), species, counts, random_state=int(rng.integers(1e9)))
            except Exception:  # noqa: BLE001 - pyxtal raises many kinds for an incompatible group; try another
                continue
            if crystal.valid:
                made = crystal.to_pymatgen()
                break
        out.append(made)
    return out


def matches(relaxed: list[Structure | None], target: Structure) -> list[float | None]:
    """RMSE of each relaxed sample against the target (None: no match or no structure)."""
    out = []
    for structure in relaxed:
        rms = MATCHER.get_rms_dist(structure, target) if structure is not None else None
        out.append(None if rms is None else float(rms[0]))
    return out


def relaxed(structures: list[Structure | None], steps: int) -> list[Structure | None]:
    present = [s for s in structures if s is not None]
    results = iter(relax_structures(present, chgnet(), fmax=0.1, steps=steps))
    out = []
    for s in structures:
        result = next(results) if s is not None else None
        out.append(result.structure if result is not None and result.ok else None)
    return out


def _mean(values: list[float]) -> float | str:
    return round(float(np.mean(values)), 3) if values else ""


def summarise(label: str, rms: list[list[float | None]], k: int, seconds: float) -> dict[str, object]:
    at1 = [r[0] for r in rms]
    atk = [min((x for x in r[:k] if x is not None), default=None) for r in rms]
    n = len(rms)
    return {
        "method": label,
        "targets": n,
        "samples each": k,
        "match@1": f"{sum(x is not None for x in at1)}/{n} ({sum(x is not None for x in at1) / n:.0%})",
        f"match@{k}": f"{sum(x is not None for x in atk)}/{n} ({sum(x is not None for x in atk) / n:.0%})",
        "RMSE@1 (matched)": _mean([x for x in at1 if x is not None]),
        f"RMSE@{k} (matched)": _mean([x for x in atk if x is not None]),
        "wall (s)": round(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--relax-steps", type=int, default=200)
    parser.add_argument("--limit", type=int, default=None, help="only the first targets (a quick look)")
    parser.add_argument("--build-targets", type=Path, default=None, help="MPTS-52 test CSV to pick targets from")
    args = parser.parse_args()
    if args.build_targets:
        build_targets(args.build_targets)
        return
    targets = pd.read_csv(TARGETS).head(args.limit) if args.limit else pd.read_csv(TARGETS)
    structures = [Structure.from_str(cif, fmt="cif") for cif in targets.cif]
    model = load_model("default")
    rows = []
    for method, samples in (("counts", args.samples), ("pin", 1)):
        started = time.perf_counter()
        rms = []
        for index, (formula, target) in enumerate(zip(targets.formula, structures)):
            request = GenerationRequest(
                n=samples, compositions=(formula,), composition_method=method, steps=args.steps, seed=index
            )
            rms.append(matches(relaxed(list(generate(model, request).structures), args.relax_steps), target))
        label = f"MatterGen embedded, exact composition ({method}), {args.steps} steps"
        rows.append(summarise(label, rms, samples, time.perf_counter() - started))
    started = time.perf_counter()
    rms = [
        matches(relaxed(random_structures(formula, args.samples, index), args.relax_steps), target)
        for index, (formula, target) in enumerate(zip(targets.formula, structures))
    ]
    rows.append(
        summarise("random search (pyxtal, random space group)", rms, args.samples, time.perf_counter() - started)
    )
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
