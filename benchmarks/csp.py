"""Crystal structure prediction: the product's knowledge-seeded CSP vs plain diffusion vs random search.

Targets (``benchmarks/data/csp_targets.csv``, built by ``--build-targets`` from MPTS-52 test, CC BY 4.0
Materials Project data): 100 materials of at most 20 atoms, of elements the model can place, whose reduced
formula is absent from the training data (the MP-20 subset), seed 0. MPTS-52 enters nothing else: the prototypes
come from the training data only. Arms, in one run (every arm's targets shared out to ``--workers`` processes):

- prototypes (``backend.csp``, what ``crystal-canvas csp`` does): the 20 best prototypes of the
  target's stoichiometry pattern by retrieval score, elements substituted (two assignments per structure type at
  most), the ``--prototypes`` lowest of them in CHGNet energy as dressed, relaxed within their space groups (with
  ``--variations`` also one partial-diffusion variation of each at t0 ``--start-time``); the same relaxations
  ranked by retrieval score and by energy (and all by energy with the variations);
- plain diffusion: the cell's exact content generated ``--samples`` times (count-constrained D3PM);
- random search: as many pyxtal random symmetric structures (random space group compatible with the content).

Every structure is relaxed with CHGNet (``--fmax`` eV/Å, ``--relax-steps`` FIRE steps; the product's 0.05 and
300 by default) and matched against the MP structure (StructureMatcher stol 0.5, angle_tol 10, ltol 0.3, as
DiffCSP). Match@1 is the ranked answer's first structure, match@k any of its first k (a prototype arm's answer lists
a relaxed structure matching one above it once, as ``ranking.csv`` does); RMSE (normalised by (V/N)^(1/3),
pymatgen's get_rms_dist) over matched targets; wall time summed over targets. Each target's outcome is appended to
``--out`` as it finishes: a stopped run resumes where it stopped.

    python benchmarks/csp.py --samples 5 --steps 50 --prototypes 10 --workers 2 --out benchmarks/results/csp_product
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pymatgen.analysis.structure_matcher import StructureMatcher  # noqa: E402
from pymatgen.core import Composition, Structure  # noqa: E402

from backend.compositions.cell import cell_formula  # noqa: E402
from backend.csp import RankedCandidate, mark_duplicates, plan_candidates, rank  # noqa: E402
from backend.relax.potentials import chgnet  # noqa: E402
from backend.relax.relaxer import relax_structures  # noqa: E402
from backend.sampling.generate import generate  # noqa: E402
from backend.sampling.models import LoadedModel, load_model  # noqa: E402
from backend.sampling.request import GenerationRequest, allowed_elements  # noqa: E402
from backend.train.settings import MP20_CSV  # noqa: E402

TARGETS = Path(__file__).with_name("data") / "csp_targets.csv"
RESULTS = Path(__file__).with_name("results") / "csp"
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


def relaxed(structures: list[Structure | None], fmax: float, steps: int) -> list[Structure | None]:
    present = [s for s in structures if s is not None]
    results = iter(relax_structures(present, chgnet(), fmax=fmax, steps=steps))
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


@lru_cache(maxsize=1)
def _model() -> LoadedModel:
    return load_model("default")


Outcome = dict[str, tuple[list[float | None], float]]  # row label -> (RMSE of each answer in order, seconds)


def diffusion_target(index: int, formula: str, target: Structure, args: argparse.Namespace) -> Outcome:
    """Plain diffusion at the exact composition (count-constrained D3PM), ``--samples`` each."""
    started = time.perf_counter()
    request = GenerationRequest(n=args.samples, compositions=(formula,), steps=args.steps, seed=index)
    rms = matches(relaxed(list(generate(_model(), request).structures), args.fmax, args.relax_steps), target)
    label = f"plain diffusion (embedded model, exact composition, {args.steps} steps)"
    return {label: (rms, time.perf_counter() - started)}


def random_target(index: int, formula: str, target: Structure, args: argparse.Namespace) -> Outcome:
    """pyxtal random symmetric structures, as many relaxations as the diffusion arm."""
    started = time.perf_counter()
    rms = matches(relaxed(random_structures(formula, args.samples, index), args.fmax, args.relax_steps), target)
    return {"random search (pyxtal, random space group)": (rms, time.perf_counter() - started)}


def prototype_target(index: int, formula: str, target: Structure, args: argparse.Namespace) -> Outcome:
    """The product's CSP (``backend.csp``): k prototypes chosen by the energy screen among the 20 best
    by retrieval score, one variation each with ``--variations`` (diffusion samples where fewer prototypes exist),
    relaxed within their space groups; the same relaxations ranked by retrieval score, by energy and (with
    variations) all by energy, a relaxed structure matching one ranked above it listed once."""
    potential = chgnet()
    started = time.perf_counter()
    plan = plan_candidates(
        _model(),
        formula,
        n=2 * args.prototypes if args.variations else args.prototypes,
        k=args.prototypes,
        start_time=args.start_time,
        steps=args.steps,
        seed=index,
        potential=potential,
    )
    prototypes = [c for c in plan.candidates if c.kind == "prototype"]
    ranked_prototypes = rank(prototypes, potential, fmax=args.fmax, steps=args.relax_steps)
    proto_seconds = time.perf_counter() - started
    started = time.perf_counter()
    others = rank([c for c in plan.candidates if c.kind != "prototype"], potential, args.fmax, args.relax_steps)
    variation_seconds = time.perf_counter() - started

    def answer(items: list[RankedCandidate]) -> list[float | None]:
        """RMSE of the distinct relaxed structures in the order given (a failed one answers nothing)."""
        kept = [r.report.relax.structure if r.energy is not None else None for r in items if r.same_as is None]
        return matches(kept, target) or [None]

    def by_energy(items: list[RankedCandidate]) -> list[RankedCandidate]:
        return sorted(items, key=lambda r: (r.energy is None, r.energy or 0.0))

    score_order = mark_duplicates(sorted(ranked_prototypes, key=lambda r: r.candidate.retrieval_rank))
    k = args.prototypes
    out = {
        f"{k} prototypes of 20 by energy screen, ranked by retrieval score": (answer(score_order), proto_seconds),
        f"{k} prototypes of 20 by energy screen, relaxed, ranked by energy": (answer(ranked_prototypes), proto_seconds),
    }
    if args.variations:
        every = mark_duplicates(by_energy([replace(r, same_as=None) for r in ranked_prototypes + others]))
        label = f"{k} prototypes + variations (t0 {args.start_time:g}), ranked by energy"
        out[label] = (answer(every), proto_seconds + variation_seconds)
    return out


def run_target(name: str, index: int, formula: str, target: Structure, args: argparse.Namespace) -> dict:
    """One arm on one target, as the record its arm's file keeps."""
    outcome = ARMS[name](index, formula, target, args)
    rows = {label: {"rms": rms, "seconds": seconds} for label, (rms, seconds) in outcome.items()}
    return {"index": index, "formula": formula, "rows": rows}


def read_records(path: Path) -> dict[int, dict]:
    """An arm's finished targets by index (none before its first)."""
    lines = path.read_text().splitlines() if path.exists() else []
    return {record["index"]: record for record in map(json.loads, lines)}


def summarise_arm(records: list[dict], k: int) -> list[dict]:
    """An arm's table rows from its per-target records."""
    labels = list(records[0]["rows"])
    return [
        summarise(
            label,
            [r["rows"][label]["rms"] for r in records],
            k,
            sum(r["rows"][label]["seconds"] for r in records),
        )
        for label in labels
    ]


ARMS = {"random": random_target, "diffusion": diffusion_target, "prototypes": prototype_target}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--relax-steps", type=int, default=300, help="FIRE steps at most (the product's 300)")
    parser.add_argument("--fmax", type=float, default=0.05, help="relaxation force threshold, eV/Å (the product's)")
    parser.add_argument("--prototypes", type=int, default=10, help="k prototypes relaxed per target")
    parser.add_argument("--variations", action="store_true", help="also one partial-diffusion variation of each")
    parser.add_argument("--start-time", type=float, default=0.3, help="the variations' noise level")
    parser.add_argument("--arms", default="prototypes,diffusion,random", help="which arms, comma-separated")
    parser.add_argument("--workers", type=int, default=2, help="targets of every arm shared by this many processes")
    parser.add_argument("--limit", type=int, default=None, help="only the first targets (a quick look)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="per-target outcomes, one file per arm (resumable)")
    parser.add_argument("--build-targets", type=Path, default=None, help="MPTS-52 test CSV to pick targets from")
    args = parser.parse_args()
    if args.build_targets:
        build_targets(args.build_targets)
        return
    targets = pd.read_csv(TARGETS).head(args.limit) if args.limit else pd.read_csv(TARGETS)
    structures = [Structure.from_str(cif, fmt="cif") for cif in targets.cif]
    _check_settings(args)
    names = [name.strip() for name in args.arms.split(",")]
    done = {name: read_records(args.out / f"{name}.jsonl") for name in names}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = {
            pool.submit(run_target, name, index, formula, target, args): name
            for index, (formula, target) in enumerate(zip(targets.formula, structures))
            for name in names
            if index not in done[name]
        }
        for future in as_completed(futures):  # written here, one line per target, by this process alone
            name, record = futures[future], future.result()
            with (args.out / f"{name}.jsonl").open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            done[name][record["index"]] = record
    rows = [row for name in names for row in summarise_arm([done[name][i] for i in range(len(targets))], args.samples)]
    print(pd.DataFrame(rows).to_markdown(index=False))


def _check_settings(args: argparse.Namespace) -> None:
    """Resume only a run made with the same settings: ``--out`` remembers them in settings.json."""
    settings = {
        k: getattr(args, k)
        for k in ("samples", "steps", "relax_steps", "fmax", "prototypes", "variations", "start_time")
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "settings.json"
    if path.exists() and json.loads(path.read_text()) != settings:
        raise SystemExit(f"{args.out} holds a run with other settings ({path.read_text()}); pass another --out")
    path.write_text(json.dumps(settings))


if __name__ == "__main__":
    main()
