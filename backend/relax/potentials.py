"""Machine-learned interatomic potentials behind one small interface.

Only this module (and the ASE edge of :mod:`backend.relax.relaxer`) knows a potential's API. A new
potential (SevenNet-0, MACE, ...) implements :class:`Potential`; ``corrected_by_mp2020`` tells the
stability backend whether its energies already carry the MP2020 corrections (CHGNet: yes, trained on
corrected MPtrj energies) or need them applied (SevenNet-0: no).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from ase.units import GPa
from pymatgen.core import Structure

from backend.relax.interface import Evaluation
from backend.runtime import TORCH_RNG
from backend.thirdparty.chgnet import inference_chgnet_class


class _GraphCache:
    """CHGNet crystal graphs reused while a structure's neighbour lists stay the same.

    CHGNet's graph depends on the positions only through which pairs lie within the atom-graph cutoff
    (6 Å) and which of those within the bond-graph cutoff (3 Å): the model recomputes every distance and
    angle from the coordinates and the lattice. A relaxation step moves atoms by hundredths of an Å, so
    those lists often survive a step, yet rebuilding the graph was nearly half of a relaxation's time
    outside the network (cProfile, 32 MP-20 crystals; two steps in three now reuse it). The key is the
    set of edges (atom pairs with their periodic images, and which of them are bonds), so a hit gives the
    graph the converter would build, up to the order of its edges (which changes sums only in the last
    bits of float32). The converter runs under a lock: it switches the garbage collector off and on
    around its C code, which two threads would interleave into leaving it off.
    """

    def __init__(self, converter: Any, size: int = 256):
        self.converter = converter
        self.size = size
        self._graphs: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, structure: Structure) -> Any:
        from chgnet.graph.crystalgraph import TORCH_DTYPE, CrystalGraph

        center, neighbor, image, distance = structure.get_neighbor_list(
            r=self.converter.atom_graph_cutoff, sites=structure.sites, numerical_tol=1e-8
        )
        edges = np.column_stack([center, neighbor, image, distance <= self.converter.bond_graph_cutoff]).astype(int)
        key = (tuple(structure.atomic_numbers), edges[np.lexsort(edges.T[::-1])].tobytes())
        with self._lock:
            template = self._graphs.get(key)
            if template is None:
                graph = self._graphs[key] = self.converter(structure)
                if len(self._graphs) > self.size:
                    self._graphs.popitem(last=False)
                return graph
            self._graphs.move_to_end(key)
        return CrystalGraph(
            atomic_number=template.atomic_number,
            atom_frac_coord=torch.tensor(structure.frac_coords, dtype=TORCH_DTYPE, requires_grad=True),
            atom_graph=template.atom_graph,
            atom_graph_cutoff=template.atom_graph_cutoff,
            neighbor_image=template.neighbor_image,
            directed2undirected=template.directed2undirected,
            undirected2directed=template.undirected2directed,
            bond_graph=template.bond_graph,
            bond_graph_cutoff=template.bond_graph_cutoff,
            lattice=torch.tensor(structure.lattice.matrix, dtype=TORCH_DTYPE, requires_grad=True),
            composition=template.composition,
        )


class CHGNetPotential:
    """CHGNet 0.3.0 (weights ship in the chgnet wheel), energies MP2020-compatible as predicted."""

    name = "CHGNet"
    corrected_by_mp2020 = True
    max_atomic_number = 94

    def __init__(self, device: str | None = None, batch_size: int | None = None, lanes: int | None = None):
        from chgnet.model.model import CHGNet

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # On 2 CPU cores with two lanes, 8, 16 or 32 structures per forward pass relax 32 crystals equally fast
        # (within the 1 s run-to-run noise of a 15 s run); 8 keeps each lane's autograd memory small.
        self.batch_size = batch_size or (32 if self.device.startswith("cuda") else 8)
        with TORCH_RNG, contextlib.redirect_stdout(io.StringIO()):  # CHGNet announces itself on every construction
            base = CHGNet.load(verbose=False, use_device="cpu")
            self.model = inference_chgnet_class().from_dict(base.as_dict()).to(self.device).eval()
        self.model.graph_converter.set_isolated_atom_response("ignore")
        self.lanes = lanes or default_lanes(self.device)
        self._graph = _GraphCache(self.model.graph_converter)

    def evaluate(self, structures: Sequence[Structure]) -> list[Evaluation]:
        """Thread-safe: the model is only read (eval mode, no buffers written), each call has its own graph."""
        graphs = [self._graph(s) for s in structures]
        predictions = self.model.predict_graph(
            [g.to(self.device) for g in graphs], task="efs", batch_size=self.batch_size
        )
        if isinstance(predictions, dict):
            predictions = [predictions]
        return [
            Evaluation(
                energy=float(p["e"]) * len(s),
                forces=np.asarray(p["f"], dtype=float),
                stress=np.asarray(p["s"], dtype=float) * GPa,
            )
            for p, s in zip(predictions, structures)
        ]

    def magnetic_moments(self, structure: Structure) -> np.ndarray:
        """CHGNet's predicted magnetic moment of each site (μB; magnitudes, the sign is not predicted)."""
        prediction = self.model.predict_graph(self._graph(structure).to(self.device), task="em")
        return np.asarray(prediction["m"], dtype=float).reshape(-1)


def default_lanes(device: str) -> int:
    """Concurrent batches worth running on ``device``: on CPU, one per core that torch's own threads leave idle.

    Measured on 2 cores (benchmarks/relax.py): two single-threaded lanes relax 32 crystals faster than one
    lane on two torch threads, because one lane's Python work (graph building, FIRE and the cell filter,
    which hold the GIL) overlaps the other lane's network arithmetic (which releases it). On a GPU one
    lane fills the device.
    """
    if device.startswith("cuda"):
        return 1
    return max(1, len(os.sched_getaffinity(0)) // torch.get_num_threads())


@lru_cache(maxsize=2)
def chgnet(device: str | None = None) -> CHGNetPotential:
    """One CHGNet per process and device (loading takes a second and 20 MB)."""
    return CHGNetPotential(device=device)
