"""The audit log page's data: the rows through `data_access.access` (no SQL here), what each
event means, the table's labels, and the record of the page's own download."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import pandas as pd
import streamlit as st

from data_access import access, db

# The most rows one reading shows; the page says when the dates should be narrowed.
ROW_LIMIT: Final = 10_000
DATASET: Final = "audit_log"

EVENT_MEANINGS: Final[dict[str, str]] = {
    "sign_in": "A person with a grant opened the dashboard (once per session), with the role "
    "they had.",
    "access_refused": "A person signed in but was turned away: no grant, no e-mail address "
    "from the sign-in provider, or an address it has not verified (detail says which).",
    "states_dropped": "A state partner's filters or link named states outside their grant; "
    "those states were left out (detail names them).",
    "download": "A CSV was downloaded, in the dashboard or from the command line: the dataset, "
    "its filters, its rows and whether small cells were suppressed.",
    "grant": "Access was given or changed; email is who did it, detail whom, the role and the "
    "states.",
    "revoke": "Access was taken away; email is who did it, detail whom and which states (or "
    "all access).",
}

COLUMN_LABELS: Final[dict[str, str]] = {
    "occurred_at": "When (UTC)",
    "email": "Who",
    "role": "Role",
    "event": "Event",
    "dataset": "Dataset",
    "filters": "Filters",
    "rows": "Rows",
    "suppressed": "Small cells suppressed",
    "detail": "Detail",
}


def audit_rows(
    viewer: access.Viewer,
    *,
    since: dt.date | None,
    until: dt.date | None,
    email: str | None,
    events: Sequence[str] | None,
) -> pd.DataFrame:
    """The audit rows, newest first, with times in UTC and rows as whole numbers.

    Not cached: an admin must see the events of the last second (their own download
    included), and this is one indexed read of at most ROW_LIMIT rows.
    """
    frame = access.audit_log(
        viewer=viewer,
        since=since,
        until=until,
        email=email,
        events=events,
        limit=ROW_LIMIT,
        engine=db.get_engine(),
    )
    # SQLite keeps no time zone (the times are UTC); PostgreSQL answers in the server's.
    return frame.assign(
        occurred_at=pd.to_datetime(frame["occurred_at"], utc=True),
        rows=frame["rows"].astype("Int64"),
    )


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows as the page shows them: "yes"/"no" for suppression, blank when it does not
    apply (every event but a download)."""
    shown = ["" if pd.isna(value) else "yes" if value else "no" for value in frame["suppressed"]]
    return frame.assign(suppressed=shown)


def column_config() -> dict[str, Any]:
    config: dict[str, Any] = {
        column: st.column_config.TextColumn(label) for column, label in COLUMN_LABELS.items()
    }
    config["occurred_at"] = st.column_config.DatetimeColumn(
        COLUMN_LABELS["occurred_at"], format="YYYY-MM-DD HH:mm:ss"
    )
    config["rows"] = st.column_config.NumberColumn(COLUMN_LABELS["rows"], format="%d")
    return config


def file_name(since: dt.date | None, until: dt.date | None) -> str:
    return f"audit_log_{since or 'start'}_to_{until or 'end'}.csv"


def record_download(*, viewer: access.Viewer, rows: int, detail: str) -> None:
    """Audit the page's own download (the download button's on_click)."""
    access.record_download(
        viewer=viewer,
        dataset=DATASET,
        rows=rows,
        suppressed=None,
        detail=detail,
        engine=db.get_engine(),
    )
