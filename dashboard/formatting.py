"""Names, units and number formats of every measure, and the words that describe a filter."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final, Literal

from data_access.filters import OutcomeFilter
from data_access.settings import get_settings
from data_access.vocabulary import NOT_ENROLLED, PRIMARY_CONDITIONS, PROGRAM_GROUPS, RECENT_DAYS

Kind = Literal["rate", "ratio", "money", "days", "share", "count"]


@dataclass(frozen=True)
class Measure:
    column: str
    label: str  # full name, used in titles
    short: str  # tile and axis label
    unit: str  # said after a value in hovers
    kind: Kind
    tile: str = ""  # a shorter label for a KPI tile, when `short` does not fit

    @property
    def tile_label(self) -> str:
        return self.tile or self.short

    @property
    def d3_format(self) -> str:
        """Plotly hover/tick format: exact enough to read the stored value back."""
        return {
            "rate": ",.2f",
            "ratio": ",.3f",
            "money": "$,.2f",
            "days": ",.2f",
            "share": ".2%",
            "count": ",d",
        }[self.kind]

    def hover(self, ref: str) -> str:
        """A hovertemplate fragment such as `$%{y:,.2f} per member per month`."""
        return f"%{{{ref}:{self.d3_format}}} {self.unit}".rstrip()

    def format(self, value: float | None) -> str:
        return format_value(value, self.kind, self.unit)


def suppressed_text() -> str:
    """What a suppressed value reads on screen."""
    return f"fewer than {get_settings().small_cell_threshold}"


MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_{}\[\]<>()#+!|$~])")


def markdown_text(text: str) -> str:
    """Text shown literally by st.markdown and st.caption: "$" would start a formula, "*"
    emphasis, and so on (a program's name or a money amount is data, not markup)."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def format_value(value: float | None, kind: Kind, unit: str = "") -> str:
    """A value for a tile or a sentence; an undefined ratio (NaN) reads as "n/a"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if kind == "money":
        return f"${value:,.2f}"
    if kind == "share":
        return f"{value:.1%}"
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "ratio":
        return f"{value:,.3f}"
    return f"{value:,.1f}" if kind == "rate" else f"{value:,.2f}"


def format_change(change: float | None, kind: Kind) -> str | None:
    """A signed change for st.metric's delta (its colour follows the leading sign)."""
    if change is None or math.isnan(change):
        return None
    if kind == "money":
        return f"{'-' if change < 0 else '+'}${abs(change):,.2f}"
    if kind == "share":
        return f"{change * 100:+.1f} pts"
    if kind == "count":
        return f"{change:+,.0f}"
    if kind == "ratio":
        return f"{change:+,.3f}"
    return f"{change:+,.1f}" if kind == "rate" else f"{change:+,.2f}"


# Measures of outcome_summary and of the monthly export, in the order pages list them.
SUMMARY_MEASURES: Final[Mapping[str, Measure]] = {
    m.column: m
    for m in (
        Measure(
            "admissions_per_1000_mm",
            "Admissions per 1,000 member-months",
            "Admissions per 1,000 MM",
            "admissions per 1,000 MM",
            "rate",
            tile="Admissions / 1k MM",
        ),
        Measure(
            "inpatient_days_per_1000_mm",
            "Inpatient days per 1,000 member-months",
            "Inpatient days per 1,000 MM",
            "inpatient days per 1,000 MM",
            "rate",
        ),
        Measure("average_los", "Average length of stay", "Average LOS", "days", "days"),
        Measure("cost_pmpm", "Total cost per member per month", "Cost PMPM", "PMPM", "money"),
        Measure(
            "behavioral_cost_pmpm",
            "Behavioral health cost per member per month",
            "Behavioral cost PMPM",
            "PMPM",
            "money",
        ),
        Measure(
            "medical_cost_pmpm",
            "Medical cost per member per month",
            "Medical cost PMPM",
            "PMPM",
            "money",
        ),
        Measure(
            "readmission_rate_30d",
            "All-cause 30-day readmission rate",
            "All-cause 30-day readmissions",
            "of followed discharges",
            "share",
            tile="30-day readmits",
        ),
        Measure(
            "ed_visits_per_1000_mm",
            "Emergency department visits per 1,000 member-months",
            "ED visits per 1,000 MM",
            "ED visits per 1,000 MM",
            "rate",
            tile="ED visits / 1k MM",
        ),
        Measure(
            "followup_rate_7d",
            "Follow-up within 7 days of a behavioral stay",
            "7-day follow-up",
            "of followed behavioral discharges",
            "share",
        ),
        Measure(
            "followup_rate_30d",
            "Follow-up within 30 days of a behavioral stay",
            "30-day follow-up",
            "of followed behavioral discharges",
            "share",
        ),
        Measure(
            "peer_contact_rate_1d",
            "Peer support contact within a day of a behavioral stay",
            "Peer contact within a day",
            "of followed behavioral discharges",
            "share",
        ),
    )
}

# Measures about behavioral stays whatever the setting (the follow-up section's).
FOLLOW_UP_MEASURES: Final = ("followup_rate_7d", "followup_rate_30d", "peer_contact_rate_1d")
SETTING_WORDS: Final[Mapping[str, str]] = {
    "all": "all-cause",
    "behavioral": "behavioral stay to behavioral stay",
    "medical": "medical stay to medical stay",
}


def summary_measure(column: str, setting: str) -> Measure:
    """The measure as the setting defines it: a readmission rate says whether it is
    all-cause (setting all) or same-setting, and the per-member-month admission, day and ED
    measures name a limited setting."""
    measure = SUMMARY_MEASURES[column]
    if column == "readmission_rate_30d" and setting != "all":
        words = SETTING_WORDS[setting]
        return replace(
            measure,
            label=f"Same-setting 30-day readmission rate ({words})",
            short=f"30-day readmissions ({words})",
        )
    if setting != "all" and column in LIMITED_BY_SETTING:
        return replace(
            measure, label=f"{measure.label} ({setting})", short=f"{measure.short} ({setting})"
        )
    return measure


# Measures a limited setting narrows (admissions and days by the stay, ED visits by the claim).
LIMITED_BY_SETTING: Final = frozenset(
    {"admissions_per_1000_mm", "inpatient_days_per_1000_mm", "average_los", "ed_visits_per_1000_mm"}
)

# Pre/post measures of the prepost export (the seeds' terms), per analysable enrollment.
PREPOST_MEASURES: Final[Mapping[str, Measure]] = {
    m.column: m
    for m in (
        Measure(
            "share_with_admission",
            "Share of enrollments with an inpatient admission",
            "Share with an admission",
            "of enrollments",
            "share",
        ),
        Measure(
            "admissions_per_enrollment",
            "Admissions per enrollment (6 months)",
            "Admissions per enrollment",
            "admissions",
            "ratio",
        ),
        Measure(
            "inpatient_days_per_enrollment",
            "Inpatient days per enrollment (6 months)",
            "Inpatient days per enrollment",
            "days",
            "ratio",
        ),
        Measure("average_los", "Average length of stay", "Average LOS", "days", "days"),
        Measure(
            "behavioral_paid_per_enrollment",
            "Behavioral health paid per enrollment (6 months)",
            "Behavioral paid per enrollment",
            "",
            "money",
        ),
        Measure(
            "medical_paid_per_enrollment",
            "Medical paid per enrollment (6 months)",
            "Medical paid per enrollment",
            "",
            "money",
        ),
        Measure(
            "total_paid_per_enrollment",
            "Total paid per enrollment (6 months)",
            "Total paid per enrollment",
            "",
            "money",
        ),
        Measure(
            "paid_per_admission",
            "Paid per inpatient admission",
            "Paid per admission",
            "per admission",
            "money",
        ),
        Measure(
            "ed_visits_per_enrollment",
            "Emergency department visits per enrollment (6 months)",
            "ED visits per enrollment",
            "ED visits",
            "ratio",
        ),
        Measure(
            "visits_per_enrollment",
            "Emergency, outpatient and professional visits per enrollment (6 months)",
            "Visits per enrollment",
            "visits",
            "ratio",
        ),
        Measure(
            "visit_paid_per_enrollment",
            "Paid for those visits per enrollment (6 months)",
            "Visits' paid per enrollment",
            "",
            "money",
        ),
        Measure(
            "inpatient_paid_per_enrollment",
            "Inpatient paid per enrollment (6 months)",
            "Inpatient paid per enrollment",
            "",
            "money",
        ),
    )
}

# The event study's measures: the same sums as the pre/post ones, per month of the windows.
EVENT_STUDY_LABELS: Final[Mapping[str, Measure]] = {
    m.column: m
    for m in (
        Measure(
            "admissions_per_enrollment",
            "Admissions per enrollment, by month",
            "Admissions per enrollment per month",
            "admissions",
            "ratio",
        ),
        Measure(
            "total_paid_per_enrollment",
            "Total paid per enrollment, by month",
            "Total paid per enrollment per month",
            "",
            "money",
        ),
    )
}
# The matching variables in words (the balance table).
MATCHING_VARIABLE_LABELS: Final[Mapping[str, str]] = {
    "pre_admissions_behavioral": "Behavioral stays in the 6 months before",
    "pre_admissions_medical": "Medical stays in the 6 months before",
    "pre_inpatient_days": "Inpatient days in the 6 months before",
    "pre_paid_cents": "Total paid in the 6 months before",
    "days_since_discharge": "Days since the latest behavioral discharge",
    "early_admissions": (
        f"Stays admitted in the 6 months before, except the last {RECENT_DAYS} days"
    ),
}

GROUP_LABELS: Final[Mapping[str, str]] = {
    "embedded": "Embedded",
    "care_advocacy": "Care advocacy",
    "whole_health": "Whole health",
    "hot_spotting": "Hot spotting",
    NOT_ENROLLED: "Not enrolled",
}
POPULATION_LABELS: Final[Mapping[str, str]] = {
    "enrolled": "Enrolled in a program",
    NOT_ENROLLED: "Not enrolled",
}
CONDITION_LABELS: Final[Mapping[str, str]] = {
    "mental_health": "Mental health",
    "substance_use": "Substance use",
    "co_occurring": "Co-occurring",
}
SETTING_LABELS: Final[Mapping[str, str]] = {
    "all": "All inpatient stays",
    "behavioral": "Behavioral stays",
    "medical": "Medical stays",
}
PERIOD_LABELS: Final[Mapping[str, str]] = {
    "month": "monthly",
    "quarter": "quarterly",
    "year": "yearly",
}

assert set(GROUP_LABELS) == set(PROGRAM_GROUPS)
assert set(CONDITION_LABELS) == set(PRIMARY_CONDITIONS)


def group_label(code: str) -> str:
    return GROUP_LABELS.get(code, code)


def _listed(
    values: tuple[str, ...], labels: Mapping[str, str] | None = None, limit: int = 6
) -> str:
    names = [labels.get(v, v) if labels else v for v in values]
    if len(names) > limit:
        return f"{', '.join(names[:limit])} and {len(names) - limit} more"
    return ", ".join(names)


def describe_filter(filters: OutcomeFilter) -> str:
    """The filters in words, for chart titles and captions (short enough for one line)."""
    parts = [
        "all states" if filters.states is None else _listed(filters.states) or "no state",
        "all groups"
        if set(filters.program_models) == set(PROGRAM_GROUPS)
        else _listed(filters.program_models, GROUP_LABELS) or "no program model",
    ]
    if filters.program_ids:
        count = len(filters.program_ids)
        parts.append(f"{count} program{'s' if count > 1 else ''}")
    if filters.conditions is not None and set(filters.conditions) != set(PRIMARY_CONDITIONS):
        parts.append(_listed(filters.conditions, CONDITION_LABELS) or "no condition")
    if filters.month_from or filters.month_to:
        parts.append(f"{filters.month_from or 'start'} to {filters.month_to or 'latest'}")
    if filters.setting != "all":
        parts.append(SETTING_LABELS[filters.setting].lower())
    return " · ".join(parts)


# What an effect may be called is decided by its 95% interval, never by a before/after drop.
EFFECT_NOUNS: Final[Mapping[str, tuple[str, str]]] = {
    "share_with_admission": (
        "a smaller share with an admission",
        "a larger share with an admission",
    ),
    "admissions_per_enrollment": ("fewer admissions", "more admissions"),
    "inpatient_days_per_enrollment": ("fewer inpatient days", "more inpatient days"),
    "ed_visits_per_enrollment": ("fewer ED visits", "more ED visits"),
    "behavioral_paid_per_enrollment": ("lower behavioral paid", "higher behavioral paid"),
    "medical_paid_per_enrollment": ("lower medical paid", "higher medical paid"),
    "total_paid_per_enrollment": ("lower total paid", "higher total paid"),
}


def effect_sentence(measure: Measure, effect: float, low: float, high: float) -> str:
    """The effect in words that follow its interval: a direction only when the 95% interval
    excludes zero, otherwise no difference that can be told from zero."""
    if any(math.isnan(v) for v in (effect, low, high)):
        return "no effect can be estimated (too few matched enrollments)"
    unit = "" if measure.kind == "share" else " per enrollment"
    figures = (
        f"{format_change(effect, measure.kind)}{unit}, 95% CI "
        f"{format_change(low, measure.kind)} to {format_change(high, measure.kind)}"
    )
    if high < 0 or low > 0:
        fewer, more = EFFECT_NOUNS[measure.column]
        return f"{fewer if effect < 0 else more} than comparable members ({figures})"
    return f"no difference we can distinguish from zero ({figures})"
