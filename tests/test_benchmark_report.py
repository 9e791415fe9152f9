"""The benchmark report's wording of a journey's phases."""

from __future__ import annotations

import pytest

from benchmarks.report import _phases


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
