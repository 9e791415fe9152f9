"""A real sign-in in headless Chromium: the dashboard (`streamlit run`, sign-in configured in
a temporary secrets.toml) signs people in through a local OpenID Connect provider
(oidc-provider-mock), and what they see follows their grant.

A state partner for TX signs in through the provider's form: the banner names TX, the sidebar
names TX and offers no other state, a link asking for another state does not show it (a notice
says it was dropped), a link asking for two conditions (half of a differencing attempt) is
narrowed to all conditions with a notice saying why, and a download is audited under their
address. They sign out through the provider; leadership signs in and is offered every state.

Needs the playwright package, Chromium at /usr/bin/chromium and oidc-provider-mock
(requirements.txt). Without them the tests skip, and fail under CI=true.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from data_access import access, db, queries
from data_access.access import Viewer
from tests.browser_helpers import (
    WAIT_MS,
    browser_missing,
    chromium_context,
    go_to,
    new_context,
    open_app,
    problems_shown,
    query,
    selected_values,
    sign_in,
    wait_for_app,
)
from tests.conftest import skip_or_fail
from tests.oidc_helpers import dashboard_with_sign_in, oidc_provider, write_secrets

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

PARTNER = "tx.partner@example.org"
LEADER = "leader@example.org"
STRANGER = "no.grant@example.org"
AUDITOR = Viewer(email="auditor@example.org", role="admin")


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ready() -> None:
    """Checked before anything slow: playwright, Chromium and the provider are here."""
    problem = browser_missing()
    # Only looked for, not imported: the provider runs in a subprocess of its own.
    if problem is None and importlib.util.find_spec("oidc_provider_mock") is None:
        problem = "oidc-provider-mock is not installed (pip install -r requirements.txt)"
    if problem:
        skip_or_fail(problem)


@pytest.fixture(scope="module")
def database_url(ready: None, loaded_sample_sqlite: str, tmp_path_factory) -> str:
    """A copy of the loaded sample (this module writes grants and audit rows), with the
    partner granted TX and the leader leadership."""
    copy = tmp_path_factory.mktemp("browser_sign_in") / "outcomes.sqlite"
    shutil.copyfile(loaded_sample_sqlite.removeprefix("sqlite:///"), copy)
    url = f"sqlite:///{copy}"
    engine = db.get_engine(url)
    try:
        access.grant(
            email=PARTNER, role="state_partner", states=["TX"], granted_by="test", engine=engine
        )
        access.grant(email=LEADER, role="leadership", granted_by="test", engine=engine)
    finally:
        db.dispose_engines()  # the server opens its own connections
    return url


@pytest.fixture(scope="module")
def states(database_url: str) -> dict[str, str]:
    """state_code -> state_name of every state in the database."""
    try:
        frame = queries.list_states(viewer=AUDITOR, engine=db.get_engine(database_url))
    finally:
        db.dispose_engines()
    return dict(zip(frame["state_code"], frame["state_name"], strict=True))


@pytest.fixture(scope="module")
def app_url(database_url: str, tmp_path_factory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("sign_in_servers")
    with oidc_provider(logs) as provider:
        secrets_file = write_secrets(logs, provider)
        with dashboard_with_sign_in(database_url, secrets_file, logs) as server:
            yield server.url


@pytest.fixture(scope="module")
def context(app_url: str) -> Iterator[Any]:
    """One Chromium and one browser context (its cookies are the sign-in) for the module."""
    with chromium_context() as browser_context:
        yield browser_context


# -- helpers ---------------------------------------------------------------------------------


def _sign_out(page: Any, app_url: str) -> None:
    page.get_by_role("button", name=re.compile("Sign out")).click()
    page.wait_for_url(re.compile(r"/oauth2/end_session"), timeout=WAIT_MS)
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(re.compile(rf"^{re.escape(app_url)}/?($|\?)"), timeout=WAIT_MS)
    wait_for_app(page)


def _assert_gate_page(page: Any, button: str) -> None:
    """A page of the sign-in gate: its one button, no filters, no figures, no banner."""
    assert page.get_by_role("button", name=re.compile(button)).is_visible()
    assert page.get_by_test_id("stMultiSelect").count() == 0
    assert page.locator(".js-plotly-plot").count() == 0
    assert page.locator(".st-key-viewer_banner").count() == 0


def _banner(page: Any) -> str:
    return page.locator(".st-key-viewer_banner").inner_text()


def _sidebar_text(page: Any) -> str:
    return page.get_by_test_id("stSidebar").inner_text()


def _sidebar_choice(page: Any, label: str) -> str:
    """The option shown in a sidebar selectbox (a partner's single-choice filter): the value
    of its combobox input."""
    sidebar = page.get_by_test_id("stSidebar")
    return str(sidebar.get_by_role("combobox", name=label, exact=True).input_value())


def _assert_partner_sidebar(page: Any, states: dict[str, str]) -> None:
    """The TX partner's sidebar: TX named, no state to choose, no multi-select anywhere."""
    assert f"State: TX · {states['TX']}" in _sidebar_text(page)
    assert page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").count() == 0
    assert page.get_by_role("combobox", name="States", exact=True).count() == 0


def _states_offered(page: Any) -> set[str]:
    """Every option of the sidebar's state filter: the chips selected and the ones listed."""
    offered = set(selected_values(page, "States"))
    combobox = page.get_by_role("combobox", name="States", exact=True)
    combobox.click()
    listed = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return offered | {text.strip() for text in listed if "·" in text}


def _audit(database_url: str, email: str, event: str) -> list[dict[str, Any]]:
    try:
        rows = access.audit_log(
            viewer=AUDITOR, email=email, events=[event], engine=db.get_engine(database_url)
        )
    finally:
        db.dispose_engines()
    return [row for row in rows.to_dict("records") if row["email"] == email]


def _eventually(read: Callable[[], Any], check: Callable[[Any], bool], what: str) -> Any:
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        value = read()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}; last seen: {value!r}")
        time.sleep(0.5)


# -- the flow --------------------------------------------------------------------------------


def test_partner_and_leadership_sign_in_through_the_provider(
    context: Any, app_url: str, database_url: str, states: dict[str, str], tmp_path: Path
) -> None:
    other = next(code for code in states if code != "TX")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # Nobody signed in: the sign-in page, and nothing of the dashboard.
    open_app(page, app_url)
    _assert_gate_page(page, "Sign in")

    # The TX partner signs in through the provider's form.
    sign_in(page, app_url, PARTNER)
    assert problems_shown(page) == []
    assert f"Signed in as {PARTNER} · state partner for TX" in _banner(page)
    _assert_partner_sidebar(page, states)
    assert [row["role"] for row in _audit(database_url, PARTNER, "sign_in")] == ["state_partner"]

    # A link asking for another state: not shown, and a notice says it was dropped.
    linked = context.new_page()
    open_app(linked, app_url, f"?state={other}")
    assert f"Signed in as {PARTNER}" in _banner(linked), "the sign-in cookie opens new tabs"
    notices = linked.get_by_test_id("stAlert").all_inner_texts()
    assert any(other in notice for notice in notices), notices
    assert other not in _sidebar_text(linked) and states[other] not in _sidebar_text(linked)
    _assert_partner_sidebar(linked, states)
    linked.close()
    dropped = _audit(database_url, PARTNER, "states_dropped")
    assert [row["detail"] for row in dropped] == [other]

    # A differencing attempt: mental health and substance use together, beside either alone,
    # would give away the other by subtraction. The link is narrowed to all conditions, and
    # the notice says what changed and why.
    differencing = context.new_page()
    open_app(differencing, app_url, "?condition=mental_health&condition=substance_use")
    assert problems_shown(differencing) == []
    notices = differencing.get_by_test_id("stAlert").all_inner_texts()
    narrowed = [notice for notice in notices if "`condition`" in notice or "condition:" in notice]
    assert len(narrowed) == 1, notices
    assert (
        "asked for Mental health, Substance use; showing all primary conditions instead."
        in narrowed[0]
    ), narrowed
    assert "no two views can be subtracted to reveal a small count" in narrowed[0]
    assert _sidebar_choice(differencing, "Primary condition") == "All primary conditions"
    assert "condition" not in query(differencing)
    assert query(differencing)["from"] == ["2022-01"] and query(differencing)["to"] == ["2024-12"]
    differencing.close()

    # A download is audited under the partner's address.
    go_to(page, "Downloads")
    assert problems_shown(page) == []
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").first.locator("button").click()
    download.value.save_as(tmp_path / "download.csv")
    assert (tmp_path / "download.csv").stat().st_size > 0
    _eventually(
        lambda: _audit(database_url, PARTNER, "download"),
        lambda rows: len(rows) >= 1,
        f"a download audit row for {PARTNER}",
    )

    # The Impact page: TX's matched comparison, drawn, and nothing of another state.
    go_to(page, "Impact", charts=1)
    assert problems_shown(page) == []
    shown = page.get_by_test_id("stMain").inner_text()
    assert "In the 6 months before the index date" in shown
    assert f"({other})" not in shown and states[other] not in shown

    # Sign out, through the provider's end-session page, back to the sign-in page.
    _sign_out(page, app_url)
    _assert_gate_page(page, "Sign in")

    # Someone the provider vouches for but with no grant: the no-access page, audited.
    sign_in(page, app_url, STRANGER)
    _assert_gate_page(page, "Sign out")
    assert STRANGER in page.get_by_test_id("stAlert").inner_text()
    assert len(_audit(database_url, STRANGER, "access_refused")) == 1
    _sign_out(page, app_url)

    # Leadership signs in and is offered every state.
    sign_in(page, app_url, LEADER)
    assert problems_shown(page) == []
    assert f"Signed in as {LEADER} · leadership" in _banner(page)
    offered = _states_offered(page)
    assert offered == {f"{code} · {name}" for code, name in states.items()}
    assert len(offered) > 1
    assert [row["role"] for row in _audit(database_url, LEADER, "sign_in")] == ["leadership"]

    page.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"


def test_a_shared_link_to_a_page_with_filters_survives_the_sign_in(
    context: Any, app_url: str
) -> None:
    # A new browser context: nobody signed in (the module's context may hold a sign-in).
    fresh = new_context(context.browser)
    try:
        page = fresh.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        open_app(page, app_url, "program_outcomes?state=TX")
        # The gate answers the link's address: no "Page not found", the address kept.
        _assert_gate_page(page, "Sign in")
        assert "Page not found" not in page.locator("body").inner_text()
        assert page.url.endswith("/program_outcomes?state=TX"), page.url

        page.get_by_role("button", name=re.compile("Sign in")).click()
        page.wait_for_url(re.compile(r"/oauth2/authorize"), timeout=WAIT_MS)
        page.locator("input[name='sub']").fill(PARTNER)
        page.get_by_role("button", name="Authorize").click()
        # The provider returns to the root; the tab goes back to the link's page, once. Its
        # address then holds the filters as the page writes them (the partner's one state is
        # no choice, so no state= in it): wait for the page, not for one passing address.
        page.wait_for_url(re.compile(r"/program_outcomes(\?|$)"), timeout=WAIT_MS)
        wait_for_app(page)
        assert "/program_outcomes" in page.url, page.url
        assert problems_shown(page) == []
        assert f"Signed in as {PARTNER}" in _banner(page)
        assert page.get_by_role("heading", name="Program outcomes").count() >= 1
        assert "State: TX ·" in _sidebar_text(page)
        assert page.get_by_role("combobox", name="States", exact=True).count() == 0
        assert errors == [], f"JavaScript errors in the page: {errors}"
    finally:
        fresh.close()
