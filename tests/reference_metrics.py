"""A plain-pandas reference implementation of the data contract's definitions (versions 1
and 2; `contract_version`, 2 unless asked).

It is a test oracle: it reads the seven contract tables as DataFrames (as read from the CSV
files) and computes every figure the dashboard serves, the simple way, one definition at a
time, so that it can be read side by side with the contract. It uses nothing of the
product: its own filter object, its own names, no SQL.

    base = Base(read_frames(Path("sample_data")))   # per-row tables, built once, lazily
    monthly(base)                                    # the monthly export, unfiltered
    monthly(base, Filters(states=("TX",), setting="behavioral"), contract_version=1)
    outcome_summary(base, Filters(), period="quarter", by=("state_code",), with_total=True)
    prepost(base, filters=Filters(conditions=("substance_use",)))
    enrolled_members(base, Filters(month_from="2024-01"))
    previous_period(base, Filters(month_from="2024-01", month_to="2024-06"))
    csv_text(monthly(base))                          # the export as the contract writes it

How it works: every member-month, admission and claim is one row labelled with its month,
state, program model, program and the member's condition, and every admission carries its
flags (discharged, LOS, readmissions, followed, follow-ups). These rows are then summed once
by those labels (the finest cut every filter and breakdown is made of: sums are additive),
and each figure is a filter and a group-by of that table. Pre/post totals are computed per
analysable enrollment, window and setting once, then filtered and pooled per program.

Version 1 against version 2 (the contract's change list): v1 counts a readmission over
discharges, of the same setting; v2 over followed discharges (30 days after discharge in
the data), all-cause under setting `all`, and adds ED visits, follow-ups after behavioral
discharges, peer contacts, `provisional`, four pre/post measures and the CSV's `'` guard.

Counts are ints, money is float dollars (summed exactly as integer cents), ratios are floats,
NaN where the contract leaves them empty (a zero denominator, or a change that needs one).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TABLES = ("states", "programs", "members", "eligibility", "enrollments", "admissions", "services")
NOT_ENROLLED = "not_enrolled"
ENROLLED = "enrolled"
PROGRAM_MODELS = ("embedded", "care_advocacy", "whole_health", "hot_spotting")
PROGRAM_GROUPS = (*PROGRAM_MODELS, NOT_ENROLLED)
CONDITIONS = ("mental_health", "substance_use", "co_occurring")
SETTINGS = ("all", "behavioral", "medical")
ADMISSION_SETTINGS = ("behavioral", "medical")
PERIODS = ("month", "quarter", "year")
DIMENSIONS = ("state_code", "program_model", "program_id", "population")
PRE_DAYS = 183  # pre window: enrolled_on - 183 .. enrolled_on - 1
POST_DAYS = 183  # post window: enrolled_on .. enrolled_on + 182
READMISSION_DAYS = 30
ONE_DAY = pd.Timedelta(days=1)

RUNOUT_MONTHS = 3  # months still receiving claims: the provisional months (a setting)
FOLLOWUP_CATEGORIES = ("outpatient", "professional", "peer_support")
VISIT_CATEGORIES = ("emergency", "outpatient", "professional")
CONTRACT_VERSION = 2  # the version computed unless another is asked for

MONEY_COLUMNS = ("paid", "behavioral_paid", "medical_paid")
PREPOST_LEAD_COLUMNS = (
    "program_id",
    "program_name",
    "state_code",
    "program_model",
    "setting",
    "enrollments",
)


@dataclass(frozen=True)
class Contract:
    """The columns of one version of the contract."""

    version: int
    count_columns: tuple[str, ...]
    monthly_rate_columns: tuple[str, ...]
    prepost_measures: tuple[str, ...]
    flag_columns: tuple[str, ...] = ()

    @property
    def summary_rate_columns(self) -> tuple[str, ...]:
        # outcome_summary serves the paid split per member-month as well (the pages plot it)
        return (*self.monthly_rate_columns, "behavioral_cost_pmpm", "medical_cost_pmpm")

    @property
    def measure_columns(self) -> tuple[str, ...]:
        """outcome_summary's columns after the period and the `by` columns."""
        return (
            *self.count_columns,
            *MONEY_COLUMNS,
            *self.summary_rate_columns,
            *self.flag_columns,
        )

    @property
    def monthly_columns(self) -> tuple[str, ...]:
        return (
            "month",
            "state_code",
            "program_model",
            *self.count_columns,
            *MONEY_COLUMNS,
            *self.monthly_rate_columns,
            *self.flag_columns,
        )

    @property
    def prepost_columns(self) -> tuple[str, ...]:
        return (
            *PREPOST_LEAD_COLUMNS,
            *(
                f"{kind}_{measure}"
                for measure in self.prepost_measures
                for kind in ("pre", "post", "change", "pct_change")
            ),
        )


_PREPOST_V1 = (
    "share_with_admission",
    "admissions_per_enrollment",
    "inpatient_days_per_enrollment",
    "average_los",
    "behavioral_paid_per_enrollment",
    "medical_paid_per_enrollment",
    "total_paid_per_enrollment",
    "paid_per_admission",
)
V1 = Contract(
    version=1,
    count_columns=(
        "member_months",
        "admissions",
        "discharges",
        "inpatient_days",
        "readmissions_30d",
    ),
    monthly_rate_columns=(
        "admissions_per_1000_mm",
        "inpatient_days_per_1000_mm",
        "average_los",
        "readmission_rate_30d",
        "cost_pmpm",
    ),
    prepost_measures=_PREPOST_V1,
)
V2 = Contract(
    version=2,
    count_columns=(
        "member_months",
        "admissions",
        "discharges",
        "inpatient_days",
        "followed_discharges",
        "readmissions_30d",
        "ed_visits",
        "followed_behavioral_discharges",
        "followups_7d",
        "followups_30d",
        "peer_contacts_1d",
    ),
    monthly_rate_columns=(
        "admissions_per_1000_mm",
        "inpatient_days_per_1000_mm",
        "average_los",
        "readmission_rate_30d",
        "ed_visits_per_1000_mm",
        "followup_rate_7d",
        "followup_rate_30d",
        "peer_contact_rate_1d",
        "cost_pmpm",
    ),
    prepost_measures=(
        *_PREPOST_V1,
        "ed_visits_per_enrollment",
        "visits_per_enrollment",
        "visit_paid_per_enrollment",
        "inpatient_paid_per_enrollment",
    ),
    flag_columns=("provisional",),
)
CONTRACTS = {1: V1, 2: V2}

TEXT_COLUMNS = frozenset(
    {"month", "quarter", "year", "state_code", "program_model", "program_id", "program_name"}
    | {"setting", "population"}
)
INTEGER_COLUMNS = frozenset({*V1.count_columns, *V2.count_columns, "enrollments"})
BOOLEAN_COLUMNS = frozenset({"provisional"})
# v2: a text cell starting with one of these is written after a `'` (no spreadsheet formula)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def contract(version: int) -> Contract:
    if version not in CONTRACTS:
        raise ValueError(f"contract versions are {sorted(CONTRACTS)}, not {version!r}")
    return CONTRACTS[version]


# ---------------------------------------------------------------------------------------
# filters


@dataclass(frozen=True)
class Filters:
    """The contract's filters. None: no restriction; an empty tuple of states, models or
    conditions selects nothing; programs restrict the enrolled rows only; the month range
    restricts monthly rows by month and prepost to enrollments whose enrolled_on is in it."""

    states: tuple[str, ...] | None = None
    program_models: tuple[str, ...] = PROGRAM_GROUPS
    program_ids: tuple[str, ...] | None = None
    conditions: tuple[str, ...] | None = None
    month_from: str | None = None
    month_to: str | None = None
    setting: str = "all"

    @classmethod
    def of(cls, other: Any) -> Filters:
        """A copy of any object with the same attributes (the product's filter, say)."""
        if other is None:
            return cls()
        if isinstance(other, Filters):
            return other
        values = {f.name: getattr(other, f.name) for f in fields(cls)}
        for name in ("states", "program_models", "program_ids", "conditions"):
            if values[name] is not None:
                values[name] = tuple(values[name])
        return cls(**values)

    @property
    def selects_nothing(self) -> bool:
        return any(
            chosen is not None and len(chosen) == 0
            for chosen in (self.states, self.program_models, self.conditions)
        )


# ---------------------------------------------------------------------------------------
# reading and normalising the tables


def read_frames(directory: Path | str) -> dict[str, pd.DataFrame]:
    """The seven tables of a folder of contract files (.csv or .csv.gz), every column as text."""
    directory = Path(directory)
    frames = {}
    for table in TABLES:
        path = directory / f"{table}.csv.gz"
        if not path.exists():
            path = directory / f"{table}.csv"
        frames[table] = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frames


def _dates(column: pd.Series) -> pd.Series:
    """ISO dates (empty = missing) as datetime64."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.astype("datetime64[ns]")
    text = column.astype("string").str.strip()
    return pd.to_datetime(text.mask(text.isna() | (text == "")), format="%Y-%m-%d").astype(
        "datetime64[ns]"
    )


def _cents(column: pd.Series) -> pd.Series:
    """Money as exact integer cents ("12", "12.5" and "12.50" are all read exactly)."""
    if pd.api.types.is_numeric_dtype(column):
        return (column.astype(float) * 100).round().astype("int64")
    parts = column.astype(str).str.strip().str.partition(".")
    whole = parts[0].astype("int64")
    fraction = (parts[2] + "00").str[:2].astype("int64")
    if (parts[2].str.len() > 2).any():
        raise ValueError("money has at most 2 decimals")
    return whole * 100 + fraction


def _bools(column: pd.Series) -> pd.Series:
    """`true` / `false` as booleans."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype(bool)
    values = column.astype(str).str.strip().map({"true": True, "false": False})
    if values.isna().any():
        raise ValueError("behavioral is `true` or `false`")
    return values.astype(bool)


def _prepare(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Copies of the tables with typed columns (ids and codes stay text)."""
    f = {name: frames[name].copy() for name in TABLES}
    for name in TABLES:
        for column in f[name].columns:
            if column.endswith("_id") or column in ("state_code",):
                f[name][column] = f[name][column].astype(object).astype(str)
    f["eligibility"]["start_date"] = _dates(f["eligibility"]["start_date"])
    f["eligibility"]["end_date"] = _dates(f["eligibility"]["end_date"])
    f["enrollments"]["enrolled_on"] = _dates(f["enrollments"]["enrolled_on"])
    f["enrollments"]["ended_on"] = _dates(f["enrollments"]["ended_on"])
    f["admissions"]["admit_date"] = _dates(f["admissions"]["admit_date"])
    f["admissions"]["discharge_date"] = _dates(f["admissions"]["discharge_date"])
    f["admissions"]["paid_cents"] = _cents(f["admissions"]["paid_amount"])
    f["services"]["service_date"] = _dates(f["services"]["service_date"])
    f["services"]["paid_cents"] = _cents(f["services"]["paid_amount"])
    f["services"]["behavioral"] = _bools(f["services"]["behavioral"])
    f["services"]["visits"] = f["services"]["visits"].astype("int64")
    return f


# ---------------------------------------------------------------------------------------
# shared definitions


def length_of_stay(admissions: pd.DataFrame) -> pd.Series:
    """LOS = discharge_date - admit_date in days, at least 1; NaN for stays not discharged."""
    days = (admissions["discharge_date"] - admissions["admit_date"]).dt.days
    return days.clip(lower=1).where(admissions["discharge_date"].notna())


def readmission_flags(admissions: pd.DataFrame, *, same_setting: bool = True) -> pd.Series:
    """True for a discharged admission followed by another admission of the same member (and
    of the same setting, with `same_setting`) whose admit_date is 1 to 30 days after its
    discharge_date."""
    stays = admissions[["admission_id", "member_id", "setting", "admit_date", "discharge_date"]]
    pairs = stays.merge(
        stays[["admission_id", "member_id", "setting", "admit_date"]],
        on="member_id",
        suffixes=("", "_next"),
    )
    gap = (pairs["admit_date_next"] - pairs["discharge_date"]).dt.days
    readmitted = (
        (pairs["admission_id_next"] != pairs["admission_id"])
        & (gap >= 1)
        & (gap <= READMISSION_DAYS)
    )
    if same_setting:
        readmitted &= pairs["setting_next"] == pairs["setting"]
    return admissions["admission_id"].isin(set(pairs.loc[readmitted, "admission_id"]))


def followed_flags(admissions: pd.DataFrame, through: pd.Timestamp) -> pd.Series:
    """v2: a followed discharge is discharged with its 30 days after discharge all in the data
    (discharge_date + 30 on or before the data-through date)."""
    return admissions["discharge_date"].notna() & (
        admissions["discharge_date"] + READMISSION_DAYS * ONE_DAY <= through
    )


def followup_flags(admissions: pd.DataFrame, claims: pd.DataFrame) -> pd.DataFrame:
    """v2: per admission (followed behavioral discharges only; False for the others), whether
    the member has a behavioral outpatient, professional or peer_support claim 1 to 7 days
    (`followup_7d`) or 1 to 30 days (`followup_30d`) after the discharge_date, and a
    peer_support claim of any behavioral flag on the discharge day or the next
    (`peer_contact_1d`). Claims count wherever they fall."""
    stays = admissions.loc[
        admissions["followed"] & (admissions["setting"] == "behavioral"),
        ["admission_id", "member_id", "discharge_date"],
    ]
    pairs = stays.merge(claims[["member_id", "service_date", "category", "behavioral"]])
    gap = (pairs["service_date"] - pairs["discharge_date"]).dt.days
    follow_up = pairs["behavioral"] & pairs["category"].isin(FOLLOWUP_CATEGORIES)
    peer = pairs["category"] == "peer_support"
    found = {
        "followup_7d": pairs.loc[follow_up & (gap >= 1) & (gap <= 7), "admission_id"],
        "followup_30d": pairs.loc[follow_up & (gap >= 1) & (gap <= 30), "admission_id"],
        "peer_contact_1d": pairs.loc[peer & (gap >= 0) & (gap <= 1), "admission_id"],
    }
    return pd.DataFrame(
        {name: admissions["admission_id"].isin(set(ids)) for name, ids in found.items()},
        index=admissions.index,
    )


def group_enrollment(
    enrollments: pd.DataFrame, events: pd.DataFrame, date_column: str
) -> pd.Series:
    """For each event (a row with member_id and a date), the enrollment_id of the member's
    group on that date: among the enrollments with enrolled_on <= date and (ended_on empty or
    date <= ended_on), the one with the latest enrolled_on, ties to the smaller enrollment_id.
    None when the member is enrolled in none (the not-enrolled comparison population)."""
    keyed = pd.DataFrame(
        {
            "member_id": events["member_id"].to_numpy(),
            date_column: events[date_column].to_numpy(),
            "_event": np.arange(len(events)),
        }
    )
    candidates = keyed.merge(
        enrollments[["enrollment_id", "member_id", "enrolled_on", "ended_on"]], on="member_id"
    )
    on = candidates[date_column]
    active = (candidates["enrolled_on"] <= on) & (
        candidates["ended_on"].isna() | (on <= candidates["ended_on"])
    )
    candidates = candidates[active].sort_values(
        ["_event", "enrolled_on", "enrollment_id"], ascending=[True, False, True]
    )
    chosen = candidates.drop_duplicates("_event").set_index("_event")["enrollment_id"]
    return pd.Series(
        chosen.reindex(range(len(events))).to_numpy(), index=events.index, dtype=object
    )


def data_through(f: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """The latest admit_date or service_date."""
    return max(f["admissions"]["admit_date"].max(), f["services"]["service_date"].max())


def joined_spans(eligibility: pd.DataFrame) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """Each member's eligibility spans joined: spans that overlap or touch (one ending the day
    before the next starts) make one."""
    joined: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    ordered = eligibility.sort_values(["member_id", "start_date", "end_date"])
    for member_id, start, end in ordered[["member_id", "start_date", "end_date"]].itertuples(
        index=False
    ):
        islands = joined.setdefault(member_id, [])
        if islands and start <= islands[-1][1] + ONE_DAY:
            islands[-1] = (islands[-1][0], max(islands[-1][1], end))
        else:
            islands.append((start, end))
    return joined


def joined_islands(eligibility: pd.DataFrame) -> pd.DataFrame:
    """joined_spans as a frame: member_id, start_date, end_date."""
    return pd.DataFrame(
        [(m, s, e) for m, spans in joined_spans(eligibility).items() for s, e in spans],
        columns=["member_id", "start_date", "end_date"],
    )


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else math.nan


def month_number(month: str) -> int:
    """YYYY-MM as year * 12 + month - 1, so months subtract."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def month_text(number: int) -> str:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def quarter_of(month: str) -> str:
    return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"


def year_of(month: str) -> str:
    return month[:4]


# ---------------------------------------------------------------------------------------
# the per-row tables, built once


class Base:
    """The tables of one extract, typed, and the per-row facts the figures are sums of.

    Each part is computed on first use and kept: build one Base per extract and ask it for
    as many figures as needed.
    """

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.f = _prepare(frames)

    @cached_property
    def data_through(self) -> pd.Timestamp:
        return data_through(self.f)

    @cached_property
    def _enrollments(self) -> pd.DataFrame:
        """Every enrollment with its program's state and model and its member's condition."""
        members = self.f["members"][["member_id", "primary_condition"]]
        return (
            self.f["enrollments"]
            .merge(
                self.f["programs"][["program_id", "state_code", "program_model"]], on="program_id"
            )
            .merge(members, on="member_id")
        )

    def _label(self, frame: pd.DataFrame, date_column: str) -> pd.DataFrame:
        """Add month, state_code, program_model, program_id ("" when not enrolled) and the
        member's condition to events dated by date_column: the group on that date."""
        members = self.f["members"].set_index("member_id")
        enrollments = self._enrollments.set_index("enrollment_id")
        frame = frame.copy()
        enrollment = group_enrollment(self._enrollments, frame, date_column)
        frame["month"] = frame[date_column].dt.strftime("%Y-%m")
        frame["program_id"] = enrollment.map(enrollments["program_id"]).fillna("")
        frame["program_model"] = enrollment.map(enrollments["program_model"]).fillna(NOT_ENROLLED)
        frame["state_code"] = enrollment.map(enrollments["state_code"]).fillna(
            frame["member_id"].map(members["state_code"])
        )
        frame["condition"] = frame["member_id"].map(members["primary_condition"])
        return frame

    @cached_property
    def member_months(self) -> pd.DataFrame:
        """One row per member and calendar month with at least one eligible day, labelled by
        the group on the month's first day."""
        spans = self.f["eligibility"]
        first = spans["start_date"].dt.year * 12 + spans["start_date"].dt.month - 1
        last = spans["end_date"].dt.year * 12 + spans["end_date"].dt.month - 1
        months_of_span = (last - first + 1).to_numpy()
        numbers = (
            np.concatenate([np.arange(a, b + 1) for a, b in zip(first, last, strict=True)])
            if len(spans)
            else np.zeros(0, dtype="int64")
        )
        mm = pd.DataFrame(
            {
                "member_id": np.repeat(spans["member_id"].to_numpy(), months_of_span),
                "month_number": numbers.astype("int64"),
            }
        ).drop_duplicates()
        mm["first_day"] = pd.to_datetime(
            {"year": mm["month_number"] // 12, "month": mm["month_number"] % 12 + 1, "day": 1}
        )
        return self._label(mm.reset_index(drop=True), "first_day")

    @cached_property
    def admissions(self) -> pd.DataFrame:
        """One row per admission, labelled by the group on its admit_date, with its flags:
        `readmission` (v1: discharged, the same setting 1-30 days later), `followed`,
        `readmitted_any` / `readmitted_same` (v2: followed, and any / the same setting 1-30
        days later) and the follow-ups of followed behavioral discharges."""
        adm = self.f["admissions"].copy()
        adm["los"] = length_of_stay(adm)
        adm["discharged"] = adm["discharge_date"].notna()
        adm["readmission"] = readmission_flags(adm, same_setting=True)
        adm["followed"] = followed_flags(adm, self.data_through)
        adm["readmitted_any"] = adm["followed"] & readmission_flags(adm, same_setting=False)
        adm["readmitted_same"] = adm["followed"] & adm["readmission"]
        adm = pd.concat([adm, followup_flags(adm, self.f["services"])], axis=1)
        return self._label(adm, "admit_date")

    @cached_property
    def claims(self) -> pd.DataFrame:
        """One row per claim, labelled by the group on its service_date."""
        return self._label(self.f["services"], "service_date")

    @cached_property
    def cells(self) -> pd.DataFrame:
        """The per-row facts summed by month, state_code, program_model, program_id and
        condition: one row per such cell with at least one member-month, admission or claim.
        Admission sums are kept per admission setting (`_behavioral`, `_medical`), ED visits
        per the claims' behavioral flag (`_behavioral`: true)."""
        keys = ["month", "state_code", "program_model", "program_id", "condition"]
        mm = self.member_months[keys].assign(member_months=1)
        adm = self.admissions
        facts = {}
        for setting in ADMISSION_SETTINGS:
            of = adm["setting"] == setting
            facts[f"admissions_{setting}"] = of
            facts[f"discharges_{setting}"] = of & adm["discharged"]
            facts[f"inpatient_days_{setting}"] = adm["los"].fillna(0).where(of, 0)
            facts[f"readmissions_v1_{setting}"] = of & adm["readmission"]
            facts[f"followed_discharges_{setting}"] = of & adm["followed"]
            facts[f"readmissions_any_{setting}"] = of & adm["readmitted_any"]
            facts[f"readmissions_same_{setting}"] = of & adm["readmitted_same"]
            facts[f"admission_cents_{setting}"] = adm["paid_cents"].where(of, 0)
        for flag in ("followup_7d", "followup_30d", "peer_contact_1d"):
            facts[flag] = adm[flag]  # only ever true for followed behavioral discharges
        adm_facts = pd.concat(
            [adm[keys], pd.DataFrame(facts, index=adm.index).astype("int64")], axis=1
        )
        svc = self.claims
        emergency = svc["category"] == "emergency"
        svc_facts = svc[keys].assign(
            claims=1,
            claim_cents_behavioral=svc["paid_cents"].where(svc["behavioral"], 0),
            claim_cents_medical=svc["paid_cents"].where(~svc["behavioral"], 0),
            ed_visits_behavioral=svc["visits"].where(emergency & svc["behavioral"], 0),
            ed_visits_medical=svc["visits"].where(emergency & ~svc["behavioral"], 0),
        )
        sums = [part.groupby(keys, sort=False).sum() for part in (mm, adm_facts, svc_facts)]
        cells = pd.concat(sums, axis=1).fillna(0).astype("int64").reset_index()
        cells["quarter"] = cells["month"].map(quarter_of)
        cells["year"] = cells["month"].map(year_of)
        cells["population"] = np.where(
            cells["program_model"] == NOT_ENROLLED, NOT_ENROLLED, ENROLLED
        )
        return cells

    @cached_property
    def month_bounds(self) -> tuple[str, str] | None:
        """The first and last month with a member-month, an admission or a claim."""
        months = self.cells["month"]
        return None if months.empty else (str(months.min()), str(months.max()))

    @cached_property
    def analysable(self) -> pd.DataFrame:
        """Every enrollment with its windows and the three conditions of the analysable rule."""
        return _analysable(self.f)

    @cached_property
    def enrollment_totals(self) -> pd.DataFrame:
        """Per analysable enrollment: program_id, condition, enrolled month, and its totals in
        each window, admission totals per setting (`{window}_{total}_{setting}`)."""
        status = self.analysable
        enr = status[status["analysable"]].copy()
        parts = [
            enr.set_index("enrollment_id")[["program_id", "member_id", "enrolled_on"]],
        ]
        for window in ("pre", "post"):
            parts.append(_window_totals(self.f, enr, window).add_prefix(f"{window}_"))
        out = pd.concat(parts, axis=1).reset_index()
        out["enrolled_month"] = out["enrolled_on"].dt.strftime("%Y-%m")
        out["condition"] = out["member_id"].map(
            self.f["members"].set_index("member_id")["primary_condition"]
        )
        return out


# ---------------------------------------------------------------------------------------
# the monthly measures: outcome_summary and the monthly export


def _setting_sum(rows: pd.DataFrame, measure: str, setting: str) -> pd.Series:
    """A sum kept per setting, for the setting asked: both, or one."""
    if setting == "all":
        return rows[f"{measure}_behavioral"] + rows[f"{measure}_medical"]
    return rows[f"{measure}_{setting}"]


def _divide(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, NaN where the denominator is 0 (undefined)."""
    num, den = numerator.astype("float64"), denominator.astype("float64")
    return (num / den.where(den != 0)).astype("float64")


def _filtered_cells(base: Base, f: Filters) -> pd.DataFrame:
    cells = base.cells
    keep = cells["program_model"].isin(f.program_models)
    if f.states is not None:
        keep &= cells["state_code"].isin(f.states)
    if f.program_ids is not None:  # the enrolled rows only
        keep &= (cells["program_model"] == NOT_ENROLLED) | cells["program_id"].isin(f.program_ids)
    if f.conditions is not None:
        keep &= cells["condition"].isin(f.conditions)
    if f.month_from is not None:
        keep &= cells["month"] >= f.month_from
    if f.month_to is not None:
        keep &= cells["month"] <= f.month_to
    return cells[keep]


def provisional_after(base: Base, runout_months: int = RUNOUT_MONTHS) -> str:
    """The last month that is not provisional: the data-through month minus runout_months.
    Later months (those after the data-through month included) are provisional."""
    through = base.data_through
    return month_text(through.year * 12 + through.month - 1 - runout_months)


def _measures(groups: pd.DataFrame, setting: str, c: Contract, last_complete: str) -> pd.DataFrame:
    """The measures of summed cells (one row each) in version c of the contract.

    The setting limits the admission columns (v2: and ED visits, by the claims' flag); never
    member-months, paid, nor (v2) the follow-ups. v1: readmissions of the same setting, over
    discharges. v2: readmissions over followed discharges, of any setting under `all`.
    `last_month` (the latest month summed) gives v2's `provisional`.
    """
    out: dict[str, pd.Series] = {"member_months": groups["member_months"]}
    for measure in ("admissions", "discharges", "inpatient_days"):
        out[measure] = _setting_sum(groups, measure, setting)
    if c.version == 1:
        out["readmissions_30d"] = _setting_sum(groups, "readmissions_v1", setting)
        readmission_base = out["discharges"]
    else:
        out["followed_discharges"] = _setting_sum(groups, "followed_discharges", setting)
        readmissions = "readmissions_any" if setting == "all" else "readmissions_same"
        out["readmissions_30d"] = _setting_sum(groups, readmissions, setting)
        out["ed_visits"] = _setting_sum(groups, "ed_visits", setting)
        out["followed_behavioral_discharges"] = groups["followed_discharges_behavioral"]
        out["followups_7d"] = groups["followup_7d"]
        out["followups_30d"] = groups["followup_30d"]
        out["peer_contacts_1d"] = groups["peer_contact_1d"]
        readmission_base = out["followed_discharges"]
    behavioral = groups["admission_cents_behavioral"] + groups["claim_cents_behavioral"]
    medical = groups["admission_cents_medical"] + groups["claim_cents_medical"]
    paid = behavioral + medical
    mm = out["member_months"]
    out["paid"] = paid / 100
    out["behavioral_paid"] = behavioral / 100
    out["medical_paid"] = medical / 100
    out["admissions_per_1000_mm"] = _divide(out["admissions"] * 1000, mm)
    out["inpatient_days_per_1000_mm"] = _divide(out["inpatient_days"] * 1000, mm)
    out["average_los"] = _divide(out["inpatient_days"], out["discharges"])
    out["readmission_rate_30d"] = _divide(out["readmissions_30d"], readmission_base)
    if c.version >= 2:
        followed = out["followed_behavioral_discharges"]
        out["ed_visits_per_1000_mm"] = _divide(out["ed_visits"] * 1000, mm)
        out["followup_rate_7d"] = _divide(out["followups_7d"], followed)
        out["followup_rate_30d"] = _divide(out["followups_30d"], followed)
        out["peer_contact_rate_1d"] = _divide(out["peer_contacts_1d"], followed)
        out["provisional"] = groups["last_month"] > last_complete
    out["cost_pmpm"] = _divide(paid / 100, mm)
    out["behavioral_cost_pmpm"] = _divide(behavioral / 100, mm)
    out["medical_cost_pmpm"] = _divide(medical / 100, mm)
    frame = pd.DataFrame(out, index=groups.index)
    for column in c.count_columns:
        frame[column] = frame[column].astype("int64")
    for column in (*MONEY_COLUMNS, *c.summary_rate_columns):
        frame[column] = frame[column].astype("float64")
    for column in c.flag_columns:
        frame[column] = frame[column].astype(bool)
    return frame[list(c.measure_columns)]


def _text_or_none(column: pd.Series) -> pd.Series:
    values = [None if v is None or v == "" or v is pd.NA or v != v else str(v) for v in column]
    return pd.Series(values, index=column.index, dtype=object)


def _empty(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})


def outcome_summary(
    base: Base,
    filters: Any = None,
    *,
    period: str | None = "month",
    by: tuple[str, ...] = (),
    with_total: bool = False,
    scope: str = "filters",
    contract_version: int = CONTRACT_VERSION,
    runout_months: int = RUNOUT_MONTHS,
) -> pd.DataFrame:
    """The measures by period (month YYYY-MM, quarter YYYY-Qn, year YYYY, or None: the whole
    range) and by the `by` dimensions (state_code, program_model, program_id: None for
    not_enrolled rows, population: enrolled or not_enrolled), one row per combination with
    at least one member-month, admission or claim. `with_total`: each period also gets a
    row pooling all its rows, the `by` columns None. `scope="national"`: every state and
    program pooled (the filters' states and programs dropped). Ordered by the period and the
    `by` columns as plain text, None first.

    v2's `provisional` is defined per month; a quarter, a year or the whole range here is
    provisional when one of its months with rows is (this reference's reading).
    """
    c = contract(contract_version)
    f = Filters.of(filters)
    if period is not None and period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS} or None, not {period!r}")
    if any(d not in DIMENSIONS for d in by) or len(set(by)) != len(by):
        raise ValueError(f"by takes distinct dimensions of {DIMENSIONS}, not {by!r}")
    if scope == "national":
        f = replace(f, states=None, program_ids=None)
    keys = ([period] if period else []) + list(by)
    columns = [*keys, *c.measure_columns]
    if f.selects_nothing:
        return _empty(columns)
    cells = _filtered_cells(base, f)
    if cells.empty:
        return _empty(columns)
    summed = [n for n in cells.columns if n not in (*DIMENSIONS, *PERIODS, "condition")]
    last_complete = provisional_after(base, runout_months)

    def grouped(group_keys: list[str]) -> pd.DataFrame:
        if not group_keys:
            sums = cells[summed].sum().to_frame().T.astype("int64")
            return sums.assign(last_month=cells["month"].max())
        sums = cells.groupby(group_keys)[summed].sum()
        return sums.join(
            cells.groupby(group_keys)["month"].max().rename("last_month")
        ).reset_index()

    parts = grouped(keys)
    frame = pd.concat([parts[keys], _measures(parts, f.setting, c, last_complete)], axis=1)
    frame["_total"] = 0
    if with_total and by:
        pooled = grouped([period] if period else [])
        totals = pd.concat(
            [
                pooled[[period]] if period else pd.DataFrame(index=pooled.index),
                _measures(pooled, f.setting, c, last_complete),
            ],
            axis=1,
        )
        for dimension in by:
            totals[dimension] = None
        totals["_total"] = 1
        frame = pd.concat([frame, totals[frame.columns]], ignore_index=True)
    for key in keys:  # text, None where empty (a pooled row; no program when not enrolled)
        frame[key] = _text_or_none(frame[key])
    # plain text order (code points), None first; a period's pooled row after its parts
    order = pd.DataFrame(
        {f"_{i}": frame[k].map(lambda v: "" if v is None else str(v)) for i, k in enumerate(keys)}
    )
    order["_total"] = frame["_total"]
    frame = frame.loc[order.sort_values(list(order.columns), kind="stable").index]
    return frame[columns].reset_index(drop=True)


def monthly(
    source: Base | dict[str, pd.DataFrame],
    filters: Any = None,
    *,
    contract_version: int = CONTRACT_VERSION,
    runout_months: int = RUNOUT_MONTHS,
) -> pd.DataFrame:
    """The monthly export: one row per month, state and program model (not_enrolled
    included) with at least one member-month, admission or claim."""
    base = source if isinstance(source, Base) else Base(source)
    frame = outcome_summary(
        base,
        filters,
        period="month",
        by=("state_code", "program_model"),
        contract_version=contract_version,
        runout_months=runout_months,
    )
    return frame[list(contract(contract_version).monthly_columns)]


# ---------------------------------------------------------------------------------------
# pre/post


def _in_window(
    enrollments: pd.DataFrame, events: pd.DataFrame, date_column: str, first: str, last: str
) -> pd.DataFrame:
    """Pairs (enrollment, event of its member) with the event dated from `first` to `last`
    (columns of the enrollment rows), both days included."""
    pairs = enrollments.merge(events, on="member_id")
    return pairs[(pairs[date_column] >= pairs[first]) & (pairs[date_column] <= pairs[last])]


def analysable_enrollments(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every enrollment with its windows and the three conditions of the analysable rule."""
    return _analysable(_prepare(frames))


def _analysable(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    enr = f["enrollments"][["enrollment_id", "member_id", "program_id", "enrolled_on"]].copy()
    enr["pre_first"] = enr["enrolled_on"] - PRE_DAYS * ONE_DAY
    enr["pre_last"] = enr["enrolled_on"] - ONE_DAY
    enr["post_first"] = enr["enrolled_on"]
    enr["post_last"] = enr["enrolled_on"] + (POST_DAYS - 1) * ONE_DAY

    # 1. one joined eligibility span covers every day of both windows (they are contiguous)
    islands = enr[["enrollment_id", "member_id", "pre_first", "post_last"]].merge(
        joined_islands(f["eligibility"]), on="member_id"
    )
    covering = islands[
        (islands["start_date"] <= islands["pre_first"])
        & (islands["post_last"] <= islands["end_date"])
    ]
    enr["eligible_both_windows"] = enr["enrollment_id"].isin(set(covering["enrollment_id"]))

    # 2. a behavioral claim or a behavioral admission dated in either window
    claims = f["services"][f["services"]["behavioral"]]
    stays = f["admissions"][f["admissions"]["setting"] == "behavioral"]
    with_claim = _in_window(
        enr, claims[["member_id", "service_date"]], "service_date", "pre_first", "post_last"
    )
    with_stay = _in_window(
        enr, stays[["member_id", "admit_date"]], "admit_date", "pre_first", "post_last"
    )
    enr["has_behavioral_use"] = enr["enrollment_id"].isin(
        set(with_claim["enrollment_id"]) | set(with_stay["enrollment_id"])
    )

    # 3. the post window ends on or before the data-through date
    enr["post_window_complete"] = enr["post_last"] <= data_through(f)

    enr["analysable"] = (
        enr["eligible_both_windows"] & enr["has_behavioral_use"] & enr["post_window_complete"]
    )
    return enr


def _window_totals(f: dict[str, pd.DataFrame], enr: pd.DataFrame, window: str) -> pd.DataFrame:
    """Per enrollment of `enr`, its totals in one window ("pre" or "post"): all the member's
    admissions (by admit_date, whatever their group) and claims (by service_date) in it.
    Admission totals per setting (`_all`, `_behavioral`, `_medical`); paid by kind."""
    first, last = f"{window}_first", f"{window}_last"
    keys = enr[["enrollment_id", "member_id", first, last]]
    adm = f["admissions"].copy()
    adm["los"] = length_of_stay(adm)
    adm_in = _in_window(keys, adm, "admit_date", first, last)
    svc_in = _in_window(keys, f["services"], "service_date", first, last)

    def per_enrollment(rows: pd.DataFrame, values: pd.Series) -> pd.Series:
        return values.groupby(rows["enrollment_id"]).sum()

    behavioral_adm = adm_in["setting"] == "behavioral"
    behavioral_svc = svc_in["behavioral"]
    columns: dict[str, pd.Series] = {
        # paid per enrollment: every admission and claim, whatever the setting asked for
        "behavioral_cents": pd.concat(
            [
                per_enrollment(adm_in, adm_in["paid_cents"].where(behavioral_adm, 0)),
                per_enrollment(svc_in, svc_in["paid_cents"].where(behavioral_svc, 0)),
            ],
            axis=1,
        ).sum(axis=1),
        "medical_cents": pd.concat(
            [
                per_enrollment(adm_in, adm_in["paid_cents"].where(~behavioral_adm, 0)),
                per_enrollment(svc_in, svc_in["paid_cents"].where(~behavioral_svc, 0)),
            ],
            axis=1,
        ).sum(axis=1),
    }
    # admission measures: only the admissions of the setting
    for setting in SETTINGS:
        of = adm_in["setting"].isin(ADMISSION_SETTINGS if setting == "all" else (setting,))
        columns[f"admissions_{setting}"] = per_enrollment(adm_in, of.astype("int64"))
        columns[f"discharges_{setting}"] = per_enrollment(
            adm_in, (of & adm_in["discharge_date"].notna()).astype("int64")
        )
        columns[f"days_{setting}"] = per_enrollment(adm_in, adm_in["los"].fillna(0).where(of, 0))
        columns[f"admission_cents_{setting}"] = per_enrollment(
            adm_in, adm_in["paid_cents"].where(of, 0)
        )
    # claim measures (v2): the claims whose behavioral flag matches a limited setting
    emergency = svc_in["category"] == "emergency"
    visit = svc_in["category"].isin(VISIT_CATEGORIES)
    for setting in SETTINGS:
        of = (
            pd.Series(True, index=svc_in.index)
            if setting == "all"
            else behavioral_svc == (setting == "behavioral")
        )
        columns[f"ed_visits_{setting}"] = per_enrollment(
            svc_in, svc_in["visits"].where(of & emergency, 0)
        )
        columns[f"visits_{setting}"] = per_enrollment(svc_in, svc_in["visits"].where(of & visit, 0))
        columns[f"visit_cents_{setting}"] = per_enrollment(
            svc_in, svc_in["paid_cents"].where(of & visit, 0)
        )
    totals = pd.DataFrame(columns).reindex(enr["enrollment_id"]).fillna(0).astype("int64")
    for setting in SETTINGS:
        totals[f"with_admission_{setting}"] = (totals[f"admissions_{setting}"] > 0).astype("int64")
    return totals


def _selected_programs(base: Base, f: Filters) -> pd.DataFrame:
    programs = base.f["programs"]
    keep = programs["program_model"].isin(f.program_models)
    if f.states is not None:
        keep &= programs["state_code"].isin(f.states)
    if f.program_ids is not None:
        keep &= programs["program_id"].isin(f.program_ids)
    return programs[keep].sort_values(["state_code", "program_id"])


def prepost(
    source: Base | dict[str, pd.DataFrame],
    setting: str | None = None,
    *,
    filters: Any = None,
    contract_version: int = CONTRACT_VERSION,
) -> pd.DataFrame:
    """The prepost export: one row per program of the filters (ordered by state_code,
    program_id), over its analysable enrollments whose member has a selected condition and
    whose enrolled_on falls in the month range; the setting (of the filters, or given)
    limits the admission measures (v2: inpatient paid too, and the claim measures by the
    claims' behavioral flag), never behavioral, medical or total paid."""
    c = contract(contract_version)
    columns = list(c.prepost_columns)
    base = source if isinstance(source, Base) else Base(source)
    f = Filters.of(filters)
    if setting is not None:
        if filters is not None and f.setting != setting:
            raise ValueError("give the setting once: in the filters or as `setting`")
        f = replace(f, setting=setting)
    if f.setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, not {f.setting!r}")
    if f.selects_nothing:
        return _empty(columns)
    programs = _selected_programs(base, f)
    if programs.empty:
        return _empty(columns)
    enr = base.enrollment_totals
    keep = enr["program_id"].isin(set(programs["program_id"]))
    if f.conditions is not None:
        keep &= enr["condition"].isin(f.conditions)
    if f.month_from is not None:
        keep &= enr["enrolled_month"] >= f.month_from
    if f.month_to is not None:
        keep &= enr["enrolled_month"] <= f.month_to
    chosen = enr[keep]
    numeric = [c for c in chosen.columns if c.startswith(("pre_", "post_"))]
    sums = chosen.groupby("program_id")[numeric].sum()
    counts = chosen.groupby("program_id").size()

    s = f.setting
    rows = []
    for program in programs.itertuples(index=False):
        n = int(counts.get(program.program_id, 0))
        totals = sums.loc[program.program_id] if program.program_id in sums.index else None

        def get(name: str, totals: pd.Series | None = totals) -> float:
            return 0.0 if totals is None else float(totals[name])

        row: dict[str, object] = {
            "program_id": program.program_id,
            "program_name": program.program_name,
            "state_code": program.state_code,
            "program_model": program.program_model,
            "setting": s,
            "enrollments": n,
        }
        for w in ("pre", "post"):
            behavioral, medical = get(f"{w}_behavioral_cents"), get(f"{w}_medical_cents")
            row[f"{w}_share_with_admission"] = _ratio(get(f"{w}_with_admission_{s}"), n)
            row[f"{w}_admissions_per_enrollment"] = _ratio(get(f"{w}_admissions_{s}"), n)
            row[f"{w}_inpatient_days_per_enrollment"] = _ratio(get(f"{w}_days_{s}"), n)
            row[f"{w}_average_los"] = _ratio(get(f"{w}_days_{s}"), get(f"{w}_discharges_{s}"))
            row[f"{w}_behavioral_paid_per_enrollment"] = _ratio(behavioral / 100, n)
            row[f"{w}_medical_paid_per_enrollment"] = _ratio(medical / 100, n)
            row[f"{w}_total_paid_per_enrollment"] = _ratio((behavioral + medical) / 100, n)
            row[f"{w}_paid_per_admission"] = _ratio(
                get(f"{w}_admission_cents_{s}") / 100, get(f"{w}_admissions_{s}")
            )
            if c.version >= 2:
                row[f"{w}_ed_visits_per_enrollment"] = _ratio(get(f"{w}_ed_visits_{s}"), n)
                row[f"{w}_visits_per_enrollment"] = _ratio(get(f"{w}_visits_{s}"), n)
                row[f"{w}_visit_paid_per_enrollment"] = _ratio(get(f"{w}_visit_cents_{s}") / 100, n)
                row[f"{w}_inpatient_paid_per_enrollment"] = _ratio(
                    get(f"{w}_admission_cents_{s}") / 100, n
                )
        for measure in c.prepost_measures:
            pre, post = row[f"pre_{measure}"], row[f"post_{measure}"]
            assert isinstance(pre, float) and isinstance(post, float)
            row[f"change_{measure}"] = post - pre  # NaN when either is NaN
            row[f"pct_change_{measure}"] = (
                (post - pre) / pre * 100 if not math.isnan(pre) and pre != 0 else math.nan
            )
        rows.append(row)
    result = pd.DataFrame(rows, columns=columns)
    result["enrollments"] = result["enrollments"].astype("int64")
    for column in columns[len(PREPOST_LEAD_COLUMNS) :]:
        result[column] = result[column].astype(float)
    return result.reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# the overview's helpers


def enrolled_members(base: Base, filters: Any = None) -> int:
    """Distinct members enrolled in a selected program (of a selected model, state and
    program, the member of a selected condition) on at least one day of the month range
    (open ends: no bound)."""
    f = Filters.of(filters)
    models = [m for m in f.program_models if m != NOT_ENROLLED]
    if f.selects_nothing or not models:
        return 0
    enr = base._enrollments
    keep = enr["program_model"].isin(models)
    if f.states is not None:
        keep &= enr["state_code"].isin(f.states)
    if f.program_ids is not None:
        keep &= enr["program_id"].isin(f.program_ids)
    if f.conditions is not None:
        keep &= enr["primary_condition"].isin(f.conditions)
    if f.month_from is not None:  # still enrolled on or after the range's first day
        first_day = pd.Timestamp(f"{f.month_from}-01")
        keep &= enr["ended_on"].isna() | (enr["ended_on"] >= first_day)
    if f.month_to is not None:  # enrolled by the range's last day
        last_day = pd.Timestamp(f"{f.month_to}-01") + pd.offsets.MonthEnd(0)
        keep &= enr["enrolled_on"] <= last_day
    return int(enr.loc[keep, "member_id"].nunique())


def previous_period(base: Base, filters: Any = None) -> tuple[str, str] | None:
    """(month_from, month_to) of the months of equal length just before the filter's range
    (open ends: the first or last month with data); None when they would start before the
    first month with data, or there is no data."""
    f = Filters.of(filters)
    bounds = base.month_bounds
    if bounds is None:
        return None
    first = month_number(f.month_from or bounds[0])
    last = month_number(f.month_to or bounds[1])
    length = last - first + 1
    if first - length < month_number(bounds[0]):
        return None
    return month_text(first - length), month_text(first - 1)


# ---------------------------------------------------------------------------------------
# the CSV form of an export


def format_cell(column: str, value: object, contract_version: int = CONTRACT_VERSION) -> str:
    """One cell as the contract writes it: counts as integers, money totals with 2 decimals,
    every other number with 4, an undefined value empty, `true`/`false`, text as it is (v2:
    after a `'` when a spreadsheet would read it as a formula)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column in BOOLEAN_COLUMNS:
        return "true" if value else "false"
    if column in TEXT_COLUMNS:
        text = str(value)
        if contract_version >= 2 and text.startswith(FORMULA_STARTS):
            return "'" + text
        return text
    if column in INTEGER_COLUMNS:
        return str(int(value))  # type: ignore[call-overload]
    decimals = 2 if column in MONEY_COLUMNS else 4
    text = f"{float(value):.{decimals}f}"  # type: ignore[arg-type]
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0000"


def csv_rows(frame: pd.DataFrame, contract_version: int = CONTRACT_VERSION) -> list[list[str]]:
    """The header and the formatted rows of an export frame."""
    columns = [str(c) for c in frame.columns]
    body = [
        [format_cell(c, v, contract_version) for c, v in zip(columns, row, strict=True)]
        for row in frame.itertuples(index=False, name=None)
    ]
    return [columns, *body]


def csv_text(frame: pd.DataFrame, contract_version: int = CONTRACT_VERSION) -> str:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(csv_rows(frame, contract_version))
    return buffer.getvalue()
