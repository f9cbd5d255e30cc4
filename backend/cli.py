"""``crystal-canvas``: the headless face of the backend (same code the app calls).

Every user error ends as one ``error: ...`` line on stderr and exit status 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from backend.cli_arguments import UserError, build_parser
from backend.runtime import configure_threads, quiet_library_warnings

if TYPE_CHECKING:
    from backend.inpainting.framework import Framework
    from backend.inpainting.request import InpaintRequest


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

    from backend.evaluation import relax_and_assess
    from backend.relax.potentials import chgnet
    from backend.results.folder import ResultFolder

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
    return reports, ResultFolder(out).write_results(reports)


def _inpainting_input(args: argparse.Namespace) -> tuple[Framework, InpaintRequest]:
    """The framework and request the inpaint flags ask for: chosen guests, or a disordered host's own."""
    from backend.inpainting.disorder import plan_order_disorder
    from backend.inpainting.framework import prepare_framework
    from backend.inpainting.request import InpaintRequest
    from backend.structures import read_checked

    repeat = None
    if args.supercell is not None:
        try:
            repeat = tuple(int(x) for x in args.supercell.split(","))
        except ValueError:
            raise UserError(f"--supercell '{args.supercell}' is not three integers like 1,1,2") from None
    sampling = {
        "n": args.n,
        "steps": args.steps,
        "jump": args.jump,
        "resample": args.resample,
        "seed": args.seed,
        "guidance": args.guidance,
        "guest_start": args.guest_start or ("sites" if args.order_disorder else "uniform"),
        "start_time": args.start_time,
    }
    if args.order_disorder:
        given = {"--add": args.add, "--free": args.free, "--remove": args.remove, "--symmetrize": args.symmetrize}
        clash = next((flag for flag, value in given.items() if value), None)
        if clash:
            raise UserError(f"--order-disorder takes the guests from the host's occupancies; drop {clash}")
        plan = plan_order_disorder(read_checked(args.host, disorder_allowed=True), repeat, args.mixed_sites)
        return plan.framework, plan.request(**sampling)
    framework = prepare_framework(
        read_checked(args.host), args.remove, symmetrize=args.symmetrize, repeat=repeat or (1, 1, 1)
    )
    request = InpaintRequest(
        guests=tuple(args.add),
        free_guests=args.free,
        free_elements=tuple(e for e in args.free_elements.replace(" ", "").split(",") if e),
        **sampling,
    )
    return framework, request


def run_inpaint(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from backend.inpainting.output import write_inpainting
    from backend.inpainting.plan import plan_inpainting
    from backend.inpainting.run import inpaint
    from backend.sampling.hooks.protocol import chain
    from backend.sampling.hooks.trajectory import TrajectoryRecorder, write_extxyz
    from backend.sampling.models import load_model

    framework, request = _inpainting_input(args)
    model = load_model(args.model, device=args.device)
    _prepare_out(args.out)
    recorder = TrajectoryRecorder() if args.trajectory else None
    print(f"host: {framework.note}")
    plan = plan_inpainting(model.info, framework.structure, np.array(framework.keep), request)  # refuse before the bar
    with tqdm(desc=f"inpainting {request.n} candidates", unit="step") as bar:

        def progress(state):  # noqa: ANN001, ANN202 - a StepCallback
            bar.update(1)

        callback = chain(progress, recorder)
        result = inpaint(model, framework.structure, framework.keep, request, callback=callback, plan=plan)
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
    from backend.sampling.models import load_model
    from backend.sampling.request import parse_space_group
    from backend.screening.config import ScreenConfig
    from backend.screening.screen import Screen

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
        "composition_source": args.composition_source,
        "space_group": parse_space_group(args.space_group) if args.space_group else None,
        "shortlist_size": args.shortlist_size,
        "phonons": True if args.phonons else None,
        "bulk_modulus_min": args.bulk_modulus_min,
    }
    try:
        if args.config:
            config = ScreenConfig.from_toml(args.config, **flags)
        elif args.out is None:
            raise UserError("give --out (or --config with an 'out' key)")
        else:
            config = ScreenConfig.from_dict({k: v for k, v in flags.items() if v is not None})
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(f"bad screen configuration: {exc}") from None
    config.validate(load_model(config.model, device=config.device).info)  # the page's checks, one line each
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

    from backend.metrics.statistics import statistics_table
    from backend.results.folder import ResultFolder

    if not args.folder.is_dir():
        raise UserError(f"{args.folder} is not a folder")
    folder = ResultFolder(args.folder)
    if folder.results() is None:  # a 'generate' output: relax first, into the same folder
        names, raw = _read_inputs([args.folder])
        _relax_to(names, raw, args.folder, args.fmax, args.steps, args.device, keep_symmetry=args.keep_symmetry)
    relaxed = folder.relaxed_structures(lambda name, exc: print(f"error: {name}: {exc}", file=sys.stderr))
    structures, rates = folder.write_rates(relaxed, folder.summary())
    if not structures:
        raise UserError(f"no crystals to evaluate in {args.folder}")
    print(f"crystals requested {rates.requested} (failed generation or relaxation count as neither valid nor stable)")
    for name, rate in rates.rates:
        print(f"{name:<26}{rate.text:>22}")
    print(statistics_table([s for s in structures if s is not None], label="relaxed").to_string(index=False))
    print(f"metrics: {args.folder / 'metrics.csv'} (definitions there), per crystal: metrics_per_crystal.csv")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from pymatgen.core import Composition
    from tqdm import tqdm

    from backend.sampling.generate import generate
    from backend.sampling.hooks.protocol import chain
    from backend.sampling.hooks.trajectory import TrajectoryRecorder
    from backend.sampling.models import load_model
    from backend.sampling.output import write_generation
    from backend.sampling.request import GenerationRequest, parse_chemical_system, parse_composition, parse_space_group

    composition = parse_composition(args.composition, args.formula_units) if args.composition else None
    if composition and args.atoms is not None and args.atoms != Composition(composition).num_atoms:
        raise UserError(f"--atoms {args.atoms} contradicts --composition {composition}")
    starts = _start_structures(args.start_from, composition, args.n)
    if starts:
        composition = None  # the start structures carry it
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
        cell_volume=args.cell_volume,
        start_structures=tuple(s.to_json() for s in starts),
        start_time=args.start_time,
        start_types=args.start_types,
        start_symmetry=args.start_symmetry,
    )
    model = load_model(args.model, device=args.device)
    request = request.validate(model.info).resolved(model.info)
    _prepare_out(args.out)
    recorder = TrajectoryRecorder() if args.trajectory else None
    batches = -(-request.n // request.batch_size)
    with tqdm(total=request.denoising_steps * batches, desc=f"denoising {request.n} crystals", unit="step") as bar:

        def progress(state):  # noqa: ANN001, ANN202 - a StepCallback
            bar.update(1)
            return None

        result = generate(model, request, callback=chain(progress, recorder))
    summary = write_generation(result, args.out, frames=recorder.frames if recorder else None)
    ok = sum(s is not None for s in result.structures)
    print(f"{ok} of {request.n} crystals written to {args.out} ({result.seconds:.1f} s); summary: {summary}")
    return 0 if ok else 1


def _start_structures(start_from: str | None, composition: str | None, n: int) -> list:
    """The structures ``--start-from`` names: a file's, or the composition's prototypes (said in one line)."""
    from backend.structures import read_checked

    if start_from is None:
        return []
    if start_from != "prototypes":
        return [read_checked(Path(start_from))]
    if composition is None:
        raise UserError("--start-from prototypes needs --composition")
    from backend.prototypes.retrieval import prototype_starts
    from backend.sampling.request import GenerationRequest

    found, note = prototype_starts(composition, n, max_atoms=GenerationRequest().max_atoms)
    print(note, file=sys.stderr)
    return found


def run_csp(args: argparse.Namespace) -> int:
    from backend.csp import plan_candidates, rank, ranking_line, write_ranking
    from backend.relax.potentials import chgnet
    from backend.sampling.models import load_model

    if args.fmax <= 0:
        raise UserError(f"--fmax must be positive (got {args.fmax})")
    model = load_model(args.model, device=args.device)
    _prepare_out(args.out)
    potential = chgnet(args.device)
    plan = plan_candidates(
        model, args.composition, args.n, args.prototypes, args.start_time, args.steps, args.seed, potential=potential
    )
    print(plan.note)
    made = sum(c.structure is not None for c in plan.candidates)
    print(f"relaxing {made} candidates of {plan.composition} with CHGNet")
    frame = write_ranking(rank(plan.candidates, potential, args.fmax, args.relax_steps, order=args.order), args.out)
    print(frame.head(10).to_string(index=False))
    print(ranking_line(frame, len(plan.candidates), args.order))
    print(f"ranking: {args.out / 'ranking.csv'} (relaxed CIFs beside it)")
    return 0 if (frame["rank"] != "").any() else 1


def _prepare_out(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to {path}: {exc.strerror}") from None


def run_verify(args: argparse.Namespace) -> int:
    from backend.relax.potentials import chgnet
    from backend.verify.run import THRESHOLD_TEXT, verify, write_reports

    _prepare_out(args.out)
    names, structures = _read_inputs(args.inputs)
    both = not args.phonons and not args.properties

    def report(done: int, total: int, name: str) -> None:
        print(f"verified {done}/{total}: {name}", file=sys.stderr)

    reports = verify(
        names,
        structures,
        chgnet(args.device),
        phonons=both or args.phonons,
        properties=both or args.properties,
        progress=report,
    )
    frame = write_reports(reports, args.out)
    for row in frame.itertuples():
        if row.error:
            print(f"error: {row.file}: {row.error}", file=sys.stderr)
    print(frame.drop(columns=["error", "band_gap"]).to_string(index=False))
    print(f"{THRESHOLD_TEXT}; results: {args.out / 'verify.csv'}")
    return 0 if any(not r.error for r in reports) else 1


RUNS = {
    "generate": run_generate,
    "relax": run_relax,
    "inpaint": run_inpaint,
    "screen": run_screen,
    "evaluate": run_evaluate,
    "csp": run_csp,
    "verify": run_verify,
}


def main(argv: list[str] | None = None) -> int:
    configure_threads()
    quiet_library_warnings()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        from backend.inpainting.request import InvalidHost
        from backend.sampling.model_info import ModelUnavailable
        from backend.sampling.request import InvalidRequest
        from backend.structures import StructureFileError

        try:
            return RUNS[args.command](args)
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
