"""A screen run by the server's worker: the same config and code as ``crystal-canvas screen``."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Self

from backend.jobs.context import JobContext, JobRefused, Server
from backend.jobs.kinds.base import JobKind
from backend.jobs.store import Job, JobStore
from backend.screening.config import ScreenConfig, config_dict


@dataclass(frozen=True)
class ScreenSpec(JobKind):
    config: ScreenConfig
    kind = "screen"

    def to_params(self) -> dict[str, Any]:
        return config_dict(self.config)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Self:
        return cls(ScreenConfig.from_dict(params))

    def validate(self, server: Server) -> Self:
        """Validate as the CLI does. The folder may hold only the same screen (a resume, or a rerun with other
        thresholds), and only one job at a time may write to it. The server decides where the stages run (its Ray
        address or the worker) and on which device."""
        config = replace(self.config, device=server.device, ray_address=server.ray_address)
        config.validate(server.model_info(config.model))
        name = config.out.name
        if (config.out / "screen.json").is_file():
            differ = config.differs_beyond_thresholds(ScreenConfig.read(config.out))
            if differ:
                raise JobRefused(
                    f"screen '{name}' already exists with other {', '.join(differ)}: pick another name, or open it "
                    "and resume it as it was"
                )
        for other in server.store.jobs(kind=self.kind):
            if other.active and Path(other.params["out"]) == config.out:
                raise JobRefused(
                    f"screen '{name}' is already {other.status} (job {other.id}); wait for it or cancel it"
                )
        return replace(self, config=config)

    def queued(self, server: Server) -> None:
        """Write the config: the screen is listed on the page while it waits in the queue."""
        from backend.screening.screen import Screen

        Screen(self.config).write_config()

    def run(self, ctx: JobContext) -> str:
        """Run the screen until done, cancelled, or -- once it has made progress -- another user's job waits: then
        it goes back to the queue and resumes from its stage files when claimed again."""
        from backend.screening.estimate import machine_rates, progress_of
        from backend.screening.screen import Screen

        screen = Screen(self.config)
        before = (len(screen.log.rows("generate")), len(screen.log.rows("relax")))
        fallback = machine_rates(ctx.store.root)
        reported = [0.0]
        yielded = [False]

        def stop() -> bool:
            if yielded[0] or ctx.cancelled():
                return True
            if time.time() - reported[0] < 1.0:
                return False
            reported[0] = time.time()
            progress = progress_of(screen, before, fallback)
            ctx.report(progress.message(), progress.fraction)
            moved = (progress.generated, progress.relaxed) != before
            yielded[0] = moved and ctx.store.others_waiting(ctx.job.owner)
            return yielded[0]

        funnel = screen.run(num_cpus=ctx.server.ray_cpus, stop=stop)
        if funnel is None:
            if ctx.cancelled():
                ctx.report("cancelled: what was generated and relaxed is kept; Resume continues")
                return "cancelled"
            if yielded[0]:
                ctx.report("paused for other users' jobs; continues after them")
                return "queued"
        shortlisted = int(funnel.survivors.iloc[-1]) if funnel is not None else 0
        ctx.report(f"{self.config.n} candidates screened; {shortlisted} on the shortlist")
        return "done"


def screen_job(store: JobStore, folder: Path) -> Job | None:
    """The newest job that ran (or runs) the screen in ``folder``; None for a screen run from the CLI."""
    for job in store.jobs(kind=ScreenSpec.kind):
        if Path(job.params["out"]).resolve() == folder.resolve():
            return job
    return None
