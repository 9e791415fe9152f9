"""The default-filter outputs of the matched comparison, computed at load and stored.

The dashboard opens on every state, program model, program and condition over its opening
months (queries.default_window) in the `all` setting: `store_frames` computes the impact
rows, the event study and the balance of those filters inside the load's transaction, from
the tables just built (and the replicates just stored), and stores each before suppression
as JSON (impact_frames), so that the first request of each is one indexed read; the viewer's
suppression is applied when it is read. JSON keeps every float's bits (repr round-trips)
and the frame is built from the same records by the same code, so the stored and computed
outputs are the same frames. Rows of other code (impact.CODE_DIGEST) or other months are
not read: the query computes instead.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection

from data_access.event_study import balance_payload, event_study_payload
from data_access.filters import OutcomeFilter
from data_access.impact import (
    CODE_DIGEST,
    _comparison_members,
    _default_window,
    impact_payload,
)
from data_access.models import impact_frames
from data_access.vocabulary import PROGRAM_MODELS

# The settings stored: the dashboard's opening one (the others are a click away and computed).
STORED_SETTINGS = ("all",)


def store_frames(conn: Connection) -> None:
    """Compute and store the default filters' impact, event study and balance payloads, in
    the caller's transaction (after impact.store_replicates, whose replicates they read)."""
    conn.execute(impact_frames.delete())
    window = _default_window(conn)
    if window is None:
        return
    models = list(PROGRAM_MODELS)
    records: list[dict[str, object]] = []
    for setting in STORED_SETTINGS:
        filters = OutcomeFilter(setting=setting, month_from=window[0], month_to=window[1])
        # The comparison members of impact and the event study are the same counts.
        members = _comparison_members(filters, models, conn)
        payloads: dict[str, Any] = {
            "impact": impact_payload(filters, models, conn, comparison_members=members),
            "event_study": event_study_payload(filters, models, conn, comparison_members=members),
            "balance": balance_payload(filters, models, conn),
        }
        records += [
            {
                "output": output,
                "setting": setting,
                "month_from": window[0],
                "month_to": window[1],
                "code_digest": CODE_DIGEST,
                # allow_nan: NaN figures are part of the outputs (json reads them back).
                "payload": json.dumps(payload, allow_nan=True),
            }
            for output, payload in payloads.items()
            if payload is not None
        ]
    if records:
        conn.execute(impact_frames.insert(), records)
