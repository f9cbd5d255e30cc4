"""The server entry point: Streamlit's app at /, the Crystal Toolkit view's Dash app at /ctk and plotly.js for the
live chart, in one process.

``streamlit run backend/app/server.py`` (``make run``) finds the ``app`` below and serves it with uvicorn,
reading the same .streamlit/config.toml (loopback address, port) as ``streamlit run app.py`` does.
"""

from backend.runtime import configure_threads, quiet_library_warnings

configure_threads()
quiet_library_warnings()

import streamlit as st  # noqa: E402
from starlette.middleware.wsgi import WSGIMiddleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import FileResponse  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402

from backend.app.ctk_view import PREFIX, build_app  # noqa: E402
from backend.app.live_chart import PLOTLY_FILE, PLOTLY_JS  # noqa: E402
from backend.paths import ROOT  # noqa: E402
from backend.thirdparty import streamlit as streamlit_patch  # noqa: E402
from backend.thirdparty.patches import log_patch  # noqa: E402

if streamlit_patch.install():
    log_patch("streamlit", streamlit_patch.WRITTEN_FOR, "navigation from app.py for deep links")


def plotly_js(request: Request) -> FileResponse:
    """plotly.js for the live chart (``backend.app.live_chart``), from the installed plotly package."""
    return FileResponse(PLOTLY_FILE, media_type="text/javascript")


app = st.App(
    str(ROOT / "app.py"),
    routes=[Mount(PREFIX.rstrip("/"), WSGIMiddleware(build_app().server)), Route(PLOTLY_JS, plotly_js)],
)
