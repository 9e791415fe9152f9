"""Issue #12: "Change from the year before, by state" on the Trends page, in AppTest over a
small hand-built database with known answers, on SQLite and PostgreSQL.

Three states, each with one hot-spotting program and 12 members enrolled from January 2022,
every member eligible from 2022 to 2024 and in hospital once a year in March, each state's
stays of one length in a year (so its average length of stay is that length):

    state  2022            2023            2024
    TX     12 stays of 4   12 stays of 6   none
    NY     12 stays of 5   12 stays of 4   5 stays of 2
    CA     12 stays of 3   12 stays of 6   none
    WA     (whole health, not hot spotting) 12 stays of 7 in 2022 and 2023

The data run to 2024-12-31, so with 3 run-out months the last complete month is 2024-09 and
the last complete year 2023 (2024 is loaded but provisional). A state partner granted TX and
NY sees TX and NY only; NY's 2023 is hidden from them by the differencing rule (2023 and
2023-2024 differ by NY's 5 stays of 2024), so NY is not ranked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import Engine, insert

from dashboard.filters import last_complete_year
from dashboard.sections import year_change
from data_access import access
from data_access.models import (
    Admission,
    Eligibility,
    Enrollment,
    LoadRun,
    Member,
    Program,
    Service,
    State,
)
from data_access.settings import get_settings
from data_access.suppression import SUPPRESSED_COLUMN
from tests.app_helpers import TIMEOUT, open_page, texts
from tests.signed_in import keep_downloads, open_as
from tests.worlds import build, d

PARTNER = "txny.partner@example.org"
MEMBERS = 12
# state -> (program model, {year: (stays, length in days)})
STAYS: dict[str, tuple[str, dict[int, tuple[int, int]]]] = {
    "TX": ("hot_spotting", {2022: (12, 4), 2023: (12, 6)}),
    "NY": ("hot_spotting", {2022: (12, 5), 2023: (12, 4), 2024: (5, 2)}),
    "CA": ("hot_spotting", {2022: (12, 3), 2023: (12, 6)}),
    "WA": ("whole_health", {2022: (12, 7), 2023: (12, 7)}),
}
NAMES = {"TX": "Texas", "NY": "New York", "CA": "California", "WA": "Washington"}


def _world() -> dict[type, list[dict[str, Any]]]:
    world: dict[type, list[dict[str, Any]]] = {
        State: [{"state_code": c, "state_name": n} for c, n in NAMES.items()],
        Program: [],
        Member: [],
        Eligibility: [],
        Enrollment: [],
        Admission: [],
        Service: [],
    }
    for state, (model, stays) in STAYS.items():
        world[Program].append(
            {
                "program_id": f"P{state}",
                "state_code": state,
                "program_model": model,
                "program_name": f"{NAMES[state]} program",
                "launched_on": d("2021-01-01"),
            }
        )
        for i in range(MEMBERS):
            member = f"{state}{i:02d}"
            world[Member].append(
                {
                    "member_id": member,
                    "state_code": state,
                    "birth_year": 1980,
                    "primary_condition": "mental_health",
                }
            )
            world[Eligibility].append(
                {"member_id": member, "start_date": d("2022-01-01"), "end_date": d("2024-12-31")}
            )
            world[Enrollment].append(
                {
                    "enrollment_id": f"E{member}",
                    "member_id": member,
                    "program_id": f"P{state}",
                    "coaching_role": "peer_coach",
                    "enrolled_on": d("2022-01-01"),
                    "ended_on": None,
                }
            )
            for year, (count, length) in stays.items():
                if i < count:
                    world[Admission].append(
                        {
                            "admission_id": f"S{member}{year}",
                            "member_id": member,
                            "setting": "behavioral",
                            "admit_date": d(f"{year}-03-01"),
                            "discharge_date": d(f"{year}-03-{1 + length:02d}"),
                            "paid_amount_cents": 100000,
                        }
                    )
    # The data-through date: the last claim.
    world[Service].append(
        {
            "claim_id": "C1",
            "member_id": "TX00",
            "service_date": d("2024-12-31"),
            "category": "outpatient",
            "behavioral": True,
            "visits": 1,
            "paid_amount_cents": 1000,
        }
    )
    return world


@pytest.fixture
def year_world(configured: str, engine: Engine) -> Iterator[Engine]:
    """The world above in a fresh database the app reads; fresh caches."""
    build(engine, _world())
    with engine.begin() as conn:  # the app shows figures once a load is recorded
        conn.execute(
            insert(LoadRun),
            {
                "loaded_at": dt.datetime(2025, 1, 2, tzinfo=dt.UTC),
                "source": "tests/test_year_change.py",
                "rows_loaded": "{}",
                "data_through": d("2024-12-31"),
            },
        )
    access.grant(
        email=PARTNER,
        role="state_partner",
        states=["TX", "NY"],
        granted_by="test",
        engine=engine,
    )
    st.cache_data.clear()
    assert get_settings().small_cell_threshold == 11
    assert get_settings().runout_months == 3
    yield engine
    st.cache_data.clear()


def _choose(at: Any, measure: str, model: str) -> pd.DataFrame:
    at.button_group(key="trends_change_measure").set_value(measure).run(timeout=TIMEOUT)
    at.button_group(key="trends_change_model").set_value(model).run(timeout=TIMEOUT)
    assert not at.exception, texts(at.exception)
    assert not at.error, texts(at.error)
    [table] = at.table
    return table.value.reset_index(drop=True)


def _frame(rows: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["Rank", "State", "2022", "2023", "Change"])


def test_leadership_sees_every_state_ranked_by_the_rise_in_the_last_complete_year(
    year_world: Engine,
) -> None:
    at = open_page("trends")
    shown = _choose(at, "average_los", "hot_spotting")
    expected = _frame(
        [
            ["1", "CA · California", "3.00", "6.00", "+3.00"],
            ["2", "TX · Texas", "4.00", "6.00", "+2.00"],
            ["3", "NY · New York", "5.00", "4.00", "-1.00"],
        ]
    )
    pd.testing.assert_frame_equal(shown, expected)
    assert "Average length of stay, Hot spotting: 2023 against 2022, by state" in texts(at.markdown)
    # All selected models: WA's whole-health stays join, with no change.
    shown = _choose(at, "average_los", "all")
    assert list(shown["State"]) == [
        "CA · California",
        "TX · Texas",
        "WA · Washington",
        "NY · New York",
    ]
    assert list(shown["Change"]) == ["+3.00", "+2.00", "0.00", "-1.00"]
    assert list(shown["Rank"]) == ["1", "2", "3", "4"]


def test_a_partner_sees_their_states_only_and_a_hidden_value_is_not_ranked(
    year_world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # open_as reads the landing page's downloads: keep them (without, a manager left over
    # from an earlier test is asked for this run's files).
    keep_downloads(monkeypatch)
    at, _ = open_as(PARTNER, "trends")
    assert not at.exception, texts(at.exception)
    shown = _choose(at, "average_los", "hot_spotting")
    expected = _frame(
        [
            ["1", "TX · Texas", "4.00", "6.00", "+2.00"],
            ["not ranked", "NY · New York", "5.00", "fewer than 11", "n/a"],
        ]
    )
    pd.testing.assert_frame_equal(shown, expected)


def test_year_change_ranks_by_the_change_and_leaves_hidden_values_unranked() -> None:
    frame = pd.DataFrame(
        {
            "year": ["2022", "2022", "2022", "2023", "2023", "2023", "2023"],
            "state_code": ["AA", "BB", "CC", "AA", "BB", "CC", "DD"],
            "average_los": [4.0, 5.0, None, 5.0, 6.0, 3.0, 2.0],
            SUPPRESSED_COLUMN: ["", "", "discharges;average_los", "", "", "", ""],
        }
    )
    expected = pd.DataFrame(
        {
            "state_code": ["AA", "BB", "CC", "DD"],
            "before": [4.0, 5.0, float("nan"), float("nan")],
            "after": [5.0, 6.0, 3.0, 2.0],
            "change": [1.0, 1.0, float("nan"), float("nan")],
            "before_hidden": [False, False, True, False],
            "after_hidden": [False, False, False, False],
            "rank": [1.0, 1.0, float("nan"), float("nan")],
        }
    )
    pd.testing.assert_frame_equal(year_change(frame, "average_los", 2023), expected)


@pytest.mark.parametrize(
    ("bounds", "last_complete", "year"),
    [
        (("2015-01", "2025-12"), "2025-09", 2024),  # the sample: 2025's last months provisional
        (("2015-01", "2025-12"), "2025-12", 2025),
        (("2015-01", "2025-11"), None, 2024),  # December not loaded
        (("2024-02", "2025-12"), "2025-12", None),  # 2024 not whole: nothing to compare
        (("2023-01", "2024-12"), "2024-12", 2024),
    ],
)
def test_the_last_complete_year_has_all_its_months_and_a_whole_year_before(
    bounds: tuple[str, str], last_complete: str | None, year: int | None
) -> None:
    assert last_complete_year(bounds, last_complete) == year
