"""State profile: one state's programs, its trends against all selected states pooled, and
its rank among them on every measure."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, filters
from dashboard.formatting import (
    GROUP_LABELS,
    PERIOD_LABELS,
    SUMMARY_MEASURES,
    describe_filter,
    summary_measure,
)
from dashboard.sections import SELECTION_NOTE, chart_with_table, page_header
from data_access.errors import DisclosureRefused
from data_access.vocabulary import NOT_ENROLLED, PERIODS

sidebar_filter = filters.current_filter()
page_header(
    "State profile",
    "One state's peer support programs: its enrolled members against the state's members "
    "who are not enrolled and against the nation pooled."
    if data.viewer().is_partner
    else "One state's peer support programs: its enrolled members against the state's members "
    "who are not enrolled, against all selected states pooled, and where it ranks among them.",
    sidebar_filter,
)
filters.require_selection(sidebar_filter)
# The profile is about the programs: its figures are the enrolled members of the selected
# program models; the state's not-enrolled members are the comparison line.
f = filters.enrolled_only(sidebar_filter)
if not f.program_models:
    st.info("Select at least one program model in the sidebar: this page profiles programs.")
    st.stop()

all_states = data.states()
names = dict(zip(all_states["state_code"], all_states["state_name"], strict=True))
choices = list(f.states) if f.states is not None else list(names)
if st.session_state.get("profile_state") not in choices:
    st.session_state["profile_state"] = choices[0]
state: str = st.selectbox(
    "State",
    choices,
    format_func=lambda code: f"{code} · {names.get(code, code)}",
    key="profile_state",
    help="Limited to the states selected in the sidebar.",
)
state_name = names.get(state, state)
state_filter = filters.for_state(f, state)
viewer = data.viewer()
# A state partner compares with the nation pooled, the one figure beyond the grant allowed.
national = viewer.is_partner
if national:
    selection_label = "All states (national)"
else:
    selection_label = "All selected states" if len(choices) > 1 else state_name

st.subheader(f"Programs in {state_name}")
with data.guarded("the programs table"):
    programs = data.programs()
    programs = programs[programs["state_code"] == state].assign(
        program_model=lambda t: t["program_model"].map(GROUP_LABELS),
        in_filters=lambda t: (
            t["program_id"].isin(f.program_ids)
            if f.program_ids is not None
            else t["program_model"].isin([GROUP_LABELS[m] for m in f.program_models])
        ),
    )
    if programs.empty:
        st.info(f"{state_name} has no peer support programs in the database.")
    else:
        st.dataframe(
            programs[["program_name", "program_model", "launched_on", "in_filters", "program_id"]],
            hide_index=True,
            width="stretch",
            column_config={
                "program_name": "Program",
                "program_model": "Model",
                "launched_on": st.column_config.DateColumn("Launched"),
                "in_filters": st.column_config.CheckboxColumn(
                    "In the filters", help="Counted in the figures below."
                ),
                "program_id": "Program id",
            },
            key="profile_programs",
        )

st.subheader(f"{state_name} against {selection_label.lower()}")
controls = st.columns([3, 3])
measure_name: str = controls[0].selectbox(
    "Measure",
    list(SUMMARY_MEASURES),
    format_func=lambda name: summary_measure(name, f.setting).label,
    key="profile_measure",
)
period = controls[1].radio(
    "Period",
    PERIODS,
    index=1,
    format_func=lambda p: PERIOD_LABELS[p].capitalize(),
    key="profile_period",
    horizontal=True,
)
measure = summary_measure(measure_name, f.setting)


def pooled() -> pd.DataFrame:
    if national:
        return data.outcome_summary(f, period=period, by=(), scope="national")
    return data.outcome_summary(f, period=period, by=())


def pooled_download() -> data.Rows:
    if national:
        return data.summary_download(f, period=period, by=(), scope="national")
    return data.summary_download(f, period=period, by=())


def profile_table(
    state_rows: pd.DataFrame, comparison_rows: pd.DataFrame, pooled_rows: pd.DataFrame
) -> pd.DataFrame:
    # The pooled rows have no state code; their name says what they pool.
    return pd.concat(
        [
            state_rows.assign(state_code=state, state_name=state_name, population="enrolled"),
            comparison_rows.assign(
                state_code=state, state_name=state_name, population=NOT_ENROLLED
            ),
            pooled_rows.assign(state_code=None, state_name=selection_label, population="enrolled"),
        ]
    )[["state_code", "state_name", "population", *state_rows.columns]]


with data.guarded("the state trend"):
    state_trend = data.outcome_summary(state_filter, period=period, by=())
    not_enrolled_label = f"{state_name}, not enrolled"
    comparison_trend = data.outcome_summary(
        filters.not_enrolled_only(state_filter), period=period, by=()
    )
    try:
        pooled_trend = pooled()
    except DisclosureRefused as refused:
        st.caption(refused.viewer_message)
        pooled_trend = state_trend.iloc[0:0]
    if state_trend.empty:
        st.info(f"{state_name} has no months with data for these filters.")
    else:
        fig = charts.state_vs_selection(
            state_trend,
            pooled_trend,
            period=period,
            measure=measure,
            state_label=f"{state_name}, enrolled",
            selection_label=f"{selection_label}, enrolled",
            comparison_frame=comparison_trend,
            comparison_label=not_enrolled_label,
            title=f"{measure.label}, {PERIOD_LABELS[period]}: {state_name}'s enrolled members vs "
            f"its members not enrolled and {selection_label.lower()}",
            subtitle=describe_filter(f),
        )
        state_rows = data.summary_download(state_filter, period=period, by=())
        comparison_rows = data.summary_download(
            filters.not_enrolled_only(state_filter), period=period, by=()
        )
        pooled_rows = pooled_download() if len(pooled_trend) else None
        no_pooled = pooled_trend.iloc[0:0]

        def profile_download() -> pd.DataFrame:
            # Runs when the file is asked for (outside the script): explicit rows only.
            try:
                pooled_frame = pooled_rows() if pooled_rows is not None else no_pooled
            except DisclosureRefused:
                pooled_frame = no_pooled
            return profile_table(state_rows(), comparison_rows(), pooled_frame)

        chart_with_table(
            fig,
            key="profile_trend",
            table=profile_table(state_trend, comparison_trend, pooled_trend),
            download=profile_download,
            # The file holds the state's not-enrolled line too: its record names both.
            filters=filters.with_comparison(f),
            file_name=data.file_name(f"profile_{state}_{period}", f),
            what=f"{state_name}'s and the pooled {PERIOD_LABELS[period]} figures",
            plotted=(measure.column,),
        )
        st.caption(SELECTION_NOTE)

st.subheader(f"Where {state_name} ranks among the selected states")
if national and len(choices) < 2:
    st.caption(
        "Rankings compare states; your access covers one state, so there is nothing to rank."
    )
    st.stop()
with data.guarded("the ranking"):
    by_state = data.outcome_summary(f, period=None, by=("state_code",)).merge(
        all_states, on="state_code"
    )
    pooled_selection = data.outcome_summary(f, period=None, by=())
    selection_name = "All selected states" if len(choices) > 1 else state_name
    if state not in set(by_state["state_code"]):
        st.info(f"{state_name} has no data for these filters.")
    else:
        rows = []
        mine = by_state[by_state["state_code"] == state].iloc[0]
        for name, m in SUMMARY_MEASURES.items():
            values = by_state[name].dropna()
            rank = int((values < mine[name]).sum()) + 1 if pd.notna(mine[name]) else None
            rows.append(
                {
                    "Measure": m.label,
                    state_name: m.format(mine[name]),
                    selection_name: m.format(
                        pooled_selection[name].iloc[0] if not pooled_selection.empty else None
                    ),
                    "Rank (1 = lowest)": f"{rank} of {len(values)}" if rank else "n/a",
                }
            )
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="profile_ranks")
        st.caption(
            "For every measure here lower is better (fewer admissions and days, shorter stays, "
            "lower cost, fewer readmissions); ties share a rank."
        )
        ranked = by_state.assign(
            rank=by_state[measure.column].rank(method="min", na_option="keep")
        )[
            [
                "state_code",
                "state_name",
                "rank",
                *by_state.columns.drop(["state_code", "state_name"]),
            ]
        ]
        fig = charts.ranking(
            ranked,
            measure=measure,
            highlight=state,
            title=f"{measure.label} by state, lowest first ({state_name} highlighted)",
            subtitle=describe_filter(f),
        )

        # The download holds the pooled row too, so its states are suppressed against it.
        def ranking_table(download: pd.DataFrame) -> pd.DataFrame:
            download = download.assign(
                state_name=download["state_code"].map(names).fillna(selection_name),
                rank=download[measure.column]
                .where(download["state_code"].notna())
                .rank(method="min", na_option="keep"),
            )[
                [
                    "state_code",
                    "state_name",
                    "rank",
                    *download.columns.drop(["state_code", "state_name", "rank"], errors="ignore"),
                ]
            ]
            return download.sort_values(["rank", "state_code"], na_position="first")

        chart_with_table(
            fig,
            key="profile_ranking",
            table=ranked.sort_values("rank"),
            download=data.derived(
                data.summary_download(f, period=None, by=("state_code",), with_total=True),
                ranking_table,
            ),
            filters=f,
            file_name=data.file_name(f"ranking_{measure.column}", f),
            what="the ranking by state",
            plotted=(measure.column,),
        )
