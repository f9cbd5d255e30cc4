"""The prototype index: every shipped training crystal by stoichiometry pattern, space group and Wyckoff sequence.

The 15,686 MP-20 crystals the embedded model was trained on are also the product's knowledge of known structure
types. Each is described once (``python -m backend.prototypes.index`` writes ``assets/data/prototypes/``): reduced
formula, anonymous formula (``A2B3``: the stoichiometry pattern), spglib space group and Wyckoff sequence at
0.1 Å, and an AFLOW-style prototype label -- anonymous formula, space group and the Wyckoff letters each
element class occupies -- which is what crystallographers call a structure type. Structures are read from the
shipped MP-20 table by material id when a retrieval needs them, never from MPTS-52 (the CSP benchmark's targets).

The same pass fits per-element volumes (cell volume = sum of count x element volume, non-negative least squares
over the whole table), the composition-aware cell volume the sampler's volume hook and retrieval use.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Structure
from pymatgen.core.periodic_table import Element

from backend.limits import SYMPREC
from backend.paths import ASSETS

MP20_CSV = ASSETS / "data" / "mp20" / "mp20_subset.csv.gz"
PROTOTYPE_DIR = ASSETS / "data" / "prototypes"
INDEX_CSV = PROTOTYPE_DIR / "prototype_index.csv.gz"
VOLUMES_JSON = PROTOTYPE_DIR / "element_volumes.json"
MAX_Z = 118

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrototypeEntry:
    """One training crystal as the index describes it."""

    material_id: str
    reduced_formula: str
    anonymous_formula: str
    n_atoms: int
    space_group: int
    wyckoff: str  # per element class, e.g. "A:4a B:4b"
    prototype: str  # "AB_225_a_b": anonymous formula, space group, Wyckoff letters per class
    volume_per_atom: float
    e_above_hull: float


def describe(structure: Structure, symprec: float = SYMPREC) -> tuple[int, str, str]:
    """(space group, Wyckoff sequence per element class, prototype label) of ``structure``.

    Element classes are ordered as pymatgen's anonymous formula orders them (by increasing amount, then
    electronegativity), so two crystals of one structure type get the same label whatever their elements.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    composition = structure.composition
    try:
        analyzer = SpacegroupAnalyzer(structure, symprec=symprec)
        data = analyzer.get_symmetry_dataset()
        number, wyckoffs, equivalent = int(data.number), list(data.wyckoffs), list(data.equivalent_atoms)
    except Exception:  # spglib gives up on some distorted cells: treat as P1, every atom its own orbit
        number, wyckoffs, equivalent = 1, ["a"] * len(structure), list(range(len(structure)))
    ordered = sorted(composition.elements, key=lambda el: (composition[el], el.X))
    letters = {el: Counter() for el in ordered}
    for index in sorted(set(equivalent)):
        letters[structure[index].specie][wyckoffs[index]] += 1
    anonymous = composition.anonymized_formula
    classes = [chr(ord("A") + i) for i in range(len(ordered))]
    sequence = " ".join(f"{c}:{_letters(letters[el])}" for c, el in zip(classes, ordered))
    label = "_".join([anonymous, str(number)] + ["".join(sorted(letters[el].elements())) for el in ordered])
    return number, sequence, label


def _letters(counts: Counter) -> str:
    """``Counter({"a": 1, "c": 2})`` -> ``"a2c"``: each occupied Wyckoff letter with its orbit count."""
    return "".join(f"{n if n > 1 else ''}{w}" for w, n in sorted(counts.items()))


def build() -> pd.DataFrame:
    """Describe every shipped training crystal; write the index and the fitted element volumes."""
    frame = pd.read_csv(MP20_CSV)[["material_id", "cif", "e_above_hull"]]
    rows, compositions, volumes = [], [], []
    for material_id, cif, e_hull in frame.itertuples(index=False):
        structure = Structure.from_str(cif, fmt="cif")
        number, sequence, label = describe(structure)
        composition = structure.composition
        rows.append(
            PrototypeEntry(
                material_id=material_id,
                reduced_formula=composition.reduced_formula,
                anonymous_formula=composition.anonymized_formula,
                n_atoms=len(structure),
                space_group=number,
                wyckoff=sequence,
                prototype=label,
                volume_per_atom=round(structure.volume / len(structure), 4),
                e_above_hull=round(float(e_hull), 5),
            ).__dict__
        )
        compositions.append(composition)
        volumes.append(structure.volume)
    PROTOTYPE_DIR.mkdir(parents=True, exist_ok=True)
    index = pd.DataFrame(rows)
    index.to_csv(INDEX_CSV, index=False)
    VOLUMES_JSON.write_text(json.dumps(fit_element_volumes(compositions, np.array(volumes)), indent=1) + "\n")
    return index


def fit_element_volumes(compositions: list[Composition], volumes: np.ndarray) -> dict[str, float]:
    """Per-element volumes (Å³) with cell volume = sum of count x volume, fitted by non-negative least squares
    on the relative error (each crystal weighs the same whatever its size)."""
    from scipy.optimize import nnls

    elements = sorted({el.symbol for c in compositions for el in c.elements})
    column = {el: i for i, el in enumerate(elements)}
    design = np.zeros((len(compositions), len(elements)))
    for row, composition in enumerate(compositions):
        for el, n in composition.items():
            design[row, column[el.symbol]] = n
    weights = 1.0 / volumes
    solution, _ = nnls(design * weights[:, None], volumes * weights)
    return {el: round(float(solution[column[el]]), 4) for el in elements}


@lru_cache(maxsize=1)
def load_index() -> pd.DataFrame:
    """The shipped prototype index (one row per training crystal)."""
    return pd.read_csv(INDEX_CSV, keep_default_na=False)


@lru_cache(maxsize=1)
def element_volumes() -> dict[str, float]:
    """The shipped per-element volumes in Å³."""
    return json.loads(VOLUMES_JSON.read_text())


@lru_cache(maxsize=1)
def volume_table() -> np.ndarray:
    """Element volume in Å³ by atomic number (index Z up to 118; 0 unused); elements the training data lacks take
    the median element volume."""
    fitted = element_volumes()
    fallback = float(np.median([v for v in fitted.values() if v > 0]))
    table = np.full(MAX_Z + 1, fallback)
    for symbol, volume in fitted.items():
        if volume > 0:
            table[Element(symbol).Z] = volume
    return table


def composition_volume(composition: Composition) -> float:
    """Predicted cell volume (Å³) of a cell holding exactly ``composition``."""
    table = volume_table()
    return float(sum(table[el.Z] * n for el, n in composition.items()))


@lru_cache(maxsize=1)
def _cifs() -> dict[str, str]:
    frame = pd.read_csv(MP20_CSV, usecols=["material_id", "cif"], keep_default_na=False)
    return dict(zip(frame.material_id, frame.cif))


def training_structure(material_id: str) -> Structure:
    """The shipped training crystal with this Materials Project id."""
    return Structure.from_str(_cifs()[material_id], fmt="cif")


if __name__ == "__main__":
    from backend.runtime import quiet_library_warnings

    quiet_library_warnings()
    built = build()
    print(f"{len(built)} crystals, {built.prototype.nunique()} prototypes -> {PROTOTYPE_DIR}")
