"""Diffusion sampling with MatterGen: models, requests, the engine and its per-step hook."""

from backend.sampling.engine import StepCallback, StepControl, StepState
from backend.sampling.generate import GenerationResult, generate
from backend.sampling.models import (
    PUBLISHED_MODELS,
    LoadedModel,
    ModelInfo,
    ModelUnavailable,
    load_model,
)
from backend.sampling.request import (
    GenerationRequest,
    InvalidRequest,
    parse_chemical_system,
    parse_composition,
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
    "parse_composition",
    "parse_space_group",
]
