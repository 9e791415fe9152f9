"""Program outcomes: the pre/post figures per program that partners expect, beside the
comparison that keeps them honest."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from dashboard import charts, data, filters
from dashboard.formatting import (
    PREPOST_MEASURES,
    SETTING_LABELS,
    describe_filter,
    effect_sentence,
    group_label,
)
from dashboard.sections import (
    chart_with_table,
    display_table,
    months_words,
    number_format,
    page_header,
)
from data_access.vocabulary import IMPACT_MEASURES

SMALL_PROGRAM = 30  # analysable enrollments below which a program's change is mostly noise
BALANCE_LIMIT = 0.1  # a standardized mean difference above it is poor balance

f = filters.current_filter()
page_header(
    "Program outcomes",
    "Six months before enrollment against six months after, per program, for analysable "
    "enrollments (continuous eligibility in both windows and a behavioral health claim).",
    f,
)
filters.require_selection(f)

measure_name: str = st.selectbox(
    "Measure",
    list(PREPOST_MEASURES),
    index=list(PREPOST_MEASURES).index("admissions_per_enrollment"),
    format_func=lambda name: PREPOST_MEASURES[name].label,
    key="outcomes_measure",
)
measure = PREPOST_MEASURES[measure_name]
st.caption(f"Admission measures count {SETTING_LABELS[f.setting].lower()} (sidebar setting).")

bounds = data.month_bounds()
if bounds is not None and data.viewer().is_partner:
    # A state partner's months are whole calendar years: the years that hold the extract.
    bounds = filters.whole_years(bounds[0][:4], bounds[1][:4])
if bounds is not None and (f.month_from, f.month_to) != bounds:
    # The month range picks enrollments that START in it; the app opens on the latest months,
    # which leaves out programs that enrolled earlier. A link (opening a new session, which
    # reads the URL) widens the range to the whole extract and keeps the other filters.
    params = {name: st.query_params.get_all(name) for name in st.query_params}
    params.update({filters.P_FROM: [bounds[0]], filters.P_TO: [bounds[1]]})
    # Body text, not a caption: Streamlit fades a link inside a caption below 4.5:1 contrast.
    # Markdown links open a new tab, so the link says so.
    st.markdown(
        f"Only enrollments that start {months_words(f)} are counted, so programs that "
        "enrolled earlier show few or none. "
        f"[Show the whole extract, {bounds[0]} to {bounds[1]} (opens in a new tab)]"
        f"(?{urlencode(params, doseq=True)})"
    )

with data.guarded("the pre/post chart"):
    # On screen as the viewer may see it; the download is suppressed for everyone.
    prepost = data.export_frame("prepost", f, unsuppressed=not data.viewer().is_partner)
    if prepost.empty:
        st.info("No programs match these filters.")
    else:
        pre, post = f"pre_{measure.column}", f"post_{measure.column}"
        plotted = prepost[prepost[pre].notna() & prepost[post].notna()].assign(
            program_label=lambda t: (
                t["program_name"]
                + " ("
                + t["state_code"]
                + ") · n="
                + t["enrollments"].map(lambda n: f"{n:,.0f}").astype(str)
            )
        )
        left_out = len(prepost) - len(plotted)
        if plotted.empty:
            st.info(
                "No program has analysable enrollments with a defined value of this measure "
                "for these filters."
            )
        else:
            fig = charts.dumbbell(
                plotted,
                measure=measure,
                title=f"{measure.label}: 6 months before vs after enrollment, per program",
                subtitle=describe_filter(f),
            )
            chart_with_table(
                fig,
                key="prepost",
                table=prepost,
                download=data.export_download("prepost", f),
                filters=f,
                file_name=data.file_name("prepost", f),
                what="the pre/post figures per program",
                # The screen's rows are the file's (suppression blanks values, not rows).
                rows=len(prepost),
                measures={},
                plotted=(pre, post),
            )
        notes = ["n = analysable enrollments. Open circles: before; filled: after."]
        if left_out:
            notes.append(
                f"{left_out} program{'s' if left_out > 1 else ''} without a defined value "
                "(no analysable enrollments, or no admissions for a per-admission measure) "
                "are in the table but not in the chart."
            )
        small = plotted[plotted["enrollments"] < SMALL_PROGRAM]
        if not small.empty:
            notes.append(
                f"{len(small)} program{'s have' if len(small) > 1 else ' has'} fewer than "
                f"{SMALL_PROGRAM} analysable enrollments: a change there can be chance alone."
            )
        st.caption(" ".join(notes))

        summary = prepost[
            [
                "program_name",
                "state_code",
                "program_model",
                "enrollments",
                pre,
                post,
                f"change_{measure.column}",
                f"pct_change_{measure.column}",
                *[c for c in ("suppressed",) if c in prepost.columns],
            ]
        ].assign(program_model=lambda t: t["program_model"].map(group_label))
        fmt = number_format(measure)
        change, pct_change = f"change_{measure.column}", f"pct_change_{measure.column}"
        change_format = fmt
        if measure.kind == "share":
            # A change in a share is in percentage points; "% change" is the relative one.
            summary = summary.assign(**{change: summary[change] * 100})
            change_format = "%+.1f pts"
        # Suppressed-column cells are written as text in the change's own unit.
        change_measure = replace(measure, kind="rate") if measure.kind == "share" else measure
        shown, _ = display_table(summary, {pre: measure, post: measure, change: change_measure})
        labels = {
            pre: "Before",
            post: "After",
            change: "Change (pts)" if measure.kind == "share" else "Change",
            pct_change: "% change",
        }
        config: dict[str, Any] = {
            "program_name": "Program",
            "state_code": "State",
            "program_model": "Model",
            "enrollments": st.column_config.NumberColumn("Analysable enrollments"),
            pre: st.column_config.NumberColumn(labels[pre], format=fmt),
            post: st.column_config.NumberColumn(labels[post], format=fmt),
            change: st.column_config.NumberColumn(labels[change], format=change_format),
            pct_change: st.column_config.NumberColumn(labels[pct_change], format="%.1f%%"),
        }
        for column, label in labels.items():
            if shown[column].dtype == object:  # holds "fewer than 11"
                config[column] = st.column_config.TextColumn(label)
        if shown["enrollments"].dtype == object:
            config["enrollments"] = st.column_config.TextColumn("Analysable enrollments")
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config=config,
            key="prepost_summary",
        )

st.subheader("Why a fall after enrollment is not, on its own, the program's effect")
st.markdown(
    "Members are often enrolled right after a hospital stay, or because their use of care "
    "is extreme. Use that high tends to fall back afterwards even without any program "
    "(**regression to the mean**): the randomized trial of the Camden Coalition's "
    "hot-spotting program found the same drop in readmissions in its control group as in "
    "its treated group. Read each program's change beside the trend of members of the same "
    "states who were **not enrolled**, below, and beside the number of enrollments behind it."
)

st.subheader("Against a matched comparison group")
with data.guarded("the matched comparison"):
    if measure.column not in IMPACT_MEASURES:
        st.info(
            f"No matched comparison is computed for {measure.label.lower()}: its change above "
            "cannot be read as the program's effect. The matched comparison covers "
            + ", ".join(PREPOST_MEASURES[m].short.lower() for m in IMPACT_MEASURES)
            + "."
        )
    else:
        units = data.impact_rows(f)
        units = units[units["measure"] == measure.column]
        programs = units[units["level"] == "program"].merge(
            data.programs()[["program_id", "program_name"]], on="program_id", how="left"
        )
        programs = programs.assign(
            program_label=programs["program_name"].fillna(programs["program_id"])
            + " ("
            + programs["state_code"].fillna("")
            + ") · matched n="
            + programs["matched_enrollments"].map(lambda n: "?" if pd.isna(n) else f"{n:,.0f}")
        )
        drawn = programs.dropna(subset=["effect", "effect_ci_low", "effect_ci_high"])
        pooled = units[units["level"] == "all"]
        if not pooled.empty and pd.notna(pooled["effect"].iloc[0]):
            row = pooled.iloc[0]
            st.markdown(
                "**All selected programs:** "
                + effect_sentence(
                    measure, row["effect"], row["effect_ci_low"], row["effect_ci_high"]
                )
                + f", over {row['matched_enrollments']:,.0f} matched enrollments."
            )
        if drawn.empty:
            st.info("No program has enough matched enrollments for an effect with these filters.")
        else:
            fig = charts.effect_forest(
                drawn,
                measure=measure,
                title=f"{measure.label}: effect against matched comparison members, "
                "with 95% intervals",
                subtitle=describe_filter(f),
            )
            chart_with_table(
                fig,
                key="prepost_impact",
                table=units.drop(columns=["measure"]),
                download=data.impact_download(f),
                filters=f,
                file_name=data.file_name("impact", f),
                what="the matched comparison (all measures)",
                measures={},
                plotted=("effect",),
            )
        for model_row in units[units["level"] == "program_model"].to_dict("records"):
            if pd.notna(model_row["effect"]):
                st.markdown(
                    f"- **{group_label(str(model_row['program_model']))}:** "
                    + effect_sentence(
                        measure,
                        model_row["effect"],
                        model_row["effect_ci_low"],
                        model_row["effect_ci_high"],
                    )
                )
        poorly = programs[programs["max_std_diff"] > BALANCE_LIMIT]
        st.caption(
            "Effect = (enrolled after - before) - (matched comparison after - before): "
            "not-enrolled members of the same state with a stay or an index date in the same "
            "month, matched on condition, age band and the six months before (stays, days, "
            "paid, days since the last behavioral discharge). Only what the claims hold is "
            "matched; a choice to enroll on anything else remains. An effect is named only "
            "when its 95% interval excludes zero."
            + (
                f" {len(poorly)} program{'s' if len(poorly) != 1 else ''} matched with a "
                f"standardized difference above {BALANCE_LIMIT} (see the table's max_std_diff)"
                ": read their effects with care."
                if len(poorly)
                else ""
            )
        )
