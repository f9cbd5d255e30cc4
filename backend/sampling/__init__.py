"""Diffusion sampling with MatterGen: models, requests, the engine and its per-step hook.

Importing this package installs the pure-torch stand-ins mattergen needs where the compiled
extensions are missing (see :mod:`backend.sampling.compat`).
"""

from backend.sampling import compat

compat.install()

from backend.sampling.engine import (  # noqa: E402
    GenerationResult,
    StepCallback,
    StepControl,
    StepState,
    generate,
)
from backend.sampling.models import (  # noqa: E402
    PUBLISHED_MODELS,
    LoadedModel,
    ModelInfo,
    ModelUnavailable,
    load_model,
)
from backend.sampling.request import (  # noqa: E402
    GenerationRequest,
    InvalidRequest,
    parse_chemical_system,
    parse_space_group,
)

__all__ = [
    "PUBLISHED_MODELS",
    "GenerationRequest",
    "GenerationResult",
    "InvalidRequest",
    "LoadedModel",
    "ModelInfo",
    "ModelUnavailable",
    "StepCallback",
    "StepControl",
    "StepState",
    "generate",
    "load_model",
    "parse_chemical_system",
    "parse_space_group",
]
