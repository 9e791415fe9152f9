"""access.py on SQLite and PostgreSQL: grants, revocations, state scoping, the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import Engine, insert, select

from data_access import access
from data_access.access import LOCAL_VIEWER, AccessError, Viewer
from data_access.filters import OutcomeFilter
from data_access.models import State, ViewerState

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
ADMIN = Viewer(email="admin@example.org", role="admin")
LEADERSHIP = Viewer(email="lead@example.org", role="leadership")
PARTNER = Viewer(email="partner@example.org", role="state_partner", states=("NM", "TX"))
GRANT_COLUMNS = ["email", "role", "states", "granted_at", "granted_by"]


class Clock:
    """access's clock, fixed: each reading is a minute after the last, from `next`."""

    def __init__(self) -> None:
        self.next = T0

    def at(self, moment: dt.datetime) -> None:
        self.next = moment

    def __call__(self) -> dt.datetime:
        moment = self.next
        self.next += dt.timedelta(minutes=1)
        return moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(access, "utc_now", clock)
    return clock


def minutes(*offsets: int) -> pd.Series:
    """Times T0 + offset minutes, as `comparable` gives them."""
    return pd.Series(
        pd.to_datetime([T0 + dt.timedelta(minutes=m) for m in offsets], utc=True)
    ).dt.as_unit("us")


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Times in UTC (SQLite returns them without a zone, PostgreSQL in the server's zone) and
    `rows` as nullable integers (pandas makes floats of integers beside a None)."""
    out = frame.copy()
    for column in ("granted_at", "occurred_at"):
        if column in out:
            out[column] = pd.to_datetime(out[column], utc=True).dt.as_unit("us")
    if "rows" in out:
        out["rows"] = out["rows"].astype("Int64")
    return out


def audit_frame(
    *,
    at: Sequence[int],
    email: list[str],
    event: list[str],
    detail: list[str | None],
    role: list[str | None] | None = None,
    dataset: list[str | None] | None = None,
    filters: list[str | None] | None = None,
    rows: list[int | None] | None = None,
    suppressed: list[bool | None] | None = None,
) -> pd.DataFrame:
    count = len(at)

    def column(values: Sequence[object] | None) -> pd.Series:
        # pandas infers the dtype as from the database's rows: str, or object for all None.
        return pd.Series([None] * count if values is None else values)

    return pd.DataFrame(
        {
            "occurred_at": minutes(*at),
            "email": email,
            "role": column(role),
            "event": event,
            "dataset": column(dataset),
            "filters": column(filters),
            "rows": pd.Series(rows if rows is not None else [None] * count, dtype="Int64"),
            "suppressed": column(suppressed),
            "detail": column(detail),
        }
    )


def audit_rows(engine: Engine, **query: object) -> pd.DataFrame:
    return comparable(access.audit_log(viewer=ADMIN, engine=engine, **query))  # type: ignore[arg-type]


def load_states(engine: Engine, *codes: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(State), [{"state_code": c, "state_name": c} for c in codes])


def held_states(engine: Engine, email: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(ViewerState.state_code)
            .where(ViewerState.email == email)
            .order_by(ViewerState.state_code)
        )
        return list(rows.scalars())


# -- grants ----------------------------------------------------------------------------------


def test_grant_revoke_and_list_round_trip(engine: Engine, clock: Clock) -> None:
    empty = access.list_grants(engine=engine)
    assert list(empty.columns) == GRANT_COLUMNS and empty.empty

    # A new grant takes two readings of the clock (granted_at, then its audit row).
    partner = access.grant(
        email=" Partner@Example.org ",
        role="state_partner",
        states=["tx", "NM"],
        granted_by="cli:ops",
        engine=engine,
    )  # T0, T0+1
    assert partner == PARTNER
    lead = access.grant(
        email="lead@example.org", role="leadership", granted_by="cli:ops", engine=engine
    )  # +2, +3
    assert lead == LEADERSHIP
    # Same role again: the states are added, the grant keeps its time (only an audit row, +4).
    wider = access.grant(
        email="partner@example.org",
        role="state_partner",
        states=["AZ"],
        granted_by="cli:ops",
        engine=engine,
    )
    assert wider.states == ("AZ", "NM", "TX")

    expected = pd.DataFrame(
        {
            "email": ["lead@example.org", "partner@example.org"],
            "role": ["leadership", "state_partner"],
            "states": ["", "AZ, NM, TX"],
            "granted_at": minutes(2, 0),
            "granted_by": ["cli:ops", "cli:ops"],
        }
    )
    assert_frame_equal(comparable(access.list_grants(engine=engine)), expected)

    after = access.revoke(
        email="partner@example.org", states=["nm"], revoked_by="admin@example.org", engine=engine
    )  # +5
    assert after == Viewer(email="partner@example.org", role="state_partner", states=("AZ", "TX"))
    gone = access.revoke(
        email="LEAD@example.org", revoked_by="admin@example.org", engine=engine
    )  # +6
    assert gone is None
    assert access.viewer_for("lead@example.org", engine=engine) is None

    assert_frame_equal(
        comparable(access.list_grants(engine=engine)),
        pd.DataFrame(
            {
                "email": ["partner@example.org"],
                "role": ["state_partner"],
                "states": ["AZ, TX"],
                "granted_at": minutes(0),
                "granted_by": ["cli:ops"],
            }
        ),
    )
    # Every grant and revocation is in the audit log, by whoever made it.
    assert_frame_equal(
        audit_rows(engine),
        audit_frame(
            at=[6, 5, 4, 3, 1],
            email=["admin@example.org", "admin@example.org", "cli:ops", "cli:ops", "cli:ops"],
            event=["revoke", "revoke", "grant", "grant", "grant"],
            detail=[
                "lead@example.org: all access",
                "partner@example.org: NM",
                "partner@example.org: state_partner AZ",
                "lead@example.org: leadership",
                "partner@example.org: state_partner NM, TX",
            ],
        ),
    )


def test_a_role_change_replaces_the_states(engine: Engine, clock: Clock) -> None:
    email = "partner@example.org"
    access.grant(
        email=email, role="state_partner", states=["TX", "NM"], granted_by="a", engine=engine
    )
    made_lead = access.grant(email=email, role="leadership", granted_by="b", engine=engine)
    assert made_lead == Viewer(email=email, role="leadership")
    assert held_states(engine, email) == []
    back = access.grant(
        email=email, role="state_partner", states=["AZ"], granted_by="c", engine=engine
    )
    assert back == Viewer(email=email, role="state_partner", states=("AZ",))
    assert held_states(engine, email) == ["AZ"]
    assert_frame_equal(
        comparable(access.list_grants(engine=engine)),
        pd.DataFrame(
            {
                "email": [email],
                "role": ["state_partner"],
                "states": ["AZ"],
                "granted_at": minutes(4),  # a new grant: the old one went with its role
                "granted_by": ["c"],
            }
        ),
    )


def test_revoking_the_last_state_removes_the_grant(engine: Engine, clock: Clock) -> None:
    email = "partner@example.org"
    access.grant(email=email, role="state_partner", states=["TX"], granted_by="a", engine=engine)
    assert access.revoke(email=email, states=["TX"], revoked_by="b", engine=engine) is None
    assert access.viewer_for(email, engine=engine) is None
    assert access.list_grants(engine=engine).empty
    assert held_states(engine, email) == []
    assert list(audit_rows(engine)["detail"]) == [
        "partner@example.org: TX",
        "partner@example.org: state_partner TX",
    ]


@pytest.mark.parametrize(
    ("email", "role", "states", "message"),
    [
        ("not-an-address", "leadership", [], "'not-an-address' is not an e-mail address"),
        ("a@b", "leadership", [], "'a@b' is not an e-mail address"),
        ("p@example.org", "state_partner", [], "a state partner needs at least one --state"),
        ("l@example.org", "leadership", ["TX"], "leadership sees every state; leave out --state"),
        ("a@example.org", "admin", ["TX"], "admin sees every state; leave out --state"),
        (
            "x@example.org",
            "boss",
            [],
            "unknown role 'boss'; choose from leadership, state_partner, admin",
        ),
        ("p@example.org", "state_partner", ["Texas"], "state codes are two letters; got TEXAS"),
    ],
)
def test_a_grant_that_makes_no_sense_is_refused_and_changes_nothing(
    engine: Engine, email: str, role: str, states: list[str], message: str
) -> None:
    with pytest.raises(AccessError) as refused:
        access.grant(email=email, role=role, states=states, granted_by="a", engine=engine)  # type: ignore[arg-type]
    assert str(refused.value) == message
    assert access.list_grants(engine=engine).empty
    assert audit_rows(engine).empty


def test_unknown_states_are_refused_once_states_are_loaded(engine: Engine) -> None:
    # Before the first load there is nothing to check a code against: the grant is kept.
    early = access.grant(
        email="p@example.org", role="state_partner", states=["ZZ"], granted_by="a", engine=engine
    )
    assert early.states == ("ZZ",)
    load_states(engine, "TX", "NM")
    with pytest.raises(AccessError) as refused:
        access.grant(
            email="q@example.org",
            role="state_partner",
            states=["TX", "ZZ", "YY"],
            granted_by="a",
            engine=engine,
        )
    assert str(refused.value) == "no state YY, ZZ in the outcomes database (it has NM, TX)"
    assert access.viewer_for("q@example.org", engine=engine) is None
    known = access.grant(
        email="q@example.org", role="state_partner", states=["tx"], granted_by="a", engine=engine
    )
    assert known.states == ("TX",)


@pytest.mark.parametrize(
    ("email", "states", "message"),
    [
        ("nobody@example.org", [], "nobody@example.org has no grant"),
        ("partner@example.org", ["AZ"], "partner@example.org holds no grant for AZ"),
        (
            "lead@example.org",
            ["TX"],
            "lead@example.org is leadership, which has no state list; revoke without --state",
        ),
        ("not an address", [], "'not an address' is not an e-mail address"),
    ],
)
def test_a_revocation_that_cannot_be_made_is_refused(
    engine: Engine, email: str, states: list[str], message: str
) -> None:
    access.grant(
        email="partner@example.org",
        role="state_partner",
        states=["TX"],
        granted_by="a",
        engine=engine,
    )
    access.grant(email="lead@example.org", role="leadership", granted_by="a", engine=engine)
    before = access.list_grants(engine=engine)
    with pytest.raises(AccessError) as refused:
        access.revoke(email=email, states=states, revoked_by="b", engine=engine)
    assert str(refused.value) == message
    assert_frame_equal(access.list_grants(engine=engine), before)
    assert list(audit_rows(engine)["event"]) == ["grant", "grant"]


def test_viewer_for(engine: Engine) -> None:
    assert access.viewer_for("stranger@example.org", engine=engine) is None
    assert access.viewer_for("not an address", engine=engine) is None
    access.grant(
        email="partner@example.org",
        role="state_partner",
        states=["TX", "NM"],
        granted_by="a",
        engine=engine,
    )
    assert access.viewer_for(" Partner@EXAMPLE.org", engine=engine) == PARTNER


# -- scoping ---------------------------------------------------------------------------------

MONTHS = {"month_from": "2019-01", "month_to": "2020-12", "setting": "behavioral"}


@pytest.mark.parametrize(
    ("viewer", "asked", "scoped", "dropped"),
    [
        # A partner's "every state" is the grant.
        (PARTNER, None, ("NM", "TX"), ()),
        (PARTNER, ("TX",), ("TX",), ()),
        # Asked-for states outside the grant are dropped and reported.
        (PARTNER, ("AZ", "TX"), ("TX",), ("AZ",)),
        (PARTNER, ("AZ", "CO"), (), ("AZ", "CO")),
        # Roles that see every state keep the filter as asked.
        (LEADERSHIP, None, None, ()),
        (LEADERSHIP, ("AZ",), ("AZ",), ()),
        (ADMIN, ("AZ", "TX"), ("AZ", "TX"), ()),
        (LOCAL_VIEWER, None, None, ()),
    ],
)
def test_scope_filter(
    viewer: Viewer,
    asked: tuple[str, ...] | None,
    scoped: tuple[str, ...] | None,
    dropped: tuple[str, ...],
) -> None:
    filters = OutcomeFilter(states=asked, program_models=("whole_health",), **MONTHS)
    assert access.scope_filter(filters, viewer) == (
        OutcomeFilter(states=scoped, program_models=("whole_health",), **MONTHS),
        dropped,
    )


def test_national_filter_pools_every_state_and_drops_programs() -> None:
    filters = OutcomeFilter(
        states=("TX",),
        program_ids=("P1",),
        program_models=("embedded", "not_enrolled"),
        conditions=("substance_use",),
        **MONTHS,
    )
    assert access.national_filter(filters) == OutcomeFilter(
        program_models=("embedded", "not_enrolled"), conditions=("substance_use",), **MONTHS
    )


@pytest.mark.parametrize(
    ("viewer", "small_cells", "suppress"),
    [
        (PARTNER, "show", True),
        (PARTNER, "suppress", True),
        (LEADERSHIP, "show", False),
        (LEADERSHIP, "suppress", True),
        (ADMIN, "show", False),
        (ADMIN, "suppress", True),
        (LOCAL_VIEWER, "show", False),
    ],
)
def test_must_suppress(viewer: Viewer, small_cells: access.SmallCells, suppress: bool) -> None:
    assert access.must_suppress(viewer, small_cells) is suppress


# -- the audit log ---------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", [LEADERSHIP, PARTNER, LOCAL_VIEWER])
def test_only_an_admin_reads_the_audit_log(engine: Engine, viewer: Viewer) -> None:
    with pytest.raises(PermissionError, match=r"^Only an admin viewer may read the audit log\.$"):
        access.audit_log(viewer=viewer, engine=engine)


def test_record_event_writes_exactly_the_row(engine: Engine, clock: Clock) -> None:
    filters = OutcomeFilter(states=("TX",), month_from="2020-01", month_to="2020-12")
    access.record_event(
        email="partner@example.org", role="state_partner", event="sign_in", engine=engine
    )
    access.record_event(
        email="partner@example.org",
        role="state_partner",
        event="download",
        dataset="monthly",
        filters=filters,
        rows=42,
        suppressed=True,
        engine=engine,
    )
    access.record_event(
        email="stranger@example.org", event="access_refused", detail="no grant", engine=engine
    )
    with pytest.raises(ValueError, match=r"^unknown audit event 'hack'$"):
        access.record_event(email="x@example.org", event="hack", engine=engine)  # type: ignore[arg-type]
    assert_frame_equal(
        audit_rows(engine),
        audit_frame(
            at=[2, 1, 0],
            email=["stranger@example.org", "partner@example.org", "partner@example.org"],
            role=[None, "state_partner", "state_partner"],
            event=["access_refused", "download", "sign_in"],
            dataset=[None, "monthly", None],
            filters=[None, filters.model_dump_json(), None],
            rows=[None, 42, None],
            suppressed=[None, True, None],
            detail=["no grant", None, None],
        ),
    )


def test_audit_log_filters_by_day_email_and_event(engine: Engine, clock: Clock) -> None:
    def record(moment: dt.datetime, email: str, event: access.AuditEventName) -> None:
        clock.at(moment)
        access.record_event(email=email, event=event, engine=engine)

    late = dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.UTC)
    midnight = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)
    later = dt.datetime(2026, 3, 3, 12, 0, tzinfo=dt.UTC)
    record(late, "Partner@Example.org", "sign_in")
    record(midnight, "lead@example.org", "download")
    record(later, "partner@example.org", "download")

    def emails(**query: object) -> list[str]:
        return list(audit_rows(engine, **query)["email"])

    everyone = ["partner@example.org", "lead@example.org", "Partner@Example.org"]
    assert emails() == everyone  # newest first
    # Days are whole UTC days, both ends included.
    assert emails(since=dt.date(2026, 3, 2)) == everyone[:2]
    assert emails(until=dt.date(2026, 3, 1)) == everyone[2:]
    assert emails(since=dt.date(2026, 3, 2), until=dt.date(2026, 3, 2)) == ["lead@example.org"]
    assert emails(since=dt.date(2026, 3, 4)) == []
    # A part of the address, in any case.
    assert emails(email="PARTNER") == ["partner@example.org", "Partner@Example.org"]
    assert emails(email=" lead@") == ["lead@example.org"]
    assert emails(events=["download"]) == everyone[:2]
    assert emails(events=["sign_in", "grant"]) == everyone[2:]
    assert emails(events=[]) == []
    assert emails(email="partner", events=["download"], since=dt.date(2026, 3, 3)) == [
        "partner@example.org"
    ]
    assert emails(limit=2) == everyone[:2]
    nothing_found = access.audit_log(viewer=ADMIN, events=[], engine=engine)
    assert list(nothing_found.columns) == list(access.AUDIT_COLUMNS)
