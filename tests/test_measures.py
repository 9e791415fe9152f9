"""The contract's ratios (measures.ratio, measures.add_monthly_rates) and the frames of sums
they start from (queries.shaped_sums, db.rows_frame): exact values worked out by hand, and the
same frames, value for value, as the pandas code they replaced."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal, assert_series_equal

from data_access.db import rows_frame
from data_access.measures import (
    COUNT_COLUMNS,
    MEMBERS_LOWER_BOUND,
    MONEY_COLUMNS,
    add_monthly_rates,
    ratio,
)
from data_access.queries import _plain_text_order, shaped_sums

NAN = np.nan


def pandas_ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """measures.ratio before numpy: Series.astype and where (the reference)."""
    num = numerator.astype("float64")
    den = denominator.astype("float64")
    return (num / den.where(den != 0)).astype("float64")


def pandas_monthly_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """measures.add_monthly_rates before numpy, column by column (the reference)."""
    out = frame.copy()
    mm = out["member_months"]
    out["admissions_per_1000_mm"] = pandas_ratio(out["admissions"] * 1000, mm)
    out["inpatient_days_per_1000_mm"] = pandas_ratio(out["inpatient_days"] * 1000, mm)
    out["average_los"] = pandas_ratio(out["inpatient_days"], out["discharges"])
    out["readmission_rate_30d"] = pandas_ratio(out["readmissions_30d"], out["followed_discharges"])
    out["ed_visits_per_1000_mm"] = pandas_ratio(out["ed_visits"] * 1000, mm)
    followed = out["followed_behavioral_discharges"]
    out["followup_rate_7d"] = pandas_ratio(out["followups_7d"], followed)
    out["followup_rate_30d"] = pandas_ratio(out["followups_30d"], followed)
    out["peer_contact_rate_1d"] = pandas_ratio(out["peer_contacts_1d"], followed)
    out["cost_pmpm"] = pandas_ratio(out["paid_cents"], mm * 100)
    out["behavioral_cost_pmpm"] = pandas_ratio(out["behavioral_paid_cents"], mm * 100)
    out["medical_cost_pmpm"] = pandas_ratio(out["medical_paid_cents"], mm * 100)
    for money in MONEY_COLUMNS:
        out[money] = out.pop(f"{money}_cents").astype("int64") / 100
    return out


# numerator, denominator, the expected ratio: zeros, missing values and dtypes.
CASES = [
    ("int64", [1, 0, 3, -4, 0], "int64", [2, 0, 0, 8, 5], [0.5, NAN, NAN, -0.5, 0.0]),
    ("Int64", [1, None, 3, 7], "Int64", [4, 2, None, 0], [0.25, NAN, NAN, NAN]),
    ("object", [1, None, 6, 2], "object", [None, 2, 3, 0], [NAN, NAN, 2.0, NAN]),
    ("float64", [1.5, NAN, np.inf, 0.0], "float64", [3.0, 1.0, np.inf, -0.0], [0.5, NAN, NAN, NAN]),
    ("Float64", [1.0, None, 9.0], "Float64", [2.0, 3.0, None], [0.5, NAN, NAN]),
    ("int64", [10, 20, 30], "Int64", [4, None, 0], [2.5, NAN, NAN]),
    ("uint8", [1, 2, 255], "int32", [3, 0, 5], [1 / 3, NAN, 51.0]),
    # Beyond 2**53 a count is first rounded to a float: 2**53 + 1 divides as 2**53.
    ("int64", [2**62, 7, 1], "int64", [3, 2**53 + 1, 1], [2**62 / 3, 7 / 2**53, 1.0]),
    ("int64", [], "int64", [], []),
]


@pytest.mark.parametrize(("num_dtype", "num", "den_dtype", "den", "expected"), CASES)
def test_ratio_values(
    num_dtype: str, num: list[object], den_dtype: str, den: list[object], expected: list[float]
) -> None:
    numerator = pd.Series(num, dtype=num_dtype, name="a")
    denominator = pd.Series(den, dtype=den_dtype, name="n")
    got = ratio(numerator, denominator)
    assert_series_equal(got, pd.Series(expected, dtype="float64"), check_exact=True)
    assert_series_equal(got, pandas_ratio(numerator, denominator), check_exact=True)


def test_ratio_keeps_the_index_and_a_shared_name() -> None:
    index = pd.Index([7, 3, 5])
    numerator = pd.Series([1, 2, 3], index=index, name="x")
    denominator = pd.Series([2, 0, 4], index=index, name="x")
    got = ratio(numerator, denominator)
    assert_series_equal(got, pd.Series([0.5, NAN, 0.75], index=index, name="x"), check_exact=True)
    assert_series_equal(got, pandas_ratio(numerator, denominator), check_exact=True)


def test_ratio_of_differently_indexed_series_matches_rows_by_label() -> None:
    numerator = pd.Series([1, 2, 3], index=[0, 1, 2])
    denominator = pd.Series([4, 5, 0], index=[2, 1, 3])
    got = ratio(numerator, denominator)
    expected = pd.Series([NAN, 0.4, 0.75, NAN], index=[0, 1, 2, 3])
    assert_series_equal(got, expected, check_exact=True)
    assert_series_equal(got, pandas_ratio(numerator, denominator), check_exact=True)


def sums_frame(rows: list[list[int]], dtype: str = "int64") -> pd.DataFrame:
    """Summed rows as _summed_months returns them: a key, the counts, the cents, the bound."""
    columns = [*COUNT_COLUMNS, "paid_cents", "behavioral_paid_cents", "medical_paid_cents"]
    frame = pd.DataFrame(rows, columns=columns).astype(dtype)
    frame.insert(0, "month", [f"2024-{i + 1:02d}" for i in range(len(rows))])
    frame["members_lower_bound"] = frame["member_months"]
    return frame


# member_months, admissions, discharges, inpatient_days, followed_discharges,
# readmissions_30d, ed_visits, followed_behavioral_discharges, followups_7d, followups_30d,
# peer_contacts_1d, paid_cents, behavioral_paid_cents, medical_paid_cents
ROWS = [
    [400, 3, 2, 9, 2, 1, 5, 4, 1, 3, 2, 123_457, 100_000, 23_457],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # no member-months: every rate undefined
    [12, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 5],  # no discharge: no length of stay
]


def test_monthly_rates_values() -> None:
    got = add_monthly_rates(sums_frame(ROWS))
    assert list(got.columns) == [
        "month",
        *COUNT_COLUMNS,
        "members_lower_bound",
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
        "paid",
        "behavioral_paid",
        "medical_paid",
    ]
    first = got.iloc[0]
    assert first["admissions_per_1000_mm"] == 7.5  # 3 * 1000 / 400
    assert first["inpatient_days_per_1000_mm"] == 22.5
    assert first["average_los"] == 4.5  # 9 days / 2 discharges
    assert first["readmission_rate_30d"] == 0.5
    assert first["ed_visits_per_1000_mm"] == 12.5
    assert first["followup_rate_7d"] == 0.25
    assert first["followup_rate_30d"] == 0.75
    assert first["peer_contact_rate_1d"] == 0.5
    assert first["cost_pmpm"] == 123_457 / 40_000
    assert first["behavioral_cost_pmpm"] == 2.5
    assert first["medical_cost_pmpm"] == 23_457 / 40_000
    assert (first["paid"], first["behavioral_paid"], first["medical_paid"]) == (
        1234.57,
        1000.0,
        234.57,
    )
    rates = got.columns[got.columns.get_loc("admissions_per_1000_mm") :][:11]
    assert got.loc[1, rates].isna().all()  # a month without member-months
    assert got.loc[2, "average_los"] != got.loc[2, "average_los"]  # NaN: no discharge
    assert got.loc[2, "admissions_per_1000_mm"] == 1000 / 12
    assert_frame_equal(got, pandas_monthly_rates(sums_frame(ROWS)), check_exact=True)


@pytest.mark.parametrize("dtype", ["int64", "Int64", "object", "float64"])
def test_monthly_rates_equal_the_pandas_rates_on_every_dtype(dtype: str) -> None:
    frame = sums_frame(ROWS, dtype)
    assert_frame_equal(add_monthly_rates(frame), pandas_monthly_rates(frame), check_exact=True)


def test_monthly_rates_of_no_rows() -> None:
    frame = sums_frame([])
    got = add_monthly_rates(frame)
    assert len(got) == 0
    assert_frame_equal(got, pandas_monthly_rates(frame), check_exact=True)


def test_missing_cents_are_refused_as_before() -> None:
    frame = sums_frame(ROWS, "Int64")
    frame.loc[0, "paid_cents"] = None
    with pytest.raises(ValueError):
        pandas_monthly_rates(frame)
    with pytest.raises(ValueError):
        add_monthly_rates(frame)


@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=10**12), min_size=14, max_size=14),
        min_size=1,
        max_size=8,
    )
)
def test_monthly_rates_equal_the_pandas_rates_on_any_counts(rows: list[list[int]]) -> None:
    frame = sums_frame(rows)
    assert_frame_equal(add_monthly_rates(frame), pandas_monthly_rates(frame), check_exact=True)


def pandas_shaped_sums(frame: pd.DataFrame, period: str | None) -> pd.DataFrame:
    """queries.shaped_sums before finding 19: the columns assigned in place (the reference)."""
    frame = frame.copy()
    if frame.empty:
        return frame
    if period == "month":
        frame[MEMBERS_LOWER_BOUND] = frame["member_months"]
    counts = [*COUNT_COLUMNS, *SHAPED_CENTS, MEMBERS_LOWER_BOUND]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    return frame


SHAPED_CENTS = ["paid_cents", "behavioral_paid_cents", "medical_paid_cents"]


def database_sums(value: object | None, period: str | None) -> list[tuple[object, ...]]:
    """Rows as a driver answers a sums read: a key, each sum, the last month, and the bound of
    members (not read by month)."""
    width = len(COUNT_COLUMNS) + len(SHAPED_CENTS)
    bound: list[object] = [] if period == "month" else [value]
    return [
        ("2024-01", *[value] * width, "2024-01", *bound),
        ("2024-02", *[3] * width, "2024-02", *bound),
    ]


# What each engine answers: SQLite integers (NULL for a sum over no row), PostgreSQL decimals.
SHAPED_CASES = [
    ("SQLite integers", 7, None),
    ("SQLite NULL sum", None, None),
    ("PostgreSQL decimals", Decimal("12345678901234"), "month"),
    ("PostgreSQL NULL sum", None, "month"),
    ("floats", 2.0, None),
]


@pytest.mark.parametrize(("engine", "value", "period"), SHAPED_CASES)
def test_shaped_sums_equal_the_columns_cast_in_place(
    engine: str, value: object | None, period: str | None
) -> None:
    columns = [
        "month",
        *COUNT_COLUMNS,
        *SHAPED_CENTS,
        "last_month",
        *([] if period == "month" else [MEMBERS_LOWER_BOUND]),
    ]
    rows = database_sums(value, period)
    expected = pandas_shaped_sums(pd.DataFrame.from_records(rows, columns=columns), period)
    got = shaped_sums(rows_frame(rows, columns), period)
    assert_frame_equal(got, expected, check_exact=True)
    assert got["member_months"].tolist() == [int(value or 0), 3]  # type: ignore[call-overload]
    assert (got[[*COUNT_COLUMNS, *SHAPED_CENTS]].dtypes == "int64").all()


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [(1, None, "a", dt.date(2024, 1, 1), Decimal("1.5"), 1.5, None)],
        [
            (1, 2, "a", dt.date(2024, 1, 1), Decimal(1), None, True),
            (None, 3, None, None, None, 2.0, False),
        ],
    ],
)
def test_rows_frame_infers_the_types_from_records_does(rows: list[tuple[object, ...]]) -> None:
    columns = list("abcdefg")
    expected = pd.DataFrame.from_records(rows, columns=columns)
    assert_frame_equal(rows_frame(rows, columns), expected, check_exact=True)


_KEY_TEXT = st.one_of(
    st.none(), st.sampled_from(["", "a", "B", "b", "Z", "é", "10", "9", "2024-01"])
)


@given(
    rows=st.lists(st.tuples(_KEY_TEXT, _KEY_TEXT, st.integers(0, 9)), max_size=30),
    columns=st.sampled_from([["k1"], ["k2", "k1"], ["k1", "k2"]]),
)
def test_plain_text_order_sorts_as_sort_values_with_a_text_key(
    rows: list[tuple[str | None, str | None, int]], columns: list[str]
) -> None:
    """The lexsort of each key's ranks is the stable sort of the keys as text, missing as ""
    (code points: "B" before "a", "10" before "9"), rows and index as sort_values gives them."""
    frame = pd.DataFrame(rows, columns=["k1", "k2", "n"], index=range(100, 100 + len(rows)))
    expected = (
        frame.reset_index(drop=True)
        if frame.empty
        else frame.sort_values(
            columns, key=lambda col: col.fillna("").astype(str), kind="stable"
        ).reset_index(drop=True)
    )
    assert_frame_equal(_plain_text_order(frame, columns), expected, check_exact=True)
