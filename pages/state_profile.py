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
)
from dashboard.sections import chart_with_table, page_header

f = filters.current_filter()
page_header(
    "State profile",
    "One state's peer support programs, its trends against all selected states pooled, and "
    "where it ranks among them.",
    f,
)
filters.require_selection(f)

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
    format_func=lambda name: SUMMARY_MEASURES[name].label,
    key="profile_measure",
)
period = controls[1].radio(
    "Period",
    ["month", "quarter", "year"],
    index=1,
    format_func=lambda p: PERIOD_LABELS[p].capitalize(),
    key="profile_period",
    horizontal=True,
)
measure = SUMMARY_MEASURES[measure_name]

with data.guarded("the state trend"):
    state_trend = data.outcome_summary(state_filter, period=period, by=())
    pooled_trend = data.outcome_summary(f, period=period, by=())
    if state_trend.empty:
        st.info(f"{state_name} has no months with data for these filters.")
    else:
        fig = charts.state_vs_selection(
            state_trend,
            pooled_trend,
            period=period,
            measure=measure,
            state_label=state_name,
            selection_label=selection_label,
            title=f"{measure.label}, {PERIOD_LABELS[period]}: {state_name} vs "
            f"{selection_label.lower()}",
            subtitle=describe_filter(f),
        )
        # The pooled rows have no state code; their name says what they pool.
        table = pd.concat(
            [
                state_trend.assign(state_code=state, state_name=state_name),
                pooled_trend.assign(state_code=None, state_name=selection_label),
            ]
        )[["state_code", "state_name", *state_trend.columns]]
        chart_with_table(
            fig,
            key="profile_trend",
            table=table,
            csv=data.csv_text(table),
            file_name=data.file_name(f"profile_{state}_{period}", f),
            what=f"{state_name}'s and the pooled {PERIOD_LABELS[period]} figures",
        )

st.subheader(f"Where {state_name} ranks among the selected states")
with data.guarded("the ranking"):
    by_state = data.outcome_summary(f, period=None, by=("state_code",)).merge(
        all_states, on="state_code"
    )
    pooled = data.outcome_summary(f, period=None, by=())
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
                    selection_label: m.format(pooled[name].iloc[0] if not pooled.empty else None),
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
        chart_with_table(
            fig,
            key="profile_ranking",
            table=ranked.sort_values("rank"),
            csv=data.csv_text(ranked.sort_values(["rank", "state_code"])),
            file_name=data.file_name(f"ranking_{measure.column}", f),
            what="the ranking by state",
        )
