"""The ``crystal-canvas`` command line's arguments: subcommands, flags and their one-line refusals."""

from __future__ import annotations

import argparse
from pathlib import Path

from backend.csp_order import ORDERS


class UserError(Exception):
    """Bad input that the user can fix; printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + message; one line is clearer
        raise UserError(message)


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def _positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def _nonnegative_int(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative (got {value})")
    return value


def _target(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"target '{text}' is not NAME=VALUE with a number") from None


def _guest(text: str) -> tuple[str, int]:
    from backend.inpainting.request import InvalidHost, parse_guests

    try:
        guests = parse_guests(text)
    except InvalidHost as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if len(guests) != 1:
        raise argparse.ArgumentTypeError(f"guest '{text}' is not ELEMENT:COUNT")
    return guests[0]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="crystal-canvas", description="Generate, relax and evaluate crystals with MatterGen.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = commands.add_parser("generate", help="sample crystals with a MatterGen model")
    gen.add_argument("--model", default="default", help="'default', a checkpoint folder, or a published name")
    gen.add_argument("--n", type=_positive_int, default=8, help="number of crystals")
    gen.add_argument("--atoms", type=_positive_int, default=None, help="atoms per cell (default: drawn from MP-20)")
    gen.add_argument("--chemsys", default=None, help="chemical system, e.g. Li-Fe-O")
    gen.add_argument("--composition", default=None, help="the cell's exact content, e.g. Li2Fe2O4 (fixes the atoms)")
    gen.add_argument("--formula-units", type=_positive_int, default=1, help="with --composition: repeat it, e.g. 4")
    gen.add_argument(
        "--composition-source",
        choices=["auto", "proposer", "model"],
        default="auto",
        help="without --composition: proposed compositions first, or the model's own types (auto: the model's default)",
    )
    gen.add_argument("--novelty", type=float, default=0.25, help="proposer: share of compositions absent from MP")
    gen.add_argument("--space-group", default=None, help="space group number or symbol (any model: see --symmetry)")
    gen.add_argument("--wyckoff", default="auto", help="with --space-group: 'auto' or sites like 4a:Na,4b:Cl")
    gen.add_argument(
        "--symmetry",
        choices=["auto", "condition", "constrain", "both"],
        default="auto",
        help="condition a space-group model, constrain every step, or both (auto: both where the model can)",
    )
    gen.add_argument("--target", type=_target, action="append", default=[], help="scalar target NAME=VALUE")
    gen.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance factor")
    gen.add_argument("--steps", type=_positive_int, default=1000, help="denoising steps")
    gen.add_argument("--seed", type=_nonnegative_int, default=0)
    gen.add_argument("--batch-size", type=_positive_int, default=64)
    gen.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    gen.add_argument("--out", type=Path, required=True, help="output folder")
    gen.add_argument("--trajectory", action="store_true", help="also write every step to trajectory.extxyz")
    gen.add_argument(
        "--start-from",
        default=None,
        help="partial diffusion from a structure FILE, or 'prototypes' (known structure types of --composition)",
    )
    gen.add_argument("--start-time", type=float, default=0.3, help="with --start-from: noise level t0 in (0, 1]")
    gen.add_argument(
        "--start-types", choices=("keep", "mask"), default="keep", help="with --start-from: keep or redraw atom types"
    )
    gen.add_argument(
        "--start-symmetry",
        choices=("free", "keep"),
        default="free",
        help="with --start-from FILE: let the variation break the start's space group, or keep it and its orbits",
    )
    gen.add_argument(
        "--cell-volume",
        choices=("auto", "composition", "model"),
        default="auto",
        help="hold each cell at its composition's volume, or leave it to the model (auto: the model's default)",
    )

    csp = commands.add_parser("csp", help="predict the structure of a composition: prototypes, variations, diffusion")
    csp.add_argument("--composition", required=True, help="the cell's content, e.g. Ca3V2O8")
    csp.add_argument("--n", type=_positive_int, default=16, help="candidates in all")
    csp.add_argument(
        "--prototypes", type=_nonnegative_int, default=10, help="known prototypes to relax (lowest in energy of 20)"
    )
    csp.add_argument("--start-time", type=float, default=0.3, help="noise level of the prototypes' variations")
    csp.add_argument("--steps", type=_positive_int, default=100, help="denoising steps")
    csp.add_argument("--seed", type=_nonnegative_int, default=0)
    csp.add_argument("--fmax", type=float, default=0.05, help="force convergence, eV/Å")
    csp.add_argument("--relax-steps", type=_positive_int, default=300, help="maximum FIRE steps")
    csp.add_argument(
        "--order",
        choices=tuple(ORDERS),
        default="energy",
        help="rank by CHGNet energy, or by the consensus of retrieval score, energy as dressed and relaxed energy",
    )
    csp.add_argument("--model", default="default")
    csp.add_argument("--device", default=None)
    csp.add_argument("--out", type=Path, required=True, help="folder for ranking.csv and the relaxed CIFs")

    relax = commands.add_parser("relax", help="relax structures with CHGNet and place them on the MP hull")
    relax.add_argument("inputs", nargs="+", type=Path, help="structure files or folders of them")
    relax.add_argument("--out", type=Path, required=True, help="folder for relaxed CIFs and results.csv")
    relax.add_argument("--fmax", type=float, default=0.05, help="force convergence, eV/Å")
    relax.add_argument("--steps", type=_positive_int, default=500, help="maximum FIRE steps")
    relax.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    relax.add_argument(
        "--keep-symmetry", action="store_true", help="relax within each structure's space group (ASE FixSymmetry)"
    )

    check = commands.add_parser("verify", help="dynamical stability (phonons) and properties with CHGNet")
    check.add_argument("inputs", nargs="+", type=Path, help="relaxed structure files or folders of them")
    check.add_argument("--out", type=Path, required=True, help="folder for verify.csv and verify/*.json")
    check.add_argument("--phonons", action="store_true", help="phonopy finite displacements (default: both checks)")
    check.add_argument("--properties", action="store_true", help="bulk modulus (EOS), magnetic moments, density")
    check.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")

    inp = commands.add_parser("inpaint", help="generate guest atoms inside a host framework (CHGGen)")
    inp.add_argument("--host", type=Path, required=True, help="host structure file (CIF, POSCAR, extxyz)")
    inp.add_argument("--remove", action="append", default=[], help="element to remove from the host (repeatable)")
    inp.add_argument("--add", type=_guest, action="append", default=[], help="guests ELEMENT:COUNT (repeatable)")
    inp.add_argument("--free", type=_nonnegative_int, default=0, help="guests whose element the model chooses")
    inp.add_argument("--free-elements", default="", help="allowed elements for --free guests, e.g. Li,Na")
    inp.add_argument("--symmetrize", action="store_true", help="refine the framework's symmetry (tolerance ladder)")
    inp.add_argument(
        "--supercell", default=None, help="repeat the framework, e.g. 1,1,2 (default 1,1,1; disordered: smallest whole)"
    )
    inp.add_argument(
        "--order-disorder",
        action="store_true",
        help="order a partially occupied host: its partial species become the guests",
    )
    inp.add_argument(
        "--mixed-sites", choices=("counts", "free"), default="counts", help="with --order-disorder: mixed sites' guests"
    )
    inp.add_argument(
        "--guest-start",
        choices=("uniform", "sites"),
        default=None,
        help="where guests start (default: the disordered sites with --order-disorder, else uniform)",
    )
    inp.add_argument("--start-time", type=float, default=0.3, help="with --guest-start sites: noise level, (0, 1]")
    inp.add_argument("--jump", type=_positive_int, default=10, help="RePaint jump length j")
    inp.add_argument("--resample", type=_positive_int, default=1, help="RePaint resamples r (1: none)")
    inp.add_argument("--n", type=_positive_int, default=4, help="number of candidates")
    inp.add_argument("--steps", type=_positive_int, default=1000)
    inp.add_argument("--seed", type=_nonnegative_int, default=0)
    inp.add_argument("--guidance", type=float, default=1.0)
    inp.add_argument("--model", default="default")
    inp.add_argument("--device", default=None)
    inp.add_argument("--out", type=Path, required=True)
    inp.add_argument("--trajectory", action="store_true")
    inp.add_argument("--relax", action="store_true", help="relax the candidates with CHGNet and place them on the hull")
    inp.add_argument("--fix-host", action="store_true", help="with --relax: keep the host atoms fixed")
    inp.add_argument("--fmax", type=float, default=0.05, help="with --relax: force tolerance (eV/Å)")

    screen = commands.add_parser("screen", help="generate -> filter -> relax -> E_hull -> shortlist, resumable")
    screen.add_argument("--config", type=Path, default=None, help="screen.toml with the same keys as these flags")
    screen.add_argument("--out", type=Path, default=None, help="output folder (rerun it to resume)")
    screen.add_argument("--model", default=None)
    screen.add_argument("--n", type=_positive_int, default=None, help="number of candidates")
    screen.add_argument("--atoms", type=_positive_int, default=None)
    screen.add_argument("--chemsys", default=None)
    screen.add_argument("--steps", type=_positive_int, default=None, help="denoising steps")
    screen.add_argument("--seed", type=_nonnegative_int, default=None)
    screen.add_argument("--guidance", type=float, default=None)
    screen.add_argument("--batch-size", type=_positive_int, default=None, help="crystals per generation batch")
    screen.add_argument("--min-distance", type=float, default=None, help="sanity filter, Å")
    screen.add_argument("--no-charge-neutrality", action="store_true", help="keep SMACT-invalid compositions")
    screen.add_argument("--max-e-hull", type=float, default=None, help="shortlist threshold, eV/atom")
    screen.add_argument("--phonons", action="store_true", help="keep only dynamically stable candidates (phonopy)")
    screen.add_argument("--bulk-modulus-min", type=float, default=None, help="bulk modulus filter, GPa (EOS)")
    screen.add_argument("--shortlist-size", type=_positive_int, default=None, help="keep the best N under it")
    screen.add_argument("--space-group", default=None, help="impose a space group (number or symbol)")
    screen.add_argument(
        "--composition-source", default=None, help="without compositions: proposer, prototypes or model"
    )
    screen.add_argument("--fmax", type=float, default=None)
    screen.add_argument("--relax-steps", type=_positive_int, default=None)
    screen.add_argument("--device", default=None)
    screen.add_argument("--ray-address", default=None, help="'local', 'auto' or HOST:PORT of a Ray cluster")

    evaluate = commands.add_parser("evaluate", help="V, S, U, N, S.U.N. and V.S.U.N. of a folder of structures")
    evaluate.add_argument("folder", type=Path, help="a folder written by 'generate' or 'relax'")
    evaluate.add_argument("--fmax", type=float, default=0.05)
    evaluate.add_argument("--steps", type=_positive_int, default=500)
    evaluate.add_argument("--device", default=None)
    evaluate.add_argument("--keep-symmetry", action="store_true", help="relax within each crystal's space group")
    return parser
