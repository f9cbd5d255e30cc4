"""CHGNet with first-order forces and stresses (written for chgnet 0.4.2).

CHGNet's ``_compute`` keeps the double-backward graph (``create_graph=True``) that training needs; at
inference that doubles the time and triples the memory for identical numbers. The subclass here asks
the parent for energies only and takes one first-order gradient for forces and stresses.
"""

from __future__ import annotations

import torch
from ase.units import GPa

WRITTEN_FOR = "0.4.2"


def inference_chgnet_class() -> type:
    """A ``CHGNet`` subclass for inference; ``.load()`` on it gives the shipped weights."""
    from chgnet.model.model import CHGNet

    if not callable(getattr(CHGNet, "_compute", None)):
        raise RuntimeError(f"CHGNet has no _compute to override (patch written for chgnet {WRITTEN_FOR})")

    class InferenceCHGNet(CHGNet):
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
                scale = 1 / (g.volumes * GPa)  # CHGNet reports GPa
                prediction["s"] = [s * k for s, k in zip(grads[-n_graphs:], scale)]
            return prediction

    return InferenceCHGNet
