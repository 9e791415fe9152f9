"""Issue #14: a state partner's national line under the differencing rule (docs/disclosure.md).

The national line is one pooled line over every state, program, condition and setting, by
month, quarter, year or the range, for any of the partner's program model choices. Each of
its count cells is hidden where a national cell holding it (more program models, a longer
span of months) is larger by 1 to 10, over every state and over the states outside the
grant. Small hand-built worlds of member-months, both engines: Texas is the partner's
grant, New York and California the rest of the nation.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from data_access import queries
from data_access.access import Viewer
from data_access.filters import OutcomeFilter
from data_access.models import Eligibility, Enrollment, Member, Program, State
from data_access.settings import get_settings
from data_access.vocabulary import NOT_ENROLLED, Period, SmallCells
from tests.worlds import build

TX = Viewer(email="tx@example.org", role="state_partner", states=("TX",))
LEADERSHIP = Viewer(email="lead@example.org", role="leadership")

# (state, program or None, members, month): members eligible in that one month, a
# program's enrolled from its first day (so the month is the program's).
Group = tuple[str, str | None, int, str]


def world(groups: list[Group]) -> dict[type, list[dict[str, Any]]]:
    rows: dict[type, list[dict[str, Any]]] = {
        State: [
            {"state_code": code, "state_name": name}
            for code, name in (("TX", "Texas"), ("NY", "New York"), ("CA", "California"))
        ],
        Program: [
            {
                "program_id": "TX-WH-1",
                "state_code": "TX",
                "program_model": "whole_health",
                "program_name": "Whole health",
                "launched_on": dt.date(2019, 1, 1),
            }
        ],
        Member: [],
        Eligibility: [],
        Enrollment: [],
    }
    for state, program, members, month in groups:
        first = dt.date.fromisoformat(f"{month}-01")
        last = (first + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
        for n in range(members):
            member = f"{state}-{program or 'NE'}-{month}-{n:02d}"
            rows[Member].append(
                {
                    "member_id": member,
                    "state_code": state,
                    "birth_year": 1980,
                    "primary_condition": "mental_health",
                }
            )
            rows[Eligibility].append({"member_id": member, "start_date": first, "end_date": last})
            if program:
                rows[Enrollment].append(
                    {
                        "enrollment_id": f"E-{member}",
                        "member_id": member,
                        "program_id": program,
                        "coaching_role": "peer_coach",
                        "enrolled_on": first,
                        "ended_on": None,
                    }
                )
    return rows


# December 2022: Texas 15, New York 12, California 12 members not enrolled (39).
DECEMBER = [("TX", None, 15, "2022-12"), ("NY", None, 12, "2022-12"), ("CA", None, 12, "2022-12")]
# December 2021: the same 39, nationally the whole of 2021.
YEAR_2021 = [("TX", None, 15, "2021-12"), ("NY", None, 12, "2021-12"), ("CA", None, 12, "2021-12")]
YEAR_2022 = OutcomeFilter(month_from="2022-01", month_to="2022-12")
YEAR_2021_ONLY = OutcomeFilter(month_from="2021-01", month_to="2021-12")
NOT_ENROLLED_ONLY = OutcomeFilter(program_models=(NOT_ENROLLED,))

# Each case: the world, the filters and period, every figure leadership sees (member-months
# by period) and the periods whose figure the partner's line hides.
CASES = [
    # Gap 1: a month or quarter against the year holding it. National December 39, 2022
    # 42: three more in June (hidden there, 3), of Texas or of New York. December was shown.
    pytest.param(
        [*DECEMBER, ("TX", None, 3, "2022-06")],
        YEAR_2022,
        "month",
        {"2022-06": 3, "2022-12": 39},
        {"2022-06", "2022-12"},
        id="month-against-its-year-by-texas",
    ),
    pytest.param(
        [*DECEMBER, ("NY", None, 3, "2022-06")],
        YEAR_2022,
        "month",
        {"2022-06": 3, "2022-12": 39},
        {"2022-06", "2022-12"},
        id="month-against-its-year-by-new-york",
    ),
    pytest.param(
        [*DECEMBER, ("TX", None, 3, "2022-06")],
        YEAR_2022,
        "quarter",
        {"2022-Q2": 3, "2022-Q4": 39},
        {"2022-Q2", "2022-Q4"},
        id="quarter-against-its-year",
    ),
    # The year holds both: shown.
    pytest.param(
        [*DECEMBER, ("TX", None, 3, "2022-06")],
        YEAR_2022,
        "year",
        {"2022": 42},
        set(),
        id="the-year",
    ),
    # The rest of the nation only: national December 39 against 2022's 62 (June: Texas 20,
    # New York 3) is 23 apart, but less Texas's 15 and 35 it is 24 against 27. December
    # was shown; June goes as New York's alone.
    pytest.param(
        [*DECEMBER, ("TX", None, 20, "2022-06"), ("NY", None, 3, "2022-06")],
        YEAR_2022,
        "month",
        {"2022-06": 23, "2022-12": 39},
        {"2022-06", "2022-12"},
        id="month-against-its-year-rest-of-nation",
    ),
    # Gap 2: two ranges that differ only in Texas. National 2021 is 39, 2021-2022 is 43:
    # the 4 are Texas's in January 2022, hidden in Texas's own views. 2021 was shown.
    pytest.param(
        [*YEAR_2021, ("TX", None, 4, "2022-01")],
        YEAR_2021_ONLY,
        None,
        {"": 39},
        {""},
        id="range-against-longer-range",
    ),
    pytest.param(
        [*YEAR_2021, ("TX", None, 4, "2022-01")],
        OutcomeFilter(),
        "year",
        {"2021": 39, "2022": 4},
        {"2021", "2022"},
        id="year-against-the-range",
    ),
    pytest.param(
        [*YEAR_2021, ("TX", None, 4, "2022-01")],
        OutcomeFilter(),
        None,
        {"": 43},
        set(),
        id="the-whole-range",
    ),
    # No other state has rows: the national line is Texas's own, under the same rule
    # (December 15 against the range's 19). It was shown.
    pytest.param(
        [("TX", None, 15, "2021-12"), ("TX", None, 4, "2022-01")],
        OutcomeFilter(),
        "month",
        {"2021-12": 15, "2022-01": 4},
        {"2021-12", "2022-01"},
        id="no-rest-of-nation",
    ),
    # Gap 2 over program models: members not enrolled 39 against every model's 43, the 4
    # are Texas's enrolled members. It was shown.
    pytest.param(
        [*YEAR_2021, ("TX", "TX-WH-1", 4, "2021-12")],
        NOT_ENROLLED_ONLY,
        None,
        {"": 39},
        {""},
        id="not-enrolled-against-every-model",
    ),
    pytest.param(
        [*YEAR_2021, ("TX", "TX-WH-1", 4, "2021-12")],
        OutcomeFilter(),
        None,
        {"": 43},
        set(),
        id="every-model",
    ),
    # A national cell the other states count nothing in is Texas's own cell: national
    # whole health in December 2021 is Texas's 30, hidden in Texas's views since Texas's
    # every model is 36 (6 not enrolled). Nationally every model is 60: 30 apart.
    pytest.param(
        [
            ("TX", None, 6, "2021-12"),
            ("TX", "TX-WH-1", 30, "2021-12"),
            ("NY", None, 12, "2021-12"),
            ("CA", None, 12, "2021-12"),
        ],
        OutcomeFilter(program_models=("whole_health",), month_from="2021-01", month_to="2021-12"),
        "month",
        {"2021-12": 30},
        {"2021-12"},
        id="only-texas-counts-it",
    ),
    # Nothing small: every pair is 15 or more apart, every cell shown as it is.
    pytest.param(
        [*DECEMBER, ("TX", None, 15, "2022-06")],
        YEAR_2022,
        "month",
        {"2022-06": 15, "2022-12": 39},
        set(),
        id="nothing-small-months",
    ),
    pytest.param(
        [*DECEMBER, ("TX", None, 15, "2022-06")],
        YEAR_2022,
        "quarter",
        {"2022-Q2": 15, "2022-Q4": 39},
        set(),
        id="nothing-small-quarters",
    ),
    pytest.param(
        [*YEAR_2021, ("TX", None, 15, "2022-01")],
        OutcomeFilter(),
        "year",
        {"2021": 39, "2022": 15},
        set(),
        id="nothing-small-years",
    ),
    pytest.param(
        [*YEAR_2021, ("TX", None, 15, "2022-01")],
        YEAR_2021_ONLY,
        None,
        {"": 39},
        set(),
        id="nothing-small-range",
    ),
    pytest.param(
        [*YEAR_2021, ("TX", "TX-WH-1", 15, "2021-12")],
        NOT_ENROLLED_ONLY,
        None,
        {"": 39},
        set(),
        id="nothing-small-models",
    ),
]


def member_months(frame: pd.DataFrame, period: Period | None) -> dict[str, int | None]:
    """Each row's member-months by its period (None: hidden)."""
    periods = frame[period] if period else [""] * len(frame)
    return {
        str(p): None if math.isnan(v) else int(v)
        for p, v in zip(periods, frame["member_months"], strict=True)
    }


@pytest.mark.parametrize(("groups", "filters", "period", "truth", "hidden"), CASES)
def test_a_national_cell_held_by_one_larger_by_a_small_count_is_hidden(
    engine: Engine,
    groups: list[Group],
    filters: OutcomeFilter,
    period: Period | None,
    truth: dict[str, int],
    hidden: set[str],
) -> None:
    get_settings.cache_clear()
    build(engine, world(groups))

    def line(viewer: Viewer, small_cells: SmallCells) -> dict[str, int | None]:
        frame = queries.outcome_summary(
            viewer=viewer,
            filters=filters,
            period=period,
            scope="national",
            small_cells=small_cells,
            engine=engine,
        )
        return member_months(frame, period)

    assert line(LEADERSHIP, "show") == truth
    assert line(TX, "suppress") == {p: None if p in hidden else v for p, v in truth.items()}
