"""Every page's logic through Streamlit's AppTest: generate -> live view -> viewer -> relax & hull."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parent.parent / "pages"


def page(name: str, **query: str) -> AppTest:
    app = AppTest.from_file(str(PAGES / name), default_timeout=180)
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def wait_done(store, job_id, timeout=240):
    deadline = time.time() + timeout
    while store.get(job_id).active and time.time() < deadline:
        time.sleep(0.2)
    return store.get(job_id)


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    import os

    from backend import app_support

    os.environ["CRYSTAL_CANVAS_DATA"] = str(tmp_path_factory.mktemp("data"))
    app_support.services.cache_clear()
    return app_support.services()


@pytest.fixture(scope="module")
def generated(services):
    store, _ = services
    app = page("1_Generate.py")
    inputs = {widget.label: widget for widget in app.number_input}
    inputs["Crystals"].set_value(3)
    inputs["Denoising steps"].set_value(10)
    inputs["Atoms per cell"].set_value(6)
    app.text_input[0].set_value("Na-Cl")
    app.button[0].click().run()
    assert not app.exception and not app.error
    job_id = app.query_params["job"]
    job = wait_done(store, job_id)
    assert job.status == "done", job.error
    return job_id


def test_streamlit_reruns_leave_the_import_path_alone(services):
    """Job threads import while pages rerun; a sys.path edited under them lost 'chgnet' once in CI."""
    import sys

    from streamlit.runtime.scriptrunner.exec_code import modified_sys_path

    for script in (PAGES / "1_Generate.py", PAGES.parent / "app.py"):
        before = list(sys.path)
        with modified_sys_path(str(script)):
            assert sys.path == before


def test_generate_rejects_bad_input_with_a_message(services):
    app = page("1_Generate.py")
    app.text_input[0].set_value("Na-Qq")
    app.button[0].click().run()
    assert not app.exception
    assert "unknown element 'Qq'" in app.error[0].value


def test_generate_disables_conditions_the_model_lacks(services):
    app = page("1_Generate.py")
    assert app.text_input[1].disabled  # space group: the default model is not conditioned on it
    assert not app.text_input[0].disabled


def test_live_page_shows_the_finished_trajectory(services, generated):
    app = page("2_Live_denoising.py", job=generated)
    assert not app.exception
    assert len(app.get("plotly_chart")) == 1
    assert app.success


def test_viewer_shows_facts_and_downloads(services, generated):
    app = page("3_Structure_viewer.py", job=generated)
    assert not app.exception
    store, _ = services
    if not list(store.folder(generated).glob("*.cif")):
        pytest.skip("every crystal of this tiny run failed; nothing to view")
    assert app.metric[0].value
    assert len(app.get("download_button")) == 4


def test_relax_and_hull_page(services, generated):
    store, _ = services
    app = page("4_Relax_and_hull.py")
    assert not app.exception
    if not list(store.folder(generated).glob("*.cif")):
        pytest.skip("every crystal of this tiny run failed; nothing to relax")
    app.button[0].click().run()
    relax = [j for j in store.jobs(kind="relax") if j.params["source"] == generated][0]
    assert wait_done(store, relax.id).status == "done"
    app.run()
    assert not app.exception
    assert [m.label for m in app.metric] == [
        "V",
        "U",
        "N (structure)",
        "N (composition)",
        "S (<= 0.1 eV/atom)",
        "S.U.N. (structure)",
    ]
    assert any("crystals the source job was asked for" in c.value for c in app.caption)
    assert len(app.get("plotly_chart")) >= 1


def test_inpainting_page_runs_a_job(services):
    store, _ = services
    app = page("5_Inpainting.py")
    assert not app.exception
    app.selectbox[0].set_value("LiSi_mp-570363").run()
    app.multiselect[0].set_value(["Li"]).run()
    assert not app.exception and not app.error
    app.text_input[0].set_value("Li:8")
    numbers = {widget.label: widget for widget in app.number_input}
    numbers["Candidates"].set_value(2)
    numbers["Denoising steps"].set_value(10)
    numbers["RePaint jump length j"].set_value(5)
    app.button[0].click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    job = wait_done(store, app.query_params["job"])
    assert job.kind == "inpaint" and job.status == "done", job.error
    live = page("2_Live_denoising.py", job=job.id)
    assert not live.exception


def test_inpainting_page_refuses_bad_choices(services):
    app = page("5_Inpainting.py")
    app.selectbox[0].set_value("NaCl_mp-22862").run()
    app.multiselect[0].set_value(["Na", "Cl"]).run()
    assert "0 atoms" in app.error[0].value
    app.multiselect[0].set_value([]).run()
    app.text_input[0].set_value("Li:40")
    app.button[0].click().run()
    assert not app.exception
    assert "do not fit" in app.error[0].value


def test_screening_page_shows_a_screen(tmp_path, monkeypatch):
    from backend.screening import Screen, ScreenConfig

    Screen(
        ScreenConfig(
            out=tmp_path / "demo", n=2, atoms=4, steps=5, batch_size=2, relax_steps=20, require_charge_neutral=False
        )
    ).run()
    monkeypatch.setenv("CRYSTAL_CANVAS_SCREENS", str(tmp_path))
    app = page("6_Screening.py")
    assert not app.exception
    assert app.selectbox[0].value == "demo"
    assert len(app.get("plotly_chart")) >= 1
