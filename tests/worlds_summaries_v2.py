"""A hand-built world for the measures of data contract version 2, one scenario per state.

Data through 2021-03-31 (the latest admission, CO's open medical stay; no claim is later).
Nobody has eligibility (rows exist through admissions and claims alone) and every member is
`mental_health`, so each state, month and program model is one summary row. Stays are
admitted on the 1st or 2nd and discharged on the 5th unless said otherwise.

TX, 30-day readmissions at 0, 1, 30 and 31 days: for each offset a behavioral stay followed
by a behavioral stay (same setting) and a medical stay followed by a behavioral stay (other
setting); index stays in 2020-01 (0 days), 2020-02 (1), 2020-04 (30), 2020-06 (31).

CO, the data-through date: X1 discharged 2021-02-28 (day 30 before it) with an outpatient
claim 30 days later; X2 discharged 2021-03-01 (day 30 on it) and readmitted 30 days later by
an open medical stay; X3 discharged 2021-03-02 (day 30 after it: not followed), with a peer
claim the day after and an open behavioral stay 18 days after; all admitted in the month
before their discharge month except X3 (2021-03-01).

Follow-up after a behavioral stay 2020-09-01 to 2020-09-05 (claims behavioral unless said):
CA outpatient on the discharge day; FL peer support, not behavioral, on the discharge day and
the day after; GA peer support the day after; IL professional 7 days after, in a program
the member joined 2020-09-10; MI outpatient 8 days after, during a later stay (2020-09-12 to
2020-09-14); NC outpatient 30 days after; OH 31 days after; PA, 3 days after, an outpatient
claim not behavioral, pharmacy, emergency (2 visits), emergency not behavioral (4 visits),
other, and 2 days after a peer support claim not behavioral; WA two stays (2020-09-01 to
2020-09-03 and 2020-09-05 to 2020-09-06) and one outpatient claim 2020-09-08 for both; AZ a
medical stay with an outpatient claim the day after.

NY, pre/post windows and ED visits by group: member W enrolled in P2 on 2020-07-01 (pre
window 2019-12-31 to 2020-06-30, post 2020-07-01 to 2020-12-30), claims on both sides of
each window's edges, a behavioral stay before the pre window, one admitted in it and
discharged after it, and an open medical stay in the post window.
"""

from __future__ import annotations

from typing import Any

from data_access.models import Admission, Enrollment, Member, Program, Service, State
from tests.worlds import _rows, d

_STATES = ("TX", "CO", "CA", "FL", "GA", "IL", "MI", "NC", "OH", "PA", "WA", "AZ", "NY")
_MEMBERS = {
    **{m: "TX" for m in ("G0S", "G0O", "G1S", "G1O", "G30S", "G30O", "G31S", "G31O")},
    **{m: "CO" for m in ("X1", "X2", "X3")},
    **{s: s for s in ("CA", "FL", "GA", "IL", "MI", "NC", "OH", "PA", "WA", "AZ")},
    "W": "NY",
}


def _stay(
    admission_id: str, member: str, setting: str, admit: str, discharge: str | None, cents: int = 0
) -> tuple[Any, ...]:
    return (admission_id, member, setting, d(admit), d(discharge) if discharge else None, cents)


def _claim(
    claim_id: str,
    member: str,
    day: str,
    category: str,
    behavioral: bool = True,
    visits: int = 1,
    cents: int = 0,
) -> tuple[Any, ...]:
    return (claim_id, member, d(day), category, behavioral, visits, cents)


def _readmission_grid() -> list[tuple[Any, ...]]:
    stays = []
    for offset, index_stay, readmission in (
        (0, ("2020-01-02", "2020-01-05"), ("2020-01-05", "2020-01-07")),
        (1, ("2020-02-02", "2020-02-05"), ("2020-02-06", "2020-02-08")),
        (30, ("2020-04-02", "2020-04-05"), ("2020-05-05", "2020-05-07")),
        (31, ("2020-06-02", "2020-06-05"), ("2020-07-06", "2020-07-08")),
    ):
        for kind, first_setting in (("S", "behavioral"), ("O", "medical")):
            member = f"G{offset}{kind}"
            stays.append(_stay(f"{member}-1", member, first_setting, *index_stay))
            stays.append(_stay(f"{member}-2", member, "behavioral", *readmission))
    return stays


SUMMARIES_V2_WORLD: dict[type, list[dict[str, Any]]] = {
    State: _rows("state_code state_name", *((s, f"State {s}") for s in _STATES)),
    Program: _rows(
        "program_id state_code program_model program_name launched_on",
        ("PIL", "IL", "embedded", "Illinois embedded", d("2019-01-01")),
        ("P2", "NY", "care_advocacy", "New York care advocacy", d("2019-01-01")),
    ),
    Member: _rows(
        "member_id state_code birth_year primary_condition",
        *((m, s, 1980, "mental_health") for m, s in _MEMBERS.items()),
    ),
    Enrollment: _rows(
        "enrollment_id member_id program_id coaching_role enrolled_on ended_on",
        ("EIL", "IL", "PIL", "peer_coach", d("2020-09-10"), None),
        ("EW", "W", "P2", "peer_bridge", d("2020-07-01"), None),
    ),
    Admission: _rows(
        "admission_id member_id setting admit_date discharge_date paid_amount_cents",
        *_readmission_grid(),
        _stay("X1", "X1", "behavioral", "2021-02-20", "2021-02-28"),
        _stay("X2", "X2", "behavioral", "2021-02-25", "2021-03-01"),
        _stay("X2-open", "X2", "medical", "2021-03-31", None),
        _stay("X3", "X3", "behavioral", "2021-03-01", "2021-03-02"),
        _stay("X3-open", "X3", "behavioral", "2021-03-20", None),
        *(
            _stay(s, s, "behavioral", "2020-09-01", "2020-09-05")
            for s in ("CA", "FL", "GA", "IL", "MI", "NC", "OH", "PA")
        ),
        _stay("MI-2", "MI", "behavioral", "2020-09-12", "2020-09-14"),
        _stay("WA-1", "WA", "behavioral", "2020-09-01", "2020-09-03"),
        _stay("WA-2", "WA", "behavioral", "2020-09-05", "2020-09-06"),
        _stay("AZ", "AZ", "medical", "2020-09-01", "2020-09-05"),
        _stay("W-before", "W", "behavioral", "2019-12-25", "2019-12-28", 30000),
        _stay("W-pre", "W", "behavioral", "2020-06-20", "2020-07-10", 100000),
        _stay("W-post", "W", "medical", "2020-12-01", None, 50000),
    ),
    Service: _rows(
        "claim_id member_id service_date category behavioral visits paid_amount_cents",
        _claim("X1+30", "X1", "2021-03-30", "outpatient"),
        _claim("X3+1", "X3", "2021-03-03", "peer_support"),
        _claim("CA+0", "CA", "2020-09-05", "outpatient"),
        _claim("FL+0", "FL", "2020-09-05", "peer_support", behavioral=False),
        _claim("FL+1", "FL", "2020-09-06", "peer_support", behavioral=False),
        _claim("GA+1", "GA", "2020-09-06", "peer_support"),
        _claim("IL+7", "IL", "2020-09-12", "professional"),
        _claim("MI+8", "MI", "2020-09-13", "outpatient"),
        _claim("NC+30", "NC", "2020-10-05", "outpatient"),
        _claim("OH+31", "OH", "2020-10-06", "outpatient"),
        _claim("PA+2", "PA", "2020-09-07", "peer_support", behavioral=False),
        _claim("PA+3a", "PA", "2020-09-08", "outpatient", behavioral=False),
        _claim("PA+3b", "PA", "2020-09-08", "pharmacy"),
        _claim("PA+3c", "PA", "2020-09-08", "emergency", visits=2),
        _claim("PA+3d", "PA", "2020-09-08", "emergency", behavioral=False, visits=4),
        _claim("PA+3e", "PA", "2020-09-08", "other"),
        _claim("WA", "WA", "2020-09-08", "outpatient"),
        _claim("AZ+1", "AZ", "2020-09-06", "outpatient"),
        # W: the day before the pre window, its first and last day, the post window's first
        # and last day and the day after it.
        _claim("W1", "W", "2019-12-30", "emergency", visits=1, cents=1000),
        _claim("W2", "W", "2019-12-31", "emergency", visits=2, cents=2000),
        _claim("W3", "W", "2020-03-01", "outpatient", behavioral=False, cents=3000),
        _claim("W4", "W", "2020-03-02", "pharmacy", visits=4, cents=4000),
        _claim("W5", "W", "2020-06-30", "professional", cents=5000),
        _claim("W6", "W", "2020-07-01", "emergency", behavioral=False, visits=3, cents=6000),
        _claim("W7", "W", "2020-09-01", "peer_support", cents=7000),
        _claim("W8", "W", "2020-12-30", "outpatient", visits=2, cents=8000),
        _claim("W9", "W", "2020-12-31", "emergency", visits=1, cents=9000),
    ),
}
