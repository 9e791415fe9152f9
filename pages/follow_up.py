"""Follow-up after a behavioral stay: after members leave a behavioral hospital stay, how
many are seen within 7 and 30 days, and how many hear from a peer within a day?"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, filters
from dashboard.formatting import FOLLOW_UP_MEASURES, SUMMARY_MEASURES, describe_filter
from dashboard.sections import (
    SELECTION_NOTE,
    chart_with_table,
    models_without_rows,
    page_header,
    trend_section,
)

f = filters.current_filter()
page_header(
    "Follow-up after a behavioral stay",
    "Of the members discharged from a behavioral hospital stay, how many had a behavioral "
    "outpatient, professional or peer support visit within 7 and within 30 days, and how many "
    "had a peer support contact on the day of discharge or the day after?",
    f,
)
filters.require_selection(f)
st.caption(
    "Like the CMS Core Set's follow-up after hospitalization for mental illness (FUH), but "
    "not it: the claims carry no diagnosis or provider codes, so any behavioral outpatient, "
    "professional or peer support claim counts, for every behavioral stay. A visit on the "
    "discharge day is not a follow-up. Only discharges whose 30 days are all in the data "
    "count, whatever the setting filter."
)

measure_name: str = st.radio(
    "Measure",
    FOLLOW_UP_MEASURES,
    format_func=lambda name: SUMMARY_MEASURES[name].short,
    key="followup_measure",
    horizontal=True,
)
measure = SUMMARY_MEASURES[measure_name]
compared = filters.with_comparison(f)

st.subheader("By month and program model")
with data.guarded("the follow-up trend"):
    trend = trend_section(
        compared,
        group="program_model",
        measure=measure,
        key="followup_trend",
        title=f"{measure.label}, by month and program model",
        file_stub="followup_by_model",
        what="the monthly follow-up figures by program model",
    )
    if not trend.empty:
        models_without_rows(compared, set(trend["program_model"]))
st.caption(SELECTION_NOTE)

st.subheader("By state")
enrolled = filters.enrolled_only(f)
with data.guarded("the follow-up by state"):
    if not enrolled.program_models:
        st.info("Select at least one program model in the sidebar to compare states.")
    else:
        by_state = data.outcome_summary(enrolled, period=None, by=("state_code",))
        if by_state.empty:
            st.info("No behavioral discharges for these filters.")
        else:
            states = data.states()
            names = dict(zip(states["state_code"], states["state_name"], strict=True))
            by_state = by_state.assign(state_name=by_state["state_code"].map(names))
            fig = charts.ranking(
                by_state,
                measure=measure,
                highlight="",
                title=f"{measure.label} of enrolled members, by state, lowest first",
                subtitle=describe_filter(enrolled),
            )
            chart_with_table(
                fig,
                key="followup_states",
                table=by_state,
                download=data.summary_download(enrolled, period=None, by=("state_code",)),
                filters=enrolled,
                file_name=data.file_name("followup_by_state", enrolled),
                what="the follow-up figures by state",
                plotted=(measure.column,),
            )
