"""Screening: start a screen as a job, watch its funnel fill, cancel, resume, re-apply thresholds, download."""

import time
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

from backend.app.display import for_display
from backend.app.figures import funnel_figure
from backend.app.page import open_page
from backend.jobs.context import JobRefused
from backend.jobs.kinds.screen import ScreenSpec, screen_job
from backend.sampling.model_info import ModelUnavailable
from backend.sampling.request import InvalidRequest, parse_space_group
from backend.screening.config import ScreenConfig, small_screen
from backend.screening.estimate import calibrate, estimate, machine_rates
from backend.screening.folders import (
    new_screen_folder,
    screen_folders,
    screen_roots,
    screen_view,
    screen_zip,
    where_screens_run,
)
from backend.stability.figures import e_hull_histogram, hull_figure
from backend.stability.reference import HULL_LABEL, StabilityError

page = open_page("Screening", "Screening")
owner, store, runner = page.owner, page.store, page.runner
data_screens, run_screens = screen_roots()
st.caption(
    "generate -> sanity filter -> CHGNet relaxation -> E_above_hull -> shortlist. "
    + where_screens_run(runner.server.ray_address, runner.server.ray_cpus)
    + f" Screens from the command line (`crystal-canvas screen --out ...`) under {run_screens} appear here too."
)
default = small_screen(Path("."))

with st.expander("New screen", expanded=not screen_folders()):
    left, right = st.columns(2)
    name = left.text_input(
        "Screen name", value=st.session_state.setdefault("screen_name", time.strftime("screen-%m%d-%H%M"))
    )
    chemsys = right.text_input("Chemical system", value=default.chemsys, help="elements like Li-Fe-O")
    compositions = left.text_input(
        "Compositions (optional)", placeholder="e.g. Li2Fe2O4, LiFeO2", help="cell contents, taken in turn"
    )
    source = right.selectbox(
        "Composition source",
        ["proposer", "prototypes", "model"],
        help="without compositions: the proposer's charge-balanced compositions, known prototypes' compositions, or "
        "the model's own atom types",
    )
    n = left.number_input("Candidates", value=default.n, step=1)
    atoms = right.number_input("Atoms per cell", value=default.atoms, step=1)
    steps = left.number_input("Denoising steps", value=default.steps, step=1)
    space_group = right.text_input("Space group (optional)", placeholder="number or symbol, e.g. 225 or Fm-3m")
    seed = left.number_input("Seed", value=default.seed, step=1)
    batch_size = right.number_input("Crystals per batch", value=default.batch_size, step=1)
    st.markdown("**Filters and thresholds**")
    left, right = st.columns(2)
    min_distance = left.number_input("Minimum interatomic distance (Å)", value=default.min_distance, step=0.1)
    neutral = right.checkbox("Require charge-neutral oxidation states (SMACT)", value=default.require_charge_neutral)
    max_e_hull = left.number_input("E_above_hull at most (eV/atom)", value=default.max_e_hull, step=0.05)
    shortlist_size = right.number_input("Shortlist size (0: all under the threshold)", value=20, step=1)
    fmax = left.number_input("Relaxation force tolerance fmax (eV/Å)", value=default.fmax, step=0.01)
    relax_steps = right.number_input("Relaxation steps at most", value=default.relax_steps, step=50)
    phonons = left.checkbox(
        "Phonons: keep dynamically stable candidates only",
        help="phonopy finite displacements with CHGNet for every candidate under the E_above_hull threshold",
    )
    bulk_min = right.number_input("Bulk modulus at least (GPa, 0: no filter)", value=0.0, step=10.0)
    try:
        config = ScreenConfig(
            out=new_screen_folder(name),
            n=int(n),
            atoms=int(atoms),
            chemsys=chemsys.strip() or None,
            compositions=tuple(c.strip() for c in compositions.split(",") if c.strip()),
            composition_source=source,
            space_group=parse_space_group(space_group) if space_group.strip() else None,
            steps=int(steps),
            seed=int(seed),
            batch_size=int(batch_size),
            min_distance=float(min_distance),
            require_charge_neutral=neutral,
            max_e_hull=float(max_e_hull),
            shortlist_size=int(shortlist_size) or None,
            fmax=float(fmax),
            relax_steps=int(relax_steps),
            phonons=phonons,
            bulk_modulus_min=float(bulk_min) or None,
        )
        problem = None
    except InvalidRequest as exc:
        config, problem = None, str(exc)
    rates = machine_rates(store.root)
    if rates is None:
        st.info("No screen has been timed on this machine yet, so there is no estimate.")
        if st.button("Time this machine (an 8-candidate screen, about a minute)"):
            with st.spinner("Timing generation and relaxation on this machine..."):
                calibrate(store.root)
            st.rerun()
    elif config is not None and config.n > 0 and config.steps > 0 and config.relax_steps > 0:
        guess = estimate(config, rates)
        extra = (
            " Verification (phonons, bulk modulus) comes on top: seconds to a minute per candidate." * config.verifies
        )
        (st.warning if guess.too_long else st.caption)("Estimate: " + guess.text() + extra)
    if st.button("Start screen", type="primary"):
        try:
            if problem:
                raise InvalidRequest(problem)
            job_id = runner.submit(owner, ScreenSpec(config))
        except (InvalidRequest, ModelUnavailable, JobRefused) as exc:
            st.error(str(exc))
        else:
            st.session_state.pop("screen_name")
            st.query_params["screen"] = f"{data_screens.name}/{config.out.name}"
            st.rerun()

folders = screen_folders()
if not folders:
    st.info(f"No screen yet under {data_screens} or {run_screens}.")
    st.stop()
options = list(folders)
wanted = st.query_params.get("screen")
chosen = st.selectbox("Screen", options, index=options.index(wanted) if wanted in options else 0)
folder = folders[chosen]
job = screen_job(store, folder)


def resume(view) -> None:  # noqa: ANN001 - a ScreenView
    """Resume a screen that stopped early: a job of the server's worker that continues from its stage files."""
    if not view.complete and st.button("Resume screen", type="primary"):
        try:
            runner.submit(owner, ScreenSpec(view.config))
        except (InvalidRequest, ModelUnavailable, JobRefused) as exc:
            st.error(str(exc))
        else:
            st.rerun()


def show(view, key: str) -> None:  # noqa: ANN001 - a ScreenView
    """Funnel, shortlist, hull and histogram of a screen as its files hold them now."""
    left, right = st.columns([2, 3])
    left.dataframe(view.funnel, hide_index=True)
    right.plotly_chart(funnel_figure(view.funnel), key=f"funnel-{key}")
    st.subheader(f"Shortlist ({HULL_LABEL})")
    st.dataframe(for_display(view.shortlist), hide_index=True)
    if view.structures:
        links = [
            f"[{cid}](./Structure_viewer?{urlencode({'screen': chosen, 'candidate': cid})})" for cid in view.structures
        ]
        st.markdown("Open in the Structure viewer: " + ", ".join(links))
    if view.hull_system and view.hull_candidates:
        try:
            st.plotly_chart(hull_figure(view.hull_system, view.hull_candidates), key=f"hull-{key}")
        except StabilityError as exc:
            st.error(str(exc))


@st.fragment(run_every=2.0)
def live() -> None:
    current = store.get(job.id)
    if not current.active:
        st.rerun()
    st.progress(current.progress, text=f"screen {current.status}: {current.message}")
    show(screen_view(folder), "live")


if job is not None and job.active:
    # outside the fragment: a button redrawn every second swallows clicks
    if st.button("Cancel screen"):
        store.request_cancel(job.id)
    live()
    st.stop()
view = screen_view(folder)
if job is not None and job.status in ("failed", "cancelled"):
    reason = job.error or job.message
    st.warning(f"The last run of this screen was {job.status}: {reason}. What it wrote is kept; Resume continues.")
resume(view)
if not view.complete:
    st.caption("This screen has work left: its funnel shows what is done so far.")
show(view, "done")
if view.metrics is not None:
    st.caption(
        "Rates over every candidate asked for (failed generation, filter or relaxation: neither valid nor stable)"
    )
    st.dataframe(view.metrics, hide_index=True)
if len(view.shortlist):
    st.plotly_chart(e_hull_histogram(view.shortlist.e_above_hull.astype(float).tolist()), key="ehull")

if view.complete:
    st.subheader("Re-apply thresholds")
    st.caption("A new shortlist from what was already relaxed: nothing is generated or relaxed again.")
    left, right = st.columns(2)
    new_e_hull = left.number_input("New E_above_hull threshold (eV/atom)", value=view.config.max_e_hull, step=0.05)
    new_size = right.number_input(
        "New shortlist size (0: all under the threshold)", value=view.config.shortlist_size or 0, step=1
    )
    if st.button("Re-apply to this screen"):
        thresholds = {"max_e_hull": float(new_e_hull), "shortlist_size": int(new_size) or None}
        try:
            runner.submit(owner, ScreenSpec(view.config.with_thresholds(**thresholds)))
        except (InvalidRequest, ModelUnavailable, JobRefused) as exc:
            st.error(str(exc))
        else:
            st.rerun()
st.download_button(
    "Download screen (config, funnel, metrics, shortlist CIFs)",
    screen_zip(folder),
    file_name=f"{folder.name}.zip",
    on_click="ignore",
)
