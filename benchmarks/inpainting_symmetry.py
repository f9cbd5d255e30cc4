"""CHGGen's symmetry success rate: inpainting vs generation from scratch, same model, same sample count.

For each host (at most 20 atoms, the model's range), its Li atoms are removed and inpainted back into the
framework as guests; the baseline samples crystals of exactly the host's composition from scratch (the
exact-composition path, no framework).
Every candidate is relaxed with CHGNet, refined with spglib at 0.1 Å, and counts as a success when its space
group is above P-1 (number > 2); successes are given over the relaxed and over all requested samples.

    python benchmarks/inpainting_symmetry.py --n 16 --steps 100 [--host LiSi_mp-570363]
"""

from __future__ import annotations

import argparse

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

from pymatgen.core import Structure  # noqa: E402
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer  # noqa: E402

from backend.compositions.cell import cell_formula  # noqa: E402
from backend.inpainting.framework import remove_species  # noqa: E402
from backend.inpainting.request import InpaintRequest  # noqa: E402
from backend.inpainting.run import inpaint  # noqa: E402
from backend.paths import ASSETS  # noqa: E402
from backend.relax.potentials import chgnet  # noqa: E402
from backend.relax.relaxer import relax_structures  # noqa: E402
from backend.sampling.generate import generate  # noqa: E402
from backend.sampling.models import load_model  # noqa: E402
from backend.sampling.request import GenerationRequest  # noqa: E402
from backend.structures import describe  # noqa: E402

# (host file, guest element, conventional cell?)
CASES = (
    ("LiSi_mp-570363", "Li", False),
    ("LiMn2O4_spinel_mp-22584", "Li", False),
    ("LiCoO2_mp-22526", "Li", True),
)


def symmetric(structures: list[Structure | None]) -> tuple[int, int, int]:
    """(generated, relaxed, space group > 2 after relaxation)."""
    made = [s for s in structures if s is not None]
    results = relax_structures(made, chgnet(), fmax=0.05, steps=300)
    relaxed = [r.structure for r in results if r.ok]
    return len(made), len(relaxed), sum(describe(s, symprec=0.1).space_group_number > 2 for s in relaxed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--host", action="append", choices=[name for name, *_ in CASES], help="only these hosts (e.g. one per core)"
    )
    args = parser.parse_args()
    model = load_model("default")
    print(
        "| host | atoms | guests | method | samples | generated | relaxed | above P-1 "
        "| success over relaxed | success over all |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, element, conventional in CASES:
        if args.host and name not in args.host:
            continue
        host = Structure.from_file(ASSETS / "data" / "hosts" / f"{name}.cif")
        if conventional:
            host = SpacegroupAnalyzer(host).get_conventional_standard_structure()
        count = sum(site.specie.symbol == element for site in host)
        framework = remove_species(host, [element])
        inpainted = inpaint(
            model,
            framework.structure,
            framework.keep,
            InpaintRequest(guests=((element, count),), n=args.n, steps=args.steps, jump=10, resample=3, seed=args.seed),
        )
        content = cell_formula(host.composition)
        scratch = generate(
            model, GenerationRequest(n=args.n, compositions=(content,), steps=args.steps, seed=args.seed)
        )
        for method, structures in (
            ("inpainting (j=10, r=3)", inpainted.structures),
            ("generation, same composition", scratch.structures),
        ):
            made, relaxed, good = symmetric(list(structures))
            print(
                f"| {name} | {len(host)} | {element} x{count} | {method} | {args.n} | {made} | {relaxed} | {good} "
                f"| {good}/{relaxed} ({good / max(relaxed, 1):.0%}) | {good}/{args.n} ({good / args.n:.0%}) |"
            )


if __name__ == "__main__":
    main()
