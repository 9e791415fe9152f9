"""Fixtures: a fresh outcomes database on each engine, and settings pointed at it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine

from data_access import db
from data_access.settings import get_settings

POSTGRES_ADMIN_DSN = os.environ.get(
    "TEST_POSTGRES_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ENGINES = ("sqlite", "postgresql")

# Hypothesis draws the same examples on every run and machine, keeps no example database
# between runs, and prints the blob that replays a failure (@reproduce_failure), so a failure
# seen once in CI is seen again locally. `--hypothesis-profile=explore` draws new examples.
hypothesis_settings.register_profile(
    "reproducible", derandomize=True, database=None, print_blob=True, deadline=None
)
hypothesis_settings.register_profile("explore", database=None, print_blob=True, deadline=None)
hypothesis_settings.load_profile("reproducible")

# Fixtures that reach PostgreSQL, whether a test names them or an engine parameter picks them.
POSTGRES_FIXTURES = frozenset({"postgres_url", "loaded_sample_postgres"})


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many published figures the passing checks of tests/test_published_results.py
    compared, by source, so that a run that compared none is seen to."""
    counted: dict[str, int] = {}
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", ()):
            prefix, _, source = str(name).partition(":")
            if prefix == "published_figures_checked":
                counted[source] = counted.get(source, 0) + int(value)
    if counted:
        sources = ", ".join(f"{source} {n}" for source, n in sorted(counted.items()))
        terminalreporter.write_line(f"published figures checked: {sources}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL `postgres`, so `-m "not postgres"` leaves out
    exactly those (deselected, not skipped: CI's no-skip rule is not involved)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        on_postgres = any(isinstance(value, str) and value == "postgresql" for value in params)
        if on_postgres or POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


def skip_or_fail(reason: str) -> None:
    """Skip a test whose real component is missing; under CI a skip is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing component fails the run)")
    pytest.skip(reason)


def _postgres_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_DSN!r}: {exc}")
        raise  # unreachable: skip_or_fail raises


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped after the test."""
    name = f"outcomes_test_{uuid.uuid4().hex[:12]}"
    with _postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        db.dispose_engines()
        with _postgres_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'outcomes.sqlite'}"


@pytest.fixture(params=ENGINES)
def database_url(request) -> str:
    """The URL of an empty database, once per engine."""
    fixture = {"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param]
    return request.getfixturevalue(fixture)


@pytest.fixture
def engine(database_url) -> Iterator[Engine]:
    """An empty outcomes database (schema created), once per engine."""
    engine = db.get_engine(database_url)
    db.create_schema(engine)
    yield engine
    db.dispose_engines()


@pytest.fixture
def configured(monkeypatch, database_url) -> Iterator[str]:
    """Settings pointed at a fresh database, as the app and the CLI would read them."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()
    db.dispose_engines()


# ---------------------------------------------------------------------------------------
# The shipped sample, loaded once per test session and engine; tests must only read it.

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


def _load_sample(url: str) -> str:
    from data_access.loader import load_directory

    load_directory(SAMPLE_DATA, engine=db.get_engine(url))
    return url


@pytest.fixture(scope="session")
def loaded_sample_sqlite(tmp_path_factory) -> str:
    return _load_sample(f"sqlite:///{tmp_path_factory.mktemp('sample') / 'outcomes.sqlite'}")


@pytest.fixture(scope="session")
def loaded_sample_postgres() -> Iterator[str]:
    name = f"outcomes_sample_{uuid.uuid4().hex[:12]}"
    with _postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _load_sample(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    finally:
        db.dispose_engines()
        with _postgres_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=ENGINES)
def loaded_sample(request) -> str:
    """The URL of a database holding the shipped sample, once per engine (read only)."""
    fixture = {"sqlite": "loaded_sample_sqlite", "postgresql": "loaded_sample_postgres"}
    return request.getfixturevalue(fixture[request.param])


@pytest.fixture(autouse=True)
def _no_developer_secrets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """AppTests read no `.streamlit/secrets.toml` of this checkout: a developer's real
    [auth] section would otherwise turn every app test into a sign-in test. Tests of sign-in
    give their secrets to AppTest (`at.secrets`) or to the server (`--secrets.files`)."""
    from streamlit import config

    absent = tmp_path_factory.getbasetemp() / "no-secrets" / "secrets.toml"
    before, where = config.get_option("secrets.files"), config.get_where_defined("secrets.files")
    config.set_option("secrets.files", [str(absent)])
    try:
        yield
    finally:
        config.set_option("secrets.files", before, where)
