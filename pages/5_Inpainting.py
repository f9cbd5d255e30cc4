"""Inpainting (CHGGen): keep a host framework, let MatterGen place the guest atoms."""

import uuid

import streamlit as st
from streamlit.errors import StreamlitAPIException

from backend.app_support import bundled_hosts, read_upload, services, wyckoff_orbits
from backend.inpainting import InpaintRequest, InvalidHost, parse_guests, parse_indices, prepare_framework
from backend.jobs import JobRefused
from backend.paths import ASSETS
from backend.sampling import InvalidRequest, ModelUnavailable
from backend.structures import StructureFileError
from backend.views import structure_html

st.set_page_config(page_title="Inpainting - Crystal Canvas", page_icon=str(ASSETS / "icon.png"), layout="wide")
st.title("Inpainting into a host")
st.caption(
    "CHGGen (Zhong et al., Mater. Horiz. 2025): host atoms are pinned at every denoising step, guests follow "
    "the model, RePaint resampling harmonises them. Relax the results on Relax & hull."
)
owner = st.session_state.setdefault("owner", uuid.uuid4().hex)
store, runner = services()

hosts = bundled_hosts()
source = st.radio("Host", ["Bundled MP host", "Upload"], horizontal=True)
try:
    if source == "Upload":
        upload = st.file_uploader("CIF, POSCAR or extxyz", type=["cif", "vasp", "poscar", "xyz", "extxyz"])
        if upload is None:
            st.stop()
        host = read_upload(upload.name, upload.getvalue())
    else:
        host = hosts[st.selectbox("Bundled host", list(hosts))]
except StructureFileError as exc:
    st.error(str(exc))
    st.stop()

left, right = st.columns([3, 2])
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

try:
    drop = parse_indices(drop_text) or tuple(orbits_chosen)
    framework = prepare_framework(host, remove, drop, symmetrize, tuple(int(x) for x in repeat.split(",")))
except InvalidHost as exc:
    st.error(str(exc))
    st.stop()
with left:
    kept = framework.kept
    st.iframe(structure_html(kept, height=420), height=440)
    st.caption(f"Framework: {kept.composition.formula} ({framework.note})")

with st.form("inpaint"):
    a, b = st.columns(2)
    guests_text = a.text_input("Guests (ELEMENT:COUNT, comma separated)", value="Li:4")
    free = b.number_input("Free guests (element chosen by the model)", min_value=0, max_value=50, value=0)
    free_elements = b.text_input("Allowed elements for free guests", placeholder="Li,Na")
    jump = a.number_input("RePaint jump length j", min_value=1, max_value=100, value=10)
    resample = b.number_input("RePaint resamples r", min_value=1, max_value=10, value=3)
    n = a.number_input("Candidates", min_value=1, max_value=64, value=4)
    steps = b.number_input("Denoising steps", min_value=2, max_value=1000, value=100)
    seed = a.number_input("Seed", min_value=0, value=0)
    submitted = st.form_submit_button("Inpaint", type="primary")

if submitted:
    try:
        request = InpaintRequest(
            guests=parse_guests(guests_text),
            free_guests=int(free),
            free_elements=tuple(e.strip() for e in free_elements.split(",") if e.strip()),
            n=int(n),
            steps=int(steps),
            jump=int(jump),
            resample=int(resample),
            seed=int(seed),
        )
        job_id = runner.submit_inpainting(owner, "default", framework, request)
    except (InvalidHost, InvalidRequest, ModelUnavailable, JobRefused) as exc:
        st.error(str(exc))
    else:
        st.query_params["job"] = job_id
        st.success(f"Job {job_id} submitted.")
        try:
            st.switch_page("pages/2_Live_denoising.py", query_params={"job": job_id})
        except StreamlitAPIException:
            st.markdown(f"[Watch it on Live denoising](./Live_denoising?job={job_id})")
