"""What the database holds and whether it answers: the latest load, data-through, rows.

Not figures of any state: the dashboard's shell and the About page read them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine, func, select

from data_access import db
from data_access.access import Viewer
from data_access.errors import OutcomesError
from data_access.models import LoadRun
from data_access.vocabulary import LOAD_COMMAND

log = logging.getLogger(__name__)
LOAD_HINT = f"Load data with: {LOAD_COMMAND}"


def load_version(*, engine: Engine | None = None) -> int:
    """The id of the latest load (0 before any): a new load changes it, so caches key on it.
    Not a figure of any state, so it takes no viewer."""
    try:
        frame = db.read_frame(
            select(func.max(LoadRun.load_id).label("load")), engine=db.resolve_engine(engine)
        )
    except OutcomesError:  # no tables yet, or no database at all
        return 0
    value = frame["load"].iloc[0]
    return 0 if value is None or pd.isna(value) else int(value)


@dataclass(frozen=True)
class DatabaseStatus:
    """`ready`: loaded outcomes to show; `reachable`: False when the database did not answer
    (a passing state the dashboard retries), True when it answered, loaded or not."""

    ready: bool
    message: str
    reachable: bool = True
    data_through: dt.date | None = None
    last_loaded_at: dt.datetime | None = None
    last_source: str | None = None
    table_rows: dict[str, int] = field(default_factory=dict)
    rows_in_last_load: dict[str, int] = field(default_factory=dict)


def database_status(*, viewer: Viewer | None, engine: Engine | None = None) -> DatabaseStatus:
    """Whether the database holds loaded outcomes, and what: data-through, last load, rows.

    Row counts are national totals of members and claims: only leadership and admin viewers
    get them, not state partners nor a readiness check made before sign-in (`viewer=None`).
    """
    engine = db.resolve_engine(engine)
    try:
        if not db.has_schema(engine):
            return DatabaseStatus(False, f"The outcomes database has no tables yet. {LOAD_HINT}")
        problem = db.schema_problem(engine)
        if problem is not None:  # summaries of other definitions are never read
            return DatabaseStatus(False, problem)
        last = db.read_frame(
            select(LoadRun.loaded_at, LoadRun.source, LoadRun.rows_loaded, LoadRun.data_through)
            .order_by(LoadRun.load_id.desc())
            .limit(1),
            engine=engine,
        )
    except OutcomesError as exc:  # an unreachable server is a status, not a crash
        log.warning("The outcomes database cannot be read: %s", exc)
        return DatabaseStatus(False, exc.viewer_message, reachable=False)
    if last.empty:
        return DatabaseStatus(False, f"The outcomes database is empty. {LOAD_HINT}")
    row = last.iloc[0]
    sees_counts = viewer is not None and not viewer.is_partner
    # Stored by each load (table_counts): no scan of the claims on every cold page.
    counts = db.table_rows(engine) if sees_counts else {}
    through = row["data_through"]
    loaded_at = row["loaded_at"]
    return DatabaseStatus(
        ready=True,
        message="ready",
        data_through=None if pd.isna(through) else pd.Timestamp(through).date(),
        last_loaded_at=None if pd.isna(loaded_at) else pd.Timestamp(loaded_at).to_pydatetime(),
        last_source=str(row["source"]),
        table_rows={str(name): int(value) for name, value in counts.items()},
        rows_in_last_load={k: int(v) for k, v in json.loads(row["rows_loaded"]).items()}
        if sees_counts
        else {},
    )
