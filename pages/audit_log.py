"""Audit log, for admin viewers only: who signed in or was turned away, who downloaded what
with which filters, who granted or revoked access. The app lists the page only for admins;
the page checks again, so a direct link is no way in."""

from __future__ import annotations

import datetime as dt
import logging

import streamlit as st

from dashboard import audit, auth
from dashboard.sections import page_header
from data_access import access, exports
from data_access.errors import OutcomesError
from data_access.vocabulary import AUDIT_EVENTS

log = logging.getLogger(__name__)

DEFAULT_DAYS = 30

viewer = auth.current_viewer()
if not viewer.may_audit:
    st.error("The audit log is for admin viewers only.", icon=":material/lock:")
    st.stop()

page_header(
    "Audit log",
    "Who signed in or was turned away, who downloaded what with which filters, and who "
    "granted or revoked access; newest first, times in UTC.",
)

with st.expander("What each event means"):
    st.markdown(
        "| event | meaning |\n|---|---|\n"
        + "\n".join(f"| `{event}` | {words} |" for event, words in audit.EVENT_MEANINGS.items())
    )

today = dt.datetime.now(dt.UTC).date()
days_column, email_column, events_column = st.columns([2, 2, 3])
days = days_column.date_input(
    "Days (UTC)",
    value=(today - dt.timedelta(days=DEFAULT_DAYS), today),
    format="YYYY-MM-DD",
    key="audit_days",
)
email_part = email_column.text_input("E-mail address contains", key="audit_email").strip()
events = events_column.multiselect(
    "Events", AUDIT_EVENTS, placeholder="All events", key="audit_events"
)

# While a range is being picked the widget holds only its first day.
picked = days if isinstance(days, tuple) else (days,)
since = picked[0] if len(picked) > 0 else None
until = picked[1] if len(picked) > 1 else None
email = email_part or None
chosen = events or None  # none chosen: every event

try:
    frame = audit.audit_rows(viewer, since=since, until=until, email=email, events=chosen)
except OutcomesError as exc:
    log.warning("Could not read the audit log: %s", exc)
    st.error(f"Could not read the audit log. {exc.viewer_message}", icon=":material/error:")
    st.stop()

shown = f"{len(frame):,} events"
if len(frame) == audit.ROW_LIMIT:
    shown += f" (the newest {audit.ROW_LIMIT:,}; narrow the days to see older ones)"
st.caption(shown)
if frame.empty:
    st.info("No events for these filters.")
else:
    st.dataframe(
        audit.for_display(frame),
        hide_index=True,
        width="stretch",
        column_config=audit.column_config(),
        key="audit_table",
    )

st.download_button(
    f"Download these events (CSV, {len(frame):,} rows)",
    data=exports.to_csv_text(frame),
    file_name=audit.file_name(since, until),
    mime="text/csv",
    key="download_audit_log",
    # Downloading the audit log is itself an audited event.
    on_click=audit.record_download,
    kwargs={
        "viewer": viewer,
        "rows": len(frame),
        "detail": access.audit_query_words("audit log page", since, until, email, chosen),
    },
    icon=":material/download:",
)
