"""Screening: the funnel and shortlist of a headless `crystal-canvas screen` run."""

import streamlit as st

from backend.app_support import screen_folders, screen_summary
from backend.paths import ASSETS
from backend.stability import HULL_LABEL
from backend.stability.figures import e_hull_histogram
from backend.views import funnel_figure

st.set_page_config(page_title="Screening - Crystal Canvas", page_icon=str(ASSETS / "icon.png"), layout="wide")
st.title("Screening")
st.caption(
    "Screens run headless: `crystal-canvas screen --n 1000 --out runs/my-screen` (add `--ray-address` for a "
    "cluster). Folders under runs/ appear here; reload while a screen runs to follow it."
)
folders = screen_folders()
if not folders:
    st.info("No screen yet under runs/.")
    st.stop()
name = st.selectbox("Screen", list(folders))
funnel, shortlist, rates = screen_summary(folders[name])
left, right = st.columns([2, 3])
left.dataframe(funnel, hide_index=True)
right.plotly_chart(funnel_figure(funnel), key="funnel")
st.caption("Rates over every candidate asked for (failed generation, filter or relaxation: neither valid nor stable)")
st.dataframe(rates, hide_index=True)
st.subheader(f"Shortlist ({HULL_LABEL})")
st.dataframe(shortlist, hide_index=True)
if len(shortlist):
    st.plotly_chart(e_hull_histogram(shortlist.e_above_hull.astype(float).tolist()), key="ehull")
st.download_button("Download shortlist (CSV)", shortlist.to_csv(index=False), file_name=f"{name}_shortlist.csv")
