"""OutcomeFilter's derived values: the program models whose programs a filter evaluates."""

from __future__ import annotations

import pytest

from data_access.filters import OutcomeFilter
from data_access.vocabulary import PROGRAM_MODELS


@pytest.mark.parametrize(
    ("program_models", "enrolled"),
    [
        (None, ("care_advocacy", "embedded", "hot_spotting", "whole_health")),
        (PROGRAM_MODELS, ("care_advocacy", "embedded", "hot_spotting", "whole_health")),
        (("not_enrolled",), ()),
        (("hot_spotting", "not_enrolled"), ("hot_spotting",)),
        (("whole_health", "embedded"), ("embedded", "whole_health")),
        ((), ()),
    ],
    ids=["default", "four models", "not enrolled only", "one and not enrolled", "two", "none"],
)
def test_enrolled_models_are_the_chosen_models_without_not_enrolled(
    program_models: tuple[str, ...] | None, enrolled: tuple[str, ...]
) -> None:
    given = {} if program_models is None else {"program_models": program_models}
    chosen = OutcomeFilter(**given)  # type: ignore[arg-type]
    assert chosen.enrolled_models == enrolled
