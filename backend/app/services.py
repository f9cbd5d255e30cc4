"""The server's one job store and worker, and the models a page may offer: built once per process under a lock,
shared by every session."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from backend.jobs.runner import JobRunner
from backend.jobs.store import JobStore
from backend.paths import ROOT
from backend.runtime import steady_import_path
from backend.sampling.model_info import ModelInfo

_services_lock = threading.Lock()


_services: tuple[JobStore, JobRunner] | None = None


def services(warm_up: bool = False) -> tuple[JobStore, JobRunner]:
    """The server's one job store and worker (data in ``$CRYSTAL_CANVAS_DATA``, default ./data; screens on Ray with
    ``$CRYSTAL_CANVAS_RAY`` = 'local' or a cluster address, a local instance sized by ``$CRYSTAL_CANVAS_RAY_CPUS``).

    Checked and built under one lock: Streamlit runs each session's script in its own thread, and two first
    visitors at once must not get two workers running the same queue. ``warm_up``: the app's entry point asks the
    worker to load the model before the first job (see :meth:`JobRunner.start`).
    """
    global _services
    with _services_lock:
        if _services is None:
            steady_import_path(str(ROOT), str(ROOT / "pages"))
            store = JobStore(Path(os.environ.get("CRYSTAL_CANVAS_DATA", ROOT / "data")))
            ray_cpus = os.environ.get("CRYSTAL_CANVAS_RAY_CPUS")
            runner = JobRunner(
                store,
                models_root=models_folder(),
                ray_address=os.environ.get("CRYSTAL_CANVAS_RAY") or None,
                ray_cpus=int(ray_cpus) if ray_cpus else None,
            )
            _services = store, runner.start(warm_up=warm_up)
        return _services


def reset_services() -> None:
    """Forget the built services (tests point ``$CRYSTAL_CANVAS_DATA`` elsewhere between modules)."""
    global _services
    with _services_lock:
        _services = None


def models_folder() -> Path:
    """Where the operator puts extra checkpoint folders for the app (``$CRYSTAL_CANVAS_MODELS``, default ./models)."""
    return Path(os.environ.get("CRYSTAL_CANVAS_MODELS", ROOT / "models")).resolve()


def local_models() -> dict[str, str]:
    """Checkpoint folders (published layout) in the models folder, by name."""
    root = models_folder()
    if not root.is_dir():
        return {}
    return {
        p.name: str(p)
        for p in sorted(root.iterdir())
        if (p / "config.yaml").is_file() and (p / "checkpoints" / "last.ckpt").is_file()
    }


def model_info(spec: str) -> ModelInfo:
    """The model's description; loads it (and torch) on first use, not when a page imports this module."""
    from backend.sampling.models import load_model

    return load_model(spec).info


def default_model_summary() -> dict[str, str]:
    """Name, size and conditions of the embedded default model, as display strings."""
    info = model_info("default")
    return {
        "model": f"{info.name} ({info.source})",
        "parameters": f"{info.parameters / 1e6:.2f} M",
        "conditions": ", ".join(info.conditions) or "none (unconditional)",
        "device": info.device,
        "trained diffusion steps": str(info.trained_steps),
    }
