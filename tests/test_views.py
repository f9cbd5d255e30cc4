"""The live view's figures: one scene per crystal, host atoms apart, built once per new frame for all viewers."""

import numpy as np

from backend.app_support import live_figure
from backend.jobs import JobStore
from backend.sampling.trajectory import Frame
from backend.views import frames_figure, trajectory_figure


def frame(crystal: int, step: int, atoms: int = 5) -> Frame:
    rng = np.random.default_rng(crystal * 1000 + step)
    return Frame(
        crystal=crystal,
        step=step,
        t=1 - step / 10,
        noise=0.5,
        lattice=np.eye(3) * 4.0,
        frac_coords=rng.random((atoms, 3)),
        likely_z=np.array([3, 3, 8, 8, 26][:atoms]),
        confidence=np.full(atoms, 0.7, dtype=np.float32),
        masked=np.array([False, False, False, True, False][:atoms]),
        failed=False,
    )


def test_one_scene_per_crystal_with_host_atoms_apart():
    figure = frames_figure([frame(i, 3) for i in range(6)], columns=4, host_atoms=2)
    scenes = {trace.scene for trace in figure.data}
    assert scenes == {"scene", *(f"scene{i}" for i in range(2, 7))}
    assert len(figure.data) == 6 * 3  # cell edges, translucent host, guests
    assert [trace.opacity for trace in figure.data[:3]] == [None, 0.35, 1.0]
    assert [a.text for a in figure.layout.annotations][:2] == ["#0 FeLi2O", "#1 FeLi2O"]  # the masked O is left out
    assert figure.layout.height == 2 * 320


def test_trajectory_animation_keeps_the_host_apart_in_every_frame():
    by_step = {step: [frame(0, step), frame(1, step)] for step in range(100)}
    figure = trajectory_figure(by_step, max_frames=10, host_atoms=2)
    assert 9 <= len(figure.frames) <= 10 and figure.frames[-1].name == "99"
    assert all(len(f.data) == 6 for f in figure.frames)


def test_live_figure_is_built_once_per_new_frame(tmp_path):
    store = JobStore(tmp_path)
    job = store.submit("generate", "x", {})
    assert live_figure(store, job) is None
    store.add_frames(job, [frame(0, 0), frame(1, 0)])
    first = live_figure(store, job)
    assert live_figure(store, job) is first
    store.add_frames(job, [frame(0, 1), frame(1, 1)])
    assert live_figure(store, job) is not first
