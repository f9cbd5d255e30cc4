"""Job store and worker: persistence, recovery after a crash, cancel, failures that stay contained."""

import json
import threading
import time
from pathlib import Path

import pytest

from backend.jobs.context import JobRefused
from backend.jobs.kinds.generate import GenerateSpec
from backend.jobs.runner import JobRunner
from backend.jobs.store import JobStore
from backend.sampling.request import GenerationRequest


def wait_for(store, job_id, statuses=("done", "failed", "cancelled"), timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = store.get(job_id)
        if job.status in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {store.get(job_id).status}")


@pytest.fixture()
def runner(tmp_path, default_model):
    return JobRunner(JobStore(tmp_path / "data"), device="cpu").start()


def test_generation_job_persists_frames_and_files(runner, tmp_path):
    job_id = runner.submit("alice", GenerateSpec("default", GenerationRequest(n=2, atoms=4, steps=8, seed=0)))
    job = wait_for(runner.store, job_id)
    assert job.status == "done", job.error
    assert runner.store.frame_count(job_id) == 2 * 8
    assert len(runner.store.latest_frames(job_id)) == 2
    assert (runner.store.folder(job_id) / "summary.csv").is_file()
    reopened = JobStore(tmp_path / "data")
    assert reopened.get(job_id).status == "done"
    assert reopened.frame_count(job_id) == 16


def test_running_job_is_failed_with_its_frames_after_a_crash(tmp_path):
    store = JobStore(tmp_path / "data")
    job_id = store.submit("generate", "bob", {"model": "default"})
    store.update(job_id, status="running")
    store.add_frames(job_id, [])
    after_restart = JobStore(tmp_path / "data")
    job = after_restart.get(job_id)
    assert job.status == "failed" and "stopped" in job.error


def test_cancel_stops_a_running_job(runner):
    job_id = runner.submit("carol", GenerateSpec("default", GenerationRequest(n=2, atoms=4, steps=400, seed=0)))
    wait_for(runner.store, job_id, statuses=("running",))
    while runner.store.frame_count(job_id) == 0:
        time.sleep(0.05)
    runner.store.request_cancel(job_id)
    job = wait_for(runner.store, job_id)
    assert job.status == "cancelled"
    assert runner.store.latest_step(job_id) < 399


def test_a_failing_job_fails_alone(runner):
    from backend.jobs.kinds.relax import RelaxSpec

    with pytest.raises(JobRefused, match="needs a finished job"):
        runner.submit("dave", RelaxSpec("doesnotexist"))
    bad = runner._admit("dave", RelaxSpec("doesnotexist"))  # as if its source vanished after submission
    good = runner.submit("dave", GenerateSpec("default", GenerationRequest(n=1, atoms=3, steps=4, seed=0)))
    assert wait_for(runner.store, bad).status == "failed"
    assert "no structures" in runner.store.get(bad).error
    assert wait_for(runner.store, good).status == "done"


def idle_runner(root: Path) -> JobRunner:
    """A runner without its worker thread, so submitted jobs stay queued."""
    return JobRunner(JobStore(root))


def test_queue_cap_per_user(tmp_path):
    runner = idle_runner(tmp_path / "data")
    for seed in range(3):
        runner._admit("erin", GenerateSpec("default", GenerationRequest(seed=seed)))
    with pytest.raises(JobRefused, match="3 jobs queued or running"):
        runner._admit("erin", GenerateSpec("default", GenerationRequest(seed=3)))
    runner._admit("frank", GenerateSpec("default", GenerationRequest(seed=3)))


def test_duplicate_submission_is_refused_while_the_first_waits(tmp_path):
    runner = idle_runner(tmp_path / "data")
    spec = GenerateSpec("default", GenerationRequest(chemical_system=("Li", "O"), seed=1))
    first = runner._admit("gina", spec)
    with pytest.raises(JobRefused, match=f"already queued \\(job {first}\\)"):
        runner._admit("gina", GenerateSpec("default", GenerationRequest(chemical_system=("Li", "O"), seed=1)))
    runner.store.update(first, status="done")
    runner._admit("gina", spec)


def test_every_kind_round_trips_through_the_store(tmp_path):
    from pymatgen.core import Lattice, Structure

    from backend.inpainting.request import InpaintRequest
    from backend.jobs.kinds.csp import CspSpec
    from backend.jobs.kinds.inpaint import InpaintSpec
    from backend.jobs.kinds.relax import RelaxSpec
    from backend.jobs.kinds.verify import VerifySpec
    from backend.jobs.specs import spec_of

    runner = idle_runner(tmp_path / "data")
    host = Structure(Lattice.cubic(4.0), ["Cl", "Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]])
    keep = (True, False, True)
    specs = [
        GenerateSpec("default", GenerationRequest(compositions=("Li2Fe2O4",), space_group=225, seed=4)),
        GenerateSpec("default", GenerationRequest(chemical_system=("Li", "O"), targets=(("dft_band_gap", 1.5),))),
        InpaintSpec(
            "default",
            host,
            keep,
            "Li removed",
            InpaintRequest(guests=(("Li", 2),), free_elements=("Na",), guest_sites=(("Li", (0.5, 0.5, 0.5)),)),
        ),
        RelaxSpec("abc123", fmax=0.02, steps=50, keep_symmetry=True),
        CspSpec("default", "Ca3V2O8", n=4),
        VerifySpec("abc123", ("c0", "c1"), phonons=False),
    ]
    for i, spec in enumerate(specs):
        job = runner.store.get(runner._admit(f"tab-{i}", spec))  # one owner may queue only three
        again = spec_of(job)
        assert type(again) is type(spec)
        assert json.loads(json.dumps(again.to_params())) == json.loads(json.dumps(spec.to_params()))
        assert again == spec or isinstance(spec, InpaintSpec)  # a Structure compares by identity
        assert not isinstance(spec, InpaintSpec) or again.request == spec.request
    older = {"source": "abc123", "steps": 10, "from_a_later_version": True}  # a store written by another version
    assert RelaxSpec.from_params(older) == RelaxSpec("abc123", steps=10)


def test_unusable_data_dir_is_reported(tmp_path):
    from backend.jobs.store import DataDirError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DataDirError, match="not usable"):
        JobStore(blocker / "data")


def test_the_server_loads_models_only_from_its_own_places(tmp_path):
    server = JobRunner(JobStore(tmp_path / "data"), models_root=tmp_path / "models").server
    server.check_model("default")
    server.check_model("chemical_system")
    server.check_model(str(tmp_path / "models" / "mine"))
    for elsewhere in (str(tmp_path / "uploads" / "evil"), str(tmp_path / "models" / ".." / "uploads")):
        with pytest.raises(JobRefused, match="not offered by this server"):
            server.check_model(elsewhere)


def test_job_folders_cannot_escape_the_data_folder(tmp_path):
    store = JobStore(tmp_path / "data")
    for bad in ("../x", "..", "a/b", ""):
        with pytest.raises(KeyError):
            store.folder(bad)


def test_fixed_host_relaxation_keeps_the_host_and_moves_the_guests(runner, monkeypatch):
    """Olivine LiFePO4 with its Li removed and 4 Li inpainted, then relaxed with the host fixed: the CIFs the jobs
    write (read back grouped by element, guests first) must show the host unmoved and the guests relaxed. The
    inpainting is planned once, at submission: the worker runs the stored plan."""
    import numpy as np
    import pandas as pd
    from pymatgen.core import Structure

    from backend.inpainting.framework import prepare_framework
    from backend.inpainting.guests import guest_host_clearance, host_mask
    from backend.inpainting.request import InpaintRequest
    from backend.jobs.kinds.inpaint import InpaintSpec
    from backend.jobs.kinds.relax import RelaxSpec
    from backend.jobs.specs import spec_of
    from backend.structures import read_structure

    host = Structure.from_file(Path(__file__).parent / "data" / "hosts" / "LiFePO4_olivine_mp-19017.cif")
    framework = prepare_framework(host, ["Li"])
    request = InpaintRequest(guests=(("Li", 4),), n=4, steps=30, jump=10, resample=1, seed=0)

    def planned_again(*args):  # noqa: ANN002, ANN202
        raise AssertionError("the worker planned the inpainting again")

    monkeypatch.setattr("backend.inpainting.run.plan_inpainting", planned_again)
    job_id = runner.submit("erin", InpaintSpec.of("default", framework, request))
    plan = spec_of(runner.store.get(job_id)).plan  # stored with the job
    assert len(plan.fixed) == 28 and plan.fixed[-4:] == (3,) * 4 and plan.sampling.atoms == 28
    source = wait_for(runner.store, job_id, timeout=600)
    assert source.status == "done", source.error
    unrelaxed = {p.stem: read_structure(p) for p in runner.store.folder(source.id).glob("*.cif")}
    assert unrelaxed, "no candidate survived inpainting"
    relax = wait_for(runner.store, runner.submit("erin", RelaxSpec(source.id, steps=40, fix_host=True)), timeout=600)
    assert relax.status == "done", relax.error
    results = pd.read_csv(runner.store.folder(relax.id) / "results.csv", keep_default_na=False, dtype={"name": str})
    checked = 0
    for row in results[results.error == ""].itertuples():
        before = unrelaxed[row.name]
        after = read_structure(runner.store.folder(relax.id) / f"{row.name}_relaxed.cif")
        mask = np.array(host_mask(after))
        assert host_mask(before) == tuple(mask) and mask.sum() == 24 and (~mask).sum() == 4
        assert [after[i].specie.symbol for i in np.flatnonzero(~mask)] == ["Li"] * 4
        host_moved = after.lattice.get_cartesian_coords(
            (after.frac_coords[mask] - before.frac_coords[mask] + 0.5) % 1.0 - 0.5
        )
        assert np.abs(host_moved).max() < 1e-6  # fractional coordinates kept; the cell may relax
        guests = (after.frac_coords[~mask] - before.frac_coords[~mask] + 0.5) % 1.0 - 0.5
        assert np.abs(guests).max() > 1e-4
        assert row.min_guest_host_distance == pytest.approx(guest_host_clearance(after, tuple(mask)), abs=1e-4)
        checked += 1
    assert checked


def test_services_from_eight_threads_build_one_runner(tmp_path, monkeypatch):
    from backend.app import services as app_services

    monkeypatch.setenv("CRYSTAL_CANVAS_DATA", str(tmp_path / "data"))
    app_services.reset_services()
    workers_before = sum(t.name == "crystal-canvas-worker" for t in threading.enumerate())
    barrier, got = threading.Barrier(8), []

    def visit():
        barrier.wait()
        got.append(app_services.services())

    threads = [threading.Thread(target=visit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(runner) for _, runner in got}) == 1
    assert sum(t.name == "crystal-canvas-worker" for t in threading.enumerate()) == workers_before + 1
    app_services.reset_services()


def test_every_job_is_claimed_exactly_once_by_concurrent_workers(tmp_path):
    stores = [JobStore(tmp_path / "data") for _ in range(2)]  # two stores on one database, as two servers would be
    ids = {stores[0].submit("generate", f"user{i % 3}", {"i": i}) for i in range(24)}
    barrier, claimed = threading.Barrier(8), []

    def worker(store):
        barrier.wait()
        while (job := store.claim_next()) is not None:
            claimed.append(job.id)

    threads = [threading.Thread(target=worker, args=(stores[k % 2],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # every job once, none twice
    assert all(stores[0].get(i).status == "running" for i in ids)


def test_queued_jobs_are_taken_round_robin_between_owners(tmp_path):
    store = JobStore(tmp_path / "data")
    for i in range(3):
        store.submit("generate", "ann", {"i": i})
    for i in range(2):
        store.submit("generate", "ben", {"i": i})
    order = []
    while (job := store.claim_next()) is not None:
        order.append(job.owner)
        store.update(job.id, status="done")
        time.sleep(0.01)  # claims carry their time: the owner served last waits
    assert order == ["ann", "ben", "ann", "ben", "ann"], order


def test_run_again_from_two_tabs_queues_one_job(tmp_path, default_model):
    """Two tabs are two sessions (two owners): the second "Run again" of the same job is refused with the first's id."""
    store = JobStore(tmp_path / "data")
    runner = JobRunner(store, device="cpu")  # not started: the copies stay queued
    failed = store.submit(
        "generate", "tab-a", GenerateSpec("default", GenerationRequest(n=1, atoms=4, steps=5)).to_params()
    )
    store.update(failed, status="failed", error="the server stopped while this job was running")
    again = runner.resubmit("tab-a", failed)
    with pytest.raises(JobRefused, match=f"already queued again as job {again}"):
        runner.resubmit("tab-b", failed)


def test_a_screen_gives_the_worker_up_to_another_user_and_resumes(runner, tmp_path):
    """Round-robin with a long job: once a screen has made progress and another user's job waits, the screen goes
    back to the queue, the other job runs, and the screen then finishes from its stage files."""
    from backend.jobs.kinds.screen import ScreenSpec
    from backend.screening.config import ScreenConfig

    config = ScreenConfig(
        out=tmp_path / "screen", n=4, atoms=4, chemsys="Na-Cl", steps=60, batch_size=2, relax_steps=50
    )
    screen_id = runner.submit("dana", ScreenSpec(config))
    while not (config.out / "stages" / "generate.csv").is_file():
        assert runner.store.get(screen_id).status in ("queued", "running"), runner.store.get(screen_id).error
        time.sleep(0.05)
    other = runner.submit("erin", GenerateSpec("default", GenerationRequest(n=1, atoms=4, steps=4, seed=0)))
    assert wait_for(runner.store, other).status == "done"
    screen = wait_for(runner.store, screen_id, timeout=300)
    assert screen.status == "done", screen.error
    # claimed again (``started`` is the latest claim) only after the other user's job had finished
    assert screen.started >= runner.store.get(other).finished, "the screen never gave the worker up"
    generated = (config.out / "stages" / "generate.csv").read_text().splitlines()
    assert len(generated) == 1 + 4  # header and each candidate once: nothing generated twice


def test_a_screen_for_a_folder_holding_another_screen_is_refused(runner, tmp_path):
    from backend.jobs.kinds.screen import ScreenSpec
    from backend.screening.config import ScreenConfig

    config = ScreenConfig(out=tmp_path / "s", n=2, atoms=4, chemsys="Na-Cl", steps=4, batch_size=2, relax_steps=5)
    assert wait_for(runner.store, runner.submit("fay", ScreenSpec(config)), timeout=300).status == "done"
    with pytest.raises(JobRefused, match="already exists with other n, steps"):
        runner.submit("fay", ScreenSpec(ScreenConfig(**{**config.__dict__, "n": 3, "steps": 5})))
    rerun = runner.submit("fay", ScreenSpec(config.with_thresholds(max_e_hull=0.5)))  # thresholds only: allowed
    assert wait_for(runner.store, rerun).status == "done"
    assert "E_hull <= 0.5" in (config.out / "funnel.csv").read_text()
