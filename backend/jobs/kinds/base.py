"""What every job kind's spec is: a frozen dataclass that the store keeps as JSON, validates itself and runs itself."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from backend.codec import decode, encode
from backend.jobs.context import JobContext, Server


class JobKind:
    """Base of every spec. ``kind`` names it in the store; ``run`` returns the job's outcome: "done", "cancelled",
    or "queued" (it gave the worker up to other users and continues when claimed again)."""

    kind: ClassVar[str]

    def to_params(self) -> dict[str, Any]:
        return encode(self)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Self:
        return decode(cls, params)

    def validate(self, server: Server) -> Self:
        """Raise a one-line error for the user (``JobRefused``, the request's own) or return the spec to queue,
        completed with what submission settles once (an inpainting plan, the server's device)."""
        return self

    def queued(self, server: Server) -> None:
        """What the kind does once the job is in the queue (a screen lists its folder); nothing by default."""

    def run(self, ctx: JobContext) -> str:
        raise NotImplementedError(f"{type(self).__name__} does not say how it runs")
