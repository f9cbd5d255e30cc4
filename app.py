"""Crystal Canvas: the Streamlit entry point. It only routes to the pages; every computation is in backend/."""

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

import streamlit as st  # noqa: E402

from backend.paths import ASSETS  # noqa: E402

st.set_page_config(page_title="Crystal Canvas", page_icon=str(ASSETS / "icon.png"), layout="wide")


def data_folder_ready() -> bool:
    """Every page needs the job store: an unwritable or full data folder is said once, here, not as a traceback."""
    from backend.app.services import services
    from backend.jobs.store import DataDirError

    try:
        services(warm_up=True)
    except DataDirError as exc:
        st.error(f"{exc}. Free space or set CRYSTAL_CANVAS_DATA to a writable folder, then restart the app.")
        return False
    return True


def home() -> None:
    from backend.app.services import default_model_summary, services

    st.title("Crystal Canvas")
    st.write(
        "Generate inorganic crystals with MatterGen, watch them denoise, inpaint guests into a host, relax them "
        "with CHGNet and place them on the convex hull."
    )
    _, runner = services()
    if runner.ready.is_set():
        st.subheader("Model ready")
    else:
        st.subheader("Model loading")
        st.caption("The server is loading the model for the first job (a few seconds after it starts); reload.")
    st.table(default_model_summary())
    st.write(
        "Start on **Generate**, watch the job on **Live denoising**, open crystals in the **Structure viewer** and "
        "judge them on **Relax & hull**. Jobs run on the server: closing the tab does not stop them, and the "
        "job link (`?job=...`) reopens one. The same engine runs headless: `crystal-canvas --help`."
    )


if not data_folder_ready():
    st.stop()
st.navigation(
    [
        st.Page(home, title="Home", default=True),
        st.Page("pages/0_Learn.py", title="Learn"),
        st.Page("pages/1_Generate.py", title="Generate"),
        st.Page("pages/2_Live_denoising.py", title="Live denoising"),
        st.Page("pages/3_Structure_viewer.py", title="Structure viewer"),
        st.Page("pages/4_Relax_and_hull.py", title="Relax & hull", url_path="Relax_and_hull"),
        st.Page("pages/5_Inpainting.py", title="Inpainting"),
        st.Page("pages/6_Screening.py", title="Screening"),
    ]
).run()
