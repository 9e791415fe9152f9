"""WCAG 2.1 AA: the colours and the chart summaries by hand, then every page in Chromium.

The first tests need no browser: the theme's text and link colours and every chart colour
against the contrast WCAG asks (4.5:1 for text, 3:1 for lines, markers and bars), the second
cue beside colour, and the one-sentence summaries the charts carry, on small hand-built
frames with exact expected sentences.

The browser tests run axe-core (axe-playwright-python, which ships axe.min.js) with the rules
of WCAG 2.0 and 2.1 levels A and AA on every page, as leadership and as a state partner, each
signed in through a local OpenID Connect provider (tests/oidc_helpers.py), with the sidebar
open; the Audit log page as an admin. No serious or critical violation is allowed: the
project's markup and Streamlit's alike (none of Streamlit's remains in this layout, so there
is no allow-list). Then the keyboard: every filter, measure picker, tab and download of a
page is reached with Tab, with visible focus, and a keyboard-only journey opens Program
outcomes, chooses a state, switches to the table and downloads the CSV.

Needs the playwright package, Chromium at /usr/bin/chromium, oidc-provider-mock and
axe-playwright-python (requirements.txt). Without them the browser tests skip, and fail
under CI=true.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dashboard import charts
from dashboard.formatting import (
    EVENT_STUDY_LABELS,
    PREPOST_MEASURES,
    SUMMARY_MEASURES,
    markdown_text,
)
from data_access import access, db
from data_access.vocabulary import NOT_ENROLLED, PROGRAM_GROUPS
from tests.browser_helpers import (
    ROOT,
    SERIOUS,
    WAIT_MS,
    axe_violations,
    browser_missing,
    chromium_context,
    finished_runs,
    focused,
    new_context,
    open_app,
    query,
    selected_values,
    shows_focus,
    sign_in,
    tab_to,
    wait_for_drawn_charts,
    wait_for_new_run,
)
from tests.conftest import skip_or_fail
from tests.oidc_helpers import dashboard_with_sign_in, oidc_provider, write_secrets

ADMISSIONS = SUMMARY_MEASURES["admissions_per_1000_mm"]
COST = SUMMARY_MEASURES["cost_pmpm"]
READMISSIONS = SUMMARY_MEASURES["readmission_rate_30d"]
WHITE = "#FFFFFF"


# -- contrast, as WCAG 2.1 defines it --------------------------------------------------------


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def luminance(colour: str) -> float:
    r, g, b = (_channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, other: str) -> float:
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def over(colour: str, background: str, opacity: float) -> str:
    """`colour` at `opacity` drawn over `background`, as the browser blends it."""
    mixed = (
        round(opacity * a + (1 - opacity) * b)
        for a, b in zip(_rgb(colour), _rgb(background), strict=True)
    )
    return "#" + "".join(f"{v:02X}" for v in mixed)


@pytest.mark.parametrize(
    ("one", "other", "expected"),
    [
        ("#000000", "#FFFFFF", 21.0),
        ("#767676", "#FFFFFF", 4.54),  # the lightest grey that passes 4.5:1 on white
        ("#828180", "#FFFFFF", 3.89),  # Streamlit's default caption, which failed
        ("#FFFFFF", "#FFFFFF", 1.0),
    ],
)
def test_contrast_is_wcag_s_ratio(one: str, other: str, expected: float) -> None:
    assert round(contrast(one, other), 2) == expected


def test_over_blends_like_the_browser() -> None:
    # Streamlit's default text colour at 60%, the caption axe measured on white.
    assert over("#2F2D2B", WHITE, 0.6) == "#828180"


# -- the theme -------------------------------------------------------------------------------

THEME = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
# Streamlit 1.67 draws captions, help and placeholder text in the text colour at 60%
# opacity ("fadedText60"); the sidebar's background in the light theme is #F8F8F7.
CAPTION_OPACITY = 0.6
SIDEBAR = "#F8F8F7"


@pytest.mark.parametrize("background", [WHITE, SIDEBAR])
def test_theme_text_and_captions_reach_4_5_to_1(background: str) -> None:
    text = THEME["textColor"]
    assert contrast(text, background) >= 4.5
    assert contrast(over(text, background, CAPTION_OPACITY), background) >= 4.5


def test_theme_links_reach_4_5_to_1() -> None:
    assert contrast(THEME["linkColor"], WHITE) >= 4.5


def test_chart_text_matches_the_theme_and_reaches_4_5_to_1() -> None:
    assert THEME["textColor"] == charts.TEXT_COLOUR
    assert contrast(charts.MUTED_TEXT_COLOUR, WHITE) >= 4.5


# -- chart colours and the second cue --------------------------------------------------------

LINE_COLOURS = {
    **{f"model {code}": colour for code, colour in charts.MODEL_COLOURS.items()},
    "enrolled": charts.ENROLLED_COLOUR,
    "profiled state": charts.STATE_COLOUR,
    "pooled states": charts.NATIONAL_COLOUR,
    "other states' bars": charts.OTHER_STATES_COLOUR,
    "before-after connector": charts.CONNECTOR_COLOUR,
    "matched comparison": charts.COMPARISON_COLOUR,
}


@pytest.mark.parametrize("name", list(LINE_COLOURS))
def test_chart_lines_markers_and_bars_reach_3_to_1(name: str) -> None:
    assert contrast(LINE_COLOURS[name], WHITE) >= 3.0


def test_every_program_model_has_its_own_symbol_and_not_enrolled_is_grey() -> None:
    assert set(charts.MODEL_SYMBOLS) == set(PROGRAM_GROUPS)
    assert len(set(charts.MODEL_SYMBOLS.values())) == len(PROGRAM_GROUPS)
    red, green, blue = _rgb(charts.MODEL_COLOURS[NOT_ENROLLED])
    assert red == green == blue, "the comparison population stays grey"


def _trend_frame() -> pd.DataFrame:
    """Three months of two program models and the comparison population."""
    rows = [
        ("2024-01", "embedded", 40.0),
        ("2024-02", "embedded", 35.0),
        ("2024-03", "embedded", 30.0),
        ("2024-01", "hot_spotting", 100.0),
        ("2024-02", "hot_spotting", np.nan),  # suppressed or undefined: skipped
        ("2024-03", "hot_spotting", 112.5),
        ("2024-01", NOT_ENROLLED, 20.0),
        ("2024-02", NOT_ENROLLED, 20.0),
        ("2024-03", NOT_ENROLLED, 20.0),
    ]
    frame = pd.DataFrame(rows, columns=["month", "program_model", ADMISSIONS.column])
    return frame.assign(member_months=1000, admissions=30, discharges=30)


def test_trend_by_model_has_symbols_dark_text_and_its_summary() -> None:
    fig = charts.trend_by_group(
        _trend_frame(),
        period="month",
        group="program_model",
        measure=ADMISSIONS,
        title="Admissions by model",
        subtitle="TX",
    )
    symbols = {trace.name: (trace.marker.symbol, trace.mode) for trace in fig.data}
    assert symbols == {
        "Embedded": ("circle", "lines+markers"),
        "Hot spotting": ("triangle-up", "lines+markers"),
        "Not enrolled": ("x", "lines+markers"),
    }
    assert fig.layout.font.color == charts.TEXT_COLOUR
    assert fig.layout.title.subtitle.font.color == charts.MUTED_TEXT_COLOUR
    assert fig.layout.xaxis.tickfont.color == charts.MUTED_TEXT_COLOUR
    assert fig.layout.yaxis.title.font.color == charts.MUTED_TEXT_COLOUR
    assert charts.summary(fig) == (
        "From 2024-01 to 2024-03, admissions per 1,000 member-months rose for Hot spotting, "
        "fell for Embedded, and stayed level for Not enrolled; the largest change is for Hot "
        "spotting: up 12.5, from 100.0 in 2024-01 to 112.5 in 2024-03."
    )


@pytest.mark.parametrize(
    ("lines", "measure", "expected"),
    [
        pytest.param(
            {"Texas": [10.0, 12.0], "All selected states": [10.0, 9.5]},
            COST,
            "From 2024-Q1 to 2024-Q2, total cost per member per month rose for Texas, and fell "
            "for All selected states; the largest change is for Texas: up $2.00, from $10.00 "
            "in 2024-Q1 to $12.00 in 2024-Q2.",
            id="money",
        ),
        pytest.param(
            {"Enrolled in a program": [0.125, 0.1], "Not enrolled": [0.1, 0.1]},
            READMISSIONS,
            "From 2024-Q1 to 2024-Q2, all-cause 30-day readmission rate fell for Enrolled in "
            "a program, and stayed level for Not enrolled; the largest change is for Enrolled "
            "in a program: down 2.5 pts, from 12.5% in 2024-Q1 to 10.0% in 2024-Q2.",
            id="share",
        ),
        pytest.param(
            {"Texas": [np.nan, 5.0], "All selected states": [np.nan, np.nan]},
            ADMISSIONS,
            "Too few values of admissions per 1,000 member-months to show a trend.",
            id="one value",
        ),
        pytest.param(
            {"A": [1.0, 1.0], "B": [2.0, 2.0]},
            ADMISSIONS,
            "From 2024-Q1 to 2024-Q2, admissions per 1,000 member-months stayed level for A "
            "and B; none changed.",
            id="level",
        ),
    ],
)
def test_trend_summary(lines: dict[str, list[float]], measure: Any, expected: str) -> None:
    series = {
        name: pd.Series(values, index=["2024-Q1", "2024-Q2"]) for name, values in lines.items()
    }
    assert charts.trend_summary(series, measure) == expected


def test_trend_summary_counts_lines_beyond_those_it_names() -> None:
    series = {
        f"S{n}": pd.Series([10.0, 10.0 + delta], index=["2024", "2025"])
        for n, delta in enumerate([1, 2, -1, -3, 0, 4, -2])
    }
    assert charts.trend_summary(series, ADMISSIONS, noun="state lines") == (
        "From 2024 to 2025, admissions per 1,000 member-months rose on 3 of 7 state lines, "
        "fell on 3, and stayed level on 1; the largest change is for S5: up 4.0, from 10.0 "
        "in 2024 to 14.0 in 2025."
    )


def test_dumbbell_says_how_many_programs_fell_and_the_largest_change() -> None:
    measure = PREPOST_MEASURES["admissions_per_enrollment"]
    frame = pd.DataFrame(
        {
            "program_name": ["Bridge", "Coach", "Harbor"],
            "state_code": ["TX", "NM", "TX"],
            "program_model": ["embedded", "whole_health", "hot_spotting"],
            "program_label": ["Bridge (TX)", "Coach (NM)", "Harbor (TX)"],
            "enrollments": [40, 25, 12],
            "pre_admissions_per_enrollment": [1.0, 0.5, 2.0],
            "post_admissions_per_enrollment": [0.75, 0.5, 1.25],
            "change_admissions_per_enrollment": [-0.25, 0.0, -0.75],
            "pct_change_admissions_per_enrollment": [-25.0, 0.0, -37.5],
        }
    )
    fig = charts.dumbbell(frame, measure=measure, title="Pre/post", subtitle="all")
    assert charts.summary(fig) == (
        "After enrollment, admissions per enrollment (6 months) fell for 2 of 3 programs, rose "
        "for 0 and stayed level for 1; the largest change is for Harbor (TX): down 0.750, from "
        "2.000 before to 1.250 after."
    )
    # Shape and fill, not colour alone: open before, filled after, one shape per model.
    markers = {trace.name: trace.marker.symbol for trace in fig.data if trace.mode == "markers"}
    assert markers == {
        "Embedded: before": "circle-open",
        "Embedded: after": "circle",
        "Whole health: before": "diamond-open",
        "Whole health: after": "diamond",
        "Hot spotting: before": "triangle-up-open",
        "Hot spotting: after": "triangle-up",
    }


def test_map_names_the_lowest_and_highest_state_and_the_states_without_a_value() -> None:
    frame = pd.DataFrame(
        {
            "state_code": ["TX", "NM", "AZ"],
            "state_name": ["Texas", "New Mexico", "Arizona"],
            ADMISSIONS.column: [30.25, np.nan, 61.0],
            "comparison": [20.0, 21.0, 22.0],
            "member_months": [5000, 8, 4000],
        }
    )
    fig = charts.state_map(frame, measure=ADMISSIONS, title="Map", subtitle="all")
    assert charts.summary(fig) == (
        "Among 2 states, admissions per 1,000 member-months is lowest in Texas (30.2) and "
        "highest in Arizona (61.0). 1 state has no value shown (undefined or suppressed)."
    )


def test_ranking_marks_the_profiled_state_beyond_colour_and_says_its_rank() -> None:
    frame = pd.DataFrame(
        {
            "state_code": ["AZ", "NM", "TX", "OK"],
            "state_name": ["Arizona", "New Mexico", "Texas", "Oklahoma"],
            ADMISSIONS.column: [20.0, 20.0, 25.0, 15.0],
            "member_months": [900, 800, 700, 600],
        }
    )
    fig = charts.ranking(frame, measure=ADMISSIONS, highlight="NM", title="Rank", subtitle="")
    assert charts.summary(fig) == (
        "New Mexico ranks 2 of 4 (1 = lowest) on admissions per 1,000 member-months, at 20.0; "
        "the lowest is Oklahoma (15.0) and the highest Texas (25.0)."
    )
    (bars,) = fig.data
    assert list(bars.y) == ["OK", "AZ", "NM", "TX"]
    assert list(bars.marker.pattern.shape) == ["", "", "/", ""]
    assert list(fig.layout.yaxis.ticktext) == ["TX", "<b>▶ NM</b>", "AZ", "OK"]


def test_event_study_marks_its_groups_beyond_colour_and_says_what_it_shows() -> None:
    months = [-2, -1, 1, 2]
    frame = pd.DataFrame(
        {
            "relative_month": months,
            "enrolled_mean": [0.10, 0.40, 0.05, 0.30],
            "enrolled_ci_low": [0.05, 0.30, 0.01, 0.25],
            "enrolled_ci_high": [0.15, 0.50, 0.09, 0.35],
            "comparison_mean": [0.10, 0.42, 0.08, 0.10],
            "comparison_ci_low": [0.06, 0.35, 0.04, 0.05],
            "comparison_ci_high": [0.14, 0.49, 0.12, 0.15],
        }
    )
    fig = charts.event_study(
        frame,
        measure=EVENT_STUDY_LABELS["admissions_per_enrollment"],
        title="t",
        subtitle="s",
    )
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    styles = {(t.name, t.marker.symbol, t.line.dash, t.line.color) for t in lines}
    assert styles == {
        ("Enrolled members", "circle", "solid", charts.ENROLLED_COLOUR),
        ("Matched comparison", "x", "dash", charts.COMPARISON_COLOUR),
    }
    # No line joins month -1 to +1: each side of the index date is its own trace.
    assert sorted(tuple(t.x) for t in lines) == [(-2, -1), (-2, -1), (1, 2), (1, 2)]
    assert charts.summary(fig) == (
        "In the 6 months before the index date, admissions per enrollment per month averaged "
        "0.250 for enrolled members against 0.260 for their matched comparison; in the 6 "
        "after, 0.175 for enrolled members against 0.090 for their matched comparison; their "
        "95% bands do not overlap in 1 of 2 months after (1 with enrolled members higher, 0 "
        "lower)."
    )


def test_markdown_text_shows_money_and_names_literally() -> None:
    assert markdown_text("from $1.00 to $2.50 for A_b (TX) *") == (
        r"from \$1.00 to \$2.50 for A\_b \(TX\) \*"
    )


# -- in the browser --------------------------------------------------------------------------

LEADER = "leader@example.org"
PARTNER = "tx.partner@example.org"
ADMIN = "admin@example.org"
VIEWERS = {LEADER: "leadership", PARTNER: "state_partner", ADMIN: "admin"}

# URL path and the charts it draws, for leadership and for a partner granted TX alone (who
# has no ranking: one state has nothing to rank; and on Program outcomes no before/after
# chart: over the default months every TX program's after-figures are fewer than 11, so the
# page says so and draws only the matched comparison's effects).
PAGES: dict[str, tuple[str, int, int]] = {
    "overview": ("", 2, 2),
    "trends": ("trends", 1, 1),
    "program_outcomes": ("program_outcomes", 2, 1),
    "impact": ("impact", 1, 1),
    "state_profile": ("state_profile", 2, 1),
    "downloads": ("downloads", 0, 0),
    "about_the_data": ("about_the_data", 0, 0),
}
SCANS = [
    *((LEADER, name) for name in PAGES),
    *((PARTNER, name) for name in PAGES),
    (ADMIN, "audit_log"),
]


@pytest.fixture(scope="module")
def ready() -> None:
    """Checked before anything slow: playwright, Chromium, the provider and axe are here."""
    problem = browser_missing()
    for module, package in (
        ("oidc_provider_mock", "oidc-provider-mock"),
        ("axe_playwright_python", "axe-playwright-python"),
    ):
        if problem is None and importlib.util.find_spec(module) is None:
            problem = f"{package} is not installed (pip install -r requirements.txt)"
    if problem:
        skip_or_fail(problem)


@pytest.fixture(scope="module")
def database_url(ready: None, loaded_sample_sqlite: str, tmp_path_factory) -> str:
    """A copy of the loaded sample with the three viewers granted."""
    copy = tmp_path_factory.mktemp("accessibility") / "outcomes.sqlite"
    shutil.copyfile(loaded_sample_sqlite.removeprefix("sqlite:///"), copy)
    url = f"sqlite:///{copy}"
    engine = db.get_engine(url)
    try:
        for email, role in VIEWERS.items():
            states = ["TX"] if role == "state_partner" else None
            access.grant(email=email, role=role, states=states, granted_by="test", engine=engine)
    finally:
        db.dispose_engines()  # the server opens its own connections
    return url


@pytest.fixture(scope="module")
def app_url(database_url: str, tmp_path_factory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("accessibility_servers")
    with oidc_provider(logs) as provider:
        secrets_file = write_secrets(logs, provider)
        with dashboard_with_sign_in(database_url, secrets_file, logs) as server:
            yield server.url


@pytest.fixture(scope="module")
def signed_in(app_url: str) -> Iterator[dict[str, Any]]:
    """email -> a browser context signed in as that viewer (its own cookies)."""
    with chromium_context() as first:
        contexts: dict[str, Any] = {}
        try:
            for email in VIEWERS:
                context = first if not contexts else new_context(first.browser)
                contexts[email] = context
                page = context.new_page()
                sign_in(page, app_url, email)
                page.close()
            yield contexts
        finally:
            for context in contexts.values():
                if context is not first:
                    context.close()


@pytest.fixture
def tab_of(signed_in: dict[str, Any]) -> Iterator[Any]:
    """Opens a tab as a viewer; an uncaught JavaScript error in it fails the test."""
    pages: list[Any] = []
    errors: list[str] = []

    def open_tab(email: str) -> Any:
        page = signed_in[email].new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        pages.append(page)
        return page

    yield open_tab
    for page in pages:
        page.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"


def _open(page: Any, app_url: str, name: str, email: str) -> None:
    """Open a page as `email` and wait until its charts are drawn, with the sidebar open."""
    path, leader_charts, partner_charts = PAGES.get(name, (name, 0, 0))
    open_app(page, app_url, path)
    expected = partner_charts if VIEWERS[email] == "state_partner" else leader_charts
    if expected:
        page.get_by_test_id("stPlotlyChart").nth(expected - 1).wait_for(state="attached")
    assert wait_for_drawn_charts(page) == expected
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_attribute("data-collapsed") == "false" and sidebar.is_visible()


def _report(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['rule']} ({v['impact']}) at {v['target']}: {v['why']}\n    {v['html']}"
        for v in violations
    )


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize(("email", "name"), SCANS, ids=[f"{VIEWERS[e]}-{n}" for e, n in SCANS])
def test_no_serious_or_critical_wcag_violation(
    tab_of: Any, app_url: str, email: str, name: str
) -> None:
    page = tab_of(email)
    _open(page, app_url, name, email)
    assert page.get_by_test_id("stMain").locator("h1").count() == 1
    if name == "downloads":
        # The previews are built when asked for: one is shown, so its table is scanned too.
        since = finished_runs(page)
        # (By the keyboard: the switch's label lies over its input.)
        page.get_by_role("switch", name="Show the first 50 rows").first.focus()
        page.keyboard.press("Space")
        wait_for_new_run(page, since)
        page.get_by_test_id("stDataFrame").first.wait_for()
    serious = [v for v in axe_violations(page) if v["impact"] in SERIOUS]
    assert serious == [], _report(serious)


# What a keyboard user must reach on every page: each filter, each measure picker and radio
# group, the open tab of each chart (the other is one arrow key away), each download button.
REACHABLE_SCRIPT = """
() => {
    const visible = (e) => e.getClientRects().length > 0 && !e.disabled;
    const targets = [
        ...document.querySelectorAll("input[role=combobox]"),
        ...document.querySelectorAll("[role=radiogroup]"),
        ...document.querySelectorAll("[data-testid=stSlider] [role=slider], " +
                                     "[data-testid=stSlider] input"),
        ...document.querySelectorAll("[role=tab][aria-selected=true]"),
        ...document.querySelectorAll("[data-testid=stDownloadButton] button"),
        ...document.querySelectorAll("[data-testid=stMain] [data-testid=stCheckbox] input"),
        ...document.querySelectorAll("[data-testid=stSidebar] button[kind=secondary]"),
    ].filter(visible);
    targets.forEach((e, i) => e.setAttribute("data-a11y-target", String(i)));
    return targets.length;
}
"""
REACHED_SCRIPT = """
() => {
    const e = document.activeElement && document.activeElement.closest("[data-a11y-target]");
    return e ? Number(e.getAttribute("data-a11y-target")) : null;
}
"""


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("name", list(PAGES))
def test_every_control_is_reached_with_tab_and_shows_focus(
    tab_of: Any, app_url: str, name: str
) -> None:
    page = tab_of(LEADER)
    _open(page, app_url, name, LEADER)
    count = page.evaluate(REACHABLE_SCRIPT)
    assert count >= 8, "the sidebar's filters at least"
    reached: dict[int, str] = {}
    without_focus: list[str] = []
    for _ in range(300):
        page.keyboard.press("Tab")
        target = page.evaluate(REACHED_SCRIPT)
        if target is not None and target not in reached:
            reached[target] = focused(page)
            if not shows_focus(page):
                without_focus.append(reached[target])
        if len(reached) == count:
            break
    missing = page.evaluate(
        """(reached) => Array.from(document.querySelectorAll("[data-a11y-target]"))
            .filter((e) => !reached.includes(Number(e.getAttribute("data-a11y-target"))))
            .map((e) => e.outerHTML.slice(0, 160))""",
        list(reached),
    )
    assert missing == [], f"not reached with Tab: {missing}"
    assert without_focus == [], f"no visible focus on {without_focus}"


@pytest.mark.browser
@pytest.mark.slow
def test_keyboard_only_journey_to_a_state_s_table_and_its_csv(
    tab_of: Any, app_url: str, tmp_path: Path
) -> None:
    page = tab_of(LEADER)
    open_app(page, app_url)
    wait_for_drawn_charts(page)

    # Open Program outcomes from the navigation.
    tab_to(page, "a:Program outcomes")
    assert shows_focus(page)
    since = finished_runs(page)
    page.keyboard.press("Enter")
    wait_for_new_run(page, since)
    assert page.get_by_test_id("stMain").locator("h1").inner_text() == "Program outcomes"

    # Choose a state: clear the States filter, type, pick the option, close the list.
    states = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").first
    tab_to(page, "button:Clear all")
    assert states.evaluate("(e) => e.contains(document.activeElement)"), "the States filter"
    assert shows_focus(page)
    since = finished_runs(page)
    page.keyboard.press("Enter")
    wait_for_new_run(page, since)
    tab_to(page, "combobox:States")
    assert shows_focus(page)
    page.keyboard.type("TX")
    page.get_by_role("option", name="TX · Texas", exact=True).wait_for()
    since = finished_runs(page)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_for_new_run(page, since)
    assert selected_values(page, "States") == ["TX · Texas"]
    assert query(page)["state"] == ["TX"]
    wait_for_drawn_charts(page)

    # Switch the pre/post chart to its table: Tab to its open tab, then the arrow key.
    tab_to(page, "tab:Chart")
    assert shows_focus(page)
    page.keyboard.press("ArrowRight")
    table_tab = page.get_by_role("tab", name="Table").first
    if table_tab.get_attribute("aria-selected") != "true":
        page.keyboard.press("Enter")
    assert focused(page) == "tab:Table"
    assert table_tab.get_attribute("aria-selected") == "true"
    panel = page.get_by_role("tabpanel").first
    panel.get_by_test_id("stDataFrame").wait_for(state="visible")
    serious = [v for v in axe_violations(page) if v["impact"] in SERIOUS]
    assert serious == [], _report(serious)

    # Download the CSV of the rows behind it.
    tab_to(page, re.compile(r"^button:Download the pre/post figures per program \(CSV"))
    assert shows_focus(page)
    with page.expect_download(timeout=WAIT_MS) as info:
        page.keyboard.press("Enter")
    download = info.value
    assert download.failure() is None
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows, "the download has rows"
    assert {row["state_code"] for row in rows} == {"TX"}
