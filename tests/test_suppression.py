"""Small-cell suppression on hand-built frames: exact masks and frames, worked out by hand.

Each case says which cells must be hidden and why; nothing here is read back from the code.
The recoverability checker (tests/disclosure_checks.py) is run on the results too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from data_access.measures import add_monthly_rates
from data_access.suppression import (
    MONTHLY_RULES,
    PREPOST_RULES,
    SUPPRESSED_COLUMN,
    DisclosureRules,
    Margin,
    apply_suppression,
    hidden_cells,
    unit_margins,
)
from tests.disclosure_checks import MONTHLY_SPEC, PREPOST_SPEC, Ratio, Spec, disclosure_findings

# One count `a` over a basis `n`, and a rate of the two.
SIMPLE = DisclosureRules(
    basis="n", counts=("a",), derived={"rate": ("n", "a")}, additive=("n", "a")
)
SIMPLE_SPEC = Spec(rules=SIMPLE, relations=(Ratio("rate", "a", "n"),), counts=("n", "a"))
# One additive count, nothing derived: for margins.
ONE = DisclosureRules(basis="n", counts=("a",), derived={}, additive=("a",))
# Two counts and their sum, hidden together.
LINKED = DisclosureRules(basis="n", counts=("x", "y"), derived={}, linked=(("t", "x", "y"),))

MONTHLY_MEASURES = [c for c in MONTHLY_RULES.columns if c != MONTHLY_RULES.basis]
MONTHLY_ALL = list(MONTHLY_RULES.columns)  # a whole row, the basis included
THRESHOLDS = (5, 11, 20)


def simple_frame(n: list[int], a: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame({"n": n, "a": a})
    frame["rate"] = frame["a"] / frame["n"].where(frame["n"] != 0)
    return frame


def mask(
    frame: pd.DataFrame, columns: list[str], hidden: dict[int, set[str] | list[str]]
) -> pd.DataFrame:
    """The expected mask over `columns`: the cells of `hidden` (row -> columns) are True."""
    expected = pd.DataFrame(False, index=frame.index, columns=columns)
    for row, names in hidden.items():
        for name in names:
            expected.loc[row, name] = True
    return expected


def month(
    member_months: int,
    admissions: int,
    discharges: int,
    inpatient_days: int,
    readmissions_30d: int,
    behavioral_cents: int,
    medical_cents: int,
    *,
    followed: int | None = None,
    ed: int = 0,
    behavioral_discharges: int = 0,
    followups_7d: int = 0,
    followups_30d: int = 0,
    peer_contacts: int = 0,
) -> dict[str, int]:
    """One month row's sums, as outcome_summary reads them. The readmission rate's
    denominator, the followed discharges, is the discharges unless given (discharges whose 30
    days are not all in the data are not followed); ED visits and the follow-up counts of
    behavioral discharges are 0 unless given."""
    return {
        "member_months": member_months,
        "admissions": admissions,
        "discharges": discharges,
        "inpatient_days": inpatient_days,
        "followed_discharges": discharges if followed is None else followed,
        "readmissions_30d": readmissions_30d,
        "ed_visits": ed,
        "followed_behavioral_discharges": behavioral_discharges,
        "followups_7d": followups_7d,
        "followups_30d": followups_30d,
        "peer_contacts_1d": peer_contacts,
        "behavioral_paid_cents": behavioral_cents,
        "medical_paid_cents": medical_cents,
    }


def monthly_frame(rows: list[dict[str, int]]) -> pd.DataFrame:
    """Month rows (from `month`) with their rates, money in dollars, one month each: the
    members' lower bound is the member-months."""
    raw = pd.DataFrame(rows)
    raw["paid_cents"] = raw["behavioral_paid_cents"] + raw["medical_paid_cents"]
    raw["members_lower_bound"] = raw["member_months"]
    return add_monthly_rates(raw)


def monthly_mask(frame: pd.DataFrame, hidden: dict[int, list[str]]) -> pd.DataFrame:
    return mask(frame, MONTHLY_ALL, hidden)


# ---------------------------------------------------------------------------------------
# Primary suppression


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_counts_from_1_to_threshold_minus_1_are_hidden_0_and_threshold_are_shown(threshold):
    t = threshold
    frame = simple_frame(n=[1000] * 6, a=[0, 1, 2, t - 1, t, t + 5])
    hidden = hidden_cells(frame, SIMPLE, threshold=t)
    expected = mask(
        frame, ["n", "a", "rate"], {1: {"a", "rate"}, 2: {"a", "rate"}, 3: {"a", "rate"}}
    )
    assert_frame_equal(hidden, expected)


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_apply_suppression_empties_the_cells_and_names_them(threshold):
    t = threshold
    frame = simple_frame(n=[1000, 1000, 1000], a=[0, t - 1, t]).assign(label=["x", "y", "z"])
    out = apply_suppression(frame, SIMPLE, threshold=t, shown=["label", "n", "a", "rate"])
    expected = pd.DataFrame(
        {
            "label": ["x", "y", "z"],
            "n": [1000, 1000, 1000],  # nothing hidden: stays integer
            "a": [0.0, np.nan, float(t)],
            "rate": [0.0, np.nan, t / 1000],
            SUPPRESSED_COLUMN: pd.Series(["", "a;rate", ""], dtype=object),
        }
    )
    assert_frame_equal(out, expected)


def test_helper_columns_are_used_then_dropped():
    # `a` is a helper (not shown): its small value still hides the rate computed from it.
    frame = simple_frame(n=[50, 50], a=[3, 30])
    out = apply_suppression(frame, SIMPLE, threshold=11, shown=["n", "rate"])
    expected = pd.DataFrame(
        {
            "n": [50, 50],
            "rate": [np.nan, 0.6],
            SUPPRESSED_COLUMN: pd.Series(["rate", ""], dtype=object),
        }
    )
    assert_frame_equal(out, expected)


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_a_row_over_fewer_than_threshold_members_is_hidden_whole(threshold):
    t = threshold
    frame = simple_frame(n=[t - 1, t, 0, 0, 1, 2], a=[0, 0, 0, t + 3, t + 3, 1])
    hidden = hidden_cells(frame, SIMPLE, threshold=t)
    whole = {"n", "a", "rate"}
    # row 0: basis t-1 with nothing else is still hidden (the basis is a count of members);
    # row 1: basis t shown; row 2: an empty row (all 0) has nothing to hide;
    # row 3: a count over no member at all (claims in a month without eligibility);
    # row 4: a large count over one member; row 5: both small.
    expected = mask(frame, ["n", "a", "rate"], {0: whole, 3: whole, 4: whole, 5: whole})
    assert_frame_equal(hidden, expected)


ROW_0 = ["discharges", "followed_discharges", "average_los", "readmission_rate_30d"]
ROW_8 = [  # the followed behavioral discharges and the 30-day follow-ups, with every rate
    "followed_behavioral_discharges",
    "followups_30d",
    "followup_rate_7d",
    "followup_rate_30d",
    "peer_contact_rate_1d",
]


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (
            5,
            {
                0: ROW_0,
                1: ["readmissions_30d", "readmission_rate_30d"],
                3: MONTHLY_ALL,
                # 6: 7 ED visits are shown
                7: ["followups_7d", "followup_rate_7d"],
                # 8: 8 behavioral discharges and 6 follow-ups are shown; 9: 9 followed too
            },
        ),
        (
            11,
            {
                0: ROW_0,
                1: [
                    "admissions",
                    "admissions_per_1000_mm",
                    "readmissions_30d",
                    "readmission_rate_30d",
                ],
                2: MONTHLY_ALL,
                3: MONTHLY_ALL,
                6: ["ed_visits", "ed_visits_per_1000_mm"],
                7: ["followups_7d", "followup_rate_7d"],
                8: ROW_8,
                9: ["followed_discharges", "readmission_rate_30d"],
            },
        ),
        (
            20,
            {
                0: ["admissions", "admissions_per_1000_mm", *ROW_0],
                1: [
                    "admissions",
                    "admissions_per_1000_mm",
                    "discharges",
                    "average_los",
                    "followed_discharges",
                    "readmissions_30d",
                    "readmission_rate_30d",
                ],
                2: MONTHLY_ALL,
                3: MONTHLY_ALL,
                5: MONTHLY_ALL,
                6: ["ed_visits", "ed_visits_per_1000_mm"],
                7: ["followups_7d", "followups_30d", "followup_rate_7d", "followup_rate_30d"],
                8: ROW_8,
                9: ["followed_discharges", "readmission_rate_30d"],
            },
        ),
    ],
)
def test_monthly_rules_hide_derived_figures_with_their_counts(threshold, expected):
    frame = monthly_frame(
        [
            # 3 discharges, all followed: average_los and the readmission rate would give
            # them back; 12 admissions and 40 days (small at 20 only)
            month(100, 12, 3, 40, 0, 100_000, 50_000),
            # 5 admissions and 2 readmissions of 12 followed discharges (small at 20)
            month(100, 5, 12, 60, 2, 0, 0),
            # 10 member-months and USD 10 paid, no stay
            month(10, 0, 0, 0, 0, 1_000, 0),
            # no member-month but USD 80 paid: a figure over fewer than T members
            month(0, 0, 0, 0, 0, 8_000, 0),
            # nothing at all
            month(0, 0, 0, 0, 0, 0, 0),
            # exactly 11 of everything
            month(
                11,
                11,
                11,
                11,
                11,
                110_000,
                0,
                ed=11,
                behavioral_discharges=11,
                followups_7d=11,
                followups_30d=11,
                peer_contacts=11,
            ),
            # 7 ED visits: ED visits per 1,000 MM over 200 MM would give them back
            month(200, 0, 0, 0, 0, 300_000, 0, ed=7),
            # of 25 followed behavioral discharges, 3 followed up within 7 days (the 7-day
            # rate goes with them) and 12 within 30 (small at 20); no peer contact (0: shown)
            month(
                300,
                30,
                30,
                150,
                0,
                500_000,
                0,
                behavioral_discharges=25,
                followups_7d=3,
                followups_30d=12,
            ),
            # 8 followed behavioral discharges: the three rates over them go, the rates of 0
            # included; 6 followed up within 30 days
            month(300, 30, 30, 150, 0, 500_000, 0, behavioral_discharges=8, followups_30d=6),
            # 40 discharges, of which only 9 followed (late in the data): the readmission
            # rate over them goes, its 0 readmissions and the average LOS stay
            month(300, 40, 40, 200, 0, 500_000, 0, followed=9),
        ]
    )
    hidden = hidden_cells(frame, MONTHLY_RULES, threshold=threshold)
    assert_frame_equal(hidden, monthly_mask(frame, expected))


def test_linked_columns_are_hidden_together():
    frame = pd.DataFrame(
        {"n": [100, 100, 100], "t": [30, 0, 44], "x": [3, 0, 22], "y": [27, 0, 22]}
    )
    hidden = hidden_cells(frame, LINKED, threshold=11)
    assert_frame_equal(hidden, mask(frame, ["n", "x", "y", "t"], {0: {"t", "x", "y"}}))


def test_prepost_rules_hide_each_window_and_the_change_with_its_count():
    measures = ["share_with_admission", "admissions_per_enrollment", "paid_per_admission"]
    frame = pd.DataFrame(
        {
            "enrollments": [40, 40, 7],
            "pre_with_admission": [12, 3, 2],
            "pre_admissions": [20, 15, 2],
            "post_with_admission": [11, 11, 0],
            "post_admissions": [11, 11, 0],
        }
    )
    for window in ("pre", "post"):
        frame[f"{window}_share_with_admission"] = (
            frame[f"{window}_with_admission"] / frame["enrollments"]
        )
        frame[f"{window}_admissions_per_enrollment"] = (
            frame[f"{window}_admissions"] / frame["enrollments"]
        )
        frame[f"{window}_paid_per_admission"] = 1000.0
    for measure in measures:
        frame[f"change_{measure}"] = frame[f"post_{measure}"] - frame[f"pre_{measure}"]
        frame[f"pct_change_{measure}"] = frame[f"change_{measure}"] * 100 / frame[f"pre_{measure}"]
    shown = ["enrollments"] + [
        f"{part}_{m}" for m in measures for part in ("pre", "post", "change", "pct_change")
    ]
    out = apply_suppression(frame, PREPOST_RULES, threshold=11, shown=shown)
    # Row 0 shows everything. Row 1: 3 members with a pre admission hide the pre share and
    # its change. Row 2: 7 enrollments hide every figure, enrollments included.
    assert list(out[SUPPRESSED_COLUMN]) == [
        "",
        "pre_share_with_admission;change_share_with_admission;pct_change_share_with_admission",
        ";".join(shown),
    ]
    assert out.loc[1, "post_share_with_admission"] == 11 / 40
    assert out.loc[1, "pre_admissions_per_enrollment"] == 15 / 40
    assert np.isnan(out.loc[1, "pre_share_with_admission"])
    assert out.loc[2, shown].isna().all()
    assert disclosure_findings(out, PREPOST_SPEC, threshold=11) == []


def test_prepost_rules_hide_the_v2_measures_with_their_counts():
    measures = [
        "ed_visits_per_enrollment",
        "visits_per_enrollment",
        "visit_paid_per_enrollment",
        "inpatient_paid_per_enrollment",
    ]
    frame = pd.DataFrame(
        {
            "enrollments": [40, 40, 40],
            "pre_ed_visits": [4, 20, 20],
            "post_ed_visits": [12, 20, 20],
            "pre_visits": [30, 7, 30],
            "post_visits": [25, 30, 30],
            "pre_admissions": [15, 15, 12],
            "post_admissions": [11, 11, 2],
        }
    )
    for window in ("pre", "post"):
        frame[f"{window}_ed_visits_per_enrollment"] = frame[f"{window}_ed_visits"] / 40
        frame[f"{window}_visits_per_enrollment"] = frame[f"{window}_visits"] / 40
        # USD 100 a visit and USD 2,000 an admission
        frame[f"{window}_visit_paid_per_enrollment"] = frame[f"{window}_visits"] * 100 / 40
        frame[f"{window}_inpatient_paid_per_enrollment"] = frame[f"{window}_admissions"] * 50.0
    for measure in measures:
        frame[f"change_{measure}"] = frame[f"post_{measure}"] - frame[f"pre_{measure}"]
        frame[f"pct_change_{measure}"] = frame[f"change_{measure}"] * 100 / frame[f"pre_{measure}"]
    shown = ["enrollments"] + [
        f"{part}_{m}" for m in measures for part in ("pre", "post", "change", "pct_change")
    ]
    out = apply_suppression(frame, PREPOST_RULES, threshold=11, shown=shown)

    # Row 0: 4 pre-window ED visits hide their rate per enrollment and its changes. Row 1:
    # 7 pre-window visits hide the visits and their paid per enrollment (the paid is over
    # the same claims), with the changes. Row 2: 2 post-window admissions hide the inpatient
    # paid per enrollment and its changes. Nothing else: every other count is 11 or more.
    assert list(out[SUPPRESSED_COLUMN]) == [
        "pre_ed_visits_per_enrollment;change_ed_visits_per_enrollment;"
        "pct_change_ed_visits_per_enrollment",
        "pre_visits_per_enrollment;change_visits_per_enrollment;"
        "pct_change_visits_per_enrollment;pre_visit_paid_per_enrollment;"
        "change_visit_paid_per_enrollment;pct_change_visit_paid_per_enrollment",
        "post_inpatient_paid_per_enrollment;change_inpatient_paid_per_enrollment;"
        "pct_change_inpatient_paid_per_enrollment",
    ]
    assert out.loc[0, "post_ed_visits_per_enrollment"] == 12 / 40
    assert out.loc[1, "post_visit_paid_per_enrollment"] == 75.0
    assert out.loc[2, "pre_inpatient_paid_per_enrollment"] == 600.0
    assert np.isnan(out.loc[2, "change_inpatient_paid_per_enrollment"])
    assert disclosure_findings(out, PREPOST_SPEC, threshold=11) == []


# ---------------------------------------------------------------------------------------
# Complementary suppression


def test_the_smallest_non_zero_shown_part_is_hidden_with_a_lonely_cell():
    # total, then four parts: a = 3 (hidden), 0, 20, 15 -> the complement is the 15
    frame = simple_frame(n=[400, 100, 100, 100, 100], a=[38, 3, 0, 20, 15])
    margin = Margin(total=0, parts=(1, 2, 3, 4))
    hidden = hidden_cells(frame, SIMPLE, threshold=11, margins=[margin])
    assert_frame_equal(
        hidden, mask(frame, ["n", "a", "rate"], {1: {"a", "rate"}, 4: {"a", "rate"}})
    )
    out = apply_suppression(frame, SIMPLE, threshold=11, shown=["n", "a", "rate"], margins=[margin])
    expected = pd.DataFrame(
        {
            "n": [400, 100, 100, 100, 100],
            "a": [38.0, np.nan, 0.0, 20.0, np.nan],
            "rate": [0.095, np.nan, 0.0, 0.2, np.nan],
            SUPPRESSED_COLUMN: pd.Series(["", "a;rate", "", "", "a;rate"], dtype=object),
        }
    )
    assert_frame_equal(out, expected)
    assert disclosure_findings(out, SIMPLE_SPEC, threshold=11, margins=[margin]) == []


def test_with_only_zero_parts_left_the_total_is_hidden():
    # part 1 is hidden whole (5 members); the other parts' `a` are 0, so the total's `a`
    # goes; in `n` the smallest non-zero part (the first of two equal ones) goes.
    frame = simple_frame(n=[205, 5, 100, 100], a=[20, 20, 0, 0])
    margin = Margin(total=0, parts=(1, 2, 3))
    hidden = hidden_cells(frame, SIMPLE, threshold=11, margins=[margin])
    expected = mask(
        frame,
        ["n", "a", "rate"],
        {0: {"a", "rate"}, 1: {"n", "a", "rate"}, 2: {"n", "rate"}},
    )
    assert_frame_equal(hidden, expected)
    out = apply_suppression(frame, SIMPLE, threshold=11, shown=["n", "a", "rate"], margins=[margin])
    assert disclosure_findings(out, SIMPLE_SPEC, threshold=11, margins=[margin]) == []


def test_two_hidden_parts_need_no_complement():
    frame = simple_frame(n=[300, 100, 100, 100], a=[34, 3, 4, 27])
    margin = Margin(total=0, parts=(1, 2, 3))
    hidden = hidden_cells(frame, SIMPLE, threshold=11, margins=[margin])
    assert_frame_equal(
        hidden, mask(frame, ["n", "a", "rate"], {1: {"a", "rate"}, 2: {"a", "rate"}})
    )


def test_a_hidden_total_needs_no_complement():
    # the total's `a` (8) is small itself, so are the parts'; the total's row is shown in n
    frame = simple_frame(n=[300, 100, 100, 100], a=[8, 8, 0, 0])
    margin = Margin(total=0, parts=(1, 2, 3))
    hidden = hidden_cells(frame, SIMPLE, threshold=11, margins=[margin])
    assert_frame_equal(
        hidden, mask(frame, ["n", "a", "rate"], {0: {"a", "rate"}, 1: {"a", "rate"}})
    )


def test_complements_repeat_until_no_cell_is_alone():
    # A 2 x 2 table with its row, column and grand totals; the margins are listed so that the
    # second column's margin (k2) is looked at before its cell c12 becomes hidden, and its
    # lonely c12 is only seen on the second pass.
    #        c11=3   c12=40 | r1=43
    #        c21=50  c22=60 | r2=110
    #        k1=53   k2=100 | G=153
    frame = pd.DataFrame({"n": [100] * 9, "a": [3, 40, 50, 60, 43, 110, 53, 100, 153]})
    margins = [
        Margin(total=7, parts=(1, 3)),  # k2
        Margin(total=5, parts=(2, 3)),  # r2
        Margin(total=4, parts=(0, 1)),  # r1
        Margin(total=6, parts=(0, 2)),  # k1
        Margin(total=8, parts=(4, 5)),  # G
    ]
    hidden = hidden_cells(frame, ONE, threshold=11, margins=margins)
    assert_frame_equal(hidden, mask(frame, ["n", "a"], {0: {"a"}, 1: {"a"}, 2: {"a"}, 3: {"a"}}))
    out = apply_suppression(frame, ONE, threshold=11, shown=["n", "a"], margins=margins)
    assert (
        disclosure_findings(out, Spec(rules=ONE, counts=("a",)), threshold=11, margins=margins)
        == []
    )
    # Stopping after the first pass (c22 still shown) would give c12 = k2 - c22 back, then c11.
    first_pass = out.copy()
    first_pass.loc[3, "a"] = 60.0
    first_pass.loc[3, SUPPRESSED_COLUMN] = ""
    findings = disclosure_findings(
        first_pass, Spec(rules=ONE, counts=("a",)), threshold=11, margins=margins
    )
    assert {(f.kind, f.row, f.column, round(f.value, 6)) for f in findings} == {
        ("additive", 0, "a", 3.0),
        ("additive", 1, "a", 40.0),
        ("additive", 2, "a", 50.0),
        ("small_count", 0, "a", 3.0),
    }


def test_monthly_complements_spread_through_linked_money_and_rates():
    # One month, three parts and their total (row 3). Part 0 has 8 member-months: hidden
    # whole. In each additive column its lonely cell takes the smallest non-zero shown part:
    # part 2 in member_months (100 < 200), admissions (15), discharges (15), inpatient_days
    # (70), followed_discharges (15), followed_behavioral_discharges (12 < 20),
    # followups_30d (12 < 16), paid (500 < 10,000) and medical_paid (500 < 1,000);
    # part 1 in readmissions_30d, followups_7d and behavioral_paid (part 2's are 0) and in
    # ed_visits (18 < 60). In peer_contacts_1d every shown part is 0: the total goes. Then
    # the money of rows 1 and 2 goes together (linked) and every rate over a hidden cell
    # goes: in row 2 all of them (member-months, discharges, followed discharges and followed
    # behavioral discharges are hidden). A second pass finds no cell alone.
    frame = monthly_frame(
        [
            month(8, 0, 0, 0, 0, 5_000, 2_000, ed=3),
            month(
                200,
                30,
                30,
                150,
                12,
                900_000,
                100_000,
                ed=18,
                behavioral_discharges=20,
                followups_7d=14,
                followups_30d=16,
            ),
            month(
                100,
                15,
                15,
                70,
                0,
                0,
                50_000,
                ed=60,
                behavioral_discharges=12,
                followups_30d=12,
            ),
            month(
                308,
                45,
                45,
                220,
                12,
                905_000,
                152_000,
                ed=81,
                behavioral_discharges=32,
                followups_7d=14,
                followups_30d=28,
            ),
        ]
    )
    margin = Margin(total=3, parts=(0, 1, 2))
    hidden = hidden_cells(frame, MONTHLY_RULES, threshold=11, margins=[margin])
    money = ["paid", "behavioral_paid", "medical_paid"]
    money_rates = ["cost_pmpm", "behavioral_cost_pmpm", "medical_cost_pmpm"]
    expected = monthly_mask(
        frame,
        {
            0: MONTHLY_ALL,
            1: [
                "readmissions_30d",
                "ed_visits",
                "followups_7d",
                *money,
                "readmission_rate_30d",
                "ed_visits_per_1000_mm",
                "followup_rate_7d",
                *money_rates,
            ],
            2: [
                "member_months",
                "admissions",
                "discharges",
                "inpatient_days",
                "followed_discharges",
                "followed_behavioral_discharges",
                "followups_30d",
                *money,
                "admissions_per_1000_mm",
                "inpatient_days_per_1000_mm",
                "average_los",
                "readmission_rate_30d",
                "ed_visits_per_1000_mm",
                "followup_rate_7d",
                "followup_rate_30d",
                "peer_contact_rate_1d",
                *money_rates,
            ],
            3: ["peer_contacts_1d", "peer_contact_rate_1d"],
        },
    )
    assert_frame_equal(hidden, expected)
    out = apply_suppression(
        frame, MONTHLY_RULES, threshold=11, shown=MONTHLY_MEASURES, margins=[margin]
    )
    assert disclosure_findings(out, MONTHLY_SPEC, threshold=11, margins=[margin]) == []


def test_a_lonely_small_count_takes_the_smallest_part_in_its_own_column_only():
    # Part 0's 4 admissions, 4 discharges and 4 followed discharges take part 2's (15 < 30,
    # 14 < 30, 14 < 30); part 1's 5 ED visits take part 0's (30 < 40); part 1's 3 7-day
    # follow-ups take part 2's (12; part 0's is 0). Each hidden count takes its rates:
    # admissions per 1,000 MM, the average LOS, the readmission rate, ED visits per 1,000 MM,
    # the 7-day follow-up rate. No other column of those rows goes: not the member-months,
    # not the money.
    frame = monthly_frame(
        [
            month(50, 4, 4, 20, 0, 400_000, 0, ed=30),
            month(
                200,
                30,
                30,
                150,
                12,
                900_000,
                100_000,
                ed=5,
                behavioral_discharges=20,
                followups_7d=3,
                followups_30d=15,
                peer_contacts=11,
            ),
            month(
                100,
                15,
                14,
                70,
                0,
                0,
                50_000,
                ed=40,
                behavioral_discharges=12,
                followups_7d=12,
                followups_30d=12,
            ),
            month(
                350,
                49,
                48,
                240,
                12,
                1_300_000,
                150_000,
                ed=75,
                behavioral_discharges=32,
                followups_7d=15,
                followups_30d=27,
                peer_contacts=11,
            ),
        ]
    )
    margin = Margin(total=3, parts=(0, 1, 2))
    hidden = hidden_cells(frame, MONTHLY_RULES, threshold=11, margins=[margin])
    stays = [
        "admissions",
        "discharges",
        "followed_discharges",
        "admissions_per_1000_mm",
        "average_los",
        "readmission_rate_30d",
    ]
    ed = ["ed_visits", "ed_visits_per_1000_mm"]
    followups = ["followups_7d", "followup_rate_7d"]
    assert_frame_equal(
        hidden,
        monthly_mask(frame, {0: [*stays, *ed], 1: [*ed, *followups], 2: [*stays, *followups]}),
    )
    out = apply_suppression(
        frame, MONTHLY_RULES, threshold=11, shown=MONTHLY_MEASURES, margins=[margin]
    )
    assert disclosure_findings(out, MONTHLY_SPEC, threshold=11, margins=[margin]) == []


def test_a_margin_over_rows_not_in_the_frame_is_ignored():
    frame = simple_frame(n=[100, 100], a=[3, 30])
    hidden = hidden_cells(frame, SIMPLE, threshold=11, margins=[Margin(total=7, parts=(0, 1))])
    assert_frame_equal(hidden, mask(frame, ["n", "a", "rate"], {0: {"a", "rate"}}))


def test_unit_margins_find_each_total_and_its_parts_by_unit_and_name():
    # Rows out of order, a program under its model, a model under all programs.
    frame = pd.DataFrame(
        {
            "level": ["program", "all", "program_model", "all", "program_model", "program"],
            "program_model": ["embedded", None, "embedded", None, "embedded", "embedded"],
            "program_id": ["P1", None, None, None, None, "P1"],
            "measure": ["b", "a", "a", "b", "b", "a"],
        }
    )
    units = [["program_model|embedded", ["program|P1"]], ["all|", ["program_model|embedded"]]]
    assert unit_margins(frame, units, column="measure", names=["a", "b"]) == [
        Margin(total=2, parts=(5,)),
        Margin(total=4, parts=(0,)),
        Margin(total=1, parts=(2,)),
        Margin(total=3, parts=(4,)),
    ]


# ---------------------------------------------------------------------------------------
# Empty frames


def test_an_empty_frame_has_nothing_to_hide():
    frame = simple_frame(n=[], a=[])
    hidden = hidden_cells(frame, SIMPLE, threshold=11)
    assert_frame_equal(
        hidden,
        pd.DataFrame({c: pd.Series(dtype=bool) for c in ["n", "a", "rate"]}, index=frame.index),
    )
    out = apply_suppression(frame, SIMPLE, threshold=11, shown=["n", "a", "rate"])
    expected = frame[["n", "a", "rate"]].assign(**{SUPPRESSED_COLUMN: pd.Series(dtype=object)})
    assert_frame_equal(out, expected)
    assert list(out.columns) == ["n", "a", "rate", SUPPRESSED_COLUMN]
