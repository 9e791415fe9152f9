"""Page building blocks: a chart with its table and download, and the page header."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, data
from dashboard.filters import enrolled_only, last_complete_year
from dashboard.formatting import (
    SUMMARY_MEASURES,
    Kind,
    Measure,
    describe_filter,
    format_value,
    group_label,
    markdown_text,
    summary_measure,
    suppressed_text,
)
from dashboard.memo import kept
from data_access.filters import OutcomeFilter
from data_access.measures import MONEY_COLUMNS
from data_access.suppression import SUPPRESSED_COLUMN

# Beside every figure that sets enrolled members against the not enrolled.
SELECTION_NOTE = (
    "Enrolled and not-enrolled members differ before any program: members are enrolled after "
    "a hospital stay or because of heavy use, so a gap between their lines is not the "
    "program's effect. The not enrolled are every member of the same states with no "
    "enrollment that day (the comparison population), not a matched comparison group."
)

PLOTLY_CONFIG = {
    "displaylogo": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
    # The US map's TopoJSON comes from dashboard/static/ (Streamlit static serving), not
    # from Plotly's CDN, so the map also draws where the internet is out of reach.
    "topojsonURL": "app/static/",
}


def page_header(title: str, question: str, filters: OutcomeFilter | None = None) -> None:
    st.title(title)
    st.markdown(question)
    if filters is not None:
        st.caption(f"Filters: {describe_filter(filters)}")


def months_words(filters: OutcomeFilter) -> str:
    """The selected months, in words."""
    if filters.month_from and filters.month_to:
        return f"from {filters.month_from} to {filters.month_to}"
    return "in the selected months"


def models_without_rows(filters: OutcomeFilter, shown: set[str]) -> None:
    """A caption naming the selected program models the chart has no rows (no line) for."""
    missing = [group_label(code) for code in filters.program_models if code not in shown]
    if missing:
        st.caption(
            f"No line for {', '.join(missing)}: no member-months for these filters "
            f"{months_words(filters)}. Widen the month range to include earlier months."
        )


def number_format(measure: Measure) -> str:
    """st.column_config number format of a measure."""
    return {
        "rate": "%.2f",
        "ratio": "%.3f",
        "days": "%.2f",
        "money": "dollar",
        "count": "%d",
        "share": "percent",
    }[measure.kind]


def column_config(
    frame: pd.DataFrame, measures: Mapping[str, Measure] = SUMMARY_MEASURES
) -> dict[str, Any]:
    """Readable headers and number formats for the measure columns of a table."""
    return {
        str(column): st.column_config.NumberColumn(
            measure.short, format=number_format(measure), help=measure.label
        )
        for column in frame.columns
        if (measure := measures.get(str(column))) is not None
    }


def _hidden(table: pd.DataFrame) -> list[set[str]]:
    if SUPPRESSED_COLUMN not in table.columns:
        return [set() for _ in range(len(table))]
    return [
        set(filter(None, flags.split(";"))) if isinstance(flags, str) else set()
        for flags in table[SUPPRESSED_COLUMN]
    ]


def suppressed_note(table: pd.DataFrame, columns: Sequence[str] = ()) -> None:
    """A caption saying how many values (of `columns`, or any) are suppressed, and why."""
    hidden = _hidden(table)
    count = sum(len(h & set(columns)) if columns else len(h) for h in hidden)
    if count:
        st.caption(
            f":material/visibility_off: {count:,} value{'s are' if count > 1 else ' is'} "
            f"suppressed ({suppressed_text()} members, enrollments or admissions, or "
            "needed to keep such a value from being worked out) and left out of the chart."
        )


def _cell_text(column: str, measures: Mapping[str, Measure]) -> Any:
    measure = measures.get(column)
    if measure is not None:
        return measure.format
    kind: Kind = "money" if column in MONEY_COLUMNS else "count"
    return lambda value: format_value(value, kind)


def display_table(
    table: pd.DataFrame, measures: Mapping[str, Measure] = SUMMARY_MEASURES
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table as shown, and its column config: a suppressed cell reads "fewer than 11".

    Columns with a suppressed cell become text (formatted like the tiles); the others keep
    their numbers, so they still sort as numbers.
    """
    hidden = _hidden(table)
    shown = table.drop(columns=[SUPPRESSED_COLUMN], errors="ignore").copy()
    config = column_config(shown, measures)
    label = suppressed_text()
    for column in sorted(set().union(*hidden) & set(map(str, shown.columns))):
        text = _cell_text(column, measures)
        shown[column] = [
            label if column in row_hidden else text(value)
            for value, row_hidden in zip(shown[column], hidden, strict=True)
        ]
        measure = measures.get(column)
        config[column] = st.column_config.TextColumn(
            measure.short if measure else column, help=measure.label if measure else None
        )
    return shown, config


def download_button(
    rows: data.Rows,
    *,
    key: str,
    dataset: str,
    filters: OutcomeFilter | None,
    file_name: str,
    label: str,
    suppressed: bool = True,
    detail: str | None = None,
    primary: bool = False,
    disabled: bool = False,
) -> None:
    """A CSV download prepared when clicked (`rows` is called then, not now), written by the
    one CSV writer and audited once for each file produced (dashboard/data.py csv_file)."""
    st.download_button(
        label,
        data=data.csv_file(
            rows, dataset=dataset, filters=filters, suppressed=suppressed, detail=detail
        ),
        file_name=file_name,
        mime="text/csv",
        key=f"download_{key}",
        # No rerun on the click: the page is as it was; the file is the callable's.
        on_click="ignore",
        icon=":material/download:",
        type="primary" if primary else "secondary",
        disabled=disabled,
    )


def chart_summary(fig: go.Figure) -> None:
    """The chart's title and summary as a caption (nothing for a figure without either)."""
    title = fig.layout.title.text
    summary = markdown_text(charts.summary(fig))
    if summary:
        st.caption(f"**Chart: {markdown_text(title)}.** {summary}" if title else summary)


def chart_with_table(
    fig: go.Figure,
    *,
    key: str,
    table: pd.DataFrame,
    download: data.Rows,
    filters: OutcomeFilter,
    file_name: str,
    what: str,
    measures: Mapping[str, Measure] = SUMMARY_MEASURES,
    plotted: Sequence[str] = (),
    rows: int | None = None,
) -> None:
    """The chart, then its rows in a tab beside it, and the download of those rows with small
    cells suppressed (downloads are suppressed for every viewer), prepared when clicked. The
    label gives the row count only when the caller knows it (`rows`) without building the file.

    Under the chart, its title and the one-sentence summary its builder wrote, as text: what
    a screen reader reads in place of the picture (and a quick reading for everyone)."""
    chart_tab, table_tab = st.tabs(["Chart", "Table"])
    with chart_tab:
        st.plotly_chart(fig, key=f"chart_{key}", width="stretch", config=PLOTLY_CONFIG)
        chart_summary(fig)
        suppressed_note(table, plotted)
    with table_tab:
        shown, config = display_table(table, measures)
        st.dataframe(shown, hide_index=True, width="stretch", column_config=config)
    download_button(
        download,
        key=key,
        dataset=key,
        filters=filters,
        file_name=file_name,
        label=f"Download {what} (CSV{f', {rows:,} rows' if rows is not None else ''})",
    )


def trend_section(
    compared: OutcomeFilter,
    *,
    group: Literal["program_model", "population"],
    measure: Measure,
    key: str,
    title: str,
    file_stub: str,
    what: str,
) -> pd.DataFrame:
    """The monthly trend of a measure by program model or by population, with its table."""
    trend = data.outcome_summary(compared, period="month", by=(group,))
    if trend.empty:
        st.info("No months with data for these filters.")
        return trend
    fig = charts.trend_by_group(
        trend,
        period="month",
        group=group,
        measure=measure,
        title=title,
        subtitle=describe_filter(compared),
    )
    chart_with_table(
        fig,
        key=key,
        table=trend,
        download=data.summary_download(compared, period="month", by=(group,)),
        filters=compared,
        file_name=data.file_name(file_stub, compared),
        what=what,
        plotted=(measure.column,),
    )
    return trend


# -- change from the year before, by state ---------------------------------------------------

ALL_MODELS = "all"  # the model choice of the year-over-year table pooling the selected models
NOT_RANKED = "not ranked"
YEAR_CHANGE_NOTE = (
    "A change from one year to the next describes what happened, not the program's effect: "
    "high use of care tends to fall back by itself, and who is enrolled changes."
)


@kept
def year_change(frame: pd.DataFrame, column: str, year: int) -> pd.DataFrame:
    """Each state's `column` in `year - 1` and in `year` and the change between them, from
    `outcome_summary(period="year", by=("state_code",))` rows, largest rise first.

    Columns: state_code, before, after, change, before_hidden, after_hidden, rank. A
    suppressed value is NaN with its `*_hidden` flag set; a state without both values has no
    change and no rank (ranks: 1 = largest rise, ties share a rank), and comes last."""
    hidden = [column in flags for flags in _hidden(frame)]
    rows = frame.assign(_hidden=hidden, _year=frame["year"].astype(str))

    def side(y: int) -> pd.DataFrame:
        part = rows[rows["_year"] == str(y)].set_index("state_code")
        return pd.DataFrame(
            {"value": part[column].where(~part["_hidden"]), "hidden": part["_hidden"]}
        )

    before, after = side(year - 1), side(year)
    table = pd.DataFrame({"state_code": sorted(set(rows["state_code"]))})
    codes = table["state_code"]
    table["before"] = codes.map(before["value"]).astype(float)
    table["after"] = codes.map(after["value"]).astype(float)
    table["change"] = table["after"] - table["before"]
    table["before_hidden"] = codes.map(before["hidden"]).fillna(False).astype(bool)
    table["after_hidden"] = codes.map(after["hidden"]).fillna(False).astype(bool)
    table["rank"] = table["change"].rank(method="min", ascending=False, na_option="keep")
    return table.sort_values(["rank", "state_code"], na_position="last").reset_index(drop=True)


def signed_value(value: float, measure: Measure) -> str:
    """A change in the measure's unit with its sign; a share's change in percentage points."""
    if pd.isna(value):
        return "n/a"
    sign = "+" if value > 0 else "-" if value < 0 else ""
    if measure.kind == "share":
        return f"{sign}{abs(value) * 100:.1f} pts"
    return f"{sign}{format_value(abs(value), measure.kind)}"


def year_change_shown(
    table: pd.DataFrame, measure: Measure, names: Mapping[str, str], year: int
) -> pd.DataFrame:
    """`year_change` as text, as the page shows it: a suppressed value reads "fewer than 11"
    as in every other table, an unranked row "not ranked"."""
    hidden_text = suppressed_text()

    def value(number: float, hidden: bool) -> str:
        return hidden_text if hidden else measure.format(number)

    return pd.DataFrame(
        {
            "Rank": [NOT_RANKED if pd.isna(r) else str(int(r)) for r in table["rank"]],
            "State": [
                markdown_text(f"{code} · {names.get(code, code)}") for code in table["state_code"]
            ],
            str(year - 1): [
                value(n, h) for n, h in zip(table["before"], table["before_hidden"], strict=True)
            ],
            str(year): [
                value(n, h) for n, h in zip(table["after"], table["after_hidden"], strict=True)
            ],
            "Change": [signed_value(c, measure) for c in table["change"]],
        }
    )


def year_change_section(filters: OutcomeFilter, *, key: str) -> None:
    """ "Change from the year before, by state": a measure and a program model chosen in one
    click each, the last complete year against the one before, states ranked by the change.

    The figures are `data.outcome_summary` by year and state (suppressed for a partner as
    every other view is); the sidebar's months are replaced by the two whole years."""
    st.subheader("Change from the year before, by state")
    year = last_complete_year(data.month_bounds(), data.last_complete_month())
    if year is None:
        st.info("The data hold no two complete calendar years to compare.")
        return
    enrolled = enrolled_only(filters)
    if not enrolled.program_models:
        st.info("Select at least one program model in the sidebar: the table compares programs.")
        return
    measure_name: str = st.pills(
        "Measure",
        list(SUMMARY_MEASURES),
        default="admissions_per_1000_mm",
        required=True,
        format_func=lambda name: summary_measure(name, filters.setting).short,
        key=f"{key}_measure",
    )
    models = list(enrolled.program_models)
    choices = ([ALL_MODELS] if len(models) > 1 else []) + models
    if st.session_state.get(f"{key}_model") not in choices:
        st.session_state[f"{key}_model"] = choices[0]
    # `required`: a click on the chosen pill keeps it (never no choice).
    model = (
        st.pills(
            "Program model",
            choices,
            required=True,
            format_func=lambda m: "All selected models" if m == ALL_MODELS else group_label(m),
            key=f"{key}_model",
        )
        or choices[0]
    )
    measure = summary_measure(measure_name, filters.setting)
    chosen = OutcomeFilter.model_validate(
        {
            **enrolled.model_dump(),
            "program_models": models if model == ALL_MODELS else [model],
            "month_from": f"{year - 1}-01",
            "month_to": f"{year}-12",
        }
    )
    with data.guarded("the change from the year before"):
        frame = data.outcome_summary(chosen, period="year", by=("state_code",))
        if frame.empty:
            st.info(f"No enrolled members of these filters in {year - 1} or {year}.")
            return
        table = year_change(frame, measure.column, year)
        states = data.states()
        names = dict(zip(states["state_code"], states["state_name"], strict=True))
        model_words = "the selected program models" if model == ALL_MODELS else group_label(model)
        what = f"{measure.label}, {model_words}: {year} against {year - 1}, by state"
        st.markdown(f"**{markdown_text(what)}**, largest rise first")
        st.table(
            year_change_shown(table, measure, names, year),
            hide_index=True,
            alt=f"{what}, ranked by the change, largest rise first",
        )
        st.caption(
            f"Calendar years, whatever the sidebar's months ({year} is the last year whose "
            "months are all loaded and complete; a program that began during a year counts "
            "only its months of it); the other sidebar filters apply. "
            f"Rows without both years' values are {NOT_RANKED}. {YEAR_CHANGE_NOTE}"
        )
