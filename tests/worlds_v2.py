"""A small hand-built world for the contract's version-2 definitions, with its expected rows
worked out by hand (below, in the comments), for the reference and for the product alike.

    build(engine, V2_WORLD)                        # into a database (tests/worlds.py)
    world_frames(V2_WORLD)                         # as the contract's files (tests/world_tables.py)
    MONTHLY_V2_CSV["behavioral"]                   # the monthly export of Texas, as CSV text
    OutcomeFilter(**MONTHLY_V2_FILTER, setting="behavioral")   # the filter that gives it
    PREPOST_V2_CSV["medical"]                      # the prepost export (every program)
    MONTHLY_V2["all"], PREPOST_V2["all"]           # the same as frames of text cells

Data through 2024-06-30 (the latest service_date: claims of O and P on that day; the latest
admit_date is 2024-06-20). RUNOUT_MONTHS 3: 2024-03 is the last complete month; 2024-04,
05, 06 and 2024-07 (after the data-through month, rows from eligibility alone) are
provisional. A discharge is followed when discharge_date + 30 <= 2024-06-30, i.e. discharged
by 2024-05-31.

Texas (program P1, whole_health, whose name starts with "=", so the v2 CSV writes "'="):
thirteen members, each eligible 2024-01-01..2024-07-31 (7 member-months each), none enrolled
except K2 (enrolled in P1 from 2024-02-16, open): K2's member-months from 2024-03 are
whole_health; its February claim of 2024-02-16 is whole_health (a row of 0 member-months).
Every admission below is not_enrolled (K2's stay was admitted before the enrollment).

  stay member setting admit      discharge  LOS paid  readmission; followed
  R1   R      behav.  2024-01-02 2024-01-05  3  1000  R2 (medical) 1 day later: all-cause only
  R2   R      medical 2024-01-06 2024-01-08  2   500  R3 (behavioral) 30 days later: all-cause
  R3   R      behav.  2024-02-07 2024-02-09  2   800  R4 (medical) 31 days later: none (leap year)
  R4   R      medical 2024-03-11 2024-03-12  1   200  none
  Q1   Q      behav.  2024-03-01 2024-03-04  3   600  Q2 (behavioral) 30 days later: both kinds
  Q2   Q      behav.  2024-04-03 2024-04-06  3   400  none; followed (05-06)
  E1   E      behav.  2024-05-25 2024-05-30  5   900  day 30 = 06-29, before data-through: followed
  G1   G      behav.  2024-05-28 2024-05-31  3   700  day 30 = 06-30, on data-through: followed
  H1   H      behav.  2024-05-29 2024-06-01  3   300  day 30 = 07-01, after: not followed; H2 9
                                                    days later: a v1 readmission, not a v2 one
  H2   H      behav.  2024-06-10 2024-06-12  2   100  not followed
  O1   O      medical 2024-06-20 (open)      -   250  an admission, not a discharge
  K0s-K6s: one behavioral stay each, paid 100, followed, each with the claims of one case:
  K0s  K0     behav.  2024-01-08 2024-01-10  2  claim 01-10 peer_support, behavioral (day 0):
                                                not a follow-up; a peer contact
  K1s  K1     behav.  2024-01-29 2024-02-01  3  claim 02-02 peer_support, NOT behavioral
                                                (day 1): a peer contact (any flag), not a
                                                follow-up; the stay is January's (admit_date)
  K2s  K2     behav.  2024-02-10 2024-02-15  5  claim 02-16 outpatient (day 1) in another
                                                group (whole_health): a 7- and 30-day follow-up
  K3s  K3     behav.  2024-03-01 2024-03-05  4  claim 03-12 professional (day 7): 7 and 30
  K4s  K4     behav.  2024-03-01 2024-03-05  4  claim 03-13 peer_support (day 8): 30 only
  K5s  K5     behav.  2024-03-20 2024-03-25  5  claim 04-24 outpatient (day 30): 30 only
  K6s  K6     behav.  2024-03-20 2024-03-25  5  claims 04-25 outpatient (day 31), 03-28
                                                emergency (2 visits), 03-27 pharmacy, 03-26
                                                outpatient NOT behavioral: none
  Other claims: G 06-01 outpatient (G1 day 1: 7 and 30); H 06-02 outpatient (H1 not followed:
  not counted); O 06-30 emergency, NOT behavioral, 3 visits (ED visits of the medical flag).
  Claim paid: peer_support 40, outpatient 60, professional 70, pharmacy 30, K6's emergency
  500, O's emergency 150.

New York (program N1, embedded): member P, eligible 2023-06-01..2024-07-31, enrolled in N1 on
2023-12-31 (ended 2024-03-31): pre window 2023-07-01..2023-12-30, post window
2023-12-31..2024-06-30, which ends on the data-through date: analysable (the only one).
K2's enrollment is not (its post window ends 2024-08-16).
  pre:  PA1 behavioral 2023-09-01..09-05 (LOS 4, 1200); PA2 medical 2023-12-28..2024-01-03
        (LOS 6, 800: admitted in the window, it keeps its whole LOS); claims 07-01 emergency
        behavioral 2 visits 300 (the window's first day), 07-15 outpatient medical 1 visit 80,
        08-01 professional behavioral 3 visits 150, 10-01 pharmacy medical 60 (not a visit),
        12-30 peer_support behavioral 50 (not a visit); 06-30 emergency medical 5 visits 999
        is the day before the window: outside.
  post: PA3 behavioral 2024-03-01, still open (2000: inpatient paid, no LOS); claims
        2023-12-31 emergency medical 1 visit 400, 2024-02-01 outpatient behavioral 2 visits
        120, 2024-06-30 professional medical 1 visit 90.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from data_access.models import (
    Admission,
    Eligibility,
    Enrollment,
    Member,
    Program,
    Service,
    State,
)
from tests.worlds import _rows, d

_TX_MEMBERS = ("R", "Q", "E", "G", "H", "O", "K0", "K1", "K2", "K3", "K4", "K5", "K6")
_CONDITION = {"E": "substance_use", "G": "substance_use", "H": "co_occurring", "O": "co_occurring"}

V2_WORLD: dict[type, list[dict[str, Any]]] = {
    State: _rows("state_code state_name", ("TX", "Texas"), ("NY", "New York")),
    Program: _rows(
        "program_id state_code program_model program_name launched_on",
        ("N1", "NY", "embedded", "Transition coaching", d("2019-01-01")),
        ("P1", "TX", "whole_health", "=Whole health", d("2019-01-01")),
    ),
    Member: [
        *_rows(
            "member_id state_code birth_year primary_condition",
            *[(m, "TX", 1980, _CONDITION.get(m, "mental_health")) for m in _TX_MEMBERS],
        ),
        *_rows(
            "member_id state_code birth_year primary_condition", ("P", "NY", 1970, "mental_health")
        ),
    ],
    Eligibility: _rows(
        "member_id start_date end_date",
        *[(m, d("2024-01-01"), d("2024-07-31")) for m in _TX_MEMBERS],
        ("P", d("2023-06-01"), d("2024-07-31")),
    ),
    Enrollment: _rows(
        "enrollment_id member_id program_id coaching_role enrolled_on ended_on",
        ("EK2", "K2", "P1", "whole_health_coach", d("2024-02-16"), None),
        ("EP", "P", "N1", "peer_bridge", d("2023-12-31"), d("2024-03-31")),
    ),
    Admission: _rows(
        "admission_id member_id setting admit_date discharge_date paid_amount_cents",
        ("R1", "R", "behavioral", d("2024-01-02"), d("2024-01-05"), 100000),
        ("R2", "R", "medical", d("2024-01-06"), d("2024-01-08"), 50000),
        ("R3", "R", "behavioral", d("2024-02-07"), d("2024-02-09"), 80000),
        ("R4", "R", "medical", d("2024-03-11"), d("2024-03-12"), 20000),
        ("Q1", "Q", "behavioral", d("2024-03-01"), d("2024-03-04"), 60000),
        ("Q2", "Q", "behavioral", d("2024-04-03"), d("2024-04-06"), 40000),
        ("E1", "E", "behavioral", d("2024-05-25"), d("2024-05-30"), 90000),
        ("G1", "G", "behavioral", d("2024-05-28"), d("2024-05-31"), 70000),
        ("H1", "H", "behavioral", d("2024-05-29"), d("2024-06-01"), 30000),
        ("H2", "H", "behavioral", d("2024-06-10"), d("2024-06-12"), 10000),
        ("O1", "O", "medical", d("2024-06-20"), None, 25000),
        ("K0s", "K0", "behavioral", d("2024-01-08"), d("2024-01-10"), 10000),
        ("K1s", "K1", "behavioral", d("2024-01-29"), d("2024-02-01"), 10000),
        ("K2s", "K2", "behavioral", d("2024-02-10"), d("2024-02-15"), 10000),
        ("K3s", "K3", "behavioral", d("2024-03-01"), d("2024-03-05"), 10000),
        ("K4s", "K4", "behavioral", d("2024-03-01"), d("2024-03-05"), 10000),
        ("K5s", "K5", "behavioral", d("2024-03-20"), d("2024-03-25"), 10000),
        ("K6s", "K6", "behavioral", d("2024-03-20"), d("2024-03-25"), 10000),
        ("PA1", "P", "behavioral", d("2023-09-01"), d("2023-09-05"), 120000),
        ("PA2", "P", "medical", d("2023-12-28"), d("2024-01-03"), 80000),
        ("PA3", "P", "behavioral", d("2024-03-01"), None, 200000),
    ),
    Service: _rows(
        "claim_id member_id service_date category behavioral visits paid_amount_cents",
        ("cK0", "K0", d("2024-01-10"), "peer_support", True, 1, 4000),
        ("cK1", "K1", d("2024-02-02"), "peer_support", False, 1, 4000),
        ("cK2", "K2", d("2024-02-16"), "outpatient", True, 1, 6000),
        ("cK3", "K3", d("2024-03-12"), "professional", True, 1, 7000),
        ("cK4", "K4", d("2024-03-13"), "peer_support", True, 1, 4000),
        ("cK5", "K5", d("2024-04-24"), "outpatient", True, 1, 6000),
        ("cK6a", "K6", d("2024-04-25"), "outpatient", True, 1, 6000),
        ("cK6b", "K6", d("2024-03-28"), "emergency", True, 2, 50000),
        ("cK6c", "K6", d("2024-03-27"), "pharmacy", True, 1, 3000),
        ("cK6d", "K6", d("2024-03-26"), "outpatient", False, 1, 6000),
        ("cG", "G", d("2024-06-01"), "outpatient", True, 1, 6000),
        ("cH", "H", d("2024-06-02"), "outpatient", True, 1, 6000),
        ("cO", "O", d("2024-06-30"), "emergency", False, 3, 15000),
        ("cP0", "P", d("2023-06-30"), "emergency", False, 5, 99900),
        ("cP1", "P", d("2023-07-01"), "emergency", True, 2, 30000),
        ("cP2", "P", d("2023-07-15"), "outpatient", False, 1, 8000),
        ("cP3", "P", d("2023-08-01"), "professional", True, 3, 15000),
        ("cP4", "P", d("2023-10-01"), "pharmacy", False, 1, 6000),
        ("cP5", "P", d("2023-12-30"), "peer_support", True, 1, 5000),
        ("cP6", "P", d("2023-12-31"), "emergency", False, 1, 40000),
        ("cP7", "P", d("2024-02-01"), "outpatient", True, 2, 12000),
        ("cP8", "P", d("2024-06-30"), "professional", False, 1, 9000),
    ),
}

MONTHLY_V2_HEADER = (
    "month,state_code,program_model,member_months,admissions,discharges,inpatient_days,"
    "followed_discharges,readmissions_30d,ed_visits,followed_behavioral_discharges,"
    "followups_7d,followups_30d,peer_contacts_1d,paid,behavioral_paid,medical_paid,"
    "admissions_per_1000_mm,inpatient_days_per_1000_mm,average_los,readmission_rate_30d,"
    "ed_visits_per_1000_mm,followup_rate_7d,followup_rate_30d,peer_contact_rate_1d,"
    "cost_pmpm,provisional"
)
MONTHLY_V2_FILTER: dict[str, Any] = {"states": ("TX",)}

# Texas by month and group, every setting. Member-months 13 (12 not enrolled and K2 from
# 2024-03). Paid: admissions by admit month plus claims by service month (K2's 02-16 claim
# in whole_health). The follow-up columns and paid are the same in every setting.
#
# 2024-01 not_enrolled: stays R1 R2 K0s K1s. all: 4 admissions, 4 discharges, LOS 3+2+2+3 =
#   10, 4 followed, readmissions R1 (R2 at 1 day) and R2 (R3 at 30 days) = 2; followed
#   behavioral R1 K0s K1s = 3; no 7/30-day follow-up (K0's claim is on day 0, K1's is not
#   behavioral); peer contacts K0s (day 0) and K1s (day 1, any flag) = 2. Paid 1000 + 500 +
#   100 + 100 + 40 (cK0) = 1740, behavioral 1240, medical 500. Rates: 4000/13, 10000/13,
#   10/4, 2/4, 0, 0/3, 0/3, 2/3, 1740/13.
#   behavioral: R1 K0s K1s: 3, LOS 8, 3 followed, no behavioral stay 1-30 days later = 0.
#   medical: R2: 1, LOS 2, 1 followed, no medical stay 1-30 days later (R4 at 63) = 0.
# 2024-02 not_enrolled: R3 K2s (both behavioral): 2, LOS 7, 2 followed, R3's next stay is at
#   31 days: 0 readmissions; follow-up K2s (cK2 on day 1) = 1 (7 and 30); paid 800 + 100 +
#   40 (cK1, not behavioral: medical) = 940, behavioral 900, medical 40. medical: no stay.
# 2024-02 whole_health: cK2 only: 0 member-months, paid 60 behavioral; every ratio empty.
# 2024-03 not_enrolled: R4 (medical, LOS 1), Q1 (3), K3s K4s (4, 4), K5s K6s (5, 5): 6 stays,
#   LOS 22, 6 followed, readmission Q1 (Q2 at 30 days) = 1; ED visits cK6b 2 (behavioral);
#   followed behavioral 5; 7-day K3s; 30-day K3s K4s K5s = 3; no peer contact. Paid 1200 +
#   700 (cK3 70, cK4 40, cK6b 500, cK6c 30, cK6d 60) = 1900, behavioral 600 + 400 + 640 =
#   1640, medical 200 + 60 = 260.
#   behavioral: 5 stays, LOS 21, 5 followed, 1 readmission, 2 ED visits.
#   medical: R4: 1, LOS 1, 1 followed, 0; no ED visit of the medical flag.
# 2024-04 not_enrolled (provisional): Q2 (LOS 3, followed, no follow-up claim); paid 400 +
#   60 (cK5) + 60 (cK6a) = 520. medical: no stay.
# 2024-05 not_enrolled (provisional): E1 G1 H1 (behavioral; LOS 5 + 3 + 3 = 11); followed E1
#   G1 = 2 (H1 is not); no readmission (H2 comes 9 days after H1, which is not followed);
#   follow-up G1 (cG on day 1) = 1. Paid 1900.
# 2024-06 not_enrolled (provisional): H2 (behavioral, LOS 2, not followed), O1 (medical,
#   open): 2 admissions, 1 discharge, 0 followed: readmission rate and follow-up rates
#   empty; ED visits 3 (cO, not behavioral). Paid 350 + 60 (cG) + 60 (cH) + 150 (cO) = 620,
#   behavioral 100 + 120 = 220, medical 250 + 150 = 400.
#   behavioral: H2: 1 admission, 1 discharge, LOS 2, 0 ED visits. medical: O1: 1 admission,
#   0 discharges (LOS empty), 3 ED visits.
# 2024-03 to 2024-07 whole_health: K2's member-month, nothing else. 2024-07: member-months
#   only (after the data-through month: provisional).
_MONTHLY_V2_ROWS = {
    "all": """\
2024-01,TX,not_enrolled,13,4,4,10,4,2,0,3,0,0,2,1740.00,1240.00,500.00,307.6923,769.2308,2.5000,0.5000,0.0000,0.0000,0.0000,0.6667,133.8462,false
2024-02,TX,not_enrolled,13,2,2,7,2,0,0,2,1,1,0,940.00,900.00,40.00,153.8462,538.4615,3.5000,0.0000,0.0000,0.5000,0.5000,0.0000,72.3077,false
2024-02,TX,whole_health,0,0,0,0,0,0,0,0,0,0,0,60.00,60.00,0.00,,,,,,,,,,false
2024-03,TX,not_enrolled,12,6,6,22,6,1,2,5,1,3,0,1900.00,1640.00,260.00,500.0000,1833.3333,3.6667,0.1667,166.6667,0.2000,0.6000,0.0000,158.3333,false
2024-03,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,false
2024-04,TX,not_enrolled,12,1,1,3,1,0,0,1,0,0,0,520.00,520.00,0.00,83.3333,250.0000,3.0000,0.0000,0.0000,0.0000,0.0000,0.0000,43.3333,true
2024-04,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-05,TX,not_enrolled,12,3,3,11,2,0,0,2,1,1,0,1900.00,1900.00,0.00,250.0000,916.6667,3.6667,0.0000,0.0000,0.5000,0.5000,0.0000,158.3333,true
2024-05,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-06,TX,not_enrolled,12,2,1,2,0,0,3,0,0,0,0,620.00,220.00,400.00,166.6667,166.6667,2.0000,,250.0000,,,,51.6667,true
2024-06,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-07,TX,not_enrolled,12,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-07,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
""",
    "behavioral": """\
2024-01,TX,not_enrolled,13,3,3,8,3,0,0,3,0,0,2,1740.00,1240.00,500.00,230.7692,615.3846,2.6667,0.0000,0.0000,0.0000,0.0000,0.6667,133.8462,false
2024-02,TX,not_enrolled,13,2,2,7,2,0,0,2,1,1,0,940.00,900.00,40.00,153.8462,538.4615,3.5000,0.0000,0.0000,0.5000,0.5000,0.0000,72.3077,false
2024-02,TX,whole_health,0,0,0,0,0,0,0,0,0,0,0,60.00,60.00,0.00,,,,,,,,,,false
2024-03,TX,not_enrolled,12,5,5,21,5,1,2,5,1,3,0,1900.00,1640.00,260.00,416.6667,1750.0000,4.2000,0.2000,166.6667,0.2000,0.6000,0.0000,158.3333,false
2024-03,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,false
2024-04,TX,not_enrolled,12,1,1,3,1,0,0,1,0,0,0,520.00,520.00,0.00,83.3333,250.0000,3.0000,0.0000,0.0000,0.0000,0.0000,0.0000,43.3333,true
2024-04,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-05,TX,not_enrolled,12,3,3,11,2,0,0,2,1,1,0,1900.00,1900.00,0.00,250.0000,916.6667,3.6667,0.0000,0.0000,0.5000,0.5000,0.0000,158.3333,true
2024-05,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-06,TX,not_enrolled,12,1,1,2,0,0,0,0,0,0,0,620.00,220.00,400.00,83.3333,166.6667,2.0000,,0.0000,,,,51.6667,true
2024-06,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-07,TX,not_enrolled,12,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-07,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
""",
    "medical": """\
2024-01,TX,not_enrolled,13,1,1,2,1,0,0,3,0,0,2,1740.00,1240.00,500.00,76.9231,153.8462,2.0000,0.0000,0.0000,0.0000,0.0000,0.6667,133.8462,false
2024-02,TX,not_enrolled,13,0,0,0,0,0,0,2,1,1,0,940.00,900.00,40.00,0.0000,0.0000,,,0.0000,0.5000,0.5000,0.0000,72.3077,false
2024-02,TX,whole_health,0,0,0,0,0,0,0,0,0,0,0,60.00,60.00,0.00,,,,,,,,,,false
2024-03,TX,not_enrolled,12,1,1,1,1,0,0,5,1,3,0,1900.00,1640.00,260.00,83.3333,83.3333,1.0000,0.0000,0.0000,0.2000,0.6000,0.0000,158.3333,false
2024-03,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,false
2024-04,TX,not_enrolled,12,0,0,0,0,0,0,1,0,0,0,520.00,520.00,0.00,0.0000,0.0000,,,0.0000,0.0000,0.0000,0.0000,43.3333,true
2024-04,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-05,TX,not_enrolled,12,0,0,0,0,0,0,2,1,1,0,1900.00,1900.00,0.00,0.0000,0.0000,,,0.0000,0.5000,0.5000,0.0000,158.3333,true
2024-05,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-06,TX,not_enrolled,12,1,0,0,0,0,3,0,0,0,0,620.00,220.00,400.00,83.3333,0.0000,,,250.0000,,,,51.6667,true
2024-06,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-07,TX,not_enrolled,12,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2024-07,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
""",
}

PREPOST_V2_MEASURES = (
    "share_with_admission",
    "admissions_per_enrollment",
    "inpatient_days_per_enrollment",
    "average_los",
    "behavioral_paid_per_enrollment",
    "medical_paid_per_enrollment",
    "total_paid_per_enrollment",
    "paid_per_admission",
    "ed_visits_per_enrollment",
    "visits_per_enrollment",
    "visit_paid_per_enrollment",
    "inpatient_paid_per_enrollment",
)
PREPOST_V2_HEADER = ",".join(
    [
        "program_id,program_name,state_code,program_model,setting,enrollments",
        *[
            f"{part}_{measure}"
            for measure in PREPOST_V2_MEASURES
            for part in ("pre", "post", "change", "pct_change")
        ],
    ]
)

# N1, one enrollment (n = 1), measure by measure: pre, post, change, percent change.
#   all: share 1, 1; admissions 2 (PA1 PA2), 1 (PA3); days 4 + 6 = 10, 0 (PA3 is open);
#     LOS 10/2 = 5, empty (no discharge); behavioral paid 1200 + 300 + 150 + 50 = 1700,
#     2000 + 120 = 2120 (+420, +24.7059%); medical paid 800 + 80 + 60 = 940, 400 + 90 = 490
#     (-450, -47.8723%); total 2640, 2610 (-30, -1.1364%); paid per admission 2000/2 = 1000,
#     2000/1 = 2000; ED visits 2, 1; visits (emergency, outpatient, professional) 2 + 1 + 3 =
#     6, 1 + 2 + 1 = 4 (-33.3333%); visits' paid 300 + 80 + 150 = 530, 400 + 120 + 90 = 610
#     (+80, +15.0943%); inpatient paid 2000, 2000.
#   behavioral: admissions PA1, PA3 (share 1, 1); days 4, 0; LOS 4, empty; paid per
#     admission and inpatient paid 1200, 2000 (+66.6667%); ED visits 2, 0; visits 2 + 3 = 5,
#     2 (-60%); visits' paid 450, 120 (-330, -73.3333%). The paid columns as in all.
#   medical: admissions PA2, none (share 1, 0); days 6, 0; LOS 6, empty; paid per admission
#     800, empty; ED visits 0, 1 (percent change empty: pre is 0); visits 1, 1 + 1 = 2
#     (+100%); visits' paid 80, 490 (+410, +512.5%); inpatient paid 800, 0 (-100%).
# P1 (TX): no analysable enrollment: 0, every measure empty; its name is written "'=...".
_N1_PAID = (
    "1700.0000,2120.0000,420.0000,24.7059,"
    "940.0000,490.0000,-450.0000,-47.8723,"
    "2640.0000,2610.0000,-30.0000,-1.1364,"
)
_N1_BY_SETTING = {
    "all": "1,1.0000,1.0000,0.0000,0.0000,2.0000,1.0000,-1.0000,-50.0000,"
    "10.0000,0.0000,-10.0000,-100.0000,5.0000,,,,"
    + _N1_PAID
    + "1000.0000,2000.0000,1000.0000,100.0000,"
    "2.0000,1.0000,-1.0000,-50.0000,6.0000,4.0000,-2.0000,-33.3333,"
    "530.0000,610.0000,80.0000,15.0943,2000.0000,2000.0000,0.0000,0.0000",
    "behavioral": "1,1.0000,1.0000,0.0000,0.0000,1.0000,1.0000,0.0000,0.0000,"
    "4.0000,0.0000,-4.0000,-100.0000,4.0000,,,,"
    + _N1_PAID
    + "1200.0000,2000.0000,800.0000,66.6667,"
    "2.0000,0.0000,-2.0000,-100.0000,5.0000,2.0000,-3.0000,-60.0000,"
    "450.0000,120.0000,-330.0000,-73.3333,1200.0000,2000.0000,800.0000,66.6667",
    "medical": "1,1.0000,0.0000,-1.0000,-100.0000,1.0000,0.0000,-1.0000,-100.0000,"
    "6.0000,0.0000,-6.0000,-100.0000,6.0000,,,," + _N1_PAID + "800.0000,,,,"
    "0.0000,1.0000,1.0000,,1.0000,2.0000,1.0000,100.0000,"
    "80.0000,490.0000,410.0000,512.5000,800.0000,0.0000,-800.0000,-100.0000",
}
_NO_ANALYSABLE = "0" + "," * 48

MONTHLY_V2_CSV: dict[str, str] = {
    setting: MONTHLY_V2_HEADER + "\n" + rows for setting, rows in _MONTHLY_V2_ROWS.items()
}
PREPOST_V2_CSV: dict[str, str] = {
    setting: f"{PREPOST_V2_HEADER}\n"
    f"N1,Transition coaching,NY,embedded,{setting},{_N1_BY_SETTING[setting]}\n"
    f"P1,'=Whole health,TX,whole_health,{setting},{_NO_ANALYSABLE}\n"
    for setting in _N1_BY_SETTING
}


def text_frame(csv_text: str) -> pd.DataFrame:
    """An export's CSV text as a frame of text cells (empty cells as "")."""
    return pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)


MONTHLY_V2: dict[str, pd.DataFrame] = {s: text_frame(t) for s, t in MONTHLY_V2_CSV.items()}
PREPOST_V2: dict[str, pd.DataFrame] = {s: text_frame(t) for s, t in PREPOST_V2_CSV.items()}
