"""Overhead of the engine's per-step hook: our loop with every frame recorded vs mattergen's own sampler.

Same checkpoint, same batch, same seed, in one process; the order alternates between repeats (ours first,
then theirs first) so that neither always runs on a warmer cache. Prints a markdown table row with the
median and the range of each.

    python benchmarks/sampling.py --n 8 --atoms 8 --steps 100 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

from backend.runtime import configure_threads

configure_threads()

import torch  # noqa: E402

from backend.sampling.engine import build_sampler, conditioning_batch, denoise  # noqa: E402
from backend.sampling.hooks.trajectory import TrajectoryRecorder  # noqa: E402
from backend.sampling.models import load_model  # noqa: E402
from backend.sampling.request import GenerationRequest  # noqa: E402


def run_once(model, request: GenerationRequest, hooked: bool) -> tuple[float, int]:
    with model.lock, torch.no_grad():
        torch.manual_seed(request.seed)
        sampler = build_sampler(model, request)
        conditioning = conditioning_batch([request.atoms] * request.n, request.conditions, model.info.device)
        started = time.perf_counter()
        if hooked:
            recorder = TrajectoryRecorder()
            timesteps, dt = sampler.time_grid()
            denoise(sampler, sampler.prior(conditioning), timesteps, dt, callback=recorder)
            frames = len(recorder.frames)
        else:
            sampler.predictor_corrector.sample(conditioning)  # mattergen's PredictorCorrector loop, no recording
            frames = 0
        return time.perf_counter() - started, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--atoms", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = load_model(args.model)
    request = GenerationRequest(n=args.n, atoms=args.atoms, steps=args.steps, seed=0, chemical_system=("Li", "O"))
    run_once(model, request, hooked=True)  # warm-up (allocator, lazy imports)
    ours, theirs, frames = [], [], 0
    for repeat in range(args.repeats):
        for hooked in (True, False) if repeat % 2 == 0 else (False, True):
            seconds, made = run_once(model, request, hooked=hooked)
            (ours if hooked else theirs).append(seconds)
            frames = max(frames, made)
    a, b = statistics.median(ours), statistics.median(theirs)
    overheads = sorted(100 * (x / y - 1) for x, y in zip(ours, theirs))
    print(
        "| device | model params | batch | steps | repeats | mattergen loop (s), median [range] "
        "| engine + recorder (s), median [range] | overhead, median [range of pairs] | frames |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {model.info.device} ({torch.get_num_threads()} thread) | {model.info.parameters / 1e6:.2f} M | "
        f"{args.n} x {args.atoms} atoms | {args.steps} | {args.repeats} "
        f"| {b:.2f} [{min(theirs):.2f}-{max(theirs):.2f}] "
        f"| {a:.2f} [{min(ours):.2f}-{max(ours):.2f}] | {100 * (a / b - 1):+.1f} % "
        f"[{overheads[0]:+.1f} to {overheads[-1]:+.1f} %] | {frames} |"
    )


if __name__ == "__main__":
    main()
