"""Screening: the funnel, resuming after a kill without redoing relaxations, and the same funnel on Ray."""

import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from backend.screening import screen as screen_module
from backend.screening.config import ScreenConfig
from backend.screening.screen import Screen


def small(out, **extra) -> ScreenConfig:
    return ScreenConfig(
        out=out,
        n=8,
        atoms=6,
        chemsys="Na-Cl",
        steps=20,
        batch_size=4,
        relax_steps=100,
        require_charge_neutral=False,
        **extra,
    )


@pytest.fixture(scope="module")
def local_funnel(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    return Screen(small(out)).run(), out


def test_funnel_accounts_for_every_candidate(local_funnel):
    funnel, out = local_funnel
    assert list(funnel.stage)[:3] == ["generate", "sanity filter", "relax (CHGNet)"]
    assert funnel.input[0] == 8
    for before, after in zip(funnel.survivors, funnel.input[1:]):
        assert before == after
    generated = pd.read_csv(out / "stages" / "generate.csv", keep_default_na=False)
    assert len(generated) == 8 and set(generated.status) <= {"ok", "rejected"}
    assert (generated[generated.status == "rejected"].reason != "").all()
    assert (out / "funnel.csv").is_file() and (out / "shortlist.csv").is_file()


def test_toml_config_and_flags(tmp_path):
    path = tmp_path / "screen.toml"
    path.write_text(f'out = "{tmp_path / "o"}"\nn = 12\nsteps = 30\nchemsys = "Li-O"\n')
    config = ScreenConfig.from_toml(path, n=6)
    assert config.n == 6 and config.steps == 30 and config.chemsys == "Li-O"
    path.write_text('out = "x"\nbogus = 1\n')
    with pytest.raises(ValueError, match="bogus"):
        ScreenConfig.from_toml(path)


RUN = """
import sys
from pathlib import Path
from backend.runtime import configure_threads
configure_threads()
from backend.screening.config import ScreenConfig
from backend.screening.screen import Screen
Screen(ScreenConfig(out=Path(sys.argv[1]), n=8, atoms=6, chemsys="Na-Cl", steps=20, batch_size=4,
                    relax_steps=100, relax_batch=1, require_charge_neutral=False)).run()
"""


def test_killed_screen_resumes_without_redoing_relaxations(tmp_path, monkeypatch):
    out = tmp_path / "screen"
    process = subprocess.Popen([sys.executable, "-c", RUN, str(out)])
    relax_csv = out / "stages" / "relax.csv"
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if relax_csv.is_file() and len(relax_csv.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the screen ended before the kill: nothing was interrupted"
    before = set(pd.read_csv(relax_csv, dtype={"id": str}).id)
    assert before, "the kill landed before any relaxation was written"

    relaxed_now: list[str] = []
    original = screen_module.relax_batch

    def counting(config, candidates, stop=None):
        relaxed_now.extend(c.id for c in candidates)
        return original(config, candidates, stop=stop)

    monkeypatch.setattr(screen_module, "relax_batch", counting)  # where Screen looks it up
    config = small(out, relax_batch=1)  # the same screen the killed process ran
    funnel = Screen(config).run()
    assert not before & set(relaxed_now), "a relaxation already written was redone"
    assert relaxed_now, "the kill landed after the last relaxation: the resume had nothing to do"
    rows = pd.read_csv(relax_csv, dtype={"id": str})
    assert rows.id.is_unique
    assert funnel.input[0] == 8
    generated = pd.read_csv(out / "stages" / "generate.csv", dtype={"id": str})
    assert generated.id.is_unique and len(generated) == 8


def test_ray_gives_the_same_funnel(local_funnel, tmp_path):
    pytest.importorskip("ray")
    import ray

    funnel, _ = local_funnel
    try:
        on_ray = Screen(small(tmp_path / "ray", ray_address="local")).run()
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(funnel, on_ray)


def test_the_estimate_reads_a_finished_screens_own_rates(local_funnel):
    """A finished local screen's timings give the rates; estimating the same screen from them gives back its
    measured generation seconds (the arithmetic, not the machine's speed, is what a test can check)."""
    import json

    from backend.screening.estimate import estimate, rates_of

    _, out = local_funnel
    config = ScreenConfig.read(out)
    rates = rates_of(out)
    timings = json.loads((out / "timings.json").read_text())
    guess = estimate(config, rates)
    assert guess.generate_s == pytest.approx(timings["generate"])
    assert guess.relax_s == pytest.approx(timings["relax"])
    assert max(guess.generate_s, guess.relax_s) <= guess.total_s <= guess.generate_s + guess.relax_s
    assert estimate(config, rates, done=(8, 8)).total_s == 0


def test_the_cli_refuses_a_bad_screen_in_one_line(tmp_path, capsys):
    from backend.cli import main

    assert main(["screen", "--out", str(tmp_path / "s"), "--n", "4"]) == 2
    assert main(["screen", "--out", str(tmp_path / "s"), "--chemsys", "Li-O", "--max-e-hull", "3"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines == [
        "error: a screen needs elements: give a chemical system (e.g. Li-Fe-O) or compositions",
        "error: E_above_hull threshold must be between 0 and 1.0 eV/atom",
    ]
    assert not (tmp_path / "s").exists()


def test_verification_stages_enter_the_funnel_and_the_shortlist(tmp_path):
    """phonons = true and bulk_modulus_min as stages: every candidate under the threshold is checked once, the
    funnel counts who passes each, and the shortlist holds only those."""
    from dataclasses import replace

    config = replace(
        small(tmp_path / "verified"), n=4, atoms=2, steps=30, max_e_hull=1.0, phonons=True, bulk_modulus_min=10.0
    )
    funnel = Screen(config).run()
    stages = list(funnel.stage)
    assert stages[-2:] == ["dynamically stable (phonons)", "bulk modulus >= 10 GPa"]
    for before, after in zip(funnel.survivors, funnel.input[1:]):
        assert before == after
    under = funnel.survivors[stages.index("E_hull <= 1.0 eV/atom")]
    assert under >= 1, "no candidate reached the verification stage"
    checks = pd.read_csv(config.out / "stages" / "verify.csv", keep_default_na=False, dtype={"id": str})
    assert len(checks) == under and checks.id.is_unique
    shortlist = pd.read_csv(config.out / "shortlist.csv", dtype={"id": str})
    passing = checks[(checks.dynamically_stable.astype(str) == "True") & (checks.bulk_modulus_gpa >= 10)]
    assert set(shortlist.id) == set(passing.id) and len(shortlist) == funnel.survivors.iloc[-1]
    assert Screen(config).complete


def test_a_reader_never_sees_a_half_written_screen_file(tmp_path):
    """The Screening page reads ``screen.json`` and ``timings.json`` while a worker writes them: every read gives
    a whole file (a truncating write let the page read an empty one and fail to decode it)."""
    import json
    import threading

    from backend.paths import write_whole

    path = tmp_path / "screen.json"
    write_whole(path, json.dumps({"n": 0}))
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            write_whole(path, json.dumps({"n": n, "padding": "x" * 20_000}))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        reads = [json.loads(path.read_text())["n"] for _ in range(2000)]
    finally:
        stop.set()
        thread.join()
    assert reads[-1] > 0 and [p.name for p in tmp_path.iterdir()] == ["screen.json"]  # no temporary left behind
