"""Live denoising: watch a generation job's crystals take shape; scrub the trajectory afterwards."""

import time

import streamlit as st

from backend.app.display import for_display
from backend.app.figures import trajectory_figure
from backend.app.job_views import job_failures, job_table, live_figure
from backend.app.live_chart import live_chart
from backend.app.page import open_page
from backend.jobs.context import JobRefused
from backend.jobs.kinds.inpaint import InpaintSpec
from backend.jobs.specs import spec_of

page = open_page("Live denoising", "Live denoising")
owner, store, runner = page.owner, page.store, page.runner

jobs = [j for j in store.jobs(limit=100) if j.kind in ("generate", "inpaint", "csp")]
job_id = st.query_params.get("job") or (jobs[0].id if jobs else None)
job = store.get(job_id) if job_id else None  # read once per page run; the live fragment reads its own
if job is None:
    st.info("No generation job yet: submit one on the Generate page.")
    st.stop()
# no status in the label: it is drawn once per page run and went stale ("queued" while running); the progress
# bar below says the status every second
labels = {j.id: f"{j.id} - {j.kind}" for j in jobs}
if job_id not in labels:
    labels[job_id] = job_id
job_id = st.selectbox("Job", list(labels), index=list(labels).index(job_id), format_func=labels.get)
st.query_params["job"] = job_id
st.caption(f"Link to this job: ?job={job_id}")
if job.id != job_id:
    job = store.get(job_id)
host_atoms = spec_of(job).host_atoms if job.kind == InpaintSpec.kind else 0  # inpainting: host drawn translucent
st.caption(
    "Atoms are coloured by the element the model currently finds most likely (Jmol colours, except that of two "
    "alike ones the heavier takes a distinct colour; legend beside the figure) and grey while it is still "
    "undecided; marker size is the model's confidence in that element."
    + (" Host atoms are drawn small and translucent, guests opaque." if host_atoms else "")
)
if job.kind == "inpaint":
    st.info(
        "Inpainting runs RePaint: after every block of j steps the whole state is noised back j steps and "
        "denoised again (r resamples), so the step counter counts every denoising step, resamples included "
        "(more than the steps asked for), and the noise level t runs backwards at each block. The host lattice "
        "and atoms are pinned to the host noised to the current level, so the cell breathes during sampling and "
        "is the host's own cell again at the end."
    )


def live_view(waiting: bool) -> None:
    job = store.get(job_id)
    if not job.active:
        st.rerun()  # switch to the finished view once, then stop polling
    figure = live_figure(store, job_id, host_atoms)
    st.progress(job.progress, text=f"{job.status}: {job.message or 'waiting in the queue'}")
    if figure is not None:
        live_chart(figure, key="live-figure")
        # The first frame is drawn; a little later the page reruns once to poll at the steady pace. Rerunning the
        # moment it came in, while this fragment's 0.2 s timer kept firing, held the first frame back 2-3 s in
        # about half of the e2e walks.
        shown = st.session_state.setdefault(f"first-frame-{job_id}", time.monotonic())
        if waiting and time.monotonic() - shown > 1.0:
            st.rerun()


if job.active:
    # Outside the fragment: a button inside it is redrawn every second and swallowed clicks (14 s to land one).
    if st.button("Cancel job"):
        store.request_cancel(job_id)
        st.toast("Cancel requested: the job stops after its current step.")
    # A fast poll until the first frame (it lands well under a second after the click), then once a second
    waiting = store.frame_count(job_id) == 0
    st.fragment(live_view, run_every=0.2 if waiting else 1.0)(waiting)
else:
    if job.status == "failed":
        st.error(f"Job failed: {job.error}")
    elif job.status == "cancelled":
        st.warning("Job cancelled.")
    else:
        st.success(job.message)
    table = job_table(store, job_id)
    if table is not None and job.kind == "csp":
        st.subheader("Ranked candidates")
        st.dataframe(for_display(table), hide_index=True)
        ranked = [f for f in table.file if f]
        st.markdown(
            "Open in the viewer: "
            + " · ".join(f"[{f}](./Structure_viewer?job={job_id}&structure={f.removesuffix('.cif')})" for f in ranked)
        )
    elif table is not None:
        st.dataframe(for_display(table), hide_index=True)
        st.caption("Relax them on Relax & hull for E_above_hull against the MP hull.")
    failures = job_failures(store, job_id)
    if failures:
        st.warning("Crystals that failed, and why: " + "; ".join(failures))
    if job.status in ("failed", "cancelled") and st.button("Run again"):
        try:
            st.query_params["job"] = runner.resubmit(owner, job_id)
        except JobRefused as exc:
            st.error(str(exc))
        else:
            st.rerun()
    frames = store.all_frames(job_id)
    if frames:
        by_step: dict[int, list] = {}
        for frame in frames:
            by_step.setdefault(frame.step, []).append(frame)
        st.plotly_chart(trajectory_figure(by_step, host_atoms=host_atoms), key="trajectory")
        where = " Open the structures in the Structure viewer." if job.status == "done" else ""
        st.caption(f"{len(frames)} frames recorded.{where}")
