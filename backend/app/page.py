"""Streamlit pieces more than one page draws -- the page's opening and a job's progress bar; the one backend module
that imports Streamlit (at call time)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from backend.jobs.runner import JobRunner
from backend.jobs.store import JobStore
from backend.paths import ASSETS


@dataclass(frozen=True)
class Page:
    """What every working page starts from: this browser session's owner id and the server's job services."""

    owner: str  # one per browser session: the job runner's per-owner limits and duplicate checks key on it
    store: JobStore
    runner: JobRunner


def page_header(tab_title: str, heading: str) -> None:
    """A page's browser-tab title and icon, wide layout, and its heading."""
    import streamlit as st

    st.set_page_config(page_title=f"{tab_title} - Crystal Canvas", page_icon=str(ASSETS / "icon.png"), layout="wide")
    st.title(heading)


def open_page(tab_title: str, heading: str) -> Page:
    """The opening every page with jobs shares: :func:`page_header`, the session's owner id and the job services
    (built once per server)."""
    import streamlit as st

    from backend.app.services import services

    page_header(tab_title, heading)
    owner = st.session_state.setdefault("owner", uuid.uuid4().hex)
    store, runner = services()
    return Page(owner, store, runner)


def job_progress(store: JobStore, job_id: str, label: str) -> None:
    """A progress bar that follows a running job every second and reruns the whole page once the job has ended,
    so the page switches to its finished view. Buttons belong outside it: one redrawn every second swallowed
    clicks (Live denoising took 14 s to land a Cancel)."""
    import streamlit as st

    @st.fragment(run_every=1.0)
    def follow() -> None:
        current = store.get(job_id)
        if not current.active:
            st.rerun()
        st.progress(current.progress, text=f"{label} {current.status}: {current.message}")

    follow()
