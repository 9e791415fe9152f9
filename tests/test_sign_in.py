"""The sign-in gate of the dashboard in Streamlit's AppTest, on SQLite and PostgreSQL.

Local mode (no `[auth]` in the secrets) runs as leadership, on a loopback address only;
with sign-in configured a visitor must sign in, a signed-in person needs a grant, and sign-ins
and refusals are audited once per session. `AppTest.user` stands in for the identity the
provider vouched for (the real provider round trip is tests/test_browser_sign_in.py).
"""

from __future__ import annotations

import shutil
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit import config
from streamlit.testing.v1 import AppTest

from dashboard import auth
from dashboard.auth import SignIn, is_loopback, sign_in_configuration
from data_access import access, db
from data_access.access import Viewer
from data_access.settings import get_settings
from tests.app_helpers import APP, PAGES, TIMEOUT, figures, texts
from tests.conftest import ENGINES, POSTGRES_ADMIN_DSN

LOCAL_BANNER = "Local mode: no sign-in, as leadership (this computer only)"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-long-random-secret-for-the-tests-only",
    "client_id": "outcomes-dashboard",
    "client_secret": "not-a-secret",
    # Never fetched: AppTest stands in for the provider.
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
AUDITOR = Viewer(email="auditor@example.org", role="admin")
ROOT_PAGES = APP.parent.parent / "pages"


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=ENGINES)
def sign_in_database(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    """A copy of the loaded sample for this module, once per engine: these tests write grants
    and audit rows, and the shared sample is read-only."""
    if request.param == "sqlite":
        source = request.getfixturevalue("loaded_sample_sqlite")
        copy = tmp_path_factory.mktemp("sign_in") / "outcomes.sqlite"
        shutil.copyfile(source.removeprefix("sqlite:///"), copy)
        yield f"sqlite:///{copy}"
        db.dispose_engines()
        return
    source = request.getfixturevalue("loaded_sample_postgres").rsplit("/", 1)[-1]
    name = f"outcomes_sign_in_{uuid.uuid4().hex[:12]}"
    db.dispose_engines()  # a template must have no other connections
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        db.dispose_engines()
        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _point_settings_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    st.cache_data.clear()


@pytest.fixture
def outcomes(monkeypatch: pytest.MonkeyPatch, sign_in_database: str) -> Iterator[Engine]:
    """The app's settings pointed at this module's database; fresh caches."""
    _point_settings_at(monkeypatch, sign_in_database)
    yield db.get_engine(sign_in_database)
    get_settings.cache_clear()
    st.cache_data.clear()


@contextmanager
def _option(key: str, value: Any) -> Iterator[None]:
    """A Streamlit config option set for the block, as `streamlit run --KEY VALUE` would."""
    before, where = config.get_option(key), config.get_where_defined(key)
    config.set_option(key, value)
    try:
        yield
    finally:
        config.set_option(key, before, where)


@pytest.fixture
def on_loopback() -> Iterator[None]:
    """Served as `make run` serves it: on 127.0.0.1."""
    with _option("server.address", "127.0.0.1"):
        yield


@pytest.fixture
def no_secrets_file(tmp_path: Path) -> Iterator[None]:
    """No secrets.toml anywhere Streamlit looks (whatever this checkout has)."""
    with _option("secrets.files", [str(tmp_path / "absent" / "secrets.toml")]):
        yield


@pytest.fixture
def email() -> str:
    """An address no other test uses, so each test counts its own audit rows."""
    return f"person-{uuid.uuid4().hex[:8]}@example.org"


# -- helpers ---------------------------------------------------------------------------------


def _app(user: dict[str, Any] | None = None, *, sign_in: bool = True) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if sign_in:
        at.secrets["auth"] = dict(AUTH)
    if user is not None:
        at.user = user
    return at


def _signed_in(email: str) -> dict[str, Any]:
    return {"is_logged_in": True, "email": email, "email_verified": True}


def _navigation(at: AppTest) -> dict[str, str]:
    """url path -> title of every page in the app's navigation on the last run."""
    return {
        str(info.get("url_pathname")): str(info.get("page_name"))
        for info in at._registered_pages.values()
    }


def _audit(email: str, engine: Engine) -> list[dict[str, Any]]:
    rows = access.audit_log(viewer=AUDITOR, email=email, engine=engine)
    return [row for row in rows.to_dict("records") if row["email"] == email]


def _has_key(at: AppTest, key: str) -> bool:
    return any(button.key == key for button in at.button)


def _no_failures(at: AppTest) -> None:
    assert not at.exception, texts(at.exception)
    assert not at.error, texts(at.error)


def _only_gate_page(at: AppTest) -> None:
    """A gate page and nothing of the dashboard: no figures, no filters, no navigation."""
    assert not at.exception, texts(at.exception)
    assert figures(at) == {}
    assert not at.sidebar.multiselect
    assert not at.metric
    assert not at.get("download_button")
    # Every address (each page's, so a link keeps its page) is answered by the gate's page.
    assert len(set(_navigation(at).values())) == 1, "the gate's page is the only page"


# -- pure rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.0.1.1", True),
        (None, False),  # unset: every interface
        ("", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("dashboard.example.org", False),
        ("unix:///tmp/dashboard.sock", False),
    ],
)
def test_only_loopback_addresses_count_as_this_computer(address, loopback) -> None:
    assert is_loopback(address) is loopback


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        (None, None),
        ("", None),
        ("%2Fprogram_outcomes%3Fstate%3DTX", ("program_outcomes", [("state", "TX")])),
        (
            "/trends?state=TX&state=OK&from=2023-01",
            ("trends", [("state", "TX"), ("state", "OK"), ("from", "2023-01")]),
        ),
        ("%2F%3Fmodel%3Dembedded", ("", [("model", "embedded")])),
        # Behind a path prefix (a proxy's base path), the page is the last part.
        ("/dash/state_profile", ("state_profile", [])),
        # Not an address of this app: another site, an unknown page, a relative path.
        ("https%3A%2F%2Fevil.example%2Fprogram_outcomes", None),
        ("//evil.example/program_outcomes", None),
        ("/no_such_page?state=TX", None),
        ("program_outcomes", None),
    ],
)
def test_the_link_kept_at_sign_in_is_read_back_only_as_this_apps_page(
    cookie: str | None, expected: tuple[str, list[tuple[str, str]]] | None
) -> None:
    assert auth.kept_link(cookie) == expected


def test_sign_in_configuration_reads_the_auth_section() -> None:
    assert sign_in_configuration(None) is None
    assert sign_in_configuration(AUTH) == SignIn(providers=("default",))
    shared = {key: AUTH[key] for key in ("redirect_uri", "cookie_secret")}
    provider = {key: AUTH[key] for key in ("client_id", "client_secret", "server_metadata_url")}
    assert sign_in_configuration({**shared, "okta": provider}) == SignIn(providers=("okta",))

    incomplete = sign_in_configuration({"redirect_uri": AUTH["redirect_uri"], **provider})
    assert incomplete is not None and incomplete.providers == ()
    assert incomplete.problem is not None and "cookie_secret" in incomplete.problem
    no_provider = sign_in_configuration(shared)
    assert no_provider is not None and no_provider.problem is not None
    assert "server_metadata_url" in no_provider.problem
    underscore = sign_in_configuration({**shared, "my_idp": provider})
    assert underscore is not None and underscore.problem is not None
    assert "my_idp" in underscore.problem


def test_the_shipped_secrets_example_configures_sign_in() -> None:
    example = tomllib.loads((ROOT_PAGES.parent / ".streamlit" / "secrets.toml.example").read_text())
    assert sign_in_configuration(example["auth"]) == SignIn(providers=("default",))


# -- local mode ------------------------------------------------------------------------------


def test_local_mode_on_loopback_shows_the_banner_and_every_page(
    outcomes: Engine, on_loopback: None, no_secrets_file: None
) -> None:
    # Even an identity left from another configuration counts for nothing in local mode.
    at = _app(_signed_in("someone@example.org"), sign_in=False)
    at.run(timeout=TIMEOUT)
    _no_failures(at)
    assert LOCAL_BANNER in texts(at.caption)
    assert at.session_state["viewer"] == access.LOCAL_VIEWER
    assert figures(at), "the overview draws its charts"
    navigation = _navigation(at)
    assert {"trends", "downloads", "about_the_data"} <= set(navigation)
    assert "audit_log" not in navigation, "local mode is leadership, not admin"

    at.switch_page(PAGES["trends"]).run(timeout=TIMEOUT)
    _no_failures(at)
    assert LOCAL_BANNER in texts(at.caption), "the banner is on every page"
    assert not _has_key(at, "sign_out"), "nobody to sign out in local mode"


@pytest.mark.parametrize(
    ("opened", "expected_page", "expected_states"),
    [
        # The provider returns to the bare root: the kept link opens, every repeated value.
        ({}, "Trends", ["AK", "AZ"]),
        # A session opened on an address of its own keeps it; the kept link is dropped.
        ({"state": "AK"}, "Peer support outcomes", ["AK"]),
    ],
)
def test_the_kept_link_opens_in_place_only_from_the_bare_root(
    outcomes: Engine,
    on_loopback: None,
    no_secrets_file: None,
    monkeypatch: pytest.MonkeyPatch,
    opened: dict[str, str],
    expected_page: str,
    expected_states: list[str],
) -> None:
    # AppTest has no cookies: the cookie's reading is replaced by its parsed value.
    kept = ("trends", [("state", "AK"), ("state", "AZ"), ("from", "2023-01")])
    monkeypatch.setattr(auth, "kept_link", lambda value: kept)
    at = _app(sign_in=False)
    at.query_params.update(opened)
    at.run(timeout=TIMEOUT)
    _no_failures(at)
    assert [title.value for title in at.title][:1] == [expected_page]
    states = at.query_params.get("state")
    assert ([states] if isinstance(states, str) else states) == expected_states
    # Once per session: the next run stays where the person is.
    at.run(timeout=TIMEOUT)
    assert [title.value for title in at.title][:1] == [expected_page]


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.168.1.20"])
def test_local_mode_off_loopback_refuses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_secrets_file: None, address: str
) -> None:
    # A database that was never loaded: the refusal comes before any database check.
    _point_settings_at(monkeypatch, f"sqlite:///{tmp_path / 'never-loaded.sqlite'}")
    with _option("server.address", address):
        at = _app(sign_in=False)
        at.run(timeout=TIMEOUT)
    _only_gate_page(at)
    assert [title.value for title in at.title] == ["Sign-in is not configured"]
    refusal = texts(at.error)
    assert address in refusal and "loopback" in refusal
    advice = texts(at.markdown)
    assert ".streamlit/secrets.toml.example" in advice and "make run" in advice
    assert "viewer" not in at.session_state
    assert not (tmp_path / "never-loaded.sqlite").exists(), "the database was not touched"


# -- sign-in configured ----------------------------------------------------------------------


def test_visitor_not_signed_in_sees_only_the_sign_in_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Not even the database's state is shown before sign-in: this one was never loaded.
    _point_settings_at(monkeypatch, f"sqlite:///{tmp_path / 'never-loaded.sqlite'}")
    for user in ({"is_logged_in": False}, {}):
        at = _app(user)
        at.run(timeout=TIMEOUT)
        _only_gate_page(at)
        assert [button.label for button in at.button] == ["Sign in"]
        # A link to any page opens the gate there (not "Page not found"), and the page keeps
        # the link in the browser for after the sign-in.
        assert set(_navigation(at)) == {"", *(p.stem for p in Path("pages").glob("*.py"))}
        assert any(auth.LINK_COOKIE in str(element.proto.body) for element in at.get("html"))
        assert not at.warning, "no setup page (database details) before sign-in"
        assert "viewer" not in at.session_state
    assert not (tmp_path / "never-loaded.sqlite").exists()


def test_incomplete_auth_section_is_reported_not_local_mode(on_loopback: None) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["auth"] = {key: AUTH[key] for key in AUTH if key != "cookie_secret"}
    at.run(timeout=TIMEOUT)
    _only_gate_page(at)
    assert [title.value for title in at.title] == ["Sign-in is misconfigured"]
    assert "cookie_secret" in texts(at.error)
    assert "viewer" not in at.session_state


def test_signed_in_without_grant_sees_only_the_no_access_page(outcomes: Engine, email: str) -> None:
    at = _app(_signed_in(email))
    at.run(timeout=TIMEOUT)
    _only_gate_page(at)
    assert [title.value for title in at.title] == ["No access to the dashboard"]
    assert email in texts(at.error)
    assert f"python -m data_access access grant {email}" in texts(at.markdown)
    assert "viewer" not in at.session_state
    at.run(timeout=TIMEOUT)  # a rerun of the same session is not another refusal
    _only_gate_page(at)

    rows = _audit(email, outcomes)
    assert [row["event"] for row in rows] == ["access_refused"]
    assert rows[0]["detail"] == "no grant"


def test_unverified_email_is_refused_even_with_a_grant(outcomes: Engine, email: str) -> None:
    access.grant(email=email, role="leadership", granted_by="test", engine=outcomes)
    at = _app({"is_logged_in": True, "email": email, "email_verified": False})
    at.run(timeout=TIMEOUT)
    _only_gate_page(at)
    assert "not verified" in texts(at.error)
    assert [row["event"] for row in _audit(email, outcomes)] == ["access_refused"]


def test_granted_partner_sees_their_state_and_signs_in_once(outcomes: Engine, email: str) -> None:
    access.grant(
        email=email, role="state_partner", states=["TX"], granted_by="test", engine=outcomes
    )
    at = _app(_signed_in(email))
    at.run(timeout=TIMEOUT)
    _no_failures(at)
    assert f"Signed in as {email} · state partner for TX" in texts(at.text)
    viewer = at.session_state["viewer"]
    assert viewer == Viewer(email=email, role="state_partner", states=("TX",))
    assert _has_key(at, "sign_out")
    assert "audit_log" not in _navigation(at)

    at.run(timeout=TIMEOUT)
    at.switch_page(PAGES["downloads"]).run(timeout=TIMEOUT)
    _no_failures(at)
    assert "state partner for TX" in texts(at.text)

    sign_ins = [row for row in _audit(email, outcomes) if row["event"] == "sign_in"]
    assert len(sign_ins) == 1, "one sign_in row per session, whatever the reruns"
    assert sign_ins[0]["role"] == "state_partner"


def test_sign_out_returns_to_the_sign_in_page(outcomes: Engine, email: str) -> None:
    access.grant(email=email, role="leadership", granted_by="test", engine=outcomes)
    at = _app(_signed_in(email))
    at.run(timeout=TIMEOUT)
    _no_failures(at)
    at.button(key="sign_out").click().run(timeout=TIMEOUT)
    assert not at.exception, texts(at.exception)
    assert figures(at) == {}, "nothing more is drawn once sign-out has started"
    assert "viewer" not in at.session_state
    at.run(timeout=TIMEOUT)  # the browser's next visit
    _only_gate_page(at)
    assert [button.label for button in at.button] == ["Sign in"]
    assert "viewer" not in at.session_state


def test_only_admins_get_the_audit_log_page(outcomes: Engine, email: str) -> None:
    assert (ROOT_PAGES / "audit_log.py").exists(), "pages/audit_log.py (the Admin page)"
    admin = f"admin-{email}"
    access.grant(email=email, role="leadership", granted_by="test", engine=outcomes)
    access.grant(email=admin, role="admin", granted_by="test", engine=outcomes)

    leader = _app(_signed_in(email))
    leader.run(timeout=TIMEOUT)
    _no_failures(leader)
    assert f"Signed in as {email} · leadership" in texts(leader.text)
    assert "audit_log" not in _navigation(leader)
    with pytest.raises(ValueError, match="navigation page"):
        leader.switch_page("../pages/audit_log.py")

    at = _app(_signed_in(admin))
    at.run(timeout=TIMEOUT)
    _no_failures(at)
    assert f"Signed in as {admin} · admin" in texts(at.text)
    assert _navigation(at).get("audit_log") == "Audit log"
    at.switch_page("../pages/audit_log.py").run(timeout=TIMEOUT)
    _no_failures(at)
    assert f"Signed in as {admin} · admin" in texts(at.text), "the banner is on it too"
    sign_ins = [row for row in _audit(admin, outcomes) if row["event"] == "sign_in"]
    assert [row["role"] for row in sign_ins] == ["admin"]
