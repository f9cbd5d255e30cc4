"""Crystal structure prediction: the product's knowledge-seeded CSP vs plain diffusion vs random search.

Targets (``benchmarks/data/csp_targets.csv``, built by ``--build-targets`` from MPTS-52 test, CC BY 4.0
Materials Project data): 100 materials of at most 20 atoms, of elements the model can place, whose reduced
formula is absent from the training data (the MP-20 subset), seed 0. MPTS-52 enters nothing else: the prototypes
come from the training data only. Arms, in one run (every arm's targets shared out to ``--workers`` processes):

- prototypes (``backend.csp``, what ``crystal-canvas csp`` does): the 20 best prototypes of the
  target's stoichiometry pattern by retrieval score, elements substituted (two assignments per structure type at
  most), the ``--prototypes`` lowest of them in CHGNet energy as dressed, relaxed within their space groups (with
  ``--variations`` also one partial-diffusion variation of each at t0 ``--start-time``); the same relaxations
  ordered by each rule in :data:`RULES` (and all by energy with the variations);
- plain diffusion: the cell's exact content generated ``--samples`` times (count-constrained D3PM);
- random search: as many pyxtal random symmetric structures (random space group compatible with the content).

Every structure is relaxed with CHGNet (``--fmax`` eV/Å, ``--relax-steps`` FIRE steps; the product's 0.05 and
300 by default) and matched against the MP structure (StructureMatcher stol 0.5, angle_tol 10, ltol 0.3, as
DiffCSP). Match@1 is the ranked answer's first structure, match@k any of its first k (a prototype arm's answer lists
a relaxed structure matching one above it once, as ``ranking.csv`` does); RMSE (normalised by (V/N)^(1/3),
pymatgen's get_rms_dist) over matched targets; wall time summed over targets. Each target's outcome is appended to
``--out`` as it finishes: a stopped run resumes where it stopped.

The rules were chosen on a validation set (``benchmarks/data/csp_validation_targets.csv``: 100 targets from MPTS-52
validation picked the same way, sharing no reduced formula with the test targets) before the test set was run
with them:

    python benchmarks/csp.py --arms prototypes --targets benchmarks/data/csp_validation_targets.csv \
        --out benchmarks/results/csp_validation
    python benchmarks/csp.py --workers 2 --out benchmarks/results/csp_rules
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
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
from backend.csp import plan_candidates, rank  # noqa: E402
from backend.csp_order import consensus_order  # noqa: E402
from backend.metrics.matching import UNIQUENESS_TOLERANCES  # noqa: E402
from backend.relax.potentials import chgnet  # noqa: E402
from backend.relax.relaxer import relax_structures  # noqa: E402
from backend.sampling.generate import generate  # noqa: E402
from backend.sampling.models import LoadedModel, load_model  # noqa: E402
from backend.sampling.request import GenerationRequest, allowed_elements  # noqa: E402
from backend.train.settings import MP20_CSV  # noqa: E402

TARGETS = Path(__file__).with_name("data") / "csp_targets.csv"
RESULTS = Path(__file__).with_name("results") / "csp"
MATCHER = StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)


def build_targets(source: Path, out: Path, n: int = 100, max_atoms: int = 20) -> None:
    """Pick targets from an MPTS-52 CSV (material_id, cif) and write them to ``out``. A validation set (any ``out``
    but :data:`TARGETS`) also leaves out the test targets' reduced formulas, so that the two sets share no
    composition."""
    training = {Composition(f).reduced_formula for f in pd.read_csv(MP20_CSV, keep_default_na=False).pretty_formula}
    if out != TARGETS:
        training |= {Composition(f).reduced_formula for f in pd.read_csv(TARGETS).formula}
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
    out.parent.mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(out, index=False)


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


def prototype_target(index: int, formula: str, target: Structure, args: argparse.Namespace) -> dict:
    """The product's CSP (``backend.csp``): k prototypes chosen by the energy screen among the 20 best
    by retrieval score, one variation each with ``--variations`` (diffusion samples where fewer prototypes exist),
    relaxed within their space groups. The record keeps every candidate (its retrieval rank, its place in the
    energy screen, its relaxed energy, its RMSE against the target) and which relaxed candidates are one structure,
    so that each ranking rule in :data:`RULES` is scored from the same relaxations, also rules added later."""
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
    relaxed_prototypes = rank(prototypes, potential, fmax=args.fmax, steps=args.relax_steps)
    proto_seconds = time.perf_counter() - started
    started = time.perf_counter()
    others = rank([c for c in plan.candidates if c.kind != "prototype"], potential, args.fmax, args.relax_steps)
    variation_seconds = time.perf_counter() - started
    items = relaxed_prototypes + others
    structures = [r.report.relax.structure if r.energy is not None else None for r in items]
    rms = matches(structures, target)
    candidates = [
        {
            "name": r.candidate.name,
            "kind": r.candidate.kind,
            "retrieval_rank": r.candidate.retrieval_rank,
            "screen_rank": r.candidate.screen_rank,
            "energy": r.energy,
            "rms": x,
        }
        for r, x in zip(items, rms)
    ]
    return {
        "candidates": candidates,
        "same": same_pairs(structures),
        "seconds": {"prototype": proto_seconds, "variation": variation_seconds},
    }


def same_pairs(structures: list[Structure | None]) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of relaxed structures that are one structure at the uniqueness tolerances (as
    ``backend.csp.mark_duplicates`` decides): a ranked answer lists each structure once."""
    matcher = StructureMatcher(**UNIQUENESS_TOLERANCES)
    present = [i for i, s in enumerate(structures) if s is not None]
    return [
        (i, j) for a, i in enumerate(present) for j in present[a + 1 :] if matcher.fit(structures[i], structures[j])
    ]


Rule = Callable[[list[dict]], list[dict]]


def _by(*fields: str) -> Rule:
    """Candidates in ``backend.csp.consensus_order`` of ``fields`` (one field: its own order), as the product
    orders a ranking; a candidate that failed to relax last."""

    def order(candidates: list[dict]) -> list[dict]:
        relaxed = [c for c in candidates if c["energy"] is not None]
        ordered = [relaxed[i] for i in consensus_order([[c[f] for c in relaxed] for f in fields])]
        return ordered + [c for c in candidates if c["energy"] is None]

    return order


# The ways to order one target's relaxed prototypes, fixed before the validation run (session 12) that chose among
# them by match@5, then match@1: the consensus of all three (the product's ``--order consensus``).
RULES: dict[str, Rule] = {
    "ranked by retrieval score": _by("retrieval_rank"),
    "ranked by energy as dressed (the screen)": _by("screen_rank"),
    "relaxed, ranked by energy": _by("energy"),
    "relaxed, ranked by retrieval place + energy place": _by("retrieval_rank", "energy"),
    "relaxed, ranked by retrieval + screen + energy places": _by("retrieval_rank", "screen_rank", "energy"),
}


def ordered_rms(record: dict, rule: Rule, kinds: tuple[str, ...] = ("prototype",)) -> list[float | None]:
    """RMSE of the distinct structures of ``record`` in ``rule``'s order: a structure that is one listed above it is
    left out, a failed relaxation answers nothing in its place."""
    same = {tuple(pair) for pair in record["same"]}
    index = {c["name"]: i for i, c in enumerate(record["candidates"])}
    listed: list[int] = []
    out: list[float | None] = []
    for c in rule([c for c in record["candidates"] if c["kind"] in kinds]):
        i = index[c["name"]]
        if any((min(i, j), max(i, j)) in same for j in listed):
            continue
        listed.append(i)
        out.append(c["rms"])
    return out or [None]


def prototype_rows(record: dict, k: int) -> dict[str, tuple[list[float | None], float]]:
    """A prototype arm's record as table rows: one per rule (and all candidates by energy with variations)."""
    seconds = record["seconds"]
    rows = {
        f"{k} prototypes of 20 by energy screen, {name}": (ordered_rms(record, rule), seconds["prototype"])
        for name, rule in RULES.items()
    }
    if any(c["kind"] != "prototype" for c in record["candidates"]):
        every = ordered_rms(record, RULES["relaxed, ranked by energy"], ("prototype", "variation", "diffusion"))
        rows[f"{k} prototypes + variations, ranked by energy"] = (every, seconds["prototype"] + seconds["variation"])
    return rows


def run_target(name: str, index: int, formula: str, target: Structure, args: argparse.Namespace) -> dict:
    """One arm on one target, as the record its arm's file keeps."""
    outcome = ARMS[name](index, formula, target, args)
    if name == "prototypes":
        return {"index": index, "formula": formula, **outcome}
    rows = {label: {"rms": rms, "seconds": seconds} for label, (rms, seconds) in outcome.items()}
    return {"index": index, "formula": formula, "rows": rows}


def read_records(path: Path) -> dict[int, dict]:
    """An arm's finished targets by index (none before its first)."""
    lines = path.read_text().splitlines() if path.exists() else []
    return {record["index"]: record for record in map(json.loads, lines)}


def summarise_arm(records: list[dict], args: argparse.Namespace) -> list[dict]:
    """An arm's table rows from its per-target records (a prototype arm's from its candidates, rule by rule)."""
    rows = [
        prototype_rows(r, args.prototypes)
        if "candidates" in r
        else {label: (row["rms"], row["seconds"]) for label, row in r["rows"].items()}
        for r in records
    ]
    return [
        summarise(label, [r[label][0] for r in rows], args.samples, sum(r[label][1] for r in rows)) for label in rows[0]
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
    parser.add_argument("--targets", type=Path, default=TARGETS, help="the target set (the test set by default)")
    parser.add_argument("--build-targets", type=Path, default=None, help="MPTS-52 CSV to pick --targets from")
    args = parser.parse_args()
    if args.build_targets:
        build_targets(args.build_targets, args.targets)
        return
    targets = pd.read_csv(args.targets).head(args.limit) if args.limit else pd.read_csv(args.targets)
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
    rows = [row for name in names for row in summarise_arm([done[name][i] for i in range(len(targets))], args)]
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
