"""Page building blocks: a chart with its table and download, and the page header."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.formatting import SUMMARY_MEASURES, Measure, describe_filter, group_label
from data_access.filters import OutcomeFilter

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


def chart_with_table(
    fig: go.Figure,
    *,
    key: str,
    table: pd.DataFrame,
    csv: str,
    file_name: str,
    what: str,
    measures: Mapping[str, Measure] = SUMMARY_MEASURES,
) -> None:
    """The chart, then its rows in a tab beside it with the download of exactly those rows."""
    chart_tab, table_tab = st.tabs(["Chart", "Table"])
    with chart_tab:
        st.plotly_chart(fig, key=f"chart_{key}", width="stretch", config=PLOTLY_CONFIG)
    with table_tab:
        st.dataframe(
            table, hide_index=True, width="stretch", column_config=column_config(table, measures)
        )
    st.download_button(
        f"Download {what} (CSV, {len(table):,} rows)",
        data=csv,
        file_name=file_name,
        mime="text/csv",
        key=f"download_{key}",
        on_click="ignore",
        icon=":material/download:",
    )
