"""The summary tables of data contract version 2 on a hand-built world, on SQLite and
PostgreSQL, and the migration of a database built under version 1.

The expected rows were worked out by hand from tests/worlds_summaries_v2.py (see its docstring), not
read back from the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import BigInteger, Engine, MetaData, Table, inspect, select, update

from data_access import db
from data_access.errors import DatabaseNotReady
from data_access.loader import LoadError, load_directory
from data_access.models import SchemaInfo, enrollment_outcomes, monthly_summary
from tests.test_loader import GOOD, edit, write
from tests.worlds import build
from tests.worlds_summaries_v2 import SUMMARIES_V2_WORLD as V2_WORLD

KEYS = ["state_code", "month", "program_model"]
B, M = "behavioral", "medical"


@pytest.fixture
def world(engine: Engine) -> Engine:
    build(engine, V2_WORLD)
    return engine


def monthly(engine: Engine, states: tuple[str, ...], columns: list[str]) -> pd.DataFrame:
    """The monthly_summary rows of the states, one per state, month and program model."""
    table = monthly_summary.c
    statement = (
        select(*[table[c] for c in KEYS], *[table[c] for c in columns])
        .where(table.state_code.in_(states))
        .order_by(*[table[c] for c in KEYS])
    )
    with engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(statement)]
    return pd.DataFrame(rows, columns=[*KEYS, *columns]).astype({c: "int64" for c in columns})


def expected(columns: list[str], rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[*KEYS, *columns]).astype({c: "int64" for c in columns})


READMISSION_COLUMNS = [
    f"{measure}_{setting}"
    for measure in (
        "admissions",
        "discharges",
        "followed_discharges",
        "readmissions_30d",
        "readmissions_any_30d",
    )
    for setting in (B, M)
]


def test_followed_discharges_and_readmissions_of_the_same_and_any_setting(world: Engine) -> None:
    # Columns in pairs (behavioral, medical): admissions, discharges, followed discharges,
    # same-setting readmissions, any-setting readmissions.
    assert_frame = expected(
        READMISSION_COLUMNS,
        [
            # CO: X1 (day 30 before data-through) and X2 (on it) are followed, X2 readmitted by
            # an open medical stay 30 days later (any setting only); X3 (day 30 after it) is
            # not followed, so its open behavioral stay 18 days later is no readmission.
            ("CO", "2021-02", "not_enrolled", 2, 0, 2, 0, 2, 0, 0, 0, 1, 0),
            ("CO", "2021-03", "not_enrolled", 2, 1, 1, 0, 0, 0, 0, 0, 0, 0),
            # TX: readmissions at 0 days (none)...
            ("TX", "2020-01", "not_enrolled", 3, 1, 3, 1, 3, 1, 0, 0, 0, 0),
            # ... 1 day: the behavioral stay in the same setting, the medical one in any
            ("TX", "2020-02", "not_enrolled", 3, 1, 3, 1, 3, 1, 1, 0, 1, 1),
            # ... 30 days: the same; the readmission stays fall in the next month
            ("TX", "2020-04", "not_enrolled", 1, 1, 1, 1, 1, 1, 1, 0, 1, 1),
            ("TX", "2020-05", "not_enrolled", 2, 0, 2, 0, 2, 0, 0, 0, 0, 0),
            # ... 31 days: none
            ("TX", "2020-06", "not_enrolled", 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),
            ("TX", "2020-07", "not_enrolled", 2, 0, 2, 0, 2, 0, 0, 0, 0, 0),
        ],
    )
    pd.testing.assert_frame_equal(monthly(world, ("CO", "TX"), READMISSION_COLUMNS), assert_frame)


FOLLOW_UP_COLUMNS = [
    "followed_behavioral_discharges",
    "followups_7d",
    "followups_30d",
    "peer_contacts_1d",
]


def test_follow_up_and_peer_contact_after_behavioral_discharges(world: Engine) -> None:
    rows = [
        ("AZ", "2020-09", "not_enrolled", 0, 0, 0, 0),  # a medical stay: never counted
        ("CA", "2020-09", "not_enrolled", 1, 0, 0, 0),  # the discharge day is no follow-up
        ("CO", "2021-02", "not_enrolled", 2, 0, 1, 0),  # X1: 30 days later; X2: none
        ("CO", "2021-03", "not_enrolled", 0, 0, 0, 0),  # X3 not followed: its claim ignored
        ("FL", "2020-09", "not_enrolled", 1, 0, 0, 1),  # peer claims not behavioral, 2 -> 1
        ("GA", "2020-09", "not_enrolled", 1, 1, 1, 1),  # behavioral peer support, day after
        # 7 days later, a claim in the program joined after the stay: the stay's group
        ("IL", "2020-09", "embedded", 0, 0, 0, 0),
        ("IL", "2020-09", "not_enrolled", 1, 1, 1, 0),
        ("MI", "2020-09", "not_enrolled", 2, 0, 1, 0),  # 8 days later, during a later stay
        ("NC", "2020-09", "not_enrolled", 1, 0, 1, 0),  # 30 days later, in the next month
        ("NC", "2020-10", "not_enrolled", 0, 0, 0, 0),
        ("OH", "2020-09", "not_enrolled", 1, 0, 0, 0),  # 31 days later
        ("OH", "2020-10", "not_enrolled", 0, 0, 0, 0),
        ("PA", "2020-09", "not_enrolled", 1, 0, 0, 0),  # not behavioral, other categories
        ("WA", "2020-09", "not_enrolled", 2, 2, 2, 0),  # one claim serves two discharges
    ]
    states = tuple(sorted({row[0] for row in rows}))
    pd.testing.assert_frame_equal(
        monthly(world, states, FOLLOW_UP_COLUMNS), expected(FOLLOW_UP_COLUMNS, rows)
    )


def test_ed_visits_by_the_claims_flag_in_the_claims_month_and_group(world: Engine) -> None:
    columns = [f"ed_visits_{B}", f"ed_visits_{M}"]
    rows = [
        ("NY", "2019-12", "not_enrolled", 3, 0),
        ("NY", "2020-03", "not_enrolled", 0, 0),
        ("NY", "2020-06", "not_enrolled", 0, 0),
        ("NY", "2020-07", "care_advocacy", 0, 3),
        ("NY", "2020-09", "care_advocacy", 0, 0),
        ("NY", "2020-12", "care_advocacy", 1, 0),
        ("PA", "2020-09", "not_enrolled", 2, 4),
    ]
    pd.testing.assert_frame_equal(monthly(world, ("NY", "PA"), columns), expected(columns, rows))


OUTCOME_MEASURES = [c.name for c in enrollment_outcomes.columns if isinstance(c.type, BigInteger)]


def test_window_measures_of_each_enrollment(world: Engine) -> None:
    given = {
        # IL joined 2020-09-10: its stay of 2020-09-01 (4 days) is in the pre window, the
        # professional claim of 2020-09-12 (1 visit, USD 0) in the post window.
        "EIL": {
            f"pre_admissions_{B}": 1,
            f"pre_discharges_{B}": 1,
            f"pre_inpatient_days_{B}": 4,
            f"post_visits_{B}": 1,
        },
        # W joined 2020-07-01: pre window 2019-12-31 .. 2020-06-30, post .. 2020-12-30.
        "EW": {
            # the stay admitted 2020-06-20 keeps its 20 days and USD 1,000 though discharged
            # after the window; the open stay of 2020-12-01 counts its USD 500
            f"pre_admissions_{B}": 1,
            f"pre_discharges_{B}": 1,
            f"pre_inpatient_days_{B}": 20,
            f"pre_admission_paid_cents_{B}": 100000,
            f"post_admissions_{M}": 1,
            f"post_admission_paid_cents_{M}": 50000,
            # pre: emergency (2 visits, USD 20), pharmacy (USD 40), professional (USD 50),
            # outpatient not behavioral (USD 30)
            f"pre_service_paid_cents_{B}": 11000,
            f"pre_ed_visits_{B}": 2,
            f"pre_visits_{B}": 3,
            f"pre_visit_paid_cents_{B}": 7000,
            f"pre_service_paid_cents_{M}": 3000,
            f"pre_visits_{M}": 1,
            f"pre_visit_paid_cents_{M}": 3000,
            # post: emergency not behavioral (3 visits, USD 60), peer support (USD 70),
            # outpatient (2 visits, USD 80)
            f"post_service_paid_cents_{B}": 15000,
            f"post_visits_{B}": 2,
            f"post_visit_paid_cents_{B}": 8000,
            f"post_service_paid_cents_{M}": 6000,
            f"post_ed_visits_{M}": 3,
            f"post_visits_{M}": 3,
            f"post_visit_paid_cents_{M}": 6000,
        },
    }
    want = pd.DataFrame(
        [[values.get(c, 0) for c in OUTCOME_MEASURES] for values in given.values()],
        index=pd.Index(list(given), name="enrollment_id"),
        columns=OUTCOME_MEASURES,
    ).astype("int64")
    table = enrollment_outcomes.c
    with world.connect() as conn:
        rows = conn.execute(
            select(table.enrollment_id, *[table[c] for c in OUTCOME_MEASURES]).order_by(
                table.enrollment_id
            )
        ).all()
    got = pd.DataFrame([tuple(r) for r in rows], columns=["enrollment_id", *OUTCOME_MEASURES])
    pd.testing.assert_frame_equal(got.set_index("enrollment_id").astype("int64"), want)


# ---------------------------------------------------------------------------------------
# Migration: a database whose summaries were built under contract version 1

V1_MONTHLY = {
    *KEYS,
    "quarter",
    "year",
    "program_id",
    "primary_condition",
    "member_months",
    *(
        f"{m}_{s}"
        for m in (
            "admissions",
            "discharges",
            "inpatient_days",
            "readmissions_30d",
            "admission_paid_cents",
            "service_paid_cents",
        )
        for s in (B, M)
    ),
}
V1_OUTCOMES = {
    *(c.name for c in enrollment_outcomes.columns if not isinstance(c.type, BigInteger)),
    *(
        f"{w}_{m}_{s}"
        for w in ("pre", "post")
        for m in (
            "admissions",
            "discharges",
            "inpatient_days",
            "admission_paid_cents",
            "service_paid_cents",
        )
        for s in (B, M)
    ),
}


def summaries(engine: Engine) -> dict[str, pd.DataFrame]:
    """Every row of both summary tables, in a fixed order."""
    out = {}
    with engine.connect() as conn:
        for table in (monthly_summary, enrollment_outcomes):
            names = [c.name for c in table.columns]
            rows = conn.execute(select(table).order_by(*[table.c[n] for n in names[:7]])).all()
            out[table.name] = pd.DataFrame([tuple(r) for r in rows], columns=names)
    return out


def versions(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {row.key: row.value for row in conn.execute(select(SchemaInfo))}


def column_names(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def make_v1(engine: Engine) -> None:
    """Turn the database into one built under contract 1: the summary tables of schema
    version 2 (their v1 columns, with a stale readmission count) and its versions."""
    with engine.begin() as conn:
        for table, keep in ((monthly_summary, V1_MONTHLY), (enrollment_outcomes, V1_OUTCOMES)):
            old = Table(
                table.name, MetaData(), *[c._copy() for c in table.columns if c.name in keep]
            )
            rows = [dict(r._mapping) for r in conn.execute(select(*old.columns))]
            for row in rows:
                if "readmissions_30d_behavioral" in row:
                    row["readmissions_30d_behavioral"] += 1
            table.drop(conn)
            old.create(conn)
            if rows:
                conn.execute(old.insert(), rows)
        conn.execute(update(SchemaInfo).where(SchemaInfo.key == "schema_version").values(value="2"))
        conn.execute(
            update(SchemaInfo).where(SchemaInfo.key == "contract_version").values(value="1")
        )


def stale_rows(engine: Engine) -> list[tuple[Any, ...]]:
    """The v1 monthly rows' keys and their stale readmission counts."""
    table = monthly_summary.c
    with engine.connect() as conn:
        result = conn.execute(
            select(table.state_code, table.month, table.readmissions_30d_behavioral).order_by(
                table.state_code, table.month
            )
        )
        return [tuple(row) for row in result]


def assert_still_v1(engine: Engine, stale: list[tuple[Any, ...]]) -> None:
    assert versions(engine) == {"contract_version": "1", "schema_version": "2"}
    assert column_names(engine, "monthly_summary") == V1_MONTHLY
    assert column_names(engine, "enrollment_outcomes") == V1_OUTCOMES
    assert stale_rows(engine) == stale


def test_create_schema_rebuilds_summaries_of_an_older_contract(world: Engine) -> None:
    fresh = summaries(world)
    assert db.schema_problem(world) is None
    make_v1(world)
    problem = db.schema_problem(world)
    assert problem is not None
    assert problem.startswith("This database holds summaries of an older form")
    assert "`python -m data_access migrate`" in problem
    assert db.migrate(world) == (
        "Rebuilt the summaries from the loaded data: schema version 2 -> "
        "schema version 4, data contract version 2."
    )
    assert versions(world) == {"contract_version": "2", "schema_version": "4"}
    assert db.schema_problem(world) is None
    after = summaries(world)
    for name, frame in fresh.items():
        pd.testing.assert_frame_equal(after[name], frame)
    assert db.migrate(world) == (
        "The database is up to date (schema version 4, data contract version 2)."
    )


def test_a_failed_migration_leaves_the_older_database_as_it_was(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_v1(world)
    stale = stale_rows(world)
    assert len(stale) == 27  # TX 6, CO 2, the follow-up states 13, NY 6 rows

    def fail(conn: object) -> None:
        raise RuntimeError("rebuild failed")

    # The summary tables are dropped and created before the rebuild fails.
    monkeypatch.setattr(db, "rebuild_summaries", fail)
    with pytest.raises(RuntimeError, match="rebuild failed"):
        db.create_schema(world)
    assert_still_v1(world, stale)


def test_a_load_into_an_older_database_rebuilds_it_in_the_load(
    engine: Engine, tmp_path: Path
) -> None:
    good = write(tmp_path / "good", dict(GOOD))
    load_directory(good, engine=engine)
    fresh = summaries(engine)
    make_v1(engine)
    stale = stale_rows(engine)
    files: dict[str, str | bytes] = dict(GOOD)
    edit("services.csv", "C3,M3", "C3,M9")(files)
    with pytest.raises(LoadError):
        load_directory(write(tmp_path / "bad", files), engine=engine)
    assert_still_v1(engine, stale)  # the refused load rolled the migration back
    load_directory(good, engine=engine)
    assert versions(engine) == {"contract_version": "2", "schema_version": "4"}
    after = summaries(engine)
    for name, frame in fresh.items():
        pd.testing.assert_frame_equal(after[name], frame)


def test_a_newer_database_is_neither_read_nor_loaded(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(update(SchemaInfo).where(SchemaInfo.key == "schema_version").values(value="5"))
    expected_problem = (
        "This database was built by a newer version of the dashboard (schema version 5; "
        "this one knows 4). Use the newer version."
    )
    assert db.schema_problem(engine) == expected_problem
    assert db.migrate(engine) == f"{expected_problem} Nothing was changed."
    with pytest.raises(DatabaseNotReady, match="newer version"):
        load_directory(write(tmp_path / "good", dict(GOOD)), engine=engine)
    assert versions(engine)["schema_version"] == "5"


def test_a_new_database_gets_the_current_versions(database_url: str) -> None:
    engine = db.get_engine(database_url)
    assert db.schema_problem(engine) is None  # nothing loaded: has_schema's case
    assert db.migrate(engine) == (
        "Created the outcomes tables (schema version 4, data contract version 2)."
    )
    assert versions(engine) == {"contract_version": "2", "schema_version": "4"}
    db.dispose_engines()
