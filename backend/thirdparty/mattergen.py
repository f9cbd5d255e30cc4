"""mattergen 1.0.3: the patches this project needs and the one adapter that touches its private names.

- GemNet's ``EfficientInteractionBilinear`` takes ``torch.max`` of an empty triplet index and raises on a
  graph with edges but no triplets (tiny models, sparse noisy cells); with no triplets the bilinear sum
  is exactly zero, which the patched ``forward`` returns.
- ``GemNetT.__init__`` reads its scale factors from ``<mattergen package>/common/gemnet/gemnet-dT.json``
  whatever its config says, and the 1.0.3 wheel lacks that file: the module's root is pointed at the
  copy in ``assets/mattergen`` instead.
- mattergen's CLI turns on ``mask_disallowed_elements``; its Python API does not, and without it a
  chemical-system condition only nudges the model instead of restricting the elements it may place.

:class:`MattergenSampler` gives the engine's loop what ``PredictorCorrector._denoise`` does privately
(score function, predictor and corrector updates, prior, time grid), so no other module names
mattergen's private attributes.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Update:
    """A predictor or corrector step's result: the sample and its mean (mattergen returns both)."""

    batch: object
    mean_batch: object
    score: object  # per-field scores, indexable by field name


class MattergenSampler:
    """A mattergen ``PredictorCorrector`` seen through public methods, one call per loop operation."""

    def __init__(self, predictor_corrector: object):
        self.predictor_corrector = predictor_corrector

    @property
    def corruption(self) -> object:
        """The multi-field corruption: ``sdes`` (pos, cell) and ``discrete_corruptions`` (atom types)."""
        return self.predictor_corrector._multi_corruption

    @property
    def fields(self) -> set[str]:
        pc = self.predictor_corrector
        return set(pc._predictors) | set(pc._correctors)

    @property
    def corrector_steps(self) -> int:
        pc = self.predictor_corrector
        return pc._n_steps_corrector if pc._correctors else 0

    def time_grid(self) -> tuple[list[float], float]:
        """mattergen's uniform time grid from T to eps and its (negative) predictor step."""
        pc = self.predictor_corrector
        n, t_max, eps = pc.N, pc._max_t, pc._eps_t
        return torch.linspace(t_max, eps, n).tolist(), -(t_max - eps) / (n - 1)

    def prior(self, conditioning: object) -> object:
        """A batch drawn from the prior, shaped and conditioned like ``conditioning``."""
        from mattergen.diffusion.sampling.pc_sampler import _sample_prior

        return _sample_prior(self.corruption, conditioning, mask=None)

    def add_noise(self, batch: object, t: float) -> object:
        """``batch`` forward-noised to time ``t`` by the model's own corruption (every field it diffuses)."""
        times = torch.full((batch.get_batch_size(),), float(t), device=batch["cell"].device)
        return self.corruption.sample_marginal(batch, times)

    def score(self, batch: object, t: torch.Tensor) -> object:
        """The model's per-field scores (for atom types: logits of the clean type, Z = column + 1) at time ``t``."""
        return self.predictor_corrector._score_fn(batch, t)

    def correct(self, batch: object, mean_batch: object, t: torch.Tensor, dt: torch.Tensor) -> Update:
        """One corrector (Langevin) update of every corrected field."""
        pc = self.predictor_corrector
        fns = {k: c.step_given_score for k, c in pc._correctors.items()}
        return self._update(fns, batch, mean_batch, t, {"t": t, "dt": dt})

    def predict(self, batch: object, mean_batch: object, t: torch.Tensor, dt: torch.Tensor) -> Update:
        """One predictor (ancestral) update of every predicted field, from t to t + dt."""
        pc = self.predictor_corrector
        fns = {k: p.update_given_score for k, p in pc._predictors.items()}
        return self._update(fns, batch, mean_batch, t, {"t": t, "batch": batch, "dt": dt})

    def _update(self, fns: dict, batch: object, mean_batch: object, t: torch.Tensor, broadcast: dict) -> Update:
        from mattergen.diffusion.corruption.multi_corruption import apply
        from mattergen.diffusion.sampling.pc_sampler import _mask_replace

        score = self.score(batch, t)
        samples_means = apply(
            fns=fns, broadcast=broadcast, x=batch, score=score, batch_idx=self.corruption._get_batch_indices(batch)
        )
        no_mask = {k: None for k in self.fields}
        new_batch, new_mean = _mask_replace(samples_means, batch, mean_batch, no_mask)
        return Update(new_batch, new_mean, score)
