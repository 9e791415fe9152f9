"""The audit log page (pages/audit_log.py) in AppTest, on both engines: the rows it shows are
the rows recorded, its filters narrow them, only admins see it, and its download is audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import audit
from data_access import access, exports
from data_access.access import LOCAL_VIEWER, Viewer
from data_access.filters import OutcomeFilter
from data_access.vocabulary import AUDIT_EVENTS
from tests.app_helpers import TIMEOUT, texts
from tests.test_access import Clock

PAGE = Path(__file__).resolve().parent.parent / "pages" / "audit_log.py"
ADMIN = Viewer(email="admin@example.org", role="admin")
MONTHLY_FILTER = OutcomeFilter(states=("TX",), month_from="2020-01", month_to="2020-12")


@dataclass(frozen=True)
class Recorded:
    """The six audit rows of `recorded`, placed around the day the test started on (UTC)."""

    clock: Clock
    today: dt.date

    @property
    def midnight(self) -> dt.datetime:
        return dt.datetime.combine(self.today, dt.time(), tzinfo=dt.UTC)

    @property
    def long_ago(self) -> dt.datetime:
        return self.midnight - dt.timedelta(days=100) + dt.timedelta(hours=12)

    def at_minute(self, minute: int) -> pd.Timestamp:
        return pd.Timestamp(self.midnight + dt.timedelta(minutes=minute))

    def today_rows(self) -> list[dict[str, Any]]:
        """Today's rows as the page shows them, newest first."""
        return [
            {
                "occurred_at": self.at_minute(4),
                "email": "stranger@example.org",
                "role": None,
                "event": "access_refused",
                "dataset": None,
                "filters": None,
                "rows": None,
                "suppressed": "",
                "detail": "no grant",
            },
            {
                "occurred_at": self.at_minute(3),
                "email": "partner@example.org",
                "role": "state_partner",
                "event": "download",
                "dataset": "monthly",
                "filters": MONTHLY_FILTER.model_dump_json(),
                "rows": 12,
                "suppressed": "yes",
                "detail": None,
            },
            {
                "occurred_at": self.at_minute(2),
                "email": "partner@example.org",
                "role": "state_partner",
                "event": "sign_in",
                "dataset": None,
                "filters": None,
                "rows": None,
                "suppressed": "",
                "detail": None,
            },
            {
                "occurred_at": self.at_minute(1),
                "email": "cli:ops",
                "role": None,
                "event": "grant",
                "dataset": None,
                "filters": None,
                "rows": None,
                "suppressed": "",
                "detail": "partner@example.org: state_partner TX",
            },
        ]


@pytest.fixture
def recorded(configured: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorded]:
    """Settings pointed at a fresh database holding six audit rows; access's clock fixed.

    The events sit at fixed minutes of the day this test starts on (UTC), read when it starts
    (not when the module is imported, hours earlier in a long run), so the page's default
    days, the last 30, hold them; one more lies 100 days back."""
    clock = Clock()
    monkeypatch.setattr(access, "utc_now", clock)
    recorded = Recorded(clock=clock, today=dt.datetime.now(dt.UTC).date())
    clock.at(recorded.long_ago)
    access.record_event(email="old@example.org", role="leadership", event="sign_in")
    clock.at(recorded.midnight)
    access.grant(
        email="partner@example.org", role="state_partner", states=["TX"], granted_by="cli:ops"
    )  # granted 00:00, audited 00:01
    access.record_event(email="partner@example.org", role="state_partner", event="sign_in")  # 00:02
    access.record_event(
        email="partner@example.org",
        role="state_partner",
        event="download",
        dataset="monthly",
        filters=MONTHLY_FILTER,
        rows=12,
        suppressed=True,
    )  # 00:03
    access.record_event(
        email="stranger@example.org", event="access_refused", detail="no grant"
    )  # 00:04
    yield recorded


def open_audit_page(viewer: Viewer = ADMIN) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    at.session_state["viewer"] = viewer
    return at.run()


def shown_rows(at: AppTest) -> list[dict[str, Any]]:
    """The table's rows, missing values as None and times as UTC timestamps."""
    assert len(at.dataframe) == 1
    frame = at.dataframe[0].value
    assert list(frame.columns) == list(access.AUDIT_COLUMNS)
    frame = frame.assign(occurred_at=pd.to_datetime(frame["occurred_at"], utc=True))
    records = frame.astype(object).to_dict("records")
    return [
        {key: None if pd.isna(value) else value for key, value in row.items()} for row in records
    ]


def no_failures(at: AppTest) -> None:
    assert not at.exception, texts(at.exception)
    assert not at.error, texts(at.error)


def test_the_page_shows_the_recorded_rows_newest_first(recorded: Recorded) -> None:
    at = open_audit_page()
    no_failures(at)
    assert [title.value for title in at.title] == ["Audit log"]
    assert shown_rows(at) == recorded.today_rows()
    assert [caption.value for caption in at.caption] == ["4 events"]
    # Each event type is explained.
    explained = at.expander[0].markdown[0].value
    assert all(
        f"| `{event}` | {audit.EVENT_MEANINGS[event]} |" in explained for event in AUDIT_EVENTS
    )
    assert [button.proto.label for button in at.download_button] == [
        "Download these events (CSV, 4 rows)"
    ]


def test_the_filters_narrow_the_rows(recorded: Recorded) -> None:
    today_rows = recorded.today_rows()
    at = open_audit_page()
    at.text_input(key="audit_email").set_value("PARTNER").run()
    assert shown_rows(at) == today_rows[1:3]
    at.multiselect(key="audit_events").select("download").run()
    assert shown_rows(at) == today_rows[1:2]
    at.text_input(key="audit_email").set_value("").run()
    at.multiselect(key="audit_events").unselect("download").select("grant").select(
        "access_refused"
    ).run()
    assert shown_rows(at) == [today_rows[0], today_rows[3]]

    # Days: only the sign-in of 100 days ago.
    at.multiselect(key="audit_events").unselect("grant").unselect("access_refused").run()
    long_ago = recorded.long_ago.date()
    at.date_input(key="audit_days").set_value(
        (long_ago - dt.timedelta(days=1), long_ago + dt.timedelta(days=1))
    ).run()
    no_failures(at)
    assert shown_rows(at) == [
        {
            "occurred_at": pd.Timestamp(recorded.long_ago),
            "email": "old@example.org",
            "role": "leadership",
            "event": "sign_in",
            "dataset": None,
            "filters": None,
            "rows": None,
            "suppressed": "",
            "detail": None,
        }
    ]

    at.text_input(key="audit_email").set_value("nobody").run()
    assert not at.dataframe
    assert [info.value for info in at.info] == ["No events for these filters."]
    assert [button.proto.label for button in at.download_button] == [
        "Download these events (CSV, 0 rows)"
    ]


@pytest.mark.parametrize(
    "viewer",
    [
        Viewer(email="lead@example.org", role="leadership"),
        Viewer(email="partner@example.org", role="state_partner", states=("TX",)),
        LOCAL_VIEWER,
    ],
)
def test_anyone_but_an_admin_gets_an_error_and_no_rows(recorded: Recorded, viewer: Viewer) -> None:
    at = open_audit_page(viewer)
    assert not at.exception
    assert [error.value for error in at.error] == ["The audit log is for admin viewers only."]
    assert not at.dataframe and not at.download_button and not at.title


def test_the_download_is_the_rows_shown_and_is_itself_audited(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    offered: list[str] = []
    write = exports.to_csv_text

    def spy(frame: pd.DataFrame) -> str:
        offered.append(write(frame))
        return offered[-1]

    # AppTest keeps no bytes of a download, so the CSV text is caught on its way to the button.
    monkeypatch.setattr(exports, "to_csv_text", spy)
    at = open_audit_page()
    filters_cell = '"' + MONTHLY_FILTER.model_dump_json().replace('"', '""') + '"'
    day = recorded.today.isoformat()
    assert offered[-1].splitlines() == [
        "occurred_at,email,role,event,dataset,filters,rows,suppressed,detail",
        f"{day}T00:04:00Z,stranger@example.org,,access_refused,,,,,no grant",
        f"{day}T00:03:00Z,partner@example.org,state_partner,download,monthly,"
        f"{filters_cell},12,true,",
        f"{day}T00:02:00Z,partner@example.org,state_partner,sign_in,,,,,",
        f"{day}T00:01:00Z,cli:ops,,grant,,,,,partner@example.org: state_partner TX",
    ]

    # AppTest can click a download button; its on_click records the download (at 00:05).
    at.download_button(key="download_audit_log").click().run()
    no_failures(at)
    # The page's days are the last 30 up to its own today: the test's day, or the next one
    # should midnight (UTC) have passed since the test started.
    since, until = at.date_input(key="audit_days").value
    assert until in (recorded.today, recorded.today + dt.timedelta(days=1))
    assert since == until - dt.timedelta(days=30)
    download = {
        "occurred_at": recorded.at_minute(5),
        "email": "admin@example.org",
        "role": "admin",
        "event": "download",
        "dataset": "audit_log",
        "filters": None,
        "rows": 4,
        "suppressed": "",
        "detail": f"audit log page: since {since}; until {until}",
    }
    assert shown_rows(at) == [download, *recorded.today_rows()]
    newest = audit.for_display(
        audit.audit_rows(ADMIN, since=None, until=None, email=None, events=None)
    ).head(1)
    assert newest.astype(object).where(newest.notna(), None).to_dict("records") == [download]
