"""Streamlit pieces more than one page draws; the one backend module that imports Streamlit (at call time)."""

from __future__ import annotations

from backend.jobs.store import JobStore


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
