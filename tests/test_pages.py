"""Every page's logic through Streamlit's AppTest: generate -> live view -> viewer -> relax & hull."""

import json
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

    from backend.app import services as app_services

    os.environ["CRYSTAL_CANVAS_DATA"] = str(tmp_path_factory.mktemp("data"))
    app_services.reset_services()
    return app_services.services()


@pytest.fixture(scope="module")
def generated(services):
    store, _ = services
    app = page("1_Generate.py")
    inputs = {widget.label: widget for widget in app.number_input}
    inputs["Crystals"].set_value(3)
    inputs["Denoising steps"].set_value(30)
    {t.label: t for t in app.text_input}["Composition (cell)"].set_value("Na4Cl4")
    app.button[0].click().run()
    assert not app.exception and not app.error
    job_id = app.query_params["job"]
    job = wait_done(store, job_id)
    assert job.status == "done", job.error
    # the pages below need a crystal: an exact composition at 30 steps makes at least one (no skip on failure)
    assert list(store.folder(job_id).glob("*.cif")), "every crystal of the fixture failed"
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


def test_generate_offers_space_groups_and_compositions_for_every_model(services):
    app = page("1_Generate.py")
    labels = {t.label: t for t in app.text_input}
    assert not labels["Space group (number or symbol)"].disabled  # imposed on the hook, no conditioning needed
    assert not labels["Composition (cell)"].disabled


def test_generate_previews_the_proposed_compositions_before_sampling(services):
    store, _ = services
    app = page("1_Generate.py")
    app.button[1].click().run(timeout=120)  # "Preview compositions"
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    assert list(table.columns[:2]) == ["crystal", "cell composition"] and len(table) == 4
    assert not store.jobs(limit=10)  # a preview submits nothing


def test_live_page_shows_the_finished_trajectory(services, generated):
    app = page("2_Live_denoising.py", job=generated)
    assert not app.exception
    assert len(app.get("plotly_chart")) == 1
    assert app.success


def test_viewer_shows_facts_and_downloads(services, generated):
    app = page("3_Structure_viewer.py", job=generated)
    assert not app.exception
    assert app.metric[0].value
    assert len(app.get("download_button")) == 5  # symmetrised CIF, P1 CIF, POSCAR, extxyz, job zip
    assert any("Charge balance" in m.value for m in app.markdown)
    assert any("Closest known phase" in m.value for m in app.markdown)
    assert any("**Sanity**" in m.value for m in app.markdown)


def test_relax_and_hull_page(services, generated):
    from backend.jobs.specs import spec_of

    store, _ = services
    app = page("4_Relax_and_hull.py")
    assert not app.exception
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
    assert (store.folder(relax.id) / "metrics.csv").is_file()  # the job wrote its rates when it finished

    from backend import metrics
    from backend.results import folder as result_folder

    calls = []
    counted = metrics.rates.batch_rates

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return counted(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(result_folder, "batch_rates", counting)
        patch.setattr(metrics.rates, "batch_rates", counting)
        app.run()
        app.run()
    assert not app.exception and calls == []  # reruns read metrics.csv: no rate, no novelty search recomputed

    {b.label: b for b in app.button}["Verify"].click().run()  # the best candidate by default
    assert not app.exception and not app.error
    check = store.jobs(kind="verify")[0]
    assert wait_done(store, check.id).status == "done", store.get(check.id).error
    app.run()
    assert not app.exception
    figures = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    names = {trace.get("name") for figure in figures for trace in figure["data"]}
    assert {"Phonon bands", "DOS", "Birch-Murnaghan fit"} <= names
    verified = spec_of(store.get(check.id)).names[0]
    viewer = page("3_Structure_viewer.py", job=relax.id, structure=f"{verified}_relaxed")
    assert not viewer.exception
    figures = [json.loads(chart.proto.spec) for chart in viewer.get("plotly_chart")]
    assert "Phonon bands" in {trace.get("name") for figure in figures for trace in figure["data"]}


def submit_small_inpainting(app: AppTest, store):
    """Two candidates, 10 steps, j=5: submit the page's form and wait for the job to finish."""
    numbers = {widget.label: widget for widget in app.number_input}
    numbers["Candidates"].set_value(2)
    numbers["Denoising steps"].set_value(10)
    numbers["RePaint jump length j"].set_value(5)
    app.button[0].click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    job = wait_done(store, app.query_params["job"])
    assert job.kind == "inpaint" and job.status == "done", job.error
    return job


def test_inpainting_page_runs_a_job(services):
    store, _ = services
    app = page("5_Inpainting.py")
    assert not app.exception
    app.selectbox[0].set_value("LiSi_mp-570363").run()
    app.multiselect[0].set_value(["Li"]).run()
    assert not app.exception and not app.error
    app.text_input[0].set_value("Li:8")
    job = submit_small_inpainting(app, store)
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


def test_screening_page_reads_screens_in_the_data_folder_without_writing(tmp_path, monkeypatch):
    from backend.screening.config import ScreenConfig
    from backend.screening.screen import Screen

    out = tmp_path / "screens" / "demo"
    Screen(
        ScreenConfig(out=out, n=2, atoms=4, steps=5, batch_size=2, relax_steps=20, require_charge_neutral=False)
    ).run()
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    monkeypatch.setenv("CRYSTAL_CANVAS_DATA", str(tmp_path))
    monkeypatch.setenv("CRYSTAL_CANVAS_SCREENS", str(tmp_path / "nothing-here"))
    app = page("6_Screening.py")
    assert not app.exception
    assert {s.label: s for s in app.selectbox}["Screen"].value == "screens/demo"
    assert len(app.get("plotly_chart")) >= 1
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # the page only reads
    viewer = page("3_Structure_viewer.py", screen="screens/demo")
    assert not viewer.exception
    assert viewer.radio[0].value == "A screen"


def test_relax_and_hull_page_with_a_failed_structure(services):
    """One crystal failed generation, one fails relaxation (overlapping atoms): the page still draws the hull,
    the histogram and the shortlist, and counts both failures in the rates' denominator."""
    import pandas as pd
    from generation_folder import DATA, write_generation_folder

    store, _ = services
    source = store.submit("generate", "frank", {"model": "default", "request": {}})
    files = [DATA / "hosts" / "NaCl_mp-22862.cif", DATA / "hosts" / "LiCoO2_mp-22526.cif"]
    write_generation_folder(store.folder(source), [*files, DATA / "bad" / "overlapping_atoms.cif"])
    store.update(source, status="done", message="3 of 4 crystals")

    app = page("4_Relax_and_hull.py")
    app.selectbox[0].set_value(source).run()
    app.button[0].click().run()
    relax = [j for j in store.jobs(kind="relax") if j.params["source"] == source][0]
    assert wait_done(store, relax.id).status == "done"
    app.run()
    assert not app.exception, app.exception
    results = pd.read_csv(store.folder(relax.id) / "results.csv", keep_default_na=False)
    assert (results.error != "").sum() == 1
    charts = app.get("plotly_chart")
    assert len(charts) >= 2  # the hull of a relaxed system and the E_hull histogram
    assert any("candidates on the shortlist" in m.value for m in app.markdown)
    v = next(m for m in app.metric if m.label == "V")
    assert "/4:" in v.help  # 4 requested: the failed generation and the failed relaxation count


def test_inpainting_page_orders_a_disordered_host(services):
    """An uploaded partially occupied host: its occupancy table, implied guests, smallest supercells, a job."""
    store, _ = services
    host = Path(__file__).parent / "data" / "disorder" / "LaCl3_Li_channel.cif"
    app = page("5_Inpainting.py")
    app.radio[0].set_value("Upload").run()
    app.file_uploader[0].set_value((host.name, host.read_bytes(), "chemical/x-cif")).run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    table = app.dataframe[0].value
    assert list(table["role"]).count("guests") == 4
    assert any("1,1,3 / 1,3,1 / 3,1,1" in c.value for c in app.caption)
    assert any("La:5, Li:3" in m.value for m in app.markdown)
    job = submit_small_inpainting(app, store)
    assert job.params["request"]["guest_start"] == "sites"


BAD = sorted((Path(__file__).parent / "data" / "bad").iterdir())
ORDERABLE = {"partial_occupancy.cif"}  # the Inpainting page takes it as a disordered host


UPLOADS = [
    pytest.param(name, bad, id=f"{name}-{bad.name}")
    for name in ("3_Structure_viewer.py", "5_Inpainting.py")
    for bad in BAD
    if not (name == "5_Inpainting.py" and bad.name in ORDERABLE)
]


@pytest.mark.parametrize(("page_name", "bad_file"), UPLOADS)
def test_every_bad_upload_gives_one_message_and_no_traceback(services, page_name, bad_file):
    app = page(page_name)
    app.radio[0].set_value(app.radio[0].options[-1]).run()  # "An uploaded file" / "Upload"
    app.file_uploader[0].set_value((bad_file.name, bad_file.read_bytes(), "application/octet-stream")).run()
    assert not app.exception, [e.value for e in app.exception]
    messages = [e.value for e in app.error] + [w.value for w in app.warning]
    assert len(messages) == 1, messages
    assert bad_file.name in messages[0] and "Traceback" not in messages[0]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("Crystals", 0, "number of crystals must be at least 1 (got 0)"),
        ("Atoms per cell", 100000, "atoms per cell must be between 1 and 100 (got 100000)"),
        ("Seed", -5, "seed must be non-negative (got -5)"),
    ],
)
def test_generate_says_why_an_out_of_range_number_is_refused(services, field, value, message):
    app = page("1_Generate.py")
    {w.label: w for w in app.number_input}[field].set_value(value)
    app.button[0].click().run()
    assert not app.exception
    assert [e.value for e in app.error] == [message]


def test_chemical_systems_are_read_as_a_chemist_writes_them():
    from backend.sampling.request import InvalidRequest, parse_chemical_system

    assert parse_chemical_system("li-fe-o") == ("Fe", "Li", "O")
    with pytest.raises(InvalidRequest, match="Li is listed twice"):
        parse_chemical_system("Li-Li")


def test_generate_from_a_bundled_structure_and_its_variations_from_the_viewer(services):
    """Partial diffusion on the pages: Generate's "Start from" a bundled host at t0 0.3, then "Variations of this
    crystal" in the viewer; both run to done as ordinary generation jobs."""
    store, _ = services
    app = page("1_Generate.py")
    {r.label: r for r in app.radio}["Start from"].set_value("a structure").run()
    {s.label: s for s in app.selectbox}["Bundled structure"].set_value("NaCl_mp-22862").run()
    {w.label: w for w in app.number_input}["Crystals"].set_value(2)
    app.button[0].click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    job = wait_done(store, app.query_params["job"])
    assert job.status == "done", job.error
    assert job.params["start_time"] == 0.3 and len(job.params["start_structures"]) == 1
    assert store.frame_count(job.id) == 2 * 30  # 100 steps from t0 0.3: the last 30, every one recorded
    viewer = page("3_Structure_viewer.py", job=job.id)
    viewer.button[0].click().run()  # "Generate variations" (the only button on the page)
    assert not viewer.exception and not viewer.error, [e.value for e in viewer.error]
    variations = [j for j in store.jobs(limit=5) if j.kind == "generate" and j.id != job.id][0]
    assert wait_done(store, variations.id).status == "done"
    assert variations.params["start_structures"][0] != job.params["start_structures"][0]


def test_generate_predicts_a_structure_and_live_ranks_it(services):
    """The CSP mode: a job from the Generate page, ranked on Live denoising, every row openable in the viewer."""
    store, _ = services
    app = page("1_Generate.py")
    {w.label: w for w in app.number_input}["Denoising steps"].set_value(20)
    {t.label: t for t in app.text_input}["Composition to predict"].set_value("KBr")
    {w.label: w for w in app.number_input}["Candidates"].set_value(2)
    {w.label: w for w in app.number_input}["Prototypes"].set_value(1)
    {r.label: r for r in app.radio}["Rank by"].set_value("consensus")
    next(b for b in app.button if b.label == "Predict structures").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    csp = [j for j in store.jobs(limit=5) if j.kind == "csp"][0]
    assert wait_done(store, csp.id).status == "done", store.get(csp.id).error
    live = page("2_Live_denoising.py", job=csp.id)
    assert not live.exception
    assert any("Ranked candidates" in h.value for h in live.subheader)
    assert any("ranked by the consensus of retrieval score" in m.value for m in live.success)
    ranked = live.dataframe[0].value
    assert list(ranked["source"]) and set(ranked["source"]) <= {"prototype", "variation"}
    assert any(f"Structure_viewer?job={csp.id}&structure=" in m.value for m in live.markdown)
    viewer = page("3_Structure_viewer.py", job=csp.id, structure=ranked["file"][0].removesuffix(".cif"))
    assert not viewer.exception and viewer.metric[0].value == "KBr"


def test_csp_refuses_an_unplaceable_composition_in_one_line(services):
    app = page("1_Generate.py")
    {t.label: t for t in app.text_input}["Composition to predict"].set_value("KXe")
    next(b for b in app.button if b.label == "Predict structures").click().run()
    assert not app.exception
    assert [e.value for e in app.error] == ["model 'default' cannot place Xe (not in its element set)"]


def test_preview_with_an_exact_composition_says_it_is_used_as_given(services):
    app = page("1_Generate.py")
    {t.label: t for t in app.text_input}["Composition (cell)"].set_value("Li2Fe2O4")
    app.button[1].click().run()  # "Preview compositions"
    assert not app.exception and not app.error
    assert [i.value for i in app.info] == [
        "Every crystal has exactly the composition given (Li2Fe2O4): nothing to propose."
    ]


def test_viewer_reads_pymatgen_json_as_the_other_uploads_do(services):
    from pymatgen.core import Structure

    rock_salt = Structure.from_file(Path(__file__).parent / "data" / "hosts" / "NaCl_mp-22862.cif")
    app = page("3_Structure_viewer.py")
    app.radio[0].set_value("An uploaded file").run()
    app.file_uploader[0].set_value(("nacl.json", rock_salt.to_json().encode(), "application/json")).run()
    assert not app.exception and not app.error
    assert app.metric[0].value == "NaCl"


def start_screen(app: AppTest, **fields: object) -> AppTest:
    """Fill the Screening page's New screen form (labels as the page shows them) and click Start screen."""
    texts = {w.label: w for w in app.text_input}
    numbers = {w.label: w for w in app.number_input}
    for label, value in fields.items():
        (texts[label] if label in texts else numbers[label]).set_value(value)
    return {b.label: b for b in app.button}["Start screen"].click().run()


def test_screening_page_starts_cancels_and_resumes_a_screen(services, monkeypatch):
    """A 4-candidate screen from the page: Cancel after its first batch leaves a resumable folder, Resume finishes
    it without generating a batch again, and the page's funnel is the folder's."""
    import pandas as pd

    from backend.jobs.kinds.screen import screen_job
    from backend.screening import screen as screen_module
    from backend.screening.stages import StageLog

    store, _ = services
    generated: list[int] = []
    original = screen_module.generate_batch

    def counting(config, batch, callback=None):
        generated.append(batch)
        return original(config, batch, callback=callback)

    monkeypatch.setattr(screen_module, "generate_batch", counting)
    fields = {"Screen name": "page-screen", "Chemical system": "Na-Cl", "Candidates": 4, "Atoms per cell": 4}
    app = start_screen(app=page("6_Screening.py"), **fields, **{"Denoising steps": 60, "Crystals per batch": 2})
    assert not app.exception and not app.error
    folder = store.root / "screens" / "page-screen"
    job = screen_job(store, folder)
    log = StageLog(folder)
    deadline = time.time() + 120
    while time.time() < deadline and not len(log.rows("generate")) and job.active:
        job = store.get(job.id)
        time.sleep(0.1)
    app = page("6_Screening.py", screen="screens/page-screen")
    {b.label: b for b in app.button}["Cancel screen"].click().run()
    job = wait_done(store, job.id)
    assert job.status == "cancelled", (job.status, job.error)
    done_before = set(log.rows("generate").batch.astype(int))
    assert done_before == {0} and generated[-1] == 1, "the cancel came after the last batch: nothing to resume"

    app = page("6_Screening.py", screen="screens/page-screen")
    assert "Resume continues" in app.warning[0].value
    generated.clear()
    {b.label: b for b in app.button}["Resume screen"].click().run()
    job = wait_done(store, screen_job(store, folder).id)
    assert job.status == "done", job.error
    assert generated == [1], f"the resume generated batches {generated}; batch 0 was already done"
    app = page("6_Screening.py", screen="screens/page-screen")
    assert not app.exception
    shown = app.dataframe[0].value
    on_disk = pd.read_csv(folder / "funnel.csv")
    assert shown.survivors.tolist() == on_disk.survivors.tolist() and shown.input.tolist()[0] == 4
    assert len(log.rows("generate")) == 4 and log.rows("generate").id.is_unique


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"Chemical system": ""}, "a screen needs elements: give a chemical system (e.g. Li-Fe-O) or compositions"),
        ({"Candidates": 0}, "number of candidates must be between 1 and 100000 (got 0)"),
        ({"E_above_hull at most (eV/atom)": 5.0}, "E_above_hull threshold must be between 0 and 1.0 eV/atom"),
        ({"Minimum interatomic distance (Å)": -1.0}, "minimum distance must be in (0, 3] Å (got -1.0)"),
        ({"Chemical system": "Li-Og"}, "model 'default' cannot place Og (not in its element set)"),
        ({"Screen name": "../x"}, "screen name '../x' cannot be a folder name: use letters, digits, '-', '_' or '.'"),
    ],
)
def test_screening_page_refuses_bad_input_in_one_line_and_queues_nothing(services, fields, message):
    store, _ = services
    before = len(store.jobs(kind="screen"))
    app = start_screen(page("6_Screening.py"), **fields)
    assert not app.exception
    assert [e.value for e in app.error] == [message] or app.error[0].value.startswith(message)
    assert len(app.error) == 1
    assert len(store.jobs(kind="screen")) == before
