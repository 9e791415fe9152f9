"""How many SQL statements a page's data costs, on SQLite and PostgreSQL, counted with
SQLAlchemy's cursor events on the engine db.read_frame reads on (db.read_engine): a change
that adds a round trip to the app shell or to a chart's read fails here. And the statement
timeout of db.read_frame stops a slow query with the dashboard's own error, on both engines.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import Engine, event, make_url, text

from dashboard import data
from data_access import db, status
from data_access.access import LOCAL_VIEWER
from data_access.errors import QueryTimeout
from data_access.filters import OutcomeFilter
from data_access.settings import get_settings
from tests.app_helpers import TIMEOUT, open_page


class Statements:
    """Every statement sent while `recording`, as its SQL text: on the engine and on the one
    db.read_frame reads on (the same engine on SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self.engines = list({id(e): e for e in (engine, db.read_engine(engine))}.values())
        self.sent: list[str] = []

    def _record(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        self.sent.append(" ".join(statement.split()))

    def __enter__(self) -> Statements:
        self.sent.clear()
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._record)

    def reads(self) -> list[str]:
        return list(self.sent)


@pytest.fixture
def sample(monkeypatch: pytest.MonkeyPatch, loaded_sample: str) -> Iterator[Engine]:
    """Settings (as the app reads them) pointed at the loaded sample; every cache empty."""
    monkeypatch.setenv("DATABASE_URL", loaded_sample)
    get_settings.cache_clear()
    st.cache_data.clear()
    status.forget_schema_checks()
    yield db.get_engine(loaded_sample)
    st.cache_data.clear()
    status.forget_schema_checks()
    get_settings.cache_clear()


def shell_reads(engine: Engine) -> Statements:
    """The app shell's reads of one page run with st.cache_data empty: the load version
    (data.database_url) and the shell (status, states, programs, month range, last complete
    month) of a leadership viewer."""
    st.cache_data.clear()
    with Statements(engine) as statements:
        data._shell(data.database_url(), LOCAL_VIEWER)
    return statements


def test_the_app_shell_reads_eight_statements_once_its_schema_is_checked(
    sample: Engine,
) -> None:
    first = shell_reads(sample)
    again = shell_reads(sample)
    reads = again.reads()
    assert len(reads) == 8, reads
    # The first run of a load adds only the schema check: the catalog's has_table and columns
    # (SQLite's PRAGMAs, PostgreSQL's pg_catalog) of each table, and schema_info.
    checked = [read for read in first.reads() if read not in reads]
    assert checked and all(
        "PRAGMA" in read or "pg_" in read or "schema_info" in read for read in checked
    ), checked
    assert reads[0] == "SELECT max(load_runs.load_id) AS load FROM load_runs"
    assert "catalog" in reads[1] and "present" in reads[1]  # db.catalog_state
    assert reads[2].startswith("SELECT load_runs.load_id, load_runs.loaded_at")
    assert reads[3] == "SELECT table_counts.table_name, table_counts.rows FROM table_counts"
    assert reads[4] == "SELECT states.state_code, states.state_name FROM states"
    assert reads[5].startswith("SELECT programs.program_id")
    assert reads[6] == (
        "SELECT (SELECT min(monthly_summary.month) AS min_1 FROM monthly_summary) AS anon_1, "
        "(SELECT max(monthly_summary.month) AS max_1 FROM monthly_summary) AS anon_2"
    )
    assert reads[7] == "SELECT summary_info.data_through FROM summary_info"
    # No statement but the reads: no SET of PostgreSQL's statement timeout, which its read
    # connections open with (SQLite's is a progress handler).
    assert not [read for read in reads if read.split()[0] != "SELECT"], reads
    # Cached: the next page run of this load reads nothing but the load version (its TTL).
    with Statements(sample) as cached:
        data._shell(data.database_url(), LOCAL_VIEWER)
    assert cached.reads() == []


def test_a_chart_of_the_overview_reads_two_statements(sample: Engine) -> None:
    url = data.database_url()
    with Statements(sample) as statements:
        data._outcome_summary(
            url,
            LOCAL_VIEWER,
            OutcomeFilter(),
            "month",
            ("program_model",),
            "filters",
            False,
            "show",
        )
    reads = statements.reads()
    assert len(reads) == 2, reads
    assert reads[0].startswith("SELECT monthly_summary.month AS month, monthly_summary.program")
    assert reads[1] == "SELECT summary_info.data_through FROM summary_info"


# A read that runs for minutes unless stopped: PostgreSQL sleeps, SQLite counts (its
# statement timeout is a progress handler, which a sleep in C would not call).
SLOW = {
    "postgresql": "SELECT pg_sleep(30)",
    "sqlite": (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
        "SELECT max(i) FROM n"
    ),
}


def test_the_statement_timeout_stops_a_slow_read(
    configured: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUERY_TIMEOUT_SECONDS", "0.5")
    get_settings.cache_clear()
    engine = db.get_engine(configured)
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as stopped:
        db.read_frame(text(SLOW[engine.dialect.name]), engine=engine)
    assert time.monotonic() - started < 10
    assert stopped.value.viewer_message == (
        "This view took too long to compute. Narrow the filters (fewer months, states or "
        "programs) and try again."
    )
    # The connection goes back to the pool fit for the next read, which runs in full.
    assert db.read_frame(text("SELECT 41 + 1 AS answer"), engine=engine)["answer"].tolist() == [42]


def test_postgresql_reads_run_alone_under_the_timeout_and_writes_without_it(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read is one round trip: its connection opens with the statement timeout and runs each
    statement in autocommit (no BEGIN or COMMIT), on a pool of its own; the engine's own
    connections, which loads and migrations write on, have no timeout."""
    monkeypatch.setenv("QUERY_TIMEOUT_SECONDS", "7.5")
    get_settings.cache_clear()
    # libpq options of the URL (a search_path, say) still hold for the reads.
    engine = db.get_engine(f"{postgres_url}?options=-c%20work_mem%3D7MB")
    reader = db.read_engine(engine)
    assert reader is not engine and reader is db.read_engine(engine)
    shown = db.read_frame(
        text("SELECT current_setting('statement_timeout') AS t, current_setting('work_mem') AS w"),
        engine=engine,
    )
    assert shown.iloc[0].tolist() == ["7500ms", "7MB"]
    with reader.connect() as conn:
        assert conn.connection.dbapi_connection.autocommit is True  # type: ignore[union-attr]
    with engine.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
        assert conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
    # Another timeout is another pool; SQLite reads on its engine.
    monkeypatch.setenv("QUERY_TIMEOUT_SECONDS", "2")
    get_settings.cache_clear()
    assert db.read_frame(text("SHOW statement_timeout"), engine=engine).iloc[0, 0] == "2s"
    get_settings.cache_clear()
    sqlite = db.get_engine("sqlite://")
    assert db.read_engine(sqlite) is sqlite


@pytest.mark.parametrize(
    ("url", "pgoptions", "expected"),
    [
        ("postgresql+psycopg://h/d", None, "-c statement_timeout=30000"),
        (
            "postgresql+psycopg://h/d",
            "-c work_mem=8MB",
            "-c work_mem=8MB -c statement_timeout=30000",
        ),
        (
            "postgresql+psycopg://h/d?options=-csearch_path%3Dx",
            "-c work_mem=8MB",
            "-csearch_path=x -c statement_timeout=30000",
        ),
    ],
)
def test_the_read_connections_options_keep_the_urls_or_pgoptions(
    monkeypatch: pytest.MonkeyPatch, url: str, pgoptions: str | None, expected: str
) -> None:
    """libpq takes `options` from the URL, else from PGOPTIONS; an explicit one replaces
    PGOPTIONS, so the timeout is added to whichever was given."""
    if pgoptions is None:
        monkeypatch.delenv("PGOPTIONS", raising=False)
    else:
        monkeypatch.setenv("PGOPTIONS", pgoptions)
    assert db._with_timeout(make_url(url), 30_000) == expected


@pytest.mark.parametrize(
    "page", ["overview", "trends", "program_outcomes", "impact", "state_profile"]
)
def test_a_page_run_looks_up_the_load_version_and_the_shell_once(
    sample: Engine, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    """A page's dozen reads share one lookup of the load version and one of the shell per
    run (data.begin_run), not one each; the next run looks both up again."""
    at = open_page(page)
    assert not at.exception
    looked_up: list[str] = []

    def counted(name: str, original: Any) -> Any:
        def lookup(*args: Any) -> Any:
            looked_up.append(name)
            return original(*args)

        lookup.clear = original.clear  # type: ignore[attr-defined]
        return lookup

    monkeypatch.setattr(data, "_load_version", counted("load version", data._load_version))
    monkeypatch.setattr(data, "_shell", counted("shell", data._shell))
    for _ in range(2):
        at.run(timeout=TIMEOUT)
        assert not at.exception
    # The watch for new loads looks up the version afresh each time it runs (its own runs
    # come between the app's); in an app run it is the one second lookup.
    assert looked_up == ["load version", "shell", "load version"] * 2
