"""A crystal structure prediction job (``backend.csp``): candidates for one composition, relaxed with CHGNet and
ranked by energy (or the consensus order)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from backend.csp_order import ORDERS
from backend.jobs.context import JobContext, JobRefused, Server
from backend.jobs.kinds.base import JobKind


@dataclass(frozen=True)
class CspSpec(JobKind):
    model: str
    composition: str
    n: int = 16
    prototypes: int = 10
    start_time: float = 0.3
    steps: int = 100
    seed: int = 0
    fmax: float = 0.05
    relax_steps: int = 300
    order: str = "energy"  # one of backend.csp_order.ORDERS
    kind = "csp"

    def validate(self, server: Server) -> Self:
        """Check the composition as generation would (one line for the user)."""
        from backend.sampling.request import GenerationRequest, parse_composition

        info = server.model_info(self.model)
        formula = parse_composition(self.composition)
        GenerationRequest(n=self.n, compositions=(formula,), steps=self.steps, seed=self.seed).validate(info)
        if not 0 < self.start_time <= 1:
            raise JobRefused(f"noise level must be in (0, 1] (got {self.start_time})")
        if self.order not in ORDERS:
            raise JobRefused(f"rank by {' or '.join(ORDERS)} (got {self.order!r})")
        return self

    def run(self, ctx: JobContext) -> str:
        from backend.csp import plan_candidates, rank, ranking_line, write_ranking
        from backend.relax.potentials import chgnet

        model = ctx.server.load(self.model)
        potential = chgnet(ctx.server.device)
        recorder = ctx.step_recorder(2 * self.steps, self.steps)
        plan = plan_candidates(
            model,
            self.composition,
            self.n,
            self.prototypes,
            self.start_time,
            self.steps,
            self.seed,
            recorder,
            potential,
        )
        if ctx.cancelled():
            return "cancelled"

        def on_progress(progress):  # noqa: ANN001, ANN202 - a relax ProgressCallback
            ctx.report(f"relaxing: step {progress.step}, {progress.finished}/{progress.total} candidates finished")

        ranked = rank(plan.candidates, potential, self.fmax, self.relax_steps, progress=on_progress, order=self.order)
        frame = write_ranking(ranked, ctx.folder)
        ctx.report(f"{plan.note}; {ranking_line(frame, len(plan.candidates), self.order)}")
        return "done"
