"""Machine-learned interatomic potentials behind one small interface.

Only this module (and the ASE edge of :mod:`backend.relax.relaxer`) knows a potential's API. A new
potential (SevenNet-0, MACE, ...) implements :class:`Potential`; ``corrected_by_mp2020`` tells the
stability backend whether its energies already carry the MP2020 corrections (CHGNet: yes, trained on
corrected MPtrj energies) or need them applied (SevenNet-0: no).
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
import torch
from pymatgen.core import Structure

from backend.runtime import TORCH_RNG

EV_PER_A3_PER_GPA = 1 / 160.21766208


@dataclass(frozen=True)
class Evaluation:
    """Energy (eV, whole cell), forces (eV/Å) and stress (eV/Å^3, 3x3, ASE's sign) of one structure."""

    energy: float
    forces: np.ndarray
    stress: np.ndarray


class Potential(Protocol):
    name: str
    corrected_by_mp2020: bool
    max_atomic_number: int

    def evaluate(self, structures: Sequence[Structure]) -> list[Evaluation]:
        """Energies, forces and stresses of several structures in one batched call."""


def _inference_chgnet_class() -> type:
    from chgnet.model.model import CHGNet

    class InferenceCHGNet(CHGNet):
        """CHGNet whose forces and stresses come from a first-order gradient only.

        CHGNet's ``_compute`` keeps the double-backward graph (``create_graph=True``) that training
        needs; at inference that doubles the time and triples the memory for identical numbers.
        """

        def _compute(self, g, *, compute_force=False, compute_stress=False, **kwargs):  # noqa: ANN001, ANN202
            prediction = super()._compute(g, compute_force=False, compute_stress=False, **kwargs)
            if not (compute_force or compute_stress):
                return prediction
            atoms_per_graph = torch.bincount(g.atom_owners)
            energy = prediction["e"] * atoms_per_graph if self.is_intensive else prediction["e"]
            inputs = (list(g.atom_positions) if compute_force else []) + (list(g.strains) if compute_stress else [])
            grads = torch.autograd.grad(energy.sum(), inputs)
            n_graphs = len(g.atom_positions)
            if compute_force:
                prediction["f"] = [-grad for grad in grads[:n_graphs]]
            if compute_stress:
                scale = 1 / g.volumes * 160.21766208
                prediction["s"] = [s * k for s, k in zip(grads[-n_graphs:], scale)]
            return prediction

    return InferenceCHGNet


class CHGNetPotential:
    """CHGNet 0.3.0 (weights ship in the chgnet wheel), energies MP2020-compatible as predicted."""

    name = "CHGNet"
    corrected_by_mp2020 = True
    max_atomic_number = 94

    def __init__(self, device: str | None = None, batch_size: int | None = None):
        from chgnet.model.model import CHGNet

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # Measured on 2 CPU cores: 8 structures per forward pass relax 16 crystals 10% faster than 4 or 16.
        self.batch_size = batch_size or (32 if self.device.startswith("cuda") else 8)
        with TORCH_RNG, contextlib.redirect_stdout(io.StringIO()):  # CHGNet announces itself on every construction
            base = CHGNet.load(verbose=False, use_device="cpu")
            self.model = _inference_chgnet_class().from_dict(base.as_dict()).to(self.device).eval()
        self.model.graph_converter.set_isolated_atom_response("ignore")
        self._lock = threading.Lock()

    def evaluate(self, structures: Sequence[Structure]) -> list[Evaluation]:
        graphs = [self.model.graph_converter(s) for s in structures]
        with self._lock:
            predictions = self.model.predict_graph(
                [g.to(self.device) for g in graphs], task="efs", batch_size=self.batch_size
            )
        if isinstance(predictions, dict):
            predictions = [predictions]
        return [
            Evaluation(
                energy=float(p["e"]) * len(s),
                forces=np.asarray(p["f"], dtype=float),
                stress=np.asarray(p["s"], dtype=float) * EV_PER_A3_PER_GPA,
            )
            for p, s in zip(predictions, structures)
        ]


@lru_cache(maxsize=2)
def chgnet(device: str | None = None) -> CHGNetPotential:
    """One CHGNet per process and device (loading takes a second and 20 MB)."""
    return CHGNetPotential(device=device)
