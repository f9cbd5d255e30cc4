"""Why the embedded model's crystals carry so many elements: three diagnostics of its atom-type chain.

(a) Masked-type prediction: 500 held-out crystals (the training run's validation split) noised to t = 0.2, 0.5,
    0.8 by mattergen's own corruption; top-1 accuracy of the model's clean-type guess on the masked atoms, against
    a unigram baseline (always the most frequent element, oxygen) and against "the most common element
    among the crystal's unmasked atoms" (unigram where none is unmasked).
(b) Unmasking along the chain: how many atoms leave the mask state at each step, at 100 and 1000 steps, with the
    model choosing its own types (``composition_source="model"``), against the schedule's expectation.
(c) The atom-type part of the training loss (mattergen's ``atomic_numbers_loss``) on the same held-out crystals,
    shipped checkpoint vs the same architecture untrained: where training left it.

    python benchmarks/diagnostics.py --crystals 500
"""

from __future__ import annotations

import argparse
from collections import Counter

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from pymatgen.core import Structure  # noqa: E402

from backend.sampling import GenerationRequest, generate, load_model  # noqa: E402
from backend.sampling.engine import MASK_TOKEN_OFFSET, build_sampler  # noqa: E402
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
            noisy = sampler.corruption.sample_marginal(batch, t)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--crystals", type=int, default=500)
    parser.add_argument("--chain-crystals", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default="abc", help="which diagnostics to run, e.g. 'c'")
    args = parser.parse_args()
    model = load_model("default")
    structures = held_out(args.crystals)
    if "a" in args.parts:
        print(f"(a) masked-type prediction, {len(structures)} held-out crystals\n")
        print(masked_prediction(model, structures, args.seed).to_markdown(index=False, floatfmt=".3f"))
    if "b" in args.parts:
        print("\n(b) atoms unmasked per step, the model's own types\n")
        rows = [unmasking(model, steps, args.chain_crystals) for steps in (100, 1000)]
        print(pd.DataFrame(rows).to_markdown(index=False))
    if "c" in args.parts:
        print("\n(c) atom-type loss (mattergen's atom-type term) on the held-out crystals\n")
        for label, value in type_loss(model, structures, args.seed).items():
            print(f"- {label}: {value:.3f}")


if __name__ == "__main__":
    main()
