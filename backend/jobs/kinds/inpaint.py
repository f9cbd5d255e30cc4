"""An inpainting job: guests placed into a host's framework (CHGGen), planned once at submission."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Self

import numpy as np
from pymatgen.core import Structure

from backend.inpainting.framework import Framework
from backend.inpainting.plan import InpaintPlan, plan_inpainting
from backend.inpainting.request import InpaintRequest
from backend.jobs.context import JobContext, Server
from backend.jobs.kinds.base import JobKind


@dataclass(frozen=True)
class InpaintSpec(JobKind):
    """The host is kept as pymatgen's dict, not CIF: a CIF read back is regrouped by element, and ``keep`` indexes
    the sites. ``plan`` is set by :meth:`validate`: the worker runs the plan that was accepted."""

    model: str
    host: Structure
    keep: tuple[bool, ...]  # per host site: kept as framework
    note: str
    request: InpaintRequest
    plan: InpaintPlan | None = None
    kind = "inpaint"

    @classmethod
    def of(cls, model: str, framework: Framework, request: InpaintRequest) -> InpaintSpec:
        return cls(model, framework.structure, tuple(bool(k) for k in framework.keep), framework.note, request)

    @property
    def host_atoms(self) -> int:
        """Kept host atoms: they come first in every candidate (the live view draws them translucent)."""
        return sum(self.keep)

    def validate(self, server: Server) -> Self:
        plan = plan_inpainting(server.model_info(self.model), self.host, np.array(self.keep), self.request)
        return replace(self, plan=plan)

    def run(self, ctx: JobContext) -> str:
        from backend.inpainting.output import write_inpainting
        from backend.inpainting.repaint import inpainting_schedule
        from backend.inpainting.run import inpaint

        model = ctx.server.load(self.model)
        total = len(inpainting_schedule(self.request))
        recorder = ctx.step_recorder(total, total)
        result = inpaint(model, self.host, list(self.keep), self.request, callback=recorder, plan=self.plan)
        if result.cancelled:
            return "cancelled"
        write_inpainting(result, self.host, self.keep, ctx.folder)
        ok = sum(s is not None for s in result.structures)
        ctx.report(f"{ok} of {self.request.n} candidates inpainted in {result.seconds:.0f} s")
        return "done"
