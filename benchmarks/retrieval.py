"""Prototype retrieval without relaxation: which element-assignment score ranks the right structure type first, and
which volume model sizes the dressed prototype best.

Targets: the CSP benchmark's 100 MPTS-52 test materials (``benchmarks/data/csp_targets.csv``; none of their
reduced formulas is in the training data the prototypes come from). For each, the top 5 distinct prototypes by
(a) elemental property distance (electronegativity and atomic radius) and (b) data-mined ionic substitution
probability (pymatgen ``SubstitutionProbability``), matched unrelaxed against the MP structure (StructureMatcher
stol 0.5, angle_tol 10, ltol 0.3, volumes scaled). Volume: for targets whose rank-1 prototype matches, the
predicted volume per atom against the MP structure's, from (1) the fitted per-element volumes alone, (2) the
template's own volume scaled by the ratio of the two compositions' predicted volumes (what the product does), and
(3) pymatgen's ``DLSVolumePredictor`` on the dressed prototype.

    python benchmarks/retrieval.py
"""

from __future__ import annotations

import time

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pymatgen.analysis.structure_matcher import StructureMatcher  # noqa: E402
from pymatgen.core import Structure  # noqa: E402

from backend.prototypes.index import composition_volume  # noqa: E402
from backend.prototypes.retrieval import retrieve  # noqa: E402

TARGETS = "benchmarks/data/csp_targets.csv"
MATCHER = StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)


def main() -> None:
    from pymatgen.analysis.structure_prediction.volume_predictor import DLSVolumePredictor

    targets = pd.read_csv(TARGETS)
    structures = [Structure.from_str(cif, fmt="cif") for cif in targets.cif]
    rows, volumes = [], {"per-element volumes": [], "template scaled by predicted ratio": [], "DLSVolumePredictor": []}
    for scoring in ("distance", "substitution"):
        started = time.perf_counter()
        at1 = at5 = found_any = 0
        for formula, target in zip(targets.formula, structures):
            found = retrieve(formula, k=5, scoring=scoring)
            found_any += bool(found)
            hits = [MATCHER.fit(p.structure, target) for p in found]
            at1 += bool(hits and hits[0])
            at5 += any(hits)
            if scoring == "distance" and hits and hits[0]:
                true = target.volume / len(target)
                dressed = found[0].structure
                volumes["per-element volumes"].append(composition_volume(dressed.composition) / len(dressed) / true)
                volumes["template scaled by predicted ratio"].append(dressed.volume / len(dressed) / true)
                try:
                    predicted = DLSVolumePredictor().predict(dressed)
                    volumes["DLSVolumePredictor"].append(predicted / len(dressed) / true)
                except Exception:  # noqa: BLE001 - the predictor refuses some chemistries; counted as missing
                    volumes["DLSVolumePredictor"].append(np.nan)
        n = len(targets)
        rows.append(
            {
                "element assignment scored by": scoring,
                "targets with a prototype": f"{found_any}/{n}",
                "match@1 (unrelaxed)": f"{at1}/{n}",
                "match@5 (unrelaxed)": f"{at5}/{n}",
                "wall (s)": round(time.perf_counter() - started),
            }
        )
    print(pd.DataFrame(rows).to_markdown(index=False))
    print()
    table = []
    for label, ratios in volumes.items():
        ratio = np.array(ratios, dtype=float)
        ok = ratio[np.isfinite(ratio)]
        error = np.abs(ok - 1)
        table.append(
            {
                "volume from": label,
                "targets": f"{len(ok)}/{len(ratio)}",
                "median |V/V_MP - 1|": round(float(np.median(error)), 3),
                "within 10 %": f"{np.mean(error < 0.1):.0%}",
                "median V/V_MP": round(float(np.median(ok)), 3),
            }
        )
    print(pd.DataFrame(table).to_markdown(index=False))


if __name__ == "__main__":
    main()
