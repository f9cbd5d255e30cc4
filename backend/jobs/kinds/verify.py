"""A verification job: phonons and properties (``backend.verify``) of relaxed candidates of a relaxation job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from backend.jobs.context import JobContext, JobRefused, Server
from backend.jobs.kinds.base import JobKind


@dataclass(frozen=True)
class VerifySpec(JobKind):
    source: str  # the relaxation job
    names: tuple[str, ...]  # candidates, as in its results.csv
    phonons: bool = True
    properties: bool = True
    kind = "verify"

    def validate(self, server: Server) -> Self:
        """At least one check and one candidate of a finished relaxation job."""
        source = server.store.get(self.source)
        if source is None or source.kind != "relax" or source.status != "done":
            raise JobRefused("verification needs a finished relaxation job")
        if not self.names:
            raise JobRefused("choose at least one relaxed candidate to verify")
        if not self.phonons and not self.properties:
            raise JobRefused("choose phonons, properties or both")
        return self

    def run(self, ctx: JobContext) -> str:
        from backend.relax.potentials import chgnet
        from backend.results.folder import ResultFolder
        from backend.structures import StructureFileError
        from backend.verify.run import VerifyReport, verify, write_reports

        folder = ResultFolder(ctx.store.folder(self.source))
        names, structures, unreadable = [], [], []
        for name in self.names:
            try:
                structures.append(folder.relaxed(name))
                names.append(name)
            except StructureFileError:
                unreadable.append(VerifyReport(name, "", None, None, "its relaxation failed: nothing to verify"))

        def on_progress(done: int, total: int, name: str) -> None:
            ctx.report(f"verified {done}/{total} ({name})", done / total)

        potential = chgnet(ctx.server.device)
        try:
            reports = verify(names, structures, potential, self.phonons, self.properties, on_progress, ctx.cancelled)
        except InterruptedError:
            return "cancelled"
        if ctx.cancelled():
            return "cancelled"
        reports = unreadable + reports
        write_reports(reports, ctx.folder)
        ok = sum(r.error is None for r in reports)
        ctx.report(f"{ok} of {len(reports)} candidates verified")
        return "done"
