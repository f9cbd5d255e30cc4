"""``crystal-canvas``: the headless face of the backend (same code the app calls).

Every user error ends as one ``error: ...`` line on stderr and exit status 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from backend.runtime import configure_threads, quiet_library_warnings


class UserError(Exception):
    """Bad input that the user can fix; printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + message; one line is clearer
        raise UserError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
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
    from backend.inpainting import InvalidHost, parse_guests

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
    gen.set_defaults(run=run_generate)

    relax = commands.add_parser("relax", help="relax structures with CHGNet and place them on the MP hull")
    relax.add_argument("inputs", nargs="+", type=Path, help="structure files or folders of them")
    relax.add_argument("--out", type=Path, required=True, help="folder for relaxed CIFs and results.csv")
    relax.add_argument("--fmax", type=float, default=0.05, help="force convergence, eV/Å")
    relax.add_argument("--steps", type=_positive_int, default=500, help="maximum FIRE steps")
    relax.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    relax.add_argument(
        "--keep-symmetry", action="store_true", help="relax within each structure's space group (ASE FixSymmetry)"
    )
    relax.set_defaults(run=run_relax)

    inp = commands.add_parser("inpaint", help="generate guest atoms inside a host framework (CHGGen)")
    inp.add_argument("--host", type=Path, required=True, help="host structure file (CIF, POSCAR, extxyz)")
    inp.add_argument("--remove", action="append", default=[], help="element to remove from the host (repeatable)")
    inp.add_argument("--add", type=_guest, action="append", default=[], help="guests ELEMENT:COUNT (repeatable)")
    inp.add_argument("--free", type=_nonnegative_int, default=0, help="guests whose element the model chooses")
    inp.add_argument("--free-elements", default="", help="allowed elements for --free guests, e.g. Li,Na")
    inp.add_argument("--symmetrize", action="store_true", help="refine the framework's symmetry (tolerance ladder)")
    inp.add_argument("--supercell", default="1,1,1", help="repeat the framework, e.g. 1,1,2")
    inp.add_argument("--jump", type=_positive_int, default=10, help="RePaint jump length j")
    inp.add_argument("--resample", type=_positive_int, default=3, help="RePaint resamples r")
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
    inp.set_defaults(run=run_inpaint)

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
    screen.add_argument("--fmax", type=float, default=None)
    screen.add_argument("--relax-steps", type=_positive_int, default=None)
    screen.add_argument("--device", default=None)
    screen.add_argument("--ray-address", default=None, help="'local', 'auto' or HOST:PORT of a Ray cluster")
    screen.set_defaults(run=run_screen)

    evaluate = commands.add_parser("evaluate", help="V, S, U, N, S.U.N. and V.S.U.N. of a folder of structures")
    evaluate.add_argument("folder", type=Path, help="a folder written by 'generate' or 'relax'")
    evaluate.add_argument("--fmax", type=float, default=0.05)
    evaluate.add_argument("--steps", type=_positive_int, default=500)
    evaluate.add_argument("--device", default=None)
    evaluate.add_argument("--keep-symmetry", action="store_true", help="relax within each crystal's space group")
    evaluate.set_defaults(run=run_evaluate)
    return parser


def _read_inputs(paths: list[Path]) -> tuple[list[str], list]:
    """Structures from files and folders; unusable files are reported (one line each) and skipped."""
    from backend.structures import StructureFileError, read_checked, structure_files

    names, structures = [], []
    files = structure_files(paths)
    if not files:
        raise UserError(f"no structure files in {', '.join(map(str, paths))}")
    for path in files:
        try:
            structures.append(read_checked(path))
            names.append(path.stem)
        except StructureFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
    if not structures:
        raise UserError("none of the inputs is a usable structure")
    return names, structures


def _relax_to(
    names: list[str],
    structures: list,
    out: Path,
    fmax: float,
    steps: int,
    device: str | None,
    inpainted: bool = False,
    fix_host: bool = False,
    keep_symmetry: bool = False,
):
    from tqdm import tqdm

    from backend.evaluation import relax_and_assess, write_reports
    from backend.relax import chgnet

    if fmax <= 0:
        raise UserError(f"--fmax must be positive (got {fmax})")
    with tqdm(total=len(structures), desc="relaxing", unit="structure") as bar:

        def progress(state):  # noqa: ANN001, ANN202 - a ProgressCallback
            bar.n = state.finished
            bar.set_postfix(step=state.step)
            bar.refresh()

        reports = relax_and_assess(
            names,
            structures,
            chgnet(device),
            fmax=fmax,
            steps=steps,
            progress=progress,
            inpainted=inpainted,
            fix_host=fix_host,
            keep_symmetry=keep_symmetry,
        )
    for report in reports:
        if report.error:
            print(f"error: {report.name}: {report.error}", file=sys.stderr)
    return reports, write_reports(reports, out)


def run_inpaint(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from backend.inpainting import (
        InpaintRequest,
        inpaint,
        plan_inpainting,
        prepare_framework,
        write_inpainting,
    )
    from backend.sampling import load_model
    from backend.sampling.engine import chain
    from backend.sampling.trajectory import TrajectoryRecorder, write_extxyz
    from backend.structures import read_checked

    try:
        repeat = tuple(int(x) for x in args.supercell.split(","))
    except ValueError:
        raise UserError(f"--supercell '{args.supercell}' is not three integers like 1,1,2") from None
    host = read_checked(args.host)
    framework = prepare_framework(host, args.remove, symmetrize=args.symmetrize, repeat=repeat)
    request = InpaintRequest(
        guests=tuple(args.add),
        free_guests=args.free,
        free_elements=tuple(e for e in args.free_elements.replace(" ", "").split(",") if e),
        n=args.n,
        steps=args.steps,
        jump=args.jump,
        resample=args.resample,
        seed=args.seed,
        guidance=args.guidance,
    )
    model = load_model(args.model, device=args.device)
    _prepare_out(args.out)
    recorder = TrajectoryRecorder() if args.trajectory else None
    print(f"host: {framework.note}")
    plan_inpainting(model.info, framework.structure, np.array(framework.keep), request)  # refuse before the bar
    with tqdm(desc=f"inpainting {request.n} candidates", unit="step") as bar:

        def progress(state):  # noqa: ANN001, ANN202 - a StepCallback
            bar.update(1)

        result = inpaint(model, framework.structure, framework.keep, request, callback=chain(progress, recorder))
    write_inpainting(result, framework.structure, framework.keep, args.out)
    if recorder:
        write_extxyz(recorder.frames, args.out / "trajectory.extxyz")
    ok = sum(s is not None for s in result.structures)
    print(
        f"{ok} of {request.n} candidates written to {args.out} ({result.model_calls} model calls, "
        f"{result.seconds:.0f} s)"
    )
    if args.relax and ok:
        made = [(f"{i:04d}", s) for i, s in enumerate(result.structures) if s is not None]
        _relax_to(
            [name for name, _ in made],
            [s for _, s in made],
            args.out,
            args.fmax,
            500,
            args.device,
            inpainted=True,
            fix_host=args.fix_host,
        )
        print(f"relaxed candidates: {args.out / 'results.csv'} (space group, E_above_hull, guest-host distance)")
    return 0 if ok else 1


def run_screen(args: argparse.Namespace) -> int:
    from backend.screening import Screen, ScreenConfig

    flags = {
        "out": args.out,
        "model": args.model,
        "n": args.n,
        "atoms": args.atoms,
        "chemsys": args.chemsys,
        "steps": args.steps,
        "seed": args.seed,
        "guidance": args.guidance,
        "batch_size": args.batch_size,
        "min_distance": args.min_distance,
        "max_e_hull": args.max_e_hull,
        "fmax": args.fmax,
        "relax_steps": args.relax_steps,
        "device": args.device,
        "ray_address": args.ray_address,
        "require_charge_neutral": False if args.no_charge_neutrality else None,
    }
    try:
        if args.config:
            config = ScreenConfig.from_toml(args.config, **flags)
        elif args.out is None:
            raise UserError("give --out (or --config with an 'out' key)")
        else:
            config = ScreenConfig(**{k: v for k, v in flags.items() if v is not None})
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(f"bad screen configuration: {exc}") from None
    from backend.sampling import parse_composition

    for text in config.compositions:
        parse_composition(text)  # a bad one is one line now, not a failed batch later
    _prepare_out(config.out)
    started = time.perf_counter()
    funnel = Screen(config).run()
    minutes = (time.perf_counter() - started) / 60
    print(funnel.to_string(index=False))
    print(f"{config.n} candidates in {minutes:.1f} min; shortlist: {config.out / 'shortlist.csv'}")
    return 0


def run_relax(args: argparse.Namespace) -> int:
    _prepare_out(args.out)
    names, structures = _read_inputs(args.inputs)
    reports, frame = _relax_to(
        names, structures, args.out, args.fmax, args.steps, args.device, keep_symmetry=args.keep_symmetry
    )
    ok = sum(r.error is None for r in reports)
    print(
        f"relaxed {ok} of {len(names)} readable structures; results: {args.out / 'results.csv'} "
        "(E_above_hull against the offline MP GGA/GGA+U hull; hull_quality says how complete it is)"
    )
    return 0 if ok else 1


def run_evaluate(args: argparse.Namespace) -> int:
    import pandas as pd

    from backend.evaluation import read_summary, requested_outcomes
    from backend.metrics import batch_rates, statistics_table
    from backend.structures import StructureFileError, read_structure

    if not args.folder.is_dir():
        raise UserError(f"{args.folder} is not a folder")
    results_path = args.folder / "results.csv"
    if not results_path.is_file():  # a 'generate' output: relax first, into the same folder
        names, raw = _read_inputs([args.folder])
        _relax_to(names, raw, args.folder, args.fmax, args.steps, args.device, keep_symmetry=args.keep_symmetry)
    results = pd.read_csv(results_path, keep_default_na=False, dtype={"name": str})
    relaxed = {}
    for name in results.name[results.error == ""]:
        try:
            relaxed[name] = read_structure(args.folder / f"{name}_relaxed.cif")
        except StructureFileError as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
    structures, e_hull = requested_outcomes(results, relaxed, read_summary(args.folder))
    if not structures:
        raise UserError(f"no crystals to evaluate in {args.folder}")
    table, rates = batch_rates(structures, e_hull)
    table.to_csv(args.folder / "metrics_per_crystal.csv", index=False)
    rates.frame().to_csv(args.folder / "metrics.csv", index=False)
    print(f"crystals requested {rates.requested} (failed generation or relaxation count as neither valid nor stable)")
    for name, rate in rates.rates:
        print(f"{name:<26}{rate.text:>22}")
    print(statistics_table([s for s in structures if s is not None], label="relaxed").to_string(index=False))
    print(f"metrics: {args.folder / 'metrics.csv'} (definitions there), per crystal: metrics_per_crystal.csv")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from pymatgen.core import Composition
    from tqdm import tqdm

    from backend.sampling import (
        GenerationRequest,
        generate,
        load_model,
        parse_chemical_system,
        parse_composition,
        parse_space_group,
    )
    from backend.sampling.engine import chain
    from backend.sampling.output import write_generation
    from backend.sampling.trajectory import TrajectoryRecorder

    composition = parse_composition(args.composition, args.formula_units) if args.composition else None
    if composition and args.atoms is not None and args.atoms != Composition(composition).num_atoms:
        raise UserError(f"--atoms {args.atoms} contradicts --composition {composition}")
    request = GenerationRequest(
        n=args.n,
        atoms=args.atoms,
        compositions=(composition,) if composition else (),
        composition_source=args.composition_source,
        novelty=args.novelty,
        chemical_system=parse_chemical_system(args.chemsys) if args.chemsys else None,
        space_group=parse_space_group(args.space_group) if args.space_group is not None else None,
        wyckoff=args.wyckoff,
        symmetry=args.symmetry,
        targets=tuple(args.target),
        guidance=args.guidance,
        steps=args.steps,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    model = load_model(args.model, device=args.device)
    request.validate(model.info)
    _prepare_out(args.out)
    recorder = TrajectoryRecorder() if args.trajectory else None
    batches = -(-request.n // request.batch_size)
    with tqdm(total=request.steps * batches, desc=f"denoising {request.n} crystals", unit="step") as bar:

        def progress(state):  # noqa: ANN001, ANN202 - a StepCallback
            bar.update(1)
            return None

        result = generate(model, request, callback=chain(progress, recorder))
    summary = write_generation(result, args.out, frames=recorder.frames if recorder else None)
    ok = sum(s is not None for s in result.structures)
    print(f"{ok} of {request.n} crystals written to {args.out} ({result.seconds:.1f} s); summary: {summary}")
    return 0 if ok else 1


def _prepare_out(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to {path}: {exc.strerror}") from None


def main(argv: list[str] | None = None) -> int:
    configure_threads()
    quiet_library_warnings()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        from backend.inpainting import InvalidHost
        from backend.sampling import InvalidRequest, ModelUnavailable
        from backend.structures import StructureFileError

        try:
            return args.run(args)
        except (InvalidRequest, ModelUnavailable, StructureFileError, InvalidHost) as exc:
            raise UserError(str(exc)) from None
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
