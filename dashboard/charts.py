"""Plotly figure builders: small aggregated frames in, figures out (no Streamlit here).

One colour per program model on every page, from the Okabe–Ito colour-blind-safe palette
(orange and reddish purple darkened to reach 3:1 against white, WCAG 2.1's contrast for lines
and markers); the `not_enrolled` comparison population is always grey and dashed. A colour
never carries meaning alone: each program model also has its own marker symbol, before and
after are open and filled circles, the profiled state's bar is hatched and its label marked,
and provisional months are labelled in words. Chart text is dark enough for 4.5:1.

Every builder also writes a one-sentence summary of what the chart shows (the direction of
its lines, the largest change) into the figure (`summary`), which the page shows as text
under the chart, for screen readers and for anyone else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import pandas as pd
import plotly.graph_objects as go

from dashboard.formatting import (
    GROUP_LABELS,
    POPULATION_LABELS,
    Measure,
    format_change,
    format_value,
    group_label,
    suppressed_text,
)
from dashboard.memo import kept
from data_access.vocabulary import NOT_ENROLLED, PROGRAM_GROUPS, Period

# Okabe & Ito (2008), two of them darkened; grey for the comparison population. Each is at
# least 3:1 against the white plot (tests/test_accessibility.py measures them).
MODEL_COLOURS: Final = {
    "embedded": "#0072B2",  # blue
    "care_advocacy": "#B57C00",  # orange, darkened from #E69F00
    "whole_health": "#009E73",  # bluish green
    "hot_spotting": "#B8639A",  # reddish purple, darkened from #CC79A7
    NOT_ENROLLED: "#767676",  # grey
}
# A second cue beside colour: the legend and the lines show the same symbol.
MODEL_SYMBOLS: Final = {
    "embedded": "circle",
    "care_advocacy": "square",
    "whole_health": "diamond",
    "hot_spotting": "triangle-up",
    NOT_ENROLLED: "x",
}
ENROLLED_COLOUR: Final = "#000000"  # all enrolled members pooled
STATE_COLOUR: Final = "#D55E00"  # vermillion: the state of a profile
NATIONAL_COLOUR: Final = "#000000"  # all selected states pooled (dotted)
OTHER_STATES_COLOUR: Final = "#6F8FAF"
CONNECTOR_COLOUR: Final = "#8F8F8F"  # the line from before to after
COLOUR_SCALE: Final = "Cividis"  # sequential, readable with every colour-vision deficiency
TEXT_COLOUR: Final = "#111111"  # the theme's text colour (.streamlit/config.toml)
MUTED_TEXT_COLOUR: Final = "#454545"  # ticks, axis titles, subtitles: 9.6:1 on white
PROVISIONAL_FILL: Final = "rgba(118, 118, 118, 0.12)"

POPULATION_COLOURS: Final = {
    POPULATION_LABELS["enrolled"]: ENROLLED_COLOUR,
    POPULATION_LABELS[NOT_ENROLLED]: MODEL_COLOURS[NOT_ENROLLED],
}
POPULATION_SYMBOLS: Final = {
    POPULATION_LABELS["enrolled"]: "circle",
    POPULATION_LABELS[NOT_ENROLLED]: MODEL_SYMBOLS[NOT_ENROLLED],
}
LABEL_COLOURS: Final = {GROUP_LABELS[code]: colour for code, colour in MODEL_COLOURS.items()}
LABEL_SYMBOLS: Final = {GROUP_LABELS[code]: symbol for code, symbol in MODEL_SYMBOLS.items()}
NOT_ENROLLED_LABELS: Final = {GROUP_LABELS[NOT_ENROLLED], POPULATION_LABELS[NOT_ENROLLED]}
# Markers on every point up to this many periods; beyond it, this many per line.
MARKED_POINTS: Final = 24

FONT: Final = dict(family="Source Sans Pro, Arial, sans-serif", size=13, color=TEXT_COLOUR)
MUTED_FONT: Final = dict(color=MUTED_TEXT_COLOUR)


# A trace's or the layout's properties, validated once by go.Figure. Data go in as numpy
# arrays: Plotly converts a pandas Series through narwhals, at about a millisecond each.
Props = dict[str, Any]


def _layout(title: str, subtitle: str, summary: str, **props: Any) -> Props:
    """Title, subtitle, readable text colours (Streamlit's chart theme greys the ticks and
    subtitle to about 3.8:1; explicit colours win over its template), and the summary.

    `props` are the chart's own layout properties; its `legend` and `margin` add to these.
    """
    layout: Props = dict(
        title=dict(
            text=title,
            font=dict(color=TEXT_COLOUR),
            subtitle=dict(text=subtitle, font=dict(color=MUTED_TEXT_COLOUR, size=13)),
        ),
        font=FONT,
        margin=dict(t=80, l=10, r=10, b=10),
        hoverlabel=dict(align="left"),
        legend=dict(font=dict(color=TEXT_COLOUR)),
        meta=dict(summary=summary),
    )
    for key, value in props.items():
        layout[key] = {**layout[key], **value} if key in ("legend", "margin") else value
    return layout


def _axis(title: str | None = None, **props: Any) -> Props:
    """An axis with readable tick and title text (see `_layout`)."""
    return dict(title=dict(text=title, font=MUTED_FONT), tickfont=MUTED_FONT, **props)


def summary(fig: go.Figure) -> str:
    """The one-sentence summary a builder wrote into the figure ("" for other figures)."""
    meta = fig.layout.meta
    return str(meta.get("summary", "")) if isinstance(meta, dict) else ""


# -- summaries in words ----------------------------------------------------------------------


def _lower_first(label: str) -> str:
    """ "Average length of stay" -> "average length of stay"; "PMPM ..." stays."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _amount(change: float, measure: Measure) -> str:
    """The size of a change without its sign: "12.3", "$4.10", "2.6 pts"."""
    return (format_change(abs(change), measure.kind) or "").lstrip("+")


def _moved(change: float) -> str:
    return "rose" if change > 0 else "fell" if change < 0 else "stayed level"


def trend_summary(
    lines: Mapping[str, pd.Series], measure: Measure, *, listed: int = 6, noun: str = "lines"
) -> str:
    """The direction of each line (first to last value shown) and the largest change.

    `lines`: name -> values indexed by period, in order; NaN (undefined or suppressed) is
    skipped, as the chart skips it. Up to `listed` lines are named, more are counted.
    """
    moves: dict[str, tuple[str, float, str, float]] = {}
    periods: list[str] = []
    for name, values in lines.items():
        shown = values.dropna()
        periods += [str(period) for period in shown.index]
        if len(shown) >= 2:
            first, last = shown.index[0], shown.index[-1]
            moves[name] = (str(first), float(shown.iloc[0]), str(last), float(shown.iloc[-1]))
    what = _lower_first(measure.label)
    if not moves:
        return f"Too few values of {what} to show a trend."
    by_direction: dict[str, list[str]] = {verb: [] for verb in ("rose", "fell", "stayed level")}
    for name, (_, first_value, _, last_value) in moves.items():
        by_direction[_moved(last_value - first_value)].append(name)
    if len(moves) <= listed:
        parts = [f"{verb} for {_names(names)}" for verb, names in by_direction.items() if names]
    else:
        counted = [(verb, len(names)) for verb, names in by_direction.items() if names]
        parts = [f"{counted[0][0]} on {counted[0][1]} of {len(moves)} {noun}"] + [
            f"{verb} on {count}" for verb, count in counted[1:]
        ]
    name, (start, first_value, end, last_value) = max(
        moves.items(), key=lambda item: abs(item[1][3] - item[1][1])
    )
    change = last_value - first_value
    largest = (
        f"the largest change is for {name}: {'up' if change > 0 else 'down'} "
        f"{_amount(change, measure)}, from {measure.format(first_value)} in {start} to "
        f"{measure.format(last_value)} in {end}"
        if change
        else "none changed"
    )
    # A serial comma between the parts: each part may hold an "and" of its own.
    moved = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])}, and {parts[-1]}"
    return f"From {min(periods)} to {max(periods)}, {what} {moved}; {largest}."


def _extremes(names: pd.Series, values: pd.Series, measure: Measure) -> tuple[str, str]:
    """ "Texas (30.2)" for the lowest and the highest value shown (first name on a tie)."""
    shown = pd.DataFrame({"name": names, "value": values}).dropna(subset=["value"])
    shown = shown.sort_values(["value", "name"], kind="stable")
    low, high = shown.iloc[0], shown.iloc[-1]
    return (
        f"{low['name']} ({measure.format(float(low['value']))})",
        f"{high['name']} ({measure.format(float(high['value']))})",
    )


def _not_shown(count: int, noun: str) -> str:
    if not count:
        return ""
    return (
        f" {count} {noun}{' has' if count == 1 else 's have'} no value shown "
        "(undefined or suppressed)."
    )


def map_summary(names: pd.Series, values: pd.Series, measure: Measure) -> str:
    """Where the measure is lowest and highest among the states drawn."""
    what = _lower_first(measure.label)
    count = int(values.notna().sum())
    missing = _not_shown(len(values) - count, "state")
    if count == 0:
        return f"No state has a value of {what} to show.{missing}"
    if count == 1:
        low, _ = _extremes(names, values, measure)
        return f"Only {low} has a value of {what}.{missing}"
    low, high = _extremes(names, values, measure)
    return f"Among {count} states, {what} is lowest in {low} and highest in {high}.{missing}"


def prepost_summary(names: pd.Series, before: pd.Series, after: pd.Series, measure: Measure) -> str:
    """How many programs fell or rose from before to after, and the largest change."""
    what = _lower_first(measure.label)
    rows = pd.DataFrame({"name": names, "before": before, "after": after}).dropna()
    if rows.empty:
        return f"No program has a value of {what} both before and after enrollment."
    change = rows["after"] - rows["before"]
    counts = {verb: int((change.map(_moved) == verb).sum()) for verb in ("fell", "rose")}
    level = len(rows) - counts["fell"] - counts["rose"]
    parts = [f"fell for {counts['fell']} of {len(rows)} programs", f"rose for {counts['rose']}"]
    if level:
        parts.append(f"stayed level for {level}")
    biggest = rows.iloc[int(change.abs().to_numpy().argmax())]
    delta = float(biggest["after"] - biggest["before"])
    largest = (
        f"the largest change is for {biggest['name']}: {'up' if delta > 0 else 'down'} "
        f"{_amount(delta, measure)}, from {measure.format(float(biggest['before']))} before "
        f"to {measure.format(float(biggest['after']))} after"
        if delta
        else "none changed"
    )
    return f"After enrollment, {what} {', '.join(parts[:-1])} and {parts[-1]}; {largest}."


def ranking_summary(
    codes: pd.Series, names: pd.Series, values: pd.Series, highlight: str, measure: Measure
) -> str:
    """The highlighted state's rank (1 = lowest; ties share a rank) and the extremes."""
    what = _lower_first(measure.label)
    shown = values.dropna()
    missing = _not_shown(len(values) - len(shown), "state")
    mine = values[codes == highlight]
    name = names[codes == highlight]
    who = str(name.iloc[0]) if len(name) else highlight
    if shown.empty:
        return f"No state has a value of {what} to rank.{missing}"
    low, high = _extremes(names, values, measure)
    if mine.empty or pd.isna(mine.iloc[0]):
        place = f"{who} has no value of {what} shown"
    else:
        rank = int((shown < float(mine.iloc[0])).sum()) + 1
        place = (
            f"{who} ranks {rank} of {len(shown)} (1 = lowest) on {what}, "
            f"at {measure.format(float(mine.iloc[0]))}"
        )
    return f"{place}; the lowest is {low} and the highest {high}.{missing}"


def _zero_based(measure: Measure) -> Props:
    """Rates, counts and money start at zero so that differences are not exaggerated."""
    if measure.kind == "share":
        return dict(rangemode="tozero", tickformat=".0%")
    if measure.kind == "money":
        return dict(rangemode="tozero", tickprefix="$", tickformat=",.0f")
    return dict(rangemode="tozero")


def _dash(name: str) -> str:
    return "dash" if name in NOT_ENROLLED_LABELS else "solid"


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


def _period_axis(period: str, periods: list[str]) -> Props:
    """Ordered category x axis; months get a few horizontal "Jan 2024" ticks, not every label.

    The x values stay "YYYY-MM", so the hover (and the figure's data) keep the exact month.
    """
    axis: Props = dict(type="category", categoryorder="category ascending")
    if period != "month" or len(set(periods)) <= 12:
        return axis
    ordered = sorted(set(periods))
    step = 3 if len(ordered) <= 24 else 6 if len(ordered) <= 60 else 12
    ticks = [m for m in ordered if (int(m[5:7]) - 1) % step == 0] or ordered[::step]
    text = [pd.Timestamp(f"{m}-01").strftime("%b %Y") for m in ticks]
    return dict(axis, tickmode="array", tickvals=ticks, ticktext=text, tickangle=0)


def _lines(
    frame: pd.DataFrame, name: str, period: str, value: str, order: Sequence[str] = ()
) -> dict[str, pd.Series]:
    """name -> its values by period, in period order (names in `order` first)."""
    lines = {
        str(key): rows.set_index(period)[value].sort_index()
        for key, rows in frame.groupby(name, sort=True)
    }
    return {key: lines[key] for key in [*order, *sorted(lines)] if key in lines}


def _marked(symbol: str, points: int) -> Props:
    """A line's own marker symbol; on long lines only some of its points carry one."""
    return dict(
        mode="lines+markers",
        marker=dict(
            symbol=symbol, size=8, maxdisplayed=0 if points <= MARKED_POINTS else MARKED_POINTS // 2
        ),
    )


def _groups(
    frame: pd.DataFrame, columns: list[str], orders: list[list[str]]
) -> list[tuple[tuple[str, ...], pd.DataFrame]]:
    """The frame's rows by the values of `columns`, in the order plotly express drew them:
    each column's values in its order, then the values it does not name as they first appear.
    Rows with an empty key are not drawn."""
    full = [
        list(dict.fromkeys([*order, *map(str, frame[column].dropna())]))
        for column, order in zip(columns, orders, strict=True)
    ]
    groups = [(tuple(map(str, key)), rows) for key, rows in frame.groupby(columns, sort=False)]
    return sorted(
        groups, key=lambda group: [o.index(v) for o, v in zip(full, group[0], strict=True)]
    )


def provisional_periods(frame: pd.DataFrame, period: str) -> list[str]:
    """The periods of the frame whose claims may still be arriving, in order."""
    if "provisional" not in frame.columns or frame.empty:
        return []
    flagged = frame.loc[frame["provisional"].fillna(False).astype(bool), period]
    return sorted({str(p) for p in flagged})


def provisional_words(periods: Sequence[str]) -> str:
    """The sentence a chart's summary ends with when it draws provisional periods."""
    if not periods:
        return ""
    span = periods[0] if len(periods) == 1 else f"{periods[0]} to {periods[-1]}"
    return (
        f" {span} {'is' if len(periods) == 1 else 'are'} provisional (shaded): their claims "
        "are still arriving, so their figures will still change."
    )


def _shade_provisional(
    periods: Sequence[str], all_periods: list[str], panels: Sequence[str] = ("",)
) -> Props:
    """A grey band over the provisional periods at the end of the axis of each panel ("", "2",
    ...), labelled in words over the first: the layout's shapes and annotations."""
    if not periods:
        return dict(shapes=[], annotations=[])
    ordered = sorted(set(all_periods))
    first = ordered.index(periods[0]) if periods[0] in ordered else len(ordered)
    band = dict(
        type="rect",
        x0=first - 0.5,
        x1=len(ordered) - 0.5,
        y0=0,
        y1=1,
        fillcolor=PROVISIONAL_FILL,
        line=dict(width=0),
        layer="below",
    )
    label = dict(
        x=first - 0.5,
        y=1,
        xref="x",
        yref="paper",
        xanchor="left",
        yanchor="bottom",
        text="Provisional ▸",
        showarrow=False,
        font=dict(color=MUTED_TEXT_COLOUR, size=12),
    )
    shapes = [dict(band, xref=f"x{panel}", yref=f"y{panel} domain") for panel in panels]
    return dict(shapes=shapes, annotations=[label])


HOVER_COLUMNS: Final = ["member_months", "admissions", "discharges"]
HOVER_TEXT: Final = [f"{column}_text" for column in HOVER_COLUMNS]


def _group_line(
    rows: pd.DataFrame,
    name: str,
    *,
    period: str,
    measure: Measure,
    colour: str | None,
    panel: str = "",
) -> Props:
    """One line as plotly express drew it: its colour, and solid unless not enrolled."""
    return dict(
        type="scatter",
        x=rows[period].to_numpy(),
        y=rows[measure.column].to_numpy(),
        name=name,
        legendgroup=name,
        mode="lines",
        line=dict(color=colour, dash=_dash(name)),
        marker=dict(symbol="circle"),
        orientation="v",
        xaxis=f"x{panel}",
        yaxis=f"y{panel}",
    )


def _legend_once(traces: list[Props]) -> list[Props]:
    """Each name in the legend once, at its first line."""
    seen: set[str] = set()
    for trace in traces:
        trace["showlegend"] = trace["name"] not in seen
        seen.add(trace["name"])
    return traces


@kept
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
    # Only the columns drawn: each line's rows are cut from this frame.
    plot = frame[[period, measure.column]].assign(
        group_label=frame[group].map(lambda code: labels.get(code, code)),
        **_counts_text(frame, HOVER_COLUMNS),
    )
    order = [labels[code] for code in labels if code in set(frame[group])]
    colours = LABEL_COLOURS if group == "program_model" else POPULATION_COLOURS
    symbols = LABEL_SYMBOLS if group == "program_model" else POPULATION_SYMBOLS
    points = plot[period].nunique()
    traces = [
        {
            **_group_line(rows, name, period=period, measure=measure, colour=colours.get(name)),
            **_marked(symbols.get(name, "circle"), points),
            "customdata": rows[HOVER_TEXT].to_numpy(),
            "hovertemplate": _hover(measure, period, name),
        }
        for (name,), rows in _groups(plot, ["group_label"], [order])
    ]
    lines = _lines(plot, "group_label", period, measure.column, order)
    provisional = provisional_periods(frame, period)
    layout = _layout(
        title,
        subtitle,
        trend_summary(lines, measure) + provisional_words(provisional),
        xaxis=_axis(
            None, anchor="y", domain=[0.0, 1.0], **_period_axis(period, list(plot[period]))
        ),
        yaxis=_axis(measure.short, anchor="x", domain=[0.0, 1.0], **_zero_based(measure)),
        legend=dict(tracegroupgap=0),
        **_shade_provisional(provisional, list(plot[period])),
    )
    return go.Figure(data=_legend_once(traces), layout=layout)


def _panel(number: int) -> str:
    """A panel's axis suffix: "" for the first ("x", "y"), then "2", "3"..."""
    return "" if number == 1 else str(number)


def _panels(rows: int, wrap: int, row_spacing: float) -> list[tuple[list[float], list[float]]]:
    """The x and y domains of a grid of panels, `wrap` to a row, bottom row first, computed
    as plotly's make_subplots computes them (plotly express laid the panels out)."""
    column_spacing = 0.02
    widths = [(1.0 - column_spacing * (wrap - 1)) * (1.0 / float(wrap))] * wrap
    heights = [(1.0 - row_spacing * (rows - 1)) * (1.0 / float(rows))] * rows
    domains = []
    for row in range(rows):
        bottom = sum(heights[:row]) + row * row_spacing
        top = bottom + heights[row]
        for column in range(wrap):
            left = sum(widths[:column]) + column * column_spacing
            # make_subplots rounds a top just above 1 down to 1.
            domains.append(([left, left + widths[column]], [bottom, 1.0 if top > 1.0 else top]))
    return domains


def _facets(
    states: list[str], rows: int, wrap: int, row_spacing: float, axis: Props, value_axis: Props
) -> tuple[Props, list[Props], dict[str, str]]:
    """The panels' axes (x shared by all, tick labels on the bottom row; y shared), their
    titles (the state codes), and each state's panel ("", "2", ...)."""
    domains = _panels(rows, wrap, row_spacing)
    axes: Props = {}
    for number, (x_domain, y_domain) in enumerate(domains, start=1):
        panel = _panel(number)
        x = dict(anchor=f"y{panel}", domain=x_domain, **axis)
        if number > 1:
            x["matches"] = "x"
        if number > wrap:
            x["showticklabels"] = False
        axes[f"xaxis{panel}"] = _axis(None, **x)
        axes[f"yaxis{panel}"] = _axis(
            None,
            anchor=f"x{panel}",
            domain=y_domain,
            matches="y",
            showticklabels=True,
            **value_axis,
        )
    # States fill the grid from the top left; panels are numbered from the bottom left.
    numbers = {
        state: (rows - 1 - index // wrap) * wrap + index % wrap + 1
        for index, state in enumerate(states)
    }
    titles = [
        dict(
            text=state,
            x=sum(domains[number - 1][0]) / 2.0,
            y=domains[number - 1][1][1],
            xref="paper",
            yref="paper",
            xanchor="center",
            yanchor="bottom",
            showarrow=False,
        )
        for state, number in sorted(numbers.items(), key=lambda item: item[1])
    ]
    return axes, titles, {state: _panel(number) for state, number in numbers.items()}


@kept
def trend_by_state(
    frame: pd.DataFrame, *, period: Period, measure: Measure, title: str, subtitle: str
) -> go.Figure:
    """Small multiples, one per state: its enrolled members (solid) vs its not enrolled (dashed).

    Colour here tells the populations apart, so states get panels rather than 20 colours.
    """
    plot = frame[[period, measure.column, "state_code"]].assign(
        population_label=frame["population"].map(POPULATION_LABELS),
        **_counts_text(frame, HOVER_COLUMNS),
    )
    states = sorted(plot["state_code"].unique())
    wrap = min(4, max(1, len(states)))
    rows = math.ceil(len(states) / wrap) if states else 1
    row_spacing = min(0.08, 0.5 / rows)
    axes, titles, panels = _facets(
        states,
        rows,
        wrap,
        row_spacing,
        _period_axis(period, list(plot[period])),
        _zero_based(measure),
    )
    points = plot[period].nunique()
    traces = []
    for (name, state), lines_rows in _groups(
        plot, ["population_label", "state_code"], [list(POPULATION_LABELS.values()), states]
    ):
        trace = _group_line(
            lines_rows,
            name,
            period=period,
            measure=measure,
            colour=POPULATION_COLOURS.get(name),
            panel=panels[state],
        )
        # Small panels: markers only where a line has few points.
        if points <= MARKED_POINTS:
            trace.update(_marked(POPULATION_SYMBOLS.get(name, "circle"), points))
        trace["customdata"] = lines_rows[[*HOVER_TEXT, "state_code"]].to_numpy()
        trace["hovertemplate"] = _hover(measure, period, "%{customdata[3]} · " + name)
        traces.append(trace)
    lines = _lines(
        plot.assign(line=plot["state_code"] + " " + plot["population_label"].str.lower()),
        "line",
        period,
        measure.column,
    )
    provisional = provisional_periods(frame, period)
    drawn = sorted({trace["xaxis"][1:] for trace in traces}, key=lambda panel: int(panel or 1))
    shading = _shade_provisional(provisional, list(plot[period]), drawn)
    layout = _layout(
        title,
        subtitle,
        trend_summary(lines, measure, noun="state lines") + provisional_words(provisional),
        **axes,
        legend=dict(tracegroupgap=0),
        height=120 + 230 * rows,
        margin=dict(t=110),  # room for the panel titles under the subtitle
        shapes=shading["shapes"],
        annotations=titles + shading["annotations"],
    )
    return go.Figure(data=_legend_once(traces), layout=layout)


@kept
def state_map(frame: pd.DataFrame, *, measure: Measure, title: str, subtitle: str) -> go.Figure:
    """A US choropleth of one measure by state (frame: state_code, state_name, measure...)."""
    choropleth = dict(
        type="choropleth",
        locations=frame["state_code"].to_numpy(),
        locationmode="USA-states",
        z=frame[measure.column].to_numpy(),
        text=frame["state_name"].to_numpy(),
        customdata=pd.concat(
            [
                _counts_text(frame, ["member_months"]),
                frame["comparison"].map(lambda v: measure.format(None if pd.isna(v) else float(v))),
            ],
            axis=1,
        ).to_numpy(),
        colorscale=COLOUR_SCALE,
        colorbar=dict(
            title=dict(text=measure.short, font=MUTED_FONT),
            tickformat=".0%" if measure.kind == "share" else None,
            tickprefix="$" if measure.kind == "money" else None,
            tickfont=MUTED_FONT,
        ),
        # Dark outlines: every state's shape stands out from white and from its neighbours
        # at 3:1, whatever its fill.
        marker=dict(line=dict(color=MUTED_TEXT_COLOUR, width=0.6)),
        hovertemplate=(
            f"<b>%{{text}}</b><br>{measure.short}: {measure.hover('z')}"
            "<br>Not enrolled, same state: %{customdata[1]}"
            "<br>Member-months: %{customdata[0]}<extra></extra>"
        ),
    )
    summary = map_summary(frame["state_name"], frame[measure.column], measure)
    layout = _layout(
        title,
        subtitle,
        summary,
        geo=dict(scope="usa", showlakes=False),
        height=460,
        xaxis=_axis(),
        yaxis=_axis(),
    )
    return go.Figure(data=[choropleth], layout=layout)


def _zero_line(**props: Any) -> Props:
    """A dotted vertical line at x = 0 (a shape, as `fig.add_vline` draws it)."""
    return dict(
        type="line",
        x0=0,
        x1=0,
        xref="x",
        y0=0,
        y1=1,
        yref="y domain",
        line=dict(color=TEXT_COLOUR, width=1, dash="dot"),
        **props,
    )


def _category_axis(categories: list[str], **props: Any) -> Props:
    """A y axis of one row per category, in the order given (bottom first), untitled."""
    return _axis(None, type="category", categoryorder="array", categoryarray=categories, **props)


def effect_summary(frame: pd.DataFrame, measure: Measure) -> str:
    """How many programs' 95% intervals lie below zero, above it, or cross it."""
    rows = frame.dropna(subset=["effect", "effect_ci_low", "effect_ci_high"])
    what = _lower_first(measure.label)
    if rows.empty:
        return f"No program has a matched effect on {what} to show."
    below = int((rows["effect_ci_high"] < 0).sum())
    above = int((rows["effect_ci_low"] > 0).sum())
    unclear = len(rows) - below - above
    return (
        f"Against matched comparison groups, on {what}: {below} of {len(rows)} programs have "
        f"an interval wholly below zero, {above} wholly above it, and {unclear} cross zero "
        "(no difference that can be told from zero)."
    )


@kept
def effect_forest(frame: pd.DataFrame, *, measure: Measure, title: str, subtitle: str) -> go.Figure:
    """Each program's effect (difference in differences) with its 95% interval, coloured and
    shaped by model; the zero line marks no effect.

    Frame: program_label, program_model, effect, effect_ci_low, effect_ci_high,
    matched_enrollments; one row per program.
    """
    points = measure.kind == "share"
    scale = 100.0 if points else 1.0
    traces = []
    ordered = frame.sort_values(["program_model", "effect"], kind="stable")
    for model in PROGRAM_GROUPS:
        rows = ordered[ordered["program_model"] == model]
        if rows.empty:
            continue
        traces.append(
            dict(
                type="scatter",
                x=(rows["effect"] * scale).to_numpy(),
                y=rows["program_label"].to_numpy(),
                mode="markers",
                name=group_label(model),
                marker=dict(color=MODEL_COLOURS[model], symbol=MODEL_SYMBOLS[model], size=10),
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=((rows["effect_ci_high"] - rows["effect"]) * scale).to_numpy(),
                    arrayminus=((rows["effect"] - rows["effect_ci_low"]) * scale).to_numpy(),
                    color=MODEL_COLOURS[model],
                    thickness=2,
                ),
                customdata=rows[["effect_ci_low", "effect_ci_high", "matched_enrollments"]]
                .mul([scale, scale, 1])
                .to_numpy(),
                hovertemplate=(
                    "<b>%{y}</b><br>Effect: %{x:+.2f}"
                    + (" pts" if points else "")
                    + "<br>95% CI %{customdata[0]:+.2f} to %{customdata[1]:+.2f}"
                    "<br>Matched enrollments: %{customdata[2]:,.0f}<extra></extra>"
                ),
            )
        )
    unit = "percentage points" if points else measure.unit or "per enrollment"
    layout = _layout(
        title,
        subtitle,
        effect_summary(frame, measure),
        shapes=[_zero_line()],
        xaxis=_axis(f"Effect ({unit}): below zero, fewer than comparable members"),
        yaxis=_category_axis(list(ordered["program_label"])[::-1]),
        height=160 + 26 * max(len(ordered), 4),
    )
    return go.Figure(data=traces, layout=layout)


COMPARISON_COLOUR: Final = MODEL_COLOURS[NOT_ENROLLED]  # the matched comparison: grey, dashed
ENROLLED_BAND: Final = "rgba(0, 0, 0, 0.10)"
COMPARISON_BAND: Final = "rgba(118, 118, 118, 0.18)"


def event_study_summary(frame: pd.DataFrame, measure: Measure) -> str:
    """Both groups' mean month before and after the index date, and in how many months
    after it their 95% bands do not overlap."""
    shown = frame.dropna(subset=["enrolled_mean", "comparison_mean"])
    what = _lower_first(measure.short)
    if shown.empty:
        return f"No month of {what} can be shown for these filters."
    before = shown[shown["relative_month"] < 0]
    after = shown[shown["relative_month"] > 0]

    def means(rows: pd.DataFrame) -> str:
        return (
            f"{measure.format(float(rows['enrolled_mean'].mean()))} for enrolled members "
            f"against {measure.format(float(rows['comparison_mean'].mean()))} for their "
            "matched comparison"
        )

    parts = []
    if not before.empty:
        parts.append(f"in the 6 months before the index date, {what} averaged {means(before)}")
    if not after.empty:
        apart = after[
            (after["enrolled_ci_low"] > after["comparison_ci_high"])
            | (after["enrolled_ci_high"] < after["comparison_ci_low"])
        ]
        higher = int((apart["enrolled_mean"] > apart["comparison_mean"]).sum())
        parts.append(
            f"in the 6 after, {means(after)}; their 95% bands do not overlap in "
            f"{len(apart)} of {len(after)} months after ({higher} with enrolled members "
            f"higher, {len(apart) - higher} lower)"
        )
    hidden = len(frame) - len(shown)
    tail = (
        f" {hidden} suppressed month{'s are' if hidden != 1 else ' is'} not drawn."
        if hidden
        else ""
    )
    text = "; ".join(parts)
    return f"{text[0].upper()}{text[1:]}.{tail}"


@kept
def event_study(frame: pd.DataFrame, *, measure: Measure, title: str, subtitle: str) -> go.Figure:
    """Enrolled members (black, solid, circles) against their matched comparison (grey,
    dashed, crosses) month by month around the index date, each with its 95% band; a dotted
    line marks the index date between months -1 and +1.

    Frame: relative_month, enrolled_mean, enrolled_ci_low, enrolled_ci_high, comparison_mean,
    comparison_ci_low, comparison_ci_high; one row per month of one unit and measure.
    """
    rows = frame.sort_values("relative_month")
    traces: list[Props] = []
    for group, name, colour, band, symbol, dash in (
        ("comparison", "Matched comparison", COMPARISON_COLOUR, COMPARISON_BAND, "x", "dash"),
        ("enrolled", "Enrolled members", ENROLLED_COLOUR, ENROLLED_BAND, "circle", "solid"),
    ):
        # Each side of the index date is drawn apart, so no line joins month -1 to +1.
        for side, months in (
            ("before", rows["relative_month"] < 0),
            ("after", rows["relative_month"] > 0),
        ):
            part = rows[months]
            if part.empty:
                continue
            traces.append(
                dict(
                    type="scatter",
                    x=list(part["relative_month"]) + list(part["relative_month"])[::-1],
                    y=list(part[f"{group}_ci_high"]) + list(part[f"{group}_ci_low"])[::-1],
                    # Lines only (of width 0): the default would mark each corner.
                    mode="lines",
                    fill="toself",
                    fillcolor=band,
                    line=dict(width=0),
                    hoverinfo="skip",
                    showlegend=False,
                    name=f"{name}, 95% band",
                )
            )
            traces.append(
                dict(
                    type="scatter",
                    x=part["relative_month"].to_numpy(),
                    y=part[f"{group}_mean"].to_numpy(),
                    mode="lines+markers",
                    name=name,
                    legendgroup=group,
                    showlegend=side == "after" or not (rows["relative_month"] > 0).any(),
                    line=dict(color=colour, dash=dash, width=2.5),
                    marker=dict(color=colour, symbol=symbol, size=8),
                    customdata=part[[f"{group}_ci_low", f"{group}_ci_high"]].to_numpy(),
                    hovertemplate=(
                        f"<b>{name}</b><br>Month %{{x:+d}}: {measure.hover('y')}"
                        f"<br>95% band {measure.hover('customdata[0]')} to "
                        f"{measure.hover('customdata[1]')}<extra></extra>"
                    ),
                )
            )
    ticks = sorted(int(m) for m in rows["relative_month"])
    index_date = dict(
        text="index date",
        font=MUTED_FONT,
        showarrow=False,
        x=0,
        xref="x",
        xanchor="left",
        y=1,
        yref="y domain",
        yanchor="top",
    )
    layout = _layout(
        title,
        subtitle,
        event_study_summary(frame, measure),
        shapes=[_zero_line()],
        annotations=[index_date],
        xaxis=_axis(
            "Month relative to the index date (enrollment, or the comparison's date)",
            tickmode="array",
            tickvals=ticks,
            ticktext=[f"{m:+d}" for m in ticks],
        ),
        yaxis=_axis(
            measure.short,
            tickformat=measure.d3_format.replace("$", ""),
            rangemode="tozero",
            tickprefix="$" if measure.kind == "money" else None,
        ),
        legend=dict(orientation="h", y=-0.25),
    )
    return go.Figure(data=traces, layout=layout)


@kept
def dumbbell(frame: pd.DataFrame, *, measure: Measure, title: str, subtitle: str) -> go.Figure:
    """Before (open circle) and after (filled) per program, joined by a line.

    Frame: program_label, program_model, enrollments, pre_<m>, post_<m>, change_<m>,
    pct_change_<m>; one row per program with a defined pre and post value.
    """
    pre, post = f"pre_{measure.column}", f"post_{measure.column}"
    connector_x: list[object] = []
    connector_y: list[object] = []
    for before, after, label in zip(
        frame[pre].tolist(), frame[post].tolist(), frame["program_label"].tolist(), strict=True
    ):
        connector_x += [before, after, None]
        connector_y += [label, label, None]
    traces: list[Props] = [
        dict(
            type="scatter",
            x=connector_x,
            y=connector_y,
            mode="lines",
            line=dict(color=CONNECTOR_COLOUR, width=3),
            hoverinfo="skip",
            showlegend=False,
            name="change",
        )
    ]
    # A change in a share is in percentage points, not in percent (that is the next line).
    points = measure.kind == "share"
    change_format = (
        "%{customdata[1]:+.1f} pts" if points else f"%{{customdata[1]:{measure.d3_format}}}"
    )
    hover_tail = (
        "<br>Analysable enrollments: %{customdata[0]:,.0f}"
        f"<br>Change: {change_format}"
        "<br>Percent change: %{customdata[2]:+.1f}%<extra></extra>"
    )
    for model in PROGRAM_GROUPS:
        rows = frame[frame["program_model"] == model]
        if rows.empty:
            continue
        custom = rows[["enrollments", f"change_{measure.column}", f"pct_change_{measure.column}"]]
        if points:
            custom = custom.assign(**{f"change_{measure.column}": custom.iloc[:, 1] * 100})
        # Shape names the model as well as colour; open is before, filled after.
        for window, column, symbol in (
            ("Before", pre, f"{MODEL_SYMBOLS[model]}-open"),
            ("After", post, MODEL_SYMBOLS[model]),
        ):
            traces.append(
                dict(
                    type="scatter",
                    x=rows[column].to_numpy(),
                    y=rows["program_label"].to_numpy(),
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
    x_axis = _axis(measure.short, **_zero_based(measure))
    # A little room either side so markers at 0 or at the maximum are not cut in half.
    ends = frame[[pre, post]].to_numpy(dtype=float)
    if ends.size and not pd.isna(ends).all():
        top = float(pd.Series(ends.ravel()).max())
        if top > 0:
            x_axis["range"] = [-0.03 * top, 1.06 * top]
    names = (
        frame["program_name"] + " (" + frame["state_code"] + ")"
        if {"program_name", "state_code"} <= set(frame.columns)
        else frame["program_label"]
    )
    layout = _layout(
        title,
        subtitle,
        prepost_summary(names, frame[pre], frame[post], measure),
        xaxis=x_axis,
        yaxis=_category_axis(list(frame["program_label"])[::-1]),
        height=140 + 34 * max(len(frame), 3),
    )
    return go.Figure(data=traces, layout=layout)


@kept
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
    comparison_frame: pd.DataFrame | None = None,
    comparison_label: str = "",
) -> go.Figure:
    """One state's line against all selected states pooled, and against the state's own
    not-enrolled members (grey, dashed) when `comparison_frame` is given."""
    drawn = [
        (selection_frame, selection_label, NATIONAL_COLOUR, "dot"),
        (state_frame, state_label, STATE_COLOUR, "solid"),
    ]
    if comparison_frame is not None and not comparison_frame.empty:
        drawn.insert(0, (comparison_frame, comparison_label, MODEL_COLOURS[NOT_ENROLLED], "dash"))
    traces = [
        dict(
            type="scatter",
            x=frame[period].to_numpy(),
            y=frame[measure.column].to_numpy(),
            name=name,
            mode="lines+markers" if len(frame) <= MARKED_POINTS else "lines",
            line=dict(color=colour, dash=dash, width=3),
            customdata=_counts_text(frame, HOVER_COLUMNS).to_numpy(),
            hovertemplate=_hover(measure, period, name),
        )
        for frame, name, colour, dash in drawn
    ]
    lines = {
        name: frame.set_index(period)[measure.column].sort_index()
        for frame, name, _, _ in reversed(drawn)
    }
    frames = pd.concat([frame for frame, _, _, _ in drawn])
    provisional = provisional_periods(frames, period)
    layout = _layout(
        title,
        subtitle,
        trend_summary(lines, measure) + provisional_words(provisional),
        xaxis=_axis(None, **_period_axis(period, [p for f, _, _, _ in drawn for p in f[period]])),
        yaxis=_axis(measure.short, **_zero_based(measure)),
        **_shade_provisional(provisional, list(frames[period])),
    )
    return go.Figure(data=traces, layout=layout)


@kept
def ranking(
    frame: pd.DataFrame, *, measure: Measure, highlight: str, title: str, subtitle: str
) -> go.Figure:
    """Selected states sorted by one measure (lowest first), the profiled state highlighted."""
    ordered = frame.sort_values(measure.column, na_position="last")
    colours = [
        STATE_COLOUR if code == highlight else OTHER_STATES_COLOUR for code in ordered["state_code"]
    ]
    bar = dict(
        type="bar",
        x=ordered[measure.column].to_numpy(),
        y=ordered["state_code"].to_numpy(),
        orientation="h",
        # The profiled state's bar is hatched and its label marked, not only coloured.
        marker=dict(
            color=colours,
            pattern=dict(
                shape=["/" if code == highlight else "" for code in ordered["state_code"]],
                fillmode="overlay",
                fgcolor="#FFFFFF",
                solidity=0.3,
            ),
        ),
        customdata=pd.concat(
            [_counts_text(ordered, ["member_months"]), ordered["state_name"]], axis=1
        ).to_numpy(),
        hovertemplate=(
            f"<b>%{{customdata[1]}}</b><br>{measure.short}: {measure.hover('x')}"
            "<br>Member-months: %{customdata[0]}<extra></extra>"
        ),
        name=measure.short,
    )
    codes = list(ordered["state_code"])[::-1]
    summary = ranking_summary(
        ordered["state_code"], ordered["state_name"], ordered[measure.column], highlight, measure
    )
    layout = _layout(
        title,
        subtitle,
        summary,
        yaxis=_category_axis(
            codes,
            tickmode="array",
            tickvals=codes,
            ticktext=[f"<b>▶ {code}</b>" if code == highlight else code for code in codes],
        ),
        xaxis=_axis(measure.short, **_zero_based(measure)),
        height=160 + 28 * max(len(ordered), 4),
        showlegend=False,
    )
    return go.Figure(data=[bar], layout=layout)
