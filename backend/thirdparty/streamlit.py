"""Streamlit: the app's own ``st.navigation`` from the first request on, a deep link included.

With a ``pages/`` folder beside the main script, Streamlit 1.67 starts in its old multipage mode
(``PagesManager.uses_pages_directory``, a class-wide flag set when the first session is created) and only leaves it
when ``st.navigation`` has run once. A server whose first visitor opened a deep link (``/Live_denoising?job=...``)
ran that page without ``app.py``: the sidebar listed the file names ("app", "Relax and hull") instead of the app's
pages, for every session until someone opened Home. The flag is set as ``st.navigation`` itself sets it, before the
first session, so ``app.py`` always runs and routes.
"""

from __future__ import annotations

WRITTEN_FOR = "1.67"


def install() -> bool:
    """Route every request through ``app.py``'s navigation; False when this Streamlit has no such flag."""
    from streamlit.runtime.pages_manager import PagesManager

    if not hasattr(PagesManager, "uses_pages_directory"):
        return False
    PagesManager.uses_pages_directory = False
    return True
