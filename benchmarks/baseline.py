"""The raw-table baseline: the monthly aggregate the pages read from monthly_summary, computed
directly from admissions, services, members and enrollments in the same engine."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, text


def raw_monthly_sql(dialect: str, *, states: bool, models: bool) -> str:
    if dialect == "sqlite":
        month = "strftime('%Y-%m', g.d)"
        order_id = "e.enrollment_id"
    else:
        month = "to_char(g.d, 'YYYY-MM')"
        order_id = 'e.enrollment_id COLLATE "C"'
    where = []
    if states:
        where.append("m.state_code IN :states")
    if models:
        where.append("COALESCE(p.program_model, 'not_enrolled') IN :models")
    where_sql = ("WHERE " + " AND ".join(where)) if where else ""
    # The contract's group: the enrollment open on the day with the latest enrolled_on,
    # ties broken by the smaller enrollment_id; none means not_enrolled.
    return f"""
WITH units AS (
    SELECT a.member_id, a.admit_date AS d, 1 AS admissions, a.paid_amount_cents AS paid
    FROM admissions a
    UNION ALL
    SELECT s.member_id, s.service_date, 0, s.paid_amount_cents FROM services s
), grouped AS (
    SELECT u.member_id, u.d, u.admissions, u.paid,
        (SELECT e.program_id FROM enrollments e
         WHERE e.member_id = u.member_id AND e.enrolled_on <= u.d
           AND (e.ended_on IS NULL OR e.ended_on >= u.d)
         ORDER BY e.enrolled_on DESC, {order_id} LIMIT 1) AS program_id
    FROM units u
)
SELECT {month} AS month, m.state_code, COALESCE(p.program_model, 'not_enrolled') AS program_model,
    SUM(g.admissions) AS admissions, SUM(g.paid) AS paid_cents
FROM grouped g
JOIN members m ON m.member_id = g.member_id
LEFT JOIN programs p ON p.program_id = g.program_id
{where_sql}
GROUP BY {month}, m.state_code, COALESCE(p.program_model, 'not_enrolled')
"""


def run_raw(url: str, filters: Any) -> tuple[float, pd.DataFrame]:
    """One cold run (fresh engine) of the raw aggregate for the filter's states and models."""
    from data_access import db

    db.dispose_engines()
    engine = db.get_engine(url)
    states = filters.states is not None
    models = set(filters.program_models) != {
        "embedded",
        "care_advocacy",
        "whole_health",
        "hot_spotting",
        "not_enrolled",
    }
    statement = text(raw_monthly_sql(engine.dialect.name, states=states, models=models))
    params: dict[str, Any] = {}
    if states:
        statement = statement.bindparams(bindparam("states", expanding=True))
        params["states"] = list(filters.states)
    if models:
        statement = statement.bindparams(bindparam("models", expanding=True))
        params["models"] = list(filters.program_models)
    start = time.perf_counter()
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET statement_timeout = 900000"))
        frame = pd.DataFrame(conn.execute(statement, params).mappings().all())
    seconds = time.perf_counter() - start
    db.dispose_engines()
    return seconds, frame


def run_summary(url: str, filters: Any) -> tuple[float, pd.DataFrame]:
    """The same figures the way the pages get them: outcome_summary over monthly_summary."""
    from data_access import db, queries
    from data_access.access import LOCAL_VIEWER

    db.dispose_engines()
    engine = db.get_engine(url)
    start = time.perf_counter()
    # Leadership's unsuppressed figures: the page path, and the raw aggregate's equal.
    frame = queries.outcome_summary(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=filters,
        period="month",
        by=("state_code", "program_model"),
        engine=engine,
    )
    seconds = time.perf_counter() - start
    db.dispose_engines()
    return seconds, frame


def agree(raw: pd.DataFrame, summary: pd.DataFrame) -> bool:
    """The raw aggregate gives the summary's admissions and paid, group by group."""
    if raw.empty and summary.empty:
        return True
    keys = ["month", "state_code", "program_model"]
    left = raw.assign(paid=raw["paid_cents"].astype("int64"))[[*keys, "admissions", "paid"]]
    right = summary.assign(paid=(summary["paid"] * 100).round().astype("int64"))
    right = right.loc[
        (right["admissions"] > 0) | (right["paid"] > 0), [*keys, "admissions", "paid"]
    ]
    merged = left.merge(right, on=keys, how="outer", suffixes=("_raw", "_summary")).fillna(0)
    return bool(
        (
            merged["admissions_raw"].astype("int64") == merged["admissions_summary"].astype("int64")
        ).all()
        and (merged["paid_raw"].astype("int64") == merged["paid_summary"].astype("int64")).all()
    )
