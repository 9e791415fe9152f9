"""The benchmark report's wording of a journey's phases."""

from __future__ import annotations

import pytest

from benchmarks.report import _floor_journey, _phases, browser_target_rows


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
