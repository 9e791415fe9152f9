"""Impact: did peer support work? The enrolled members against their matched comparison,
month by month, how alike the two groups were, and each program's effect with its limits."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts, data, filters
from dashboard.formatting import (
    EVENT_STUDY_LABELS,
    MATCHING_VARIABLE_LABELS,
    PREPOST_MEASURES,
    SETTING_LABELS,
    describe_filter,
    effect_sentence,
    group_label,
    suppressed_text,
)
from dashboard.sections import (
    chart_with_table,
    display_table,
    download_button,
    page_header,
)
from data_access.vocabulary import BALANCE_THRESHOLD, IMPACT_MEASURES

ALL = "all"

f = filters.current_filter()
page_header(
    "Impact",
    "Did peer support work? Each program's enrolled members against a **matched comparison "
    "group**: members of the same states, not enrolled, who looked like them in the six "
    "months before.",
    f,
)
filters.require_selection(f)


def unit_name(code: str) -> str:
    return "All selected programs" if code == ALL else f"{group_label(code)} programs"


# -- the unit and the measure --------------------------------------------------------------

with data.guarded("the months around the index date"):
    months = data.event_study_rows(f)
    models = sorted({str(m) for m in months["program_model"].dropna()})
    left, right = st.columns(2)
    unit: str = left.selectbox("Programs", [ALL, *models], format_func=unit_name, key="impact_unit")
    measure_name: str = right.selectbox(
        "Measure by month",
        list(EVENT_STUDY_LABELS),
        format_func=lambda name: EVENT_STUDY_LABELS[name].short,
        key="impact_month_measure",
    )
    measure = EVENT_STUDY_LABELS[measure_name]

    st.subheader("Month by month around the index date")
    if measure_name == "admissions_per_enrollment":
        st.caption(f"Admissions count {SETTING_LABELS[f.setting].lower()} (sidebar setting).")
    level = "all" if unit == ALL else "program_model"
    chosen = months[
        (months["level"] == level)
        & (months["measure"] == measure_name)
        & ((months["program_model"] == unit) if unit != ALL else True)
    ]
    if chosen.empty or chosen["matched_enrollments"].eq(0).all():
        st.info("No matched enrollments for these filters.")
    elif chosen[["enrolled_mean", "comparison_mean"]].isna().all().all():
        st.info(
            f"Every month is suppressed: {suppressed_text()} enrollments, unmatched "
            "enrollments or admissions behind them. Choose all selected programs or widen "
            "the filters.",
            icon=":material/visibility_off:",
        )
    else:
        fig = charts.event_study(
            chosen,
            measure=measure,
            title=f"{measure.label}: {unit_name(unit).lower()} against their matched "
            "comparison, with 95% bands",
            subtitle=describe_filter(f),
        )
        chart_with_table(
            fig,
            key="impact_event_study",
            table=chosen.drop(columns=["level", "measure"]),
            download=data.event_study_download(f),
            filters=f,
            file_name=data.file_name("impact_event_study", f),
            what="the months around the index date (all programs and models)",
            measures={
                column: measure
                for column in (
                    "enrolled_mean",
                    "enrolled_ci_low",
                    "enrolled_ci_high",
                    "comparison_mean",
                    "comparison_ci_low",
                    "comparison_ci_high",
                )
            },
            plotted=("enrolled_mean", "comparison_mean"),
        )
        st.caption(
            "Months are 30 or 31 days (two months are 61 days), counted from the index date: "
            "the enrollment date, or the comparison member's date. There is no month 0: "
            "the index date opens month +1. Each line is the mean per matched enrollment "
            "(a comparison enrollment's value is the mean of its up to three matches); "
            "the band is its 95% interval. A month over fewer than "
            f"{data.small_cell_threshold()} matched enrollments is not shown."
        )

# -- balance ---------------------------------------------------------------------------------

st.subheader("How alike the two groups were before")
with data.guarded("the balance table"):
    balance = data.balance_rows(f)
    level = "all" if unit == ALL else "program_model"
    rows = balance[
        (balance["level"] == level) & ((balance["program_model"] == unit) if unit != ALL else True)
    ]
    if rows.empty:
        st.info("No analysable enrollments for these filters.")
    else:
        table = rows.assign(variable=rows["variable"].map(MATCHING_VARIABLE_LABELS))[
            ["variable", "std_diff_before", "std_diff_after", "suppressed"]
        ]
        shown, _ = display_table(table, {})
        config: dict[str, Any] = {
            "variable": "Matching variable (6 months before the index date)",
            "std_diff_before": st.column_config.NumberColumn(
                "Before matching", format="%.3f", help="against all candidates of their cells"
            ),
            "std_diff_after": st.column_config.NumberColumn(
                "After matching", format="%.3f", help="against their matched comparison"
            ),
        }
        for column in ("std_diff_before", "std_diff_after"):
            if shown[column].dtype == object:
                config[column] = st.column_config.TextColumn(config[column]["label"])
        st.dataframe(shown, hide_index=True, width="stretch", column_config=config)
        after = pd.to_numeric(rows["std_diff_after"], errors="coerce")
        before = pd.to_numeric(rows["std_diff_before"], errors="coerce")
        poor = rows.loc[after > BALANCE_THRESHOLD, "variable"].map(MATCHING_VARIABLE_LABELS)
        words = (
            f"Standardized mean difference: the gap between the two groups' averages in "
            "standard deviations (on a log scale), whichever group is higher. Before matching "
            f"the largest is {before.max():.2f}; after matching {after.max():.2f}. "
            if after.notna().any() and before.notna().any()
            else ""
        )
        if len(poor):
            st.warning(
                words
                + f"After matching, {len(poor)} "
                + ("variables differ" if len(poor) > 1 else "variable differs")
                + f" by more than {BALANCE_THRESHOLD} (a common threshold): "
                + ", ".join(v.lower() for v in poor)
                + ". The comparison group is not as alike as it should be there, so read the "
                "effects below with care.",
                icon=":material/balance:",
            )
        else:
            st.caption(
                words + f"No variable differs by more than {BALANCE_THRESHOLD} (a common "
                "threshold) after matching: on what the claims hold, the groups are alike."
            )
        download_button(
            data.balance_download(f),
            key="impact_balance",
            dataset="impact_balance",
            filters=f,
            file_name=data.file_name("impact_balance", f),
            label="Download the balance of every program and model (CSV)",
        )

# -- the effects ------------------------------------------------------------------------------

st.subheader("The effect of each program")
with data.guarded("the effects"):
    effect_name: str = st.selectbox(
        "Effect on",
        list(IMPACT_MEASURES),
        index=list(IMPACT_MEASURES).index("admissions_per_enrollment"),
        format_func=lambda name: PREPOST_MEASURES[name].label,
        key="impact_effect_measure",
    )
    effect_measure = PREPOST_MEASURES[effect_name]
    units = data.impact_rows(f)
    units = units[units["measure"] == effect_name]
    if units.empty:
        st.info("No programs match these filters.")
    else:
        names = data.programs().set_index("program_id")["program_name"]
        unit_labels = [
            "All selected programs"
            if row["level"] == "all"
            else unit_name(str(row["program_model"]))
            if row["level"] == "program_model"
            else f"{names.get(row['program_id'], row['program_id'])} ({row['state_code']})"
            for row in units.to_dict("records")
        ]
        hidden = units["suppressed"].fillna("").str.contains("effect")
        sentences = [
            f"fewer than {data.small_cell_threshold()} enrollments: not shown"
            if is_hidden
            else effect_sentence(
                effect_measure, row["effect"], row["effect_ci_low"], row["effect_ci_high"]
            )
            for row, is_hidden in zip(units.to_dict("records"), hidden, strict=True)
        ]
        effects = units.assign(unit=unit_labels, in_words=sentences)[
            [
                "unit",
                "program_model",
                "enrollments",
                "matched_enrollments",
                "comparison_members",
                "effect",
                "effect_ci_low",
                "effect_ci_high",
                "in_words",
                "suppressed",
            ]
        ]
        effects = effects.assign(
            program_model=effects["program_model"].map(
                lambda code: group_label(str(code)) if isinstance(code, str) else "All"
            )
        )
        scale = 100.0 if effect_measure.kind == "share" else 1.0
        for column in ("effect", "effect_ci_low", "effect_ci_high"):
            effects[column] = effects[column].astype("float64") * scale
        shown, _ = display_table(effects, {})
        number = (
            "%+.1f pts"
            if effect_measure.kind == "share"
            else ("dollar" if effect_measure.kind == "money" else "%+.3f")
        )
        config = {
            "unit": "Programs",
            "program_model": "Model",
            "enrollments": st.column_config.NumberColumn("Analysable enrollments"),
            "matched_enrollments": st.column_config.NumberColumn("Matched enrollments"),
            "comparison_members": st.column_config.NumberColumn("Comparison members"),
            "effect": st.column_config.NumberColumn("Effect", format=number),
            "effect_ci_low": st.column_config.NumberColumn("95% CI low", format=number),
            "effect_ci_high": st.column_config.NumberColumn("95% CI high", format=number),
            "in_words": "In words",
        }
        for column in (
            "enrollments",
            "matched_enrollments",
            "comparison_members",
            "effect",
            "effect_ci_low",
            "effect_ci_high",
        ):
            if shown[column].dtype == object:
                config[column] = st.column_config.TextColumn(config[column]["label"])
        st.dataframe(shown, hide_index=True, width="stretch", column_config=config)
        pooled = units[units["level"] == "all"]
        if len(pooled) and pd.notna(pooled["effect"].iloc[0]):
            row = pooled.iloc[0]
            st.markdown(
                f"**All selected programs, {effect_measure.label.lower()}:** "
                + effect_sentence(
                    effect_measure, row["effect"], row["effect_ci_low"], row["effect_ci_high"]
                )
                + "."
            )
        st.caption(
            "Effect = (enrolled after - before) - (matched comparison after - before), over "
            "the six months before and after the index date; "
            + ("in percentage points. " if effect_measure.kind == "share" else "per enrollment. ")
            + "The 95% interval resamples enrolled members 2,000 times. An effect is named "
            "only when its interval excludes zero."
            + (f" A cell reading {suppressed_text()} is suppressed." if hidden.any() else "")
        )
        download_button(
            data.impact_download(f),
            key="impact",
            dataset="impact",
            filters=f,
            file_name=data.file_name("impact", f),
            label="Download the effects, every measure (CSV)",
        )

# -- what it can and cannot tell -------------------------------------------------------------

st.subheader("How this is worked out, and its limits")
st.markdown(
    f"""
- **Who is compared.** Each analysable enrollment (continuously eligible six months before
  and after, with a behavioral health claim) is matched to up to three members of the same
  state who were not enrolled in any program in the six months before: in the same month,
  with the same primary condition and age band and the same number of behavioral stays (3 or
  more pooled), and the nearest on their stays, inpatient days, total paid and days since
  their latest behavioral discharge in the six months before. Their own "index date" is a
  day after a behavioral discharge or the 15th of a month. Enrollments with no match near
  enough are left out of the effect.
- **The effect** is the enrolled members' change from before to after minus their matched
  comparison's change. The month-by-month chart shows the same comparison spread over the
  twelve months: the two lines should run together before the index date if the matching
  worked; a gap after it is what the program may have done.
- **Balance.** A standardized mean difference above {BALANCE_THRESHOLD} after matching
  means the groups still differed on that variable before enrollment, and the effect may
  carry some of that difference.
- **Limits.** Only what the claims hold is matched. Members are chosen for peer support for
  reasons the data does not show (how ill they were, their housing, their motivation, a
  clinician's judgement), and that choice remains: the comparison is the best these data
  allow, not a randomized trial. A member may have several enrollments and a comparison
  member may serve several enrollments. The bands in the monthly chart treat each
  enrollment as independent, so they are a little narrower than the effect's interval,
  which resamples whole members. Small programs have wide intervals: "no difference we can
  distinguish from zero" is not "no effect".
- The full method is written down in the project's methods document (docs/methods.md in
  the dashboard's code), which your analysts can share.
"""
)
