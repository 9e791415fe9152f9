"""What the database holds and whether it answers: the latest load, data-through, rows.

Not figures of any state: the dashboard's shell and the About page read them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine, func, null, select

from data_access import db
from data_access.access import Viewer
from data_access.errors import OutcomesError
from data_access.models import LoadRun, SchemaInfo
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


# The schema checks that passed, by database, catalog fingerprint, load and schema version:
# the check costs a score of catalog reads (about 30 ms on PostgreSQL), its key two cheap
# reads, so a page's shell runs it once per load, migration or change of any table. A failed
# check is never kept: the problem is looked for, and reported, on every read until fixed.
_SCHEMA_PASSED: set[tuple[str, str, int, str | None]] = set()
_SCHEMA_PASSED_KEPT = 64


def forget_schema_checks() -> None:
    """Check every schema again on its next status read (the dashboard's cache clearing)."""
    _SCHEMA_PASSED.clear()


def _schema_problem(engine: Engine, key: tuple[str, str, int, str | None] | None) -> str | None:
    """db.schema_problem, run only when `key` (None: no key, always run) has not passed it."""
    if key is not None and key in _SCHEMA_PASSED:
        return None
    problem = db.schema_problem(engine)
    if problem is None and key is not None:
        if len(_SCHEMA_PASSED) >= _SCHEMA_PASSED_KEPT:
            _SCHEMA_PASSED.clear()
        _SCHEMA_PASSED.add(key)
    return problem


def database_status(*, viewer: Viewer | None, engine: Engine | None = None) -> DatabaseStatus:
    """Whether the database holds loaded outcomes, and what: data-through, last load, rows.

    Row counts are national totals of members and claims: only leadership and admin viewers
    get them, not state partners nor a readiness check made before sign-in (`viewer=None`).
    The schema check runs once per catalog fingerprint, load and schema version (see
    _SCHEMA_PASSED); the reads of a ready database are the catalog's and the latest load's.
    """
    engine = db.resolve_engine(engine)
    try:
        catalog, present = db.catalog_state(engine)
        if not {"monthly_summary", "load_runs"} <= present:  # db.has_schema, from the catalog
            return DatabaseStatus(False, f"The outcomes database has no tables yet. {LOAD_HINT}")
        # The schema version rides on the latest load's read (null without schema_info,
        # which schema_problem then reports).
        version = (
            select(SchemaInfo.value).where(SchemaInfo.key == "schema_version").scalar_subquery()
            if "schema_info" in present
            else null()
        )
        last = db.read_frame(
            select(
                LoadRun.load_id,
                LoadRun.loaded_at,
                LoadRun.source,
                LoadRun.rows_loaded,
                LoadRun.data_through,
                version.label("schema_version"),
            )
            .order_by(LoadRun.load_id.desc())
            .limit(1),
            engine=engine,
        )
        key = None  # without a load, the check runs on every read
        if not last.empty:
            stored = last["schema_version"].iloc[0]
            schema = None if stored is None or pd.isna(stored) else str(stored)
            key = (str(engine.url), catalog, int(last["load_id"].iloc[0]), schema)
        problem = _schema_problem(engine, key)
        if problem is not None:  # summaries of other definitions are never read
            return DatabaseStatus(False, problem)
    except OutcomesError as exc:  # an unreachable server is a status, not a crash
        log.warning("The outcomes database cannot be read: %s", exc)
        return DatabaseStatus(False, exc.viewer_message, reachable=False)
    if last.empty:
        return DatabaseStatus(False, f"The outcomes database is empty. {LOAD_HINT}")
    row = last.iloc[0]
    sees_counts = viewer is not None and not viewer.is_partner
    # Stored by each load (table_counts): no scan of the claims on every cold page.
    has_counts = "table_counts" in present
    counts = db.table_rows(engine, has_counts=has_counts) if sees_counts else {}
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
