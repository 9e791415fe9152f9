"""Impact (contract v2): matching and estimates on hand-built data with exact expected values.

The database tests build a tiny world on both engines and check the stored matches and the
impact rows against values worked out by hand; the DataFrame tests check the matching, the
bootstrap and the balance figure directly.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import Engine, insert, select, text

from data_access import db
from data_access.access import LOCAL_VIEWER, Viewer
from data_access.filters import OutcomeFilter
from data_access.impact import (
    IMPACT_COLUMNS,
    IMPACT_COUNT_COLUMNS,
    IMPACT_RULES,
    _balance,
    _impact_output,
    _records_frame,
    bootstrap_sums,
    evaluation_filters,
    impact_by_unit,
    impact_payload,
    match_enrollments,
    rebuild_impact,
)
from data_access.impact_sql import ImpactSql
from data_access.models import (
    Admission,
    Eligibility,
    Enrollment,
    Member,
    Program,
    Service,
    State,
    impact_enrollments,
    impact_matches,
)
from data_access.summaries import day_number, rebuild_summaries
from data_access.suppression import apply_suppression
from data_access.vocabulary import IMPACT_MEASURES, MATCHING_VARIABLES

LEADERSHIP = LOCAL_VIEWER


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _rows(columns: str, *rows: tuple[Any, ...]) -> list[dict[str, Any]]:
    names = columns.split()
    return [dict(zip(names, row, strict=True)) for row in rows]


def _stay(admission_id: str, member: str, admit: str, discharge: str, dollars: int) -> tuple:
    return (admission_id, member, "behavioral", d(admit), d(discharge), dollars * 100)


def _claim(claim_id: str, member: str, day: str, category: str = "outpatient") -> tuple:
    return (claim_id, member, d(day), category, True, 1, 10_000)


# TX, one program. Enrollee A (enrolled 2020-06-10, five days after a behavioral stay) and
# comparison candidates in A's cell (TX, 2020-06, mental_health, age 26-44):
#   B, C, H: the same stay, discharged 2020-06-06, 06-04, 06-03 (so candidates the day
#     after, and on 2020-06-15 as routine dates; on the 15th, 9, 11 and 12 days after the
#     discharge, nearer A's 5 days on the matching scale than the day after). H enrolls
#     later (2021-09-01): it stays a candidate.
#   D: no stay (far from A: beyond the caliper).
#   E: the same stay, but enrolled in the program from 2020-03-01 (in A's pre window): out
#     (and EE not analysable: E's eligibility starts within its pre window).
#   F: another condition, G: another age band: other cells.
# Enrollee X (2020-06-20) had five stays in its pre window: no candidate comes near, so it
# is analysable but not matched. Its discharges make dates of its own member only.
# Post windows: A and C have one 2-day stay; B and H none.
MEMBERS = ("A", "B", "C", "D", "E", "F", "G", "H", "X")
WORLD: dict[type, list[dict[str, Any]]] = {
    State: _rows("state_code state_name", ("TX", "Texas"), ("NY", "New York")),
    Program: _rows(
        "program_id state_code program_model program_name launched_on",
        ("P1", "TX", "hot_spotting", "High utilizers", d("2019-01-01")),
        ("P2", "NY", "embedded", "Transition coaching", d("2019-01-01")),
    ),
    Member: _rows(
        "member_id state_code birth_year primary_condition",
        *[(m, "TX", 1980, "mental_health") for m in ("A", "B", "C", "D", "E", "H", "X")],
        ("F", "TX", 1980, "substance_use"),
        ("G", "TX", 1950, "mental_health"),
    ),
    Eligibility: _rows(
        "member_id start_date end_date",
        *[(m, d("2019-01-01"), d("2021-12-31")) for m in MEMBERS if m != "E"],
        ("E", d("2019-10-01"), d("2021-12-31")),  # EE's pre window is not covered
    ),
    Enrollment: _rows(
        "enrollment_id member_id program_id coaching_role enrolled_on ended_on",
        ("EA", "A", "P1", "peer_coach", d("2020-06-10"), d("2020-12-31")),
        ("EE", "E", "P1", "peer_coach", d("2020-03-01"), d("2020-04-30")),
        ("EH", "H", "P1", "peer_coach", d("2021-09-01"), None),  # post window beyond the data
        ("EX", "X", "P1", "peer_coach", d("2020-06-20"), None),
    ),
    Admission: _rows(
        "admission_id member_id setting admit_date discharge_date paid_amount_cents",
        _stay("SA", "A", "2020-06-01", "2020-06-05", 4000),
        _stay("SA2", "A", "2020-08-01", "2020-08-03", 2000),
        _stay("SB", "B", "2020-06-02", "2020-06-06", 4000),
        _stay("SC", "C", "2020-05-31", "2020-06-04", 4000),
        _stay("SC2", "C", "2020-07-01", "2020-07-03", 2000),
        _stay("SE", "E", "2020-06-01", "2020-06-05", 4000),
        _stay("SF", "F", "2020-06-01", "2020-06-05", 4000),
        _stay("SG", "G", "2020-06-01", "2020-06-05", 4000),
        _stay("SH", "H", "2020-05-30", "2020-06-03", 4000),
        *[_stay(f"SX{n}", "X", f"2020-0{n}-01", f"2020-0{n}-09", 9000) for n in (1, 2, 3, 4, 5)],
    ),
    Service: _rows(
        "claim_id member_id service_date category behavioral visits paid_amount_cents",
        *[_claim(f"C{m}", m, "2020-04-01") for m in MEMBERS],
        _claim("EDA", "A", "2020-09-01", "emergency"),
        _claim("END", "D", "2021-12-31", "other"),  # data through 2021-12-31
    ),
}


def build(engine: Engine, world: dict[type, list[dict[str, Any]]] = WORLD) -> None:
    with engine.begin() as conn:
        for model, rows in world.items():
            if rows:
                conn.execute(insert(model), rows)
        rebuild_summaries(conn)
        rebuild_impact(conn)


def _day(text: str) -> int:
    return day_number(d(text))


def test_matches_are_the_nearest_eligible_dates_of_distinct_members(engine: Engine) -> None:
    build(engine)
    matches = db.read_frame(
        select(
            impact_matches.c.enrollment_id,
            impact_matches.c.match_rank,
            impact_matches.c.member_id,
            impact_matches.c.index_day,
        ).order_by(impact_matches.c.enrollment_id, impact_matches.c.match_rank),
        engine=engine,
    )
    expected = pd.DataFrame(
        {
            "enrollment_id": ["EA", "EA", "EA"],
            "match_rank": [1, 2, 3],
            "member_id": ["B", "C", "H"],
            "index_day": [_day("2020-06-15")] * 3,
        }
    )
    assert_frame_equal(matches.astype({"match_rank": "int64", "index_day": "int64"}), expected)
    distances = db.read_frame(select(impact_matches.c.distance), engine=engine)["distance"]
    assert distances.is_monotonic_increasing and (distances > 0).all()

    enrollments = db.read_frame(
        select(
            impact_enrollments.c.enrollment_id,
            impact_enrollments.c.matches,
            *[impact_enrollments.c[name] for name in MATCHING_VARIABLES],
        ).order_by(impact_enrollments.c.enrollment_id),
        engine=engine,
    )
    expected_enrollments = pd.DataFrame(
        {
            "enrollment_id": ["EA", "EX"],  # EE, EH not analysable
            "matches": [3, 0],
            "pre_admissions_behavioral": [1, 5],
            "pre_admissions_medical": [0, 0],
            "pre_inpatient_days": [4, 40],
            "pre_paid_cents": [410_000, 4_510_000],
            "days_since_discharge": [5, 42],
            # A's stay began 9 days before its index date; X's five, 50 to 171 days before.
            "early_admissions": [0, 5],
        }
    )
    numbers = {name: "int64" for name in expected_enrollments.columns[1:]}
    assert_frame_equal(enrollments.astype(numbers), expected_enrollments)


def test_candidates_are_chosen_on_the_pre_window_alone(engine: Engine) -> None:
    # K has no claim or stay at all; L only a behavioral stay in the post window of
    # 2020-06-15. Both are sampled on 2020-06-15 in EA's cell (every TX member is: fewer
    # members than the monthly sample). What happens from the index date on is the outcome:
    # it must not decide who is a candidate, so both are, with the same (empty) pre window.
    world = dict(WORLD)
    world[Member] = [
        *WORLD[Member],
        *_rows(
            "member_id state_code birth_year primary_condition",
            ("K", "TX", 1980, "mental_health"),
            ("L", "TX", 1980, "mental_health"),
        ),
    ]
    world[Eligibility] = [
        *WORLD[Eligibility],
        *_rows(
            "member_id start_date end_date",
            ("K", d("2019-01-01"), d("2021-12-31")),
            ("L", d("2019-01-01"), d("2021-12-31")),
        ),
    ]
    world[Admission] = [
        *WORLD[Admission],
        *_rows(
            "admission_id member_id setting admit_date discharge_date paid_amount_cents",
            _stay("SL", "L", "2020-07-10", "2020-07-12", 2000),
        ),
    ]
    build(engine, world)
    sql = ImpactSql(engine.dialect.name)
    with engine.begin() as conn:
        for statement in sql.create_work_tables():
            conn.execute(text(statement), {"through_day": _day("2021-12-31")})
        candidates = pd.DataFrame(conn.execute(text(sql.candidate_features())).mappings().all())
        for statement in sql.drop_work_tables():
            conn.execute(text(statement))
    got = candidates[candidates["member_id"].isin(["K", "L"])].sort_values("member_id")
    expected = pd.DataFrame(
        {
            "member_id": ["K", "L"],
            "index_day": [_day("2020-06-15")] * 2,
            "cell_id": [1, 1],
            **{name: [0, 0] for name in MATCHING_VARIABLES if name != "days_since_discharge"},
        }
    )
    expected.insert(7, "days_since_discharge", [np.nan, np.nan])  # none
    assert_frame_equal(
        got.reset_index(drop=True).astype(
            {c: "int64" for c in expected.columns[1:] if c != "days_since_discharge"}
        ),
        expected,
        check_dtype=False,
    )


def _unit(frame: pd.DataFrame, level: str, measure: str) -> pd.Series:
    """The row of a measure at a level: P1's, its model's (hot_spotting) or all."""
    rows = frame[(frame["level"] == level) & (frame["measure"] == measure)]
    ours = rows["program_id"].fillna("P1").eq("P1") & rows["program_model"].fillna(
        "hot_spotting"
    ).eq("hot_spotting")
    return rows[ours].iloc[0]


def test_effects_worked_out_by_hand(engine: Engine) -> None:
    build(engine)
    frame = impact_by_unit(
        viewer=LEADERSHIP, filters=OutcomeFilter(), small_cells="show", engine=engine
    )
    assert list(frame.columns) == [*IMPACT_COLUMNS, "suppressed"]
    # Program P1 (TX), the hot_spotting model and all programs pool the same enrollments;
    # P2 (NY) has none.
    program = frame[(frame["level"] == "program") & (frame["program_id"] == "P1")]
    shown = ["measure", "enrollments", "matched_enrollments", "comparison_members"]
    figures = ["enrolled_pre", "enrolled_post", "comparison_pre", "comparison_post", "effect"]
    got = program[shown + figures].reset_index(drop=True)
    expected = pd.DataFrame(
        [
            # A: 1 stay of 4 days before, 1 of 2 days after. B, C, H: 1 stay before each,
            # C one after: comparison 1 -> 1/3 stays, 4 -> 2/3 days.
            ("admissions_per_enrollment", 1.0, 1.0, 1.0, 1 / 3, 2 / 3),
            (
                "behavioral_paid_per_enrollment",
                4100.0,
                2100.0,
                4100.0,
                2000 / 3,
                -2000 + 3433 + 1 / 3,
            ),
            ("ed_visits_per_enrollment", 0.0, 1.0, 0.0, 0.0, 1.0),
            ("inpatient_days_per_enrollment", 4.0, 2.0, 4.0, 2 / 3, -2 + 10 / 3),
            ("medical_paid_per_enrollment", 0.0, 0.0, 0.0, 0.0, 0.0),
            ("share_with_admission", 1.0, 1.0, 1.0, 1 / 3, 2 / 3),
            ("total_paid_per_enrollment", 4100.0, 2100.0, 4100.0, 2000 / 3, -2000 + 3433 + 1 / 3),
        ],
        columns=["measure", *figures],
    )
    expected.insert(1, "enrollments", 2)
    expected.insert(2, "matched_enrollments", 1)
    expected.insert(3, "comparison_members", 3)
    assert_frame_equal(got, expected, check_dtype=False)
    # One matched enrollment: every bootstrap replicate draws it, the interval is the effect.
    assert (program["effect_ci_low"] == program["effect"]).all()
    assert (program["effect_ci_high"] == program["effect"]).all()
    admissions = _unit(frame, "program", "admissions_per_enrollment")
    assert admissions["pre_post_change"] == 0.0
    # effect / (enrolled pre + comparison post - comparison pre) x 100 = (2/3) / (1/3)
    assert admissions["effect_pct"] == pytest.approx(200.0)
    for level in ("program_model", "all"):
        pooled = _unit(frame, level, "admissions_per_enrollment")
        assert pooled["effect"] == pytest.approx(2 / 3)
        assert pooled["enrollments"] == 2 and pooled["comparison_members"] == 3
    empty = frame[frame["program_id"] == "P2"]
    assert (empty["enrollments"] == 0).all() and empty["effect"].isna().all()
    # Balance: only the days since the discharge differ (A 5, its matches 9, 11 and 12 days;
    # one enrollment, so no enrolled spread).
    comparison = np.log1p([9.0, 11.0, 12.0])
    smd = abs(np.log1p(5.0) - comparison.mean()) / np.sqrt(comparison.var() / 2)
    assert program["max_std_diff"].tolist() == pytest.approx([smd] * 7)


def test_rows_are_ordered_by_level_then_keys_as_text(engine: Engine) -> None:
    build(engine)
    frame = impact_by_unit(
        viewer=LEADERSHIP, filters=OutcomeFilter(), small_cells="show", engine=engine
    )
    keys = frame[["level", "state_code", "program_model", "program_id", "measure"]]
    expected_levels = ["program"] * 14 + ["program_model"] * 14 + ["all"] * 7
    assert list(keys["level"]) == expected_levels
    assert list(keys["program_id"].iloc[:14]) == ["P2"] * 7 + ["P1"] * 7  # NY before TX
    assert list(keys["measure"].iloc[:7]) == sorted(IMPACT_MEASURES)
    assert list(keys["program_model"].iloc[14:28]) == ["embedded"] * 7 + ["hot_spotting"] * 7
    assert keys["state_code"].iloc[14:].isna().all() and keys["program_id"].iloc[14:].isna().all()
    assert keys["program_model"].iloc[28:].isna().all()


def test_the_setting_limits_stays_and_ed_visits_not_paid(engine: Engine) -> None:
    build(engine)
    medical = impact_by_unit(
        viewer=LEADERSHIP,
        filters=OutcomeFilter(setting="medical"),
        small_cells="show",
        engine=engine,
    )
    program = medical[medical["program_id"] == "P1"].set_index("measure")
    assert (program["setting"] == "medical").all()
    # No medical stay and no non-behavioral ED visit anywhere: those measures are all 0.
    for measure in (
        "admissions_per_enrollment",
        "share_with_admission",
        "ed_visits_per_enrollment",
    ):
        assert program.loc[measure, ["enrolled_pre", "enrolled_post", "effect"]].tolist() == [
            0.0,
            0.0,
            0.0,
        ]
    assert program.loc["total_paid_per_enrollment", "enrolled_pre"] == 4100.0


def test_filters_restrict_enrollments(engine: Engine) -> None:
    build(engine)

    def p1(filters: OutcomeFilter) -> pd.Series:
        frame = impact_by_unit(
            viewer=LEADERSHIP, filters=filters, small_cells="show", engine=engine
        )
        rows = frame[(frame["program_id"] == "P1") & (frame["measure"] == "share_with_admission")]
        return rows.iloc[0] if len(rows) else pd.Series(dtype=object)

    assert p1(OutcomeFilter(month_from="2020-07"))["enrollments"] == 0
    assert p1(OutcomeFilter(month_to="2020-06"))["enrollments"] == 2
    assert p1(OutcomeFilter(conditions=("substance_use",)))["enrollments"] == 0
    assert p1(OutcomeFilter(program_ids=("P2",))).empty
    assert p1(OutcomeFilter(states=("NY",))).empty
    assert impact_by_unit(
        viewer=LEADERSHIP,
        filters=OutcomeFilter(program_models=("not_enrolled",)),
        engine=engine,
    ).empty


def test_a_partner_sees_their_states_and_small_counts_are_suppressed(engine: Engine) -> None:
    build(engine)
    partner = Viewer(email="p@example.org", role="state_partner", states=("TX",))
    frame = impact_by_unit(viewer=partner, filters=OutcomeFilter(), engine=engine)
    assert set(frame["program_id"].dropna()) == {"P1"}
    assert set(frame["program_model"].dropna()) == {"hot_spotting"}
    # 2 enrollments, 1 matched, 3 comparison members: all from 1 to 10, all suppressed,
    # and every figure with them.
    assert frame[list(IMPACT_COLUMNS[6:])].isna().all().all()
    assert set(frame["suppressed"].str.split(";").explode()) == set(IMPACT_COLUMNS[6:])
    # Leadership asking to see small cells sees them; a partner asking is refused.
    shown = impact_by_unit(
        viewer=LEADERSHIP, filters=OutcomeFilter(), small_cells="show", engine=engine
    )
    assert (shown["suppressed"] == "").all() and shown["effect"].notna().any()
    asked = impact_by_unit(
        viewer=partner, filters=OutcomeFilter(), small_cells="show", engine=engine
    )
    assert asked[["effect", "enrollments"]].isna().all().all()


def test_the_same_database_gives_identical_output_twice(engine: Engine) -> None:
    build(engine)
    first = impact_by_unit(
        viewer=LEADERSHIP, filters=OutcomeFilter(), small_cells="show", engine=engine
    )
    with engine.begin() as conn:
        rebuild_impact(conn)
    second = impact_by_unit(
        viewer=LEADERSHIP, filters=OutcomeFilter(), small_cells="show", engine=engine
    )
    assert first.to_csv(index=False) == second.to_csv(index=False)


def test_sqlite_and_postgresql_agree(sqlite_url: str, postgres_url: str) -> None:
    outputs = []
    for url in (sqlite_url, postgres_url):
        engine = db.get_engine(url)
        db.create_schema(engine)
        build(engine)
        outputs.append(
            impact_by_unit(
                viewer=LEADERSHIP, filters=OutcomeFilter(), small_cells="show", engine=engine
            )
        )
    assert outputs[0].to_csv(index=False) == outputs[1].to_csv(index=False)


# ---------------------------------------------------------------------------------------
# The matching, the bootstrap and the balance on DataFrames


def _frame(rows: list[tuple[Any, ...]], key: str) -> pd.DataFrame:
    columns = [key, "member_id", "state_code", "month_index", "primary_condition", "age_band"]
    columns += list(MATCHING_VARIABLES)
    return pd.DataFrame(rows, columns=columns)


CELL = ("TX", 24245, "mental_health", "26_44")


def _person(key: Any, member: str, admissions: int, paid: int, cell: tuple = CELL) -> tuple:
    # Matching variables: behavioral and medical stays, days, paid, days since discharge
    # (none: NO_RECENT_DISCHARGE_DAYS), early admissions (none).
    return (key, member, *cell, admissions, 0, 3 * admissions, paid, None, 0)


def test_matching_takes_the_k_nearest_distinct_members_within_the_caliper() -> None:
    enrollees = _frame([_person("E1", "m1", 2, 500_000)], "enrollment_id")
    candidates = _frame(
        [
            _person(100, "m1", 2, 500_000),  # the enrollee's own member: never
            _person(101, "c1", 2, 500_000),  # identical
            _person(102, "c1", 2, 510_000),  # the same member again: skipped
            _person(103, "c2", 2, 520_000),
            _person(104, "c3", 2, 560_000),
            _person(105, "c4", 2, 600_000),  # a 4th: beyond k
            _person(106, "c5", 0, 0),  # far: beyond the caliper
            _person(107, "c6", 2, 500_000, ("NY", *CELL[1:])),  # another cell
        ],
        "index_day",
    )
    matches = match_enrollments(enrollees, candidates, k=3, caliper=0.5)
    assert matches[
        ["enrollment_id", "match_rank", "member_id", "index_day"]
    ].to_numpy().tolist() == [
        ["E1", 1, "c1", 101],
        ["E1", 2, "c2", 103],
        ["E1", 3, "c3", 104],
    ]
    assert matches["distance"].iloc[0] == 0.0
    # The same data in another row order gives the same matches.
    shuffled = match_enrollments(
        enrollees, candidates.sample(frac=1, random_state=3), k=3, caliper=0.5
    )
    assert_frame_equal(matches, shuffled)
    assert match_enrollments(enrollees, candidates.iloc[[0, 6, 7]], k=3, caliper=0.5).empty


def test_ties_are_spread_over_members_not_given_to_the_smallest_id() -> None:
    enrollees = _frame(
        [_person(f"E{i:02d}", f"e{i}", 1, 100_000) for i in range(40)], "enrollment_id"
    )
    candidates = _frame([_person(i, f"c{i:02d}", 1, 100_000) for i in range(10)], "index_day")
    matches = match_enrollments(enrollees, candidates, k=1, caliper=0.5)
    # All ten candidates are equally near every enrollment: the fixed scramble spreads them.
    assert len(matches) == 40 and matches["member_id"].nunique() >= 8
    again = match_enrollments(enrollees, candidates, k=1, caliper=0.5)
    assert_frame_equal(matches, again)


def test_bootstrap_resamples_members_with_all_their_enrollments() -> None:
    members = np.array(["a", "a", "b"])
    differences = np.array([[1.0], [3.0], [10.0]])
    replicates = bootstrap_sums(members, differences, seed=7, replicates=500)
    # Two draws of members: a+a (4 enrollments, sum 8), a+b (3, 14), b+b (2, 20).
    pairs = {tuple(row) for row in replicates.tolist()}
    assert pairs <= {(8.0, 4.0), (14.0, 3.0), (20.0, 2.0)} and len(pairs) == 3
    np.testing.assert_array_equal(
        replicates, bootstrap_sums(members, differences, seed=7, replicates=500)
    )
    assert not np.array_equal(
        replicates, bootstrap_sums(members, differences, seed=8, replicates=500)
    )


def test_balance_is_the_largest_standardised_difference() -> None:
    rows = pd.DataFrame({name: [0, 0] for name in MATCHING_VARIABLES})
    for name in MATCHING_VARIABLES:
        rows[f"comparison_mean_{name}"] = 0.0
        rows[f"comparison_meansq_{name}"] = 0.0
    rows["pre_admissions_behavioral"] = [1, 3]
    x = np.log1p(np.array([1.0, 3.0]))
    # The comparison has no spread: the enrolled variance alone, halved.
    assert _balance(rows) == pytest.approx(x.mean() / np.sqrt(x.var() / 2))
    rows["comparison_mean_pre_admissions_behavioral"] = x
    rows["comparison_meansq_pre_admissions_behavioral"] = x**2
    assert _balance(rows) == pytest.approx(0.0)


# ---------------------------------------------------------------------------------------
# Disclosure rules of the impact rows


def _impact_row(**changes: float) -> dict[str, float]:
    row: dict[str, float] = {
        "enrollments": 60,
        "matched_enrollments": 50,
        "comparison_members": 120,
        "enrolled_pre": 1.0,
        "enrolled_post": 0.5,
        "comparison_pre": 1.0,
        "comparison_post": 0.8,
        "pre_post_change": -0.5,
        "effect": -0.3,
        "effect_ci_low": -0.5,
        "effect_ci_high": -0.1,
        "effect_pct": -37.5,
        "max_std_diff": 0.05,
        "unmatched_enrollments": 10,
        "matched_basis": 50,
        "enrolled_pre_events": 50,
        "enrolled_post_events": 25,
        "comparison_pre_events": 150,
        "comparison_post_events": 120,
    }
    row.update(changes)
    return row


LEVELS = ["enrolled_pre", "enrolled_post", "comparison_pre", "comparison_post"]


@pytest.mark.parametrize(
    ("changes", "hidden"),
    [
        ({"unmatched_enrollments": 0, "enrollments": 50}, set()),
        # 10 left unmatched: with prepost over all 60 enrollments, the matched levels would
        # give the unmatched ten's; the effect stays.
        ({}, {"matched_enrollments", *LEVELS, "pre_post_change", "effect_pct"}),
        # A level over a small count hides the four levels (the effect and three would give
        # the fourth back), not the effect.
        (
            {"unmatched_enrollments": 0, "enrollments": 50, "enrolled_post_events": 5},
            {*LEVELS, "pre_post_change", "effect_pct"},
        ),
        # Fewer than 11 matched enrollments or comparison members: every figure.
        (
            {"matched_enrollments": 8, "matched_basis": 8, "unmatched_enrollments": 52},
            set(IMPACT_COLUMNS[7:]) - {"comparison_members"},
        ),
        (
            {"unmatched_enrollments": 0, "enrollments": 50, "comparison_members": 9},
            {"comparison_members", *LEVELS, "pre_post_change", "effect"}
            | {"effect_ci_low", "effect_ci_high", "effect_pct"},
        ),
        # Fewer than 11 enrollments: the whole row.
        ({"enrollments": 7, "matched_enrollments": 7, "matched_basis": 7}, set(IMPACT_COLUMNS[6:])),
    ],
)
def test_impact_disclosure_rules(changes: dict[str, float], hidden: set[str]) -> None:
    frame = pd.DataFrame([_impact_row(**changes)])
    shown = IMPACT_COLUMNS[6:]
    out = apply_suppression(frame, IMPACT_RULES, threshold=11, shown=shown)
    assert {c for c in shown if pd.isna(out.loc[0, c])} == hidden
    assert set(filter(None, out.loc[0, "suppressed"].split(";"))) == hidden


def test_the_bootstrap_gives_the_same_bits_whatever_the_blas_threads(tmp_path: Path) -> None:
    # A BLAS matrix product sums in an order that follows its thread count, which moved the
    # intervals' last bits between machines; the replicates must not depend on it.
    script = (
        "import sys, numpy as np\n"
        "from data_access.impact import bootstrap_sums\n"
        "rng = np.random.default_rng(5)\n"
        "members = rng.integers(0, 3000, size=5000).astype(str)\n"
        "differences = rng.normal(size=(5000, 7)) * 1000\n"
        "np.save(sys.argv[1], bootstrap_sums(members, differences, seed=11, replicates=300))\n"
    )
    outputs = []
    for threads in ("1", "2"):
        out = tmp_path / f"replicates-{threads}.npy"
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
        subprocess.run(
            [sys.executable, "-c", script, str(out)],
            check=True,
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
        )
        outputs.append(np.load(out))
    assert outputs[0].tobytes() == outputs[1].tobytes()


def test_a_partner_gets_one_evaluation_over_the_whole_grant(engine: Engine) -> None:
    """Two evaluations of overlapping enrollments could be subtracted: a partner's filters
    (conditions, months, programs, setting) leave the evaluation as it is."""
    build(engine)
    partner = Viewer(email="p@example.org", role="state_partner", states=("TX",))
    whole = impact_by_unit(viewer=partner, filters=OutcomeFilter(), engine=engine)
    assert not whole.empty
    narrowed = OutcomeFilter(
        conditions=("substance_use",), month_from="2020-01", month_to="2020-12", setting="medical"
    )
    assert_frame_equal(impact_by_unit(viewer=partner, filters=narrowed, engine=engine), whole)
    shown = {"viewer": LEADERSHIP, "small_cells": "show", "engine": engine}
    medical = impact_by_unit(filters=OutcomeFilter(setting="medical"), **shown)
    assert set(medical["setting"]) == {"medical"}
    assert set(impact_by_unit(filters=OutcomeFilter(), **shown)["setting"]) == {"all"}


def _from_records_output(payload: dict[str, Any], suppress: bool) -> pd.DataFrame:
    """What `_impact_output` built its frame with before `_records_frame`: `from_records`, the
    counts cast with `astype`, then (not suppressed) the columns and `assign`."""
    frame = pd.DataFrame.from_records(payload["records"])
    for column in (*IMPACT_COUNT_COLUMNS, "unmatched_enrollments", "matched_basis"):
        frame[column] = frame[column].astype("int64")
    if suppress:
        return frame
    return frame[list(IMPACT_COLUMNS)].assign(suppressed="")


@pytest.mark.parametrize(
    "filters",
    [
        OutcomeFilter(),
        OutcomeFilter(states=("TX", "NY"), setting="medical"),
        OutcomeFilter(states=("WA",), month_from="2023-01", month_to="2023-06"),
    ],
    ids=["all", "two-states-medical", "one-state-six-months"],
)
def test_impact_frames_are_the_ones_from_records_builds(
    loaded_sample: str, filters: OutcomeFilter
) -> None:
    """`_records_frame` builds the payload's frame by columns: the same values and types as
    `from_records` (strings with None, NaN figures, counts), shown and before suppression."""
    engine = db.get_engine(loaded_sample)
    scoped, models = evaluation_filters(filters, LOCAL_VIEWER)
    payload = impact_payload(scoped, models, engine)
    assert payload is not None
    records = payload["records"]
    assert any(r["program_id"] is None for r in records)
    shown = _records_frame(records, IMPACT_COLUMNS, {"suppressed": ""})
    assert_frame_equal(shown, _from_records_output(payload, False), check_exact=True)
    assert_frame_equal(_impact_output(payload, LOCAL_VIEWER, "show"), shown, check_exact=True)
    whole = _records_frame(records, list(records[0]))
    assert_frame_equal(whole, _from_records_output(payload, True), check_exact=True)
    assert (whole[["enrollments", "matched_basis"]].dtypes == "int64").all()
