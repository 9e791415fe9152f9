"""The contract's figures computed from summed counts: column names, ratios, money.

Plain pandas over the integer sums the queries return, in one place, so every engine and
every output gives the same figures. Ratios use the unrounded sums.
"""

from __future__ import annotations

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


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as floats, NaN where the denominator is 0 (undefined)."""
    num = numerator.astype("float64")
    den = denominator.astype("float64")
    return (num / den.where(den != 0)).astype("float64")


def add_monthly_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the contract's rates to a frame of summed counts and cents; money to dollars."""
    out = frame.copy()
    mm = out["member_months"]
    out["admissions_per_1000_mm"] = ratio(out["admissions"] * 1000, mm)
    out["inpatient_days_per_1000_mm"] = ratio(out["inpatient_days"] * 1000, mm)
    out["average_los"] = ratio(out["inpatient_days"], out["discharges"])
    out["readmission_rate_30d"] = ratio(out["readmissions_30d"], out["followed_discharges"])
    out["ed_visits_per_1000_mm"] = ratio(out["ed_visits"] * 1000, mm)
    followed = out["followed_behavioral_discharges"]
    out["followup_rate_7d"] = ratio(out["followups_7d"], followed)
    out["followup_rate_30d"] = ratio(out["followups_30d"], followed)
    out["peer_contact_rate_1d"] = ratio(out["peer_contacts_1d"], followed)
    out["cost_pmpm"] = ratio(out["paid_cents"], mm * 100)
    out["behavioral_cost_pmpm"] = ratio(out["behavioral_paid_cents"], mm * 100)
    out["medical_cost_pmpm"] = ratio(out["medical_paid_cents"], mm * 100)
    for money in MONEY_COLUMNS:
        out[money] = out.pop(f"{money}_cents").astype("int64") / 100
    return out


def prepost_measures(sums: pd.DataFrame, window: str) -> dict[str, pd.Series]:
    n = sums["enrollments"]

    def total(name: str) -> pd.Series:
        return sums[f"{window}_{name}"]

    return {
        "share_with_admission": ratio(total("with_admission"), n),
        "admissions_per_enrollment": ratio(total("admissions"), n),
        "inpatient_days_per_enrollment": ratio(total("inpatient_days"), n),
        "average_los": ratio(total("inpatient_days"), total("discharges")),
        "behavioral_paid_per_enrollment": ratio(total("behavioral_cents"), n * 100),
        "medical_paid_per_enrollment": ratio(total("medical_cents"), n * 100),
        "total_paid_per_enrollment": ratio(
            total("behavioral_cents") + total("medical_cents"), n * 100
        ),
        "paid_per_admission": ratio(total("admission_cents"), total("admissions") * 100),
        "ed_visits_per_enrollment": ratio(total("ed_visits"), n),
        "visits_per_enrollment": ratio(total("visits"), n),
        "visit_paid_per_enrollment": ratio(total("visit_cents"), n * 100),
        "inpatient_paid_per_enrollment": ratio(total("admission_cents"), n * 100),
    }
