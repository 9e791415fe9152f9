"""Downloads: the monthly and pre/post exports for the current filters, the same files as
`python -m data_access export`, with a data dictionary of every column."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data, filters
from dashboard.sections import download_button, page_header
from data_access import exports
from data_access.impact import IMPACT_COLUMNS
from data_access.measures import MONTHLY_COLUMNS, PREPOST_COLUMNS
from data_access.vocabulary import Dataset


def _file_formats(frame: pd.DataFrame) -> dict[str, Any]:
    """The CSV's number formats for the preview: integers, money 2 decimals, ratios 4."""
    config: dict[str, Any] = {}
    for column in map(str, frame.columns):
        if column in exports.TEXT_COLUMNS or not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        if column in exports.INTEGER_COLUMNS:
            number = "%d"
        elif column in exports.MONEY_TOTAL_COLUMNS:
            number = "%.2f"
        else:
            number = "%.4f"
        config[column] = st.column_config.NumberColumn(column, format=number)
    return config


PREVIEW_ROWS = 50


def _unsuppressed(dataset: Dataset, name: str) -> None:
    """Leadership's named, audited way to small cells: a purpose, then a recorded download."""
    with st.expander("Unsuppressed file (leadership only; recorded in the audit log)"):
        purpose = st.text_input(
            "Purpose",
            key=f"purpose_{dataset}",
            placeholder="e.g. CMS quality report, Q3; shared with no one outside leadership",
            help="Why small cells must be shown. Recorded with your name, the filters and the "
            "rows.",
        ).strip()
        download_button(
            data.export_download(dataset, f, unsuppressed=True),
            key=f"unsuppressed_{dataset}",
            dataset=dataset,
            filters=f,
            file_name=name.replace(".csv", "_unsuppressed.csv"),
            label=f"Download unsuppressed {dataset} CSV",
            suppressed=False,
            detail=f"purpose: {purpose}" if purpose else None,
            disabled=not purpose,
        )
        st.caption(
            "Counts from 1 to "
            f"{data.small_cell_threshold() - 1} can identify a member: keep this file inside "
            "the organization."
        )


def _preview(dataset: Dataset, rows: int) -> None:
    """The export's first rows, built only when asked for: a plain visit reads row counts
    alone, and the file is built only when downloaded (issue #12)."""
    label = (
        f"Show the first {PREVIEW_ROWS} rows"
        if rows > PREVIEW_ROWS
        else ("Show the row" if rows == 1 else f"Show the {rows} rows")
    )
    if not st.toggle(
        label,
        key=f"show_preview_{dataset}",
        help="Builds the file's rows for these filters (on many programs this can take a few "
        "seconds); the download then uses the same rows.",
    ):
        return
    # The same suppressed rows as the download (one cached frame serves both).
    frame = data.export_frame(dataset, f)
    st.dataframe(
        frame.head(PREVIEW_ROWS),
        hide_index=True,
        width="stretch",
        column_config=_file_formats(frame),
        key=f"preview_{dataset}",
    )
    if rows > PREVIEW_ROWS:
        st.caption(f"Preview of the first {PREVIEW_ROWS} of {rows:,} rows.")


f = filters.current_filter()
page_header(
    "Downloads",
    "The monthly and pre/post tables for the current filters, as CSV files with the columns "
    "of the data contract (the same files as the command-line export).",
    f,
)
filters.require_selection(f)
viewer = data.viewer()

DATASETS: dict[Dataset, tuple[str, str, tuple[str, ...]]] = {
    "monthly": (
        "Monthly outcomes",
        "One row per month, state and program model (not enrolled included).",
        MONTHLY_COLUMNS,
    ),
    "prepost": (
        "Pre/post outcomes per program",
        "One row per program: analysable enrollments and twelve measures before and after "
        "enrollment, their change and percent change.",
        PREPOST_COLUMNS,
    ),
    "impact": (
        "Impact against a matched comparison group",
        "One row per program, program model and all programs, and measure: the change of the "
        "matched enrollments against the change of their matched not-enrolled comparison "
        "members (a difference in differences) with its 95% interval and the balance reached.",
        IMPACT_COLUMNS,
    ),
}

for dataset, (title, description, _columns) in DATASETS.items():
    st.subheader(title)
    st.markdown(description)
    with data.guarded(f"the {dataset} export"):
        rows = data.export_rows(dataset, f)
        name = data.file_name(dataset, f)
        download_button(
            # Built when clicked; a preview shown first has built the same cached rows.
            data.export_download(dataset, f),
            key=dataset,
            dataset=dataset,
            filters=f,
            file_name=name,
            label=f"Download {dataset} CSV ({rows:,} rows)",
            primary=True,
        )
        if viewer.may_unsuppress:
            _unsuppressed(dataset, name)
        columns = len(data.export_columns(dataset))
        st.caption(f"{rows:,} rows · {columns} columns · file {name}")
        if rows == 0:
            st.info("No rows for these filters.")
        else:
            _preview(dataset, rows)

st.subheader("Data dictionary")
used_in = {
    column: ", ".join(name for name, (_, _, cols) in DATASETS.items() if column in cols)
    for column in exports.COLUMN_DESCRIPTIONS
}
dictionary = pd.DataFrame(
    {
        "column": list(exports.COLUMN_DESCRIPTIONS),
        "meaning": list(exports.COLUMN_DESCRIPTIONS.values()),
        "in": [used_in[c] or "dashboard tables" for c in exports.COLUMN_DESCRIPTIONS],
    }
)
# A markdown table, so every meaning is shown in full (a grid cell cut them off).
st.markdown(
    "| column | meaning | in |\n|---|---|---|\n"
    + "\n".join(
        "| `{}` | {} | {} |".format(column, meaning.replace("|", "\\|"), where)
        for column, meaning, where in dictionary.itertuples(index=False, name=None)
    )
)
st.caption(
    "Counts are integers, money totals have 2 decimals, every ratio 4 decimals computed from "
    "unrounded values; an undefined ratio (zero denominator) is left empty."
)
