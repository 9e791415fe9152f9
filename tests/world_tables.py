"""A hand-built world (tests/worlds.py style: model -> rows) as the seven contract files would
hold it, every column text, so the reference implementation reads it as it reads a folder."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from tests.reference_metrics import TABLES

# the contract's file columns, in order; the models keep money in cents
FILE_COLUMNS = {
    "states": ["state_code", "state_name"],
    "programs": ["program_id", "state_code", "program_model", "program_name", "launched_on"],
    "members": ["member_id", "state_code", "birth_year", "primary_condition"],
    "eligibility": ["member_id", "start_date", "end_date"],
    "enrollments": [
        "enrollment_id",
        "member_id",
        "program_id",
        "coaching_role",
        "enrolled_on",
        "ended_on",
    ],
    "admissions": [
        "admission_id",
        "member_id",
        "setting",
        "admit_date",
        "discharge_date",
        "paid_amount",
    ],
    "services": [
        "claim_id",
        "member_id",
        "service_date",
        "category",
        "behavioral",
        "visits",
        "paid_amount",
    ],
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def world_frames(world: dict[type, list[dict[str, Any]]]) -> dict[str, pd.DataFrame]:
    """The world's rows per contract table, as text columns named as in the files."""
    by_table = {model.__tablename__: rows for model, rows in world.items()}  # type: ignore[attr-defined]
    frames = {}
    for table in TABLES:
        rows = []
        for row in by_table.get(table, []):
            row = dict(row)
            if "paid_amount_cents" in row:
                row["paid_amount"] = _dollars(row.pop("paid_amount_cents"))
            rows.append({column: _text(row[column]) for column in FILE_COLUMNS[table]})
        frames[table] = pd.DataFrame(rows, columns=FILE_COLUMNS[table], dtype=object)
    return frames
