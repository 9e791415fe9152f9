"""The sidebar's options (dashboard/filters.Options): the programs offered for a choice of
states and models, in order, and one options object for every run of the same lists."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from dashboard import filters, memo

PROGRAMS = pd.DataFrame(
    {
        "program_id": ["TX-2", "KS-1", "TX-1", "TX-3", "AZ-1"],
        "program_name": ["Bridges", "Harbor", "Anchor", "Bridges East", "Compass"],
        "state_code": ["TX", "KS", "TX", "TX", "AZ"],
        "program_model": ["embedded", "whole_health", "embedded", "hot_spotting", "embedded"],
    }
)
STATES = pd.DataFrame({"state_code": ["AZ", "KS", "TX"], "state_name": ["A", "K", "T"]})


@pytest.mark.parametrize(
    ("states", "models", "expected"),
    [
        (["TX"], ["embedded"], ["TX-1", "TX-2"]),
        (["TX", "AZ"], ["embedded"], ["AZ-1", "TX-1", "TX-2"]),
        (["TX"], ["embedded", "hot_spotting"], ["TX-1", "TX-2", "TX-3"]),
        (["KS", "TX"], ["whole_health", "hot_spotting"], ["KS-1", "TX-3"]),
        (["TX"], ["care_advocacy"], []),
        ([], ["embedded"], []),
    ],
)
def test_the_programs_of_the_chosen_states_and_models_by_state_then_name(
    states: list[str], models: list[str], expected: list[str]
) -> None:
    options = filters.Options(states={}, programs=PROGRAMS, months=[])
    assert options.programs_within(states, models) == expected
    assert options.programs_within(iter(states), iter(models)) == expected  # any iterable


def test_the_same_lists_give_the_same_options_object() -> None:
    memo.clear()
    first = filters._options(
        STATES, PROGRAMS, ("2024-01", "2024-03"), "2024-02", granted_only=False
    )
    again = filters._options(
        pickle.loads(pickle.dumps(STATES)),  # as the cache hands the lists to the next run
        pickle.loads(pickle.dumps(PROGRAMS)),
        ("2024-01", "2024-03"),
        "2024-02",
        granted_only=False,
    )
    partner = filters._options(
        STATES, PROGRAMS, ("2024-01", "2024-03"), "2024-02", granted_only=True
    )
    assert again is first
    assert partner is not first and partner.granted_only
    assert first.states == {"AZ": "A", "KS": "K", "TX": "T"}
    assert first.months == ["2024-01", "2024-02", "2024-03"]
    memo.clear()
