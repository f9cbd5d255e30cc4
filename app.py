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
st.info(
    "The interactive pages (generate, live denoising, viewer, relax & hull, inpainting) are being built. "
    "Meanwhile the same engine runs from the command line: "
    "`crystal-canvas generate --n 8 --atoms 8 --chemsys Li-O --steps 100 --out runs/demo --trajectory`."
)
