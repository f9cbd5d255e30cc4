"""The Learn page's maths and page: exact 2D scores, the crystal's forward process at its two ends, the page."""

import numpy as np
import pytest
from pymatgen.core import Structure

from backend.learn import toy
from backend.paths import ASSETS

NACL = ASSETS / "data" / "hosts" / "NaCl_mp-22862.cif"


@pytest.mark.parametrize("process", toy.PROCESSES)
@pytest.mark.parametrize("t", [0.05, 0.3, 0.8])
def test_the_2d_score_is_the_gradient_of_the_log_density(process, t):
    mixture = toy.Mixture.ring()
    x = np.random.default_rng(1).uniform(-3, 3, size=(20, 2))
    h = 1e-5
    numeric = np.stack(
        [
            (toy.log_density(mixture, x + h * e, t, process) - toy.log_density(mixture, x - h * e, t, process))
            / (2 * h)
            for e in np.eye(2)
        ],
        axis=1,
    )
    np.testing.assert_allclose(toy.score(mixture, x, t, process), numeric, rtol=1e-4, atol=1e-6)


def test_enough_steps_recover_the_data_and_too_few_do_not():
    mixture = toy.Mixture.ring()

    def spread(steps: int) -> float:
        final = toy.reverse(mixture, 400, steps, "VP", "Euler-Maruyama")[-1]
        return float(np.median(np.min(np.linalg.norm(final[:, None] - mixture.means[None], axis=2), axis=1)))

    ideal = mixture.std * np.sqrt(2 * np.log(2))  # median distance of a 2D Gaussian sample from its centre
    assert abs(spread(200) - ideal) < 0.05 and spread(5) > 1.5 * ideal


def test_crystal_noising_returns_the_crystal_near_zero_and_the_prior_at_one(default_model):
    from backend.learn.crystal import noised

    crystal = Structure.from_file(NACL)
    near = noised(default_model, crystal, 1e-4, copies=4)
    for frame in near.frames:
        metric = frame.lattice @ frame.lattice.T  # the cell is symmetrised as in training: compare up to rotation
        np.testing.assert_allclose(metric, crystal.lattice.matrix @ crystal.lattice.matrix.T, atol=0.05)
        shift = (frame.frac_coords - crystal.frac_coords + 0.5) % 1 - 0.5
        # the VE process keeps sigma_min (0.01, scaled by the atom count) even at t -> 0: within four of those
        assert np.abs(shift).max() < 4 * near.levels.position_std < 0.05 and not frame.masked.any()
    far = noised(default_model, crystal, 1.0, copies=256)
    coordinates = np.concatenate([f.frac_coords for f in far.frames])
    assert abs(coordinates.std() - np.sqrt(1 / 12)) < 0.02  # uniform on the torus
    assert all(f.masked.all() for f in far.frames) and far.levels.masked_share == 1.0
    volume = np.mean([abs(np.linalg.det(f.lattice)) for f in far.frames]) / len(crystal)
    prior = 1 / default_model.module.diffusion_module.corruption.sdes["cell"].limit_density
    assert volume == pytest.approx(prior, rel=0.15)  # the prior's cube at the limit density, plus its noise


def test_learn_page_answers_every_control():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ASSETS.parent / "pages" / "0_Learn.py"), default_timeout=300).run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(app.get("plotly_chart")) == 7
    app.radio[0].set_value("VE").run()
    app.selectbox[0].set_value("probability-flow ODE").run()
    {s.label: s for s in app.slider}["Steps"].set_value(5).run()
    app.select_slider[0].set_value(0.8).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("γ = 2: " in c.value for c in app.caption)
    app.radio[1].set_value(2).run()  # seed: precomputed with the others on the first visit
    assert not app.exception
    seed_2 = next(c.value for c in app.caption if c.value.startswith("Seed 2 "))
    # the shipped seed-2 examples at γ 1 and 2 (Li2O6, LiO7) overlap: the page says so beside the picture
    assert seed_2.count("atoms too close") == 2 and "not charge-balanced" in seed_2


def test_the_shipped_guidance_examples_are_the_embedded_models_own(default_model):
    """Section 4 reads examples shipped with the app; they must be what the embedded model makes for the seed
    (after a change to the model or the sampler: ``python scripts/learn_examples.py``)."""
    from backend.learn.guidance import EXAMPLES, SEEDS, checkpoint_sha256, examples, make_examples

    assert EXAMPLES.is_file() and checkpoint_sha256(default_model) in EXAMPLES.read_text()
    shipped = examples(default_model)
    assert sorted(shipped) == list(SEEDS)
    made = make_examples(default_model, 0)
    for (label, kept), (again_label, again) in zip(
        shipped[0].guided + shipped[0].symmetric, made.guided + made.symmetric, strict=True
    ):
        assert label == again_label and (kept is None) == (again is None)
        if kept is not None:
            assert kept.species == again.species
            np.testing.assert_allclose(kept.lattice.matrix, again.lattice.matrix, atol=1e-3)
            np.testing.assert_allclose(kept.frac_coords, again.frac_coords, atol=1e-3)
