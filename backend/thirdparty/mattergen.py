"""mattergen 1.0.3: the patches this project needs.

- GemNet's ``EfficientInteractionBilinear`` takes ``torch.max`` of an empty triplet index and raises on a
  graph with edges but no triplets (tiny models, sparse noisy cells); with no triplets the bilinear sum
  is exactly zero, which the patched ``forward`` returns.
- ``GemNetT.__init__`` reads its scale factors from ``<mattergen package>/common/gemnet/gemnet-dT.json``
  whatever its config says, and the 1.0.3 wheel lacks that file: the module's root is pointed at the
  copy in ``assets/mattergen`` instead.
- mattergen's CLI turns on ``mask_disallowed_elements``; its Python API does not, and without it a
  chemical-system condition only nudges the model instead of restricting the elements it may place.

The engine's adapter over mattergen's sampler, the one place that names its private attributes, is
:class:`backend.sampling.adapter.MattergenSampler`; it was written for the same version.
"""

from __future__ import annotations

import contextlib
import io

import torch

from backend.paths import ASSETS

WRITTEN_FOR = "1.0.3"
SCALE_FACTORS_ROOT = ASSETS / "mattergen"  # holds common/gemnet/gemnet-dT.json, as GemNetT expects


def install() -> list[str]:
    """Apply the patches (idempotent); return their names."""
    with contextlib.redirect_stdout(io.StringIO()):  # mattergen prints its install path on first import
        from mattergen.common.gemnet import gemnet
        from mattergen.common.gemnet.layers.efficient import EfficientInteractionBilinear

    gemnet.MODELS_PROJECT_ROOT = SCALE_FACTORS_ROOT
    if not getattr(EfficientInteractionBilinear, "__crystal_canvas_patched__", False):
        original = EfficientInteractionBilinear.forward

        def forward(self, basis, m, id_reduce, id_ragged_idx):  # noqa: ANN001 - mattergen's signature
            if id_ragged_idx.numel() == 0:
                return m.new_zeros((basis[0].shape[0], self.units_out))
            return original(self, basis, m, id_reduce, id_ragged_idx)

        EfficientInteractionBilinear.forward = forward
        EfficientInteractionBilinear.__crystal_canvas_patched__ = True
    return ["GemNet without triplets", "GemNet scale factors from assets"]


def restrict_to_condition_elements(module: torch.nn.Module) -> None:
    """Make a chemical-system condition a hard element mask, as mattergen's CLI does."""
    from mattergen.denoiser import mask_disallowed_elements

    module.diffusion_module.model.element_mask_func = mask_disallowed_elements
