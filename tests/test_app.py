"""The dashboard in Streamlit's AppTest, on the real sample data loaded into a SQLite file.

Figures are checked against what data_access returns for the same filter, so a chart that
shows anything but the database's numbers fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import streamlit as st

from dashboard.filters import default_months, months_between
from dashboard.formatting import (
    GROUP_LABELS,
    POPULATION_LABELS,
    SUMMARY_MEASURES,
    markdown_text,
)
from data_access import db, event_study, exports, impact, queries, status
from data_access.access import LOCAL_VIEWER
from data_access.errors import DatabaseUnavailable, QueryTimeout
from data_access.filters import OutcomeFilter
from data_access.settings import get_settings
from data_access.vocabulary import NOT_ENROLLED, PROGRAM_GROUPS, PROGRAM_MODELS
from tests.app_helpers import (
    EXPORT_BUILDERS,
    PAGES,
    count_export_builds,
    figures,
    open_page,
    same_numbers,
    texts,
    values,
)


@pytest.fixture(scope="session")
def sample_url(loaded_sample_sqlite: str) -> str:
    """The shipped sample, loaded once per test session into a SQLite file (conftest)."""
    return loaded_sample_sqlite


def _point_settings_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    st.cache_data.clear()


@pytest.fixture
def sample_db(monkeypatch: pytest.MonkeyPatch, sample_url: str) -> Iterator[db.Engine]:
    """Settings (as the app reads them) pointed at the loaded sample; fresh caches."""
    _point_settings_at(monkeypatch, sample_url)
    yield db.get_engine(sample_url)
    get_settings.cache_clear()
    st.cache_data.clear()


@pytest.fixture
def bounds(sample_db: db.Engine) -> tuple[str, str]:
    """The first and last month with data."""
    found = queries.month_bounds(viewer=LOCAL_VIEWER, engine=sample_db)
    assert found is not None
    return found


@pytest.fixture
def months(bounds: tuple[str, str], sample_db: db.Engine) -> tuple[str, str]:
    """The month range the app opens on (the latest months of the data)."""
    return default_months(months_between(*bounds), queries.last_complete_month(engine=sample_db))


@pytest.fixture
def state_and_model(sample_db: db.Engine, months: tuple[str, str]) -> tuple[str, str]:
    """TX (else the first state) and its program model with the most member-months in the
    months the app opens on, picked at run time: a model with an enrolled line to draw (TX's
    whole-health program, for one, has no member-months in those months)."""
    states = list(queries.list_states(viewer=LOCAL_VIEWER, engine=sample_db)["state_code"])
    state = "TX" if "TX" in states else states[0]
    summary = queries.outcome_summary(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(states=(state,), month_from=months[0], month_to=months[1]),
        period=None,
        by=("program_model",),
        engine=sample_db,
    )
    enrolled = summary[summary["program_model"] != NOT_ENROLLED]
    assert not enrolled.empty, f"{state} has enrolled members from {months[0]} to {months[1]}"
    return state, str(enrolled.sort_values("member_months").iloc[-1]["program_model"])


def _no_failures(at) -> None:
    assert not at.exception, texts(at.exception)
    assert not at.error, texts(at.error)


# -- every page ------------------------------------------------------------------------------

CHARTS = {
    "overview": {"chart_overview_map", "chart_overview_trend"},
    "trends": {"chart_trends"},
    "program_outcomes": {"chart_prepost", "chart_prepost_impact"},
    "impact": {"chart_impact_event_study"},
    "state_profile": {"chart_profile_trend", "chart_profile_ranking"},
    "follow_up": {"chart_followup_trend", "chart_followup_states"},
    "downloads": set(),
    "about_the_data": set(),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_runs_with_its_charts(sample_db: db.Engine, page: str) -> None:
    at = open_page(page)
    _no_failures(at)
    assert at.title, "every page has a title"
    assert set(figures(at)) == CHARTS[page]
    # Each chart has its download, labelled as one.
    labels = [button.proto.label for button in at.get("download_button")]
    assert len(labels) >= len(CHARTS[page])
    assert all(label.startswith("Download ") for label in labels)


def test_overview_tiles_show_the_database_figures(sample_db: db.Engine, months) -> None:
    at = open_page("overview")
    _no_failures(at)
    filters = OutcomeFilter(month_from=months[0], month_to=months[1])
    summary = queries.outcome_summary(
        viewer=LOCAL_VIEWER, small_cells="show", filters=filters, period=None, by=("population",)
    )
    enrolled = summary[summary["population"] == "enrolled"].iloc[0]
    # The first row of tiles is the enrolled members', the second the comparison's.
    tiles = {metric.label: metric.value for metric in at.metric[:5]}
    assert (
        tiles["Enrolled members"]
        == f"{queries.enrolled_members(viewer=LOCAL_VIEWER, small_cells='show', filters=filters):,}"
    )
    for name in ("admissions_per_1000_mm", "average_los", "cost_pmpm", "readmission_rate_30d"):
        measure = SUMMARY_MEASURES[name]
        assert tiles[measure.tile_label] == measure.format(float(enrolled[name]))


def test_overview_tiles_compare_with_the_previous_period(sample_db: db.Engine, bounds) -> None:
    every_month = months_between(*bounds)
    start, end = every_month[len(every_month) // 2], every_month[-1]
    at = open_page("overview", {"from": start, "to": end})
    _no_failures(at)
    # The range ends in the provisional months: the tiles stop at the last complete month.
    complete = queries.last_complete_month(engine=sample_db)
    assert complete is not None and complete < end
    filters = OutcomeFilter(month_from=start, month_to=complete)
    previous = queries.previous_period(filters, viewer=LOCAL_VIEWER)
    assert previous is not None
    deltas = [metric.proto.delta for metric in at.metric if metric.proto.delta]
    assert deltas, "with months before the range, the tiles show a change"
    assert f"The tiles cover the months to {complete}" in texts(at.caption)
    assert f"{previous.month_from} to {previous.month_to}" in texts(at.caption)


# -- filters drive the figures ---------------------------------------------------------------


def test_choosing_a_state_and_model_redraws_the_trend_with_its_figures(
    sample_db: db.Engine, months, state_and_model
) -> None:
    state, model = state_and_model
    at = open_page("trends")
    before = figures(at)["chart_trends"]
    assert state not in before["layout"]["title"]["subtitle"]["text"]
    at.multiselect(key="filter_states").set_value([state])
    at.multiselect(key="filter_models").set_value([model])
    at.run()
    _no_failures(at)

    figure = figures(at)["chart_trends"]
    # The comparison population is always drawn on this page.
    expected_filter = OutcomeFilter(
        states=(state,),
        program_models=(model, NOT_ENROLLED),
        month_from=months[0],
        month_to=months[1],
    )
    expected = queries.outcome_summary(
        viewer=LOCAL_VIEWER, small_cells="show", filters=expected_filter, by=("program_model",)
    )
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert set(traces) == {GROUP_LABELS[m] for m in set(expected["program_model"])}
    assert GROUP_LABELS[model] in traces, "the chosen model has an enrolled line"
    for code, rows in expected.groupby("program_model"):
        trace = traces[GROUP_LABELS[str(code)]]
        assert values(trace, "x") == list(rows["month"])
        assert same_numbers(values(trace, "y"), list(rows["admissions_per_1000_mm"]))
    assert traces[GROUP_LABELS[NOT_ENROLLED]]["line"]["dash"] == "dash"
    assert state in figure["layout"]["title"]["subtitle"]["text"]
    # The chart was drawn again, not left as it was: the lines now follow the one state.
    assert figure["data"] != before["data"]


def test_trends_by_state_draw_enrolled_and_not_enrolled_per_state(
    sample_db: db.Engine, months
) -> None:
    states = list(queries.list_states(viewer=LOCAL_VIEWER, engine=sample_db)["state_code"][:2])
    at = open_page("trends", {"state": states})
    at.radio(key="trends_split").set_value("state_code")
    at.radio(key="trends_period").set_value("quarter")
    at.selectbox(key="trends_measure").set_value("cost_pmpm")
    at.run()
    _no_failures(at)
    expected = queries.outcome_summary(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(states=tuple(states), month_from=months[0], month_to=months[1]),
        period="quarter",
        by=("state_code", "population"),
    )
    for trace in figures(at)["chart_trends"]["data"]:
        state = trace["customdata"][0][3]
        population = {v: k for k, v in POPULATION_LABELS.items()}[trace["name"]]
        rows = expected[(expected["state_code"] == state) & (expected["population"] == population)]
        assert values(trace, "x") == list(rows["quarter"])
        assert same_numbers(values(trace, "y"), list(rows["cost_pmpm"]))


def test_program_outcomes_show_the_prepost_rows(
    sample_db: db.Engine, months, state_and_model
) -> None:
    state, _ = state_and_model
    at = open_page("program_outcomes", {"state": state, "setting": "behavioral"})
    _no_failures(at)
    expected = queries.prepost_by_program(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(
            states=(state,), month_from=months[0], month_to=months[1], setting="behavioral"
        ),
    )
    measure = "admissions_per_enrollment"
    plotted = expected.dropna(subset=[f"pre_{measure}", f"post_{measure}"])
    assert not plotted.empty, "the sample has analysable enrollments in this state"
    points: dict[tuple[str, str], float] = {}
    for trace in figures(at)["chart_prepost"]["data"]:
        if trace.get("mode") == "markers":
            for label, x in zip(values(trace, "y"), values(trace, "x"), strict=True):
                points[(trace["meta"], label.split(" (")[0])] = x
    for row in plotted.itertuples():
        assert points[("before", row.program_name)] == pytest.approx(getattr(row, f"pre_{measure}"))
        assert points[("after", row.program_name)] == pytest.approx(getattr(row, f"post_{measure}"))
    # The download behind the chart is the export itself.
    label = next(b.proto.label for b in at.get("download_button") if b.proto.id.endswith("prepost"))
    assert f"{len(expected):,} rows" in label
    assert "regression to the mean" in texts(at.markdown)


def test_state_profile_ranks_the_chosen_state(sample_db: db.Engine, months) -> None:
    states = list(queries.list_states(viewer=LOCAL_VIEWER, engine=sample_db)["state_code"][:3])
    at = open_page("state_profile", {"state": states})
    at.selectbox(key="profile_state").set_value(states[1])
    at.run()
    _no_failures(at)
    figure = figures(at)["chart_profile_trend"]
    # The state's enrolled members (the four program models), and its not enrolled dashed.
    lines = {t["line"]["dash"]: t for t in figure["data"]}
    state = OutcomeFilter(states=(states[1],), month_from=months[0], month_to=months[1])
    for dash, models in (("solid", PROGRAM_MODELS), ("dash", (NOT_ENROLLED,))):
        expected = queries.outcome_summary(
            viewer=LOCAL_VIEWER,
            small_cells="show",
            filters=state.model_copy(update={"program_models": models}),
            period="quarter",
        )
        assert same_numbers(values(lines[dash], "y"), list(expected["admissions_per_1000_mm"]))
    ranking = figures(at)["chart_profile_ranking"]["data"][0]
    assert sorted(values(ranking, "y")) == sorted(states)


def test_downloads_count_rows_and_build_no_export_until_asked(
    sample_db: db.Engine, months, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = count_export_builds(monkeypatch)
    at = open_page("downloads", {"state": "TX"})
    _no_failures(at)
    # A plain visit builds no export: the counts come from the programs and the months.
    assert built == []
    filters = OutcomeFilter(states=("TX",), month_from=months[0], month_to=months[1])
    assert months == ("2022-10", "2025-09")
    expected = {
        dataset: exports.export_frame(
            viewer=LOCAL_VIEWER, small_cells="suppress", dataset=dataset, filters=filters
        )
        for dataset in EXPORT_BUILDERS
    }
    built.clear()
    # TX's 3 program models with member-months and its not enrolled, over 36 months; its 4
    # programs; and (4 programs + 4 models + all) x 7 measures.
    counts = {"monthly": 108, "prepost": 4, "impact": 63}
    columns = {"monthly": 28, "prepost": 55, "impact": 20}
    assert {dataset: len(frame) for dataset, frame in expected.items()} == counts
    assert {dataset: len(frame.columns) for dataset, frame in expected.items()} == columns
    buttons = {b.proto.id.rsplit("-", 1)[-1]: b.proto.label for b in at.get("download_button")}
    captions = texts(at.caption)
    for dataset, rows in counts.items():
        assert buttons[f"download_{dataset}"] == f"Download {dataset} CSV ({rows:,} rows)"
        name = exports.export_filename(dataset, filters)
        assert f"{rows:,} rows · {columns[dataset]} columns · file {name}" in captions
    # No preview until asked: a labelled switch for each export, off.
    toggles = {toggle.key: (toggle.label, toggle.value) for toggle in at.toggle}
    assert toggles == {
        "show_preview_monthly": ("Show the first 50 rows", False),
        "show_preview_prepost": ("Show the 4 rows", False),
        "show_preview_impact": ("Show the first 50 rows", False),
    }
    assert not at.dataframe

    # Asked for, the monthly preview is built (that export alone): its first 50 rows exactly.
    at.toggle(key="show_preview_monthly").set_value(True).run()
    _no_failures(at)
    assert built == ["monthly"]
    [preview] = at.dataframe
    pd.testing.assert_frame_equal(
        preview.value.reset_index(drop=True),
        expected["monthly"].head(50).reset_index(drop=True),
        check_dtype=False,
    )
    assert "Preview of the first 50 of 108 rows." in texts(at.caption)
    # Shown again (another run), it is not built again: the cached rows serve it.
    at.run()
    assert built == ["monthly"]
    # The data dictionary is a markdown table, so every meaning shows in full.
    markdown = [str(element.value) for element in at.markdown]
    dictionary = next(text for text in markdown if text.startswith("| column | meaning"))
    for column, meaning in exports.COLUMN_DESCRIPTIONS.items():
        assert f"| `{column}` | {meaning.replace('|', chr(92) + '|')} |" in dictionary


def test_about_the_data_tells_freshness_and_rows(sample_db: db.Engine) -> None:
    at = open_page("about_the_data")
    _no_failures(at)
    loaded = status.database_status(viewer=LOCAL_VIEWER)
    tiles = {metric.label: metric.value for metric in at.metric}
    assert tiles["Data through"] == loaded.data_through.isoformat()
    table = at.dataframe[0].value
    assert dict(zip(table["table"], table["rows"], strict=True)) == loaded.table_rows


# -- the URL ---------------------------------------------------------------------------------


def test_a_link_opens_the_same_filters(sample_db: db.Engine, bounds, state_and_model) -> None:
    state, model = state_and_model
    query = {
        "state": [state],
        "model": f"{model},{NOT_ENROLLED}",
        "condition": "substance_use",
        "from": bounds[0],
        "to": bounds[1],
        "setting": "medical",
    }
    at = open_page("trends", query)
    _no_failures(at)
    assert not at.warning
    assert at.multiselect(key="filter_states").value == [state]
    assert set(at.multiselect(key="filter_models").value) == {model, NOT_ENROLLED}
    assert at.multiselect(key="filter_conditions").value == ["substance_use"]
    assert at.radio(key="filter_setting").value == "medical"
    assert at.session_state["outcome_filter"] == OutcomeFilter(
        states=(state,),
        program_models=(model, NOT_ENROLLED),
        conditions=("substance_use",),
        month_from=bounds[0],
        month_to=bounds[1],
        setting="medical",
    )
    # The URL keeps the filters (repeated keys for lists), ready to be copied again.
    assert at.query_params["state"] == state
    assert sorted(at.query_params["model"]) == sorted([model, NOT_ENROLLED])


def test_filters_follow_the_user_across_pages(sample_db: db.Engine, state_and_model) -> None:
    state, _ = state_and_model
    at = open_page("overview")
    at.multiselect(key="filter_states").set_value([state]).run()
    at.switch_page(PAGES["program_outcomes"]).run()
    _no_failures(at)
    assert at.multiselect(key="filter_states").value == [state]
    assert at.query_params["state"] == state
    assert at.session_state["outcome_filter"].states == (state,)


SIDEBAR_LISTS = ("filter_states", "filter_models", "filter_programs", "filter_conditions")


def _values_sent(at) -> dict[str, list[str]]:
    """The sidebar lists whose value this run sent for the browser to set (drawn afresh)."""
    return {w.key: list(w.value) for w in at.sidebar.multiselect if w.proto.set_value}


def test_the_sidebar_sends_a_value_only_when_one_is_dropped(sample_db: db.Engine) -> None:
    """A run sends a sidebar list's value to the browser only when the app changed it (a
    program of a state just deselected): a value sent is drawn afresh, the cost of a filter
    change and a page switch."""
    at = open_page("overview")
    assert sorted(w.key for w in at.sidebar.multiselect) == sorted(SIDEBAR_LISTS)
    at.run()
    assert _values_sent(at) == {}
    at.multiselect(key="filter_states").set_value(["TX", "NY"]).run()
    assert _values_sent(at) == {}
    program = next(p for p in at.multiselect(key="filter_programs").options if "TX" in p)
    at.multiselect(key="filter_programs").set_value([program]).run()
    assert _values_sent(at) == {}
    at.switch_page(PAGES["downloads"]).run()
    assert _values_sent(at) == {}
    # TX deselected: its program is dropped, and that value is sent.
    at.multiselect(key="filter_states").set_value(["NY"]).run()
    assert _values_sent(at) == {"filter_programs": []}
    _no_failures(at)


def test_bad_link_values_are_dropped_with_a_notice(sample_db: db.Engine, months) -> None:
    query = {
        "state": ["TX", "ZZ", "texas"],
        "model": "whole_health,bogus",
        "program": "no-such-program",
        "from": "2020-13",
        "to": "1999-01",
        "setting": "surgical",
        "colour": "red",
    }
    at = open_page("overview", query)
    _no_failures(at)
    notice = texts(at.warning)
    for word in (
        "'ZZ'",
        "'TEXAS'",
        "'bogus'",
        "no-such-program",
        "2020-13",
        "1999-01",
        "surgical",
        "colour",
    ):
        assert word in notice
    applied = at.session_state["outcome_filter"]
    assert applied.states == ("TX",)
    assert applied.program_models == ("whole_health",)
    assert applied.program_ids is None
    assert applied.setting == "all"
    assert (applied.month_from, applied.month_to) == months
    assert "colour" not in at.query_params
    # The notice is for the link just opened, not for every later click.
    at.run()
    assert not at.warning


@pytest.mark.parametrize(
    ("query", "missing"),
    [
        ({"state": ""}, "a state"),
        ({"model": ""}, "a program model"),
        ({"condition": ""}, "a primary condition"),
    ],
)
def test_an_empty_selection_explains_what_to_choose(
    sample_db: db.Engine, query: dict[str, str], missing: str
) -> None:
    for page in ("overview", "trends", "program_outcomes", "state_profile", "downloads"):
        at = open_page(page, query)
        _no_failures(at)
        assert f"choose {missing}" in texts(at.info), page
        assert not figures(at), page


# -- when things go wrong --------------------------------------------------------------------


def test_no_database_says_what_to_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _point_settings_at(monkeypatch, f"sqlite:///{tmp_path / 'missing.sqlite'}")
    try:
        at = open_page("overview")
        assert not at.exception, texts(at.exception)
        assert "python -m data_access load sample_data" in [code.value for code in at.code]
        assert not figures(at)
    finally:
        get_settings.cache_clear()
        db.dispose_engines()


def test_an_unreachable_database_is_told_apart_and_names_no_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing listens on this port: the server refuses the connection.
    _point_settings_at(monkeypatch, "postgresql+psycopg://postgres@127.0.0.1:9/outcomes")
    try:
        at = open_page("overview")
        assert not at.exception, texts(at.exception)
        shown = texts(at.error) + texts(at.caption) + texts(at.markdown) + texts(at.warning)
        assert "not answering right now" in texts(at.error)
        assert "tries again by itself" in texts(at.error)
        # Not the set-up page: nothing tells a viewer to load data into an unreachable server.
        assert not [code.value for code in at.code]
        for detail in ("127.0.0.1", ":9", "psycopg", "connection", "Traceback"):
            assert detail not in shown, detail
    finally:
        get_settings.cache_clear()
        db.dispose_engines()


def test_a_session_recovers_by_itself_when_the_database_answers_again(
    sample_db: db.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = {"now": True}
    real_read_frame = db.read_frame

    def flaky(*args: Any, **kwargs: Any) -> pd.DataFrame:
        if down["now"]:  # every read fails, the status's first (the catalog's) included
            raise DatabaseUnavailable('connection to server at "127.0.0.1", port 5432 failed')
        return real_read_frame(*args, **kwargs)

    monkeypatch.setattr(db, "read_frame", flaky)
    at = open_page("overview", {"state": "TX"})
    assert not at.exception, texts(at.exception)
    assert "not answering right now" in texts(at.error)
    assert "127.0.0.1" not in texts(at.error)
    down["now"] = False
    at.run()  # what the page's own retry does every few seconds
    _no_failures(at)
    assert at.session_state["outcome_filter"].states == ("TX",), "the link's filters are kept"
    assert figures(at), "the page is back"


def test_an_empty_database_says_what_to_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    db.create_schema(db.get_engine(url))
    _point_settings_at(monkeypatch, url)
    try:
        at = open_page("overview")
        assert not at.exception, texts(at.exception)
        assert "empty" in texts(at.warning)
        assert "python -m data_access load sample_data" in [code.value for code in at.code]
    finally:
        get_settings.cache_clear()
        db.dispose_engines()


def test_a_failing_query_breaks_only_its_chart(
    sample_db: db.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(**_: object) -> pd.DataFrame:
        raise QueryTimeout("statement timeout on SELECT ... at 127.0.0.1:5432")

    monkeypatch.setattr(exports, "export_frame", fail)
    at = open_page("program_outcomes")
    assert not at.exception, texts(at.exception)
    assert "Could not show the pre/post chart" in texts(at.error)
    assert "took too long" in texts(at.error)
    # The detail (server, statement) goes to the log, never to the viewer.
    assert "127.0.0.1" not in texts(at.error) and "SELECT" not in texts(at.error)
    # The rest of the page still works.
    assert set(figures(at)) == {"chart_prepost_impact"}


def test_every_program_model_has_its_own_colour() -> None:
    from dashboard.charts import MODEL_COLOURS

    assert set(MODEL_COLOURS) == set(PROGRAM_GROUPS)
    assert len(set(MODEL_COLOURS.values())) == len(PROGRAM_GROUPS)


def test_a_link_with_only_unknown_states_shows_all_states(sample_db: db.Engine) -> None:
    at = open_page("overview", {"state": "ZZ"})
    _no_failures(at)
    assert "'ZZ'" in texts(at.warning)
    assert at.session_state["outcome_filter"].states is None
    assert figures(at)


# -- contract version 2 on the pages ---------------------------------------------------------


def test_follow_up_page_draws_the_follow_up_rates_by_model(sample_db: db.Engine, months) -> None:
    at = open_page("follow_up")
    _no_failures(at)
    assert "not it" in texts(at.caption) and "FUH" in texts(at.caption)
    for measure in ("followup_rate_7d", "followup_rate_30d", "peer_contact_rate_1d"):
        at.radio(key="followup_measure").set_value(measure)
        at.run()
        _no_failures(at)
        trend = figures(at)["chart_followup_trend"]
        expected = queries.outcome_summary(
            viewer=LOCAL_VIEWER,
            small_cells="show",
            filters=OutcomeFilter(month_from=months[0], month_to=months[1]),
            period="month",
            by=("program_model",),
        )
        for trace in trend["data"]:
            model = next(code for code, label in GROUP_LABELS.items() if label == trace["name"])
            rows = expected[expected["program_model"] == model]
            assert same_numbers(values(trace, "y"), list(rows[measure])), (measure, model)


def test_provisional_months_are_shaded_named_and_left_out_of_the_tiles(
    sample_db: db.Engine, bounds
) -> None:
    last_complete = queries.last_complete_month(engine=sample_db)
    assert last_complete == "2025-09"  # data through 2025-12-31, three run-out months
    at = open_page("overview", {"from": "2025-01", "to": bounds[1]})
    _no_failures(at)
    trend = figures(at)["chart_overview_trend"]
    assert trend["layout"]["shapes"], "the provisional months are shaded"
    assert "2025-10 to 2025-12 are provisional" in trend["layout"]["meta"]["summary"]
    assert "Provisional" in [a["text"].split(" ")[0] for a in trend["layout"]["annotations"]]
    assert "The tiles cover the months to 2025-09" in texts(at.caption)


def test_the_app_opens_on_complete_months(sample_db: db.Engine, months) -> None:
    assert months[1] == "2025-09"
    at = open_page("overview")
    assert at.session_state["outcome_filter"].month_to == "2025-09"


@pytest.mark.parametrize(
    ("setting", "label"),
    [
        ("all", "All-cause 30-day readmission rate"),
        ("behavioral", "Same-setting 30-day readmission rate (behavioral stay to behavioral stay)"),
    ],
)
def test_readmission_labels_say_all_cause_or_the_setting(
    sample_db: db.Engine, setting: str, label: str
) -> None:
    at = open_page("trends", {"setting": setting})
    _no_failures(at)
    at.selectbox(key="trends_measure").set_value("readmission_rate_30d")
    at.run()
    _no_failures(at)
    assert figures(at)["chart_trends"]["layout"]["title"]["text"].startswith(label)


def test_a_change_in_a_share_is_in_points(sample_db: db.Engine) -> None:
    at = open_page("program_outcomes")
    at.selectbox(key="outcomes_measure").set_value("share_with_admission")
    at.run()
    _no_failures(at)
    table = next(frame for frame in at.dataframe if "Change (pts)" in str(frame.proto))
    assert table is not None
    prepost = figures(at)["chart_prepost"]
    hover = " ".join(str(trace.get("hovertemplate", "")) for trace in prepost["data"])
    assert "pts" in hover and "Change: %{customdata[1]:+.1f} pts" in hover


# -- the matched comparison (impact) ---------------------------------------------------------


def test_program_outcomes_set_each_program_against_its_matched_comparison(
    sample_db: db.Engine, months
) -> None:
    at = open_page("program_outcomes")
    _no_failures(at)
    forest = figures(at)["chart_prepost_impact"]
    expected = impact.impact_by_unit(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(month_from=months[0], month_to=months[1]),
    )
    expected = expected[
        (expected["level"] == "program") & (expected["measure"] == "admissions_per_enrollment")
    ].dropna(subset=["effect"])
    drawn = sorted(x for trace in forest["data"] for x in values(trace, "x"))
    assert same_numbers(drawn, sorted(expected["effect"]))
    assert "interval wholly below zero" in forest["layout"]["meta"]["summary"]
    # The pooled effect is worded by its interval.
    pooled = impact.impact_by_unit(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(month_from=months[0], month_to=months[1]),
    )
    row = pooled[(pooled["level"] == "all") & (pooled["measure"] == "admissions_per_enrollment")]
    low, high = float(row["effect_ci_low"].iloc[0]), float(row["effect_ci_high"].iloc[0])
    words = (
        "fewer admissions than comparable members"
        if high < 0
        else ("more admissions than comparable members" if low > 0 else "no difference we can")
    )
    assert words in texts(at.markdown)
    assert "reduced" not in texts(at.markdown).lower()


def test_a_measure_without_a_matched_comparison_says_so(sample_db: db.Engine) -> None:
    at = open_page("program_outcomes")
    at.selectbox(key="outcomes_measure").set_value("average_los")
    at.run()
    _no_failures(at)
    assert "No matched comparison is computed for average length of stay" in texts(at.info)
    assert "chart_prepost_impact" not in figures(at)


def test_the_overview_shows_the_matched_effect_with_its_interval(
    sample_db: db.Engine, months
) -> None:
    at = open_page("overview")
    _no_failures(at)
    tile = next(m for m in at.metric if m.label == "Effect on admissions")
    rows = impact.impact_by_unit(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(month_from=months[0], month_to=months[1]),
    )
    row = rows[(rows["level"] == "all") & (rows["measure"] == "admissions_per_enrollment")]
    assert tile.value == f"{float(row['effect'].iloc[0]):+,.3f}"
    assert tile.proto.delta.startswith("95% CI ")


def test_the_impact_page_draws_the_months_the_balance_and_the_effects(
    sample_db: db.Engine, months
) -> None:
    at = open_page("impact")
    _no_failures(at)
    opened = OutcomeFilter(month_from=months[0], month_to=months[1])
    # The event study: all programs, admissions, both lines are the database's means.
    expected = event_study.event_study(viewer=LOCAL_VIEWER, filters=opened, small_cells="show")
    expected = expected[
        (expected["level"] == "all") & (expected["measure"] == "admissions_per_enrollment")
    ]
    chart = figures(at)["chart_impact_event_study"]
    lines = {
        trace["name"]: values(trace, "y")
        for trace in chart["data"]
        if trace.get("mode") == "lines+markers"
    }
    drawn = {name: [] for name in lines}
    for trace in chart["data"]:
        if trace.get("mode") == "lines+markers":
            drawn[trace["name"]] += values(trace, "y")
    assert same_numbers(drawn["Enrolled members"], list(expected["enrolled_mean"]))
    assert same_numbers(drawn["Matched comparison"], list(expected["comparison_mean"]))
    summary = chart["layout"]["meta"]["summary"]
    assert summary.startswith(
        "In the 6 months before the index date, admissions per enrollment per month averaged "
        f"{float(expected[expected['relative_month'] < 0]['enrolled_mean'].mean()):,.3f} "
        "for enrolled members"
    )
    assert markdown_text(summary) in texts(at.caption)
    # The balance table: the five matching variables, before and after matching.
    balance = event_study.balance_by_unit(viewer=LOCAL_VIEWER, filters=opened, small_cells="show")
    balance = balance[balance["level"] == "all"]
    table = at.dataframe[1].value
    assert list(table["std_diff_after"]) == list(balance["std_diff_after"])
    assert list(table["std_diff_before"]) == list(balance["std_diff_before"])
    # The effects: every unit, and the pooled one in words.
    effects = impact.impact_by_unit(viewer=LOCAL_VIEWER, filters=opened, small_cells="show")
    effects = effects[effects["measure"] == "admissions_per_enrollment"]
    shown = at.dataframe[2].value
    assert len(shown) == len(effects)
    assert same_numbers(list(shown["effect"]), list(effects["effect"]))
    assert shown["unit"].iloc[-1] == "All selected programs"
    labels = [button.proto.label for button in at.get("download_button")]
    assert len(labels) == 3 and all(label.startswith("Download ") for label in labels)
    # Another model and measure redraw the chart with that unit's figures.
    every = event_study.event_study(viewer=LOCAL_VIEWER, filters=opened, small_cells="show")
    model = str(every.sort_values("matched_enrollments")["program_model"].dropna().iloc[-1])
    at.selectbox(key="impact_unit").set_value(model)
    at.selectbox(key="impact_month_measure").set_value("total_paid_per_enrollment")
    at.run()
    _no_failures(at)
    rows = every[
        (every["program_model"] == model) & (every["measure"] == "total_paid_per_enrollment")
    ]
    drawn = {}
    for trace in figures(at)["chart_impact_event_study"]["data"]:
        if trace.get("mode") == "lines+markers":
            drawn.setdefault(trace["name"], []).extend(values(trace, "y"))
    assert same_numbers(drawn["Enrolled members"], list(rows["enrolled_mean"]))
