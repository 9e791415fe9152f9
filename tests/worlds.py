"""Small hand-built outcomes databases with known answers, written straight into the tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, insert

from data_access.models import (
    Admission,
    Eligibility,
    Enrollment,
    Member,
    Program,
    Service,
    State,
)
from data_access.summaries import rebuild_summaries


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _rows(columns: str, *rows: tuple[Any, ...]) -> list[dict[str, Any]]:
    names = columns.split()
    return [dict(zip(names, row, strict=True)) for row in rows]


# Member A (TX): adjacent, overlapping and gapped eligibility; two overlapping enrollments;
# readmissions at 30, 31, 0 and 26 days; a same-day stay; a still-open stay; a claim in a
# month without eligibility. Member B (TX): eligible one month, no claims. Member C (NY):
# two enrollments starting the same day (tie broken by the smaller id as text: "E10").
DEFINITIONS_WORLD: dict[type, list[dict[str, Any]]] = {
    State: _rows("state_code state_name", ("TX", "Texas"), ("NY", "New York")),
    Program: _rows(
        "program_id state_code program_model program_name launched_on",
        ("P1", "TX", "whole_health", "Whole health", d("2019-01-01")),
        ("P2", "TX", "hot_spotting", "Hot spotting", d("2019-01-01")),
        ("P3", "NY", "embedded", "Transition coaching", d("2019-01-01")),
        ("P4", "NY", "care_advocacy", "Care advocacy", d("2019-01-01")),
    ),
    Member: _rows(
        "member_id state_code birth_year primary_condition",
        ("A", "TX", 1980, "mental_health"),
        ("B", "TX", 1990, "substance_use"),
        ("C", "NY", 1970, "co_occurring"),
    ),
    Eligibility: _rows(
        "member_id start_date end_date",
        ("A", d("2020-01-01"), d("2020-03-31")),
        ("A", d("2020-04-01"), d("2020-06-30")),
        ("A", d("2020-06-15"), d("2020-12-31")),
        ("A", d("2021-02-10"), d("2021-12-31")),
        ("B", d("2020-01-01"), d("2020-01-31")),
        ("C", d("2019-01-01"), d("2021-12-31")),
    ),
    Enrollment: _rows(
        "enrollment_id member_id program_id coaching_role enrolled_on ended_on",
        ("E1", "A", "P1", "whole_health_coach", d("2020-07-01"), d("2020-09-30")),
        ("E2", "A", "P2", "peer_coach", d("2020-08-15"), None),
        ("E3", "C", "P3", "peer_bridge", d("2020-07-01"), d("2020-07-31")),
        ("E10", "C", "P4", "peer_coach", d("2020-07-01"), d("2020-08-31")),
    ),
    Admission: _rows(
        "admission_id member_id setting admit_date discharge_date paid_amount_cents",
        ("S1", "A", "behavioral", d("2020-03-10"), d("2020-03-15"), 100000),
        ("S2", "A", "behavioral", d("2020-04-14"), d("2020-04-14"), 50050),
        ("S3", "A", "behavioral", d("2020-05-15"), d("2020-05-20"), 200000),
        ("S4", "A", "behavioral", d("2020-05-20"), d("2020-05-22"), 30000),
        ("M1", "A", "medical", d("2020-05-25"), d("2020-05-27"), 75025),
        ("S6", "A", "behavioral", d("2020-08-20"), d("2020-08-25"), 120000),
        ("S5", "A", "behavioral", d("2020-09-20"), None, 0),
        ("CS1", "C", "behavioral", d("2020-06-25"), d("2020-07-05"), 400000),
        ("CM1", "C", "medical", d("2020-08-01"), None, 10000),
    ),
    Service: _rows(
        "claim_id member_id service_date category behavioral visits paid_amount_cents",
        ("C1", "A", d("2020-02-01"), "outpatient", True, 1, 10010),
        ("C2", "A", d("2020-07-15"), "pharmacy", False, 1, 5005),
        ("C3", "A", d("2021-01-15"), "professional", True, 2, 8000),
        ("C4", "C", d("2020-06-30"), "peer_support", True, 1, 20000),
        ("C5", "C", d("2019-12-30"), "outpatient", True, 1, 99999),
        ("C6", "C", d("2020-12-30"), "pharmacy", False, 1, 1000),
        ("C7", "C", d("2020-12-31"), "emergency", True, 1, 500),
    ),
}


def build(engine: Engine, world: dict[type, list[dict[str, Any]]]) -> None:
    """Write a world into an empty database (schema created) and rebuild its summaries."""
    with engine.begin() as conn:
        for model, rows in world.items():
            if rows:
                conn.execute(insert(model), rows)
        rebuild_summaries(conn)
