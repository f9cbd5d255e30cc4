"""Inpainting (CHGGen): generate guest atoms inside an uploaded host framework."""

import streamlit as st

st.set_page_config(page_title="Inpainting - Crystal Canvas", layout="wide")
st.title("Inpainting into a host")
st.info(
    "Coming next: upload a host (CIF/POSCAR), keep its framework, and let MatterGen place guest atoms "
    "with RePaint resampling, then relax and refine symmetry as in the CHGGen paper."
)
