"""The first load of an empty table (COPY or plain INSERT, indexes and foreign keys created
after the rows) against the replace-by-key path, and the row counts every load stores.
Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, delete, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from data_access import db
from data_access.loader import SPECS, LoadError, load_directory
from data_access.models import CONTRACT_TABLES, TableCount
from tests.conftest import ENGINES, SAMPLE_DATA
from tests.test_loader import (
    GOOD,
    REFUSALS,
    assert_same,
    edit,
    refused,
    snapshot,
    write,
)

SAMPLE_FIXTURES = {"sqlite": "loaded_sample_sqlite", "postgresql": "loaded_sample_postgres"}
EMPTY_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url"}


def schema_signature(engine: Engine) -> dict[str, Any]:
    """Every table's primary key, foreign keys and indexes, as the database reports them."""
    inspector = inspect(engine)
    signature = {}
    for name in sorted(inspector.get_table_names()):
        pk = inspector.get_pk_constraint(name)
        signature[name] = {
            "pk": (pk.get("name"), tuple(pk["constrained_columns"])),
            "foreign_keys": sorted(
                (
                    str(fk.get("name")),
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(name)
            ),
            "indexes": sorted(
                (str(ix["name"]), tuple(map(str, ix["column_names"])), bool(ix["unique"]))
                for ix in inspector.get_indexes(name)
            ),
        }
    return signature


def counted(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: int(
                conn.execute(select(func.count()).select_from(model)).scalar_one()
            )
            for model in CONTRACT_TABLES
        }


def stored_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {row.table_name: int(row.rows) for row in conn.execute(select(TableCount))}


def without_load_runs(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: frame for name, frame in tables.items() if name != "load_runs"}


# ---------------------------------------------------------------------------------------
# First load against replacing load


def _seed_of_the_sample(folder: Path) -> Path:
    """Rows that the sample replaces by key: every state, program and member with another
    name or birth year, and the first 20 rows of the other files with other values."""
    frames = {
        name: pd.read_csv(
            SAMPLE_DATA / f"{name}.csv.gz", dtype=str, keep_default_na=False, na_filter=False
        )
        for name in SPECS
    }
    frames["states"]["state_name"] += " (old)"
    frames["programs"]["program_name"] += " (old)"
    frames["members"]["birth_year"] = "1950"
    changes: dict[str, dict[str, str]] = {
        "eligibility": {},  # end_date set to start_date below
        "enrollments": {"coaching_role": "peer_coach", "ended_on": ""},
        "admissions": {"paid_amount": "1.00"},
        "services": {"visits": "7", "paid_amount": "2.50"},
    }
    for name, values in changes.items():
        frames[name] = frames[name].head(20).assign(**values)
    frames["eligibility"]["end_date"] = frames["eligibility"]["start_date"]
    folder.mkdir(parents=True)
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", ENGINES)
def test_first_load_and_replacing_load_give_identical_tables_and_summaries(
    request: pytest.FixtureRequest, engine_name: str, tmp_path: Path
) -> None:
    # The session's sample database was loaded into empty tables: the first-load path.
    first = db.get_engine(request.getfixturevalue(SAMPLE_FIXTURES[engine_name]))
    replaced = db.get_engine(request.getfixturevalue(EMPTY_FIXTURES[engine_name]))
    load_directory(_seed_of_the_sample(tmp_path / "seed"), engine=replaced)
    seeded = snapshot(replaced)
    assert seeded["states"]["state_name"].str.endswith(" (old)").all()
    # Every table now holds rows, so the sample goes through the replace-by-key path.
    load_directory(SAMPLE_DATA, engine=replaced)
    expected = without_load_runs(snapshot(first))
    got = without_load_runs(snapshot(replaced))
    assert len(got["monthly_summary"]) > 6000 and len(got["enrollment_outcomes"]) > 0
    assert_same(expected, got)
    assert schema_signature(replaced) == schema_signature(first)


def test_first_load_recreates_every_index_and_foreign_key(engine: Engine, tmp_path: Path) -> None:
    before = schema_signature(engine)
    assert before["services"]["indexes"] and before["services"]["foreign_keys"]
    load_directory(write(tmp_path / "in", dict(GOOD)), engine=engine)
    assert schema_signature(engine) == before
    # The recreated foreign key is enforced again.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO services (claim_id, member_id, service_date, category, behavioral,"
                " visits, paid_amount_cents) VALUES ('C9', 'M9', '2019-05-01', 'other', FALSE,"
                " 1, 1)"
            )
        )


def test_a_later_first_load_keeps_the_foreign_keys_to_loaded_parents(
    engine: Engine, tmp_path: Path
) -> None:
    before = schema_signature(engine)
    parents = {name: GOOD[name] for name in ("states.csv", "programs.csv", "members.csv")}
    load_directory(write(tmp_path / "parents", parents), engine=engine)
    children = {name: content for name, content in GOOD.items() if name not in parents}
    load_directory(write(tmp_path / "children", children), engine=engine)
    assert schema_signature(engine) == before
    assert (
        stored_counts(engine)
        == counted(engine)
        == {
            "states": 2,
            "programs": 2,
            "members": 3,
            "eligibility": 4,
            "enrollments": 2,
            "admissions": 3,
            "services": 3,
        }
    )


# ---------------------------------------------------------------------------------------
# Refused first loads


@pytest.mark.parametrize(("change", "problem"), REFUSALS)
def test_refused_first_load_leaves_the_database_as_it_was(
    engine: Engine,
    tmp_path: Path,
    change: Callable[[dict[str, str | bytes]], None],
    problem: tuple[str, int | None, str | None, str],
) -> None:
    before, schema = snapshot(engine), schema_signature(engine)
    files: dict[str, str | bytes] = dict(GOOD)
    if problem[0] == "members.csv.gz":
        del files["members.csv"]
    change(files)
    error = refused(write(tmp_path / "bad", files), engine)
    # With nothing in the database, a bad parent row can also leave its children dangling.
    assert any(
        (found.file, found.line, found.column) == problem[:3] and problem[3] in found.reason
        for found in error.problems
    ), str(error)
    assert_same(before, snapshot(engine))
    assert schema_signature(engine) == schema
    # And the database still takes the good files, through the first-load path.
    load_directory(write(tmp_path / "good", dict(GOOD)), engine=engine)
    assert stored_counts(engine) == counted(engine)


@pytest.mark.parametrize("chunk_rows", [1, 200_000])
def test_a_key_twice_in_a_first_load_is_reported_and_later_files_still_checked(
    engine: Engine, tmp_path: Path, chunk_rows: int
) -> None:
    # The database refuses the second M1 while the rows are written; the load must go on
    # checking (eligibility and services after it) and report every problem.
    before, schema = snapshot(engine), schema_signature(engine)
    files: dict[str, str | bytes] = dict(GOOD)
    edit("members.csv", "M3,NY,1990", "M1,NY,1990")(files)
    edit("eligibility.csv", "M3,2018-01-01", "M3,2018-01-01")(files)
    edit("services.csv", "1500.5\n", "1500.505\n")(files)
    error = refused(write(tmp_path / "bad", files), engine, chunk_rows=chunk_rows)
    assert [(p.file, p.line, p.column) for p in error.problems] == [
        ("members.csv", 4, "member_id"),
        # M3 is gone from members.csv, so its rows are dangling.
        ("eligibility.csv", 5, "member_id"),
        ("enrollments.csv", 3, "member_id"),
        ("admissions.csv", 4, "member_id"),
        ("services.csv", 3, "paid_amount"),
        ("services.csv", 4, "member_id"),
    ], str(error)
    assert "duplicate key: the same member_id is on line 2" in error.problems[0].reason
    assert_same(before, snapshot(engine))
    assert schema_signature(engine) == schema


def test_a_refused_load_after_some_first_loads_rolls_back_their_ddl(
    engine: Engine, tmp_path: Path
) -> None:
    # states and programs hold rows; members and everything after are empty (first-load
    # path, their indexes dropped) when a claim refuses the load.
    parents = {name: GOOD[name] for name in ("states.csv", "programs.csv")}
    load_directory(write(tmp_path / "parents", parents), engine=engine)
    before, schema = snapshot(engine), schema_signature(engine)
    files: dict[str, str | bytes] = dict(GOOD)
    edit("services.csv", "C3,M3", "C3,M9")(files)
    with pytest.raises(LoadError):
        load_directory(write(tmp_path / "bad", files), engine=engine)
    assert_same(before, snapshot(engine))
    assert schema_signature(engine) == schema


# ---------------------------------------------------------------------------------------
# Row counts stored by every load


def test_table_counts_follow_every_load(engine: Engine, tmp_path: Path) -> None:
    folder = write(tmp_path / "in", dict(GOOD))
    load_directory(folder, engine=engine)
    first = counted(engine)
    assert first["services"] == 3
    assert stored_counts(engine) == first == db.table_rows(engine)
    load_directory(folder, engine=engine)  # the same files again: replace-by-key, no change
    assert stored_counts(engine) == counted(engine) == first == db.table_rows(engine)
    newer = {
        "admissions.csv": (
            "admission_id,member_id,setting,admit_date,discharge_date,paid_amount\n"
            "A2,M1,medical,2019-10-10,2019-10-12,250.75\n"
            "A4,M2,medical,2021-01-05,2021-01-06,99.99\n"
        ),
        "services.csv": (
            "claim_id,member_id,service_date,category,behavioral,visits,paid_amount\n"
            "C3,M3,2020-01-15,pharmacy,false,2,0.30\n"
            "C4,M3,2020-01-16,pharmacy,false,1,0.30\n"
            "C5,M3,2020-01-17,pharmacy,false,1,0.30\n"
        ),
    }
    load_directory(write(tmp_path / "newer", newer), engine=engine)
    after = counted(engine)
    assert (after["admissions"], after["services"]) == (4, 5)
    assert stored_counts(engine) == after == db.table_rows(engine)
    assert list(db.table_rows(engine)) == [model.__tablename__ for model in CONTRACT_TABLES]


def test_table_rows_counts_a_database_loaded_before_table_counts(
    engine: Engine, tmp_path: Path
) -> None:
    load_directory(write(tmp_path / "in", dict(GOOD)), engine=engine)
    expected = counted(engine)
    with engine.begin() as conn:
        conn.execute(delete(TableCount))
    assert db.table_rows(engine) == expected
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE table_counts"))
    assert db.table_rows(engine) == expected
    # create_schema brings the table back (the migration); the next load fills it.
    db.create_schema(engine)
    assert stored_counts(engine) == {}
    load_directory(write(tmp_path / "in", dict(GOOD)), engine=engine)
    assert stored_counts(engine) == expected


def test_table_rows_on_a_database_never_loaded(engine: Engine) -> None:
    assert db.table_rows(engine) == {model.__tablename__: 0 for model in CONTRACT_TABLES}


def test_sqlite_connection_settings_are_restored_after_loads(
    sqlite_url: str, tmp_path: Path
) -> None:
    # A load turns foreign keys off and puts temporary files on disk for its transaction
    # (loader._sqlite_load_settings); the pooled connection must come back as db.py set it.
    engine = db.get_engine(sqlite_url)
    load_directory(write(tmp_path / "good", dict(GOOD)), engine=engine)
    files: dict[str, str | bytes] = dict(GOOD)
    edit("services.csv", "C3,M3", "C3,M9")(files)
    with pytest.raises(LoadError):
        load_directory(write(tmp_path / "bad", files), engine=engine)
    connections = [engine.connect() for _ in range(3)]
    try:
        for conn in connections:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA temp_store").scalar_one() == 2  # MEMORY
    finally:
        for conn in connections:
            conn.close()
