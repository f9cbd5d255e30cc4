"""Small read-only views of backend state that the pages display."""

from __future__ import annotations

from backend.sampling import load_model


def default_model_summary() -> dict[str, str]:
    """Name, size and conditions of the embedded default model, as display strings."""
    info = load_model("default").info
    return {
        "model": f"{info.name} ({info.source})",
        "parameters": f"{info.parameters / 1e6:.2f} M",
        "conditions": ", ".join(info.conditions) or "none (unconditional)",
        "device": info.device,
        "trained diffusion steps": str(info.trained_steps),
    }
