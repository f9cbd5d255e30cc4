"""The engine's adapter over mattergen's predictor-corrector sampler (written for mattergen 1.0.3, the version
:mod:`backend.thirdparty.mattergen` checks).

:class:`MattergenSampler` gives the engine's loop what ``PredictorCorrector._denoise`` does privately (score
function, predictor and corrector updates, prior, time grid) and the model's forward noise (:meth:`add_noise`, the
one way anything here noises a clean batch), so no other module names mattergen's private attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


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
