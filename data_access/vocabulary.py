"""The domain's names and constants, each defined once.

Every literal type is written here, and the tuple of its values is read from it, so the
command line, the dashboard, the SQL and the checks all agree on one list.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final, Literal, get_args

import pandas as pd

CONTRACT_VERSION: Final = 2

ProgramModel = Literal["embedded", "care_advocacy", "whole_health", "hot_spotting"]
NotEnrolled = Literal["not_enrolled"]
ProgramGroup = Literal[ProgramModel, NotEnrolled]
Condition = Literal["mental_health", "substance_use", "co_occurring"]
CoachingRole = Literal[
    "peer_coach", "recovery_coach", "whole_health_coach", "peer_bridge", "family_support_partner"
]
AdmissionSetting = Literal["behavioral", "medical"]
# The setting a figure is limited to: every stay, or one admission setting.
Setting = Literal["all", AdmissionSetting]
ServiceCategory = Literal[
    "emergency", "outpatient", "professional", "pharmacy", "peer_support", "other"
]
Period = Literal["month", "quarter", "year"]
Dimension = Literal["state_code", "program_model", "program_id", "population"]
Population = Literal["enrolled", NotEnrolled]
Dataset = Literal["monthly", "prepost", "impact"]
Role = Literal["leadership", "state_partner", "admin"]
AuditEventName = Literal[
    "sign_in", "access_refused", "states_dropped", "download", "grant", "revoke"
]
# "show" is honoured only for leadership and admin viewers; partners always get "suppress".
SmallCells = Literal["suppress", "show"]
Window = Literal["pre", "post"]

PROGRAM_MODELS: Final[tuple[ProgramModel, ...]] = get_args(ProgramModel)
NOT_ENROLLED: Final[NotEnrolled] = "not_enrolled"
PROGRAM_GROUPS: Final[tuple[ProgramGroup, ...]] = (*PROGRAM_MODELS, NOT_ENROLLED)
ENROLLED: Final = "enrolled"
PRIMARY_CONDITIONS: Final[tuple[Condition, ...]] = get_args(Condition)
COACHING_ROLES: Final[tuple[CoachingRole, ...]] = get_args(CoachingRole)
ADMISSION_SETTINGS: Final[tuple[AdmissionSetting, ...]] = get_args(AdmissionSetting)
SETTINGS: Final[tuple[Setting, ...]] = ("all", *ADMISSION_SETTINGS)
SERVICE_CATEGORIES: Final[tuple[ServiceCategory, ...]] = get_args(ServiceCategory)
PERIODS: Final[tuple[Period, ...]] = get_args(Period)
DATASETS: Final[tuple[Dataset, ...]] = get_args(Dataset)
ROLES: Final[tuple[Role, ...]] = get_args(Role)
AUDIT_EVENTS: Final[tuple[AuditEventName, ...]] = get_args(AuditEventName)
WINDOWS: Final[tuple[Window, ...]] = get_args(Window)

ID_LENGTH: Final = 64
STATE_CODE_PATTERN: Final = re.compile(r"[A-Z]{2}")
MONTH_PATTERN: Final = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# Pre window: the PRE_WINDOW_DAYS days before enrolled_on; post window: enrolled_on and the
# POST_WINDOW_LAST_DAY days after it (183 days each, whole days on every engine).
PRE_WINDOW_DAYS: Final = 183
POST_WINDOW_LAST_DAY: Final = 182

# A discharge is followed when its FOLLOWED_DAYS days after discharge are all in the data; a
# readmission is an admission 1 to READMISSION_DAYS days after a discharge.
FOLLOWED_DAYS: Final = 30
READMISSION_DAYS: Final = 30
# Follow-up after a behavioral discharge: a behavioral claim of these categories 1 to 7 or
# 1 to 30 days after discharge; a peer contact: a peer support claim within a day of it.
FOLLOW_UP_CATEGORIES: Final[tuple[ServiceCategory, ...]] = (
    "outpatient",
    "professional",
    "peer_support",
)
FOLLOW_UP_SHORT_DAYS: Final = 7
FOLLOW_UP_LONG_DAYS: Final = 30
PEER_SUPPORT: Final[ServiceCategory] = "peer_support"
PEER_CONTACT_DAYS: Final = 1
EMERGENCY: Final[ServiceCategory] = "emergency"
# The claims counted as visits in the pre/post measures.
VISIT_CATEGORIES: Final[tuple[ServiceCategory, ...]] = ("emergency", "outpatient", "professional")

LOAD_COMMAND: Final = "python -m data_access load sample_data"


def is_state_code(value: str) -> bool:
    return STATE_CODE_PATTERN.fullmatch(value) is not None


def bad_state_codes(values: tuple[str, ...] | list[str]) -> list[str]:
    """The values that are not two capital letters."""
    return [value for value in values if not is_state_code(value)]


def period_label(year: int, month: int, period: Period) -> str:
    """A month's label in a period: `YYYY-MM`, `YYYY-Qn` or `YYYY`, as the calendar holds it."""
    if period == "month":
        return f"{year:04d}-{month:02d}"
    if period == "quarter":
        return f"{year:04d}-Q{(month + 2) // 3}"
    return f"{year:04d}"


def utc_timestamp(moment: object) -> pd.Timestamp:
    """A stored moment as a UTC timestamp; SQLite keeps no time zone, so a naive one is UTC."""
    stamp = pd.Timestamp(moment)  # type: ignore[arg-type]
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------------------
# Impact: each program against a matched comparison group (see impact.py, docs/methods.md).

ImpactLevel = Literal["program", "program_model", "all"]
ImpactMeasure = Literal[
    "share_with_admission",
    "admissions_per_enrollment",
    "inpatient_days_per_enrollment",
    "ed_visits_per_enrollment",
    "behavioral_paid_per_enrollment",
    "medical_paid_per_enrollment",
    "total_paid_per_enrollment",
]
# Age at the index date from the birth year alone (index year - birth_year), in bands:
# the label and the oldest age of each band, youngest first; the last band has no end.
AgeBand = Literal["0_25", "26_44", "45_64", "65_plus"]
# The matching variables, as stored (impact tables): the pre window's admissions by setting
# (programs choose members by their behavioral history), inpatient days, total paid (cents),
# the days since the latest behavioral discharge in the pre window or on the index date
# (NO_RECENT_DISCHARGE_DAYS when none), and the stays admitted before its last RECENT_DAYS.
MatchingVariable = Literal[
    "pre_admissions_behavioral",
    "pre_admissions_medical",
    "pre_inpatient_days",
    "pre_paid_cents",
    "days_since_discharge",
    "early_admissions",
]

IMPACT_LEVELS: Final[tuple[ImpactLevel, ...]] = get_args(ImpactLevel)
IMPACT_MEASURES: Final[tuple[ImpactMeasure, ...]] = get_args(ImpactMeasure)
AGE_BANDS: Final[tuple[AgeBand, ...]] = get_args(AgeBand)
AGE_BAND_LAST_AGE: Final[tuple[int, ...]] = (25, 44, 64)
MATCHING_VARIABLES: Final[tuple[MatchingVariable, ...]] = get_args(MatchingVariable)

# Comparison index dates: the day after each behavioral discharge; the routine day of the
# month within DAYS_AFTER_DISCHARGE days after one; and the routine day of each month for a
# fixed sample of each state's members (see impact_sql.py).
ROUTINE_INDEX_DAY_OF_MONTH: Final = 15
DAYS_AFTER_DISCHARGE: Final = 30
# The sample: at least this many members per state and month, and at least this many per
# analysable enrollment of an average month of the state.
ROUTINE_MEMBERS_MIN: Final = 300
ROUTINE_MEMBERS_PER_ENROLLMENT: Final = 30
# Matching is exact on the number of behavioral stays in the pre window up to this many
# (this many or more pooled): it sets how far a plain pre/post change would fall by itself.
EXACT_BEHAVIORAL_STAYS: Final = 3
# Days since the latest behavioral discharge when there was none in the pre window.
NO_RECENT_DISCHARGE_DAYS: Final = PRE_WINDOW_DAYS + 1
# The last days of the pre window, apart from the rest of it: a member's stays before them
# show their usual use, the stays within them the crisis that brought them in.
RECENT_DAYS: Final = 30
# Nearest neighbours: up to this many comparison index dates (of distinct members) per
# enrollment, with replacement, within the caliper (root mean square of the standardised
# differences of the matching variables, in standard deviations).
MATCHES_PER_ENROLLMENT: Final = 3
MATCH_CALIPER_SD: Final = 0.5
# Percentile bootstrap over enrolled members; the seed is fixed so that the same database
# always gives the same intervals.
BOOTSTRAP_REPLICATES: Final = 2000
BOOTSTRAP_SEED: Final = 20160101
# The enrollment months a stored set of replicates was drawn over (impact_replicates):
# every month, or the dashboard's opening months (queries.default_window).
REPLICATE_WINDOWS: Final = ("all_months", "default_months")
# impact_frames' month_from and month_to of an output over every month (filters without a
# month range, as a state partner's evaluation: access.impact_scope).
EVERY_MONTH: Final = "*"
CONFIDENCE_LEVEL: Final = 0.95
# The dashboard opens on the latest this many complete months (queries.default_window).
DEFAULT_MONTHS: Final = 36
# A standardized mean difference of a matching variable above this is poor balance (a
# common threshold in the matching literature).
BALANCE_THRESHOLD: Final = 0.1
# The event study: months relative to the index date, EVENT_STUDY_MONTHS before (-6..-1)
# and after (+1..+6; the index date opens month +1, there is no month 0). A relative month
# is 61/2 days, so the twelve months tile the pre and post windows exactly (183 days each).
EVENT_STUDY_MONTHS: Final = 6
EVENT_STUDY_DAYS_PER_TWO_MONTHS: Final = 61
EventStudyMeasure = Literal["admissions_per_enrollment", "total_paid_per_enrollment"]
EVENT_STUDY_MEASURES: Final[tuple[EventStudyMeasure, ...]] = get_args(EventStudyMeasure)
