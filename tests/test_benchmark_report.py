"""The benchmark report's wording of a journey's phases."""

from __future__ import annotations

import pytest

from benchmarks.report import _floor_journey, _ok, _phases, browser_target_rows, targets


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        (None, ""),
        ({}, ""),
        (
            {"sign-in page drawn": 1.94, "signed-in page drawn": 6.08, "file saved": 6.2},
            "; s from the link at each phase's end: sign-in page drawn 1.9, "
            "signed-in page drawn 6.1, file saved 6.2",
        ),
    ],
)
def test_phases_in_the_order_they_ended(phases: dict[str, float] | None, expected: str) -> None:
    assert _phases(phases) == expected


@pytest.mark.parametrize(
    ("floor", "expected"),
    [
        (None, ""),
        (
            {"seconds": 5.64, "phases": {"sign-in page drawn": 2.1, "file saved": 5.64}},
            "; the floor app's same journey: 5.6 s, over the target without any of the "
            "dashboard's work (sign-in page drawn 2.1, file saved 5.6)",
        ),
        ({"seconds": 4.2}, "; the floor app's same journey: 4.2 s, within the target"),
    ],
)
def test_the_floor_apps_journey_against_the_target(
    floor: dict[str, object] | None, expected: str
) -> None:
    assert _floor_journey(floor, 5.0) == expected


def _runs(*seconds: float) -> list[dict[str, float]]:
    return [{"seconds": s} for s in seconds]


def test_browser_targets_judge_each_figure_against_its_floor() -> None:
    result = {
        "size": "large",
        "engine": "sqlite",
        "load": {},
        "cold_starts": {
            "first_visit": [4.0, 4.4, 4.2],
            "first_visit_floor": [3.0, 3.0, 3.0],
            "new_session": [4.0],
            "new_session_floor": [3.0],
        },
        "browser": {
            "page_switch": {
                "real": {"Trends": _runs(0.30, 0.36, 0.33), "Impact": _runs(0.2)},
                "floor": {"Trends": _runs(0.3), "Impact": _runs(0.2)},
            }
        },
        "journeys": {
            "partner": {"clicks": 3, "seconds": 6.2, "phases": {"file saved": 6.2}},
            "partner_floor": {"clicks": 3, "seconds": 5.3, "phases": {"file saved": 5.3}},
            "leadership": {"clicks": 3, "seconds": 4.4},
            "analyst": {"clicks": 2, "load_seconds": 142.9, "shown_after_load_seconds": 2.1},
        },
    }
    rows = browser_target_rows([result], "large", ["sqlite"])
    assert [row[:3] for row in rows] == [
        ["First visit ≤ 1.5x floor, SQLite", "1.40x (4,200 ms vs floor 3,000 ms)", "met"],
        [
            "New session, new filter ≤ 1.3x floor, SQLite",
            "1.33x (4,000 ms vs floor 3,000 ms)",
            "**missed** by 0.03x",
        ],
        [
            "Page switch, warm, ≤ 1.2x floor, SQLite",
            "worst 1.10x: Trends; over the target on 0 of 2",
            "met",
        ],
        ["Journey 1, partner: ≤ 3 clicks, ≤ 5 s, SQLite", "3 clicks, 6.2 s", "**missed** by 1.2 s"],
        ["Journey 2, leadership: ≤ 4 clicks, ≤ 6 s, SQLite", "3 clicks, 4.4 s", "met"],
        ["Journey 3, analyst: load + ≤ 5 s, SQLite", "load 142.9 s + 2.1 s", "met"],
    ]
    # A missed figure says why; a met one says nothing.
    assert [bool(row[3]) for row in rows] == [False, True, False, True, False, False]
    assert rows[3][3].endswith(
        "file saved 6.2; the floor app's same journey: 5.3 s, over the target without any of "
        "the dashboard's work (file saved 5.3); README finding 12"
    )


def test_a_missed_leadership_journey_quotes_its_phases_and_the_floors_same_journey() -> None:
    journeys = {
        "leadership": {
            "clicks": 3,
            "seconds": 7.1,
            "phases": {"Overview drawn": 5.2, "model picked": 7.1},
        },
        "leadership_floor": {
            "clicks": 3,
            "seconds": 6.4,
            "phases": {"Overview drawn": 4.9, "model picked": 6.4},
        },
    }
    rows = browser_target_rows(
        [{"size": "large", "engine": "sqlite", "load": {}, "journeys": journeys}],
        "large",
        ["sqlite"],
    )
    assert rows == [
        [
            "Journey 2, leadership: ≤ 4 clicks, ≤ 6 s, SQLite",
            "3 clicks, 7.1 s",
            "**missed** by 1.1 s",
            "a cold link's Streamlit page load (about the floor's first visit), then a page "
            "switch and two reruns; s from the link at each phase's end: Overview drawn 5.2, "
            "model picked 7.1; the floor app's same journey: 6.4 s, over the target without any "
            "of the dashboard's work (Overview drawn 4.9, model picked 6.4); README finding 22",
        ]
    ]


def _page_data(cold: list[float], calls: dict[str, float]) -> dict[str, object]:
    return {"data_cold": cold, "data_cold_by_call": calls, "figures": [], "problems": []}


def test_a_new_filters_miss_names_the_data_it_reads_for_two_states() -> None:
    """Two states are no scope the load stores: the report says so of the slowest read, and
    the filter change's row quotes that page's data for two states beside its gap."""
    variants = ["all", "TX + embedded", "AK + AZ"]
    result = {
        "size": "large",
        "engine": "sqlite",
        "load": {
            "runs": [{"seconds": 200.0, "rows": {"services": 9_000_000}, "phases": {"x": 1.0}}]
        },
        "pages": {
            "variants": variants,
            "pages": {
                "Impact": {
                    "all": _page_data([0.05], {"impact(all)": 0.02}),
                    "TX + embedded": _page_data([0.04], {"impact(TX)": 0.01}),
                    "AK + AZ": _page_data(
                        [0.19, 0.2, 0.21], {"impact_by_unit(AK+AZ)": 0.12, "shell()": 0.02}
                    ),
                }
            },
        },
        "browser": {
            "peak_rss_kb": 300_000,
            "pages": {
                "Impact": {
                    "uncached": [{"seconds": 0.44, "script_seconds": 0.40}],
                    "cached": [{"seconds": 0.25}],
                    "floor": [{"seconds": 0.2}],
                    "floor_remove": [{"seconds": 0.2}],
                }
            },
        },
    }
    rows = {
        row.split(" | ")[0].lstrip("| "): row.split(" | ")[1:]
        for row in targets({}, _ok([result]), ["large"], ["sqlite"], ["Impact"], variants)
        if row.startswith("| ") and " | " in row
    }
    measured, status, why = rows["Page data cold ≤ 150 ms, SQLite"]
    assert (measured, status) == ("worst 200 ms: Impact (two states)", "**missed** by 50.0 ms")
    assert why.startswith(
        "slowest call `impact_by_unit(AK+AZ)` 120 ms (a set of states no load stores: the "
        "matched comparison's effects and balance are computed from the member-level rows of "
        "those states)"
    )
    measured, status, _ = rows["Filter change ≤ 1.3x floor, SQLite"]
    assert measured == (
        "worst 2.20x: Impact (440 ms vs floor 200 ms; script part 400 ms; 190 ms more than its "
        "change back, its data for two states 200 ms cold)"
    )
    assert status == "**missed** by 0.90x"
