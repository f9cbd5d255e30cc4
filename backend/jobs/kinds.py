"""One frozen spec per job kind: what a job was asked for, as the store keeps it and as the worker runs it.

The store holds JSON parameters; everything else -- the runner's submit and dispatch, the pages -- sees these
specs, so a kind's fields are written in one place and a page never digs in a params dict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from pymatgen.core import Structure

from backend.codec import decode
from backend.inpainting.request import InpaintRequest
from backend.jobs.store import Job, JobStore
from backend.sampling.request import GenerationRequest
from backend.screening.config import ScreenConfig, config_dict


@dataclass(frozen=True)
class GenerateSpec:
    model: str
    request: GenerationRequest
    kind = "generate"

    def to_params(self) -> dict:
        return {"model": self.model, **asdict(self.request)}

    @classmethod
    def from_params(cls, params: dict) -> GenerateSpec:
        return cls(params["model"], decode(GenerationRequest, params))


@dataclass(frozen=True)
class InpaintSpec:
    model: str
    host: Structure
    keep: tuple[bool, ...]  # per host site: kept as framework
    note: str
    request: InpaintRequest
    kind = "inpaint"

    @property
    def host_atoms(self) -> int:
        """Kept host atoms: they come first in every candidate (the live view draws them translucent)."""
        return sum(self.keep)

    def to_params(self) -> dict:
        # pymatgen's dict, not CIF: a CIF read back is regrouped by element, and ``keep`` indexes the sites
        return {
            "model": self.model,
            "host": self.host.as_dict(),
            "keep": list(self.keep),
            "note": self.note,
            "request": asdict(self.request),
        }

    @classmethod
    def from_params(cls, params: dict) -> InpaintSpec:
        return cls(
            model=params["model"],
            host=Structure.from_dict(params["host"]),
            keep=tuple(bool(k) for k in params["keep"]),
            note=params.get("note", ""),
            request=decode(InpaintRequest, params["request"]),
        )


@dataclass(frozen=True)
class RelaxSpec:
    source: str  # the job whose structures are relaxed
    fmax: float = 0.05
    steps: int = 500
    fix_host: bool = False
    keep_symmetry: bool = False
    kind = "relax"

    def to_params(self) -> dict:
        return asdict(self)

    @classmethod
    def from_params(cls, params: dict) -> RelaxSpec:
        return decode(cls, params)


@dataclass(frozen=True)
class CspSpec:
    """Crystal structure prediction for one composition (``backend.csp``): ranked by CHGNet energy."""

    model: str
    composition: str
    n: int = 16
    prototypes: int = 10
    start_time: float = 0.3
    steps: int = 100
    seed: int = 0
    fmax: float = 0.05
    relax_steps: int = 300
    kind = "csp"

    def to_params(self) -> dict:
        return asdict(self)

    @classmethod
    def from_params(cls, params: dict) -> CspSpec:
        return decode(cls, params)


@dataclass(frozen=True)
class ScreenSpec:
    """A screen run by the server's worker: the same config and code as ``crystal-canvas screen``."""

    config: ScreenConfig
    kind = "screen"

    def to_params(self) -> dict:
        return config_dict(self.config)

    @classmethod
    def from_params(cls, params: dict) -> ScreenSpec:
        return cls(ScreenConfig.from_dict(params))


@dataclass(frozen=True)
class VerifySpec:
    """Phonons and properties (``backend.verify``) of some relaxed candidates of a finished relaxation job."""

    source: str  # the relaxation job
    names: tuple[str, ...]  # candidates, as in its results.csv
    phonons: bool = True
    properties: bool = True
    kind = "verify"

    def to_params(self) -> dict:
        return asdict(self)

    @classmethod
    def from_params(cls, params: dict) -> VerifySpec:
        return decode(cls, params)


JobSpec = GenerateSpec | InpaintSpec | RelaxSpec | CspSpec | ScreenSpec | VerifySpec
SPECS: dict[str, type] = {
    spec.kind: spec for spec in (GenerateSpec, InpaintSpec, RelaxSpec, CspSpec, ScreenSpec, VerifySpec)
}


def spec_of(job: Job) -> JobSpec:
    """The typed spec of a stored job."""
    return SPECS[job.kind].from_params(job.params)


def screen_job(store: JobStore, folder: Path) -> Job | None:
    """The newest job that ran (or runs) the screen in ``folder``; None for a screen run from the CLI."""
    for job in store.jobs(kind=ScreenSpec.kind):
        if Path(job.params["out"]).resolve() == folder.resolve():
            return job
    return None
