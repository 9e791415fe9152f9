"""The one CSV writer of the product: every dashboard download and the command-line export.

Formats by column name, as the contract asks: counts as integers, money totals with 2
decimals, every ratio with 4 decimals from unrounded values, an undefined value empty.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from typing import TextIO

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from data_access.access import Viewer, must_suppress
from data_access.filters import OutcomeFilter
from data_access.impact import (
    IMPACT_COLUMNS,
    IMPACT_COUNT_COLUMNS,
    impact_by_unit,
    impact_unit_rows,
)
from data_access.measures import (
    COUNT_COLUMNS,
    MONEY_COLUMNS,
    MONTHLY_COLUMNS,
    PREPOST_COLUMNS,
    PREPOST_MEASURES,
    PROVISIONAL,
)
from data_access.queries import (
    monthly_outcome_rows,
    monthly_outcomes,
    prepost_by_program,
    prepost_program_rows,
)
from data_access.suppression import SUPPRESSED_COLUMN
from data_access.vocabulary import RECENT_DAYS, Dataset, SmallCells, utc_timestamp

TEXT_COLUMNS = frozenset(
    {
        "month",
        "quarter",
        "year",
        "state_code",
        "state_name",
        "program_model",
        "program_id",
        "program_name",
        "setting",
        "population",
        "measure",
        "level",
        "variable",
        # The audit log (access.AUDIT_COLUMNS), written by `access audit` and the audit page.
        "email",
        "role",
        "event",
        "dataset",
        "filters",
        "detail",
    }
)
INTEGER_COLUMNS = frozenset(
    {
        *COUNT_COLUMNS,
        *IMPACT_COUNT_COLUMNS,
        "enrollments",
        "rank",
        "enrolled_members",
        "rows",
        "relative_month",
    }
)
MONEY_TOTAL_COLUMNS = frozenset(MONEY_COLUMNS)
# The audit log's `suppressed` is a boolean, written as the contract writes booleans
# (true/false); the exports' `suppressed` (suppression.py) lists hidden columns as text.
FLAG_OR_TEXT_COLUMNS = frozenset({"suppressed", PROVISIONAL})
# A text cell starting with one of these is a formula to a spreadsheet (CSV injection): it
# is written with a leading apostrophe, which spreadsheets show as text and do not run.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TIMESTAMP_COLUMNS = frozenset({"occurred_at"})

_MEASURE_WORDS = {
    "share_with_admission": "share of analysable enrollments with at least one admission",
    "admissions_per_enrollment": "admissions per analysable enrollment",
    "inpatient_days_per_enrollment": "inpatient days (LOS of discharged stays) per enrollment",
    "average_los": "inpatient days / discharged admissions, in days",
    "behavioral_paid_per_enrollment": "behavioral paid (USD) per enrollment, any setting",
    "medical_paid_per_enrollment": "medical paid (USD) per enrollment, any setting",
    "total_paid_per_enrollment": "total paid (USD) per enrollment, any setting",
    "paid_per_admission": "admissions' paid (USD) / admissions",
    "ed_visits_per_enrollment": "emergency department visits per enrollment",
    "visits_per_enrollment": "visits of emergency, outpatient and professional claims per "
    "enrollment",
    "visit_paid_per_enrollment": "paid (USD) of those visits' claims per enrollment",
    "inpatient_paid_per_enrollment": "admissions' paid (USD) per enrollment, by admit_date, "
    "open stays included",
}
_WINDOW_WORDS = {
    "pre": "in the 183 days before enrolled_on",
    "post": "in the 183 days from enrolled_on",
    "change": "post - pre",
    "pct_change": "(post - pre) / pre x 100; empty where pre is 0",
}

COLUMN_DESCRIPTIONS: dict[str, str] = {
    "month": "Calendar month, YYYY-MM (admissions by admit_date, claims by service_date).",
    "quarter": "Calendar quarter, YYYY-Qn.",
    "year": "Calendar year, YYYY.",
    "state_code": "Two-letter USPS code of the member's state.",
    "state_name": "Name of the state.",
    "program_model": "Model of the program the member was enrolled in; not_enrolled when none "
    "(the state's comparison population).",
    "population": "enrolled (in any selected program) or not_enrolled.",
    "program_id": "Identifier of the peer support program.",
    "program_name": "Name of the peer support program.",
    "setting": "Inpatient setting the admission measures are limited to: all, behavioral or "
    "medical.",
    "enrollments": "Analysable enrollments: continuous eligibility in both windows, a behavioral "
    "claim or admission in either, and the post window complete by the data-through date.",
    "member_months": "Member-months: one per calendar month with at least one eligible day.",
    "admissions": "Inpatient admissions (stays), by admit_date.",
    "discharges": "Admissions with a discharge date.",
    "inpatient_days": "Sum of length of stay (discharge - admit, at least 1 day) of discharged "
    "stays.",
    "followed_discharges": "Discharged admissions whose 30 days after discharge are all in the "
    "data (discharge + 30 days on or before the data-through date).",
    "readmissions_30d": "Followed discharges after which the member was admitted again 1 to 30 "
    "days after discharge: to any setting (all-cause) under setting all, to the same setting "
    "when the setting is limited.",
    "ed_visits": "Emergency department visits (visits of emergency claims; limited by the "
    "claims' behavioral flag when the setting is).",
    "followed_behavioral_discharges": "Followed discharges of behavioral stays (whatever the "
    "setting).",
    "followups_7d": "Followed behavioral discharges with a behavioral outpatient, professional or "
    "peer support claim 1 to 7 days after discharge (not the discharge day).",
    "followups_30d": "Followed behavioral discharges with such a claim 1 to 30 days after "
    "discharge.",
    "peer_contacts_1d": "Followed behavioral discharges with a peer support claim on the "
    "discharge day or the day after.",
    "paid": "Paid (USD): admissions' plus claims' paid amounts.",
    "behavioral_paid": "Paid (USD) for behavioral admissions and behavioral claims.",
    "medical_paid": "Paid (USD) for the other admissions and claims.",
    "admissions_per_1000_mm": "Admissions / member-months x 1,000.",
    "inpatient_days_per_1000_mm": "Inpatient days / member-months x 1,000.",
    "average_los": "Average length of stay: inpatient days / discharges, in days.",
    "readmission_rate_30d": "30-day readmissions / followed discharges (all-cause under setting "
    "all, same-setting when limited).",
    "ed_visits_per_1000_mm": "ED visits / member-months x 1,000.",
    "followup_rate_7d": "7-day follow-ups / followed behavioral discharges (like the Core Set's "
    "FUH, but without diagnosis or provider codes).",
    "followup_rate_30d": "30-day follow-ups / followed behavioral discharges (FUH-like).",
    "peer_contact_rate_1d": "Peer contacts within a day / followed behavioral discharges.",
    "provisional": "true for a month whose claims may still be arriving (within the run-out "
    "months of the data-through date); its figures are not yet complete.",
    "cost_pmpm": "Paid / member-months (USD per member per month).",
    "behavioral_cost_pmpm": "Behavioral paid / member-months (USD).",
    "medical_cost_pmpm": "Medical paid / member-months (USD).",
    "level": "The unit of an impact row: program, program_model (its programs pooled) or all.",
    "matched_enrollments": "Analysable enrollments with at least one acceptable comparison "
    "match; the effect is over these.",
    "comparison_members": "Distinct not-enrolled members whose index dates were matched.",
    "enrolled_pre": "The measure for the matched enrollments in the pre window.",
    "enrolled_post": "The measure for the matched enrollments in the post window.",
    "comparison_pre": "The measure for their matched comparison, pre window (each enrollment "
    "weighs the same, however many members match it).",
    "comparison_post": "The measure for their matched comparison, post window.",
    "pre_post_change": "enrolled_post - enrolled_pre (the drop partners see; not an effect).",
    "effect": "(enrolled post - pre) - (comparison post - pre): the difference in differences.",
    "effect_ci_low": "Lower end of the effect's 95% interval (bootstrap over enrolled members, "
    "fixed seed).",
    "effect_ci_high": "Upper end of the effect's 95% interval.",
    "effect_pct": "effect / (enrolled_pre + comparison_post - comparison_pre) x 100.",
    "max_std_diff": "Largest absolute standardized mean difference of the matching variables "
    "after matching (balance; below 0.1 is good).",
    # The Impact page's downloads (event_study.py).
    "relative_month": "Month relative to the index date: -6 to -1 before it, +1 to +6 from it "
    "on (61 days make two months; no month 0).",
    "enrolled_mean": "Mean per matched enrollment in that month (admissions follow the setting; "
    "total paid in USD).",
    "enrolled_ci_low": "Lower end of its normal 95% interval (enrollments taken as independent).",
    "enrolled_ci_high": "Upper end of its normal 95% interval.",
    "comparison_mean": "The same for their matched comparison (each enrollment's matches "
    "averaged first).",
    "comparison_ci_low": "Lower end of the comparison's normal 95% interval.",
    "comparison_ci_high": "Upper end of the comparison's normal 95% interval.",
    "variable": "Matching variable (the 183 days before the index date): "
    "pre_admissions_behavioral, pre_admissions_medical, pre_inpatient_days, pre_paid_cents, "
    f"days_since_discharge, early_admissions (stays admitted before the last {RECENT_DAYS} days "
    "of the window).",
    "std_diff_before": "Absolute standardized mean difference, on the matching scale (log1p), "
    "of the analysable enrollments against all comparison candidates of their exact-match "
    "cells (state, month, condition, age band).",
    "std_diff_after": "The same, of the matched enrollments against their matches (above 0.1: "
    "poor balance).",
    **{
        f"{window}_{measure}": f"{_MEASURE_WORDS[measure].capitalize()}, {window_words}."
        for measure in PREPOST_MEASURES
        for window, window_words in _WINDOW_WORDS.items()
    },
}


def _integer(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(int(value))  # type: ignore[call-overload]


def _fixed(decimals: int) -> Callable[[object], str]:
    def format_number(value: object) -> str:
        if value is None or value is pd.NA:
            return ""
        number = float(value)  # type: ignore[arg-type]
        if math.isnan(number) or math.isinf(number):
            return ""
        text = f"{number:.{decimals}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text

    return format_number


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _flag_or_text(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return _text(value)


def _timestamp(value: object) -> str:
    """A moment in UTC to the second, e.g. 2026-11-26T02:05:19Z; a naive time is UTC
    (SQLite keeps no time zone, PostgreSQL answers in the server's)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    return utc_timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _formatter(column: str) -> Callable[[object], str]:
    if column in FLAG_OR_TEXT_COLUMNS:
        return _flag_or_text
    if column in TEXT_COLUMNS:
        return _text
    if column in TIMESTAMP_COLUMNS:
        return _timestamp
    if column in INTEGER_COLUMNS:
        return _integer
    if column in MONEY_TOTAL_COLUMNS:
        return _fixed(2)
    return _fixed(4)


# Python 3.11's csv quotes a field holding the line terminator ("\n") but not a carriage
# return, which would end the row in a spreadsheet: this dialect's terminator lists both, so
# either is quoted, and rows still end in "\n" (written after each row).
class _ContractDialect(csv.excel):
    lineterminator = "\r\n"


def write_csv(frame: pd.DataFrame, out: TextIO) -> int:
    """Write `frame` as the contract's CSV (header, then rows); returns the rows written."""
    line = io.StringIO()
    writer = csv.writer(line, dialect=_ContractDialect)

    def write(cells: list[str]) -> None:
        line.seek(0)
        line.truncate()
        writer.writerow(cells)
        out.write(line.getvalue()[:-2] + "\n")

    write([str(column) for column in frame.columns])
    formatters = [_formatter(str(column)) for column in frame.columns]
    for row in frame.itertuples(index=False, name=None):
        write([fmt(value) for fmt, value in zip(formatters, row, strict=True)])
    return len(frame)


def to_csv_text(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    write_csv(frame, buffer)
    return buffer.getvalue()


def export_frame(
    *,
    dataset: Dataset,
    filters: OutcomeFilter,
    viewer: Viewer,
    small_cells: SmallCells = "suppress",
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The rows of an export, in the contract's columns and order, for this viewer.

    Suppressed (always for state partners; for others unless `small_cells="show"`), it ends
    with the `suppressed` flag column; unsuppressed it has exactly the contract's columns.
    """
    columns = export_columns(dataset=dataset, viewer=viewer, small_cells=small_cells)
    if dataset == "monthly":
        frame = monthly_outcomes(
            viewer=viewer, filters=filters, small_cells=small_cells, engine=engine
        )
    elif dataset == "prepost":
        frame = prepost_by_program(
            viewer=viewer, filters=filters, small_cells=small_cells, engine=engine
        )
    else:
        frame = impact_by_unit(
            viewer=viewer, filters=filters, small_cells=small_cells, engine=engine
        )
    return frame[columns]


_EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "monthly": MONTHLY_COLUMNS,
    "prepost": PREPOST_COLUMNS,
    "impact": IMPACT_COLUMNS,
}


def export_columns(*, dataset: Dataset, viewer: Viewer, small_cells: SmallCells) -> list[str]:
    """The columns of an export, in order: the contract's, then `suppressed` when suppressed."""
    if dataset not in _EXPORT_COLUMNS:
        raise ValueError(f"unknown export {dataset!r}; choose monthly, prepost or impact")
    columns = list(_EXPORT_COLUMNS[dataset])
    if must_suppress(viewer, small_cells):
        columns.append(SUPPRESSED_COLUMN)
    return columns


def export_rows(
    *,
    dataset: Dataset,
    filters: OutcomeFilter,
    viewer: Viewer,
    engine: Engine | None = None,
) -> int:
    """How many rows `export_frame` gives for these filters and this viewer, suppressed or
    not (suppression blanks cells, never rows), counted without building the rows: a count
    of the monthly groups, of the programs for pre/post and impact. A partner's refused
    choice raises DisclosureRefused, as the rows would."""
    if dataset == "monthly":
        return monthly_outcome_rows(viewer=viewer, filters=filters, engine=engine)
    if dataset == "prepost":
        return prepost_program_rows(viewer=viewer, filters=filters, engine=engine)
    if dataset == "impact":
        return impact_unit_rows(viewer=viewer, filters=filters, engine=engine)
    raise ValueError(f"unknown export {dataset!r}; choose monthly, prepost or impact")


def write_export(
    *,
    dataset: Dataset,
    filters: OutcomeFilter,
    viewer: Viewer,
    small_cells: SmallCells = "suppress",
    engine: Engine | None = None,
    out: TextIO,
) -> int:
    frame = export_frame(
        dataset=dataset, filters=filters, viewer=viewer, small_cells=small_cells, engine=engine
    )
    return write_csv(frame, out)


def export_filename(dataset: str, filters: OutcomeFilter) -> str:
    """A file name that says the dataset and the filters, e.g. `monthly_TX_whole_health.csv`."""
    parts = [dataset]
    if filters.states is not None:
        parts.append("-".join(filters.states) if filters.states else "no-states")
    if set(filters.program_models) != set(OutcomeFilter().program_models):
        parts.append("-".join(filters.program_models) or "no-models")
    if filters.program_ids is not None:
        parts.append(f"{len(filters.program_ids)}-programs")
    if filters.conditions is not None:
        parts.append("-".join(filters.conditions) or "no-conditions")
    if filters.month_from or filters.month_to:
        parts.append(f"{filters.month_from or 'start'}_to_{filters.month_to or 'end'}")
    if filters.setting != "all":
        parts.append(filters.setting)
    return "_".join(parts).replace("/", "-") + ".csv"
