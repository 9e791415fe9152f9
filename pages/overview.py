"""Overview: how are members in peer support doing, and where, for the current filters?"""

from __future__ import annotations

import math
from typing import Literal

import pandas as pd
import streamlit as st

from dashboard import charts, data, filters
from dashboard.data import small_cell_threshold
from dashboard.formatting import (
    PERIOD_LABELS,
    PREPOST_MEASURES,
    SUMMARY_MEASURES,
    Measure,
    describe_filter,
    effect_sentence,
    format_change,
    format_value,
    group_label,
    summary_measure,
    suppressed_text,
)
from dashboard.sections import (
    SELECTION_NOTE,
    chart_with_table,
    models_without_rows,
    months_words,
    page_header,
    trend_section,
)
from data_access.filters import OutcomeFilter
from data_access.vocabulary import NOT_ENROLLED

f = filters.current_filter()
page_header(
    "Peer support outcomes",
    "How members enrolled in peer support programs use inpatient care and what their care "
    "costs, against members of the same states who are not enrolled.",
    f,
)
filters.require_selection(f)

# Tiles: the measures leadership and partners ask for first. For every one but enrolled
# members a fall is the good direction, hence delta_color="inverse".
TILES: tuple[tuple[str, Literal["inverse"]], ...] = (
    ("admissions_per_1000_mm", "inverse"),
    ("average_los", "inverse"),
    ("cost_pmpm", "inverse"),
    ("readmission_rate_30d", "inverse"),
)


# A tile has room for a few characters only; its help says what the value means.
TILE_SUPPRESSED = f"< {small_cell_threshold()}"
SUPPRESSED_HELP = (
    f" Shown as {TILE_SUPPRESSED} when suppressed: {suppressed_text()} members, enrollments "
    "or admissions."
)


def _population_row(frame: pd.DataFrame, population: str) -> pd.Series | None:
    rows = frame[frame["population"] == population]
    return None if rows.empty else rows.iloc[0]


def _value(row: pd.Series | None, column: str) -> float | None:
    if row is None:
        return None
    value = row[column]
    return None if pd.isna(value) else float(value)


def _is_suppressed(row: pd.Series | None, column: str) -> bool:
    return row is not None and column in str(row.get("suppressed") or "").split(";")


def _change(now: float | None, before: float | None) -> float | None:
    """The change, or None when unknown or exactly zero (st.metric would show "↑ +0")."""
    if now is None or before is None or math.isnan(now) or math.isnan(before):
        return None
    return (now - before) or None


def _tiles(
    population: str,
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    members: tuple[int | None, int | None] | None,
    since: str,
) -> None:
    now = _population_row(current, population)
    before = None if previous is None else _population_row(previous, population)
    columns = st.columns(len(TILES) + 1)
    if members is not None:
        count, previous_count = members
        columns[0].metric(
            "Enrolled members",
            TILE_SUPPRESSED if count is None else f"{count:,}",
            delta=None
            if count is None or previous_count is None or count == previous_count
            else format_change(count - previous_count, "count"),
            delta_color="off",
            delta_description=since or None,
            help="Distinct members enrolled in a selected program on any day of the months."
            + SUPPRESSED_HELP,
            border=True,
        )
    else:
        mm = _value(now, "member_months")
        columns[0].metric(
            "Member-months",
            TILE_SUPPRESSED if _is_suppressed(now, "member_months") else format_value(mm, "count"),
            delta=format_change(_change(mm, _value(before, "member_months")), "count"),
            delta_color="off",
            delta_description=since or None,
            help="One per member and calendar month with at least one eligible day."
            + SUPPRESSED_HELP,
            border=True,
        )
    for column, (name, colour) in zip(columns[1:], TILES, strict=True):
        measure: Measure = summary_measure(name, f.setting)
        value = _value(now, name)
        column.metric(
            measure.tile_label,
            TILE_SUPPRESSED if _is_suppressed(now, name) else measure.format(value),
            delta=format_change(_change(value, _value(before, name)), measure.kind),
            delta_color=colour,
            delta_description=since or None,
            help=f"{measure.label}. A fall is an improvement." + SUPPRESSED_HELP,
            border=True,
        )


PARTNER = data.viewer().is_partner


def complete_months(chosen: OutcomeFilter) -> OutcomeFilter:
    """The filters without the provisional months: tiles never set months whose claims are
    still arriving against complete ones. A state partner's tiles end with the last complete
    calendar year, so that their months stay whole years."""
    last = data.last_complete_month()
    if last is None:
        return chosen
    if PARTNER:
        last = filters.complete_year_end(last)
    if chosen.month_to is not None and chosen.month_to <= last:
        return chosen
    if chosen.month_from is not None and chosen.month_from > last:
        return chosen  # only provisional months chosen: shown as they are, and said so
    return chosen.model_copy(update={"month_to": last})


def _span(first: str | None, last: str | None) -> str:
    """A range of months in words; a partner's as the whole years it covers."""
    if PARTNER and first and last:
        return first[:4] if first[:4] == last[:4] else f"{first[:4]} to {last[:4]}"
    return f"{first} to {last}"


# Outside the guarded block: the sections below need them whatever happens in it.
enrolled_models = f.enrolled_models
with data.guarded("the headline figures"):
    tiled = complete_months(f)
    current = data.outcome_summary(tiled, period=None, by=("population",))
    previous_filter: OutcomeFilter | None = data.previous_period(tiled)
    previous = (
        None
        if previous_filter is None
        else data.outcome_summary(previous_filter, period=None, by=("population",))
    )
    # No delta suffix: it truncated the tiles, and the caption below names the months.
    since = ""
    if enrolled_models:
        st.subheader("Members enrolled in a program")
        members_now = data.enrolled_members(tiled)
        members_before = None if previous_filter is None else data.enrolled_members(previous_filter)
        _tiles("enrolled", current, previous, (members_now, members_before), since)
    if NOT_ENROLLED in f.program_models:
        st.subheader("Not enrolled (comparison population)")
        _tiles(NOT_ENROLLED, current, previous, None, since)
    one_year = PARTNER and str(tiled.month_from)[:4] == str(tiled.month_to)[:4]
    unit = ("year" if one_year else "years") if PARTNER else "months"
    before = "the year just before" if one_year else f"the {unit} of equal length just before"
    compared_with = (
        f"Changes compare with {_span(previous_filter.month_from, previous_filter.month_to)}, "
        f"{before}."
        if previous_filter is not None
        else f"No change shown: the data has no {unit} of equal length before the selected range."
    )
    if tiled.month_to != f.month_to:
        if PARTNER:
            later = int(str(f.month_to)[:4]) - int(str(tiled.month_to)[:4])
            left_out = (
                f"The tiles cover the whole years to {str(tiled.month_to)[:4]}: the "
                + ("last year of the range is" if later == 1 else f"last {later} years are")
                + " not complete yet (claims of the latest months are still arriving). "
            )
        else:
            left_out = (
                f"The tiles cover the months to {tiled.month_to}: the later months of the range "
                "are provisional (their claims are still arriving). "
            )
    elif current.get("provisional", pd.Series(dtype=bool)).any():
        left_out = (
            f"The selected {unit} {'is' if one_year else 'are'} not complete yet (claims of the "
            "latest months are still arriving): the figures will still change. "
            if PARTNER
            else "The selected months are all provisional (claims still arriving): their "
            "figures will still change. "
        )
    else:
        left_out = ""
    st.caption(left_out + compared_with)
    if enrolled_models and NOT_ENROLLED in f.program_models:
        st.caption(SELECTION_NOTE)

if enrolled_models:
    with data.guarded("the effect against matched comparison members"):
        # Enrollments that start in the range, against matched not-enrolled members.
        effect_row = data.impact_rows(f)
        effect_row = effect_row[
            (effect_row["level"] == "all") & (effect_row["measure"] == "admissions_per_enrollment")
        ]
        admissions = PREPOST_MEASURES["admissions_per_enrollment"]
        if effect_row.empty or pd.isna(effect_row["effect"].iloc[0]):
            st.caption(
                "No effect against matched comparison members can be shown for these filters "
                "(too few matched enrollments starting in the selected months)."
            )
        else:
            row = effect_row.iloc[0]
            sentence = effect_sentence(
                admissions, row["effect"], row["effect_ci_low"], row["effect_ci_high"]
            )
            tile, words = st.columns([1, 4])
            tile.metric(
                "Effect on admissions",
                format_change(row["effect"], admissions.kind) or "0",
                delta=f"95% CI {format_change(row['effect_ci_low'], admissions.kind)} to "
                f"{format_change(row['effect_ci_high'], admissions.kind)}",
                delta_color="off",
                delta_arrow="off",
                help="Admissions per enrollment, six months after against six months before "
                "enrollment, less the same change of matched not-enrolled members.",
                border=True,
            )
            words.markdown(
                f"**All selected programs, against matched comparison members:** {sentence}, "
                f"over {row['matched_enrollments']:,.0f} matched enrollments that started in "
                "the selected months. A fall after enrollment alone is not an effect: members "
                "are enrolled at a peak of use, which falls back anyway."
            )

st.divider()
measure_name: str = st.selectbox(
    "Measure for the map and the trend",
    list(SUMMARY_MEASURES),
    format_func=lambda name: summary_measure(name, f.setting).label,
    key="overview_measure",
)
measure = summary_measure(measure_name, f.setting)

with data.guarded("the map by state"):
    by_state = data.outcome_summary(f, period=None, by=("state_code", "population"))
    population = "enrolled" if set(by_state["population"]) - {NOT_ENROLLED} else NOT_ENROLLED
    states = data.states()
    shown = by_state[by_state["population"] == population].merge(states, on="state_code")
    comparison = by_state.loc[
        by_state["population"] == NOT_ENROLLED, ["state_code", measure.column]
    ].rename(columns={measure.column: "comparison"})
    shown = shown.merge(comparison, on="state_code", how="left")
    if shown.empty:
        chosen = ", ".join(group_label(code) for code in f.program_models)
        st.info(
            f"No state has data: the selected program models ({chosen}) have no enrolled "
            f"member-months for these filters {months_words(f)}. Widen the month range in the "
            "sidebar to include earlier months."
        )
    else:
        who = "enrolled members" if population == "enrolled" else "members not enrolled"
        fig = charts.state_map(
            shown,
            measure=measure,
            title=f"{measure.label} of {who}, by state",
            subtitle=describe_filter(f),
        )

        def with_names(frame: pd.DataFrame) -> pd.DataFrame:
            return frame.merge(states, on="state_code")[
                ["state_code", "state_name", *frame.columns.drop("state_code")]
            ]

        chart_with_table(
            fig,
            key="overview_map",
            table=with_names(by_state),
            download=data.derived(
                data.summary_download(f, period=None, by=("state_code", "population")),
                with_names,
            ),
            filters=f,
            file_name=data.file_name("by_state", f),
            what="figures by state",
            plotted=(measure.column,),
        )

with data.guarded("the trend by program model"):
    compared = filters.with_comparison(f)
    trend = trend_section(
        compared,
        group="program_model",
        measure=measure,
        key="overview_trend",
        title=f"{measure.label} by program model, {PERIOD_LABELS['month']}",
        file_stub="by_program_model_month",
        what="the monthly figures by program model",
    )
    models_without_rows(compared, set(trend.get("program_model", ())))
