"""Finding and loading MatterGen checkpoints.

Every model -- the embedded default, a folder on disk, a published name from the hub -- ends up as a
folder in the published layout (``config.yaml`` + ``checkpoints/last.ckpt``) and goes through one
loader, so what works for the shipped checkpoint works for a downloaded one. Configs are read with
OmegaConf directly (they are fully resolved): Hydra's compose API keeps process-global state and is not
safe under the app's worker threads.
"""

from __future__ import annotations

import contextlib
import io
import logging
import pickle
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from backend.paths import DEFAULT_MODEL_DIR
from backend.runtime import TORCH_RNG
from backend.sampling.model_info import PUBLISHED_MODELS, ModelInfo, ModelUnavailable
from backend.thirdparty.mattergen import restrict_to_condition_elements
from backend.thirdparty.patches import install

log = logging.getLogger(__name__)

HUB_REPOSITORY = "microsoft/mattergen"


@dataclass(frozen=True)
class LoadedModel:
    """A ready-to-sample MatterGen lightning module plus its description.

    ``lock`` serialises samplers on one model: the number of D3PM steps is a property of the model's
    corruption object, which the engine sets per request.
    """

    info: ModelInfo
    module: torch.nn.Module
    config: DictConfig
    lock: threading.Lock


def resolve(spec: str) -> tuple[str, str, Path]:
    """Turn ``default``, a folder path or a published name into (name, source, folder)."""
    if spec in ("", "default"):
        return "default", "embedded", DEFAULT_MODEL_DIR
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.name, "local", path.resolve()
    if spec in PUBLISHED_MODELS:
        return spec, "hub", _download(spec)
    raise ModelUnavailable(
        f"unknown model '{spec}': use 'default', a folder with config.yaml and checkpoints/last.ckpt, "
        f"or one of {', '.join(PUBLISHED_MODELS)}"
    )


def _download(name: str) -> Path:
    """Fetch a published checkpoint from the Hugging Face hub, using huggingface_hub's cache first.

    Offline (or with ``HF_HUB_OFFLINE=1``) a model that is not cached fails at once with a message that
    says what to do, instead of huggingface_hub's minute of retries.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    files = (f"checkpoints/{name}/checkpoints/last.ckpt", f"checkpoints/{name}/config.yaml")
    try:
        paths = [hf_hub_download(repo_id=HUB_REPOSITORY, filename=f, local_files_only=True) for f in files]
        return Path(paths[1]).parent
    except Exception:  # not cached yet: go online below
        pass
    offline_reason = _hub_unreachable()
    try:
        if offline_reason:
            raise ConnectionError(offline_reason)
        paths = [hf_hub_download(repo_id=HUB_REPOSITORY, filename=f) for f in files]
    except Exception as exc:  # every hub failure (offline, DNS, HTTP, auth) means the same to the user
        raise ModelUnavailable(
            f"could not download '{name}' from the Hugging Face hub ({HUB_REPOSITORY}): {exc}. "
            f"Download checkpoints/{name}/ on a connected machine and pass that folder instead."
        ) from None
    return Path(paths[1]).parent


def _hub_unreachable() -> str | None:
    """Why the hub cannot be reached right now, or None when a connection opens within 3 s."""
    import os
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return "HF_HUB_OFFLINE is set"
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError as exc:
        return f"no connection to {host} ({exc.strerror or exc})"
    return None


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(spec: str = "default", device: str | None = None) -> LoadedModel:
    """Load (once per process) the model named by ``spec`` onto ``device`` (CUDA when present)."""
    name, source, folder = resolve(spec)
    return _load(name, source, folder, device or default_device())


@lru_cache(maxsize=4)
def _load(name: str, source: str, folder: Path, device: str) -> LoadedModel:
    config_path, ckpt_path = folder / "config.yaml", folder / "checkpoints" / "last.ckpt"
    for required in (config_path, ckpt_path):
        if not required.is_file():
            raise ModelUnavailable(f"model folder {folder} has no {required.relative_to(folder)}")
    try:
        config = OmegaConf.load(config_path)
        module_config = config.lightning_module
    except Exception as exc:
        raise ModelUnavailable(f"{config_path} is not a MatterGen config: {exc}") from None
    module = _instantiate(module_config)
    state = _read_state_dict(ckpt_path, trusted=source in ("embedded", "local", "hub"))
    result = module.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ModelUnavailable(
            f"checkpoint {ckpt_path} does not match its config: "
            f"{len(result.missing_keys)} missing and {len(result.unexpected_keys)} unexpected weights "
            f"(first: {(result.missing_keys + result.unexpected_keys)[0]})"
        )
    restrict_to_condition_elements(module)
    module = module.to(device).eval()
    info = ModelInfo(
        name=name,
        source=source,
        path=folder,
        conditions=tuple(module.diffusion_module.model.cond_fields_model_was_trained_on),
        parameters=sum(p.numel() for p in module.parameters()),
        trained_steps=int(module.diffusion_module.corruption.discrete_corruptions["atomic_numbers"].N),
        device=device,
    )
    return LoadedModel(info=info, module=module, config=config, lock=threading.Lock())


def _instantiate(module_config: DictConfig) -> torch.nn.Module:
    from hydra.utils import instantiate

    install()
    try:
        # mattergen prints its install path on first import; keep the CLI's output clean.
        with TORCH_RNG, contextlib.redirect_stdout(io.StringIO()):
            module = instantiate(module_config)
    except Exception as exc:
        raise ModelUnavailable(f"cannot build the model from its config: {exc}") from None
    if not isinstance(module, torch.nn.Module) or not hasattr(module, "diffusion_module"):
        raise ModelUnavailable("config.yaml does not describe a MatterGen lightning_module")
    return module


def _read_state_dict(path: Path, trusted: bool) -> dict[str, torch.Tensor]:
    """Weights only where the format allows; a full Lightning checkpoint needs pickle (trusted sources)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not trusted:
            raise ModelUnavailable(f"{path} holds more than weights and its source is not trusted") from None
        log.warning("%s is a full Lightning checkpoint; loading it with pickle (trusted source)", path)
        checkpoint = _load_pickled(path)
    except Exception as exc:
        raise ModelUnavailable(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ModelUnavailable(f"{path} is not a MatterGen checkpoint (no state_dict)")
    return checkpoint["state_dict"]


def _load_pickled(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ModelUnavailable(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from None
