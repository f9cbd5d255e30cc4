"""Relax & hull: relax a job's crystals with CHGNet, place them on the MP hull, shortlist them."""

import pandas as pd
import streamlit as st

from backend.app.display import for_display
from backend.app.job_views import job_zip, relaxation
from backend.app.page import job_progress, open_page
from backend.jobs.context import JobRefused
from backend.jobs.kinds.relax import RelaxSpec
from backend.jobs.kinds.verify import VerifySpec
from backend.jobs.specs import spec_of
from backend.metrics.rates import DEFINITIONS
from backend.stability.figures import e_hull_histogram, hull_figure
from backend.stability.reference import HULL_LABEL, StabilityError
from backend.verify.figures import eos_figure, phonon_figure
from backend.verify.run import THRESHOLD_TEXT, read_reports

page = open_page("Relax & hull", "Relax & hull")
owner, store, runner = page.owner, page.store, page.runner
st.caption(
    f"E_above_hull is measured against the {HULL_LABEL} (MP 2024 GGA-scale entries, MP-20/MPTS-52 hull energies; "
    "r2SCAN-scale energies are never mixed in). Each row's hull_quality says whether MP's stable phases of its "
    "system all have a GGA-scale energy here; a missing one makes a candidate look more stable than it is. CHGNet "
    "energies are MP2020-compatible as predicted."
)

generations = [j for j in store.jobs(limit=200) if j.kind in ("generate", "inpaint") and j.status == "done"]
if not generations:
    st.info("No finished generation yet.")
    st.stop()
source = st.selectbox(
    "Generated structures from job", [j.id for j in generations], format_func=lambda i: f"{i} ({store.get(i).message})"
)
relaxations = [j for j in store.jobs(kind="relax", limit=200) if spec_of(j).source == source]
with st.form("relax"):
    fmax = st.number_input("Force tolerance fmax (eV/Å)", min_value=0.001, max_value=1.0, value=0.05)
    steps = st.number_input("Maximum steps", min_value=1, max_value=2000, value=500)
    inpainted = store.get(source).kind == "inpaint"
    fix_host = inpainted and st.checkbox("Keep the host atoms fixed (relax guests and cell only)")
    keep_symmetry = st.checkbox(
        "Keep each crystal's space group (symmetric relaxation)",
        help="ASE's FixSymmetry: forces, stress and steps are symmetrised, so numerical noise cannot lower the "
        "group a symmetry-constrained candidate was generated in. Off: free relaxation.",
    )
    if st.form_submit_button("Relax with CHGNet", type="primary"):
        try:
            runner.submit(owner, RelaxSpec(source, float(fmax), int(steps), fix_host, keep_symmetry))
        except JobRefused as exc:
            st.error(str(exc))
        else:
            st.rerun()
if not relaxations:
    st.stop()
job = relaxations[0]


if job.active:
    job_progress(store, job.id, "relaxation")
    st.stop()
if job.status != "done":
    st.error(f"Relaxation {job.status}: {job.error}")
    st.stop()

view = relaxation(store, job.id)
st.subheader("Results")
st.dataframe(for_display(view.results), hide_index=True)
rates = view.rates
st.caption(
    f"Rates over all {rates.requested} crystals the source job was asked for: a crystal that failed generation or "
    "relaxation counts as neither valid nor stable."
)
headline = ["V", "U", "N (structure)", "N (composition)", "S (<= 0.1 eV/atom)", "S.U.N. (structure)"]
for col, name in zip(st.columns(len(headline)), headline):
    rate = rates[name]
    col.metric(name, f"{rate.value:.0%}", help=f"{rate.numerator}/{rate.denominator}: {DEFINITIONS[name]}")
with st.expander("Every rate, with numerator, denominator and definition"):
    st.dataframe(rates.frame(), hide_index=True)
st.caption("Composition statistics of the relaxed crystals beside the training data's")
st.dataframe(view.statistics, hide_index=True)

systems = view.hull_systems()
if systems:
    system = st.selectbox("Convex hull of", systems)
    try:
        st.plotly_chart(hull_figure(system, view.candidates_in(system)), key="hull")
    except StabilityError as exc:
        st.error(str(exc))
st.plotly_chart(e_hull_histogram(view.relaxed.e_above_hull.tolist()), key="histogram")

threshold = st.slider("Shortlist: E_above_hull at most (meV/atom)", 0, 300, 100)
shortlist = view.shortlist(threshold / 1000)
st.write(f"{len(shortlist)} candidates on the shortlist")
st.download_button(
    "Download shortlist (CSV)", shortlist.to_csv(index=False), file_name=f"{job.id}_shortlist.csv", on_click="ignore"
)
st.download_button(
    "Download shortlist structures (zip)",
    job_zip(store, job.id, names=[f"{n}_relaxed" for n in shortlist.name]),
    file_name=f"{job.id}_shortlist.zip",
    on_click="ignore",
)

st.subheader("Verify: phonons and properties")
st.caption(
    f"CHGNet again: a tight symmetric relaxation, then phonopy finite displacements ({THRESHOLD_TEXT}) and the bulk "
    "modulus from an equation of state (CHGNet within 5-29 % of experiment on five known solids, softer for stiff "
    "ones), magnetic moments and density. A band gap is not predicted here: no offline "
    "model for it. About a second to a minute per candidate on a laptop CPU (benchmarks/README)."
)
relaxed_names = list(view.relaxed.sort_values("e_above_hull").name)
chosen = st.multiselect(
    "Candidates to verify", relaxed_names, default=list(shortlist.name[:5]) or relaxed_names[:1], key="verify_names"
)
left, right = st.columns(2)
check_phonons = left.checkbox("Phonons (dynamical stability)", value=True)
check_properties = right.checkbox("Properties (bulk modulus, magnetic moments)", value=True)
if st.button("Verify"):
    try:
        runner.submit(owner, VerifySpec(job.id, tuple(chosen), check_phonons, check_properties))
    except JobRefused as exc:
        st.error(str(exc))
    else:
        st.rerun()
verifications = [j for j in store.jobs(kind="verify", limit=200) if spec_of(j).source == job.id]
if not verifications:
    st.stop()
check = verifications[0]


if check.active:
    if st.button("Cancel verification"):
        store.request_cancel(check.id)
    job_progress(store, check.id, "verification")
    st.stop()
if check.status != "done":
    st.warning(f"Verification {check.status}: {check.error or check.message}")
    st.stop()
reports = read_reports(store.folder(check.id))
st.dataframe(for_display(pd.read_csv(store.folder(check.id) / "verify.csv", keep_default_na=False)), hide_index=True)
shown = st.selectbox("Verified candidate", list(reports))
report = reports[shown]
if report.error:
    st.warning(f"{shown}: {report.error}")
if report.phonons is not None:
    st.plotly_chart(phonon_figure(report.phonons, shown), key="phonons")
if report.properties is not None:
    st.plotly_chart(eos_figure(report.properties, shown), key="eos")
