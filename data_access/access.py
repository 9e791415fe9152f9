"""Who may see what: viewers and their grants, state scoping, and the audit log.

A viewer is identified by the e-mail address the sign-in provider vouches for. Grants live
in the outcomes database (`viewers`, `viewer_states`) and are managed with
`python -m data_access access grant|revoke|list`. Every query function of `queries` takes
the viewer and calls `scope_filter` before any SQL runs, so a state partner's filter can only
narrow the states granted, whatever the page, the URL or the command line asked for.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Final

import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from sqlalchemy import Engine, delete, func, insert, inspect, select

from data_access import db
from data_access.errors import DisclosureRefused, InputError
from data_access.filters import OutcomeFilter
from data_access.models import ACCESS_TABLES, AuditEvent, State, ViewerGrant, ViewerState
from data_access.vocabulary import (
    AUDIT_EVENTS,
    NOT_ENROLLED,
    PRIMARY_CONDITIONS,
    PROGRAM_MODELS,
    ROLES,
    AuditEventName,
    Role,
    SmallCells,
    bad_state_codes,
    utc_now,
)

LOCAL_EMAIL: Final = "local"
EMAIL_PATTERN: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
AUDIT_COLUMNS: Final = (
    "occurred_at",
    "email",
    "role",
    "event",
    "dataset",
    "filters",
    "rows",
    "suppressed",
    "detail",
)


class AccessError(InputError):
    """A grant or revocation that cannot be made; the message says why."""


class Viewer(BaseModel):
    """The person a page, a download or an export is for.

    `states` is the grant of a state partner (one or more state codes) and None for the
    roles that see every state. `local` marks the viewer of local mode (no sign-in
    configured, loopback address only), who acts as leadership.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str
    role: Role
    states: tuple[str, ...] | None = None
    local: bool = False

    @field_validator("states", mode="before")
    @classmethod
    def _sorted_unique(cls, values: object) -> object:
        if values is None or isinstance(values, str):
            return values
        return tuple(sorted(set(values)))  # type: ignore[call-overload]

    @model_validator(mode="after")
    def _states_match_role(self) -> Viewer:
        if self.role == "state_partner" and not self.states:
            raise ValueError("a state partner needs at least one granted state")
        if self.role != "state_partner" and self.states is not None:
            raise ValueError(f"a {self.role} viewer sees every state; grant no states")
        return self

    @property
    def is_partner(self) -> bool:
        return self.role == "state_partner"

    @property
    def may_audit(self) -> bool:
        return self.role == "admin"

    @property
    def may_unsuppress(self) -> bool:
        return self.role in ("leadership", "admin")

    def sees_state(self, state_code: str) -> bool:
        return self.states is None or state_code in self.states

    def describe(self) -> str:
        if self.local:
            return "local mode (no sign-in), as leadership"
        if self.states:
            return f"{self.email}, state partner for {', '.join(self.states)}"
        return f"{self.email}, {self.role}"


LOCAL_VIEWER: Final = Viewer(email=LOCAL_EMAIL, role="leadership", local=True)


def must_suppress(viewer: Viewer, small_cells: SmallCells) -> bool:
    """Partners never see small cells; others only when they ask to ("show")."""
    return viewer.is_partner or small_cells == "suppress" or not viewer.may_unsuppress


def scope_filter(filters: OutcomeFilter, viewer: Viewer) -> tuple[OutcomeFilter, tuple[str, ...]]:
    """The filter narrowed to the viewer's states, and the states it asked for but may not see.

    A partner's "all states" (None) becomes the granted states; an asked-for state outside the
    grant is dropped. Programs need no check of their own: every query restricts programs by
    state as well. A partner's combination outside the choices of `partner_choice_problem`
    raises DisclosureRefused with the reason.
    """
    if viewer.states is None:
        return filters, ()
    granted = viewer.states
    dropped: tuple[str, ...] = ()
    if filters.states is None:
        scoped = filters.model_copy(update={"states": granted})
    else:
        kept = tuple(s for s in filters.states if s in granted)
        dropped = tuple(s for s in filters.states if s not in granted)
        scoped = filters.model_copy(update={"states": kept})
    if scoped.conditions is not None and set(scoped.conditions) == set(PRIMARY_CONDITIONS):
        scoped = scoped.model_copy(update={"conditions": None})
    problem = partner_choice_problem(scoped, viewer)
    if problem:
        raise DisclosureRefused(problem)
    return scoped, dropped


PARTNER_CHOICES: Final = (
    "a state partner chooses, in each filter, everything or exactly one value (one of the "
    "states of the grant or all of them; one program model or all; one program or all; one "
    "primary condition or all), an inpatient setting, and whole calendar years"
)


def _models_allowed(models: tuple[str, ...]) -> bool:
    enrolled = [m for m in models if m != NOT_ENROLLED]
    return len(enrolled) <= 1 or set(enrolled) == set(PROGRAM_MODELS)


def partner_choice_problem(filters: OutcomeFilter, viewer: Viewer) -> str | None:
    """Why a state partner may not ask for these filters, in plain words; None if they may.

    Partners choose from a lattice (PARTNER_CHOICES): with everything-or-one choices, two
    views differ by whole values of a filter, and the differencing rule of `queries` checks
    each view against every wider one a partner can ask for (docs/disclosure.md). Any
    other viewer may ask for anything.
    """
    if not viewer.is_partner:
        return None
    problems = []
    granted = viewer.states or ()
    if (
        filters.states is not None
        and len(filters.states) > 1
        and set(filters.states) != set(granted)
    ):
        problems.append("one of your states or all of them")
    if not _models_allowed(filters.program_models):
        problems.append("one program model or all of them")
    if filters.program_ids is not None and len(filters.program_ids) > 1:
        problems.append("one program or all of them")
    if (
        filters.conditions is not None
        and len(filters.conditions) > 1
        and set(filters.conditions) != set(PRIMARY_CONDITIONS)
    ):
        problems.append("one primary condition or all of them")
    if (filters.month_from is not None and not filters.month_from.endswith("-01")) or (
        filters.month_to is not None and not filters.month_to.endswith("-12")
    ):
        problems.append("whole calendar years (January to December)")
    if not problems:
        return None
    return (
        "This combination of filters is not available to state partners: choose "
        + "; ".join(problems)
        + ". Two views that differ by part of a filter could be subtracted to reveal a "
        "count that small-cell suppression hides (see About the data)."
    )


def impact_scope(filters: OutcomeFilter, viewer: Viewer) -> OutcomeFilter:
    """The impact evaluation a viewer gets: a state partner one evaluation, over every
    program, condition, enrollment month and setting of the grant, whatever the filters
    (two evaluations of overlapping enrollments could be subtracted; docs/disclosure.md)."""
    if not viewer.is_partner:
        return filters
    return OutcomeFilter(states=viewer.states)


def national_filter(filters: OutcomeFilter) -> OutcomeFilter:
    """The filters over every state pooled: the one national figure a partner may see.

    Programs are dropped too, since each belongs to one state; models, conditions, months and
    the setting stay.
    """
    return filters.model_copy(update={"states": None, "program_ids": None})


# ---------------------------------------------------------------------------------------
# Grants


_READY: set[str] = set()


def ensure_access_tables(engine: Engine) -> None:
    """Create the access tables when missing (a database of schema version 1 lacks them)."""
    key = engine.url.render_as_string(hide_password=False)
    if key in _READY:
        return
    inspector = inspect(engine)
    if not all(inspector.has_table(model.__tablename__) for model in ACCESS_TABLES):
        db.create_schema(engine)
    _READY.add(key)


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not EMAIL_PATTERN.match(cleaned):
        raise AccessError(f"{email!r} is not an e-mail address")
    return cleaned


def state_list(states: Sequence[str]) -> tuple[str, ...]:
    """State codes as typed (any case, spaces), sorted and checked; AccessError names the bad."""
    codes = tuple(sorted({s.strip().upper() for s in states}))
    bad = bad_state_codes(codes)
    if bad:
        raise AccessError(f"state codes are two letters; got {', '.join(bad)}")
    return codes


def grant_request(role: str, states: Sequence[str] | None) -> tuple[Role, tuple[str, ...]]:
    """The role and state codes of a grant, checked without the database: a partner needs
    states, the other roles take none."""
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
    codes = state_list(states or ())
    if role == "state_partner" and not codes:
        raise AccessError("a state partner needs at least one --state")
    if role != "state_partner" and codes:
        raise AccessError(f"{role} sees every state; leave out --state")
    return role, codes


def _check_states(states: Sequence[str], engine: Engine) -> tuple[str, ...]:
    codes = state_list(states)
    known = set(db.read_frame(select(State.state_code), engine=engine)["state_code"])
    unknown = [s for s in codes if known and s not in known]
    if unknown:
        raise AccessError(
            f"no state {', '.join(unknown)} in the outcomes database "
            f"(it has {', '.join(sorted(known))})"
        )
    return codes


def viewer_for(email: str, *, engine: Engine | None = None) -> Viewer | None:
    """The granted viewer of this e-mail address, or None when it has no grant."""
    engine = engine if engine is not None else db.get_engine()
    ensure_access_tables(engine)
    try:
        address = normalise_email(email)
    except AccessError:
        return None
    grant = db.read_frame(
        select(ViewerGrant.role).where(ViewerGrant.email == address), engine=engine
    )
    if grant.empty:
        return None
    role = str(grant["role"].iloc[0])
    states = None
    if role == "state_partner":
        rows = db.read_frame(
            select(ViewerState.state_code).where(ViewerState.email == address), engine=engine
        )
        states = tuple(rows["state_code"])
        if not states:
            return None
    return Viewer(email=address, role=role, states=states)


def grant(
    *,
    email: str,
    role: Role,
    states: Sequence[str] = (),
    granted_by: str,
    engine: Engine | None = None,
) -> Viewer:
    """Give `email` a role; for a state partner, add `states` to the states granted.

    Changing the role replaces the old grant (a partner made leadership loses the state list).
    """
    engine = engine if engine is not None else db.get_engine()
    ensure_access_tables(engine)
    role, codes = grant_request(role, states)
    address = normalise_email(email)
    codes = _check_states(codes, engine) if codes else ()
    with engine.begin() as conn:
        current = conn.execute(
            select(ViewerGrant.role).where(ViewerGrant.email == address)
        ).scalar_one_or_none()
        if current is not None and current != role:
            conn.execute(delete(ViewerState).where(ViewerState.email == address))
            conn.execute(delete(ViewerGrant).where(ViewerGrant.email == address))
            current = None
        if current is None:
            conn.execute(
                insert(ViewerGrant).values(
                    email=address, role=role, granted_at=utc_now(), granted_by=granted_by
                )
            )
        held = set(
            conn.execute(
                select(ViewerState.state_code).where(ViewerState.email == address)
            ).scalars()
        )
        new = [code for code in codes if code not in held]
        if new:
            conn.execute(
                insert(ViewerState), [{"email": address, "state_code": code} for code in new]
            )
        conn.execute(
            insert(AuditEvent).values(
                occurred_at=utc_now(),
                email=granted_by,
                event="grant",
                detail=f"{address}: {role}" + (f" {', '.join(codes)}" if codes else ""),
            )
        )
    viewer = viewer_for(address, engine=engine)
    assert viewer is not None
    return viewer


def revoke(
    *,
    email: str,
    states: Sequence[str] = (),
    revoked_by: str,
    engine: Engine | None = None,
) -> Viewer | None:
    """Take `states` from a partner, or with no states the whole grant; the viewer after it.

    A partner left with no state loses the grant altogether.
    """
    engine = engine if engine is not None else db.get_engine()
    ensure_access_tables(engine)
    address = normalise_email(email)
    codes = state_list(states)
    with engine.begin() as conn:
        role = conn.execute(
            select(ViewerGrant.role).where(ViewerGrant.email == address)
        ).scalar_one_or_none()
        if role is None:
            raise AccessError(f"{address} has no grant")
        if codes and role != "state_partner":
            raise AccessError(
                f"{address} is {role}, which has no state list; revoke without --state"
            )
        if codes:
            held = set(
                conn.execute(
                    select(ViewerState.state_code).where(ViewerState.email == address)
                ).scalars()
            )
            missing = [c for c in codes if c not in held]
            if missing:
                raise AccessError(f"{address} holds no grant for {', '.join(missing)}")
            conn.execute(
                delete(ViewerState).where(
                    ViewerState.email == address, ViewerState.state_code.in_(codes)
                )
            )
            left = conn.execute(
                select(func.count()).select_from(ViewerState).where(ViewerState.email == address)
            ).scalar_one()
        else:
            left = 0
        if not left:
            conn.execute(delete(ViewerState).where(ViewerState.email == address))
            conn.execute(delete(ViewerGrant).where(ViewerGrant.email == address))
        conn.execute(
            insert(AuditEvent).values(
                occurred_at=utc_now(),
                email=revoked_by,
                event="revoke",
                detail=f"{address}: " + (", ".join(codes) if codes else "all access"),
            )
        )
    return viewer_for(address, engine=engine)


def list_grants(*, engine: Engine | None = None) -> pd.DataFrame:
    """Columns: `email`, `role`, `states` (comma-separated, empty for all), `granted_at`,
    `granted_by`; ordered by email."""
    engine = engine if engine is not None else db.get_engine()
    ensure_access_tables(engine)
    grants = db.read_frame(
        select(ViewerGrant.email, ViewerGrant.role, ViewerGrant.granted_at, ViewerGrant.granted_by),
        engine=engine,
    )
    states = db.read_frame(select(ViewerState.email, ViewerState.state_code), engine=engine)
    joined = (
        states.sort_values(["email", "state_code"])
        .groupby("email")["state_code"]
        .agg(", ".join)
        .rename("states")
    )
    out = grants.merge(joined, left_on="email", right_index=True, how="left")
    out["states"] = out["states"].fillna("")
    # SQLite hands back naive times, PostgreSQL the server's zone: both are UTC instants.
    out["granted_at"] = pd.to_datetime(out["granted_at"], utc=True)
    columns = ["email", "role", "states", "granted_at", "granted_by"]
    return out[columns].sort_values("email").reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Audit log


def record_event(
    *,
    email: str,
    event: AuditEventName,
    role: str | None = None,
    dataset: str | None = None,
    filters: OutcomeFilter | None = None,
    rows: int | None = None,
    suppressed: bool | None = None,
    detail: str | None = None,
    engine: Engine | None = None,
) -> None:
    """Append one row to the audit log."""
    if event not in AUDIT_EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    engine = engine if engine is not None else db.get_engine()
    ensure_access_tables(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(AuditEvent).values(
                occurred_at=utc_now(),
                email=email,
                role=role,
                event=event,
                dataset=dataset,
                filters=None if filters is None else filters.model_dump_json(),
                rows=rows,
                suppressed=suppressed,
                detail=detail,
            )
        )


def record_download(
    *,
    viewer: Viewer,
    dataset: str,
    rows: int,
    suppressed: bool | None,
    filters: OutcomeFilter | None = None,
    detail: str | None = None,
    engine: Engine | None = None,
) -> None:
    """Audit one download or export: who, what, which filters, how many rows, suppressed."""
    record_event(
        email=viewer.email,
        role=viewer.role,
        event="download",
        dataset=dataset,
        filters=filters,
        rows=rows,
        suppressed=suppressed,
        detail=detail,
        engine=engine,
    )


def audit_query_words(
    source: str,
    since: dt.date | None,
    until: dt.date | None,
    email: str | None,
    events: Sequence[str] | None,
) -> str:
    """The audit rows asked for, in words: the detail of the audit row of a reading of the
    log. No events chosen means every event."""
    parts = [f"since {since}"] if since else []
    parts += [f"until {until}"] if until else []
    parts += [f"email contains {email!r}"] if email else []
    parts += [f"events {', '.join(events)}"] if events else []
    return f"{source}: " + ("; ".join(parts) or "the whole log")


def audit_log(
    *,
    viewer: Viewer,
    since: dt.date | None = None,
    until: dt.date | None = None,
    email: str | None = None,
    events: Sequence[str] | None = None,
    limit: int = 10_000,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The newest audit rows first, for an admin viewer only.

    Columns: AUDIT_COLUMNS. `since` and `until` are inclusive days (UTC); `email` matches a
    part of the address, case-insensitively.
    """
    if not viewer.may_audit:
        raise PermissionError("Only an admin viewer may read the audit log.")
    engine = engine if engine is not None else db.get_engine()
    ensure_access_tables(engine)
    statement = select(*[getattr(AuditEvent, column) for column in AUDIT_COLUMNS])
    if since is not None:
        start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
        statement = statement.where(AuditEvent.occurred_at >= start)
    if until is not None:
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        statement = statement.where(AuditEvent.occurred_at < end)
    if email:
        statement = statement.where(
            func.lower(AuditEvent.email).contains(email.strip().lower(), autoescape=True)
        )
    if events is not None:
        statement = statement.where(AuditEvent.event.in_(list(events)))
    statement = statement.order_by(AuditEvent.event_id.desc()).limit(limit)
    frame = db.read_frame(statement, engine=engine)
    if frame.empty:
        frame = pd.DataFrame({column: pd.Series(dtype="object") for column in AUDIT_COLUMNS})
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    frame["rows"] = pd.to_numeric(frame["rows"]).astype("Int64")
    return frame


__all__ = [
    "AUDIT_COLUMNS",
    "LOCAL_VIEWER",
    "AccessError",
    "Role",
    "SmallCells",
    "Viewer",
    "audit_log",
    "ensure_access_tables",
    "grant",
    "impact_scope",
    "list_grants",
    "must_suppress",
    "national_filter",
    "normalise_email",
    "partner_choice_problem",
    "record_download",
    "record_event",
    "revoke",
    "scope_filter",
    "viewer_for",
]
