"""``crystal-canvas``: the headless face of the backend (same code the app calls).

Every user error ends as one ``error: ...`` line on stderr and exit status 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from backend.runtime import configure_threads


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="crystal-canvas", description="Generate, relax and evaluate crystals with MatterGen.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = commands.add_parser("generate", help="sample crystals with a MatterGen model")
    gen.add_argument("--model", default="default", help="'default', a checkpoint folder, or a published name")
    gen.add_argument("--n", type=_positive_int, default=8, help="number of crystals")
    gen.add_argument("--atoms", type=_positive_int, default=None, help="atoms per cell (default: drawn from MP-20)")
    gen.add_argument("--chemsys", default=None, help="chemical system, e.g. Li-Fe-O")
    gen.add_argument("--space-group", default=None, help="space group number or symbol (model must support it)")
    gen.add_argument("--target", type=_target, action="append", default=[], help="scalar target NAME=VALUE")
    gen.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance factor")
    gen.add_argument("--steps", type=_positive_int, default=1000, help="denoising steps")
    gen.add_argument("--seed", type=_nonnegative_int, default=0)
    gen.add_argument("--batch-size", type=_positive_int, default=64)
    gen.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    gen.add_argument("--out", type=Path, required=True, help="output folder")
    gen.add_argument("--trajectory", action="store_true", help="also write every step to trajectory.extxyz")
    gen.set_defaults(run=run_generate)
    return parser


def run_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from backend.sampling import GenerationRequest, generate, load_model, parse_chemical_system, parse_space_group
    from backend.sampling.engine import chain
    from backend.sampling.output import write_generation
    from backend.sampling.trajectory import TrajectoryRecorder

    request = GenerationRequest(
        n=args.n,
        atoms=args.atoms,
        chemical_system=parse_chemical_system(args.chemsys) if args.chemsys else None,
        space_group=parse_space_group(args.space_group) if args.space_group is not None else None,
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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        from backend.sampling import InvalidRequest, ModelUnavailable

        try:
            return args.run(args)
        except (InvalidRequest, ModelUnavailable) as exc:
            raise UserError(str(exc)) from None
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
