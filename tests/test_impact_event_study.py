"""The event study and the balance table (data_access/event_study.py) on the hand-built world
of tests/test_impact.py, on both engines, with values worked out by hand from that world.

The world (see test_impact.WORLD): enrollment EA (A, TX hot-spotting program P1, enrolled
2020-06-10) is matched to B, C and H on 2020-06-15; EX (X, 2020-06-20) is analysable and
unmatched; NY's embedded program P2 has no enrollment.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import Engine, select, text

from data_access import db
from data_access.access import LOCAL_VIEWER
from data_access.event_study import (
    BALANCE_COLUMNS,
    EVENT_STUDY_COLUMNS,
    RELATIVE_MONTHS,
    _band,
    _per_month,
    balance_by_unit,
    event_study,
)
from data_access.filters import OutcomeFilter
from data_access.models import IMPACT_TABLES, impact_cells, impact_enrollments, impact_months
from data_access.vocabulary import (
    EVENT_STUDY_MEASURES,
    MATCHING_VARIABLES,
    NO_RECENT_DISCHARGE_DAYS,
)
from tests.test_impact import build

# Relative months (61 days make two): EA's index day is 2020-06-10, its matches' 2020-06-15.
#   EA: claim 04-01 (-70 days: month -3, $100), stay 06-01 (-9: -1, $4,000), stay 08-01
#       (+52: +2, $2,000), ED claim 09-01 (+83: +3, $100).
#   B, C, H: claims 04-01 (-75: -3, $100 each); stays 06-02, 05-31, 05-30 (-1, $4,000 each);
#       C's stay 07-01 (+16: +1, $2,000). Their mean: divide by 3.
ENROLLED = {  # month: (admissions, paid in dollars)
    -3: (0, 100.0),
    -1: (1, 4000.0),
    2: (1, 2000.0),
    3: (0, 100.0),
}
COMPARISON = {-3: (0, 100.0), -1: (1, 4000.0), 1: (1 / 3, 2000.0 / 3)}


def test_the_months_are_stored_per_enrollment_as_worked_out(engine: Engine) -> None:
    build(engine)
    stored = db.read_frame(
        select(impact_months).order_by(impact_months.c.relative_month), engine=engine
    )
    expected = pd.DataFrame(
        {
            "enrollment_id": ["EA"] * 5,
            "relative_month": [-3, -1, 1, 2, 3],
            "enrolled_admissions_behavioral": [0, 1, 0, 1, 0],
            "enrolled_admissions_medical": [0] * 5,
            "enrolled_paid_cents": [10_000, 400_000, 0, 200_000, 10_000],
            "comparison_admissions_behavioral": [0, 3, 1, 0, 0],
            "comparison_admissions_medical": [0] * 5,
            "comparison_paid_cents": [30_000, 1_200_000, 200_000, 0, 0],
        }
    )
    assert_frame_equal(stored.astype({c: "int64" for c in stored.columns[1:]}), expected)


def _expected_months(model: str | None, level: str, matched: int, members: int) -> pd.DataFrame:
    rows = []
    for measure, position in (("admissions_per_enrollment", 0), ("total_paid_per_enrollment", 1)):
        for month in RELATIVE_MONTHS:
            enrolled = ENROLLED.get(month, (0, 0.0))[position] if matched else math.nan
            comparison = COMPARISON.get(month, (0, 0.0))[position] if matched else math.nan
            rows.append(
                {
                    "level": level,
                    "program_model": model,
                    "measure": measure,
                    "relative_month": month,
                    "matched_enrollments": matched,
                    "comparison_members": members,
                    "enrolled_mean": float(enrolled),
                    # One matched enrollment: no interval.
                    "enrolled_ci_low": math.nan,
                    "enrolled_ci_high": math.nan,
                    "comparison_mean": float(comparison),
                    "comparison_ci_low": math.nan,
                    "comparison_ci_high": math.nan,
                }
            )
    return pd.DataFrame(rows)


def test_event_study_worked_out_by_hand(engine: Engine) -> None:
    build(engine)
    frame = event_study(
        viewer=LOCAL_VIEWER, filters=OutcomeFilter(), small_cells="show", engine=engine
    )
    expected = pd.concat(
        [
            _expected_months("embedded", "program_model", 0, 0),
            _expected_months("hot_spotting", "program_model", 1, 3),
            _expected_months(None, "all", 1, 3),
        ],
        ignore_index=True,
    ).astype({"level": "str", "program_model": "str", "measure": "str"})
    expected = expected.assign(suppressed="")
    assert list(frame.columns) == [*EVENT_STUDY_COLUMNS, "suppressed"]
    assert_frame_equal(frame, expected, check_dtype=False, rtol=1e-12)
    # The twelve months add up to the windows of impact_by_unit (checked there by hand):
    # EA's admissions 1 before, 1 after; its comparison's 1 before, 1/3 after.


def test_event_study_follows_the_setting_and_the_filters(engine: Engine) -> None:
    build(engine)
    medical = event_study(
        viewer=LOCAL_VIEWER,
        filters=OutcomeFilter(setting="medical"),
        small_cells="show",
        engine=engine,
    )
    admissions = medical[medical["measure"] == "admissions_per_enrollment"]
    assert (admissions.loc[admissions["level"] == "all", "enrolled_mean"] == 0).all()
    # Paid never follows the setting.
    paid = medical[
        (medical["measure"] == "total_paid_per_enrollment") & (medical["level"] == "all")
    ]
    assert list(paid["enrolled_mean"]) == [
        ENROLLED.get(month, (0, 0.0))[1] for month in RELATIVE_MONTHS
    ]
    ny = event_study(
        viewer=LOCAL_VIEWER,
        filters=OutcomeFilter(states=("NY",)),
        small_cells="show",
        engine=engine,
    )
    assert set(ny["program_model"].dropna()) == {"embedded"}
    assert (ny["matched_enrollments"] == 0).all()


def test_a_month_over_few_enrollments_is_suppressed(engine: Engine) -> None:
    build(engine)
    frame = event_study(
        viewer=LOCAL_VIEWER, filters=OutcomeFilter(), small_cells="suppress", engine=engine
    )
    shown = frame[frame["level"] != "program_model"].iloc[0]
    hot = frame[frame["program_model"] == "hot_spotting"]
    # One matched enrollment (below 11): every figure of the unit is hidden, and so is the
    # all-programs total that equals it.
    assert hot["enrolled_mean"].isna().all() and hot["comparison_mean"].isna().all()
    assert hot["matched_enrollments"].isna().all()
    assert "enrolled_mean" in shown["suppressed"] and math.isnan(shown["enrolled_mean"])
    # A unit with no enrollment has nothing to hide.
    embedded = frame[frame["program_model"] == "embedded"]
    assert (embedded["suppressed"] == "").all()


def test_band_is_the_normal_interval_of_the_mean() -> None:
    # Values 1, 0, 2: mean 1, sample variance 1, standard error 1/sqrt(3).
    mean, low, high = _band(3.0, 5.0, 3)
    half = 1.959963984540054 / math.sqrt(3)
    assert mean == 1.0
    assert math.isclose(low, 1.0 - half, rel_tol=1e-12)
    assert math.isclose(high, 1.0 + half, rel_tol=1e-12)
    assert all(math.isnan(v) for v in _band(0.0, 0.0, 0))
    assert _band(2.0, 4.0, 1)[0] == 2.0 and math.isnan(_band(2.0, 4.0, 1)[1])


# -- balance ---------------------------------------------------------------------------------

# The comparison candidates of EA's cell (TX, 2020-06, mental_health, 26-44), each with its
# pre window's behavioral stays, medical stays, inpatient days, paid (cents), days since
# the latest behavioral discharge and early admissions (admitted more than RECENT_DAYS = 30
# days before the index date): the day after each June discharge of A (enrolled only from
# 06-10), B, C and H; the 15th for B, C, H (matched: 9, 11, 12 days after), D (no stay) and
# X (enrolled only from 06-20; five stays of 8 days admitted 01-01 to 05-01, all before
# 05-16, the last discharged 37 days before). Every June stay is recent (admitted 05-30 to
# 06-02, within 30 days of any of these dates).
CANDIDATES = [
    ("A", 1, 0, 4, 410_000, 1, 0),
    ("B", 1, 0, 4, 410_000, 1, 0),
    ("B", 1, 0, 4, 410_000, 9, 0),
    ("C", 1, 0, 4, 410_000, 1, 0),
    ("C", 1, 0, 4, 410_000, 11, 0),
    ("H", 1, 0, 4, 410_000, 1, 0),
    ("H", 1, 0, 4, 410_000, 12, 0),
    ("D", 0, 0, 0, 10_000, NO_RECENT_DISCHARGE_DAYS, 0),
    ("X", 5, 0, 40, 4_510_000, 37, 5),
]
MATCHES = [CANDIDATES[2], CANDIDATES[4], CANDIDATES[6]]
EA = (1, 0, 4, 410_000, 5, 0)
EX = (5, 0, 40, 4_510_000, 42, 5)
VARIABLES = len(MATCHING_VARIABLES)


def _scale(rows: list[tuple]) -> np.ndarray:
    values = np.array([row[-VARIABLES:] for row in rows], dtype="float64")
    values[:, 3] /= 100.0  # paid in dollars
    return np.log1p(values)


def test_the_cells_hold_their_candidates_moments(engine: Engine) -> None:
    build(engine)
    stored = db.read_frame(select(impact_cells), engine=engine)
    pool = _scale(CANDIDATES)
    expected = pd.DataFrame(
        {
            "state_code": ["TX"],
            "enrolled_month": ["2020-06"],
            "primary_condition": ["mental_health"],
            "age_band": ["26_44"],
            "candidates": [9],
            **{f"pool_mean_{n}": [pool[:, i].mean()] for i, n in enumerate(MATCHING_VARIABLES)},
            **{
                f"pool_meansq_{n}": [(pool[:, i] ** 2).mean()]
                for i, n in enumerate(MATCHING_VARIABLES)
            },
        }
    )
    assert_frame_equal(stored.astype({"candidates": "int64"}), expected, rtol=1e-12)


def _smd(enrolled: np.ndarray, comparison_mean: float, comparison_var: float) -> float:
    difference = enrolled.mean() - comparison_mean
    spread = math.sqrt((enrolled.var() + comparison_var) / 2)
    if spread == 0:
        return 0.0 if difference == 0 else math.nan
    return abs(difference) / spread


def test_balance_worked_out_by_hand(engine: Engine) -> None:
    build(engine)
    frame = balance_by_unit(
        viewer=LOCAL_VIEWER, filters=OutcomeFilter(), small_cells="show", engine=engine
    )
    pool, matches = _scale(CANDIDATES), _scale(MATCHES)
    both, ea = _scale([EA, EX]), _scale([EA])
    # Before: EA and EX against their cell's nine candidates (one cell for both, so the
    # comparison is the cell's distribution). After: EA against its three matches.
    before = [_smd(both[:, i], pool[:, i].mean(), pool[:, i].var()) for i in range(VARIABLES)]
    after = [_smd(ea[:, i], matches[:, i].mean(), matches[:, i].var()) for i in range(VARIABLES)]
    # Only the days since the discharge tell EA from its matches (5 days against 9, 11, 12).
    assert after[:4] == [0.0] * 4 and after[4] > 1 and after[5] == 0.0
    units = [
        ("program", "NY", "embedded", "P2", [math.nan] * VARIABLES, [math.nan] * VARIABLES),
        ("program", "TX", "hot_spotting", "P1", before, after),
        ("program_model", None, "embedded", None, [math.nan] * VARIABLES, [math.nan] * VARIABLES),
        ("program_model", None, "hot_spotting", None, before, after),
        ("all", None, None, None, before, after),
    ]
    expected = pd.DataFrame(
        [
            {
                "level": level,
                "state_code": state,
                "program_model": model,
                "program_id": program,
                "variable": name,
                "std_diff_before": b[i],
                "std_diff_after": a[i],
            }
            for level, state, model, program, b, a in units
            for i, name in enumerate(MATCHING_VARIABLES)
        ]
    ).astype({c: "str" for c in BALANCE_COLUMNS[:5]})
    expected = expected.assign(suppressed="")
    assert list(frame.columns) == [*BALANCE_COLUMNS, "suppressed"]
    assert_frame_equal(frame, expected, check_dtype=False, rtol=1e-9)
    # Suppressed (as every download is): no unit has 11 enrollments, so no figure shows.
    hidden = balance_by_unit(
        viewer=LOCAL_VIEWER, filters=OutcomeFilter(), small_cells="suppress", engine=engine
    )
    assert hidden[["std_diff_before", "std_diff_after"]].isna().all().all()


def test_a_database_loaded_before_these_tables_says_so_and_migrate_builds_them(
    engine: Engine,
) -> None:
    build(engine)
    stored = {
        table.name: db.read_frame(select(table).order_by(*table.primary_key), engine=engine)
        for table in (impact_months, impact_cells)
    }
    with engine.begin() as conn:
        impact_months.drop(conn)
        impact_cells.drop(conn)
    problem = db.schema_problem(engine)
    assert problem is not None and "python -m data_access migrate" in problem
    db.create_schema(engine)
    assert db.schema_problem(engine) is None
    for table in (impact_months, impact_cells):
        rebuilt = db.read_frame(select(table).order_by(*table.primary_key), engine=engine)
        assert_frame_equal(rebuilt, stored[table.name])


def test_an_impact_table_without_a_new_matching_variable_is_rebuilt_by_migrate(
    engine: Engine,
) -> None:
    # A database loaded before early_admissions was a matching variable: its
    # impact_enrollments lacks the column (and its moments' columns).
    build(engine)
    stored = {
        table.name: db.read_frame(select(table).order_by(*table.primary_key), engine=engine)
        for table in IMPACT_TABLES
    }
    old = [c.name for c in impact_enrollments.columns if not c.name.endswith("early_admissions")]
    assert len(old) == len(impact_enrollments.columns) - 3  # the variable and its 2 moments
    with engine.begin() as conn:
        for column in impact_enrollments.columns:
            if column.name not in old:
                conn.execute(text(f"ALTER TABLE impact_enrollments DROP COLUMN {column.name}"))
    problem = db.schema_problem(engine)
    assert problem is not None and "python -m data_access migrate" in problem
    assert db.migrate(engine).startswith("Rebuilt the matched comparison's tables")
    assert db.schema_problem(engine) is None
    assert db.migrate(engine).startswith("The database is up to date")
    for table in IMPACT_TABLES:
        rebuilt = db.read_frame(select(table).order_by(*table.primary_key), engine=engine)
        assert_frame_equal(rebuilt, stored[table.name])


def _sums_by_matches(rng: np.random.Generator, squares: type) -> pd.DataFrame:
    """Rows as `_month_sums` reads them: per (model, month, matches) integer totals, and the
    squares' totals as the engine gives them (exact ints, or SQLite's floats)."""
    keys = [
        (model, month, k)
        for model in ("embedded", "hot_spotting")
        for month in (-1, 2)
        for k in (1, 3, 7)
    ]
    frame = pd.DataFrame(keys, columns=["program_model", "relative_month", "matches"])
    for measure in EVENT_STUDY_MEASURES:
        for group in ("enrolled", "comparison"):
            totals = rng.integers(10**9, 10**12, len(frame))
            frame[f"{measure}__{group}_total"] = [int(t) for t in totals]
            frame[f"{measure}__{group}_square_total"] = [squares(t) * 10**6 for t in totals]
    return frame


@pytest.mark.parametrize("squares", [int, float], ids=["exact squares", "float squares"])
def test_month_sums_do_not_depend_on_the_order_the_database_returns_them(squares: type) -> None:
    """The same sums in any row order give the same bits (a parallel plan on PostgreSQL
    returns and adds up rows in an order of its own), and each comparison sum is the
    matched totals divided by their number of matches, added up exactly rounded."""
    rows = _sums_by_matches(np.random.default_rng(20261206), squares)
    forward = _per_month(rows)
    for seed in range(5):
        shuffled = rows.sample(frac=1, random_state=seed).reset_index(drop=True)
        assert_frame_equal(_per_month(shuffled), forward, check_exact=True)
    assert list(zip(forward["program_model"], forward["relative_month"], strict=True)) == [
        ("embedded", -1),
        ("embedded", 2),
        ("hot_spotting", -1),
        ("hot_spotting", 2),
    ]
    measure = EVENT_STUDY_MEASURES[0]
    first = rows[(rows["program_model"] == "embedded") & (rows["relative_month"] == -1)]
    totals = first[f"{measure}__comparison_total"].tolist()
    assert forward.loc[0, f"{measure}__comparison_sum"] == math.fsum(
        t / k for t, k in zip(totals, first["matches"], strict=True)
    )
    assert forward.loc[0, f"{measure}__enrolled_sum"] == float(
        sum(first[f"{measure}__enrolled_total"])
    )
