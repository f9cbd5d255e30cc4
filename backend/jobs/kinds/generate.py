"""A generation job: ``request.n`` crystals from a model, frames recorded for the live view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from backend.codec import decode, encode
from backend.jobs.context import JobContext, Server
from backend.jobs.kinds.base import JobKind
from backend.sampling.request import GenerationRequest


@dataclass(frozen=True)
class GenerateSpec(JobKind):
    model: str
    request: GenerationRequest
    kind = "generate"

    def to_params(self) -> dict[str, Any]:
        return {"model": self.model, **encode(self.request)}  # flat, as every store so far has kept it

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Self:
        return cls(params["model"], decode(GenerationRequest, params))

    def validate(self, server: Server) -> Self:
        self.request.validate(server.model_info(self.model))
        return self

    def run(self, ctx: JobContext) -> str:
        from backend.sampling.generate import generate
        from backend.sampling.output import write_generation

        model = ctx.server.load(self.model)
        request = self.request.resolved(model.info)  # the steps a job runs depend on where its compositions come from
        batches = -(-request.n // request.batch_size)
        steps = request.denoising_steps
        result = generate(model, request, callback=ctx.step_recorder(steps * batches, steps))
        if result.cancelled:
            ctx.report("cancelled")
            return "cancelled"
        write_generation(result, ctx.folder)
        ok = sum(s is not None for s in result.structures)
        ctx.report(f"{ok} of {request.n} crystals generated in {result.seconds:.0f} s")
        return "done"
