"""Diffusion in two dimensions, exactly: a Gaussian mixture, its forward processes and reverse-time samplers.

For a mixture the noised density at every t is again a mixture (each component's mean shrunk by the VP signal
coefficient, its variance grown by the noise), so its score is known in closed form and nothing on the Learn
page is learnt or faked. The two processes are the ones MatterGen uses: VP for the lattice (beta linear from 0.1
to 20) and VE for the positions (sigma from 0.01 to 5, geometric).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BETA_MIN, BETA_MAX = 0.1, 20.0  # VP (mattergen's lattice SDE)
SIGMA_MIN, SIGMA_MAX = 0.01, 5.0  # VE (mattergen's position SDE)
PROCESSES = ("VP", "VE")
SAMPLERS = ("Euler-Maruyama", "probability-flow ODE", "Euler-Maruyama + Langevin corrector")
LANGEVIN_SNR = 0.16  # Song et al.'s signal-to-noise ratio for the corrector's step


@dataclass(frozen=True)
class Mixture:
    """Equal-weight isotropic Gaussians in the plane."""

    means: np.ndarray  # (k, 2)
    std: float

    @classmethod
    def ring(cls, k: int = 6, radius: float = 2.0, std: float = 0.25) -> Mixture:
        angles = 2 * np.pi * np.arange(k) / k
        return cls(radius * np.stack([np.cos(angles), np.sin(angles)], axis=1), std)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        which = rng.integers(len(self.means), size=n)
        return self.means[which] + self.std * rng.standard_normal((n, 2))


def signal_and_noise(t: float | np.ndarray, process: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean coefficient a, noise std s) of x_t = a x_0 + s z."""
    t = np.asarray(t, dtype=float)
    if process == "VP":
        a = np.exp(-0.25 * t**2 * (BETA_MAX - BETA_MIN) - 0.5 * t * BETA_MIN)
        return a, np.sqrt(1 - a**2)
    return np.ones_like(t), SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN) ** t


def drift_and_diffusion(x: np.ndarray, t: float, process: str) -> tuple[np.ndarray, float]:
    """(f(x, t), g(t)^2) of the forward SDE dx = f dt + g dW."""
    if process == "VP":
        beta = BETA_MIN + t * (BETA_MAX - BETA_MIN)
        return -0.5 * beta * x, beta
    sigma = SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN) ** t
    return np.zeros_like(x), 2 * sigma**2 * np.log(SIGMA_MAX / SIGMA_MIN)


def _components(mixture: Mixture, t: float, process: str) -> tuple[np.ndarray, float]:
    a, s = signal_and_noise(t, process)
    return float(a) * mixture.means, float(a) ** 2 * mixture.std**2 + float(s) ** 2


def log_density(mixture: Mixture, x: np.ndarray, t: float, process: str) -> np.ndarray:
    """log p_t(x) of the noised mixture, (n,) for x (n, 2)."""
    means, variance = _components(mixture, t, process)
    squared = ((x[:, None, :] - means[None]) ** 2).sum(axis=2)
    logs = -squared / (2 * variance) - np.log(2 * np.pi * variance) - np.log(len(means))
    top = logs.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(logs - top).sum(axis=1, keepdims=True)))[:, 0]


def score(mixture: Mixture, x: np.ndarray, t: float, process: str) -> np.ndarray:
    """Exact score grad_x log p_t(x): responsibility-weighted pull towards each noised component, (n, 2)."""
    means, variance = _components(mixture, t, process)
    squared = ((x[:, None, :] - means[None]) ** 2).sum(axis=2)
    logs = -squared / (2 * variance)
    weights = np.exp(logs - logs.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return (weights[:, :, None] * (means[None] - x[:, None, :])).sum(axis=1) / variance


def prior(n: int, process: str, rng: np.random.Generator) -> np.ndarray:
    """Draws from p_1: a standard normal (VP), or the data smeared by sigma_max (VE, centred on 0)."""
    scale = 1.0 if process == "VP" else SIGMA_MAX
    return scale * rng.standard_normal((n, 2))


def reverse(
    mixture: Mixture, n: int, steps: int, process: str, sampler: str, seed: int = 0, eps: float = 1e-3
) -> np.ndarray:
    """Reverse-time sampling from the prior with the exact score: (steps + 1, n, 2), the prior first."""
    rng = np.random.default_rng(seed)
    x = prior(n, process, rng)
    times = np.linspace(1.0, eps, steps + 1)
    path = [x]
    for t, t_next in zip(times[:-1], times[1:]):
        dt = t - t_next
        drift, g2 = drift_and_diffusion(x, t, process)
        s = score(mixture, x, t, process)
        if sampler == "probability-flow ODE":
            x = x - (drift - 0.5 * g2 * s) * dt
        else:
            x = x - (drift - g2 * s) * dt + np.sqrt(g2 * dt) * rng.standard_normal(x.shape)
        if sampler.endswith("Langevin corrector"):
            z = rng.standard_normal(x.shape)
            s = score(mixture, x, t_next, process)
            step = 2 * (LANGEVIN_SNR * np.linalg.norm(z) / max(np.linalg.norm(s), 1e-12)) ** 2
            x = x + step * s + np.sqrt(2 * step) * z
        path.append(x)
    return np.stack(path)
