"""Crystal Canvas: the Streamlit entry page (layout only; every computation is a call into backend/)."""

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

import streamlit as st  # noqa: E402

from backend.app_support import default_model_summary  # noqa: E402

st.set_page_config(page_title="Crystal Canvas", layout="wide")
st.title("Crystal Canvas")
st.write(
    "Generate inorganic crystals with MatterGen, watch them denoise, inpaint guests into a host, relax them "
    "with CHGNet and place them on the convex hull."
)
summary = default_model_summary()
st.subheader("Model ready")
st.table(summary)
st.write(
    "Start on **Generate**, watch the job on **Live denoising**, open crystals in the **Structure viewer** and "
    "judge them on **Relax & hull**. Jobs run on the server: closing the tab does not stop them, and the "
    "job link (`?job=...`) reopens one. The same engine runs headless: `crystal-canvas --help`."
)
