"""Who is looking: the viewer of this session, resolved once by the app's sign-in gate.

Pages and `dashboard.data` read the viewer with `current_viewer()`; nothing else in the UI
decides what a person may see (data_access enforces it).
"""

from __future__ import annotations

from typing import Final

import streamlit as st

from data_access.access import Viewer

VIEWER_KEY: Final = "viewer"


def current_viewer() -> Viewer:
    """The viewer the app's gate put in the session; stops the run when there is none."""
    viewer = st.session_state.get(VIEWER_KEY)
    if not isinstance(viewer, Viewer):
        st.error("Sign in to see the dashboard.", icon=":material/lock:")
        st.stop()
    return viewer
