"""The contract's figures computed from summed counts: column names, ratios, money.

Plain pandas over the integer sums the queries return, in one place, so every engine and
every output gives the same figures. Ratios use the unrounded sums.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COUNT_COLUMNS = (
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
)
MONEY_COLUMNS = ("paid", "behavioral_paid", "medical_paid")
RATE_COLUMNS = (
    "admissions_per_1000_mm",
    "inpatient_days_per_1000_mm",
    "average_los",
    "readmission_rate_30d",
    "ed_visits_per_1000_mm",
    "followup_rate_7d",
    "followup_rate_30d",
    "peer_contact_rate_1d",
    "cost_pmpm",
    "behavioral_cost_pmpm",
    "medical_cost_pmpm",
)
# Months whose claims may still be arriving (settings.runout_months); a flag, not a figure.
PROVISIONAL = "provisional"
MEASURE_COLUMNS = (*COUNT_COLUMNS, *MONEY_COLUMNS, *RATE_COLUMNS)
PREPOST_MEASURES = (
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
PREPOST_LEAD_COLUMNS = (
    "program_id",
    "program_name",
    "state_code",
    "program_model",
    "setting",
    "enrollments",
)
PREPOST_COLUMNS = (
    *PREPOST_LEAD_COLUMNS,
    *(
        f"{part}_{measure}"
        for measure in PREPOST_MEASURES
        for part in ("pre", "post", "change", "pct_change")
    ),
)
MONTHLY_COLUMNS = (
    "month",
    "state_code",
    "program_model",
    *COUNT_COLUMNS,
    *MONEY_COLUMNS,
    *RATE_COLUMNS[:9],
    PROVISIONAL,
)
# The sums behind every monthly figure (money in cents) and the lower bound of members
# suppression needs (queries.py, suppression.py).
SUMMED_COLUMNS = (*COUNT_COLUMNS, "paid_cents", "behavioral_paid_cents", "medical_paid_cents")
MEMBERS_LOWER_BOUND = "members_lower_bound"


def _floats(values: pd.Series) -> np.ndarray:
    """A column as float64 values, NaN where missing (None, NaN, pd.NA).

    numpy, not Series.astype("float64"): pandas looks a dtype named by a string up among
    every extension type, and a page makes dozens of these calls."""
    array = values.to_numpy()
    if array.dtype.kind in "iuf":
        return array.astype(np.float64)
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def divided(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (undefined)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # inf / inf is NaN, as in pandas
        return numerator / np.where(denominator == 0, np.nan, denominator)


def _scaled(values: pd.Series, factor: int) -> np.ndarray:
    """values * factor as floats; integers multiplied first, as pandas would."""
    array = values.to_numpy()
    if array.dtype.kind in "iu":
        return (array * factor).astype(np.float64)
    return _floats(values) * factor


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as floats, NaN where the denominator is 0 (undefined)."""
    name = numerator.name if numerator.name == denominator.name else None
    if not numerator.index.equals(denominator.index):  # matched by label, as pandas does
        numerator, denominator = numerator.align(denominator)
    values = divided(_floats(numerator), _floats(denominator))
    return pd.Series(values, index=numerator.index, name=name)


def add_monthly_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the contract's rates to a frame of summed counts and cents; money to dollars.

    The rates follow the frame's columns, then the money in dollars in place of the cents."""

    def floats(name: str) -> np.ndarray:
        return _floats(frame[name])

    mm = floats("member_months")
    mm_cents = _scaled(frame["member_months"], 100)
    followed = floats("followed_behavioral_discharges")
    added = {
        "admissions_per_1000_mm": divided(_scaled(frame["admissions"], 1000), mm),
        "inpatient_days_per_1000_mm": divided(_scaled(frame["inpatient_days"], 1000), mm),
        "average_los": divided(floats("inpatient_days"), floats("discharges")),
        "readmission_rate_30d": divided(floats("readmissions_30d"), floats("followed_discharges")),
        "ed_visits_per_1000_mm": divided(_scaled(frame["ed_visits"], 1000), mm),
        "followup_rate_7d": divided(floats("followups_7d"), followed),
        "followup_rate_30d": divided(floats("followups_30d"), followed),
        "peer_contact_rate_1d": divided(floats("peer_contacts_1d"), followed),
        "cost_pmpm": divided(floats("paid_cents"), mm_cents),
        "behavioral_cost_pmpm": divided(floats("behavioral_paid_cents"), mm_cents),
        "medical_cost_pmpm": divided(floats("medical_paid_cents"), mm_cents),
    }
    cents = [f"{money}_cents" for money in MONEY_COLUMNS]
    for money, column in zip(MONEY_COLUMNS, cents, strict=True):
        # Missing cents raise here, as Series.astype("int64") does.
        added[money] = frame[column].astype(np.int64).to_numpy() / 100
    # One new frame: adding columns one by one to a frame with string column labels costs
    # about 1 ms a column (pandas rebuilds the labels each time).
    columns: dict[str, pd.Series | np.ndarray] = {
        name: frame[name] for name in frame.columns if name not in cents
    }
    columns.update(added)
    return pd.DataFrame(columns, index=frame.index)


def prepost_measures(sums: pd.DataFrame, window: str) -> dict[str, np.ndarray]:
    """The pre/post measures of one window from its integer sums, as float arrays (NaN where
    undefined). numpy, not Series: a page's few programs made pandas' per-Series overhead
    most of the call (the same operations, so the same bits)."""
    n = sums["enrollments"].to_numpy(dtype=np.int64)

    def total(name: str) -> np.ndarray:
        return sums[f"{window}_{name}"].to_numpy(dtype=np.int64)

    def per(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        return divided(numerator.astype(np.float64), denominator.astype(np.float64))

    return {
        "share_with_admission": per(total("with_admission"), n),
        "admissions_per_enrollment": per(total("admissions"), n),
        "inpatient_days_per_enrollment": per(total("inpatient_days"), n),
        "average_los": per(total("inpatient_days"), total("discharges")),
        "behavioral_paid_per_enrollment": per(total("behavioral_cents"), n * 100),
        "medical_paid_per_enrollment": per(total("medical_cents"), n * 100),
        "total_paid_per_enrollment": per(
            total("behavioral_cents") + total("medical_cents"), n * 100
        ),
        "paid_per_admission": per(total("admission_cents"), total("admissions") * 100),
        "ed_visits_per_enrollment": per(total("ed_visits"), n),
        "visits_per_enrollment": per(total("visits"), n),
        "visit_paid_per_enrollment": per(total("visit_cents"), n * 100),
        "inpatient_paid_per_enrollment": per(total("admission_cents"), n * 100),
    }
