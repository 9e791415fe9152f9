"""The dashboard in a real browser: Chromium driven by Playwright against `streamlit run`.

One SQLite database loaded from the shipped sample, one Streamlit server and one Chromium per
module. Every page is opened, checked for its title and for exception or error boxes, and
photographed; a sidebar filter is changed and the chart and the URL must follow; a shared
link must set the sidebar; the Downloads page's CSV files must be byte for byte the
command-line export of the same filters.

Screenshots (1400x900 viewport) always go to test-output/screenshots/ (git-ignored). To
refresh the README's copies in docs/screenshots/, run

    UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/test_browser.py

or copy them after a run: `cp test-output/screenshots/*.png docs/screenshots/`.

Needs the playwright package and Chromium at /usr/bin/chromium (`make chromium`; set
CHROMIUM to use another binary). Without them the tests skip, and fail under CI=true.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dashboard.filters import default_months, months_between
from dashboard.formatting import GROUP_LABELS
from data_access import db, event_study, exports, impact, queries
from data_access.access import LOCAL_VIEWER
from data_access.filters import OutcomeFilter
from data_access.loader import load_directory
from data_access.vocabulary import NOT_ENROLLED
from tests.browser_helpers import (
    ROOT,
    WAIT_MS,
    browser_missing,
    checked_radio,
    choose_only,
    chromium_context,
    cli_arguments,
    dashboard_server,
    finish_cli_export,
    go_to,
    open_app,
    plot_traces,
    problems_shown,
    query,
    save_screenshot,
    selected_values,
    start_cli_export,
    wait_for_charts,
)
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

SAMPLE = Path(os.environ.get("DASHBOARD_TEST_DATA", ROOT / "sample_data"))
SCREENSHOTS = ROOT / "test-output" / "screenshots"
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
UPDATE_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS", "").lower() in {"1", "true", "yes"}

# page: (URL path given by st.navigation, navigation label, <h1>, Plotly charts drawn)
PAGES: dict[str, tuple[str, str, str, int]] = {
    "overview": ("", "Overview", "Peer support outcomes", 2),
    "trends": ("trends", "Trends", "Trends", 1),
    "program_outcomes": ("program_outcomes", "Program outcomes", "Program outcomes", 2),
    "impact": ("impact", "Impact", "Impact", 1),
    "state_profile": ("state_profile", "State profile", "State profile", 2),
    "follow_up": (
        "follow_up",
        "Follow-up after a stay",
        "Follow-up after a behavioral stay",
        2,
    ),
    "downloads": ("downloads", "Downloads", "Downloads", 0),
    "about_the_data": ("about_the_data", "About the data", "About the data", 0),
}
PREFERRED_STATE = "TX"
SETTING, SETTING_OPTION = "behavioral", "Behavioral stays"


@dataclass(frozen=True)
class Choice:
    """A state and one of its program models, with the labels the sidebar shows."""

    state: str
    state_option: str
    model: str
    model_option: str

    @property
    def link(self) -> str:
        """The query string of a shared link to this state and model, behavioral stays."""
        return f"?state={self.state}&model={self.model}&setting={SETTING}"


# -- fixtures: database, server, browser -----------------------------------------------------


@pytest.fixture(scope="module")
def browser_ready() -> None:
    """Checked before anything slow: the playwright package and Chromium are here."""
    problem = browser_missing()
    if problem:
        skip_or_fail(problem)


@pytest.fixture(scope="module")
def sample_url(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shipped sample loaded into a SQLite file, once for the module (30-60 s)."""
    path = tmp_path_factory.mktemp("browser") / "outcomes.sqlite"
    url = f"sqlite:///{path}"
    load_directory(SAMPLE, engine=db.get_engine(url))
    db.dispose_engines()  # the server and the CLI open their own connections
    return url


@pytest.fixture(scope="module")
def choice(sample_url: str) -> Choice:
    """TX (else the first state) and its program model with the most member-months in the
    months the app opens on: a model with figures to draw, whatever the sample holds (TX's
    whole-health program, for one, stopped enrolling years before those months)."""
    engine = db.get_engine(sample_url)
    try:
        states = queries.list_states(viewer=LOCAL_VIEWER, engine=engine)
        names = dict(zip(states["state_code"], states["state_name"], strict=True))
        state = PREFERRED_STATE if PREFERRED_STATE in names else next(iter(names))
        bounds = queries.month_bounds(viewer=LOCAL_VIEWER, engine=engine)
        assert bounds is not None, "the sample has months with data"
        first, last = default_months(
            months_between(*bounds), queries.last_complete_month(engine=engine)
        )
        summary = queries.outcome_summary(
            viewer=LOCAL_VIEWER,
            small_cells="show",
            filters=OutcomeFilter(states=(state,), month_from=first, month_to=last),
            period=None,
            by=("program_model",),
            engine=engine,
        )
    finally:
        db.dispose_engines()
    enrolled = summary[summary["program_model"] != NOT_ENROLLED]
    assert not enrolled.empty, f"{state} has enrolled members from {first} to {last}"
    model = str(enrolled.sort_values("member_months").iloc[-1]["program_model"])
    return Choice(state, f"{state} · {names[state]}", model, GROUP_LABELS[model])


@pytest.fixture(scope="module")
def app_url(sample_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard served on a free loopback port, stopped at the end of the module."""
    with dashboard_server(sample_url, tmp_path_factory.mktemp("server")) as server:
        yield server.url


@pytest.fixture(scope="module")
def context(browser_ready: None, app_url: str) -> Iterator[Any]:
    """One Chromium for the module; a context that accepts downloads."""
    with chromium_context() as browser_context:
        yield browser_context


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    """A new tab: a new Streamlit session, which reads its filters from the URL. An uncaught
    JavaScript error in it fails the test."""
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        tab.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"


def _eventually(read: Callable[[], Any], check: Callable[[Any], bool], what: str) -> Any:
    """Read until `check` holds (Plotly redraws after the run has finished)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        value = read()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}; last seen: {value!r}"[:2000])
        time.sleep(0.25)


def _heading(page: Any) -> str:
    return str(page.get_by_test_id("stMain").locator("h1").first.inner_text()).strip()


# -- every page ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_without_errors(page: Any, app_url: str, name: str) -> None:
    path, _, title, charts = PAGES[name]
    open_app(page, app_url, path, charts=charts)

    assert _heading(page) == title
    assert problems_shown(page) == []
    # Opened on the default filters: the latest months are in the address bar.
    assert set(query(page)) == {"from", "to"}

    out_dirs = [SCREENSHOTS, *([README_SCREENSHOTS] if UPDATE_SCREENSHOTS else [])]
    shot = save_screenshot(page, name, out_dirs)
    assert shot.stat().st_size > 10_000, "a blank page compresses to almost nothing"


# -- the filters -----------------------------------------------------------------------------


def test_sidebar_filter_redraws_the_charts_and_writes_the_url(
    page: Any, app_url: str, choice: Choice
) -> None:
    open_app(page, app_url, "", charts=2)
    map_before = plot_traces(page, "chart_overview_map")
    trend_before = plot_traces(page, "chart_overview_trend")
    assert len(map_before) == 1 and len(map_before[0]["locations"]) > 1
    assert "state" not in query(page)

    choose_only(page, "States", choice.state_option)

    assert selected_values(page, "States") == [choice.state_option]
    _eventually(
        lambda: query(page).get("state"),
        lambda value: value == [choice.state],
        "the URL holds the chosen state",
    )
    wait_for_charts(page, 2)
    map_after = _eventually(
        lambda: plot_traces(page, "chart_overview_map"),
        lambda traces: len(traces) == 1 and traces[0]["locations"] == [choice.state],
        f"the map shows {choice.state} alone",
    )
    assert map_after != map_before
    trend_after = _eventually(
        lambda: plot_traces(page, "chart_overview_trend"),
        lambda traces: bool(traces) and traces != trend_before,
        "the trend is redrawn for the chosen state",
    )
    # The state's program models only, and its own comparison population: other figures.
    names_before = {t["name"]: t for t in trend_before}
    names_after = {t["name"]: t for t in trend_after}
    assert set(names_after) <= set(names_before), names_after.keys()
    assert names_after["Not enrolled"]["y"] != names_before["Not enrolled"]["y"]
    assert problems_shown(page) == []

    # Another page keeps the session's filters, and writes them back to the address bar.
    go_to(page, PAGES["trends"][1], charts=PAGES["trends"][3])
    assert _heading(page) == "Trends"
    assert selected_values(page, "States") == [choice.state_option]
    _eventually(
        lambda: query(page).get("state"),
        lambda value: value == [choice.state],
        "the URL keeps the state on another page",
    )
    filters_caption = page.get_by_test_id("stMain").get_by_text(re.compile(r"^Filters: "))
    assert choice.state in filters_caption.first.inner_text()
    assert problems_shown(page) == []


def test_a_shared_link_sets_the_sidebar(page: Any, app_url: str, choice: Choice) -> None:
    open_app(page, app_url, choice.link, charts=2)

    assert selected_values(page, "States") == [choice.state_option]
    assert selected_values(page, "Program models") == [choice.model_option]
    assert checked_radio(page, "Inpatient setting") == SETTING_OPTION
    assert page.get_by_text("were not recognised").count() == 0
    params = query(page)
    assert params["state"] == [choice.state] and params["model"] == [choice.model]
    assert params["setting"] == [SETTING]
    assert {"from", "to"} <= set(params)
    traces = plot_traces(page, "chart_overview_map")
    assert [t["locations"] for t in traces] == [[choice.state]]
    trend = {t["name"] for t in plot_traces(page, "chart_overview_trend")}
    assert trend == {choice.model_option, "Not enrolled"}, "the model, against the comparison"
    assert problems_shown(page) == []


# -- downloads -------------------------------------------------------------------------------


def _csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"))))


def test_downloads_are_the_command_line_exports(
    page: Any, app_url: str, sample_url: str, choice: Choice, tmp_path: Path
) -> None:
    # A link to the Downloads page with filters: the exports of those filters.
    open_app(page, app_url, PAGES["downloads"][0] + choice.link, charts=0)
    assert _heading(page) == "Downloads"
    params = query(page)
    assert params["state"] == [choice.state] and params["model"] == [choice.model]

    # The same filters on the command line, running while the browser downloads.
    arguments = cli_arguments(params)
    exports = {
        dataset: (
            start_cli_export(dataset, arguments, sample_url, tmp_path / f"cli-{dataset}.csv"),
            tmp_path / f"cli-{dataset}.csv",
        )
        for dataset in ("monthly", "prepost")
    }

    for dataset, (process, out) in exports.items():
        button = page.locator(f".st-key-download_{dataset}").get_by_role("button")
        # The text starts with the Material icon's ligature ("download"); the label follows.
        label = button.inner_text()
        labelled = re.search(rf"Download {dataset} CSV \(([\d,]+) rows\)", label)
        assert labelled, label
        with page.expect_download(timeout=WAIT_MS) as info:
            button.click()
        download = info.value
        assert download.failure() is None
        name = download.suggested_filename
        assert name.startswith(dataset) and name.endswith(".csv"), name
        assert choice.state in name, name
        downloaded = Path(download.path()).read_bytes()

        expected = finish_cli_export(process, out)
        assert len(_csv_rows(expected)) > 1, f"the {dataset} export has rows to compare"
        assert downloaded == expected, (
            f"the {dataset} download differs from `python -m data_access export {dataset} "
            f"{' '.join(arguments)}`"
        )
        rows = len(_csv_rows(downloaded)) - 1
        assert labelled.group(1) == f"{rows:,}", f"{label!r} for a file of {rows} rows"
    assert problems_shown(page) == []


# -- the matched comparison ------------------------------------------------------------------


def test_the_matched_comparison_on_the_overview_program_outcomes_and_impact(
    page: Any, app_url: str, sample_url: str, tmp_path: Path
) -> None:
    open_app(page, app_url, charts=PAGES["overview"][3])
    params = query(page)
    opened = OutcomeFilter(month_from=params["from"][0], month_to=params["to"][0])
    engine = db.get_engine(sample_url)
    try:
        effects = impact.impact_by_unit(
            viewer=LOCAL_VIEWER, filters=opened, small_cells="show", engine=engine
        )
        months = event_study.event_study(
            viewer=LOCAL_VIEWER, filters=opened, small_cells="show", engine=engine
        )
        download = event_study.event_study(
            viewer=LOCAL_VIEWER, filters=opened, small_cells="suppress", engine=engine
        )
    finally:
        db.dispose_engines()
    pooled = effects[
        (effects["level"] == "all") & (effects["measure"] == "admissions_per_enrollment")
    ]
    effect = float(pooled["effect"].iloc[0])

    # The overview's tile: the pooled effect on admissions, with its interval.
    tile = page.get_by_test_id("stMetric").filter(has_text="Effect on admissions")
    assert f"{effect:+,.3f}" in tile.inner_text()
    assert "95% CI" in tile.inner_text()

    # Program outcomes: the matched comparison section and its forest plot.
    go_to(page, PAGES["program_outcomes"][1], charts=PAGES["program_outcomes"][3])
    assert page.get_by_role("heading", name="Against a matched comparison group").is_visible()
    forest = plot_traces(page, "chart_prepost_impact")
    programs = effects[
        (effects["level"] == "program") & (effects["measure"] == "admissions_per_enrollment")
    ].dropna(subset=["effect"])
    drawn = sorted(x for trace in forest for x in trace["x"])
    assert drawn == pytest.approx(sorted(programs["effect"]), abs=1e-9)

    # Impact: the months around the index date as data_access gives them, its summary as
    # text, the balance and effects tables, and the download of the months.
    go_to(page, PAGES["impact"][1], charts=PAGES["impact"][3])
    assert _heading(page) == "Impact"
    assert problems_shown(page) == []
    rows = months[(months["level"] == "all") & (months["measure"] == "admissions_per_enrollment")]
    lines: dict[str, list[float]] = {}
    for trace in plot_traces(page, "chart_impact_event_study"):
        if not str(trace["name"]).endswith("band"):
            lines.setdefault(str(trace["name"]), []).extend(trace["y"])
    assert lines["Enrolled members"] == pytest.approx(list(rows["enrolled_mean"]), abs=1e-9)
    assert lines["Matched comparison"] == pytest.approx(list(rows["comparison_mean"]), abs=1e-9)
    main = page.get_by_test_id("stMain")
    assert "In the 6 months before the index date" in main.inner_text()
    for heading in ("How alike the two groups were before", "The effect of each program"):
        assert page.get_by_role("heading", name=heading).is_visible()
    assert "All selected programs, admissions per enrollment" in main.inner_text()
    button = page.locator(".st-key-download_impact_event_study").get_by_role("button")
    with page.expect_download(timeout=WAIT_MS) as info:
        button.click()
    assert info.value.failure() is None
    downloaded = Path(info.value.path()).read_text(encoding="utf-8")
    assert downloaded == exports.to_csv_text(download)
    assert problems_shown(page) == []


# -- a new load shows by itself ---------------------------------------------------------------


def test_a_new_load_shows_on_the_open_page_without_a_click(
    page: Any, app_url: str, sample_url: str
) -> None:
    import datetime as dt

    from sqlalchemy import delete, insert

    from data_access.models import LoadRun

    open_app(page, app_url, PAGES["about_the_data"][0])
    source = "/loads/a-new-load-for-the-browser-test"
    assert Path(source).name not in page.get_by_test_id("stMain").inner_text()
    engine = db.get_engine(sample_url)
    with engine.begin() as connection:
        new_id = connection.execute(
            insert(LoadRun)
            .values(
                loaded_at=dt.datetime.now(dt.UTC),
                source=source,
                rows_loaded="{}",
                data_through=None,
            )
            .returning(LoadRun.load_id)
        ).scalar_one()
    try:
        started = time.monotonic()
        # No click, no reload: the page notices the new load version and runs again.
        page.get_by_test_id("stMain").get_by_text(Path(source).name).wait_for(timeout=15_000)
        noticed = time.monotonic() - started
        assert noticed <= 8, f"the new load showed after {noticed:.1f} s"
        assert problems_shown(page) == []
    finally:
        with engine.begin() as connection:
            connection.execute(delete(LoadRun).where(LoadRun.load_id == new_id))
        db.dispose_engines()
