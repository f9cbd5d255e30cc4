"""Running a screen's stages as Ray tasks: generation batches and relaxation groups on a cluster.

The stage functions are the local ones; Ray only places them (generation on a GPU when the cluster has
one, relaxation on CPUs) and hands results back, and the driver writes them to the output folder, so
resuming and the funnel are the same as for a local run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from backend.screening.stages import generate_batch, relax_batch

if TYPE_CHECKING:  # the screen calls this module; this module only calls the screen's public methods
    from backend.screening.screen import Screen


def connect(address: str, num_cpus: int | None = None) -> None:
    """``local`` starts a private instance on this machine (loopback only); otherwise join ``address``."""
    import ray

    if ray.is_initialized():
        return
    if address == "local":
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


def run_on_ray(screen: Screen, num_cpus: int | None, stop: Callable[[], bool]) -> bool:
    """Run the screen's remaining work as Ray tasks; False when ``stop`` ended it (pending tasks are cancelled and
    their candidates are done again by the next run)."""
    import ray

    config = screen.config
    connect(config.ray_address, num_cpus)
    gpus = ray.cluster_resources().get("GPU", 0)
    generate_task = ray.remote(generate_batch).options(num_cpus=1, num_gpus=1 if gpus else 0)
    relax_task = ray.remote(relax_batch).options(num_cpus=1)
    pending: dict[object, str] = {}

    def submit_relaxations(candidates: list) -> None:
        for start in range(0, len(candidates), config.relax_batch):
            pending[relax_task.remote(config, candidates[start : start + config.relax_batch])] = "relax"

    submit_relaxations(screen.unrelaxed())
    for batch in screen.pending_batches():
        pending[generate_task.remote(config, batch)] = "generate"
    while pending:
        if stop():
            for ref in pending:
                ray.cancel(ref)
            return False
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        if not ready:
            continue
        ref = ready[0]
        kind = pending.pop(ref)
        result = ray.get(ref)
        if kind == "generate":
            submit_relaxations(screen.record_generation(*result))
        else:
            screen.record_relaxation(result)
    return True
