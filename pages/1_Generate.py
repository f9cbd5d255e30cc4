"""Generate: choose a model and conditions, submit a generation job."""

import streamlit as st
from streamlit.errors import StreamlitAPIException

from backend.app.page import open_page
from backend.app.services import local_models, model_info, models_folder
from backend.app.uploads import bundled_hosts, read_upload
from backend.compositions.proposer import proposal_table
from backend.csp_order import ORDERS
from backend.jobs.context import JobRefused
from backend.jobs.kinds.csp import CspSpec
from backend.jobs.kinds.generate import GenerateSpec
from backend.prototypes.retrieval import prototype_starts
from backend.sampling.composition import composition_preview_note, proposals
from backend.sampling.model_info import PUBLISHED_MODELS, SCALAR_PROPERTIES, ModelUnavailable
from backend.sampling.request import (
    GenerationRequest,
    InvalidRequest,
    parse_chemical_system,
    parse_composition,
    parse_space_group,
)
from backend.structures import StructureFileError

page = open_page("Generate", "Generate crystals")
owner, store, runner = page.owner, page.store, page.runner

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

START_MODES = ["noise", "a structure", "known prototypes of the composition"]
start_mode = st.radio(
    "Start from",
    START_MODES,
    horizontal=True,
    help="Partial diffusion: a structure noised to t0 and denoised by the model -- small t0 gives close variations, "
    "t0 = 1 forgets the start. Prototypes: known structure types of the composition below, elements substituted.",
)
start_structure = None
if start_mode == "a structure":
    hosts = bundled_hosts()
    where = st.radio("Structure", ["bundled (Materials Project)", "uploaded file"], horizontal=True)
    if where.startswith("bundled"):
        start_structure = hosts[st.selectbox("Bundled structure", list(hosts))]
    else:
        upload = st.file_uploader(
            "CIF, POSCAR, extxyz or pymatgen JSON", type=["cif", "vasp", "poscar", "xyz", "extxyz", "json"]
        )
        if upload is not None:
            try:
                start_structure = read_upload(upload.name, upload.getvalue())
            except StructureFileError as exc:
                st.error(str(exc))
    if start_structure is not None:
        st.caption(
            f"Start: {start_structure.composition.formula} ({len(start_structure)} atoms); its composition is used"
        )
start_time = 1.0
if start_mode != "noise":
    start_time = st.slider("Noise level t0", 0.05, 1.0, 0.3, 0.05, help="How far the start is noised before denoising")
    keep_symmetry = st.checkbox(
        "Keep the start's space group",
        value=start_mode == START_MODES[2],
        help="Hold the start's space group and Wyckoff orbits at every step (its conventional cell); prototype "
        "seeds of new compositions always keep theirs",
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
        "Space group (number or symbol)",
        placeholder="225 or Fm-3m",
        help="Imposed at every denoising step (any model); a model trained on space groups is also conditioned.",
    )
    wyckoff = left.text_input(
        "Wyckoff sites", value="auto", help="With a space group: 'auto' (chosen by seed) or sites like 4a:Na,4b:Cl."
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
    composition = left.text_input(
        "Composition (cell)",
        placeholder="Li2Fe2O4",
        help="The cell's exact content; it fixes the number of atoms. Leave empty to let compositions be proposed "
        "or chosen by the model (below).",
    )
    composition_source = right.selectbox(
        "Without a composition",
        ["auto", "prototypes", "proposer", "model"],
        format_func={
            "auto": f"model's default ({GenerationRequest().default_source(info)})",
            "prototypes": "propose compositions, start from known structure types of others",
            "proposer": "propose MP-like compositions first",
            "model": "the model chooses the atom types",
        }.get,
        help="Composition-first: a charge-balanced composition is drawn from Materials Project chemistry for each "
        "crystal, then the model finds a structure for exactly it.",
    )
    novelty = left.number_input(
        "Novel compositions (share)", value=0.25, step=0.05, help="Proposer: share made by ionic substitution."
    )
    atoms_from_data = right.checkbox("Draw atom counts from the Alex-MP-20 distribution", value=False)
    # No min/max on the widgets: an out-of-range value would only turn the field red and make Generate do nothing;
    # GenerationRequest.validate says what is wrong instead, in one line.
    atoms = right.number_input("Atoms per cell", value=8, step=1, disabled=atoms_from_data)
    n = left.number_input("Crystals", value=4, step=1)
    steps = right.number_input("Denoising steps", value=100, step=1)
    seed = left.number_input("Seed", value=0, step=1)
    submitted = st.form_submit_button("Generate", type="primary")
    previewed = st.form_submit_button("Preview compositions")

if submitted or previewed:
    try:
        cell = parse_composition(composition) if composition.strip() else None
        starts = []
        if start_mode == "a structure":
            if start_structure is None:
                raise InvalidRequest("choose or upload the structure to start from")
            starts = [start_structure]
        elif start_mode.startswith("known prototypes"):
            if cell is None:
                raise InvalidRequest("give the composition whose known prototypes to start from")
            starts, note = prototype_starts(cell, int(n), max_atoms=GenerationRequest().max_atoms)
            st.info(note)
        if starts:
            cell = None  # the start structures carry the composition
        request = GenerationRequest(
            n=int(n),
            atoms=None if atoms_from_data or cell else int(atoms),
            compositions=(cell,) if cell else (),
            composition_source=composition_source,
            novelty=float(novelty),
            chemical_system=parse_chemical_system(chemsys) if chemsys.strip() else None,
            space_group=parse_space_group(space_group) if space_group.strip() else None,
            wyckoff=wyckoff.strip() or "auto",
            targets=tuple((k, float(v)) for k, v in targets.items() if v is not None),
            guidance=float(guidance),
            steps=int(steps),
            seed=int(seed),
            start_structures=tuple(s.to_json() for s in starts),
            start_time=float(start_time),
            start_symmetry="keep" if start_mode != "noise" and keep_symmetry else "free",
        )
        request.validate(info)
        if previewed:  # a submitted job goes straight to the live view: proposing twice delayed its first frame
            proposed = proposals(request, info)
            if proposed is not None:
                st.subheader("Proposed compositions")
                st.dataframe(proposal_table(proposed), hide_index=True)
            else:
                st.info(composition_preview_note(request, info))
        job_id = runner.submit(owner, GenerateSpec(spec, request)) if submitted else None
    except (InvalidRequest, ModelUnavailable, JobRefused) as exc:
        st.error(str(exc))
    else:
        if job_id is None:
            st.stop()
        st.query_params["job"] = job_id
        st.success(f"Job {job_id} submitted.")
        try:
            st.switch_page("pages/2_Live_denoising.py", query_params={"job": job_id})
        except StreamlitAPIException:  # page run on its own (no page registry): the link above is enough
            st.markdown(f"[Watch it on Live denoising](./Live_denoising?job={job_id})")

with st.expander("Predict the structure of a composition (CSP)"):
    st.caption(
        "Known prototypes of the composition's stoichiometry (from the training crystals, elements substituted; the "
        "lowest in CHGNet energy among the 20 that fit best), partial-diffusion variations of them and diffusion "
        "samples for the rest, every one relaxed with CHGNet within its space group and ranked by energy per atom, "
        "or by the consensus of three judges: how alike the substituted elements are, the energy as dressed and the "
        "relaxed energy (on 100 validation compositions it put the known structure first a little more often). "
        "Uses the embedded model."
    )
    with st.form("csp"):
        left, right = st.columns(2)
        csp_composition = left.text_input("Composition to predict", placeholder="Ca3V2O8")
        csp_n = right.number_input("Candidates", value=CspSpec.n, step=1)
        csp_prototypes = left.number_input("Prototypes", value=CspSpec.prototypes, step=1)
        csp_time = right.slider("Variations' noise level t0", 0.05, 1.0, 0.3, 0.05)
        csp_order = left.radio("Rank by", list(ORDERS), format_func=ORDERS.get, horizontal=True)
        predicted = st.form_submit_button("Predict structures")
    if predicted:
        try:
            csp_spec = CspSpec(
                model="default",
                composition=csp_composition.strip(),
                n=int(csp_n),
                prototypes=int(csp_prototypes),
                start_time=float(csp_time),
                steps=int(steps),
                seed=int(seed),
                order=csp_order,
            )
            csp_job = runner.submit(owner, csp_spec)
        except (InvalidRequest, ModelUnavailable, JobRefused) as exc:
            st.error(str(exc))
        else:
            try:
                st.switch_page("pages/2_Live_denoising.py", query_params={"job": csp_job})
            except StreamlitAPIException:  # page run on its own (no page registry): the link is enough
                st.markdown(f"[Watch it on Live denoising](./Live_denoising?job={csp_job})")
