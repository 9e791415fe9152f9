"""Entry point: `streamlit run dashboard/app.py` from the repository root.

First the sign-in gate (dashboard/auth.py) decides who is looking; then the sidebar filters
are drawn for that viewer (shared by every page, so they persist across pages), and the page
chosen in the navigation runs. Without a loaded database it shows what to run instead.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import auth, data, filters  # noqa: E402
from data_access.errors import OutcomesError  # noqa: E402
from data_access.settings import SettingsError  # noqa: E402
from data_access.vocabulary import LOAD_COMMAND  # noqa: E402

PAGES = ROOT / "pages"
RETRY_SECONDS = 5
log = logging.getLogger(__name__)


def setup_page(problem: str) -> None:
    """What to do when there is nothing to show yet (no database, empty, or bad settings)."""
    auth.page_config("Set up")
    st.title("Peer support outcomes dashboard")
    st.warning(problem, icon=":material/database:")
    st.markdown("Load the outcomes database from the repository root, then reload this page:")
    st.code(LOAD_COMMAND, language="bash")
    st.caption(
        "That loads the shipped sample data into data/outcomes.sqlite; set DATABASE_URL "
        "to use another database, and replace sample_data with a folder of your own files."
    )


def not_ready(problem: str) -> None:
    page = st.Page(lambda: setup_page(problem), title="Set up", url_path="setup", default=True)
    st.navigation([page], position="hidden").run()


def unavailable(message: str) -> None:
    """The database did not answer: say so, and come back by itself once it does.

    No navigation is drawn, so the page address and its filters stay as they were and the
    same page returns when the database answers again.
    """
    auth.page_config()
    st.title("Peer support outcomes dashboard")
    st.error(message, icon=":material/cloud_off:")

    @st.fragment(run_every=RETRY_SECONDS)
    def retry() -> None:
        data.begin_run()
        if data.database_status().reachable:
            st.rerun(scope="app")
        st.caption(f"Trying again every {RETRY_SECONDS} seconds.")

    retry()


LOADS_SEEN_KEY = "_dashboard_load_seen"
# How often an open dashboard asks whether a new load arrived; with data.VERSION_TTL, a new
# load shows within about LOAD_CHECK_SECONDS + VERSION_TTL seconds, without a click.
LOAD_CHECK_SECONDS = 3


def watch_for_new_loads() -> None:
    """Rerun the whole app when the database's load version changes (a cheap, shared cached
    read): the caches are keyed by the version, so the rerun reads the new load's figures."""
    st.session_state[LOADS_SEEN_KEY] = data.database_url()

    @st.fragment(run_every=LOAD_CHECK_SECONDS)
    def check() -> None:
        if data.database_url(fresh=True) != st.session_state.get(LOADS_SEEN_KEY):
            st.rerun(scope="app")

    with st.sidebar:
        check()


def main() -> None:
    data.begin_run()
    # Sign-in comes before the database check, so nobody sees database details before it.
    identity = auth.identify()
    if identity is None:
        return
    try:
        status = data.database_status()
    except SettingsError as exc:
        not_ready(str(exc))
        return
    if not status.reachable:
        unavailable(status.message)
        return
    if not status.ready:
        not_ready(status.message)
        return
    try:
        # Before the filters: their options are the viewer's states.
        viewer = auth.admit(identity)
        if viewer is None:
            return
        options = filters.load_options()
    except OutcomesError as exc:
        log.warning("The dashboard's shell could not be read: %s", exc)
        unavailable(exc.viewer_message)
        return

    pages = {
        "": st.Page(
            PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=True
        ),
        "trends": st.Page(PAGES / "trends.py", title="Trends", icon=":material/show_chart:"),
        "program_outcomes": st.Page(
            PAGES / "program_outcomes.py",
            title="Program outcomes",
            icon=":material/compare_arrows:",
        ),
        "impact": st.Page(PAGES / "impact.py", title="Impact", icon=":material/balance:"),
        "state_profile": st.Page(
            PAGES / "state_profile.py", title="State profile", icon=":material/map:"
        ),
        "follow_up": st.Page(
            PAGES / "follow_up.py",
            title="Follow-up after a stay",
            icon=":material/event_available:",
        ),
        "downloads": st.Page(PAGES / "downloads.py", title="Downloads", icon=":material/download:"),
        "about_the_data": st.Page(
            PAGES / "about_the_data.py", title="About the data", icon=":material/info:"
        ),
    }
    if viewer.may_audit:
        pages["audit_log"] = st.Page(
            PAGES / "audit_log.py", title="Audit log", icon=":material/policy:"
        )
    # One flat list, not sections: Streamlit 1.67 draws each section as a <div> inside the
    # navigation's <ul>, with the pages' <li> inside it, which breaks the list a screen reader
    # announces (axe rules `list` and `listitem`). The flat list is a valid <ul> in a
    # <nav aria-label="App pages">, and marks the open page with aria-current="page".
    navigation = st.navigation(list(pages.values()))
    auth.follow_kept_link({"overview": pages[""], **pages}, navigation)
    auth.page_config(navigation.title)
    auth.show_banner(viewer)
    filters.render_sidebar(options)
    filters.show_url_notices()
    watch_for_new_loads()
    navigation.run()


main()
