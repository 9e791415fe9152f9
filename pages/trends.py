"""Trends: how has each measure moved over time, by state or by program model, against the
not-enrolled members of the same states?"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, filters
from dashboard.formatting import PERIOD_LABELS, SUMMARY_MEASURES, describe_filter, summary_measure
from dashboard.sections import (
    SELECTION_NOTE,
    chart_with_table,
    models_without_rows,
    page_header,
    year_change_section,
)
from data_access.vocabulary import PERIODS, Dimension

SPLITS: tuple[Dimension, ...] = ("program_model", "state_code")

f = filters.current_filter()
page_header(
    "Trends",
    "How each measure moved over time, split by program model or by state. The not-enrolled "
    "members of the same states are always drawn (grey, dashed) as the comparison. Below, "
    "each state's change from the year before.",
    f,
)
filters.require_selection(f)

controls = st.columns([3, 2, 3])
measure_name: str = controls[0].selectbox(
    "Measure",
    list(SUMMARY_MEASURES),
    format_func=lambda name: summary_measure(name, f.setting).label,
    key="trends_measure",
)
split: str = controls[1].radio(
    "Split by",
    SPLITS,
    format_func=lambda s: "Program model" if s == "program_model" else "State",
    key="trends_split",
    horizontal=True,
)
period = controls[2].radio(
    "Period",
    PERIODS,
    format_func=lambda p: PERIOD_LABELS[p].capitalize(),
    key="trends_period",
    horizontal=True,
)
measure = summary_measure(measure_name, f.setting)
# The comparison population stays in even when the sidebar leaves it out: this page is
# about programs against it. Programs never restrict the not-enrolled rows.
compared = filters.with_comparison(f)
period_words = PERIOD_LABELS[period]
split_words = "program model" if split == "program_model" else "state"

with data.guarded("the trend chart"):
    if split == "program_model":
        frame = data.outcome_summary(compared, period=period, by=("program_model",))
        title = f"{measure.label} by program model, {period_words}"
        fig = (
            None
            if frame.empty
            else charts.trend_by_group(
                frame,
                period=period,
                group="program_model",
                measure=measure,
                title=title,
                subtitle=describe_filter(compared),
            )
        )
    else:
        frame = data.outcome_summary(compared, period=period, by=("state_code", "population"))
        title = f"{measure.label} by state: enrolled vs not enrolled, {period_words}"
        fig = (
            None
            if frame.empty
            else charts.trend_by_state(
                frame,
                period=period,
                measure=measure,
                title=title,
                subtitle=describe_filter(compared),
            )
        )
    if fig is None:
        st.info("No months with data for these filters.")
    else:
        by: tuple[Dimension, ...] = (
            ("program_model",) if split == "program_model" else ("state_code", "population")
        )
        chart_with_table(
            fig,
            key="trends",
            table=frame,
            download=data.summary_download(compared, period=period, by=by),
            filters=compared,
            file_name=data.file_name(f"trends_by_{split}_{period}", compared),
            what=f"the {period_words} figures by {split_words}",
            plotted=(measure.column,),
        )
        st.caption(
            f"{measure.label}: hover a point for the exact value, member-months, admissions "
            "and discharges behind it. Months with no member-months have no per-MM rate."
        )
        st.caption(SELECTION_NOTE)
    if split == "program_model":
        models_without_rows(compared, set(frame.get("program_model", ())))

# Which state's figure rose most in the last complete year: a ranked answer, not a read of
# the lines above.
year_change_section(f, key="trends_change")
