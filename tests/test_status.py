"""The database status the dashboard's shell reads on every page run, on SQLite and PostgreSQL:
its schema check runs once per catalog, load and schema version, and whatever changes one of
them (a load, a migration, a dropped or altered table) is noticed on the next read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text, update

from data_access import db, status
from data_access.access import LOCAL_VIEWER
from data_access.loader import load_directory
from data_access.models import SchemaInfo, impact_months, monthly_summary
from data_access.status import LOAD_HINT
from tests.test_definitions_v2 import make_v1
from tests.test_loader import GOOD, GOOD_ROWS, write

NEWER = (
    "This database was built by a newer version of the dashboard (schema version 5; "
    "this one knows 4). Use the newer version."
)
IMPACT_STALE = (
    "This database was loaded before the matched comparison's tables took their present "
    "form. Run `python -m data_access migrate` to build them from the loaded data, or load "
    "the data again (`python -m data_access load DIR`)."
)
OLDER = (
    "This database holds summaries of an older form (schema version 2; this dashboard "
    "reads schema version 4, data contract version 2), so its figures would be read wrongly. "
    "Run `python -m data_access migrate` to rebuild its summaries from the loaded data, or "
    "load the data again (`python -m data_access load DIR`)."
)


LAST_COLUMN = list(impact_months.columns)[-1].name  # neither a key nor indexed


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The URL of every schema check the status runs (db.schema_problem), in order."""
    status.forget_schema_checks()
    ran: list[str] = []
    real = db.schema_problem

    def counted(engine: Engine, **kwargs: object) -> str | None:
        ran.append(str(engine.url))
        return real(engine, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(db, "schema_problem", counted)
    yield ran
    status.forget_schema_checks()


@pytest.fixture
def loaded(configured: str, tmp_path: Path) -> Engine:
    """Settings pointed at a fresh database (each engine) holding the loader's good files."""
    engine = db.get_engine(configured)
    load_directory(write(tmp_path / "good", dict(GOOD)), engine=engine)
    return engine


def message(engine: Engine) -> str:
    return status.database_status(viewer=LOCAL_VIEWER, engine=engine).message


def test_the_check_runs_once_per_load(loaded: Engine, checks: list[str], tmp_path: Path) -> None:
    first = status.database_status(viewer=LOCAL_VIEWER, engine=loaded)
    assert (first.ready, first.reachable, first.message) == (True, True, "ready")
    assert first.rows_in_last_load == GOOD_ROWS
    assert first.table_rows == GOOD_ROWS
    assert status.database_status(viewer=LOCAL_VIEWER, engine=loaded) == first
    assert status.database_status(viewer=None, engine=loaded).ready
    assert len(checks) == 1, "read again, the same load is not checked again"
    load_directory(write(tmp_path / "again", dict(GOOD)), engine=loaded)
    again = status.database_status(viewer=LOCAL_VIEWER, engine=loaded)
    assert again.ready and again.last_loaded_at != first.last_loaded_at
    assert len(checks) == 2, "a new load is checked"
    status.database_status(viewer=LOCAL_VIEWER, engine=loaded)
    assert len(checks) == 2


def test_a_changed_schema_version_is_noticed_and_its_problem_kept_reported(
    loaded: Engine, checks: list[str]
) -> None:
    assert message(loaded) == "ready"
    with loaded.begin() as conn:  # no table changes: only the recorded version does
        conn.execute(update(SchemaInfo).where(SchemaInfo.key == "schema_version").values(value="5"))
    assert message(loaded) == NEWER
    assert message(loaded) == NEWER, "a problem is never cached away"
    assert len(checks) == 3
    with loaded.begin() as conn:
        conn.execute(update(SchemaInfo).where(SchemaInfo.key == "schema_version").values(value="4"))
    assert message(loaded) == "ready"
    assert len(checks) == 3, "back to the version that passed: the database as checked"


def test_a_dropped_table_is_noticed_until_migrate_builds_it_again(
    loaded: Engine, checks: list[str]
) -> None:
    assert message(loaded) == "ready"
    with loaded.begin() as conn:
        impact_months.drop(conn)
    assert message(loaded) == IMPACT_STALE
    assert message(loaded) == IMPACT_STALE
    assert db.migrate(loaded).startswith("Rebuilt the matched comparison's tables")
    assert message(loaded) == "ready"
    assert message(loaded) == "ready"
    assert len(checks) == 4  # ready, stale twice, ready once more


def test_a_dropped_column_is_noticed(loaded: Engine, checks: list[str]) -> None:
    assert message(loaded) == "ready"
    with loaded.begin() as conn:
        conn.execute(text(f"ALTER TABLE impact_months DROP COLUMN {LAST_COLUMN}"))
    assert message(loaded) == IMPACT_STALE
    assert len(checks) == 2


def test_a_renamed_table_is_noticed(loaded: Engine, checks: list[str]) -> None:
    # A rename keeps PostgreSQL's table oid and columns: the fingerprint has the name too.
    assert message(loaded) == "ready"
    with loaded.begin() as conn:
        conn.execute(text("ALTER TABLE impact_months RENAME TO impact_months_old"))
    assert message(loaded) == IMPACT_STALE
    assert len(checks) == 2


def test_a_migrated_older_database_is_noticed(loaded: Engine, checks: list[str]) -> None:
    assert message(loaded) == "ready"
    make_v1(loaded)
    assert message(loaded) == OLDER
    db.migrate(loaded)
    assert message(loaded) == "ready"
    assert len(checks) == 3


def test_without_the_outcomes_tables_nothing_is_checked(loaded: Engine, checks: list[str]) -> None:
    assert message(loaded) == "ready"
    with loaded.begin() as conn:
        monthly_summary.drop(conn)
    assert message(loaded) == f"The outcomes database has no tables yet. {LOAD_HINT}"
    assert len(checks) == 1


def test_an_empty_and_a_new_database(configured: str, checks: list[str]) -> None:
    engine = db.get_engine(configured)
    assert message(engine) == f"The outcomes database has no tables yet. {LOAD_HINT}"
    db.create_schema(engine)
    assert message(engine) == f"The outcomes database is empty. {LOAD_HINT}"
    assert message(engine) == f"The outcomes database is empty. {LOAD_HINT}"
    assert len(checks) == 2, "without a load there is no key: checked on every read"
