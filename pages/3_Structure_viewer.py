"""Structure viewer: any generated, relaxed or uploaded structure in 3D, its facts and downloads."""

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from backend.app.display import for_display
from backend.app.figures import structure_html
from backend.app.job_views import ctk_link, job_structures, job_zip, verification_of
from backend.app.page import open_page
from backend.app.structure_facts import structure_downloads, structure_facts
from backend.app.uploads import read_upload_for_viewing
from backend.jobs.context import JobRefused
from backend.jobs.kinds.generate import GenerateSpec
from backend.sampling.model_info import ModelUnavailable
from backend.sampling.request import GenerationRequest, InvalidRequest
from backend.screening.folders import screen_folders, screen_view
from backend.structures import StructureFileError
from backend.verify.figures import eos_figure, phonon_figure
from backend.verify.run import THRESHOLD_TEXT

page = open_page("Structure viewer", "Structure viewer")
owner, store, runner = page.owner, page.store, page.runner

SOURCES = ["A job", "A screen", "An uploaded file"]
source = st.radio(
    "Structure from", SOURCES, horizontal=True, index=1 if "screen" in st.query_params else 0, key="source"
)
structure, name, job_id = None, "structure", None


def pick(label: str, options: list[str], param: str, **kwargs: object) -> str:
    """A selectbox that starts on the option named in the page's query parameter ``param`` (links open it)."""
    wanted = st.query_params.get(param)
    return st.selectbox(label, options, index=options.index(wanted) if wanted in options else 0, **kwargs)


if source == "A screen":
    screens = screen_folders()
    if not screens:
        st.info("No screen yet.")
        st.stop()
    screen = pick("Screen", list(screens), "screen")
    candidates = screen_view(screens[screen]).structures
    if not candidates:
        st.warning("This screen has no relaxed shortlist candidate yet.")
        st.stop()
    name = pick("Shortlisted candidate (relaxed)", list(candidates), "candidate")
    structure = candidates[name]
elif source == "A job":
    jobs = [j for j in store.jobs(limit=100) if j.status == "done"]
    if not jobs:
        st.info("No finished job yet.")
        st.stop()
    job_id = pick(
        "Job", [j.id for j in jobs], "job", format_func=lambda i: f"{i} ({store.get(i).kind}, {store.get(i).message})"
    )
    st.query_params["job"] = job_id
    structures = job_structures(store, job_id)
    if not structures:
        st.warning("This job produced no structures.")
        st.stop()
    name = pick("Structure", list(structures), "structure")
    structure = structures[name]
    st.link_button("Open in Crystal Toolkit", ctk_link(job_id, name), help="bonds, polyhedra, cells, image export")
else:
    upload = st.file_uploader(
        "CIF, POSCAR, extxyz or pymatgen JSON", type=["cif", "vasp", "poscar", "xyz", "extxyz", "json"]
    )
    if upload is None:
        st.stop()
    try:
        structure, warning = read_upload_for_viewing(upload.name, upload.getvalue())
    except StructureFileError as exc:
        st.error(str(exc))
        st.stop()
    name = upload.name.rsplit(".", 1)[0]
    if warning:
        st.warning(warning)

left, right = st.columns([3, 2])
with right:
    repeat = st.slider("Supercell repeat", 1, 3, 1)
    style = st.radio("Style", ["ball and stick", "spacefill"], horizontal=True)
    labels = st.checkbox("Element labels")
with left:
    st.iframe(structure_html(structure, (repeat, repeat, repeat), style, labels), height=500)
facts = structure_facts(structure)
with right:
    st.metric("Formula", facts.formula)
    st.caption(f"Cell content: {facts.cell_content}")
    st.write(f"**Space group** {facts.space_group}")
    st.write(f"**Lattice** {facts.lattice}")
    st.write(f"**Density** {facts.density:.3f} g/cm³ · **Volume** {facts.volume_per_atom:.2f} Å³/atom")
    st.write(f"**Charge balance** {facts.charge_balance}")
    st.write(f"**Sanity** {facts.sanity}")
    st.write(f"**Closest known phase** {facts.known_phase}")
    for label, (file_name, text) in structure_downloads(structure, name).items():
        st.download_button(f"Download {label}", text, file_name=file_name, key=f"dl-{label}", on_click="ignore")
    if job_id:
        st.download_button(
            "Download the whole job (zip)", job_zip(store, job_id), file_name=f"{job_id}.zip", on_click="ignore"
        )
st.subheader("Coordination (CrystalNN)")
st.dataframe(for_display(facts.coordination), hide_index=True)

report = verification_of(store, job_id, name) if job_id else None
if report is not None:
    st.subheader("Verification (Relax & hull: Verify)")
    st.caption(THRESHOLD_TEXT)
    st.dataframe(for_display(pd.DataFrame([report.row()])), hide_index=True)
    if report.phonons is not None:
        st.plotly_chart(phonon_figure(report.phonons, name), key="phonons")
    if report.properties is not None:
        st.plotly_chart(eos_figure(report.properties, name), key="eos")

with st.expander("Variations of this crystal"):
    st.caption(
        "Partial diffusion with the embedded model: this crystal noised to t0 and denoised again, its atoms kept. "
        "Small t0 gives close relatives; t0 near 1 forgets the start."
    )
    count = st.number_input("Variations", value=4, step=1)
    level = st.slider("Noise level t0", 0.05, 1.0, 0.3, 0.05, key="variation-t0")
    keep_symmetry = st.checkbox("Keep its space group", help="Hold its space group and Wyckoff orbits at every step")
    if st.button("Generate variations"):
        try:
            request = GenerationRequest(
                n=int(count),
                atoms=None,
                steps=100,
                start_structures=(structure.to_json(),),
                start_time=float(level),
                start_symmetry="keep" if keep_symmetry else "free",
            )
            variation_job = runner.submit(owner, GenerateSpec("default", request))
        except (InvalidRequest, ModelUnavailable, JobRefused) as exc:
            st.error(str(exc))
        else:
            try:
                st.switch_page("pages/2_Live_denoising.py", query_params={"job": variation_job})
            except StreamlitAPIException:  # page run on its own (no page registry): a link instead
                st.markdown(f"[Watch it on Live denoising](./Live_denoising?job={variation_job})")
