"""Inpainting (CHGGen): keep a host framework, let MatterGen place the guest atoms, or order a disordered host."""

import streamlit as st
from streamlit.errors import StreamlitAPIException

from backend.app.figures import structure_html
from backend.app.page import open_page
from backend.app.structure_facts import wyckoff_orbits
from backend.app.uploads import bundled_hosts, read_upload
from backend.inpainting.disorder import integral_supercells, occupancy_table, plan_order_disorder, smallest_supercells
from backend.inpainting.framework import prepare_framework
from backend.inpainting.request import InpaintRequest, InvalidHost, parse_guests, parse_indices
from backend.jobs.context import JobRefused
from backend.jobs.kinds.inpaint import InpaintSpec
from backend.sampling.model_info import ModelUnavailable
from backend.sampling.request import InvalidRequest
from backend.structures import StructureFileError

page = open_page("Inpainting", "Inpainting into a host")
owner, store, runner = page.owner, page.store, page.runner
st.caption(
    "CHGGen (Zhong et al., Mater. Horiz. 2025): host atoms are pinned at every denoising step, guests follow "
    "the model (RePaint resampling, off by default, re-noises the whole state to harmonise them). A host with "
    "partial occupancy is ordered the same way: its "
    "fully occupied sites are the framework, its partial species the guests. Relax the results on Relax & hull."
)

hosts = bundled_hosts()
source = st.radio("Host", ["Bundled MP host", "Upload"], horizontal=True)
try:
    if source == "Upload":
        upload = st.file_uploader(
            "CIF, POSCAR, extxyz or pymatgen JSON (partial occupancy allowed)",
            type=["cif", "vasp", "poscar", "xyz", "extxyz", "json"],
        )
        if upload is None:
            st.stop()
        host = read_upload(upload.name, upload.getvalue(), disorder_allowed=True)
    else:
        host = hosts[st.selectbox("Bundled host", list(hosts))]
except StructureFileError as exc:
    st.error(str(exc))
    st.stop()

left, right = st.columns([3, 2])
plan = None
try:
    if host.is_ordered:
        with right:
            how = st.radio("Remove", ["by element", "by site indices", "by Wyckoff orbit"])
            remove, drop_text, orbits_chosen = [], "", []
            if how == "by element":
                remove = st.multiselect("Elements to remove", sorted({s.species.elements[0].symbol for s in host}))
            elif how == "by site indices":
                drop_text = st.text_input("Site indices to remove (0-based, e.g. 0,1,5)")
            else:
                orbits = wyckoff_orbits(host)
                orbits_chosen = [i for name in st.multiselect("Orbits to remove", list(orbits)) for i in orbits[name]]
            symmetrize = st.checkbox("Symmetrise the framework (spglib tolerance ladder)")
            repeat = st.selectbox("Supercell", ["1,1,1", "2,1,1", "1,2,1", "1,1,2", "2,2,1", "2,2,2"])
        drop = parse_indices(drop_text) or tuple(orbits_chosen)
        framework = prepare_framework(host, remove, drop, symmetrize, tuple(int(x) for x in repeat.split(",")))
    else:
        left.subheader("Disordered host: ordered by inpainting")
        with right:
            mixed = "counts"
            if any(site.mixed for site in occupancy_table(host)):
                mixed = st.radio(
                    "Mixed sites",
                    ["counts", "free"],
                    horizontal=True,
                    help="counts: each element as often as its occupancies say; free: the model chooses among them",
                )
            smallest = smallest_supercells(host, mixed)
            if smallest:
                st.caption("Smallest supercells with whole guest counts: " + " / ".join(o.label for o in smallest))
            options = [o.label for o in integral_supercells(host, mixed) or smallest] or [None]
            repeat = st.selectbox("Supercell", options, format_func=lambda label: label or "none makes them whole")
            start = st.radio("Guests start", ["at the disordered sites (noised)", "uniform in the cell"])
        plan = plan_order_disorder(host, tuple(int(x) for x in repeat.split(",")) if repeat else None, mixed)
        framework = plan.framework
        st.dataframe([site.row() for site in occupancy_table(host)], hide_index=True)
except InvalidHost as exc:
    st.error(str(exc))
    st.stop()
with left:
    kept = framework.kept
    st.iframe(structure_html(kept, height=420), height=440)
    st.caption(f"Framework: {kept.composition.formula} ({framework.note})")

with st.form("inpaint"):
    a, b = st.columns(2)
    if plan is None:
        guests_text = a.text_input("Guests (ELEMENT:COUNT, comma separated)", value="Li:4")
        free = b.number_input("Free guests (element chosen by the model)", min_value=0, max_value=50, value=0)
        free_elements = b.text_input("Allowed elements for free guests", placeholder="Li,Na")
    else:
        implied = ", ".join(f"{e}:{n}" for e, n in plan.guests)
        free_text = f", {plan.free_guests} free among {'/'.join(plan.free_elements)}" if plan.free_guests else ""
        st.markdown(f"**Guests the occupancies imply:** {implied}{free_text}")
    jump = a.number_input("RePaint jump length j", min_value=1, max_value=100, value=10)
    resample = b.number_input(
        "RePaint resamples r", min_value=1, max_value=10, value=1, help="1: no resampling (best measured at 100 steps)"
    )
    n = a.number_input("Candidates", min_value=1, max_value=64, value=4)
    steps = b.number_input("Denoising steps", min_value=2, max_value=1000, value=100)
    seed = a.number_input("Seed", min_value=0, value=0)
    submitted = st.form_submit_button("Inpaint", type="primary")

if submitted:
    try:
        sampling = {"n": int(n), "steps": int(steps), "jump": int(jump), "resample": int(resample), "seed": int(seed)}
        if plan is None:
            request = InpaintRequest(
                guests=parse_guests(guests_text),
                free_guests=int(free),
                free_elements=tuple(e.strip() for e in free_elements.split(",") if e.strip()),
                **sampling,
            )
        else:
            request = plan.request(guest_start="sites" if start.startswith("at") else "uniform", **sampling)
        job_id = runner.submit(owner, InpaintSpec.of("default", framework, request))
    except (InvalidHost, InvalidRequest, ModelUnavailable, JobRefused) as exc:
        st.error(str(exc))
    else:
        st.query_params["job"] = job_id
        st.success(f"Job {job_id} submitted.")
        try:
            st.switch_page("pages/2_Live_denoising.py", query_params={"job": job_id})
        except StreamlitAPIException:
            st.markdown(f"[Watch it on Live denoising](./Live_denoising?job={job_id})")
