"""States and programs of the sample, with the parameters that shape their members' use.

Facts come from the seed documents: the 23 states of seed 000; Recovery and Resiliency
(embedded) staff in FL, HI, KS, MD, MO, NE, NV, NY and TX; whole-health programs in MI, OH,
HI and TX; Texas care advocacy; hot-spotting "in most service areas"; the named programs
(NY and WI level-of-care transitions, Pierce County WA, Texas peer support and coaching,
Michigan whole health coaching, the Texas older-adult program, PRAISE in Rhode Island).
Everything else (sizes, rates, costs, launch dates of unnamed programs) is invented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIRST_DAY = "2015-01-01"  # first day of the extract (claims and eligibility)
LAST_DAY = "2025-12-31"  # data through


def day(iso: str) -> int:
    """Days since 1970-01-01 of an ISO date."""
    return int(np.datetime64(iso, "D").astype(np.int64))


START = day(FIRST_DAY)
END = day(LAST_DAY)


@dataclass(frozen=True)
class State:
    code: str
    name: str
    size: float  # relative number of members (roughly the state's Medicaid enrollment, millions)
    admission_factor: float  # relative inpatient use of its members
    cost_index: float  # relative prices


STATES: tuple[State, ...] = (
    State("AK", "Alaska", 0.25, 0.95, 1.35),
    State("AZ", "Arizona", 2.2, 1.00, 0.98),
    State("FL", "Florida", 4.6, 0.95, 0.95),
    State("HI", "Hawaii", 0.45, 0.85, 1.20),
    State("ID", "Idaho", 0.42, 0.90, 0.92),
    State("KS", "Kansas", 0.45, 0.95, 0.93),
    State("LA", "Louisiana", 1.9, 1.10, 0.90),
    State("MD", "Maryland", 1.6, 1.05, 1.10),
    State("MA", "Massachusetts", 2.0, 1.10, 1.25),
    State("MI", "Michigan", 2.9, 1.05, 1.00),
    State("MS", "Mississippi", 0.75, 1.00, 0.85),
    State("MO", "Missouri", 1.4, 1.00, 0.92),
    State("NE", "Nebraska", 0.35, 0.90, 0.95),
    State("NV", "Nevada", 0.85, 0.95, 1.00),
    State("NY", "New York", 7.0, 1.10, 1.25),
    State("OH", "Ohio", 3.3, 1.05, 0.97),
    State("RI", "Rhode Island", 0.33, 1.05, 1.10),
    State("TN", "Tennessee", 1.6, 0.95, 0.88),
    State("TX", "Texas", 5.5, 0.95, 0.93),
    State("UT", "Utah", 0.40, 0.85, 0.95),
    State("VA", "Virginia", 2.0, 0.95, 1.02),
    # Washington's book is large here: the organization runs the Pierce County network.
    State("WA", "Washington", 4.5, 2.0, 1.08),
    State("WI", "Wisconsin", 1.5, 1.00, 1.00),
)
STATE_INDEX = {s.code: i for i, s in enumerate(STATES)}


@dataclass(frozen=True)
class Program:
    program_id: str
    state: str
    model: str
    name: str
    launched_on: str
    kind: str = "random"  # "random", "cohort" (designed, see cohorts.py) or "pierce"
    volume: float = 1.0  # relative number of enrollments (random programs)
    last_enrollment: str = LAST_DAY


RR = "Recovery and Resiliency peer services"
ED_TEAM = "Emergency department high-utilizer peer team"
RECURRENT = "Peer support for recurrent admissions"
OUTREACH = "High-utilizer peer outreach"
TRANSITIONS = "Peer coaching for level-of-care transitions"

PROGRAMS: tuple[Program, ...] = (
    Program("AK-HOT-SPOTTING", "AK", "hot_spotting", OUTREACH, "2018-07-01", volume=0.5),
    Program("AZ-HOT-SPOTTING", "AZ", "hot_spotting", ED_TEAM, "2017-01-01", volume=0.45),
    Program("AZ-RECURRENT-ADMISSIONS", "AZ", "hot_spotting", RECURRENT, "2019-04-01", volume=0.3),
    Program("FL-RR-EMBEDDED", "FL", "embedded", RR, "2016-01-01"),
    Program("FL-HOT-SPOTTING", "FL", "hot_spotting", RECURRENT, "2017-04-01", volume=0.4),
    Program("HI-RR-EMBEDDED", "HI", "embedded", RR, "2016-01-01"),
    Program(
        "HI-WHOLE-HEALTH",
        "HI",
        "whole_health",
        "Integrated whole health peer support",
        "2016-07-01",
        volume=0.8,
    ),
    Program("ID-HOT-SPOTTING", "ID", "hot_spotting", OUTREACH, "2019-01-01", volume=0.5),
    Program("KS-RR-EMBEDDED", "KS", "embedded", RR, "2016-01-01"),
    Program("KS-HOT-SPOTTING", "KS", "hot_spotting", RECURRENT, "2018-01-01", volume=0.4),
    Program("LA-HOT-SPOTTING", "LA", "hot_spotting", ED_TEAM, "2018-03-01", volume=0.5),
    Program("MD-RR-EMBEDDED", "MD", "embedded", RR, "2016-01-01"),
    Program("MD-HOT-SPOTTING", "MD", "hot_spotting", RECURRENT, "2017-09-01", volume=0.4),
    Program(
        "MA-HOT-SPOTTING",
        "MA",
        "hot_spotting",
        "Recovery coach outreach for high utilizers",
        "2017-01-01",
        volume=0.5,
    ),
    Program(
        "MI-WHOLE-HEALTH",
        "MI",
        "whole_health",
        "Whole health coaching",
        "2016-01-01",
        kind="cohort",
        last_enrollment="2016-12-31",
    ),
    Program(
        "MI-CHW-WHOLE-HEALTH",
        "MI",
        "whole_health",
        "Whole health peer support with community health workers",
        "2017-10-01",
        volume=0.6,
    ),
    Program("MI-HOT-SPOTTING", "MI", "hot_spotting", ED_TEAM, "2018-01-01", volume=0.4),
    Program("MS-HOT-SPOTTING", "MS", "hot_spotting", OUTREACH, "2019-07-01", volume=0.5),
    Program("MO-RR-EMBEDDED", "MO", "embedded", RR, "2016-01-01"),
    Program("MO-HOT-SPOTTING", "MO", "hot_spotting", RECURRENT, "2017-01-01", volume=0.4),
    Program("NE-RR-EMBEDDED", "NE", "embedded", RR, "2016-01-01"),
    Program("NV-RR-EMBEDDED", "NV", "embedded", RR, "2016-01-01"),
    Program("NV-HOT-SPOTTING", "NV", "hot_spotting", ED_TEAM, "2018-01-01", volume=0.4),
    Program("NY-TRANSITION", "NY", "embedded", TRANSITIONS, "2016-01-01", kind="cohort"),
    Program("NY-RR-EMBEDDED", "NY", "embedded", RR, "2016-01-01", volume=0.7),
    Program("NY-HOT-SPOTTING", "NY", "hot_spotting", RECURRENT, "2017-01-01", volume=0.35),
    Program(
        "OH-WHOLE-HEALTH",
        "OH",
        "whole_health",
        "Whole Health Action Management peer support",
        "2016-04-01",
    ),
    Program("OH-HOT-SPOTTING", "OH", "hot_spotting", ED_TEAM, "2018-01-01", volume=0.4),
    Program(
        "RI-PRAISE",
        "RI",
        "hot_spotting",
        "PRAISE (Peer Recovery Activation - Intensive Support and Empowerment)",
        "2016-06-01",
        kind="cohort",
        last_enrollment="2017-07-15",
    ),
    Program("TN-HOT-SPOTTING", "TN", "hot_spotting", OUTREACH, "2018-01-01", volume=0.5),
    Program(
        "TX-COACHING",
        "TX",
        "care_advocacy",
        "Peer support and coaching (members hospitalized or in hospital)",
        "2016-01-01",
        kind="cohort",
        last_enrollment="2018-12-31",
    ),
    Program(
        "TX-OLDER-ADULTS",
        "TX",
        "whole_health",
        "Whole-health peer support for older adults",
        "2017-03-01",
        kind="cohort",
        last_enrollment="2019-06-30",
    ),
    Program("TX-RR-EMBEDDED", "TX", "embedded", RR, "2016-01-01", volume=0.8),
    Program("TX-HOT-SPOTTING", "TX", "hot_spotting", RECURRENT, "2018-01-01", volume=0.35),
    Program("UT-HOT-SPOTTING", "UT", "hot_spotting", OUTREACH, "2019-01-01", volume=0.5),
    Program("VA-HOT-SPOTTING", "VA", "hot_spotting", ED_TEAM, "2018-07-01", volume=0.5),
    Program(
        "WA-PIERCE",
        "WA",
        "embedded",
        "Pierce County Regional Support Network",
        "2016-01-01",
        kind="pierce",
    ),
    Program(
        "WA-PIERCE-ED",
        "WA",
        "hot_spotting",
        "Pierce County top emergency department users team",
        "2017-01-01",
        volume=0.25,
    ),
    Program("WI-TRANSITION", "WI", "embedded", TRANSITIONS, "2016-01-01", kind="cohort"),
    Program("WI-HOT-SPOTTING", "WI", "hot_spotting", RECURRENT, "2018-01-01", volume=0.4),
)
PROGRAM_INDEX = {p.program_id: i for i, p in enumerate(PROGRAMS)}


@dataclass(frozen=True)
class ModelBehaviour:
    """How enrollees of a program of one model are chosen and what enrollment does for them."""

    selection: float  # enrollees drawn with weight (admission intensity + 0.02) ** selection
    index_share: float  # share enrolled around a crisis episode (after its behavioral stay)
    delay: tuple[int, int]  # days from the crisis stay's discharge to enrolled_on (range)
    in_hospital: float  # share of the crisis enrollments made while still in hospital
    median_days: float  # median enrollment length
    peer_claims_per_month: float  # peer_support claims while enrolled (first year)
    peer_contact: float  # behavioral discharges while enrolled with a peer contact within a day
    followup_7d: float  # chance of a follow-up 1-7 days after such a discharge


# Relative number of enrollments of the random programs of a model (times Program.volume).
MODEL_VOLUME = {"embedded": 1.0, "whole_health": 1.0, "hot_spotting": 1.5}

# Transition-style programs enrol at the discharge of a crisis stay (some while still in
# hospital); hot-spotting teams find members during a spike of use, some weeks after the
# stay that marks it; whole-health programs enrol fewer members around a crisis.
BEHAVIOUR = {
    "embedded": ModelBehaviour(0.0, 0.60, (0, 3), 0.2, 200, 1.2, 0.85, 0.45),
    "whole_health": ModelBehaviour(0.0, 0.35, (3, 30), 0.0, 210, 1.4, 0.70, 0.40),
    "hot_spotting": ModelBehaviour(0.0, 0.80, (5, 45), 0.0, 260, 1.6, 0.75, 0.40),
    "care_advocacy": ModelBehaviour(0.0, 0.85, (0, 3), 0.3, 180, 0.8, 0.85, 0.45),
    # Pierce County: network members receive peer services for years (admissions by quota)
    "pierce": ModelBehaviour(0.5, 0.0, (0, 0), 0.0, 1500, 0.3, 0.60, 0.40),
}


@dataclass(frozen=True)
class TrueEffect:
    """The causal change a program makes in its enrollees' post window (enrolled_on to
    enrolled_on + 182), relative to what they would have had without it: each behavioral or
    medical admission, ED visit or other medical claim of that window is prevented with the
    given chance (0.25: a quarter fewer)."""

    behavioral_admissions: float = 0.0
    medical_admissions: float = 0.0
    ed_visits: float = 0.0
    medical_claims: float = 0.0  # medical outpatient, professional, pharmacy and other claims


# True effects of the random programs (the designed cohorts' post windows are laid out in
# cohorts.py; Pierce County's admissions are placed by quota). Hot-spotting teams enrol
# members at a spike of use: their pre/post figures fall steeply, but they change nothing
# (as in the randomized trial of the Camden Coalition's program), except the ED team of Pierce
# County, which cuts emergency visits and nothing else.
MODEL_EFFECT = {
    "embedded": TrueEffect(0.30, 0.10, 0.15, 0.0),
    "whole_health": TrueEffect(0.10, 0.25, 0.20, 0.10),
    "hot_spotting": TrueEffect(),
}
PROGRAM_EFFECT = {"WA-PIERCE-ED": TrueEffect(ed_visits=0.25)}


def true_effect(program: Program) -> TrueEffect:
    if program.kind != "random":
        return TrueEffect()
    return PROGRAM_EFFECT.get(program.program_id, MODEL_EFFECT[program.model])


# Crisis episodes, which every member may have (enrolled or not): use climbs for some weeks
# and ends in a (mostly behavioral) stay. Episodes per member-year are EPISODE_RATE times the
# member's admission intensity; during the climb admissions, claims and ED visits are
# multiplied by ESCALATION.
EPISODE_RATE = 0.4
ESCALATION_DAYS = (30, 120)
ESCALATION = {"admissions": 2.0, "claims": 1.6, "ed": 4.0}

# Outside crisis episodes, a member's admissions and claims run at these shares of the
# intensities (the episodes, the claims that stays bring and the programs' peer support make
# up the rest of the volume).
ROUTINE_ADMISSIONS = 0.5
ROUTINE_CLAIMS = 0.85

# Follow-up after a behavioral discharge of members not enrolled: the chance of a claim 1-7
# days after it (times the state's factor below), and of one 8-30 days after it when there
# is none in the first week. Scorecard medians are around 38% (7 days) and 60% (30 days).
FOLLOWUP_7D = 0.41
FOLLOWUP_30D = 0.27
ENROLLED_FOLLOWUP_30D = 0.45  # the same, at least, for members enrolled at the discharge
FOLLOWUP_STATE = {
    "AK": 0.80,
    "AZ": 1.00,
    "FL": 0.85,
    "HI": 1.05,
    "ID": 0.90,
    "KS": 0.95,
    "LA": 0.80,
    "MD": 1.15,
    "MA": 1.30,
    "MI": 1.05,
    "MS": 0.70,
    "MO": 0.95,
    "NE": 1.00,
    "NV": 0.85,
    "NY": 1.20,
    "OH": 1.05,
    "RI": 1.25,
    "TN": 0.85,
    "TX": 0.80,
    "UT": 1.00,
    "VA": 0.95,
    "WA": 1.10,
    "WI": 1.10,
}

# Pierce County admissions per member-month relative to its first year: down by about a
# third within five years of launch (seed 001: 31.9% fewer hospitalizations, 32.1% fewer
# 30-day readmissions), then flat.
PIERCE_TREND = {
    2016: 1.00,
    2017: 0.935,
    2018: 0.87,
    2019: 0.805,
    2020: 0.745,
    2021: 0.681,
    2022: 0.68,
    2023: 0.675,
    2024: 0.68,
    2025: 0.68,
}
PIERCE_READMISSION_SHARE = 0.2  # index stays followed by a 30-day readmission
PIERCE_DAYS_VS_STATE = 0.775  # inpatient days per 1,000 MM against WA not enrolled (-22.5%)
