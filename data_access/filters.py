"""The one filter object shared by pages, downloads and the command line."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from data_access.vocabulary import (
    MONTH_PATTERN,
    NOT_ENROLLED,
    PROGRAM_GROUPS,
    Condition,
    ProgramGroup,
    ProgramModel,
    Setting,
    bad_state_codes,
)


class OutcomeFilter(BaseModel):
    """What a view, a download or an export is restricted to.

    `None` means "no restriction"; an empty tuple of states, models or conditions selects
    nothing (the pages show an empty state for it). Programs restrict only the enrolled rows,
    so an empty tuple of programs leaves the `not_enrolled` rows. Tuples are sorted and
    de-duplicated so equal filters hash equal, which is what the dashboard's cache keys on.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    states: tuple[str, ...] | None = None
    program_models: tuple[ProgramGroup, ...] = Field(default=PROGRAM_GROUPS, validate_default=True)
    program_ids: tuple[str, ...] | None = None
    conditions: tuple[Condition, ...] | None = None
    month_from: str | None = Field(default=None, description="First month, YYYY-MM, inclusive.")
    month_to: str | None = Field(default=None, description="Last month, YYYY-MM, inclusive.")
    setting: Setting = "all"

    @field_validator("states", "program_ids", "program_models", "conditions", mode="before")
    @classmethod
    def _sorted_unique(cls, values: object) -> object:
        if values is None or isinstance(values, str):
            return values
        return tuple(sorted(set(values)))  # type: ignore[call-overload]

    @field_validator("states", mode="after")
    @classmethod
    def _state_codes(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if values is None:
            return None
        bad = bad_state_codes(values)
        if bad:
            raise ValueError(f"state codes are two capital letters; got {', '.join(bad)}")
        return values

    @field_validator("month_from", "month_to")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        if value is not None and not MONTH_PATTERN.match(value):
            raise ValueError(f"months are written YYYY-MM; got {value!r}")
        return value

    @model_validator(mode="after")
    def _ordered_range(self) -> OutcomeFilter:
        if self.month_from and self.month_to and self.month_from > self.month_to:
            raise ValueError(
                f"month range starts after it ends: {self.month_from} > {self.month_to}"
            )
        return self

    @property
    def enrolled_models(self) -> tuple[ProgramModel, ...]:
        """The chosen program models without `not_enrolled`: whose programs the filters
        evaluate, count members of and store outputs for."""
        return tuple(m for m in self.program_models if m != NOT_ENROLLED)

    @property
    def selects_nothing(self) -> bool:
        return any(
            selection is not None and len(selection) == 0
            for selection in (self.states, self.program_models, self.conditions)
        )
