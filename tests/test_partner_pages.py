"""Issue #4 in the pages: what a signed-in state partner, a person without a grant and
leadership see, in Streamlit's AppTest, on SQLite and PostgreSQL.

A partner granted TX opens every page on links that Hypothesis writes (states of the grant
and outside it, other states' programs, models, conditions, months, setting) and with the
pages' own controls set; everything the page shows is gathered (texts, tiles, tables, widget
options, Plotly figures with their hover data, the CSV behind every download button) and
must hold no other state's figures, no count from 1 to 10 and no member-level identifier.
"""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
import streamlit as st
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as hs
from sqlalchemy import Engine

from dashboard.filters import default_years, months_between, whole_years
from dashboard.formatting import GROUP_LABELS, PREPOST_MEASURES, SUMMARY_MEASURES
from data_access import access, db, event_study, exports, impact, queries
from data_access.access import LOCAL_VIEWER, Viewer
from data_access.errors import DisclosureRefused
from data_access.filters import OutcomeFilter
from data_access.settings import get_settings
from data_access.vocabulary import (
    EVENT_STUDY_MEASURES,
    IMPACT_MEASURES,
    NOT_ENROLLED,
    PRIMARY_CONDITIONS,
    PROGRAM_GROUPS,
)
from tests.app_helpers import (
    EXPORT_BUILDERS,
    PAGES,
    TIMEOUT,
    count_export_builds,
    figures,
    same_numbers,
    values,
)
from tests.conftest import ENGINES, POSTGRES_ADMIN_DSN
from tests.signed_in import (
    Shown,
    collect,
    download_key,
    download_text,
    keep_downloads,
    member_level_ids,
    open_as,
    read_csv,
    signed_in_app,
    strings,
)

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
STATE_NAMES: dict[str, str] = dict(
    pd.read_csv(SAMPLE / "states.csv.gz", dtype=str)[["state_code", "state_name"]].itertuples(
        index=False, name=None
    )
)
PROGRAMS = pd.read_csv(SAMPLE / "programs.csv.gz", dtype=str)
PROGRAM_IDS = sorted(PROGRAMS["program_id"])
FIRST_MONTH, LAST_MONTH = "2015-01", "2025-12"  # the sample's data (sample_data/README.md)
MONTHS = months_between(FIRST_MONTH, LAST_MONTH)

PARTNER = "tx.partner@example.org"
LEADER = "leader@example.org"
GRANTED = "TX"
GRANTED_NAME = STATE_NAMES[GRANTED]
OTHER_STATES = {code: name for code, name in STATE_NAMES.items() if code != GRANTED}
NATIONAL_LABEL = "All states (national)"
SUPPRESSED = "fewer than 11"
THRESHOLD = 11
AUDITOR = Viewer(email="auditor@example.org", role="admin")
PARTNER_VIEWER = Viewer(email=PARTNER, role="state_partner", states=(GRANTED,))

# Counts of members, member-months, stays and enrollments, wherever a table or a CSV has them.
COUNT_COLUMNS = frozenset(
    {
        "member_months",
        "admissions",
        "discharges",
        "inpatient_days",
        "followed_discharges",
        "readmissions_30d",
        "ed_visits",
        "followed_behavioral_discharges",
        "followups_7d",
        "followups_30d",
        "peer_contacts_1d",
        "enrollments",
    }
)
# Hover labels of the charts whose customdata value is a count.
COUNT_HOVER = re.compile(
    r"(?:Member-months|Admissions|discharges|Analysable enrollments): %\{customdata\[(\d+)\]"
)
OTHER_CODE = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(OTHER_STATES)) + r")(?![A-Za-z])")
OTHER_NAME = re.compile(r"\b(" + "|".join(sorted(OTHER_STATES.values())) + r")\b")
NOTICE_START = "Some filters in the link were not recognised"
SIDEBAR_STATE = f"**State:** {GRANTED} · {GRANTED_NAME}"
LATTICE_REFUSAL = "not available to state partners"


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=ENGINES)
def pages_database(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    """A copy of the loaded sample for this module, once per engine, with the grants of these
    tests (they write grants and audit rows; the shared sample is read-only)."""
    if request.param == "sqlite":
        source = request.getfixturevalue("loaded_sample_sqlite")
        copy = tmp_path_factory.mktemp("partner_pages") / "outcomes.sqlite"
        shutil.copyfile(source.removeprefix("sqlite:///"), copy)
        url = f"sqlite:///{copy}"
        _grant(url)
        yield url
        db.dispose_engines()
        return
    source = request.getfixturevalue("loaded_sample_postgres").rsplit("/", 1)[-1]
    name = f"outcomes_partner_pages_{uuid.uuid4().hex[:12]}"
    db.dispose_engines()  # a template must have no other connections
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        _grant(url)
        yield url
    finally:
        db.dispose_engines()
        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _grant(url: str) -> None:
    engine = db.get_engine(url)
    viewer = access.grant(
        email=PARTNER, role="state_partner", states=[GRANTED], granted_by="test", engine=engine
    )
    assert viewer == PARTNER_VIEWER
    access.grant(email=LEADER, role="leadership", granted_by="test", engine=engine)


@pytest.fixture
def outcomes(monkeypatch: pytest.MonkeyPatch, pages_database: str) -> Iterator[Engine]:
    """The app's settings pointed at this module's database; fresh caches; download bytes
    kept."""
    monkeypatch.setenv("DATABASE_URL", pages_database)
    get_settings.cache_clear()
    st.cache_data.clear()
    keep_downloads(monkeypatch)
    assert get_settings().small_cell_threshold == THRESHOLD
    yield db.get_engine(pages_database)
    get_settings.cache_clear()
    st.cache_data.clear()


# -- what must never be shown to the partner -------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float | None:
    """A count cell as a number; None when blank, suppressed or not a number."""
    if _blank(value):
        return None
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if text in (SUPPRESSED, "n/a", ""):
            return None
        try:
            return float(text)
        except ValueError:
            return None
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _small(value: Any) -> bool:
    number = _number(value)
    return number is not None and 1 <= number < THRESHOLD


def other_states_in(text: str) -> set[str]:
    """Codes and names of states other than the granted one, as whole words."""
    return set(OTHER_CODE.findall(text)) | set(OTHER_NAME.findall(text))


def table_problems(where: str, frame: pd.DataFrame) -> list[str]:
    """Rows or cells of another state, and small counts, in a table or a CSV."""
    problems: list[str] = []
    for column in map(str, frame.columns):
        cells = list(frame[column])
        if column == "state_code":
            bad = sorted({str(v) for v in cells if not _blank(v) and v != GRANTED})
            if bad:
                problems.append(f"{where}: rows of state_code {bad}")
        if column == "state_name":
            bad = sorted({str(v) for v in cells if not _blank(v)} - {GRANTED_NAME, NATIONAL_LABEL})
            if bad:
                problems.append(f"{where}: rows of state_name {bad}")
        if column == "program_id":
            bad = sorted({str(v) for v in cells if not _blank(v)} - set(_granted_programs()))
            if bad:
                problems.append(f"{where}: rows of programs {bad}")
        if column in COUNT_COLUMNS:
            small = sorted({str(v) for v in cells if _small(v)})
            if small:
                problems.append(f"{where}: {column} shows the small counts {small}")
        for cell in cells:
            if isinstance(cell, str) and (found := other_states_in(cell)):
                problems.append(f"{where}: column {column} holds {cell!r} ({sorted(found)})")
                break
    return problems


def _granted_programs() -> list[str]:
    return list(PROGRAMS.loc[PROGRAMS["state_code"] == GRANTED, "program_id"])


def figure_problems(key: str, figure: dict[str, Any]) -> list[str]:
    """Another state's location, trace or label, or a small count in the hover data."""
    problems: list[str] = []
    layout = {name: value for name, value in figure.get("layout", {}).items() if name != "template"}
    for text in strings(layout):
        if found := other_states_in(text):
            problems.append(f"{key}: layout text {text!r} names {sorted(found)}")
    for trace in figure.get("data", []):
        name = trace.get("name")
        bad = [code for code in trace.get("locations") or [] if code != GRANTED]
        if bad:
            problems.append(f"{key}: map locations {bad}")
        for text in strings(trace):
            if found := other_states_in(text):
                problems.append(f"{key}: trace {name!r} shows {text!r} ({sorted(found)})")
                break
            for n in re.findall(r"n=([\d,]+)", text):
                if _small(n):
                    problems.append(f"{key}: trace {name!r} label {text!r} has n={n}")
        columns = {int(i) for i in COUNT_HOVER.findall(str(trace.get("hovertemplate", "")))}
        for row in trace.get("customdata") or []:
            cells = row if isinstance(row, list) else [row]
            small = [cells[i] for i in sorted(columns) if i < len(cells) and _small(cells[i])]
            if small:
                problems.append(f"{key}: trace {name!r} hover counts {small} in {cells}")
                break
    return problems


def csv_problems(key: str, text: str) -> list[str]:
    problems = table_problems(f"download {key}", read_csv(text))
    header = next(csv.reader(io.StringIO(text)), [])
    if "suppressed" not in header and any(c in COUNT_COLUMNS for c in header):
        problems.append(f"download {key}: no `suppressed` column (a partner's file is suppressed)")
    return problems


def partner_problems(shown: Shown, where: str) -> list[str]:
    """Everything on a partner's page that issue #4 forbids."""
    problems = [f"{where}: uncaught exception {text[:300]!r}" for text in shown.exceptions]
    # Every filter a page builds from the partner's sidebar stays within the partner's choices.
    problems += [
        f"{where}: refused {text[:200]!r}" for text in shown.texts if LATTICE_REFUSAL in text
    ]
    for text in [*shown.texts, *shown.errors] + [
        w for w in shown.warnings if not w.startswith(NOTICE_START)
    ]:
        if found := other_states_in(text):
            problems.append(f"{where}: text {text[:200]!r} names {sorted(found)}")
    for label, value, _delta in shown.metrics:
        if re.fullmatch(r"\d[\d,]*", value) and _small(value):
            problems.append(f"{where}: tile {label!r} shows the count {value}")
    for number, table in enumerate(shown.tables):
        problems += table_problems(f"{where} table {number} {list(table.columns)[:3]}", table)
    for label, options in shown.options.items():
        for option in options:
            if found := other_states_in(option):
                problems.append(f"{where}: {label} offers {option!r} ({sorted(found)})")
    # A grant of one state: nothing to choose, the sidebar names the state; every other
    # filter is a single choice (everything or one value).
    states = shown.options.get("multiselect:States", shown.options.get("selectbox:States"))
    if states or SIDEBAR_STATE not in shown.texts:
        problems.append(f"{where}: the sidebar's states are {states}")
    if multiple := [label for label in shown.options if label.startswith("multiselect:")]:
        problems.append(f"{where}: the partner is offered several values in {multiple}")
    for label in ("selectbox:Program",):
        bad = [
            o
            for o in shown.options.get(label, [])
            if o != "All programs" and f"({GRANTED}, " not in o
        ]
        if bad:
            problems.append(f"{where}: {label} offers {bad}")
    for key, figure in shown.figures.items():
        problems += [f"{where}: {p}" for p in figure_problems(key, figure)]
    for key, text in shown.downloads.items():
        problems += [f"{where}: {p}" for p in csv_problems(key, text)]
    if ids := member_level_ids(shown.everything()):
        problems.append(f"{where}: member-level identifiers {ids[:10]}")
    return problems


def _values(raw: list[str]) -> list[str]:
    """A list parameter's values as the app reads them (repeated or comma-separated)."""
    found = [part.strip() for item in raw for part in item.split(",") if part.strip()]
    return list(dict.fromkeys(found))


def notice_problems(landing: Shown, query: dict[str, list[str]]) -> list[str]:
    """The link's notice names the states left out and says the access covers TX only."""
    refused = list(dict.fromkeys(v.upper() for v in _values(query.get("state", []))))
    refused = [code for code in refused if code != GRANTED]
    notices = [w for w in landing.warnings if w.startswith(NOTICE_START)]
    lines = [line for w in notices for line in w.splitlines() if line.startswith("- `state`")]
    expected = (
        [f"- `state`: left out {', '.join(refused)}: your access covers {GRANTED} only."]
        if refused
        else []
    )
    return [] if lines == expected else [f"notice for state={query.get('state')}: {lines}"]


# -- the links Hypothesis writes -------------------------------------------------------------


def _lists(values: list[str]) -> hs.SearchStrategy[list[str]]:
    return hs.one_of(
        hs.lists(hs.sampled_from(values), min_size=1, max_size=4),
        hs.just([""]),  # present but blank: "none selected"
    )


STATE_VALUES = [*sorted(STATE_NAMES), "tx", "ny", "CA", "ZZ", "TX,NY", "MI, OH"]
PROGRAM_VALUES = [*PROGRAM_IDS, "NO-SUCH-PROGRAM"]
MONTH_VALUES = [*MONTHS[::5], "2016-03", "2016-05", "2017-05", "2030-01", "2015-13", "soon"]
QUERY = hs.fixed_dictionaries(
    {},
    optional={
        "state": _lists(STATE_VALUES),
        "program": _lists(PROGRAM_VALUES),
        "model": _lists([*PROGRAM_GROUPS, "peer"]),
        "condition": _lists([*PRIMARY_CONDITIONS, "other"]),
        "from": hs.sampled_from(MONTH_VALUES).map(lambda m: [m]),
        "to": hs.sampled_from(MONTH_VALUES).map(lambda m: [m]),
        "setting": hs.sampled_from(["all", "behavioral", "medical", "surgical"]).map(lambda s: [s]),
    },
)
# Links biased to where other states have data and a partner's figures get small: the
# models of few states, the months when programs started, TX among other states.
NARROW_QUERY = hs.fixed_dictionaries(
    {
        "state": hs.lists(hs.sampled_from(["TX", "MI", "OH", "NY", "RI"]), min_size=1, max_size=3),
        "model": hs.lists(
            hs.sampled_from(["care_advocacy", "whole_health", "hot_spotting", "embedded"]),
            min_size=1,
            max_size=2,
            unique=True,
        ),
        "from": hs.sampled_from(["2016-01", "2016-04", "2017-01", "2017-03"]).map(lambda m: [m]),
        "to": hs.sampled_from(["2016-06", "2017-06", "2017-12", "2018-12"]).map(lambda m: [m]),
    },
    optional={
        "condition": hs.lists(hs.sampled_from(PRIMARY_CONDITIONS), min_size=1, max_size=1),
        "program": hs.lists(hs.sampled_from(PROGRAM_IDS), min_size=1, max_size=2),
    },
)
LINKS = hs.one_of(QUERY, NARROW_QUERY)
MEASURES = hs.sampled_from(list(SUMMARY_MEASURES))
PERIODS = hs.sampled_from(["month", "quarter", "year"])
# Each page's own controls, seeded in the session as a user who set them.
CONTROLS: dict[str, hs.SearchStrategy[dict[str, Any]]] = {
    "overview": hs.fixed_dictionaries({"overview_measure": MEASURES}),
    "trends": hs.fixed_dictionaries(
        {
            "trends_split": hs.sampled_from(["state_code", "program_model"]),
            "trends_period": PERIODS,
            "trends_measure": MEASURES,
        }
    ),
    "program_outcomes": hs.fixed_dictionaries(
        {"outcomes_measure": hs.sampled_from(list(PREPOST_MEASURES))}
    ),
    "state_profile": hs.fixed_dictionaries(
        {"profile_measure": MEASURES, "profile_period": PERIODS}
    ),
    "impact": hs.fixed_dictionaries(
        {
            "impact_month_measure": hs.sampled_from(list(EVENT_STUDY_MEASURES)),
            "impact_effect_measure": hs.sampled_from(list(IMPACT_MEASURES)),
        }
    ),
    # The previews shown, so their rows are checked as the files are.
    "downloads": hs.just({f"show_preview_{dataset}": True for dataset in EXPORT_BUILDERS}),
    "about_the_data": hs.just({}),
}
EXAMPLES = {
    "overview": 12,
    "trends": 12,
    "program_outcomes": 10,
    "impact": 8,
    "state_profile": 12,
    "downloads": 10,
    "about_the_data": 6,
}


def _partner_sees_only_their_state(page: str, query: dict[str, list[str]], controls) -> None:
    at, landing = open_as(PARTNER, page, query, controls)
    shown = collect(at)
    where = f"{page} at ?{query} with {controls}"
    problems = partner_problems(shown, where)
    first = landing if landing is not None else shown
    problems += notice_problems(first, query)
    if landing is not None:
        problems += partner_problems(landing, f"overview (landing) at ?{query}")
    assert not problems, "\n".join(problems)
    if page == "state_profile" and "selectbox:State" in shown.options:
        assert shown.options["selectbox:State"] == [f"{GRANTED} · {GRANTED_NAME}"]


def _property(page: str):
    @pytest.mark.slow  # dozens of app runs per page
    @settings(
        max_examples=EXAMPLES[page],
        deadline=None,
        database=None,
        # No shrinking: each example is a few app runs; a failure reports its link as drawn.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(query=LINKS, controls=CONTROLS[page])
    def check(outcomes: Engine, query: dict[str, list[str]], controls: dict[str, Any]) -> None:
        _partner_sees_only_their_state(page, query, controls)

    check.__name__ = f"test_partner_on_{page}_sees_only_their_state"
    return check


test_partner_on_overview_sees_only_their_state = _property("overview")
test_partner_on_trends_sees_only_their_state = _property("trends")
test_partner_on_program_outcomes_sees_only_their_state = _property("program_outcomes")
test_partner_on_impact_sees_only_their_state = _property("impact")
test_partner_on_state_profile_sees_only_their_state = _property("state_profile")
test_partner_on_downloads_sees_only_their_state = _property("downloads")
test_partner_on_about_the_data_sees_only_their_state = _property("about_the_data")


# -- fixed links: what the partner is told, and sees -----------------------------------------


def _audit(email: str, engine: Engine, events: list[str]) -> list[dict[str, Any]]:
    rows = access.audit_log(viewer=AUDITOR, email=email, events=events, engine=engine)
    return [row for row in rows.to_dict("records") if row["email"] == email]


def _table_with(shown: Shown, column: str) -> pd.DataFrame:
    tables = [table for table in shown.tables if column in table.columns]
    assert len(tables) == 1, [list(table.columns) for table in shown.tables]
    return tables[0]


def test_a_link_naming_other_states_drops_them_with_a_notice(outcomes: Engine) -> None:
    before = len(_audit(PARTNER, outcomes, ["states_dropped"]))
    query = {"state": ["NY", "TX", "mi"], "program": ["NY-TRANSITION", "TX-COACHING"]}
    at, _ = open_as(PARTNER, "overview", query)
    shown = collect(at)
    assert not partner_problems(shown, "overview"), partner_problems(shown, "overview")
    notice = [w for w in shown.warnings if w.startswith(NOTICE_START)]
    assert len(notice) == 1
    lines = notice[0].splitlines()
    assert "- `state`: left out NY, MI: your access covers TX only." in lines
    assert "- `program`: ignored unknown program 'NY-TRANSITION'." in lines
    # Nothing of the states left out: the map and its table are Texas's alone.
    traces = shown.figures["chart_overview_map"]["data"]
    assert [trace["locations"] for trace in traces] == [["TX"]]
    assert [trace["text"] for trace in traces] == [["Texas"]]
    assert set(_table_with(shown, "state_code")["state_code"]) == {"TX"}
    # One state granted: no state to choose; the one program asked for is chosen.
    assert at.session_state["filter_programs"] == "TX-COACHING"
    assert at.session_state["outcome_filter"] == OutcomeFilter(
        program_ids=("TX-COACHING",), month_from="2022-01", month_to="2024-12"
    )
    # The refused states are audited, once for the session.
    at.run(timeout=TIMEOUT)
    assert not [w for w in collect(at).warnings if w.startswith(NOTICE_START)]
    dropped = _audit(PARTNER, outcomes, ["states_dropped"])
    assert len(dropped) == before + 1
    assert dropped[0]["detail"] == "NY, MI" and dropped[0]["role"] == "state_partner"


def test_a_link_naming_only_another_state_shows_texas_not_that_state(outcomes: Engine) -> None:
    at, landing = open_as(PARTNER, "trends", {"state": ["NY"]}, {"trends_split": "state_code"})
    assert landing is not None and not notice_problems(landing, {"state": ["NY"]})
    shown = collect(at)
    assert not partner_problems(shown, "trends"), partner_problems(shown, "trends")
    figure = shown.figures["chart_trends"]
    panels = [a["text"] for a in figure["layout"].get("annotations", [])]
    assert panels == ["TX"], "one panel, Texas's"
    assert {row[3] for trace in figure["data"] for row in trace["customdata"]} == {"TX"}
    assert set(_table_with(shown, "state_code")["state_code"]) == {"TX"}
    assert set(read_csv(shown.downloads["download_trends"])["state_code"]) == {"TX"}


def test_a_small_enrolled_count_reads_fewer_than_11(outcomes: Engine) -> None:
    # TX's whole-health programme had one enrolled member in 2020.
    query = {"model": ["whole_health"], "from": ["2020-01"], "to": ["2020-12"]}
    true_count = queries.enrolled_members(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(
            states=("TX",),
            program_models=("whole_health",),
            month_from="2020-01",
            month_to="2020-12",
        ),
        engine=outcomes,
    )
    assert true_count == 1
    at, _ = open_as(PARTNER, "overview", query)
    shown = collect(at)
    tiles = {label: value for label, value, _ in shown.metrics}
    assert tiles["Enrolled members"] == "< 11"  # a tile's short form of "fewer than 11"
    assert not partner_problems(shown, "overview"), partner_problems(shown, "overview")
    leader, _ = open_as(LEADER, "overview", {**query, "state": ["TX"]})
    assert {m.label: m.value for m in leader.metric}["Enrolled members"] == f"{true_count:,}"


NATIONAL_LINK = {"model": ["care_advocacy"], "from": ["2016-01"], "to": ["2017-12"]}


def test_the_national_line_is_one_pooled_suppressed_line(outcomes: Engine) -> None:
    at, _ = open_as(PARTNER, "state_profile", NATIONAL_LINK)
    shown = collect(at)
    assert not partner_problems(shown, "state_profile"), partner_problems(shown, "state_profile")
    filters = OutcomeFilter(
        program_models=("care_advocacy",), month_from="2016-01", month_to="2017-12"
    )
    expected = queries.outcome_summary(
        viewer=PARTNER_VIEWER, filters=filters, period="quarter", scope="national", engine=outcomes
    )
    assert expected["suppressed"].str.len().gt(0).any(), "the national line has small cells"

    # The profile is about the programs: Texas's members not enrolled (dashed), the nation's
    # enrolled members pooled, and Texas's enrolled members.
    figure = shown.figures["chart_profile_trend"]
    assert [trace["name"] for trace in figure["data"]] == [
        f"{GRANTED_NAME}, not enrolled",
        f"{NATIONAL_LABEL}, enrolled",
        f"{GRANTED_NAME}, enrolled",
    ]
    assert figure["data"][1]["x"] == list(expected["quarter"])

    table = _table_with(shown, "quarter")
    national = table[table["state_name"] == NATIONAL_LABEL]
    assert national["state_code"].map(_blank).all(), "the pooled line has no state code"
    assert set(national["population"]) == {"enrolled"}
    assert list(national["quarter"]) == list(expected["quarter"])
    for column in sorted(COUNT_COLUMNS - {"enrollments"}):
        hidden = expected["suppressed"].str.split(";").map(lambda names, c=column: c in names)
        shown_cells = list(national[column])
        assert [cell == SUPPRESSED for cell in shown_cells] == list(hidden), column
        assert not any(_small(cell) for cell in shown_cells), column

    download = read_csv(shown.downloads["download_profile_trend"])
    pooled = download[download["state_name"] == NATIONAL_LABEL]
    assert set(pooled["state_code"]) == {""}
    assert len(pooled) == len(expected)
    assert not any(
        _small(cell) for column in COUNT_COLUMNS & set(pooled) for cell in pooled[column]
    )


def test_the_national_line_minus_texas_is_no_single_other_state(outcomes: Engine) -> None:
    """The national line and Texas's line side by side: their difference is the other
    states pooled, which must be no one state's figures and no count from 1 to 10 (the
    reason `_check_national` refuses the national line with one state outside the grant)."""
    link = {"model": ["care_advocacy"], "from": ["2017-01"], "to": ["2017-12"]}
    at, _ = open_as(PARTNER, "state_profile", link, {"profile_period": "month"})
    shown = collect(at)
    table = _table_with(shown, "month")
    national = table[table["state_name"] == NATIONAL_LABEL].set_index("month")
    # Both lines are of enrolled members; Texas's not-enrolled line is the comparison.
    enrolled = table["population"] == "enrolled"
    texas = table[(table["state_name"] == GRANTED_NAME) & enrolled].set_index("month")
    by_state = queries.outcome_summary(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(
            program_models=("care_advocacy",), month_from="2017-01", month_to="2017-12"
        ),
        by=("state_code",),
        engine=outcomes,
    )
    others = by_state[(by_state["state_code"] != GRANTED) & (by_state["member_months"] > 0)]
    problems = []
    months = national.index.intersection(texas.index)
    assert len(months) == 12
    for month in months:
        states = sorted(others.loc[others["month"] == month, "state_code"])
        for column in [*sorted(COUNT_COLUMNS - {"enrollments"}), "paid"]:
            whole, part = _number(national.loc[month, column]), _number(texas.loc[month, column])
            if whole is None or part is None:
                continue
            rest = round(whole - part, 2)
            if len(states) == 1 and rest:
                problems.append(f"{month}: national - Texas {column} = {rest:g}, {states[0]}'s")
            elif column != "paid" and 1 <= rest < THRESHOLD:
                problems.append(f"{month}: national - Texas {column} = {rest:g} ({states})")
    assert not problems, (
        "On the state profile (monthly) at ?" + str(link) + ":\n" + "\n".join(problems)
    )


# -- the partner's sidebar: everything or one value in each filter, whole calendar years ----

ALL_MODELS = [
    "All program models",
    "Embedded",
    "Care advocacy",
    "Whole health",
    "Hot spotting",
    "Not enrolled only (the comparison population)",
]
TX_PROGRAMS = [
    "All programs",
    "Peer support and coaching (members hospitalized or in hospital) (TX, Care advocacy)",
    "Peer support for recurrent admissions (TX, Hot spotting)",
    "Recovery and Resiliency peer services (TX, Embedded)",
    "Whole-health peer support for older adults (TX, Whole health)",
]
ALL_CONDITIONS = ["All primary conditions", "Mental health", "Substance use", "Co-occurring"]
# The sample's claims are complete to 2025-09: the partner opens on 2022 to 2024.
PARTNER_DEFAULT = OutcomeFilter(month_from="2022-01", month_to="2024-12")
NARROWED = (
    "State partners choose everything or one value in each filter, so that no two views can "
    "be subtracted to reveal a small count."
)
WIDENED = (
    "State partners choose whole calendar years, so that no two views can be subtracted to "
    "reveal a small count."
)


def _sidebar_choices(at: Any) -> dict[str, tuple[list[str], str]]:
    return {box.label: (list(box.options), box.value) for box in at.sidebar.selectbox}


def _notice_lines(shown: Shown) -> list[str]:
    notices = [w for w in shown.warnings if w.startswith(NOTICE_START)]
    assert len(notices) <= 1, notices
    return [line for w in notices for line in w.splitlines() if line.startswith("- ")]


def test_the_partner_sidebar_offers_everything_or_one_value_and_whole_years(
    outcomes: Engine,
) -> None:
    at, _ = open_as(PARTNER, "overview")
    assert not at.exception and not at.error
    assert not at.sidebar.multiselect
    assert _sidebar_choices(at) == {
        "Program model": (ALL_MODELS, "all"),
        "Program": (TX_PROGRAMS, "all"),
        "Primary condition": (ALL_CONDITIONS, "all"),
    }
    assert SIDEBAR_STATE in [element.value for element in at.sidebar.markdown]
    comparison = at.checkbox(key="filter_comparison")
    assert (comparison.label, comparison.value) == ("With members not enrolled", True)
    years = at.select_slider(key="filter_years")
    assert years.label == "Years"
    assert list(years.options) == [str(year) for year in range(2015, 2026)]
    assert years.value == ("2022", "2024")
    assert [element.value for element in at.sidebar.caption][:1] == [
        "As a state partner you choose everything or one value in each filter, and whole "
        "calendar years, so that no two views can be subtracted to reveal a count that "
        "small-cell suppression hides (see About the data)."
    ]
    assert at.session_state["outcome_filter"] == PARTNER_DEFAULT
    assert dict(at.query_params) == {"from": "2022-01", "to": "2024-12"}
    assert not at.warning  # no notice: nothing in the link to change

    # One model, one of its programs, one condition, no comparison, two years.
    at.selectbox(key="filter_models").set_value("embedded").run(timeout=TIMEOUT)
    assert at.selectbox(key="filter_programs").options == [TX_PROGRAMS[0], TX_PROGRAMS[3]]
    at.selectbox(key="filter_programs").set_value("TX-RR-EMBEDDED")
    at.selectbox(key="filter_conditions").set_value("substance_use")
    at.checkbox(key="filter_comparison").uncheck()
    at.select_slider(key="filter_years").set_range("2019", "2020").run(timeout=TIMEOUT)
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert at.session_state["outcome_filter"] == OutcomeFilter(
        program_models=("embedded",),
        program_ids=("TX-RR-EMBEDDED",),
        conditions=("substance_use",),
        month_from="2019-01",
        month_to="2020-12",
    )
    assert dict(at.query_params) == {
        "model": "embedded",
        "program": "TX-RR-EMBEDDED",
        "condition": "substance_use",
        "from": "2019-01",
        "to": "2020-12",
    }
    assert not partner_problems(collect(at), "overview"), partner_problems(collect(at), "overview")

    # The comparison population alone: no program to choose, the comparison shown.
    at.selectbox(key="filter_models").set_value(NOT_ENROLLED).run(timeout=TIMEOUT)
    assert at.selectbox(key="filter_programs").disabled
    assert at.checkbox(key="filter_comparison").disabled
    assert at.checkbox(key="filter_comparison").value is True
    assert at.session_state["outcome_filter"] == OutcomeFilter(
        program_models=(NOT_ENROLLED,),
        conditions=("substance_use",),
        month_from="2019-01",
        month_to="2020-12",
    )
    at.button(key="filter_reset").click().run(timeout=TIMEOUT)
    assert at.session_state["outcome_filter"] == PARTNER_DEFAULT
    assert not at.exception and not at.error


def test_a_partner_link_asking_for_two_conditions_shows_all_conditions_with_a_notice(
    outcomes: Engine,
) -> None:
    """The differencing attempt of issue #14: conditions X+Y beside X. The link is narrowed
    to all conditions, and the notice says so and why."""
    query = {"condition": ["mental_health", "substance_use"]}
    at, _ = open_as(PARTNER, "overview", query)
    assert not at.exception and not at.error
    [notice] = [w for w in collect(at).warnings if w.startswith(NOTICE_START)]
    assert notice == (
        "Some filters in the link were not recognised or are not available to you, and were "
        "changed:\n\n"
        "- `condition`: asked for Mental health, Substance use; showing all primary conditions "
        f"instead. {NARROWED}"
    )
    assert at.selectbox(key="filter_conditions").value == "all"
    assert at.session_state["outcome_filter"] == PARTNER_DEFAULT
    assert "condition" not in at.query_params
    # Leadership's link is the link: two conditions, no notice.
    leader, _ = open_as(LEADER, "overview", query)
    assert not leader.warning
    assert leader.session_state["outcome_filter"].conditions == ("mental_health", "substance_use")


def test_a_partner_link_is_brought_into_the_partner_choices_with_a_notice(
    outcomes: Engine,
) -> None:
    query = {
        "model": ["embedded", "hot_spotting", NOT_ENROLLED],
        "program": ["TX-RR-EMBEDDED", "TX-HOT-SPOTTING"],
        "condition": ["co_occurring"],
        "from": ["2016-03"],
        "to": ["2017-05"],
    }
    at, _ = open_as(PARTNER, "overview", query)
    assert not at.exception and not at.error
    assert _notice_lines(collect(at)) == [
        f"- `model`: asked for Embedded, Hot spotting; showing all program models instead. "
        f"{NARROWED}",
        f"- `program`: asked for TX-HOT-SPOTTING, TX-RR-EMBEDDED; showing all programs instead. "
        f"{NARROWED}",
        "- `from`, `to`: widened 2016-03 to 2017-05 to whole calendar years, 2016-01 to "
        f"2017-12. {WIDENED}",
    ]
    assert at.session_state["outcome_filter"] == OutcomeFilter(
        conditions=("co_occurring",), month_from="2016-01", month_to="2017-12"
    )
    assert dict(at.query_params) == {
        "condition": "co_occurring",
        "from": "2016-01",
        "to": "2017-12",
    }
    # The same link for leadership is taken as it is.
    leader, _ = open_as(LEADER, "overview", query)
    assert not leader.warning
    assert leader.session_state["outcome_filter"] == OutcomeFilter(
        program_models=("embedded", "hot_spotting", NOT_ENROLLED),
        program_ids=("TX-HOT-SPOTTING", "TX-RR-EMBEDDED"),
        conditions=("co_occurring",),
        month_from="2016-03",
        month_to="2017-05",
    )


def test_a_partner_of_three_states_chooses_one_or_all_of_them(outcomes: Engine) -> None:
    email = "three.states@example.org"
    access.grant(
        email=email,
        role="state_partner",
        states=["TX", "NY", "RI"],
        granted_by="test",
        engine=outcomes,
    )
    at, _ = open_as(email, "overview", {"state": ["TX", "NY", "MI"]})
    assert not at.exception and not at.error
    assert _notice_lines(collect(at)) == [
        "- `state`: left out MI: your access covers NY, RI, TX only.",
        f"- `state`: asked for NY, TX; showing all your states instead. {NARROWED}",
    ]
    assert _sidebar_choices(at)["States"] == (
        ["All your states (NY, RI, TX)", "NY · New York", "RI · Rhode Island", "TX · Texas"],
        "all",
    )
    assert at.session_state["outcome_filter"] == PARTNER_DEFAULT
    at.selectbox(key="filter_states").set_value("RI").run(timeout=TIMEOUT)
    assert not at.exception and not at.error
    assert at.session_state["outcome_filter"].states == ("RI",)
    assert at.selectbox(key="filter_programs").options == [
        "All programs",
        *(
            f"{row.program_name} (RI, {GROUP_LABELS[row.program_model]})"
            for row in PROGRAMS[PROGRAMS["state_code"] == "RI"]
            .sort_values("program_name")
            .itertuples()
        ),
    ]
    assert at.query_params["state"] == "RI"


def test_the_partner_tiles_end_with_the_last_complete_year(outcomes: Engine) -> None:
    """Claims are complete to 2025-09: 2023 to 2025 is tiled as 2023 to 2024 and compared
    with 2021 to 2022, whole years both; 2025 alone is shown as it is, and said so."""
    at, _ = open_as(PARTNER, "overview", {"from": ["2023-01"], "to": ["2025-12"]})
    assert not at.exception and not at.error
    captions = [element.value for element in at.caption]
    assert (
        "The tiles cover the whole years to 2024: the last year of the range is not complete "
        "yet (claims of the latest months are still arriving). Changes compare with 2021 to "
        "2022, the years of equal length just before."
    ) in captions
    at, _ = open_as(PARTNER, "overview", {"from": ["2025-01"], "to": ["2025-12"]})
    assert not at.exception and not at.error
    assert (
        "The selected year is not complete yet (claims of the latest months are still "
        "arriving): the figures will still change. Changes compare with 2024, the year just "
        "before."
    ) in [element.value for element in at.caption]


NARROW_CHOICES = {
    "model": ["embedded"],
    "program": ["TX-RR-EMBEDDED"],
    "condition": ["substance_use"],
    "from": ["2019-01"],
    "to": ["2020-12"],
    "setting": ["behavioral"],
}


def test_no_page_builds_a_filter_outside_the_partner_choices(outcomes: Engine) -> None:
    """Each page derives filters from the sidebar's (the comparison added or left out, one
    state, the years before, the tiles' complete years): none is refused as outside the
    partner's choices, for one value in every filter."""
    at, _ = open_as(PARTNER, "overview", NARROW_CHOICES)
    problems: list[str] = []
    for page in PAGES:
        if page != "overview":
            at.switch_page(PAGES[page]).run(timeout=TIMEOUT)
        shown = collect(at)
        problems += [f"{page}: {e}" for e in shown.errors]
        problems += [p for p in partner_problems(shown, page) if "refused" in p or "uncaught" in p]
    assert at.session_state["outcome_filter"] == OutcomeFilter(
        program_models=("embedded",),
        program_ids=("TX-RR-EMBEDDED",),
        conditions=("substance_use",),
        month_from="2019-01",
        month_to="2020-12",
        setting="behavioral",
    )
    assert not problems, "\n".join(problems)
    # The check sees a refusal: a filter outside the choices, asked of the data directly.
    with pytest.raises(DisclosureRefused, match=LATTICE_REFUSAL):
        queries.outcome_summary(
            viewer=PARTNER_VIEWER,
            filters=OutcomeFilter(conditions=("substance_use", "co_occurring")),
            engine=outcomes,
        )


@pytest.mark.parametrize(
    ("last_month", "last_complete", "expected"),
    [
        ("2025-12", "2025-09", ("2022", "2024")),
        ("2025-12", "2025-12", ("2023", "2025")),
        ("2025-12", None, ("2023", "2025")),
        ("2025-06", None, ("2022", "2024")),
        ("2016-12", "2016-11", ("2015", "2015")),
        ("2015-12", "2015-11", ("2015", "2015")),  # no complete year: the latest with data
        ("2015-12", "2014-12", ("2015", "2015")),
    ],
)
def test_default_years_are_the_latest_complete_calendar_years(
    last_month: str, last_complete: str | None, expected: tuple[str, str]
) -> None:
    assert default_years(months_between("2015-01", last_month), last_complete) == expected
    assert whole_years(*expected) == (f"{expected[0]}-01", f"{expected[1]}-12")


# -- no grant --------------------------------------------------------------------------------


def test_a_person_without_a_grant_sees_no_figures(outcomes: Engine) -> None:
    email = f"no-grant-{uuid.uuid4().hex[:8]}@example.org"
    at = signed_in_app(email, {"state": ["TX"], "model": ["embedded"]})
    at.run(timeout=TIMEOUT)
    assert not at.exception
    assert [title.value for title in at.title] == ["No access to the dashboard"]
    assert not at.dataframe and not at.metric and not at.download_button
    assert not at.get("plotly_chart") and not at.sidebar.multiselect
    shown = collect(at)
    assert not member_level_ids(shown.everything())
    assert not [text for text in shown.texts + shown.errors if other_states_in(text)]
    for page in ("trends", "downloads", "state_profile"):
        with pytest.raises(ValueError, match="navigation page"):
            at.switch_page(PAGES[page])
    refused = _audit(email, outcomes, ["access_refused"])
    assert [(row["event"], row["detail"]) for row in refused] == [("access_refused", "no grant")]
    assert not _audit(email, outcomes, ["sign_in", "download"])


# -- every download is audited ---------------------------------------------------------------


# Downloads of the enrolled members' figures only, audited with the filter they were
# computed with: the sidebar's without not_enrolled.
ENROLLED_DOWNLOADS = frozenset({"download_followup_states"})


def _csv_rows(text: str) -> int:
    return len(list(csv.reader(io.StringIO(text)))) - 1


@pytest.mark.slow  # every download button of every page, pressed
@pytest.mark.parametrize("page", [p for p in PAGES if p != "about_the_data"])
def test_each_download_the_partner_presses_is_audited(outcomes: Engine, page: str) -> None:
    # The latest months of TX's four programs, with the profile's quarters.
    at, _ = open_as(PARTNER, page)
    buttons = {download_key(b): b for b in at.download_button}
    assert buttons, f"{page} offers downloads"
    assert not [key for key in buttons if "unsuppressed" in key]
    for key in buttons:
        button = at.download_button(key=key)
        before = _audit(PARTNER, outcomes, ["download"])
        # The file is produced, and audited, when it is asked for (a deferred download).
        text = download_text(button)
        assert not csv_problems(key, text), csv_problems(key, text)
        after = _audit(PARTNER, outcomes, ["download"])
        assert len(after) == len(before) + 1, f"one audit row for {key}"
        row = after[0]
        assert row["role"] == "state_partner"
        assert row["dataset"] == key.removeprefix("download_")
        assert row["rows"] == _csv_rows(text)
        assert row["suppressed"] in (True, 1)
        # The partner's "all states" is recorded as what it covers: the granted state.
        sidebar = at.session_state["outcome_filter"]
        recorded = sidebar.model_copy(update={"states": sidebar.states or ("TX",)})
        if key in ENROLLED_DOWNLOADS:
            models = tuple(m for m in recorded.program_models if m != NOT_ENROLLED)
            recorded = recorded.model_copy(update={"program_models": models})
        assert row["filters"] == recorded.model_dump_json()


def test_a_drawn_page_audits_no_download_and_each_file_produced_is_audited_once(
    outcomes: Engine,
) -> None:
    before = len(_audit(PARTNER, outcomes, ["download"]))
    at, _ = open_as(PARTNER, "overview")
    assert not at.exception
    at.run(timeout=TIMEOUT)
    # Drawn twice, and the button pressed: nothing produced, nothing audited (the browser
    # asks the server for the file, which AppTest's click does not).
    at.download_button(key="download_overview_map").click().run(timeout=TIMEOUT)
    assert not at.exception
    assert len(_audit(PARTNER, outcomes, ["download"])) == before
    button = at.download_button(key="download_overview_map")
    first = download_text(button)
    assert len(_audit(PARTNER, outcomes, ["download"])) == before + 1
    assert download_text(button) == first
    assert len(_audit(PARTNER, outcomes, ["download"])) == before + 2


# -- the Impact page --------------------------------------------------------------------------


def _lines(figure: dict[str, Any]) -> dict[str, list[float]]:
    drawn: dict[str, list[float]] = {}
    for trace in figure["data"]:
        if trace.get("mode") == "lines+markers":
            drawn.setdefault(trace["name"], []).extend(values(trace, "y"))
    return drawn


def test_the_partner_impact_page_shows_texas_alone_and_suppressed(outcomes: Engine) -> None:
    at, _ = open_as(PARTNER, "impact", {"from": [FIRST_MONTH], "to": [LAST_MONTH]})
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    shown = collect(at)
    assert not partner_problems(shown, "impact"), partner_problems(shown, "impact")
    sidebar = at.session_state["outcome_filter"]
    # The months drawn are the partner's suppressed ones (TX's programs only).
    months = event_study.event_study(
        viewer=PARTNER_VIEWER, filters=sidebar, small_cells="suppress", engine=outcomes
    )
    rows = months[(months["level"] == "all") & (months["measure"] == "admissions_per_enrollment")]
    drawn = _lines(figures(at)["chart_impact_event_study"])
    assert same_numbers(drawn["Enrolled members"], list(rows["enrolled_mean"]))
    assert rows["enrolled_mean"].isna().any(), "some of TX's months are suppressed"
    assert rows["matched_enrollments"].iloc[0] >= THRESHOLD
    # The effects table lists TX's programs, their models and all programs, nothing else.
    effects = impact.impact_by_unit(
        viewer=PARTNER_VIEWER, filters=sidebar, small_cells="suppress", engine=outcomes
    )
    effects = effects[effects["measure"] == "admissions_per_enrollment"]
    assert set(effects["state_code"].dropna()) == {GRANTED}
    table = _table_with(shown, "in_words")
    assert len(table) == len(effects)
    programs = table["unit"][table["unit"].str.endswith(")")]
    assert programs.str.endswith(f"({GRANTED})").all() and len(programs) >= 2
    # A leader sees the other states' programs on the same page.
    leader, _ = open_as(LEADER, "impact", {"from": [FIRST_MONTH], "to": [LAST_MONTH]})
    units = collect(leader)
    leader_programs = _table_with(units, "in_words")["unit"]
    assert {code for text in leader_programs for code in OTHER_CODE.findall(text)}


# -- leadership ------------------------------------------------------------------------------


def test_leadership_sees_every_state_on_the_overview_map(outcomes: Engine) -> None:
    at, _ = open_as(LEADER, "overview")
    assert not at.exception and not at.error
    shown = collect(at)
    filters = at.session_state["outcome_filter"]
    by_state = queries.outcome_summary(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=filters,
        period=None,
        by=("state_code", "population"),
        engine=outcomes,
    )
    states = sorted(by_state.loc[by_state["population"] == "enrolled", "state_code"])
    assert len(states) > 1
    [trace] = shown.figures["chart_overview_map"]["data"]
    assert sorted(trace["locations"]) == states
    assert shown.options["multiselect:States"] == [
        f"{code} · {name}" for code, name in sorted(STATE_NAMES.items())
    ]
    # The checks the partner's pages pass do catch another state's figures.
    problems = "\n".join(partner_problems(shown, "leadership overview"))
    assert "map locations" in problems and "rows of state_code" in problems


def test_the_checks_catch_what_leadership_may_see(outcomes: Engine) -> None:
    """The partner's checks are not vacuous: leadership's unsuppressed trend of RI and TX
    when RI's programme started fails every one of them."""
    link = {"state": ["RI", "TX"], "from": ["2016-06"], "to": ["2016-12"]}
    at, _ = open_as(LEADER, "trends", link, {"trends_split": "state_code"})
    assert not at.exception and not at.error
    problems = "\n".join(partner_problems(collect(at), "leadership trends"))
    for kind in (
        "rows of state_code ['RI']",
        "member_months shows the small counts",
        "hover counts",
        "offers 'RI · Rhode Island'",
        "the sidebar's states are",
    ):
        assert kind in problems, problems


UNSUPPRESSED_LABEL = "Unsuppressed file (leadership only; recorded in the audit log)"


def test_leadership_gets_the_unsuppressed_file_only_after_a_purpose(outcomes: Engine) -> None:
    link = {"state": ["RI", "TX"], "from": ["2016-06"], "to": ["2016-12"]}
    at, _ = open_as(LEADER, "downloads", link)
    assert not at.exception and not at.error
    # (Opening the link read the landing page's files, each audited: they are counted here.)
    produced = len(_audit(LEADER, outcomes, ["download"]))
    assert [expander.label for expander in at.expander] == [UNSUPPRESSED_LABEL] * 3
    button = at.download_button(key="download_unsuppressed_monthly")
    assert button.disabled and button.proto.label == "Download unsuppressed monthly CSV"

    at.text_input(key="purpose_monthly").input("CMS quality report, Q3").run(timeout=TIMEOUT)
    assert not at.exception and not at.error
    filters = at.session_state["outcome_filter"]
    leader = Viewer(email=LEADER, role="leadership")
    expected = exports.export_frame(
        dataset="monthly", filters=filters, viewer=leader, small_cells="show", engine=outcomes
    )
    button = at.download_button(key="download_unsuppressed_monthly")
    assert not button.disabled
    assert button.proto.label == "Download unsuppressed monthly CSV"
    assert len(_audit(LEADER, outcomes, ["download"])) == produced
    text = download_text(button)
    assert text == exports.to_csv_text(expected)
    assert any(_small(v) for c in COUNT_COLUMNS & set(expected) for v in expected[c])
    # The ordinary download stays suppressed, and the other file still wants its purpose.
    ordinary = read_csv(download_text(at.download_button(key="download_monthly")))
    assert not [v for c in COUNT_COLUMNS & set(ordinary) for v in ordinary[c] if _small(v)]
    assert at.download_button(key="download_unsuppressed_prepost").disabled

    # Both files were produced (each audited); the latest row is the ordinary one.
    [ordinary_row, row] = _audit(LEADER, outcomes, ["download"])[:2]
    assert (ordinary_row["dataset"], bool(ordinary_row["suppressed"])) == ("monthly", True)
    assert (row["dataset"], row["rows"], bool(row["suppressed"])) == (
        "monthly",
        len(expected),
        False,
    )
    assert row["detail"] == "purpose: CMS quality report, Q3"


def test_a_partner_never_sees_the_unsuppressed_file(outcomes: Engine) -> None:
    at, _ = open_as(PARTNER, "downloads", {"from": ["2016-06"], "to": ["2016-12"]})
    assert not at.exception
    assert not at.expander and not at.text_input
    assert sorted(download_key(b) for b in at.download_button) == [
        "download_impact",
        "download_monthly",
        "download_prepost",
    ]
    assert UNSUPPRESSED_LABEL not in collect(at).everything()


def test_the_partner_downloads_page_counts_then_builds_suppressed_rows_when_asked(
    outcomes: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = count_export_builds(monkeypatch)
    at, _ = open_as(PARTNER, "downloads", {"from": ["2024-01"], "to": ["2024-12"]})
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert built == [], "a plain visit builds no export"
    sidebar = at.session_state["outcome_filter"]
    expected = {
        dataset: exports.export_frame(
            dataset=dataset,
            filters=sidebar,
            viewer=PARTNER_VIEWER,
            small_cells="suppress",
            engine=outcomes,
        )
        for dataset in EXPORT_BUILDERS
    }
    built.clear()
    # TX in 2024: 3 models and the not enrolled by month; 4 programs; (4 + 4 + 1) x 7.
    counts = {"monthly": 36, "prepost": 4, "impact": 63}
    assert {dataset: len(frame) for dataset, frame in expected.items()} == counts
    for dataset, rows in counts.items():
        label = at.download_button(key=f"download_{dataset}").proto.label
        assert label == f"Download {dataset} CSV ({rows:,} rows)"
    assert [toggle.label for toggle in at.toggle] == [
        "Show the 36 rows",
        "Show the 4 rows",
        "Show the first 50 rows",
    ]

    # The previews, asked for: the partner's suppressed rows, the same as the files'.
    for dataset in EXPORT_BUILDERS:
        at.toggle(key=f"show_preview_{dataset}").set_value(True)
    at.run(timeout=TIMEOUT)
    assert not at.exception and not at.error
    assert built == list(EXPORT_BUILDERS)
    for table, frame in zip(at.dataframe, expected.values(), strict=True):
        pd.testing.assert_frame_equal(
            table.value.reset_index(drop=True),
            frame.head(50).reset_index(drop=True),
            check_dtype=False,
        )
    assert expected["impact"]["suppressed"].astype(bool).any(), "some cells are suppressed"

    # The file, asked for: built from the preview's cached rows, audited once.
    before = _audit(PARTNER, outcomes, ["download"])
    text = download_text(at.download_button(key="download_impact"))
    assert text == exports.to_csv_text(expected["impact"])
    assert built == list(EXPORT_BUILDERS)
    after = _audit(PARTNER, outcomes, ["download"])
    assert len(after) == len(before) + 1
    assert (after[0]["dataset"], after[0]["rows"], bool(after[0]["suppressed"])) == (
        "impact",
        63,
        True,
    )
    shown = collect(at)  # (produces, and audits, the other files too)
    assert not partner_problems(shown, "downloads"), partner_problems(shown, "downloads")


# -- the partner's pages draw without errors -------------------------------------------------


@pytest.mark.slow  # every page, three times
@pytest.mark.parametrize(
    "link",
    [{}, NATIONAL_LINK, {"model": ["care_advocacy", "whole_health"]}],
    ids=["default", "2016-2017", "two-models"],
)
def test_the_partner_pages_show_no_errors(outcomes: Engine, link: dict[str, list[str]]) -> None:
    failed = []
    for page in PAGES:
        at, _ = open_as(PARTNER, page, link)
        failed += [f"{page}: {e.value}" for e in [*at.exception, *at.error]]
    assert not failed, f"at ?{link}:\n" + "\n".join(failed)
