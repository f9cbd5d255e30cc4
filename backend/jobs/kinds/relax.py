"""A relaxation job: a finished job's crystals relaxed with CHGNet, placed on the hull, its batch rates written once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from backend.jobs.context import JobContext, JobRefused, Server
from backend.jobs.kinds.base import JobKind


@dataclass(frozen=True)
class RelaxSpec(JobKind):
    """``fix_host`` keeps an inpainting job's host atoms in place, ``keep_symmetry`` each crystal's space group."""

    source: str  # the job whose structures are relaxed
    fmax: float = 0.05
    steps: int = 500
    fix_host: bool = False
    keep_symmetry: bool = False
    kind = "relax"

    def validate(self, server: Server) -> Self:
        source = server.store.get(self.source)
        if source is None or source.status != "done":
            raise JobRefused("relaxation needs a finished job: pick one whose crystals are made")
        if self.fmax <= 0 or self.steps < 1:
            raise JobRefused(f"force threshold must be positive and steps at least 1 (got {self.fmax}, {self.steps})")
        return self

    def run(self, ctx: JobContext) -> str:
        from backend.evaluation import relax_and_assess
        from backend.relax.potentials import chgnet
        from backend.results.folder import ResultFolder

        source_job = ctx.store.get(self.source)
        source = ResultFolder(ctx.store.folder(self.source))
        unreadable: list[str] = []
        structures = source.structures(unreadable=lambda name, exc: unreadable.append(name))
        if source_job is None or not structures:
            raise ValueError("the source job has no structures to relax")

        def on_progress(progress):  # noqa: ANN001, ANN202 - a relax ProgressCallback
            ctx.report(
                f"step {progress.step}: {progress.finished}/{progress.total} structures finished",
                progress.finished / progress.total,
            )

        reports = relax_and_assess(
            list(structures),
            list(structures.values()),
            chgnet(ctx.server.device),
            fmax=self.fmax,
            steps=self.steps,
            progress=on_progress,
            inpainted=source_job.kind == "inpaint",
            fix_host=self.fix_host,
            keep_symmetry=self.keep_symmetry,
        )
        folder = ResultFolder(ctx.folder)
        folder.write_results(reports)
        relaxed = {r.name: r.relaxed for r in reports if r.relaxed is not None}
        folder.write_rates(relaxed, source.summary())  # once, for every reader
        skipped = f"; {len(unreadable)} unreadable files skipped" if unreadable else ""
        ctx.report(f"{sum(r.error is None for r in reports)} of {len(reports)} relaxed{skipped}")
        return "done"
