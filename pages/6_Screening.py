"""Screening: the funnel and shortlist of a headless `crystal-canvas screen` run."""

from urllib.parse import urlencode

import streamlit as st

from backend.app_support import for_display, screen_folders, screen_roots, screen_view
from backend.paths import ASSETS
from backend.stability import HULL_LABEL
from backend.stability.figures import e_hull_histogram
from backend.views import funnel_figure

st.set_page_config(page_title="Screening - Crystal Canvas", page_icon=str(ASSETS / "icon.png"), layout="wide")
st.title("Screening")
data_screens, run_screens = screen_roots()
st.caption(
    "Screens run headless: `crystal-canvas screen --n 1000 --out DATA/screens/my-screen` (add `--ray-address` for "
    f"a cluster). Screens under {data_screens} (the app's data folder) and {run_screens} appear here; reload while "
    "a screen runs to follow it. This page only reads them."
)
folders = screen_folders()
if not folders:
    st.info(f"No screen yet under {data_screens} or {run_screens}.")
    st.stop()
name = st.selectbox("Screen", list(folders))
view = screen_view(folders[name])
left, right = st.columns([2, 3])
left.dataframe(view.funnel, hide_index=True)
right.plotly_chart(funnel_figure(view.funnel), key="funnel")
st.caption("Rates over every candidate asked for (failed generation, filter or relaxation: neither valid nor stable)")
st.dataframe(view.rates.frame(), hide_index=True)
st.subheader(f"Shortlist ({HULL_LABEL})")
st.dataframe(for_display(view.shortlist), hide_index=True)
if len(view.shortlist):
    st.plotly_chart(e_hull_histogram(view.shortlist.e_above_hull.astype(float).tolist()), key="ehull")
    links = [f"[{cid}](./Structure_viewer?{urlencode({'screen': name, 'candidate': cid})})" for cid in view.structures]
    st.markdown("Open in the Structure viewer: " + ", ".join(links))
st.download_button(
    "Download shortlist (CSV)", view.shortlist.to_csv(index=False), file_name=f"{name}_shortlist.csv", on_click="ignore"
)
