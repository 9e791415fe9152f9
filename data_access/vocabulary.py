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
Dataset = Literal["monthly", "prepost"]
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


def utc_timestamp(moment: object) -> pd.Timestamp:
    """A stored moment as a UTC timestamp; SQLite keeps no time zone, so a naive one is UTC."""
    stamp = pd.Timestamp(moment)  # type: ignore[arg-type]
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
