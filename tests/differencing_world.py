"""Small hand-built worlds for the differencing checker of issue #14 (tests/differencing_checks.py).

A world is written from a `WorldSpec`: programs, and groups of members (a state, a program or
none, a primary condition, how many members) with their admissions and ED visits per year.
Every member is eligible from 2021-01-01 to 2022-12-31; a program's members are enrolled on
2021-07-03 (the first day whose 183-day pre window starts in the data) and stay enrolled, so
their member-months count for the program from 2021-08 (a month goes to the group of its
first day) and their enrollments are analysable (each has a behavioral claim in the post
window). The data run through 2022-12-31 (a claim of the first member on that day).

    build(engine, DIFFERENCING_SPEC)      # into an empty database (schema created)

DIFFERENCING_SPEC is the world of tests/test_differencing.py. Without the differencing rule
a Texas partner recovers, among others, these counts (worked out below):

- admissions 5: whole_health 2022 (19) minus program TX-WH-1 (14): TX-WH-2's admissions;
- admissions 2: TX-WH-1 2022, setting all (14) minus behavioral (12): its medical stays;
- admissions 2: TX-WH-1 2022, every condition (14) minus mental_health (12): substance_use;
- admissions 3: not enrolled 2021, every condition (28) minus mental_health (25);
- ed_visits 4: not enrolled 2021-2022 (34) minus 2021 (30): the visits of 2022;
- member_months 10 a month from 2021-08: not enrolled (30) minus mental_health (20);
- member_months 5 a month from 2021-08: whole_health (19) minus TX-WH-1 (14);
- enrollments 3 (pre/post): TX-WH-1 (14) minus its mental_health enrollments (11);
- enrolled members 5: whole_health (19) minus TX-WH-1 (14).

Each of the wider and narrower figures is 11 or more, shown on its own; every quarter of
these admissions is from 1 to 10, so no year is left alone against its quarters and
consistent suppression keeps them shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
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

YEARS = (2021, 2022)
ENROLLED_ON = dt.date(2021, 7, 3)
FIRST_ENROLLED_MONTH = 8  # of 2021: the first month whose first day is enrolled
STATE_NAMES = {"TX": "Texas", "NY": "New York", "CA": "California"}


@dataclass(frozen=True)
class Group:
    """Members of one state, program (None: not enrolled) and primary condition.

    `admissions` maps (year, setting) to a number of stays, `ed_visits` a year to a number
    of behavioral emergency claims. The k-th stay of a year is admitted on the 10th of the
    k-th month (cycling; from August in 2021 for an enrolled group, so that it counts for the
    program), discharged two days later, by the k-th member (cycling).
    """

    state: str
    program: str | None
    condition: str
    members: int
    admissions: Mapping[tuple[int, str], int] = field(default_factory=dict)
    ed_visits: Mapping[int, int] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"{self.state}-{self.program or 'NE'}-{self.condition[:2]}"

    def member_ids(self) -> list[str]:
        return [f"{self.prefix}-{n:02d}" for n in range(self.members)]


@dataclass(frozen=True)
class WorldSpec:
    programs: tuple[tuple[str, str, str], ...]  # program_id, state_code, program_model
    groups: tuple[Group, ...]


def _months(group: Group, year: int) -> list[int]:
    first = FIRST_ENROLLED_MONTH if group.program and year == 2021 else 1
    return list(range(first, 13))


def world_rows(spec: WorldSpec) -> dict[type, list[dict[str, Any]]]:
    """The contract rows of a spec (tests/worlds.py style: model -> rows)."""
    states = sorted({g.state for g in spec.groups} | {p[1] for p in spec.programs})
    rows: dict[type, list[dict[str, Any]]] = {
        State: [{"state_code": s, "state_name": STATE_NAMES.get(s, s)} for s in states],
        Program: [
            {
                "program_id": program_id,
                "state_code": state,
                "program_model": model,
                "program_name": f"Program {program_id}",
                "launched_on": dt.date(2019, 1, 1),
            }
            for program_id, state, model in spec.programs
        ],
        Member: [],
        Eligibility: [],
        Enrollment: [],
        Admission: [],
        Service: [],
    }
    for group in spec.groups:
        ids = group.member_ids()
        for member in ids:
            rows[Member].append(
                {
                    "member_id": member,
                    "state_code": group.state,
                    "birth_year": 1980,
                    "primary_condition": group.condition,
                }
            )
            rows[Eligibility].append(
                {
                    "member_id": member,
                    "start_date": dt.date(YEARS[0], 1, 1),
                    "end_date": dt.date(YEARS[-1], 12, 31),
                }
            )
            if group.program:
                rows[Enrollment].append(
                    {
                        "enrollment_id": f"E-{member}",
                        "member_id": member,
                        "program_id": group.program,
                        "coaching_role": "peer_coach",
                        "enrolled_on": ENROLLED_ON,
                        "ended_on": None,
                    }
                )
                # behavioral use in the post window: the enrollment is analysable
                rows[Service].append(_claim(f"U-{member}", member, dt.date(2021, 9, 15)))
        for year in YEARS:
            months = _months(group, year)
            k = 0
            for setting in ("behavioral", "medical"):
                for _ in range(group.admissions.get((year, setting), 0)):
                    admit = dt.date(year, months[k % len(months)], 10)
                    rows[Admission].append(
                        {
                            "admission_id": f"A-{group.prefix}-{year}-{k:02d}",
                            "member_id": ids[k % len(ids)],
                            "setting": setting,
                            "admit_date": admit,
                            "discharge_date": admit + dt.timedelta(days=2),
                            "paid_amount_cents": 500_000,
                        }
                    )
                    k += 1
            for n in range(group.ed_visits.get(year, 0)):
                day = dt.date(year, months[n % len(months)], 20)
                rows[Service].append(
                    _claim(f"D-{group.prefix}-{year}-{n:02d}", ids[n % len(ids)], day, "emergency")
                )
    first = spec.groups[0].member_ids()[0]
    rows[Service].append(_claim("THROUGH", first, dt.date(YEARS[-1], 12, 31), "other", False))
    return rows


def _claim(
    claim_id: str,
    member: str,
    day: dt.date,
    category: str = "outpatient",
    behavioral: bool = True,
) -> dict[str, Any]:
    return {
        "claim_id": claim_id,
        "member_id": member,
        "service_date": day,
        "category": category,
        "behavioral": behavioral,
        "visits": 1,
        "paid_amount_cents": 10_000,
    }


def build(engine: Engine, spec: WorldSpec) -> None:
    """Write a spec's world into an empty database (schema created) and its summaries."""
    with engine.begin() as conn:
        for model, rows in world_rows(spec).items():
            if rows:
                conn.execute(insert(model), rows)
        rebuild_summaries(conn)


MH, SU = "mental_health", "substance_use"
B, M = "behavioral", "medical"

DIFFERENCING_SPEC = WorldSpec(
    programs=(
        ("TX-WH-1", "TX", "whole_health"),
        ("TX-WH-2", "TX", "whole_health"),
        ("TX-HS-1", "TX", "hot_spotting"),
        ("NY-EM-1", "NY", "embedded"),
    ),
    groups=(
        # Texas not enrolled: 30 members (20 + 10) from 2021-08, 30 + 31 enrolled before.
        # 2021 admissions 25 + 3 = 28 (quarters 7 6 6 6 and 3 0 0 0: none over 10);
        # ED visits 30 in 2021, 4 in 2022 (the year after alone is 4).
        Group("TX", None, MH, 20, {(2021, B): 25, (2022, B): 20}, {2021: 30, 2022: 4}),
        Group("TX", None, SU, 10, {(2021, B): 3}),
        # TX-WH-1: 14 members (11 + 3), 2022 admissions 11 + 1 + 1 + 1 = 14, of them 12
        # behavioral and 12 of mental_health; TX-WH-2: 5 members, 5 admissions.
        Group("TX", "TX-WH-1", MH, 11, {(2022, B): 11, (2022, M): 1}),
        Group("TX", "TX-WH-1", SU, 3, {(2022, B): 1, (2022, M): 1}),
        Group("TX", "TX-WH-2", MH, 5, {(2022, B): 5}),
        Group("TX", "TX-HS-1", MH, 12, {(2022, B): 12}),
        # One state outside the grant: its figures must stay out of every Texas output,
        # and the national line is refused (it would be Texas plus New York).
        Group("NY", None, MH, 15, {(2021, B): 15}),
        Group("NY", "NY-EM-1", MH, 12),
    ),
)
