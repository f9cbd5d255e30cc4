"""Ordering a disordered host: inpainting (guests at the disordered sites or uniform) vs Ewald enumeration.

Hosts (built with pymatgen from the bundled MP CIFs, in tests/data/disorder; ``--build-hosts`` rewrites them):
olivine LiFePO4 (mp-19017) with Li at 0.5, and LaCl3 (mp-22896) with La at 5/6 and Li at 0.5 on the two channel
sites (0,0,0) and (0,0,1/2), charge-balanced as Li3La5Cl18 in the smallest integral cell (1x1x3).
Per host and supercell, the same number of candidates from each method, all relaxed the same way with CHGNet
(cell and positions, fmax 0.05 eV/Å, ``--relax-steps``) and placed on the offline MP hull:
- inpainting with the embedded model (``--order-disorder``), guests starting at the disordered sites noised to
  t = 0.3, and guests starting uniform in the cell (full chain), ``--steps`` with RePaint j=10, r=3;
- pymatgen's OrderDisorderedStructureTransformation (Ewald energy with oxidation states by element, its top-k).
Lowest energy per atom and E_hull over the candidates that relaxed; "relaxed" over the candidates requested; wall
time split into making the candidates and relaxing them.

    python benchmarks/disorder.py --n 8 --steps 100 --relax-steps 200
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
from pymatgen.core import Structure  # noqa: E402

from backend.evaluation import relax_requested  # noqa: E402
from backend.inpainting.disorder import plan_order_disorder  # noqa: E402
from backend.inpainting.run import inpaint  # noqa: E402
from backend.relax.potentials import chgnet  # noqa: E402
from backend.sampling.models import load_model  # noqa: E402
from backend.structures import read_checked  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOSTS = ROOT / "tests" / "data" / "disorder"
OXIDATION = {"Li": 1, "Fe": 2.5, "P": 5, "O": -2, "La": 3, "Cl": -1}
CASES = (
    ("LiFePO4_olivine_Li0.5.cif", (1, 1, 1)),
    ("LiFePO4_olivine_Li0.5.cif", (1, 2, 1)),
    ("LaCl3_Li_channel.cif", (1, 1, 3)),
)


def build_hosts() -> None:
    """Write the two disordered hosts from the bundled ordered MP structures."""
    from pymatgen.io.cif import CifWriter

    bundled = ROOT / "tests" / "data" / "hosts"
    olivine = Structure.from_file(bundled / "LiFePO4_olivine_mp-19017.cif")
    olivine.replace_species({"Li": {"Li": 0.5}})
    CifWriter(olivine).write_file(HOSTS / "LiFePO4_olivine_Li0.5.cif")
    lacl3 = Structure.from_file(bundled / "LaCl3_mp-22896.cif")
    lacl3.replace_species({"La": {"La": 5 / 6}})
    for z in (0.0, 0.5):
        lacl3.append({"Li": 0.5}, [0, 0, z])
    CifWriter(lacl3).write_file(HOSTS / "LaCl3_Li_channel.cif")


def ewald_orderings(host: Structure, repeat: tuple[int, int, int], k: int) -> list[Structure]:
    """The k lowest-Ewald-energy orderings of ``host`` in ``repeat`` (fewer where fewer exist)."""
    from pymatgen.transformations.standard_transformations import OrderDisorderedStructureTransformation

    cell = host.copy()
    cell.make_supercell(list(repeat))
    cell.add_oxidation_state_by_element(OXIDATION)
    ranked = OrderDisorderedStructureTransformation().apply_transformation(cell, return_ranked_list=k)
    out = []
    for entry in ranked:
        structure = entry["structure"]
        structure.remove_oxidation_states()
        out.append(structure)
    return out


METHODS = {
    "inpainting, guests at sites (t=0.3)": "sites",
    "inpainting, guests uniform": "uniform",
    "Ewald enumeration (pymatgen ODST), top-k": "ewald",
}


def candidates(model: object, host: Structure, repeat: tuple[int, int, int], args: argparse.Namespace, how: str):
    """``args.n`` ordered candidates of ``host`` by one method (Ewald: fewer where fewer orderings exist)."""
    if how == "ewald":
        return ewald_orderings(host, repeat, args.n)
    plan = plan_order_disorder(host, repeat)
    request = plan.request(n=args.n, steps=args.steps, seed=0, guest_start=how)
    return list(inpaint(model, plan.framework.structure, plan.framework.keep, request).structures)


def row(case: str, repeat: tuple, method: str, structures: list, n: int, made_s: float, relax_steps: int) -> dict:
    started = time.perf_counter()
    reports = relax_requested(structures, chgnet(), fmax=0.05, steps=relax_steps)
    relax_s = time.perf_counter() - started
    done = [r for r in reports if r is not None and r.relaxed is not None]
    energies = [r.relax.energy_per_atom for r in done]
    e_hull = [r.e_above_hull for r in done]
    formula = done[0].relaxed.composition.formula.replace(" ", "") if done else ""
    return {
        "host": f"{case.removesuffix('.cif')} {'x'.join(map(str, repeat))} ({formula})",
        "method": method,
        "candidates": f"{len(structures)}/{n}",
        "relaxed": f"{len(done)}/{len(structures)}",
        "lowest E (eV/atom)": round(min(energies), 4) if energies else "",
        "lowest E_hull (eV/atom)": round(min(e_hull), 4) if e_hull else "",
        "median E_hull (eV/atom)": round(float(np.median(e_hull)), 4) if e_hull else "",
        "making (s)": round(made_s, 2),
        "relaxing (s)": round(relax_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=8, help="candidates per method and host")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--relax-steps", type=int, default=200)
    parser.add_argument("--build-hosts", action="store_true", help="rewrite tests/data/disorder and stop")
    parser.add_argument("--case", action="append", default=None, help="only FILE:REPEAT, repeatable")
    parser.add_argument("--methods", default="sites,uniform,ewald", help="which of sites, uniform, ewald")
    args = parser.parse_args()
    if args.build_hosts:
        build_hosts()
        return
    model = load_model("default")
    rows = []
    cases = CASES
    if args.case:
        cases = [(name, tuple(int(x) for x in repeat.split(","))) for name, repeat in (c.split(":") for c in args.case)]
    for case, repeat in cases:
        host = read_checked(HOSTS / case, disorder_allowed=True)
        for method, how in METHODS.items():
            if how not in args.methods.split(","):
                continue
            started = time.perf_counter()
            structures = candidates(model, host, repeat, args, how)
            made_s = time.perf_counter() - started
            rows.append(row(case, repeat, method, structures, args.n, made_s, args.relax_steps))
            print(rows[-1], flush=True)
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
