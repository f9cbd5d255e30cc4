"""What the embedded model gets wrong: its atom-type chain (why its crystals carry so many elements) and its
lattice (why its cells came out 1.7x too large or collapsed).

Atom types (``--parts types,unmasking,type-loss``):

(a) Masked-type prediction: 500 held-out crystals (the training run's validation split) noised to t = 0.2, 0.5,
    0.8 by mattergen's own corruption; top-1 accuracy of the model's clean-type guess on the masked atoms, against
    a unigram baseline (always the most frequent element, oxygen) and against "the most common element
    among the crystal's unmasked atoms" (unigram where none is unmasked).
(b) Unmasking along the chain: how many atoms leave the mask state at each step, at 100 and 1000 steps, with the
    model choosing its own types (``composition_source="model"``), against the schedule's expectation.
(c) The atom-type part of the training loss (mattergen's ``atomic_numbers_loss``) on the same held-out crystals,
    shipped checkpoint vs the same architecture untrained: where training left it.

Cells and positions (``--parts lattice,positions,volumes,loss``):
(lattice) held-out crystals (primitive, Niggli-reduced, lattice symmetrised as in training) noised to t = 0.1, 0.3,
    0.5, 0.8 by the lattice VP-SDE; the model's x0 estimate of the cell, ``(L_t - (1 - a) mu + s^2 score) / a``,
    against two baselines: the prior's mean cell (a cube at the limit density) and a cube at the volume the
    crystal's elements take in the training crystals (per-element volumes); volume per atom, lattice lengths and
    angles.
(positions) the same crystals' fractional coordinates noised by the wrapped VE-SDE; the model's x0 estimate
    ``x_t + s^2 score`` against the clean positions (minimum-image displacement in Å), beside the noise it was given.
(volumes) generated crystals' volume per atom against the training crystals' at 50 / 100 / 1000 steps, composition-
    first, with the model's own cells and with the composition-aware cell (``cell_volume``); lattices that diverge
    and at which step.
(loss) the cell and position terms of mattergen's loss on the held-out crystals, shipped vs untrained.
(scales) GemNet's fixed scale factors (``gemnet-dT.json``, fitted by fairchem for OC20-sized models): the variance
    ratio each scaled output has to its input on held-out crystals, as GemNet's own fitting measures it.

    python benchmarks/diagnostics.py --crystals 500 --parts lattice,positions,volumes,loss
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from pymatgen.core import Structure  # noqa: E402

from backend.prototypes.index import composition_volume  # noqa: E402
from backend.sampling.engine import build_sampler  # noqa: E402
from backend.sampling.generate import generate  # noqa: E402
from backend.sampling.hooks.protocol import MASK_TOKEN_OFFSET  # noqa: E402
from backend.sampling.models import load_model  # noqa: E402
from backend.sampling.request import GenerationRequest  # noqa: E402
from backend.train.data import _split_of  # noqa: E402
from backend.train.settings import MP20_CSV  # noqa: E402


def held_out(n: int) -> list[Structure]:
    frame = pd.read_csv(MP20_CSV, usecols=["material_id", "cif"])
    frame = frame[[_split_of(m, 0.05) == "val" for m in frame.material_id]].head(n)
    return [Structure.from_str(cif, fmt="cif") for cif in frame.cif]


def clean_batch(structures: list[Structure]) -> object:
    """The crystals as a mattergen batch, lattices symmetrised as in training."""
    from mattergen.common.data.chemgraph import ChemGraph
    from mattergen.common.data.collate import collate
    from mattergen.common.data.transform import symmetrize_lattice

    graphs = []
    for s in structures:
        graph = ChemGraph(
            pos=torch.tensor(s.frac_coords % 1.0, dtype=torch.float32),
            cell=torch.tensor(s.lattice.matrix, dtype=torch.float32)[None],
            atomic_numbers=torch.tensor(s.atomic_numbers, dtype=torch.long),
            num_atoms=torch.tensor(len(s)),
            num_nodes=torch.tensor(len(s)),
        )
        graphs.append(symmetrize_lattice(graph))
    return collate(graphs)


def masked_prediction(model: object, structures: list[Structure], seed: int) -> pd.DataFrame:
    """(a): accuracy of the model's guess for masked atoms vs two baselines, per noise level."""
    unigram = Counter(z for s in structures for z in s.atomic_numbers).most_common(1)[0][0]  # the commonest element
    sampler = build_sampler(model, GenerationRequest(n=len(structures), steps=1000), conditioned=False)
    batch = clean_batch(structures)
    owner = batch.get_batch_idx("pos").numpy()
    truth = batch["atomic_numbers"].numpy()
    rows = []
    for t_value in (0.2, 0.5, 0.8):
        torch.manual_seed(seed)
        t = torch.full((len(structures),), t_value)
        with torch.no_grad():
            noisy = sampler.add_noise(batch, t_value)
            logits = sampler.score(noisy, t)["atomic_numbers"]
        guess = logits[:, :MASK_TOKEN_OFFSET].argmax(dim=1).numpy() + 1
        tokens = noisy["atomic_numbers"].numpy()
        masked = tokens > MASK_TOKEN_OFFSET
        context = np.full(len(truth), unigram)
        for crystal in range(len(structures)):
            seen = tokens[(owner == crystal) & ~masked]
            if len(seen):
                context[owner == crystal] = Counter(seen.tolist()).most_common(1)[0][0]
        rows.append(
            {
                "t": t_value,
                "masked atoms": int(masked.sum()),
                "model top-1": float((guess[masked] == truth[masked]).mean()),
                f"unigram ({unigram_symbol(unigram)})": float((truth[masked] == unigram).mean()),
                "most common unmasked element": float((context[masked] == truth[masked]).mean()),
                "model's guess already in the crystal": _in_crystal(guess, truth, owner, masked),
            }
        )
    return pd.DataFrame(rows)


def unigram_symbol(z: int) -> str:
    from pymatgen.core import Element

    return Element.from_Z(int(z)).symbol


def _in_crystal(guess: np.ndarray, truth: np.ndarray, owner: np.ndarray, masked: np.ndarray) -> float:
    hits = [guess[a] in set(truth[owner == owner[a]].tolist()) for a in np.nonzero(masked)[0]]
    return float(np.mean(hits))


class UnmaskCounter:
    """(b): atoms leaving the mask state at each step (a step callback; it changes nothing)."""

    def __init__(self, steps: int):
        self.per_step = np.zeros(steps, dtype=int)
        self.previous: np.ndarray | None = None

    def __call__(self, state: object) -> None:
        masked = state.tokens == 0
        before = np.ones_like(masked) if state.step == 0 else self.previous
        self.per_step[state.step] += int((before & ~masked).sum())
        self.previous = masked


def unmasking(model: object, steps: int, n: int) -> dict[str, object]:
    counter = UnmaskCounter(steps)
    request = GenerationRequest(n=n, atoms=8, steps=steps, seed=0, composition_source="model", batch_size=n)
    result = generate(model, request, callback=counter)
    per_step = counter.per_step
    atoms = n * 8
    made = [s for s in result.structures if s is not None]
    return {
        "steps": steps,
        "crystals x atoms": f"{n} x 8",
        "unmasked at the first step": int(per_step[0]),
        "mean per step": round(float(per_step.mean()), 3),
        "expected per step": round(atoms / steps, 3),
        "max in one step": int(per_step.max()),
        "steps with none": f"{int((per_step == 0).sum())}/{steps}",
        "share in the last 10 % of steps": round(float(per_step[-max(1, steps // 10) :].sum() / atoms), 3),
        "median distinct elements": float(np.median([len(s.composition) for s in made])) if made else float("nan"),
    }


def type_loss(model: object, structures: list[Structure], seed: int) -> dict[str, float]:
    """(c): mattergen's atom-type loss on held-out crystals, trained vs untrained weights."""
    from hydra.utils import instantiate

    batch = clean_batch(structures)
    out = {}
    untrained = instantiate(model.config.lightning_module).eval()
    # a fresh module with the shipped weights: the loaded one carries the sampling-time element mask, which
    # without a chemical system in the batch is not what training computed
    trained = instantiate(model.config.lightning_module).eval()
    trained.load_state_dict(model.module.state_dict())
    for label, module in (("shipped checkpoint", trained), ("untrained (same architecture)", untrained)):
        torch.manual_seed(seed)
        with torch.no_grad():
            _, metrics = module.diffusion_module.calc_loss(batch)
        out[label] = float(metrics["atomic_numbers"])
    return out


def _lengths_angles(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.linalg.norm(cells, axis=2)
    pairs = ((1, 2), (0, 2), (0, 1))
    cosines = [np.sum(cells[:, i] * cells[:, j], axis=1) / (lengths[:, i] * lengths[:, j]) for i, j in pairs]
    return lengths, np.degrees(np.arccos(np.clip(np.stack(cosines, axis=1), -1, 1)))


def lattice_estimates(model: object, structures: list[Structure], seed: int) -> pd.DataFrame:
    """(lattice): the model's x0 estimate of the cell at several noise levels against two baselines."""
    reduced = [s.get_primitive_structure().get_reduced_structure() for s in structures]
    sampler = build_sampler(model, GenerationRequest(n=len(reduced), steps=1000), conditioned=False)
    sde = sampler.corruption.sdes["cell"]
    batch = clean_batch(reduced)
    n = batch["num_atoms"].numpy().astype(float)
    truth = batch["cell"].numpy().astype(float)
    true_volume = np.abs(np.linalg.det(truth)) / n
    true_lengths, true_angles = _lengths_angles(truth)
    prior_side = np.cbrt(n / sde.limit_density)
    element_side = np.cbrt(np.array([composition_volume(s.composition) for s in reduced]))
    baselines = {
        "prior mean cell": np.stack([np.eye(3) * a for a in prior_side]),
        "cube at the elements' volume": np.stack([np.eye(3) * a for a in element_side]),
    }
    rows = []

    def row(label: str, t: float | str, cells: np.ndarray) -> dict[str, object]:
        lengths, angles = _lengths_angles(cells)
        volume_error = np.abs(np.abs(np.linalg.det(cells)) / n / true_volume - 1)
        return {
            "t": t,
            "cell": label,
            "median |V/V_true - 1|": float(np.median(volume_error)),
            "share within 10 %": float(np.mean(volume_error < 0.1)),
            "median V/V_true": float(np.median(np.abs(np.linalg.det(cells)) / n / true_volume)),
            "median |a/a_true - 1|": float(np.median(np.abs(lengths / true_lengths - 1))),
            "median |angle error| (deg)": float(np.median(np.abs(angles - true_angles))),
        }

    for label, cells in baselines.items():
        rows.append(row(label, "-", cells))
    for t_value in (0.1, 0.3, 0.5, 0.8):
        torch.manual_seed(seed)
        t = torch.full((len(reduced),), t_value)
        with torch.no_grad():
            noisy = sampler.add_noise(batch, t_value)
            score = sampler.score(noisy, t)["cell"]
            a = sde._marginal_mean_coeff(t)[:, None, None]
            mu = sde.get_limit_mean(x=noisy["cell"], batch=noisy)
            _, std = sde.marginal_prob(noisy["cell"], t, batch=noisy)
            estimate = (noisy["cell"] - (1 - a) * mu + std**2 * score) / a
        rows.append(row("noisy input", t_value, noisy["cell"].numpy().astype(float)))
        rows.append(row("model's x0 estimate", t_value, estimate.numpy().astype(float)))
    return pd.DataFrame(rows)


def position_estimates(model: object, structures: list[Structure], seed: int) -> pd.DataFrame:
    """(positions): the model's x0 estimate of the fractional coordinates against the noise it was given."""
    reduced = [s.get_primitive_structure().get_reduced_structure() for s in structures]
    sampler = build_sampler(model, GenerationRequest(n=len(reduced), steps=1000), conditioned=False)
    sde = sampler.corruption.sdes["pos"]
    batch = clean_batch(reduced)
    owner = batch.get_batch_idx("pos")
    cells = batch["cell"][owner]
    rows = []
    for t_value in (0.1, 0.3, 0.5, 0.8):
        torch.manual_seed(seed)
        t = torch.full((len(reduced),), t_value)
        with torch.no_grad():
            noisy = sampler.add_noise(batch, t_value)
            score = sampler.score(noisy, t)["pos"]
            _, std = sde.marginal_prob(noisy["pos"], t, batch_idx=owner, batch=noisy)
            estimate = noisy["pos"] + std**2 * score

        def displacement(x: torch.Tensor) -> np.ndarray:
            shift = (x - batch["pos"] + 0.5) % 1.0 - 0.5
            return torch.linalg.norm(torch.einsum("ni,nij->nj", shift, cells), dim=1).numpy()

        given, left = displacement(noisy["pos"]), displacement(estimate)
        rows.append(
            {
                "t": t_value,
                "noise std (Å, median atom)": float(np.median((std[:, 0] * cells.norm(dim=2).mean(dim=1)).numpy())),
                "median displacement given (Å)": float(np.median(given)),
                "median displacement left by x0 estimate (Å)": float(np.median(left)),
                "atoms moved closer": float(np.mean(left < given)),
            }
        )
    return pd.DataFrame(rows)


def generated_volumes(model: object, n: int, steps_list: tuple[int, ...]) -> pd.DataFrame:
    """(volumes): volume per atom of generated crystals vs the training data, and diverged lattices."""
    from backend.prototypes.index import load_index

    training = load_index().volume_per_atom.to_numpy()
    rows = [
        {
            "steps": "-",
            "cell": "training crystals (MP-20 subset)",
            "crystals": len(training),
            "V/atom median (IQR), Å³": f"{np.median(training):.1f} ({np.percentile(training, 25):.1f}-"
            f"{np.percentile(training, 75):.1f})",
            "diverged": "",
        }
    ]
    for steps in steps_list:
        for mode in ("model", "composition"):
            started = time.perf_counter()
            request = GenerationRequest(n=n, atoms=None, steps=steps, seed=11, cell_volume=mode)
            result = generate(model, request)
            volumes = np.array([s.volume / len(s) for s in result.structures if s is not None])
            diverged = [f for f in result.failures if f and "lattice" in f]
            rows.append(
                {
                    "steps": steps,
                    "cell": "model's own" if mode == "model" else "composition-aware (hook)",
                    "crystals": n,
                    "V/atom median (IQR), Å³": f"{np.median(volumes):.1f} ({np.percentile(volumes, 25):.1f}-"
                    f"{np.percentile(volumes, 75):.1f})",
                    "diverged": f"{len(diverged)}: {'; '.join(diverged)}" if diverged else "0",
                    "sampling (s)": round(time.perf_counter() - started),
                }
            )
    return pd.DataFrame(rows)


def cell_loss(model: object, structures: list[Structure], seed: int) -> dict[str, dict[str, float]]:
    """(loss): the cell and position terms of mattergen's loss, shipped vs untrained."""
    from hydra.utils import instantiate

    batch = clean_batch(structures)
    untrained = instantiate(model.config.lightning_module).eval()
    trained = instantiate(model.config.lightning_module).eval()
    trained.load_state_dict(model.module.state_dict())
    out = {}
    for label, module in (("shipped checkpoint", trained), ("untrained (same architecture)", untrained)):
        torch.manual_seed(seed)
        with torch.no_grad():
            _, metrics = module.diffusion_module.calc_loss(batch)
        out[label] = {k: float(metrics[k]) for k in ("cell", "pos")}
    return out


def _variance_ratios(model: object, structures: list[Structure], seed: int) -> dict[str, float]:
    """Var(scaled output) / Var(reference input) of every GemNet scale factor on the crystals noised to t = 0.5."""
    from mattergen.common.gemnet.layers.scaling import ScalingFactor

    sampler = build_sampler(model, GenerationRequest(n=len(structures), steps=1000), conditioned=False)
    seen: dict[str, list[float]] = {}
    hooks = []
    for module in model.module.modules():
        if isinstance(module, ScalingFactor):

            def observe(layer: object, inputs: tuple, output: torch.Tensor) -> None:
                ratio = torch.mean(torch.var(output, dim=0)) / torch.mean(torch.var(inputs[0], dim=0))
                seen.setdefault(layer.autofit._name, []).append(float(ratio))

            hooks.append(module.register_forward_hook(observe))
    torch.manual_seed(seed)
    t = torch.full((len(structures),), 0.5)
    with torch.no_grad():
        sampler.score(sampler.add_noise(clean_batch(structures), 0.5), t)
    for hook in hooks:
        hook.remove()
    return {name: float(np.mean(ratios)) for name, ratios in seen.items()}


def scale_factor_fit(model: object, structures: list[Structure], seed: int) -> pd.DataFrame:
    """(scales): for each of GemNet's fixed scale factors, the variance ratio its scaled output has to its reference
    input on held-out crystals at t = 0.5 (1 is what GemNet's fitting aims for), for the untrained architecture --
    where the fitting procedure measures it -- and for the shipped weights; the refitted value is the shipped factor
    divided by the square root of the untrained ratio."""
    import dataclasses

    from hydra.utils import instantiate
    from mattergen.common.gemnet.layers.scaling import ScalingFactor

    torch.manual_seed(seed)
    untrained = dataclasses.replace(model, module=instantiate(model.config.lightning_module).eval())
    fresh = _variance_ratios(untrained, structures, seed)
    trained = _variance_ratios(model, structures, seed)
    factors = {m.autofit._name: float(m.scale_factor) for m in model.module.modules() if isinstance(m, ScalingFactor)}
    return pd.DataFrame(
        [
            {
                "scale factor": name,
                "shipped value": factors[name],
                "Var ratio, untrained": fresh[name],
                "Var ratio, shipped weights": trained[name],
                "refitted value": factors[name] / float(np.sqrt(fresh[name])),
            }
            for name in fresh
        ]
    )


PARTS = ("types", "unmasking", "type-loss", "lattice", "positions", "volumes", "loss", "scales")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--crystals", type=int, default=500)
    parser.add_argument("--chain-crystals", type=int, default=8)
    parser.add_argument("--volume-crystals", type=int, default=16)
    parser.add_argument("--volume-steps", default="50,100,1000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    model = load_model("default")
    structures = held_out(args.crystals)
    if "types" in parts:
        print(f"(a) masked-type prediction, {len(structures)} held-out crystals\n")
        print(masked_prediction(model, structures, args.seed).to_markdown(index=False, floatfmt=".3f"))
    if "unmasking" in parts:
        print("\n(b) atoms unmasked per step, the model's own types\n")
        rows = [unmasking(model, steps, args.chain_crystals) for steps in (100, 1000)]
        print(pd.DataFrame(rows).to_markdown(index=False))
    if "type-loss" in parts:
        print("\n(c) atom-type loss (mattergen's atom-type term) on the held-out crystals\n")
        for label, value in type_loss(model, structures, args.seed).items():
            print(f"- {label}: {value:.3f}")
    tables = {
        "lattice": ("(lattice) x0 estimate of the cell", lattice_estimates),
        "positions": ("(positions) x0 estimate of the fractional coordinates", position_estimates),
        "scales": ("(scales) GemNet's scale factors at t = 0.5", scale_factor_fit),
    }
    for part, (title, table) in tables.items():
        if part in parts:
            print(f"\n{title}, {len(structures)} held-out crystals\n")
            print(table(model, structures, args.seed).to_markdown(index=False, floatfmt=".3f"))
    if "loss" in parts:
        print("\n(loss) cell and position terms of mattergen's loss on the held-out crystals\n")
        for label, values in cell_loss(model, structures, args.seed).items():
            print(f"- {label}: cell {values['cell']:.3f}, positions {values['pos']:.3f}")
    if "volumes" in parts:
        steps = tuple(int(s) for s in args.volume_steps.split(","))
        print(f"\n(volumes) generated volume per atom, {args.volume_crystals} composition-first crystals, seed 11\n")
        print(generated_volumes(model, args.volume_crystals, steps).to_markdown(index=False))


if __name__ == "__main__":
    main()
