"""Plotly figure builders: small aggregated frames in, figures out (no Streamlit here).

One colour per program model on every page, from the Okabe–Ito colour-blind-safe palette;
the `not_enrolled` comparison population is always grey and dashed.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from dashboard.formatting import (
    GROUP_LABELS,
    POPULATION_LABELS,
    Measure,
    format_value,
    group_label,
    suppressed_text,
)
from data_access.vocabulary import NOT_ENROLLED, PROGRAM_GROUPS, Period

# Okabe & Ito (2008); grey for the comparison population.
MODEL_COLOURS: Final = {
    "embedded": "#0072B2",  # blue
    "care_advocacy": "#E69F00",  # orange
    "whole_health": "#009E73",  # bluish green
    "hot_spotting": "#CC79A7",  # reddish purple
    NOT_ENROLLED: "#8C8C8C",  # grey
}
ENROLLED_COLOUR: Final = "#000000"  # all enrolled members pooled
STATE_COLOUR: Final = "#D55E00"  # vermillion: the state of a profile
NATIONAL_COLOUR: Final = "#56B4E9"  # sky blue: all selected states pooled
OTHER_STATES_COLOUR: Final = "#B8D8EE"
COLOUR_SCALE: Final = "Cividis"  # sequential, readable with every colour-vision deficiency

POPULATION_COLOURS: Final = {
    POPULATION_LABELS["enrolled"]: ENROLLED_COLOUR,
    POPULATION_LABELS[NOT_ENROLLED]: MODEL_COLOURS[NOT_ENROLLED],
}
LABEL_COLOURS: Final = {GROUP_LABELS[code]: colour for code, colour in MODEL_COLOURS.items()}
NOT_ENROLLED_LABELS: Final = {GROUP_LABELS[NOT_ENROLLED], POPULATION_LABELS[NOT_ENROLLED]}

FONT: Final = dict(family="Source Sans Pro, Arial, sans-serif", size=13)


def _titled(fig: go.Figure, title: str, subtitle: str) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, subtitle=dict(text=subtitle)),
        font=FONT,
        margin=dict(t=80, l=10, r=10, b=10),
        hoverlabel=dict(align="left"),
        legend=dict(title=None),
    )
    return fig


def _zero_based(fig: go.Figure, measure: Measure) -> None:
    """Rates, counts and money start at zero so that differences are not exaggerated."""
    fig.update_yaxes(rangemode="tozero", title=measure.short)
    if measure.kind == "share":
        fig.update_yaxes(tickformat=".0%")
    elif measure.kind == "money":
        fig.update_yaxes(tickprefix="$", tickformat=",.0f")


def _dash_not_enrolled(fig: go.Figure) -> None:
    fig.for_each_trace(
        lambda trace: (
            trace.update(line=dict(dash="dash")) if trace.name in NOT_ENROLLED_LABELS else None
        )
    )


def _hover(measure: Measure, period: str, who: str) -> str:
    """Exact value and unit, the period, and the denominators behind the ratio."""
    return (
        f"<b>{who}</b><br>%{{x}}<br>{measure.short}: {measure.hover('y')}"
        "<br>Member-months: %{customdata[0]}"
        "<br>Admissions: %{customdata[1]} · discharges: %{customdata[2]}"
        "<extra></extra>"
    )


def _counts_text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The counts as hover text: a suppressed one reads "fewer than 11", not NaN."""
    flags = (
        frame["suppressed"].fillna("").astype(str).str.split(";")
        if "suppressed" in frame.columns
        else pd.Series([[]] * len(frame), index=frame.index)
    )
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        out[f"{column}_text"] = [
            suppressed_text()
            if column in hidden
            else format_value(None if pd.isna(value) else float(value), "count")
            for value, hidden in zip(frame[column], flags, strict=True)
        ]
    return out


def _period_axis(fig: go.Figure, period: str, periods: list[str]) -> None:
    """Ordered category x axis; months get a few horizontal "Jan 2024" ticks, not every label.

    The x values stay "YYYY-MM", so the hover (and the figure's data) keep the exact month.
    """
    fig.update_xaxes(type="category", categoryorder="category ascending", title=None)
    if period != "month" or len(set(periods)) <= 12:
        return
    ordered = sorted(set(periods))
    step = 3 if len(ordered) <= 24 else 6 if len(ordered) <= 60 else 12
    ticks = [m for m in ordered if (int(m[5:7]) - 1) % step == 0] or ordered[::step]
    text = [pd.Timestamp(f"{m}-01").strftime("%b %Y") for m in ticks]
    fig.update_xaxes(tickmode="array", tickvals=ticks, ticktext=text, tickangle=0)


HOVER_COLUMNS: Final = ["member_months", "admissions", "discharges"]
HOVER_TEXT: Final = [f"{column}_text" for column in HOVER_COLUMNS]


def trend_by_group(
    frame: pd.DataFrame,
    *,
    period: Period,
    group: Literal["program_model", "population"],
    measure: Measure,
    title: str,
    subtitle: str,
) -> go.Figure:
    """One line per program model (or enrolled / not enrolled) over time."""
    labels = GROUP_LABELS if group == "program_model" else POPULATION_LABELS
    plot = frame.assign(
        group_label=frame[group].map(lambda code: labels.get(code, code)),
        **_counts_text(frame, HOVER_COLUMNS),
    )
    order = [labels[code] for code in labels if code in set(frame[group])]
    colours = LABEL_COLOURS if group == "program_model" else POPULATION_COLOURS
    fig = px.line(
        plot,
        x=period,
        y=measure.column,
        color="group_label",
        color_discrete_map=colours,
        category_orders={"group_label": order},
        custom_data=HOVER_TEXT,
        markers=len(plot[period].unique()) <= 24,
        render_mode="svg",
    )
    fig.for_each_trace(lambda t: t.update(hovertemplate=_hover(measure, period, t.name)))
    _dash_not_enrolled(fig)
    _period_axis(fig, period, list(plot[period]))
    _zero_based(fig, measure)
    return _titled(fig, title, subtitle)


def trend_by_state(
    frame: pd.DataFrame, *, period: Period, measure: Measure, title: str, subtitle: str
) -> go.Figure:
    """Small multiples, one per state: its enrolled members (solid) vs its not enrolled (dashed).

    Colour here tells the populations apart, so states get panels rather than 20 colours.
    """
    plot = frame.assign(
        population_label=frame["population"].map(POPULATION_LABELS),
        **_counts_text(frame, HOVER_COLUMNS),
    )
    states = sorted(plot["state_code"].unique())
    wrap = min(4, max(1, len(states)))
    rows = math.ceil(len(states) / wrap) if states else 1
    fig = px.line(
        plot,
        x=period,
        y=measure.column,
        color="population_label",
        color_discrete_map=POPULATION_COLOURS,
        category_orders={
            "population_label": list(POPULATION_LABELS.values()),
            "state_code": states,
        },
        facet_col="state_code",
        facet_col_wrap=wrap,
        facet_row_spacing=min(0.08, 0.5 / rows),
        custom_data=[*HOVER_TEXT, "state_code"],
        render_mode="svg",
        height=120 + 230 * rows,
    )
    fig.for_each_trace(
        lambda t: t.update(hovertemplate=_hover(measure, period, "%{customdata[3]} · " + t.name))
    )
    _dash_not_enrolled(fig)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    _period_axis(fig, period, list(plot[period]))
    fig.update_yaxes(matches="y", showticklabels=True)
    _zero_based(fig, measure)
    fig.update_yaxes(title=None)
    _titled(fig, title, subtitle)
    fig.update_layout(margin=dict(t=110))  # room for the panel titles under the subtitle
    return fig


def state_map(frame: pd.DataFrame, *, measure: Measure, title: str, subtitle: str) -> go.Figure:
    """A US choropleth of one measure by state (frame: state_code, state_name, measure...)."""
    fig = go.Figure(
        go.Choropleth(
            locations=frame["state_code"],
            locationmode="USA-states",
            z=frame[measure.column],
            text=frame["state_name"],
            customdata=pd.concat(
                [
                    _counts_text(frame, ["member_months"]),
                    frame["comparison"].map(
                        lambda v: measure.format(None if pd.isna(v) else float(v))
                    ),
                ],
                axis=1,
            ).to_numpy(),
            colorscale=COLOUR_SCALE,
            colorbar=dict(
                title=dict(text=measure.short),
                tickformat=".0%" if measure.kind == "share" else None,
                tickprefix="$" if measure.kind == "money" else None,
            ),
            hovertemplate=(
                f"<b>%{{text}}</b><br>{measure.short}: {measure.hover('z')}"
                "<br>Not enrolled, same state: %{customdata[1]}"
                "<br>Member-months: %{customdata[0]}<extra></extra>"
            ),
        )
    )
    fig.update_layout(geo=dict(scope="usa", showlakes=False), height=460)
    return _titled(fig, title, subtitle)


def dumbbell(frame: pd.DataFrame, *, measure: Measure, title: str, subtitle: str) -> go.Figure:
    """Before (open circle) and after (filled) per program, joined by a line.

    Frame: program_label, program_model, enrollments, pre_<m>, post_<m>, change_<m>,
    pct_change_<m>; one row per program with a defined pre and post value.
    """
    pre, post = f"pre_{measure.column}", f"post_{measure.column}"
    fig = go.Figure()
    connector_x: list[object] = []
    connector_y: list[object] = []
    for row in frame.itertuples(index=False):
        connector_x += [getattr(row, pre), getattr(row, post), None]
        connector_y += [row.program_label, row.program_label, None]
    fig.add_trace(
        go.Scatter(
            x=connector_x,
            y=connector_y,
            mode="lines",
            line=dict(color="#BBBBBB", width=3),
            hoverinfo="skip",
            showlegend=False,
            name="change",
        )
    )
    hover_tail = (
        "<br>Analysable enrollments: %{customdata[0]:,.0f}"
        f"<br>Change: %{{customdata[1]:{measure.d3_format}}}"
        "<br>Percent change: %{customdata[2]:+.1f}%<extra></extra>"
    )
    for model in PROGRAM_GROUPS:
        rows = frame[frame["program_model"] == model]
        if rows.empty:
            continue
        custom = rows[["enrollments", f"change_{measure.column}", f"pct_change_{measure.column}"]]
        for window, column, symbol in (
            ("Before", pre, "circle-open"),
            ("After", post, "circle"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=rows[column],
                    y=rows["program_label"],
                    mode="markers",
                    marker=dict(
                        symbol=symbol,
                        size=12,
                        color=MODEL_COLOURS[model],
                        line=dict(width=2, color=MODEL_COLOURS[model]),
                    ),
                    name=f"{group_label(model)}: {window.lower()}",
                    legendgroup=model,
                    meta=window.lower(),
                    customdata=custom.to_numpy(),
                    hovertemplate=(
                        f"<b>%{{y}}</b><br>{window} (6 months): {measure.hover('x')}" + hover_tail
                    ),
                    cliponaxis=False,
                )
            )
    fig.update_xaxes(rangemode="tozero", title=measure.short)
    # A little room either side so markers at 0 or at the maximum are not cut in half.
    ends = frame[[pre, post]].to_numpy(dtype=float)
    if ends.size and not pd.isna(ends).all():
        top = float(pd.Series(ends.ravel()).max())
        if top > 0:
            fig.update_xaxes(range=[-0.03 * top, 1.06 * top])
    if measure.kind == "share":
        fig.update_xaxes(tickformat=".0%")
    elif measure.kind == "money":
        fig.update_xaxes(tickprefix="$", tickformat=",.0f")
    fig.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=list(frame["program_label"])[::-1],
        title=None,
    )
    fig.update_layout(height=140 + 34 * max(len(frame), 3))
    return _titled(fig, title, subtitle)


def state_vs_selection(
    state_frame: pd.DataFrame,
    selection_frame: pd.DataFrame,
    *,
    period: Period,
    measure: Measure,
    state_label: str,
    selection_label: str,
    title: str,
    subtitle: str,
) -> go.Figure:
    """One state's line against all selected states pooled."""
    fig = go.Figure()
    for frame, name, colour, dash in (
        (selection_frame, selection_label, NATIONAL_COLOUR, "dot"),
        (state_frame, state_label, STATE_COLOUR, "solid"),
    ):
        fig.add_trace(
            go.Scatter(
                x=frame[period],
                y=frame[measure.column],
                name=name,
                mode="lines+markers" if len(frame) <= 24 else "lines",
                line=dict(color=colour, dash=dash, width=3),
                customdata=_counts_text(frame, HOVER_COLUMNS).to_numpy(),
                hovertemplate=_hover(measure, period, name),
            )
        )
    _period_axis(fig, period, [*selection_frame[period], *state_frame[period]])
    _zero_based(fig, measure)
    return _titled(fig, title, subtitle)


def ranking(
    frame: pd.DataFrame, *, measure: Measure, highlight: str, title: str, subtitle: str
) -> go.Figure:
    """Selected states sorted by one measure (lowest first), the profiled state highlighted."""
    ordered = frame.sort_values(measure.column, na_position="last")
    colours = [
        STATE_COLOUR if code == highlight else OTHER_STATES_COLOUR for code in ordered["state_code"]
    ]
    fig = go.Figure(
        go.Bar(
            x=ordered[measure.column],
            y=ordered["state_code"],
            orientation="h",
            marker=dict(color=colours),
            customdata=pd.concat(
                [_counts_text(ordered, ["member_months"]), ordered["state_name"]], axis=1
            ).to_numpy(),
            hovertemplate=(
                f"<b>%{{customdata[1]}}</b><br>{measure.short}: {measure.hover('x')}"
                "<br>Member-months: %{customdata[0]}<extra></extra>"
            ),
            name=measure.short,
        )
    )
    fig.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=list(ordered["state_code"])[::-1],
        title=None,
    )
    fig.update_xaxes(rangemode="tozero", title=measure.short)
    if measure.kind == "share":
        fig.update_xaxes(tickformat=".0%")
    elif measure.kind == "money":
        fig.update_xaxes(tickprefix="$", tickformat=",.0f")
    fig.update_layout(height=160 + 28 * max(len(ordered), 4), showlegend=False)
    return _titled(fig, title, subtitle)
