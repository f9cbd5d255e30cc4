"""Verification on this CPU: dynamical stability of the shipped MP hosts and of generated candidates, and the bulk
moduli of well-known solids beside experiment.

Three parts, each appending rows to ``OUT/*.csv`` as it goes (rerun to resume: done names are skipped):
hosts (the 19 bundled MP structures, as shipped), generated (``--n`` crystals from the embedded model on the default
path -- composition-first, 100 steps -- relaxed with CHGNet to fmax 0.05 eV/Å, 300 steps, then verified), and
moduli (NaCl, MgO, Si, Cu, LiFePO4). Prints the Markdown tables for benchmarks/README.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from backend.runtime import configure_threads

configure_threads()

import pandas as pd  # noqa: E402
from pymatgen.core import Lattice, Structure  # noqa: E402

from backend.paths import ASSETS  # noqa: E402
from backend.relax.potentials import chgnet  # noqa: E402
from backend.relax.relaxer import relax_structures  # noqa: E402
from backend.verify.run import verify, write_reports  # noqa: E402

# Experimental bulk moduli (GPa, room temperature; Kittel / CRC values as usually quoted), with MP's (GGA, elastic
# tensor, Voigt-Reuss-Hill) where MP lists one; LiFePO4: measured by X-ray under pressure (Maxisch & Ceder report 93).
KNOWN = {
    "NaCl": (Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.69), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]), 24.0),
    "MgO": (Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.21), ["Mg", "O"], [[0, 0, 0], [0.5] * 3]), 160.0),
    "Si": (Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]]), 98.0),
    "Cu": (Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]]), 140.0),
    "LiFePO4": (Structure.from_file(ASSETS / "data" / "hosts" / "LiFePO4_olivine_mp-19017.cif"), 93.0),
}


def append(path: Path, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    frame.to_csv(path, mode="a", header=not path.is_file(), index=False)


def done(path: Path) -> set[str]:
    return set(pd.read_csv(path).file.astype(str)) if path.is_file() else set()


def run_verify(path: Path, names: list[str], structures: list[Structure], phonons: bool, properties: bool) -> None:
    potential = chgnet("cpu")
    skip = done(path)
    for name, structure in zip(names, structures):
        if name in skip:
            continue
        started = time.perf_counter()
        (report,) = verify([name], [structure], potential, phonons=phonons, properties=properties)
        write_reports([report], path.parent / path.stem)  # bands, DOS and EOS kept: a rule change needs no rerun
        append(path, [{**report.row(), "atoms": len(structure), "seconds": round(time.perf_counter() - started, 1)}])
        print(f"{path.stem}: {name} {report.row()['dynamically_stable']} {report.error or ''}", flush=True)


def generated(out: Path, n: int) -> tuple[list[str], list[Structure]]:
    """The default path's crystals, relaxed (kept in OUT/generated so a rerun verifies the same ones)."""
    folder = out / "generated"
    if not folder.is_dir():
        from backend.sampling.generate import generate
        from backend.sampling.models import load_model
        from backend.sampling.request import GenerationRequest

        result = generate(load_model("default"), GenerationRequest(n=n, atoms=None, steps=100, seed=0, batch_size=32))
        made = [s for s in result.structures if s is not None]
        relaxed = relax_structures(made, chgnet("cpu"), fmax=0.05, steps=300)
        folder.mkdir(parents=True)
        for index, result in enumerate(relaxed):
            if result.ok:
                result.structure.to(
                    filename=str(folder / f"{index:03d}_{result.structure.formula.replace(' ', '')}.cif")
                )
        print(f"generated {len(made)} of {n}, relaxed {sum(r.ok for r in relaxed)}", flush=True)
    files = sorted(folder.glob("*.cif"))
    return [f.stem for f in files], [Structure.from_file(f) for f in files]


def summary(path: Path, label: str) -> str:
    rows = pd.read_csv(path, keep_default_na=False)
    checked = rows[rows.error == ""]
    stable = (checked.dynamically_stable.astype(str) == "True").sum()
    seconds = pd.to_numeric(checked.seconds)
    return (
        f"| {label} | {len(rows)} | {len(checked)} | {stable} ({100 * stable / max(len(checked), 1):.0f} %) | "
        f"{seconds.median():.1f} | {seconds.max():.0f} | {len(rows) - len(checked)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/verify"))
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--parts", default="moduli,hosts,generated")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    if "moduli" in parts:
        names = list(KNOWN)
        run_verify(args.out / "moduli.csv", names, [KNOWN[n][0] for n in names], phonons=False, properties=True)
    if "hosts" in parts:
        files = sorted((ASSETS / "data" / "hosts").glob("*.cif"))
        structures = [Structure.from_file(f) for f in files]
        run_verify(args.out / "hosts.csv", [f.stem for f in files], structures, phonons=True, properties=False)
    if "generated" in parts:
        names, structures = generated(args.out, args.n)
        run_verify(args.out / "generated.csv", names, structures, phonons=True, properties=False)

    print("| structures | verified of | checked | dynamically stable | median s | max s | refused or failed |")
    print("|---|---|---|---|---|---|---|")
    for part, label in (("hosts", "19 shipped MP hosts"), ("generated", f"generated, relaxed ({args.n} asked)")):
        if (args.out / f"{part}.csv").is_file():
            print(summary(args.out / f"{part}.csv", label))
    if (args.out / "moduli.csv").is_file():
        moduli = pd.read_csv(args.out / "moduli.csv")
        print("| solid | CHGNet EOS (GPa) | experiment (GPa) | error |")
        print("|---|---|---|---|")
        for row in moduli.itertuples():
            reference = KNOWN[row.file][1]
            error = 100 * (row.bulk_modulus_gpa / reference - 1)
            print(f"| {row.file} | {row.bulk_modulus_gpa:.0f} | {reference:.0f} | {error:+.0f} % |")


if __name__ == "__main__":
    main()
