"""The sampling engine on the shipped default checkpoint: hook, cancel, determinism, conditioning, guard."""

import numpy as np
import pytest
import torch

from backend.sampling.generate import generate
from backend.sampling.hooks.protocol import StepControl
from backend.sampling.hooks.trajectory import TrajectoryRecorder
from backend.sampling.request import GenerationRequest, InvalidRequest


def test_callback_fires_once_per_step_with_documented_fields(default_model):
    seen = []

    def callback(state):
        seen.append(state)

    request = GenerationRequest(n=3, atoms=5, steps=12, seed=3)
    result = generate(default_model, request, callback=callback)
    assert [s.step for s in seen] == list(range(12))
    assert all(s.n_steps == 12 for s in seen)
    times = [s.t for s in seen]
    assert times[0] == pytest.approx(1.0) and all(a > b for a, b in zip(times, times[1:]))
    last = seen[-1]
    assert last.lattice.shape == (3, 3, 3)
    assert last.frac_coords.shape == (15, 3)
    assert last.num_atoms.tolist() == [5, 5, 5]
    assert last.tokens.shape == (15,)
    assert last.type_probabilities.shape == (15, 100)
    np.testing.assert_allclose(last.type_probabilities.sum(axis=1), 1.0, rtol=1e-4)
    assert last.noise_level.shape == (3,) and seen[0].noise_level[0] > last.noise_level[0]
    assert last.crystal_failed.shape == (3,)
    assert len(result.structures) == 3 and not result.cancelled


def test_cancel_stops_within_one_step(default_model):
    steps = []

    def cancel_at_four(state):
        steps.append(state.step)
        return StepControl(stop=state.step == 4)

    result = generate(default_model, GenerationRequest(n=2, atoms=4, steps=50, seed=0), callback=cancel_at_four)
    assert steps == [0, 1, 2, 3, 4]
    assert result.cancelled and result.structures == ()


def test_same_seed_same_structures_and_frames(default_model):
    request = GenerationRequest(n=3, atoms=6, steps=15, seed=11, chemical_system=("Li", "O"))
    first, second = TrajectoryRecorder(), TrajectoryRecorder()
    a = generate(default_model, request, callback=first)
    b = generate(default_model, request, callback=second)
    assert a.failures == b.failures
    for x, y in zip(a.structures, b.structures):
        assert (x is None and y is None) or x == y
    assert len(first.frames) == len(second.frames) == 3 * 15
    np.testing.assert_array_equal(first.frames[-1].frac_coords, second.frames[-1].frac_coords)
    other = generate(default_model, GenerationRequest(n=3, atoms=6, steps=15, seed=12, chemical_system=("Li", "O")))
    assert [s.frac_coords.tolist() for s in other.structures if s] != [
        s.frac_coords.tolist() for s in a.structures if s
    ]


def test_chemical_system_is_enforced(default_model):
    result = generate(default_model, GenerationRequest(n=8, atoms=8, steps=20, seed=5, chemical_system=("Li", "O")))
    placed = [s for s in result.structures if s is not None]
    assert placed, result.failures
    for structure in placed:
        assert {e.symbol for e in structure.composition.elements} <= {"Li", "O"}


def test_batches_cover_request_and_atom_counts_are_drawn(default_model):
    recorder = TrajectoryRecorder()
    request = GenerationRequest(n=5, atoms=None, steps=4, seed=2, batch_size=2)
    result = generate(default_model, request, callback=recorder)
    assert len(result.structures) == 5
    assert sorted({f.crystal for f in recorder.frames}) == [0, 1, 2, 3, 4]
    sizes = [len(f.frac_coords) for f in recorder.frames if f.step == 0]
    assert all(1 <= n <= 20 for n in sizes)


def blow_up_first_crystal(from_step: int, until_step: int):  # noqa: ANN201 - a StepCallback
    def callback(state):
        if from_step <= state.step <= until_step:
            cell = state.batch["cell"].clone()
            cell[0] = cell[0] * 1e4
            return StepControl(replace={"cell": cell})
        return None

    return callback


def test_a_cell_that_keeps_exploding_fails_alone_after_its_retries(default_model):
    from backend.sampling.engine import MAX_STEP_RETRIES

    request = GenerationRequest(n=3, atoms=6, steps=10, seed=4)
    result = generate(default_model, request, callback=blow_up_first_crystal(2, 10))
    assert result.structures[0] is None
    assert f"lattice diverged at step {3 + MAX_STEP_RETRIES}" in result.failures[0]
    assert result.retried_steps == MAX_STEP_RETRIES
    assert all(f is None or "diverged" not in f for f in result.failures[1:])


def test_one_exploding_step_is_taken_again_and_the_crystal_survives(default_model):
    request = GenerationRequest(n=3, atoms=6, steps=10, seed=4)
    result = generate(default_model, request, callback=blow_up_first_crystal(2, 2))
    assert result.failures[0] is None or "diverged" not in result.failures[0]
    assert result.retried_steps == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n=0), "at least 1"),
        (dict(atoms=0), "atoms per cell"),
        (dict(space_group=62, symmetry="condition"), "cannot condition on space_group"),
        (dict(space_group=225, atoms=7), "feasible atom counts"),
        (dict(space_group=225, wyckoff="4a:He"), "cannot place He"),
        (dict(chemical_system=("He", "Li")), "cannot place He"),
        (dict(chemical_system=("Li", "O"), guidance=0.0), "guidance 0"),
        (dict(chemical_system=("Li", "Fe", "O"), atoms=2), "cannot hold"),
        (dict(guidance=-1.0), ">= 0"),
    ],
)
def test_invalid_requests_are_refused_with_a_reason(default_model, kwargs, message):
    with pytest.raises(InvalidRequest, match=message):
        GenerationRequest(**kwargs).validate(default_model.info)


def test_empty_triplets_do_not_crash_gemnet():
    from backend.thirdparty.patches import install

    install()
    from mattergen.common.gemnet.layers.efficient import EfficientInteractionBilinear

    layer = EfficientInteractionBilinear(emb_size=4, emb_size_interm=3, units_out=5)
    basis = (torch.randn(6, 3, 7), torch.randn(6, 7, 0))
    out = layer(basis, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    assert out.shape == (6, 5) and not out.any()


def test_denoise_equals_mattergens_own_sampler_for_one_seed(default_model):
    """Our loop (the one with the hook) must be mattergen's PredictorCorrector.sample, step for step."""
    from backend.sampling.engine import build_sampler, conditioning_batch, denoise

    request = GenerationRequest(n=3, atoms=6, steps=20, seed=7)

    def prepared():
        torch.manual_seed(request.seed)
        sampler = build_sampler(default_model, request)
        return sampler, conditioning_batch([request.atoms] * request.n, request.conditions, "cpu")

    with default_model.lock, torch.no_grad():
        sampler, conditioning = prepared()
        timesteps, dt = sampler.time_grid()
        ours = denoise(sampler, sampler.prior(conditioning), timesteps, dt)
        sampler, conditioning = prepared()
        final, mean = sampler.predictor_corrector.sample(conditioning)
    assert tuple(ours.failures) == (None,) * request.n  # no crystal failed, so every one is compared
    for key in ("pos", "cell", "atomic_numbers"):
        assert torch.equal(ours.mean_batch[key], mean[key]), key
        assert torch.equal(ours.batch[key], final[key]), key
