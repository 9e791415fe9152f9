"""Every definition of the data contract on a hand-built database, on SQLite and PostgreSQL.

The expected rows below were worked out by hand from tests/worlds.py (see its comments), not
read back from the code.
"""

from __future__ import annotations

import pandas as pd
import pytest

from data_access.access import LOCAL_VIEWER
from data_access.exports import MONTHLY_COLUMNS, PREPOST_COLUMNS, export_frame, to_csv_text
from data_access.filters import OutcomeFilter
from data_access.queries import enrolled_members, outcome_summary, previous_period
from tests.worlds import DEFINITIONS_WORLD, build

MONTHLY_HEADER = ",".join(MONTHLY_COLUMNS)
PREPOST_HEADER = ",".join(PREPOST_COLUMNS)

# Data through 2021-01-15 (claim C3): discharges to 2020-12-16 are followed, and with three
# run-out months 2020-11 onwards is provisional.
# Member A and B in Texas, to February 2021: adjacent/overlapping spans (one month each),
# a same-day stay (LOS 1), readmissions at 30 days (flagged), 31 and 0 days (not), a
# medical stay that readmits two behavioral ones all-cause but not same-setting, an admission
# grouped with the later
# enrollment while its month's member-month is with the earlier one, a still-open stay
# (an admission, not a discharge), and a claim in a month without eligibility (0 MM:
# per-MM rates empty).
TEXAS_MONTHLY = """\
2020-01,TX,not_enrolled,2,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,false
2020-02,TX,not_enrolled,1,0,0,0,0,0,0,0,0,0,0,100.10,100.10,0.00,0.0000,0.0000,,,0.0000,,,,100.1000,false
2020-03,TX,not_enrolled,1,1,1,5,1,1,0,1,0,0,0,1000.00,1000.00,0.00,1000.0000,5000.0000,5.0000,1.0000,0.0000,0.0000,0.0000,0.0000,1000.0000,false
2020-04,TX,not_enrolled,1,1,1,1,1,0,0,1,0,0,0,500.50,500.50,0.00,1000.0000,1000.0000,1.0000,0.0000,0.0000,0.0000,0.0000,0.0000,500.5000,false
2020-05,TX,not_enrolled,1,3,3,9,3,2,0,2,0,0,0,3050.25,2300.00,750.25,3000.0000,9000.0000,3.0000,0.6667,0.0000,0.0000,0.0000,0.0000,3050.2500,false
2020-06,TX,not_enrolled,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,false
2020-07,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,50.05,0.00,50.05,0.0000,0.0000,,,0.0000,,,,50.0500,false
2020-08,TX,hot_spotting,0,1,1,5,1,1,0,1,0,0,0,1200.00,1200.00,0.00,,,5.0000,1.0000,,0.0000,0.0000,0.0000,,false
2020-08,TX,whole_health,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,false
2020-09,TX,hot_spotting,1,1,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,1000.0000,0.0000,,,0.0000,,,,0.0000,false
2020-10,TX,hot_spotting,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,false
2020-11,TX,hot_spotting,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2020-12,TX,hot_spotting,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2021-01,TX,hot_spotting,0,0,0,0,0,0,0,0,0,0,0,80.00,80.00,0.00,,,,,,,,,,true
2021-02,TX,hot_spotting,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
"""

# Member C in New York: the tie on enrolled_on goes to enrollment "E10" (smaller as text
# than "E3"), so July and August 2020 are care_advocacy. CS1 (discharged 2020-07-05) is
# readmitted all-cause by the open medical stay of 2020-08-01 (27 days), not same-setting;
# no claim follows it within 30 days. The emergency claim C7 is one ED visit in December.
NEW_YORK_MONTHLY = """\
2020-05,NY,not_enrolled,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,false
2020-06,NY,not_enrolled,1,1,1,10,1,1,0,1,0,0,0,4200.00,4200.00,0.00,1000.0000,10000.0000,10.0000,1.0000,0.0000,0.0000,0.0000,0.0000,4200.0000,false
2020-07,NY,care_advocacy,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,false
2020-08,NY,care_advocacy,1,1,0,0,0,0,0,0,0,0,0,100.00,0.00,100.00,1000.0000,0.0000,,,0.0000,,,,100.0000,false
2020-09,NY,not_enrolled,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,false
2020-10,NY,not_enrolled,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,false
2020-11,NY,not_enrolled,1,0,0,0,0,0,0,0,0,0,0,0.00,0.00,0.00,0.0000,0.0000,,,0.0000,,,,0.0000,true
2020-12,NY,not_enrolled,1,0,0,0,0,0,1,0,0,0,0,15.00,5.00,10.00,0.0000,0.0000,,,1000.0000,,,,15.0000,true
"""

# P3 and P4 both hold member C's enrollments of 2020-07-01: pre window 2019-12-31..2020-06-30
# (a behavioral stay of 10 days admitted 2020-06-25, discharged after the window, USD 4,000;
# a behavioral claim of USD 200 on the window's last day; the claim of 2019-12-30 is
# outside), post window 2020-07-01..2020-12-30 (a medical stay still open, USD 100; a
# medical claim of USD 10 on the last day; the claim of 2020-12-31 is outside). No window
# holds an ED or other visit; inpatient paid is the stays' paid by admit_date (USD 4,000
# before, the open medical stay's USD 100 after).
# Member A's enrollments are not analysable: E1 lacks eligibility in the pre window, E2's
# post window ends after the data-through date (2021-01-15).
NY_PREPOST_BY_SETTING = {
    "all": "1,1.0000,1.0000,0.0000,0.0000,1.0000,1.0000,0.0000,0.0000,"
    "10.0000,0.0000,-10.0000,-100.0000,10.0000,,,,"
    "4200.0000,0.0000,-4200.0000,-100.0000,0.0000,110.0000,110.0000,,"
    "4200.0000,110.0000,-4090.0000,-97.3810,4000.0000,100.0000,-3900.0000,-97.5000,"
    "0.0000,0.0000,0.0000,,0.0000,0.0000,0.0000,,0.0000,0.0000,0.0000,,"
    "4000.0000,100.0000,-3900.0000,-97.5000",
    "behavioral": "1,1.0000,0.0000,-1.0000,-100.0000,1.0000,0.0000,-1.0000,-100.0000,"
    "10.0000,0.0000,-10.0000,-100.0000,10.0000,,,,"
    "4200.0000,0.0000,-4200.0000,-100.0000,0.0000,110.0000,110.0000,,"
    "4200.0000,110.0000,-4090.0000,-97.3810,4000.0000,,,,"
    "0.0000,0.0000,0.0000,,0.0000,0.0000,0.0000,,0.0000,0.0000,0.0000,,"
    "4000.0000,0.0000,-4000.0000,-100.0000",
    "medical": "1,0.0000,1.0000,1.0000,,0.0000,1.0000,1.0000,,0.0000,0.0000,0.0000,,,,,,"
    "4200.0000,0.0000,-4200.0000,-100.0000,0.0000,110.0000,110.0000,,"
    "4200.0000,110.0000,-4090.0000,-97.3810,,100.0000,,,"
    "0.0000,0.0000,0.0000,,0.0000,0.0000,0.0000,,0.0000,0.0000,0.0000,,"
    "0.0000,100.0000,100.0000,",
}
NO_ANALYSABLE_ENROLLMENTS = "0" + "," * 48


@pytest.fixture
def world(engine):
    build(engine, DEFINITIONS_WORLD)
    return engine


def _lines(text: str) -> list[str]:
    return text.strip().splitlines()


def test_monthly_rows_follow_every_definition(world):
    texas = export_frame(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        dataset="monthly",
        filters=OutcomeFilter(states=("TX",), month_to="2021-02"),
        engine=world,
    )
    new_york = export_frame(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        dataset="monthly",
        filters=OutcomeFilter(states=("NY",), month_from="2020-05", month_to="2020-12"),
        engine=world,
    )
    assert _lines(to_csv_text(texas)) == [MONTHLY_HEADER, *_lines(TEXAS_MONTHLY)]
    assert _lines(to_csv_text(new_york)) == [MONTHLY_HEADER, *_lines(NEW_YORK_MONTHLY)]


@pytest.mark.parametrize("setting", ["all", "behavioral", "medical"])
def test_prepost_rows_follow_every_definition(world, setting):
    frame = export_frame(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        dataset="prepost",
        filters=OutcomeFilter(setting=setting),
        engine=world,
    )
    programs = {
        "P3": f"P3,Transition coaching,NY,embedded,{setting},",
        "P4": f"P4,Care advocacy,NY,care_advocacy,{setting},",
        "P1": f"P1,Whole health,TX,whole_health,{setting},",
        "P2": f"P2,Hot spotting,TX,hot_spotting,{setting},",
    }
    assert _lines(to_csv_text(frame)) == [
        PREPOST_HEADER,
        programs["P3"] + NY_PREPOST_BY_SETTING[setting],
        programs["P4"] + NY_PREPOST_BY_SETTING[setting],
        programs["P1"] + NO_ANALYSABLE_ENROLLMENTS,
        programs["P2"] + NO_ANALYSABLE_ENROLLMENTS,
    ]


def test_setting_limits_admission_measures_but_not_paid(world):
    medical = outcome_summary(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(
            states=("TX",), month_from="2020-05", month_to="2020-05", setting="medical"
        ),
        period="month",
        by=("program_model",),
        engine=world,
    )
    row = medical.iloc[0]
    assert (row["admissions"], row["discharges"], row["inpatient_days"]) == (1, 1, 2)
    assert (row["paid"], row["behavioral_paid"], row["medical_paid"]) == (3050.25, 2300.0, 750.25)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # programs restrict the enrolled rows and leave not_enrolled as it is
        (
            OutcomeFilter(states=("TX",), program_ids=("P1",)),
            {"not_enrolled": 7, "whole_health": 2},
        ),
        (OutcomeFilter(states=("TX",), program_ids=()), {"not_enrolled": 7}),
        (OutcomeFilter(states=("TX",), program_models=("hot_spotting",)), {"hot_spotting": 15}),
        (OutcomeFilter(conditions=("substance_use",)), {"not_enrolled": 1}),
        (
            OutcomeFilter(states=("NY",), month_from="2020-07", month_to="2020-08"),
            {"care_advocacy": 2},
        ),
        (OutcomeFilter(states=()), {}),
    ],
)
def test_filters_restrict_member_months(world, filters, expected):
    frame = outcome_summary(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=filters,
        period=None,
        by=("program_model",),
        engine=world,
    )
    assert dict(zip(frame["program_model"], frame["member_months"], strict=True)) == expected


def test_month_range_restricts_prepost_to_enrollments_that_start_in_it(world):
    frame = export_frame(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        dataset="prepost",
        filters=OutcomeFilter(states=("NY",), month_from="2020-08"),
        engine=world,
    )
    assert frame["enrollments"].tolist() == [0, 0]
    assert frame["pre_share_with_admission"].isna().all()


def test_population_splits_enrolled_from_comparison(world):
    frame = outcome_summary(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(states=("TX",)),
        period="year",
        by=("population",),
        engine=world,
    )
    expected = pd.DataFrame(
        {
            "year": ["2020", "2020", "2021", "2021"],
            "population": ["enrolled", "not_enrolled", "enrolled", "not_enrolled"],
            "member_months": [6, 7, 11, 0],
        }
    )
    # 2021 has no not_enrolled rows in Texas at all
    expected = expected[expected["member_months"] > 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        frame[["year", "population", "member_months"]], expected, check_dtype=False
    )


@pytest.mark.parametrize(
    ("filters", "members"),
    [
        (OutcomeFilter(), 2),
        (OutcomeFilter(states=("NY",)), 1),
        (OutcomeFilter(month_from="2021-03", month_to="2021-03"), 1),  # only A's open enrollment
        (OutcomeFilter(month_from="2019-01", month_to="2020-06"), 0),
        (OutcomeFilter(program_models=("not_enrolled",)), 0),
    ],
)
def test_enrolled_members(world, filters, members):
    assert (
        enrolled_members(viewer=LOCAL_VIEWER, small_cells="show", filters=filters, engine=world)
        == members
    )


def test_previous_period_has_the_same_length(world):
    current = OutcomeFilter(month_from="2020-07", month_to="2020-12")
    previous = previous_period(current, viewer=LOCAL_VIEWER, engine=world)
    assert previous is not None
    assert (previous.month_from, previous.month_to) == ("2020-01", "2020-06")
    assert (
        previous_period(OutcomeFilter(month_from="2019-01"), viewer=LOCAL_VIEWER, engine=world)
        is None
    )


def test_rebuilding_twice_gives_the_same_summaries(world):
    from data_access.summaries import rebuild_summaries

    before = export_frame(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        dataset="monthly",
        filters=OutcomeFilter(),
        engine=world,
    )
    with world.begin() as conn:
        rebuild_summaries(conn)
    after = export_frame(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        dataset="monthly",
        filters=OutcomeFilter(),
        engine=world,
    )
    pd.testing.assert_frame_equal(before, after)
