"""The outcomes database schema: the contract's seven tables and the summaries built from them.

Money is stored as integer cents (`*_cents`) so that sums are exact, and identical, on every
engine; the contract's dollar columns are converted on load and on export.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from data_access.vocabulary import (
    ADMISSION_SETTINGS,
    AUDIT_EVENTS,
    COACHING_ROLES,
    ID_LENGTH,
    MATCHING_VARIABLES,
    PRIMARY_CONDITIONS,
    PROGRAM_MODELS,
    REPLICATE_WINDOWS,
    ROLES,
    SERVICE_CATEGORIES,
    SETTINGS,
    WINDOWS,
)

# Bump with every change to the tables below and add a migration step (see README and
# db.create_schema). 3: the summaries of contract version 2. 4: prepost_summary
# (SUMMARIES_SINCE_SCHEMA).
SCHEMA_VERSION: Final = 4

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class Base(DeclarativeBase):
    metadata = metadata


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class State(Base):
    __tablename__ = "states"
    state_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    state_name: Mapped[str] = mapped_column(Text)


class Program(Base):
    __tablename__ = "programs"
    __table_args__ = (CheckConstraint(_in("program_model", PROGRAM_MODELS), name="program_model"),)
    program_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.state_code"), index=True)
    program_model: Mapped[str] = mapped_column(String(16))
    program_name: Mapped[str] = mapped_column(Text)
    launched_on: Mapped[dt.date] = mapped_column(Date)


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint(_in("primary_condition", PRIMARY_CONDITIONS), name="primary_condition"),
    )
    member_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.state_code"), index=True)
    birth_year: Mapped[int] = mapped_column(Integer)
    primary_condition: Mapped[str] = mapped_column(String(16))


class Eligibility(Base):
    __tablename__ = "eligibility"
    __table_args__ = (CheckConstraint("end_date >= start_date", name="span_order"),)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.member_id"), primary_key=True)
    start_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    end_date: Mapped[dt.date] = mapped_column(Date)


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        CheckConstraint(_in("coaching_role", COACHING_ROLES), name="coaching_role"),
        CheckConstraint("ended_on IS NULL OR ended_on >= enrolled_on", name="enrollment_order"),
        Index(None, "member_id", "enrolled_on"),
    )
    enrollment_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.member_id"))
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.program_id"), index=True)
    coaching_role: Mapped[str] = mapped_column(String(32))
    enrolled_on: Mapped[dt.date] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class Admission(Base):
    __tablename__ = "admissions"
    __table_args__ = (
        CheckConstraint(_in("setting", ADMISSION_SETTINGS), name="setting"),
        CheckConstraint(
            "discharge_date IS NULL OR discharge_date >= admit_date", name="stay_order"
        ),
        CheckConstraint("paid_amount_cents >= 0", name="paid_not_negative"),
        Index(None, "member_id", "setting", "admit_date"),
    )
    admission_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.member_id"))
    setting: Mapped[str] = mapped_column(String(16))
    admit_date: Mapped[dt.date] = mapped_column(Date)
    discharge_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    paid_amount_cents: Mapped[int] = mapped_column(BigInteger)


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint(_in("category", SERVICE_CATEGORIES), name="category"),
        CheckConstraint("visits >= 1", name="visits_positive"),
        CheckConstraint("paid_amount_cents >= 0", name="paid_not_negative"),
        Index(None, "member_id", "service_date"),
    )
    claim_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.member_id"))
    service_date: Mapped[dt.date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(16))
    behavioral: Mapped[bool] = mapped_column(Boolean)
    visits: Mapped[int] = mapped_column(Integer)
    paid_amount_cents: Mapped[int] = mapped_column(BigInteger)


# Tables of the contract, in the order a load must fill them (parents first).
CONTRACT_TABLES: Final = (State, Program, Member, Eligibility, Enrollment, Admission, Service)


class LoadRun(Base):
    """One row per successful load: what was loaded, when, and the data-through date it gave."""

    __tablename__ = "load_runs"
    load_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text)
    rows_loaded: Mapped[str] = mapped_column(Text)  # JSON object: table -> rows in the files
    data_through: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class TableCount(Base):
    """Rows of each contract table after the last load, written inside the load's transaction
    so that showing them never scans the claims (see db.table_rows)."""

    __tablename__ = "table_counts"
    table_name: Mapped[str] = mapped_column(String(32), primary_key=True)
    rows: Mapped[int] = mapped_column(BigInteger)


class SchemaInfo(Base):
    """Versions of the contract and of this schema, read before any migration."""

    __tablename__ = "schema_info"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# ---------------------------------------------------------------------------------------
# Who may see what, and what they did (see access.py). Kept apart from the contract tables:
# a load never touches them.


class ViewerGrant(Base):
    """A person allowed in, by the e-mail address the sign-in provider vouches for."""

    __tablename__ = "viewers"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower case
    role: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    granted_by: Mapped[str] = mapped_column(Text)


class ViewerState(Base):
    """The states a state partner may see. No foreign key to states: a grant may be made
    before the first load, and a reload of states must not drop grants."""

    __tablename__ = "viewer_states"
    email: Mapped[str] = mapped_column(
        ForeignKey("viewers.email", ondelete="CASCADE"), primary_key=True
    )
    state_code: Mapped[str] = mapped_column(String(2), primary_key=True)


class AuditEvent(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(_in("event", AUDIT_EVENTS), name="event"),
        Index(None, "occurred_at"),
    )
    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    event: Mapped[str] = mapped_column(String(16))
    dataset: Mapped[str | None] = mapped_column(Text, nullable=True)
    filters: Mapped[str | None] = mapped_column(Text, nullable=True)  # OutcomeFilter JSON
    rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    suppressed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


ACCESS_TABLES: Final = (ViewerGrant, ViewerState, AuditEvent)


# ---------------------------------------------------------------------------------------
# Summaries, rebuilt inside the database by every load (see summaries.py). The dashboard
# reads only these, so its queries cost the same whatever the number of claims.

# A database whose schema_version is older holds summaries of other definitions: the
# migration rebuilds them from the contract tables (db.create_schema).
SUMMARIES_SINCE_SCHEMA: Final = 4
# Per setting of the stay (columns `<measure>_behavioral`, `<measure>_medical`):
# followed_discharges: discharged stays whose 30 days after discharge are all in the data;
# readmissions_30d: followed discharges readmitted 1-30 days later in the same setting;
# readmissions_any_30d: ... readmitted in any setting (summed over both settings: all-cause).
ADMISSION_MEASURES: Final = (
    "admissions",
    "discharges",
    "inpatient_days",
    "followed_discharges",
    "readmissions_30d",
    "readmissions_any_30d",
)
# Per the claim's behavioral flag (true: `_behavioral`): the visits of emergency claims.
MONTHLY_CLAIM_MEASURES: Final = ("ed_visits",)
# Followed behavioral discharges and those with a follow-up claim (not split by setting).
FOLLOW_UP_MEASURES: Final = (
    "followed_behavioral_discharges",
    "followups_7d",
    "followups_30d",
    "peer_contacts_1d",
)


def _per_setting(prefix: str, names: tuple[str, ...]) -> list[Column[int]]:
    return [
        Column(f"{prefix}{name}_{setting}", BigInteger, nullable=False)
        for name in names
        for setting in ADMISSION_SETTINGS
    ]


calendar_months = Table(
    "calendar_months",
    metadata,
    Column("month", String(7), primary_key=True),  # YYYY-MM
    Column("quarter", String(7), nullable=False),  # YYYY-Qn
    Column("year", String(4), nullable=False),
    Column("month_index", Integer, nullable=False, unique=True),  # year * 12 + month - 1
    Column("first_day", Integer, nullable=False, index=True),  # days since 1970-01-01
    Column("last_day", Integer, nullable=False),
)

# Joined eligibility: spans that overlap or touch merged, as day numbers.
eligibility_islands = Table(
    "eligibility_islands",
    metadata,
    Column("member_id", String(ID_LENGTH), primary_key=True),
    Column("start_day", Integer, primary_key=True),
    Column("end_day", Integer, nullable=False),
    Column("start_month", Integer, nullable=False),  # calendar_months.month_index
    Column("end_month", Integer, nullable=False),
)

# For each member, the days on which one enrollment is the member's group, without overlaps.
enrollment_spells = Table(
    "enrollment_spells",
    metadata,
    Column("member_id", String(ID_LENGTH), primary_key=True),
    Column("start_day", Integer, primary_key=True),
    Column("end_day", Integer, nullable=False),
    Column("enrollment_id", String(ID_LENGTH), nullable=False),
    Column("program_id", String(ID_LENGTH), nullable=False),
)

monthly_summary = Table(
    "monthly_summary",
    metadata,
    Column("month", String(7), nullable=False),
    Column("quarter", String(7), nullable=False),
    Column("year", String(4), nullable=False),
    Column("state_code", String(2), nullable=False),
    Column("program_model", String(16), nullable=False),
    Column("program_id", String(ID_LENGTH), nullable=True),  # NULL for not_enrolled
    Column("primary_condition", String(16), nullable=False),
    Column("member_months", BigInteger, nullable=False),
    *_per_setting("", ADMISSION_MEASURES),
    Column("admission_paid_cents_behavioral", BigInteger, nullable=False),
    Column("admission_paid_cents_medical", BigInteger, nullable=False),
    Column("service_paid_cents_behavioral", BigInteger, nullable=False),
    Column("service_paid_cents_medical", BigInteger, nullable=False),
    *_per_setting("", MONTHLY_CLAIM_MEASURES),
    *[Column(name, BigInteger, nullable=False) for name in FOLLOW_UP_MEASURES],
    Index("ix_monthly_summary_state_month", "state_code", "month"),
    Index("ix_monthly_summary_month", "month", "program_model"),
)

PREPOST_ADMISSION_MEASURES: Final = (
    "admissions",
    "discharges",
    "inpatient_days",
    "admission_paid_cents",
)
# Claims dated in the window, per the claim's behavioral flag: paid of every claim, the
# visits of emergency claims, and the visits and paid of emergency, outpatient and
# professional claims.
PREPOST_CLAIM_MEASURES: Final = ("service_paid_cents", "ed_visits", "visits", "visit_paid_cents")


def _window_sum_columns() -> list[Column[int]]:
    """The pre and post window sums per setting (new Column objects for each table)."""
    return [
        column
        for measures in (PREPOST_ADMISSION_MEASURES, PREPOST_CLAIM_MEASURES)
        for window in WINDOWS
        for column in _per_setting(f"{window}_", measures)
    ]


enrollment_outcomes = Table(
    "enrollment_outcomes",
    metadata,
    Column("enrollment_id", String(ID_LENGTH), primary_key=True),
    Column("program_id", String(ID_LENGTH), nullable=False),
    Column("state_code", String(2), nullable=False),
    Column("program_model", String(16), nullable=False),
    Column("primary_condition", String(16), nullable=False),
    Column("enrolled_on", Integer, nullable=False),  # day number
    Column("enrolled_month", String(7), nullable=False),
    Column("eligible_both_windows", Boolean, nullable=False),
    Column("has_behavioral_use", Boolean, nullable=False),
    Column("post_window_complete", Boolean, nullable=False),
    Column("analysable", Boolean, nullable=False),
    *_window_sum_columns(),
    Index("ix_enrollment_outcomes_program", "program_id", "analysable"),
)

# The analysable enrollments' window sums by program, month of enrollment and condition:
# what every pre/post figure adds up (queries.prepost_by_program), a fifth of
# enrollment_outcomes' rows. `<window>_with_admission_<setting>`: enrollments with an
# admission of the setting in the window (`all`: of either setting).
prepost_summary = Table(
    "prepost_summary",
    metadata,
    Column("program_id", String(ID_LENGTH), primary_key=True),
    Column("enrolled_month", String(7), primary_key=True),
    Column("primary_condition", String(16), primary_key=True),
    Column("state_code", String(2), nullable=False),
    Column("program_model", String(16), nullable=False),
    Column("enrollments", BigInteger, nullable=False),
    *[
        Column(f"{window}_with_admission_{setting}", BigInteger, nullable=False)
        for window in WINDOWS
        for setting in SETTINGS
    ],
    *_window_sum_columns(),
)

# One row: the data-through date the summaries were built with (NULL: no admission nor
# claim), so that provisional months follow the summaries, whatever wrote them.
summary_info = Table(
    "summary_info",
    metadata,
    Column("data_through", Date, nullable=True),
)

SUMMARY_TABLES: Final = (
    summary_info,
    calendar_months,
    eligibility_islands,
    enrollment_spells,
    monthly_summary,
    enrollment_outcomes,
    prepost_summary,
)


# ---------------------------------------------------------------------------------------
# Impact: each analysable enrollment, its matched comparison index dates and both groups'
# window sums, rebuilt by every load right after the summaries (see impact.py). The
# effects and their intervals are computed from these at query time.

# Window sums of one index date (an enrollment's enrolled_on, or a comparison member's
# index date), per setting of the stay or the claim's behavioral flag: `with_admission` is
# 1 when the window holds an admission of the setting; paid counts admissions and claims.
IMPACT_GROUPS: Final = ("enrolled", "comparison")
IMPACT_WINDOW_MEASURES: Final = (
    "with_admission",
    "admissions",
    "inpatient_days",
    "ed_visits",
    "paid_cents",
)


def impact_sum_columns() -> list[str]:
    """The columns of impact_outcomes after enrollment_id, in table order."""
    return [
        f"{group}_{window}_{name}"
        for group in IMPACT_GROUPS
        for window in WINDOWS
        for name in (
            *(f"{m}_{s}" for m in IMPACT_WINDOW_MEASURES for s in ADMISSION_SETTINGS),
            "with_admission_all",
        )
    ]


# One row per analysable enrollment: who, where, its matching variables, how many
# comparison index dates it matched (0: left out of the matched enrollments) and the
# comparison's mean and mean square of each matching variable on the matching scale
# (log1p), for the balance figure.
impact_enrollments = Table(
    "impact_enrollments",
    metadata,
    Column("enrollment_id", String(ID_LENGTH), primary_key=True),
    Column("member_id", String(ID_LENGTH), nullable=False),  # clusters the bootstrap
    Column("program_id", String(ID_LENGTH), nullable=False),
    Column("state_code", String(2), nullable=False),
    Column("program_model", String(16), nullable=False),
    Column("primary_condition", String(16), nullable=False),
    Column("enrolled_month", String(7), nullable=False),
    Column("age_band", String(8), nullable=False),
    Column("index_day", Integer, nullable=False),  # enrolled_on, as a day number
    *[Column(name, BigInteger, nullable=False) for name in MATCHING_VARIABLES],
    Column("matches", Integer, nullable=False),
    *[
        Column(f"comparison_{moment}_{name}", Double, nullable=True)
        for moment in ("mean", "meansq")
        for name in MATCHING_VARIABLES
    ],
    Index("ix_impact_enrollments_state_program", "state_code", "program_id"),
)

# The comparison index dates of each enrollment, nearest first (rank 1 to 3).
impact_matches = Table(
    "impact_matches",
    metadata,
    Column("enrollment_id", String(ID_LENGTH), primary_key=True),
    Column("match_rank", Integer, primary_key=True),
    Column("member_id", String(ID_LENGTH), nullable=False),
    Column("index_day", Integer, nullable=False),
    Column("distance", Double, nullable=False),
)

# Per analysable enrollment: its own window sums (`enrolled_*`) and the sums over its
# matched comparison index dates (`comparison_*`, 0 when unmatched; divide by `matches`).
impact_outcomes = Table(
    "impact_outcomes",
    metadata,
    Column("enrollment_id", String(ID_LENGTH), primary_key=True),
    *[Column(name, BigInteger, nullable=False) for name in impact_sum_columns()],
)

# The event study: per matched enrollment and relative month (-6..-1, +1..+6, see
# vocabulary.EVENT_STUDY_MONTHS) with an admission or a paid claim, the enrollment's own
# sums (`enrolled_*`) and the sums over its matched comparison dates (`comparison_*`,
# divide by impact_enrollments.matches). Months with nothing are not stored (zeros); the
# twelve months of an enrollment add up to its window sums in impact_outcomes.
EVENT_STUDY_SUMS: Final = ("admissions_behavioral", "admissions_medical", "paid_cents")
impact_months = Table(
    "impact_months",
    metadata,
    Column("enrollment_id", String(ID_LENGTH), primary_key=True),
    Column("relative_month", Integer, primary_key=True),
    *[
        Column(f"{group}_{name}", BigInteger, nullable=False)
        for group in IMPACT_GROUPS
        for name in EVENT_STUDY_SUMS
    ],
)

# The balance before matching: per exact-match cell of the analysable enrollments (state,
# month of the index date, primary condition, age band) with comparison candidates, their
# number and their mean and mean square of each matching variable on the matching scale.
impact_cells = Table(
    "impact_cells",
    metadata,
    Column("state_code", String(2), primary_key=True),
    Column("enrolled_month", String(7), primary_key=True),
    Column("primary_condition", String(16), primary_key=True),
    Column("age_band", String(8), primary_key=True),
    Column("candidates", Integer, nullable=False),
    *[
        Column(f"pool_{moment}_{name}", Double, nullable=False)
        for moment in ("mean", "meansq")
        for name in MATCHING_VARIABLES
    ],
)

# Each program's bootstrap replicates (impact.bootstrap_sums) per setting, over all its
# matched enrollments (`all_months`) and over those of the dashboard's opening months
# (`default_months`, month_from..month_to; stored only when it cuts the program): the query
# reads a set whose enrollments are the filters' for the program, instead of drawing them
# again (the same bits: the same rows, seed and code). `enrollments_digest`: SHA-256 of
# the set's enrollment ids in the query's row order (impact.enrollments_digest), how the
# query knows the set; `sums` last: float64 little-endian, replicates x (measures + 1).
impact_replicates = Table(
    "impact_replicates",
    metadata,
    Column("program_id", String(ID_LENGTH), primary_key=True),
    Column("setting", String(16), primary_key=True),
    Column("enrollment_window", String(16), primary_key=True),
    Column("month_from", String(7)),
    Column("month_to", String(7)),
    Column("matched_enrollments", Integer, nullable=False),
    Column("enrollments_digest", String(64), nullable=False),
    Column("sums", LargeBinary, nullable=False),
    CheckConstraint(_in("setting", SETTINGS), name="setting"),
    CheckConstraint(_in("enrollment_window", REPLICATE_WINDOWS), name="enrollment_window"),
)
# The outputs (impact, event_study, balance) of the common filters over the dashboard's
# opening months, and their enrolled members over those and the months before (the
# Overview's tiles), before suppression, as JSON (impact_store.py): their first request is
# one read. `code_digest`: of the code that computed them; a row of other code is not read.
impact_frames = Table(
    "impact_frames",
    metadata,
    Column("output", String(16), primary_key=True),
    # impact.scope_name: every state or one, every program model or one.
    Column("scope", String(64), primary_key=True),
    Column("setting", String(16), primary_key=True),
    Column("month_from", String(7), primary_key=True),
    Column("month_to", String(7), primary_key=True),
    Column("code_digest", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    CheckConstraint(_in("setting", SETTINGS), name="setting"),
)
# Not a problem when stale (missing, or of an older form): the query then draws the
# replicates (computes the frames); `migrate` builds them again.
IMPACT_OPTIONAL_TABLES: Final = ("impact_replicates", "impact_frames")

IMPACT_TABLES: Final = (
    impact_enrollments,
    impact_matches,
    impact_outcomes,
    impact_months,
    impact_cells,
    impact_replicates,
    impact_frames,
)
