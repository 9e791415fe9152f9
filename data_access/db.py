"""Engines and the one read path of the product.

Every query of the dashboard and the exports goes through `read_frame`, which applies the
row limit and the statement timeout (as Datasette's `Database.execute` does).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql import Executable

from data_access.errors import DatabaseUnavailable, QueryTimeout, ResultTooLarge
from data_access.models import CONTRACT_TABLES, SCHEMA_VERSION, SchemaInfo, TableCount, metadata
from data_access.settings import Settings, get_settings
from data_access.vocabulary import CONTRACT_VERSION


@contextmanager
def translated_errors() -> Iterator[None]:
    """Database failures as the product's errors: a timeout, or an unavailable database."""
    try:
        yield
    except DBAPIError as exc:
        detail = str(exc.orig).lower()
        if isinstance(exc, OperationalError) and ("interrupt" in detail or "timeout" in detail):
            raise QueryTimeout(f"The outcomes database query ran too long: {exc.orig}") from exc
        raise DatabaseUnavailable(f"The outcomes database failed: {exc.orig}") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-200000")
    cursor.close()


_ENGINES: dict[str, Engine] = {}


def _new_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def get_engine(database_url: str | None = None, *, settings: Settings | None = None) -> Engine:
    """The shared engine of `database_url`, or of the settings' database when none is given."""
    url = database_url or (settings or get_settings()).sqlalchemy_url
    if url not in _ENGINES:
        _ENGINES[url] = _new_engine(url)
    return _ENGINES[url]


def dispose_engines() -> None:
    """Close every pooled connection (tests call it before dropping a database)."""
    while _ENGINES:
        _ENGINES.popitem()[1].dispose()


def create_schema(engine: Engine) -> None:
    """Create every table and index that does not exist yet, and record the versions.

    Schema version 2 only added tables (viewers, viewer_states, audit_log), so creating the
    missing tables is the whole migration from version 1.
    """
    metadata.create_all(engine)
    with engine.begin() as conn:
        present = {row.key: row.value for row in conn.execute(select(SchemaInfo))}
        for key, value in (
            ("contract_version", CONTRACT_VERSION),
            ("schema_version", SCHEMA_VERSION),
        ):
            if key not in present:
                conn.execute(insert(SchemaInfo).values(key=key, value=str(value)))
        if "schema_version" in present and int(present["schema_version"]) < SCHEMA_VERSION:
            conn.execute(
                update(SchemaInfo)
                .where(SchemaInfo.key == "schema_version")
                .values(value=str(SCHEMA_VERSION))
            )


def has_schema(engine: Engine) -> bool:
    with translated_errors():
        inspector = inspect(engine)
        return inspector.has_table("monthly_summary") and inspector.has_table("load_runs")


@contextmanager
def _deadline(conn: Connection, seconds: float) -> Iterator[None]:
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))
        yield
        return
    raw = conn.connection.dbapi_connection
    stop_at = time.monotonic() + seconds
    # SQLite has no statement timeout: a progress handler returning non-zero interrupts it.
    raw.set_progress_handler(lambda: int(time.monotonic() > stop_at), 10_000)  # type: ignore[union-attr]
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)  # type: ignore[union-attr]


def read_frame(
    statement: Executable,
    *,
    engine: Engine,
    params: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Run one read and return its rows, refusing more than the row limit or the timeout."""
    settings = settings or get_settings()
    limit = settings.query_row_limit
    with (
        translated_errors(),
        engine.connect() as conn,
        conn.begin(),
        _deadline(conn, settings.query_timeout_seconds),
    ):
        result = conn.execute(statement, dict(params or {}))
        rows = result.fetchmany(limit + 1)
        columns = list(result.keys())
    if len(rows) > limit:
        raise ResultTooLarge(f"The query returned more than {limit:,} rows; narrow the filters.")
    # Plain tuples: pandas probes Row objects attribute by attribute, which costs more
    # than the query on wide results (benchmarks/README.md, finding 3).
    return pd.DataFrame.from_records([tuple(row) for row in rows], columns=columns)


def table_rows(engine: Engine, *, settings: Settings | None = None) -> dict[str, int]:
    """Rows per contract table, in load order, as the last load stored them in table_counts.

    A database last loaded by a version without table_counts has the table missing or empty;
    those tables are counted instead (a full scan of the claims, so only until the next load).
    """
    stored: dict[str, int] = {}
    if inspect(engine).has_table(TableCount.__tablename__):
        frame = read_frame(
            select(TableCount.table_name, TableCount.rows), engine=engine, settings=settings
        )
        pairs = zip(frame["table_name"], frame["rows"], strict=True)
        stored = {str(name): int(rows) for name, rows in pairs}
    counts = {}
    for model in CONTRACT_TABLES:
        name = model.__tablename__
        if name not in stored:
            counted = read_frame(
                select(func.count().label("rows")).select_from(model),
                engine=engine,
                settings=settings,
            )
            stored[name] = int(counted["rows"].iloc[0])
        counts[name] = stored[name]
    return counts
