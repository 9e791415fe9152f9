"""Who is looking: the viewer of this session, resolved once by the app's sign-in gate.

Pages and `dashboard.data` read the viewer with `current_viewer()`; nothing else in the UI
decides what a person may see (data_access enforces it).

Two modes, chosen by `.streamlit/secrets.toml`:

- Sign-in: an `[auth]` section configures Streamlit's OpenID Connect sign-in (`st.login`).
  A signed-in person sees the dashboard only with a grant in the outcomes database
  (`python -m data_access access grant ...`); the sign-in and every refusal are audited.
- Local mode: no `[auth]` section. The app acts as leadership (`LOCAL_VIEWER`), and so it runs
  only on a loopback address, where nobody but this computer's users can reach it.

The gate runs in two steps, so the app can check the database between them without showing
database details to anyone who has not signed in: `identify()` (who is this, may the app go
on at all) and `admit()` (the viewer of that identity, from the grants).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

import streamlit as st
from streamlit import config

from data_access import access
from data_access.access import LOCAL_VIEWER, Viewer
from data_access.vocabulary import AuditEventName

VIEWER_KEY: Final = "viewer"
# The e-mail address whose sign-in (or refusal) this session has audited: once per session.
AUDITED_KEY: Final = "auth_audited"
BANNER_KEY: Final = "viewer_banner"  # its element's class is st-key-viewer_banner

SHARED_KEYS: Final = ("redirect_uri", "cookie_secret")
PROVIDER_KEYS: Final = ("client_id", "client_secret", "server_metadata_url")
DEFAULT_PROVIDER: Final = "default"
LOOPBACK_NAMES: Final = frozenset({"localhost"})
SECRETS_EXAMPLE: Final = ".streamlit/secrets.toml.example"
GRANT_COMMAND: Final = "python -m data_access access grant"
# Every page's address (st.Page's url_path is its file's stem): the gate answers them all, so
# a signed-out visitor's link to a page keeps its address instead of "Page not found".
PAGE_PATHS: Final = tuple(
    sorted(p.stem for p in (Path(__file__).parent.parent / "pages").glob("*.py"))
)
# The cookie holding the link opened before sign-in: the provider returns to the app's root,
# and the first signed-in run reads the cookie to open the link's page and filters in place
# (st.switch_page), without a second page load and without running the Overview first.
LINK_COOKIE: Final = "outcomes_dashboard_link_before_sign_in"
LINK_COOKIE_SECONDS: Final = 600
LINK_RESTORED_KEY: Final = "link_restored"
LINK_FORGET_KEY: Final = "link_forget"


def current_viewer() -> Viewer:
    """The viewer the app's gate put in the session; stops the run when there is none."""
    viewer = st.session_state.get(VIEWER_KEY)
    if not isinstance(viewer, Viewer):
        st.error("Sign in to see the dashboard.", icon=":material/lock:")
        st.stop()
    return viewer


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """The sign-in configured in secrets.toml's `[auth]` section.

    `providers` are the names to pass to `st.login`: "default" for a provider configured in
    `[auth]` itself, else the names of its `[auth.NAME]` sections. `problem` says what is
    missing from a section that is there but incomplete.
    """

    providers: tuple[str, ...] = ()
    problem: str | None = None


def _secrets_auth_section() -> Mapping[str, Any] | SignIn | None:
    """The `[auth]` section of the secrets; None without one or without a secrets file; a
    SignIn with the problem when a secrets file is there but cannot be read."""
    try:
        # `st.secrets` is looked up on each call: AppTest swaps it for the test's secrets.
        secrets = st.secrets.to_dict()
    except FileNotFoundError as exc:  # StreamlitSecretNotFoundError: none, or unreadable
        files = config.get_option("secrets.files") or []
        if any(Path(name).is_file() for name in files):
            # A file meant to configure sign-in must not fall back to local mode unnoticed.
            return SignIn(problem=f"the secrets file cannot be read: {exc}")
        return None
    section = secrets.get("auth")
    return section if isinstance(section, Mapping) else None


def sign_in_configuration(section: Mapping[str, Any] | SignIn | None) -> SignIn | None:
    """What an `[auth]` section configures; None when there is no section (local mode).

    A section with some keys but not all is a mistake to report, not local mode: whoever
    wrote it meant the app to ask for sign-in.
    """
    if section is None or isinstance(section, SignIn):
        return section
    missing = [key for key in SHARED_KEYS if not section.get(key)]
    if all(section.get(key) for key in PROVIDER_KEYS):
        providers = [DEFAULT_PROVIDER]
    else:
        providers = [
            name
            for name, value in section.items()
            if isinstance(value, Mapping) and all(value.get(key) for key in PROVIDER_KEYS)
        ]
        if not providers:
            missing += [f"{key} (or an [auth.NAME] provider section)" for key in PROVIDER_KEYS]
    unnamed = [name for name in providers if "_" in name]
    if missing:
        return SignIn(problem=f"[auth] lacks {', '.join(missing)}.")
    if unnamed:
        return SignIn(problem=f"Provider names cannot contain '_': {', '.join(unnamed)}.")
    return SignIn(providers=tuple(providers))


def is_loopback(address: str | None) -> bool:
    """Whether a server address can be reached from this computer only.

    An unset or empty address means every interface; so do 0.0.0.0 and ::.
    """
    if not address:
        return False
    if address.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:  # a host name or a unix socket: not provably local
        return False


def served_only_here() -> bool:
    """Whether this server listens on a loopback address only."""
    # `config.get_option`, not `st.get_option`: AppTest patches the module's function.
    address = config.get_option("server.address")
    if not address and config.get_option("global.appTest"):
        # AppTest binds no socket at all; an address it is given is still checked.
        return True
    return is_loopback(address)


def _signed_in_email() -> str | None:
    """The e-mail address the sign-in provider vouches for, or None when not signed in."""
    user = st.user
    if not user.get("is_logged_in"):
        return None
    email = user.get("email")
    return str(email).strip() if email else ""


# -- the gate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who `identify()` let through: a signed-in e-mail address ("" when the provider gave
    none), or None for local mode."""

    email: str | None


def identify() -> Identity | None:
    """First step of the gate: is there someone the app may go on for?

    Local mode on a loopback address, or a signed-in person when sign-in is configured.
    Otherwise draws the page that says why not (sign in; misconfigured; local mode off
    loopback) and returns None: nothing else may be drawn.
    """
    sign_in = sign_in_configuration(_secrets_auth_section())
    if sign_in is None:
        if served_only_here():
            # Known before the database is: stored now, so the readiness check has a viewer.
            st.session_state[VIEWER_KEY] = LOCAL_VIEWER
            return Identity(email=None)
        _only_page(_local_mode_refused_page, "Sign-in needed")
        return None
    if sign_in.problem:
        problem = sign_in.problem
        _only_page(lambda: _misconfigured_page(problem), "Sign-in misconfigured")
        return None
    email = _signed_in_email()
    if email is None:
        # A sign-out in this session leaves the old viewer behind; it must not outlive it.
        st.session_state.pop(VIEWER_KEY, None)
        providers = sign_in.providers
        _only_page(lambda: _sign_in_page(providers), "Sign in")
        return None
    return Identity(email=email)


def admit(identity: Identity) -> Viewer | None:
    """Second step, after `identify()` and a ready database: the session's viewer.

    Stores it in `st.session_state[VIEWER_KEY]` and audits the sign-in once per session. A
    signed-in person without a grant gets a page saying so (audited once) and None.
    """
    email = identity.email
    if email is None:
        st.session_state[VIEWER_KEY] = LOCAL_VIEWER
        return LOCAL_VIEWER
    held = st.session_state.get(VIEWER_KEY)
    if isinstance(held, Viewer) and not held.local and held.email == email.lower():
        return held
    viewer = access.viewer_for(email) if email else None
    if viewer is None or _email_unverified():
        st.session_state.pop(VIEWER_KEY, None)
        _audit_once(email or "(no e-mail address)", "access_refused", _refusal_detail(email))
        _only_page(lambda: _no_access_page(email), "No access")
        return None
    st.session_state[VIEWER_KEY] = viewer
    _audit_once(viewer.email, "sign_in", None, role=viewer.role)
    return viewer


def _remember_link() -> None:
    """Keep the address this tab opened for after the sign-in, when it names a page or
    filters (the root alone is where the provider returns anyway: nothing kept)."""
    st.html(
        "<script>(() => { try {"
        f" const key = {LINK_COOKIE!r}, pages = {json.dumps(PAGE_PATHS)};"
        " const here = window.location;"
        " const last = here.pathname.split('/').filter(Boolean).pop();"
        " const keep = here.search || pages.includes(last);"
        " const value = keep ? encodeURIComponent(here.pathname + here.search) : '';"
        f" const age = keep ? {LINK_COOKIE_SECONDS} : 0;"
        " document.cookie = `${key}=${value}; path=/; max-age=${age}; SameSite=Lax`;"
        " } catch (e) {} })();</script>",
        unsafe_allow_javascript=True,
    )


def kept_link(value: object) -> tuple[str, list[tuple[str, str]]] | None:
    """The page (a url path of PAGE_PATHS, "" for the root) and query parameters of the link
    the sign-in page kept, or None when there is none or it is not an address of this app."""
    if not isinstance(value, str) or not value:  # AppTest's st.context is a MagicMock
        return None
    address = urlsplit(unquote(value))
    if address.scheme or address.netloc or not address.path.startswith("/"):
        return None
    parts = [part for part in address.path.split("/") if part]
    page = parts[-1] if parts and parts[-1] in PAGE_PATHS else ""
    if parts and not page:
        return None
    return page, parse_qsl(address.query, keep_blank_values=True)


def follow_kept_link(pages: Mapping[str, Any], current: Any) -> None:
    """On a session's first signed-in run, open the link kept before the sign-in (once).

    `pages` maps each url path of PAGE_PATHS to its st.Page, and "" to the default page;
    `current` is the page st.navigation chose. Only a run on the bare root (where the provider
    returns) follows the link: a session opened on an address of its own keeps it (another
    tab, a later visit). Called after st.navigation and before the page runs: st.switch_page
    stops this run and runs the link's page in the same session, with its query parameters.
    """
    if st.session_state.pop(LINK_FORGET_KEY, False):
        _forget_link()
    if st.session_state.get(LINK_RESTORED_KEY):
        return
    st.session_state[LINK_RESTORED_KEY] = True
    link = kept_link(st.context.cookies.get(LINK_COOKIE))
    if link is None:
        return
    path, pairs = link
    at_root = current.url_path == pages[""].url_path and not st.query_params
    if at_root and path in pages:
        # Repeated keys (state=TX&state=OK) as lists: pairs would keep only the last value.
        query: dict[str, list[str]] = {}
        for key, value in pairs:
            query.setdefault(key, []).append(value)
        # The switched-to run clears the cookie: this run's elements are not drawn.
        st.session_state[LINK_FORGET_KEY] = True
        st.switch_page(pages[path], query_params=query)
    _forget_link()


def _forget_link() -> None:
    st.sidebar.html(
        f"<script>document.cookie = '{LINK_COOKIE}=; path=/; max-age=0; SameSite=Lax';</script>",
        unsafe_allow_javascript=True,
    )


def _email_unverified() -> bool:
    # A provider that says the address is unverified vouches for nobody behind it.
    return st.user.get("email_verified") is False


def _refusal_detail(email: str) -> str:
    if not email:
        return "the sign-in provider gave no e-mail address"
    if _email_unverified():
        return "the sign-in provider has not verified the e-mail address"
    return "no grant"


def _audit_once(email: str, event: AuditEventName, detail: str | None, **extra: Any) -> None:
    key = f"{event}:{email.lower()}"
    if st.session_state.get(AUDITED_KEY) == key:
        return
    access.record_event(email=email, event=event, detail=detail, **extra)
    st.session_state[AUDITED_KEY] = key


# -- what the gate draws ---------------------------------------------------------------------


def banner_text(viewer: Viewer) -> str:
    if viewer.local:
        return "Local mode: no sign-in, as leadership (this computer only)"
    if viewer.states:
        role = f"state partner for {', '.join(viewer.states)}"
    else:
        role = {"leadership": "leadership", "admin": "admin"}.get(viewer.role, viewer.role)
    return f"Signed in as {viewer.email} · {role}"


def show_banner(viewer: Viewer) -> None:
    """Above every page: who the figures are shown to, and a way to sign out."""
    banner = st.container(key=BANNER_KEY)
    if viewer.local:
        banner.caption(f":material/computer: {banner_text(viewer)}")
        return
    text, button = banner.columns([6, 1], vertical_alignment="center")
    # Plain text, not a caption: Markdown makes the address a mailto link, and a caption
    # fades its links below 4.5:1 contrast (escaping the "@" does not stop the link).
    text.text(banner_text(viewer))
    if button.button("Sign out", key="sign_out", icon=":material/logout:"):
        st.session_state.pop(VIEWER_KEY, None)
        st.logout()
        # The browser is on its way to the provider's sign-out: draw nothing more. (Not
        # st.rerun(): a new run clears the unsent messages, the sign-out redirect with them.)
        st.stop()


APP_TITLE: Final = "Peer support outcomes"


def page_config(title: str | None = None) -> None:
    """The tab's title (the page's, then the app's), icon and layout: set once in each run,
    before anything is drawn. Each change is a message the browser answers by drawing the
    whole app again, so a run that set it twice (the app's, then the page's) paid twice.

    An emoji tab icon: without one the tab shows the page's Material icon, whose image
    Streamlit fetches from Google's servers (blocked on some partners' networks); an emoji is
    drawn locally. The Material icons of the navigation come from a bundled font."""
    st.set_page_config(
        page_title=f"{title} · {APP_TITLE}" if title else APP_TITLE,
        page_icon="🤝",
        layout="wide",
    )


def _only_page(draw: Any, title: str) -> None:
    """Run `draw` as the app's only page, whatever page the URL asked for (each page's address
    is answered by it too, so the address and its filters stay as the link gave them)."""
    page_config(title)
    pages = [st.Page(draw, title=title, url_path="sign_in", default=True)]
    pages += [st.Page(draw, title=title, url_path=path) for path in PAGE_PATHS]
    st.navigation(pages, position="hidden").run()


def _sign_in_page(providers: tuple[str, ...]) -> None:
    _remember_link()
    st.title("Peer support outcomes dashboard")
    st.markdown(
        "Sign in with your organization's account. You will see the states your access "
        "allows: state partners their own states, leadership every state."
    )
    for provider in providers:
        label = "Sign in" if provider == DEFAULT_PROVIDER else f"Sign in with {provider}"
        if st.button(label, key=f"sign_in_{provider}", type="primary", icon=":material/login:"):
            st.login(provider)


def _no_access_page(email: str) -> None:
    _forget_link()  # a link kept at sign-in must not open on a later visit
    st.title("No access to the dashboard")
    if not email:
        st.error(
            "Your sign-in provider did not tell the dashboard your e-mail address, which is "
            "what access is granted to. Ask an admin to check the provider's `email` claim.",
            icon=":material/block:",
        )
    elif _email_unverified():
        st.error(
            f"Your sign-in provider has not verified {email}, so the dashboard cannot grant "
            "access to it. Verify the address with the provider, then sign in again.",
            icon=":material/block:",
        )
    else:
        st.error(
            f"You are signed in as {email}, which has no access to this dashboard.",
            icon=":material/block:",
        )
        st.markdown(
            "Ask an admin to grant you access, then reload this page. For a state partner: "
            f"`{GRANT_COMMAND} {email} --role state_partner --state TX` (your states); for "
            f"leadership: `{GRANT_COMMAND} {email} --role leadership`."
        )
    if st.button("Sign out", key="sign_out", icon=":material/logout:"):
        st.logout()


def _local_mode_refused_page() -> None:
    address = config.get_option("server.address") or "every network interface"
    st.title("Sign-in is not configured")
    st.error(
        f"This dashboard is served on {address} without sign-in. Without sign-in it runs in "
        "local mode, as leadership with every state's figures, so it runs only on this "
        "computer's loopback address (127.0.0.1, localhost or ::1).",
        icon=":material/lock:",
    )
    st.markdown(
        "To serve it to others, configure sign-in: copy "
        f"`{SECRETS_EXAMPLE}` to `.streamlit/secrets.toml`, fill in your OpenID Connect "
        f"provider, restart, and grant each person access with `{GRANT_COMMAND} ...`. "
        "To use it on this computer only, start it with `make run` (127.0.0.1)."
    )


def _misconfigured_page(problem: str) -> None:
    st.title("Sign-in is misconfigured")
    st.error(
        f"The sign-in settings in .streamlit/secrets.toml are not usable: {problem}",
        icon=":material/lock:",
    )
    st.markdown(
        f"Every key is described in `{SECRETS_EXAMPLE}`. Fix the file and restart the "
        "dashboard; remove the `[auth]` section to run in local mode on this computer only."
    )
