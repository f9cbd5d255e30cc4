"""End to end in a real headless Chromium: generate, watch live, reopen the link, view, download, relax.

Needs Debian's ``chromium`` (``make test`` installs it when it can). Without it these tests are skipped
with the reason printed in the summary; they never pass silently. Screenshots go to a temporary folder;
``CRYSTAL_CANVAS_SCREENSHOTS=docs/screenshots`` refreshes the README's.
"""

import os
import re
import time
from pathlib import Path

import pytest
from app_server import CHROMIUM, FLAGS, ServerDidNotStart, start_server

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="BROWSER MISSING: e2e tests need Debian's chromium (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    chosen = os.environ.get("CRYSTAL_CANVAS_SCREENSHOTS")
    return Path(chosen).resolve() if chosen else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    try:
        process, url = start_server(tmp_path_factory.mktemp("data"), wait=60)
    except ServerDidNotStart as exc:
        pytest.fail(str(exc))
    yield url
    process.terminate()
    process.wait(timeout=30)


def submit_generation(page, server: str, fields: dict[str, str], shot: Path | None = None) -> tuple[str, float]:
    """Fill the Generate form, submit; the job id from the Live denoising link and when it was clicked."""
    page.goto(f"{server}/Generate")
    for label, value in fields.items():
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Tab")
    if shot:
        page.screenshot(path=shot)
    clicked = time.time()
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url("**/Live_denoising?job=*", timeout=30_000)
    return page.url.split("job=")[1], clicked


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


def test_generate_watch_reopen_view_download_relax(server, browser, shots, tmp_path):
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    outside = []
    context.on(
        "request", lambda r: None if r.url.startswith((server, "data:", "blob:", "about:")) else outside.append(r.url)
    )

    page = context.new_page()
    for _ in range(60):  # a classroom's server has been up: time the first frame once the model is loaded
        page.goto(server)
        page.get_by_text("Model ").first.wait_for(timeout=60_000)
        if page.get_by_text("Model ready").count():
            break
        page.wait_for_timeout(1000)
    fields = {"Crystals": "2", "Denoising steps": "100", "Chemical system": "Li-O"}
    _, submitted = submit_generation(page, server, fields, shot=shots / "generate.png")
    page.get_by_text("step ", exact=False).first.wait_for(timeout=30_000)
    first_frame = time.time() - submitted
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    job_url = page.url
    page.screenshot(path=shots / "live.png")
    print(f"\nlive view: first frame {first_frame:.1f} s after the submit click")
    # warm server, 2-core reference machine: 1.3 s with two benchmarks running beside it (the live view polls every
    # 0.2 s until the first frame; the Generate page no longer proposes compositions before switching)
    assert first_frame <= 2.0, f"live view took {first_frame:.1f} s after the click (at most 2 s)"
    page.close()  # closing the tab must not stop the job

    again = context.new_page()
    again.goto(job_url)
    again.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    again.get_by_text("crystals generated").first.wait_for(timeout=240_000)
    again.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    again.screenshot(path=shots / "trajectory.png")
    job_id = job_url.split("job=")[1]

    viewer = context.new_page()
    viewer.goto(f"{server}/Structure_viewer?job={job_id}")
    frame = viewer.frame_locator("iframe").first
    frame.locator("canvas").first.wait_for(timeout=60_000)
    viewer.wait_for_timeout(1500)
    viewer.screenshot(path=shots / "viewer.png")
    with viewer.expect_download() as download:
        viewer.get_by_role("button", name="Download CIF (P1, as is)").click()
    cif = tmp_path / download.value.suggested_filename
    download.value.save_as(cif)
    assert "_cell_length_a" in cif.read_text()

    with context.expect_page() as opened:
        viewer.get_by_role("link", name="Open in Crystal Toolkit").click()
    toolkit = opened.value
    toolkit.get_by_text(f"from job {job_id}").first.wait_for(timeout=60_000)
    toolkit.get_by_text("Space group:").first.wait_for(timeout=60_000)  # the side panel's facts
    canvas = toolkit.locator("canvas").first
    canvas.wait_for(timeout=60_000)
    toolkit.wait_for_timeout(2000)
    toolkit.screenshot(path=shots / "crystal_toolkit.png")
    assert distinct_colours(canvas.screenshot()) > 20, "the Crystal Toolkit canvas is blank"

    hull = context.new_page()
    hull.goto(f"{server}/Relax_and_hull")
    steps = hull.get_by_label("Maximum steps", exact=True)
    steps.fill("150")  # the walk checks the flow; the relaxer's own tests check where it converges
    steps.press("Tab")
    hull.get_by_role("button", name="Relax with CHGNet").click()
    hull.get_by_text("Convex hull of").first.wait_for(timeout=240_000)
    hull.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    hull.wait_for_timeout(1000)
    hull.screenshot(path=shots / "hull.png", full_page=True)

    hull.get_by_role("button", name="Verify", exact=True).click()  # the best relaxed candidate, phonons and EOS
    hull.get_by_text("Phonon bands").first.wait_for(timeout=240_000)
    hull.get_by_text("Phonon bands").first.scroll_into_view_if_needed()
    hull.wait_for_timeout(1000)
    hull.screenshot(path=shots / "verify.png")
    no_traceback(hull)
    context.close()
    assert not outside, f"requests left 127.0.0.1: {outside[:5]}"


def distinct_colours(png: bytes) -> int:
    import io

    from PIL import Image

    return len(set(Image.open(io.BytesIO(png)).convert("RGB").getdata()))


def test_crystal_toolkit_is_mounted_and_references_nothing_outside(server):
    """/ctk/ and its layout answer beside Streamlit, and its page loads every script and stylesheet from /ctk/."""
    import re
    from urllib.request import urlopen

    with urlopen(f"{server}/ctk/", timeout=30) as response:
        assert response.status == 200
        page = response.read().decode()
    with urlopen(f"{server}/ctk/_dash-layout", timeout=60) as response:
        assert response.status == 200 and b"structure" in response.read()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/ctk/") for s in sources), sources
    assert "cdn" not in page.lower()


def test_a_killed_server_keeps_finished_jobs_and_fails_the_running_one(browser, tmp_path):
    data = tmp_path / "data"
    first, url = start_server(data)
    try:
        page = browser.new_page()
        finished, _ = submit_generation(page, url, {"Crystals": "1", "Denoising steps": "10"})
        page.get_by_text("crystals generated").first.wait_for(timeout=120_000)
        running, _ = submit_generation(page, url, {"Crystals": "2", "Denoising steps": "1000"})
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        assert_the_live_chart_is_redrawn_in_place(page)
        page.close()
    finally:
        first.kill()
        first.wait()

    second, url = start_server(data)
    try:
        page = browser.new_page()
        page.goto(f"{url}/Live_denoising?job={running}")
        page.get_by_text("the server stopped while this job was running").first.wait_for(timeout=60_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
        page.get_by_role("button", name="Run again").click()
        page.wait_for_url(lambda u: "job=" in u and running not in u, timeout=30_000)
        page.get_by_text("step ", exact=False).first.wait_for(timeout=60_000)
        page.goto(f"{url}/Live_denoising?job={finished}")
        page.get_by_text("crystals generated").first.wait_for(timeout=60_000)
        page.close()
    finally:
        second.terminate()
        second.wait(timeout=30)
    assert (data / "jobs" / finished / "summary.csv").is_file()


def assert_the_live_chart_is_redrawn_in_place(page) -> None:
    """The live figure stays one element whose data changes: mounted anew every second, it opened new WebGL contexts
    until Chromium dropped the oldest and the figure went blank now and then."""
    first = "() => { const c = document.querySelector('.live-chart'); c.dataset.was = JSON.stringify(c.data[1].x); }"
    page.wait_for_function("() => (document.querySelector('.live-chart')?.data || []).length > 1", timeout=30_000)
    page.evaluate(first)
    page.wait_for_timeout(4000)
    same, moved = page.evaluate(
        "() => { const c = document.querySelector('.live-chart');"
        " return [!!(c && c.dataset.was), !!(c && c.dataset.was !== JSON.stringify(c.data[1].x))]; }"
    )
    assert same, "the live chart was replaced by a new element instead of redrawn"
    assert moved, "the live chart did not follow the job's frames"


def no_traceback(page) -> None:
    """Streamlit shows an uncaught exception as an stException block with the traceback."""
    page.wait_for_timeout(1500)
    assert page.locator('[data-testid="stException"]').count() == 0, page.url
    assert "Traceback (most recent call last)" not in page.content(), page.url


def test_every_page_with_a_failed_crystal_shows_no_traceback(browser, tmp_path):
    """Generate -> Live -> Viewer -> Relax & hull -> Inpainting -> Screening, on a job with one failed crystal."""
    from generation_folder import DATA, FAILURE, write_generation_folder

    from backend.jobs.store import JobStore
    from backend.screening.config import ScreenConfig
    from backend.screening.screen import Screen

    data = tmp_path / "data"
    store = JobStore(data)
    job = store.submit("generate", "seed", {"model": "default", "request": {}})
    write_generation_folder(
        store.folder(job), [DATA / "hosts" / "NaCl_mp-22862.cif", DATA / "hosts" / "GaN_mp-830.cif"]
    )
    store.update(job, status="done", message="2 of 3 crystals generated")
    Screen(
        ScreenConfig(
            out=data / "screens" / "demo",
            n=2,
            atoms=4,
            steps=5,
            batch_size=2,
            relax_steps=20,
            require_charge_neutral=False,
        )
    ).run()

    process, url = start_server(data)
    outside = []
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.on(
            "request",
            lambda r: None if r.url.startswith((url, "data:", "blob:", "about:")) else outside.append(r.url),
        )
        page = context.new_page()
        page.goto(f"{url}/Generate")
        page.get_by_role("button", name="Generate").wait_for(timeout=60_000)
        no_traceback(page)

        page.goto(f"{url}/Live_denoising?job={job}")
        page.get_by_text(FAILURE).first.wait_for(timeout=60_000)
        no_traceback(page)

        page.goto(f"{url}/Structure_viewer?job={job}")
        page.frame_locator("iframe").first.locator("canvas").first.wait_for(timeout=60_000)
        page.get_by_text("Charge balance").first.wait_for(timeout=30_000)
        no_traceback(page)

        page.goto(f"{url}/Relax_and_hull")
        page.get_by_role("button", name="Relax with CHGNet").click()
        page.get_by_text("Convex hull of").first.wait_for(timeout=240_000)
        page.get_by_text("crystals the source job was asked for").first.wait_for(timeout=30_000)
        no_traceback(page)

        page.goto(f"{url}/Inpainting")
        page.get_by_text("Elements to remove").first.wait_for(timeout=60_000)
        no_traceback(page)

        page.goto(f"{url}/Screening")
        page.get_by_text("Shortlist").first.wait_for(timeout=60_000)
        no_traceback(page)
        context.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not outside, f"requests left 127.0.0.1: {outside[:5]}"


def test_generation_from_a_bundled_host_runs_live_and_the_viewer_starts_variations(server, browser):
    """Partial diffusion in the browser: Generate "Start from" a bundled host at t0 0.3 runs to done with its live
    view; the viewer's "Variations of this crystal" starts another job that does too."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/Generate")
    page.get_by_text("a structure", exact=True).click()
    page.get_by_text("Bundled structure").first.wait_for(timeout=30_000)
    page.get_by_text("Noise level t0").first.wait_for(timeout=30_000)
    crystals = page.get_by_label("Crystals", exact=True)
    crystals.fill("2")
    crystals.press("Tab")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url("**/Live_denoising?job=*", timeout=30_000)
    job_id = page.url.split("job=")[1]
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    page.get_by_text("crystals generated").first.wait_for(timeout=240_000)
    no_traceback(page)

    page.goto(f"{server}/Structure_viewer?job={job_id}")
    page.get_by_text("Variations of this crystal").click()
    page.get_by_role("button", name="Generate variations").click()
    # polled, not awaited as a navigation: Streamlit's page switch rewrites the address in place (no "load" event)
    page.wait_for_function(
        "job => location.href.includes('Live_denoising?job=') && !location.href.includes(job)",
        arg=job_id,
        timeout=60_000,
    )
    page.get_by_text("crystals generated").first.wait_for(timeout=240_000)
    no_traceback(page)
    page.close()


def test_learn_page_redraws_every_control_offline(server, browser, shots):
    """Every Learn section draws, each control redraws its figure (times printed for benchmarks/README), and no
    request leaves 127.0.0.1. Screenshots of each section go to the screenshot folder (docs/ with the env var)."""
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside = []
    context.on(
        "request", lambda r: None if r.url.startswith((server, "data:", "blob:", "about:")) else outside.append(r.url)
    )
    page = context.new_page()
    page.goto(f"{server}/Learn")
    page.get_by_text("γ = 2: ").first.wait_for(timeout=300_000)  # the last section is drawn
    no_traceback(page)
    for index, heading in enumerate(
        [
            "1. Diffusion in two dimensions",
            "2. Noising a real crystal",
            "3. What the model predicts",
            "4. Guidance and constraints",
            "5. From sample to material",
        ],
        start=1,
    ):
        page.get_by_text(heading).first.scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        page.screenshot(path=shots / f"learn_{index}.png")

    def redraw(action, shows: str, label: str) -> float:
        """Seconds from a control change until the text its redrawn section shows for the new value is there."""
        page.wait_for_timeout(500)
        started = time.time()
        action()
        page.get_by_text(shows).first.wait_for(timeout=60_000)
        seconds = time.time() - started
        print(f"\nLearn: {label} redrawn in {seconds:.2f} s")
        return seconds

    sliders = page.get_by_role("slider")

    def nudge(index: int):  # noqa: ANN202
        return lambda: (sliders.nth(index).focus(), sliders.nth(index).press("ArrowRight"))

    def choose(label: str, option: str):  # noqa: ANN202
        def act() -> None:  # typed, not clicked: a dropdown opened while its fragment reruns closes again
            page.get_by_label(label).first.click()
            page.keyboard.type(option)
            page.keyboard.press("Enter")

        return act

    def type_in(label: str, value: str):  # noqa: ANN202
        def act() -> None:
            field = page.get_by_label(label, exact=True)
            field.fill(value)
            field.press("Enter")

        return act

    def seed_one() -> None:
        page.locator('[data-testid="stRadio"]').last.get_by_text("1", exact=True).click()

    times = [
        redraw(lambda: page.get_by_text("VE", exact=True).first.click(), "VE forward process at t = 0.20", "process"),
        redraw(nudge(0), "VE forward process at t = 0.21", "1: noise level t"),
        redraw(choose("Sampler", "probability-flow ODE"), "probability-flow ODE, 20 steps", "1: sampler"),
        redraw(nudge(1), "probability-flow ODE, 21 steps", "1: steps"),
        redraw(nudge(2), "t = 0.31: position noise", "2: crystal noise level t"),
        redraw(nudge(3), "At t = 0.5.", "3: prediction noise level t"),
        redraw(type_in("Atom", "1"), "atom 1: truly", "3: atom"),
        redraw(seed_one, "Seed 1 (γ = 0 is", "4: seed"),
    ]
    no_traceback(page)
    context.close()
    assert not outside, f"requests left 127.0.0.1: {outside[:5]}"
    assert max(times) < 30


def test_a_screen_started_from_the_screening_page_fills_its_funnel_live(server, browser, shots):
    """The Screening page's form starts a small screen; the funnel figure changes while it runs, and the finished
    screen offers its download."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/Screening")
    # deep links only in this module: the sidebar is still the app's navigation, not the pages folder's file names
    page.get_by_role("link", name="Relax & hull").first.wait_for(timeout=60_000)
    assert not page.get_by_role("link", name="app", exact=True).count()
    page.get_by_label("Screen name", exact=True).wait_for(state="attached", timeout=60_000)
    expander = page.locator("details", has_text="New screen").first
    if expander.get_attribute("open") is None:
        page.get_by_text("New screen").first.click()
    fields = {
        "Screen name": "e2e-screen",
        "Chemical system": "Na-Cl",
        "Candidates": "4",
        "Atoms per cell": "4",
        "Denoising steps": "40",
        "Crystals per batch": "2",
        "Relaxation steps at most": "100",
    }
    for label, value in fields.items():
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Tab")
    page.wait_for_timeout(1000)  # the last field's rerun settles before the click
    page.get_by_role("button", name="Start screen").click()
    page.wait_for_url("**/Screening?screen=*", timeout=60_000)
    page.get_by_text(re.compile("screen (queued|running)")).first.wait_for(timeout=60_000)
    funnels = []
    deadline = time.time() + 300
    while time.time() < deadline:
        state = page.evaluate(
            "() => [...document.querySelectorAll('.js-plotly-plot')].map(p => JSON.stringify((p.data || [])"
            ".filter(t => t.type === 'funnel').map(t => t.x)))"
        )
        if state and state[0] not in ("[]", *funnels[-1:]):
            funnels.append(state[0])
        if page.get_by_text("on the shortlist").count() or page.get_by_text("Download screen").count():
            break
        page.wait_for_timeout(500)
    page.get_by_role("button", name="Download screen (config, funnel, metrics, shortlist CIFs)").wait_for(
        timeout=60_000
    )
    page.get_by_text("New screen").first.click()
    page.get_by_text("Estimate: about").first.wait_for(timeout=60_000)  # timed by the screen that just ran
    page.screenshot(path=shots / "screening.png", full_page=True)
    no_traceback(page)
    print(f"\nscreening funnel states seen while running: {funnels}")
    assert len(funnels) >= 2, f"the funnel did not change while the screen ran: {funnels}"
    page.close()
