"""Generate: choose a model and conditions, submit a generation job."""

import uuid

import streamlit as st
from streamlit.errors import StreamlitAPIException

from backend.app_support import local_models, model_info, models_folder, services
from backend.jobs import JobRefused
from backend.paths import ASSETS
from backend.sampling import (
    PUBLISHED_MODELS,
    GenerationRequest,
    InvalidRequest,
    ModelUnavailable,
    parse_chemical_system,
    parse_space_group,
)
from backend.sampling.models import SCALAR_PROPERTIES

st.set_page_config(page_title="Generate - Crystal Canvas", page_icon=str(ASSETS / "icon.png"), layout="wide")
st.title("Generate crystals")
owner = st.session_state.setdefault("owner", uuid.uuid4().hex)
store, runner = services()

source = st.radio(
    "Model", ["Embedded default", "Local checkpoint folder", "Published MatterGen model"], horizontal=True
)
if source == "Embedded default":
    spec = "default"
elif source == "Local checkpoint folder":
    folders = local_models()
    if not folders:
        st.info(
            f"No checkpoint folders in {models_folder()}: the server's operator puts folders with config.yaml and "
            "checkpoints/last.ckpt there (or sets CRYSTAL_CANVAS_MODELS)."
        )
        st.stop()
    spec = folders[st.selectbox("Checkpoint folder", list(folders))]
else:
    spec = st.selectbox("Published model (downloaded from the Hugging Face hub; needs internet)", PUBLISHED_MODELS)
if not spec:
    st.stop()
try:
    with st.spinner("Loading model..."):
        info = model_info(spec)
except ModelUnavailable as exc:
    st.error(str(exc))
    st.stop()
st.caption(
    f"{info.name}: {info.parameters / 1e6:.2f} M parameters on {info.device}; conditions: "
    f"{', '.join(info.conditions) or 'none (unconditional)'}"
)

with st.form("generate"):
    left, right = st.columns(2)
    chemsys = left.text_input(
        "Chemical system",
        placeholder="Li-Fe-O",
        disabled=not info.supports("chemical_system"),
        help="Elements separated by '-'. Only these elements will be placed.",
    )
    space_group = right.text_input(
        "Space group (number or symbol)", placeholder="62 or Pnma", disabled=not info.supports("space_group")
    )
    targets = {}
    for name in SCALAR_PROPERTIES:
        if info.supports(name):
            targets[name] = st.number_input(f"Target {name}", value=None, placeholder="no target")
    guidance = left.number_input(
        "Guidance factor",
        min_value=0.0,
        max_value=10.0,
        value=1.0,
        step=0.5,
        help="1: conditional; >1 sharpens conditions at twice the model calls.",
    )
    atoms_from_data = right.checkbox("Draw atom counts from the Alex-MP-20 distribution", value=False)
    # No min/max on the widgets: an out-of-range value would only turn the field red and make Generate do nothing;
    # GenerationRequest.validate says what is wrong instead, in one line.
    atoms = right.number_input("Atoms per cell", value=8, step=1, disabled=atoms_from_data)
    n = left.number_input("Crystals", value=4, step=1)
    steps = right.number_input("Denoising steps", value=100, step=1)
    seed = left.number_input("Seed", value=0, step=1)
    submitted = st.form_submit_button("Generate", type="primary")

if submitted:
    try:
        request = GenerationRequest(
            n=int(n),
            atoms=None if atoms_from_data else int(atoms),
            chemical_system=parse_chemical_system(chemsys) if chemsys.strip() else None,
            space_group=parse_space_group(space_group) if space_group.strip() else None,
            targets=tuple((k, float(v)) for k, v in targets.items() if v is not None),
            guidance=float(guidance),
            steps=int(steps),
            seed=int(seed),
        )
        job_id = runner.submit_generation(owner, spec, request.validate(info))
    except (InvalidRequest, ModelUnavailable, JobRefused) as exc:
        st.error(str(exc))
    else:
        st.query_params["job"] = job_id
        st.success(f"Job {job_id} submitted.")
        try:
            st.switch_page("pages/2_Live_denoising.py", query_params={"job": job_id})
        except StreamlitAPIException:  # page run on its own (no page registry): the link above is enough
            st.markdown(f"[Watch it on Live denoising](./Live_denoising?job={job_id})")
