"""Engines and the one read path of the product.

Every query of the dashboard and the exports goes through `read_frame`, which applies the
row limit and the statement timeout (as Datasette's `Database.execute` does).
"""

from __future__ import annotations

import csv
import io
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql import Executable

from data_access.errors import DatabaseUnavailable, QueryTimeout, ResultTooLarge
from data_access.models import (
    CONTRACT_TABLES,
    IMPACT_OPTIONAL_TABLES,
    IMPACT_TABLES,
    SCHEMA_VERSION,
    SUMMARIES_SINCE_SCHEMA,
    SUMMARY_TABLES,
    SchemaInfo,
    TableCount,
    impact_frames,
    impact_replicates,
    metadata,
)
from data_access.settings import Settings, get_settings
from data_access.summaries import rebuild_summaries
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
# Sessions run in threads: two first reads at once must not each create (and leak) a pool.
_ENGINES_LOCK = threading.Lock()


def _new_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # The dashboard reads on read_engine's pool; this one serves loads, migrations, the
    # catalog and the audit log's writes.
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=8)


# PostgreSQL: `read_frame`'s own pools, one per database and statement timeout.
_READERS: dict[tuple[URL, int], Engine] = {}


def read_engine(engine: Engine, settings: Settings | None = None) -> Engine:
    """The engine `read_frame` runs its reads on. For PostgreSQL a pool of its own whose
    connections open with the settings' statement timeout and run each read in autocommit: a
    read is one statement, so it needs no transaction, and the timeout no statement of its
    own: one round trip a read instead of four (BEGIN, the timeout, the read, COMMIT), a small
    read 1.8 -> 1.1 ms (benchmarks/README.md, finding 20). The loads and migrations keep the
    engine's own pool, without a timeout. SQLite's reads run on the engine itself."""
    if engine.dialect.name != "postgresql":
        return engine
    timeout_ms = int((settings or get_settings()).query_timeout_seconds * 1000)
    key = (engine.url, timeout_ms)
    with _ENGINES_LOCK:
        if key not in _READERS:
            _READERS[key] = create_engine(
                engine.url,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=10,
                isolation_level="AUTOCOMMIT",
                connect_args={"options": _with_timeout(engine.url, timeout_ms)},
            )
        return _READERS[key]


def _with_timeout(url: URL, timeout_ms: int) -> str:
    """libpq's `options` of the URL (or else of PGOPTIONS, which an explicit one replaces),
    with the statement timeout added: a search_path set there still holds for the reads."""
    given = url.query.get("options") or os.environ.get("PGOPTIONS") or ""
    if not isinstance(given, str):  # the parameter given twice
        given = " ".join(given)
    return f"{given} -c statement_timeout={timeout_ms}".strip()


def get_engine(database_url: str | None = None, *, settings: Settings | None = None) -> Engine:
    """The shared engine of `database_url`, or of the settings' database when none is given."""
    url = database_url or (settings or get_settings()).sqlalchemy_url
    with _ENGINES_LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = _new_engine(url)
        return _ENGINES[url]


def resolve_engine(engine: Engine | None) -> Engine:
    """The engine given, or the settings' one."""
    return engine if engine is not None else get_engine()


def dispose_engines() -> None:
    """Close every pooled connection (tests call it before dropping a database)."""
    with _ENGINES_LOCK:
        while _ENGINES:
            _ENGINES.popitem()[1].dispose()
        while _READERS:
            _READERS.popitem()[1].dispose()


MIGRATE_COMMAND = "python -m data_access migrate"
# pg_advisory_xact_lock key: one writer (a load or a migration) at a time.
_WRITE_LOCK = 7454610061


def lock_for_writing(conn: Connection) -> None:
    """Take the database's write lock first thing in a transaction (a load, a migration), so
    that what it reads cannot change under it; held until the transaction ends."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_WRITE_LOCK})")


def _stored_versions(conn: Connection) -> dict[str, int]:
    if not inspect(conn).has_table(SchemaInfo.__tablename__):
        return {}
    return {row.key: int(row.value) for row in conn.execute(select(SchemaInfo))}


def stale_impact_tables(inspector: Any) -> list[str]:
    """The impact tables missing or whose columns are not the model's (a matching variable
    added, say): the impact tables hold nothing but what a load derives."""
    stale = []
    for table in IMPACT_TABLES:
        if not inspector.has_table(table.name):
            stale.append(table.name)
            continue
        stored = {column["name"] for column in inspector.get_columns(table.name)}
        if stored != {column.name for column in table.columns}:
            stale.append(table.name)
    return stale


def impact_tables_stale(inspector: Any, *, optional: bool = True) -> bool:
    """Whether an impact table is stale (see stale_impact_tables); with `optional=False`,
    one the query cannot do without (not IMPACT_OPTIONAL_TABLES)."""
    stale = stale_impact_tables(inspector)
    return bool(stale if optional else set(stale) - set(IMPACT_OPTIONAL_TABLES))


def impact_frames_of_other_code(conn: Connection) -> bool:
    """Whether impact_frames holds outputs stored by other code (impact.CODE_DIGEST): they
    are not read, so those filters compute until they are stored again."""
    from data_access.impact import CODE_DIGEST

    if not inspect(conn).has_table(impact_frames.name):
        return False
    other = select(impact_frames.c.code_digest).where(impact_frames.c.code_digest != CODE_DIGEST)
    return conn.execute(other.limit(1)).first() is not None


def upgrade_schema(conn: Connection, *, rebuild: bool) -> int | None:
    """Bring the database to SCHEMA_VERSION inside the caller's transaction (write lock
    taken), and return the schema version it had (None: a new database).

    Missing tables and their indexes are created. A database whose summaries were built
    under older definitions (schema_version < SUMMARIES_SINCE_SCHEMA) has its summary tables
    dropped and created anew; with `rebuild` they are filled again from the contract tables
    (the loader passes False: its own rebuild follows in the same transaction). The input
    files did not change, so the rebuilt summaries equal those of a fresh load. A database
    of a newer version is left as it is (schema_problem reports it).
    """
    found = _stored_versions(conn).get("schema_version")
    if found is not None and found > SCHEMA_VERSION:
        return found
    # Impact tables added or changed since the database was loaded are built again from
    # what it holds (the matching is deterministic, so they agree with a fresh load); when
    # only the stored replicates are stale, only they are drawn again.
    stale_tables = stale_impact_tables(inspect(conn)) if found is not None else []
    stale = bool(set(stale_tables) - set(IMPACT_OPTIONAL_TABLES))
    optional = [] if stale else [t for t in IMPACT_TABLES if t.name in stale_tables]
    if stale:
        for table in reversed(IMPACT_TABLES):
            table.drop(conn, checkfirst=True)
    for table in optional:
        table.drop(conn, checkfirst=True)
    metadata.create_all(conn)
    current = found is not None and found >= SUMMARIES_SINCE_SCHEMA  # else rebuilt below
    if (stale or optional) and rebuild and current:
        from data_access.impact import rebuild_impact, store_replicates
        from data_access.impact_store import store_frames

        if stale:
            rebuild_impact(conn)
        if impact_replicates in optional:
            store_replicates(conn)
        if impact_frames in optional:
            store_frames(conn)
    elif rebuild and current and impact_frames_of_other_code(conn):
        # New code after a deploy: its outputs of the common filters, stored again.
        from data_access.impact_store import store_frames

        store_frames(conn)
    if found is not None and found < SUMMARIES_SINCE_SCHEMA:
        for table in reversed(SUMMARY_TABLES):
            table.drop(conn, checkfirst=True)
        metadata.create_all(conn, tables=list(SUMMARY_TABLES))
        if rebuild:
            # Imported here: the impact module reads through this one.
            from data_access.impact import rebuild_impact

            rebuild_summaries(conn)
            rebuild_impact(conn)
    if found is None or found < SCHEMA_VERSION:
        conn.execute(delete(SchemaInfo))
        conn.execute(
            insert(SchemaInfo),
            [
                {"key": "contract_version", "value": str(CONTRACT_VERSION)},
                {"key": "schema_version", "value": str(SCHEMA_VERSION)},
            ],
        )
    return found


def create_schema(engine: Engine) -> int | None:
    """Create every missing table and index, migrate an older database, record the versions;
    one transaction under the write lock. Returns the schema version found (None: new).

    From schema version 1, creating the missing tables (viewers, viewer_states, audit_log)
    is the whole step; below version 3 the summaries are rebuilt (see upgrade_schema).
    """
    with engine.connect() as conn, conn.begin():
        lock_for_writing(conn)
        return upgrade_schema(conn, rebuild=True)


def migrate(engine: Engine) -> str:
    """The `migrate` command: bring the database to this version and say what was done."""
    with translated_errors():
        schema = has_schema(engine)
        stale = schema and impact_tables_stale(inspect(engine))
        other_code = False
        if schema and not stale:
            with engine.connect() as conn:
                other_code = impact_frames_of_other_code(conn)
    found = create_schema(engine)
    now = f"schema version {SCHEMA_VERSION}, data contract version {CONTRACT_VERSION}"
    if found is None:
        return f"Created the outcomes tables ({now})."
    if found > SCHEMA_VERSION:
        return f"{newer_schema_message(found)} Nothing was changed."
    if found < SUMMARIES_SINCE_SCHEMA:
        return f"Rebuilt the summaries from the loaded data: schema version {found} -> {now}."
    if found < SCHEMA_VERSION:
        return f"Upgraded schema version {found} -> {now}."
    if stale:
        return f"Rebuilt the matched comparison's tables from the loaded data ({now})."
    if other_code:
        return (
            "Stored the outputs of the common filters (the matched comparison's, the "
            f"enrolled members and the opening pages' sums) for this code ({now})."
        )
    return f"The database is up to date ({now})."


def has_schema(engine: Engine) -> bool:
    with translated_errors():
        inspector = inspect(engine)
        return inspector.has_table("monthly_summary") and inspector.has_table("load_runs")


# The tables a status read needs before it may read them (see catalog_state).
STATUS_TABLES = ("monthly_summary", "load_runs", "schema_info", "table_counts")

# One statement each, never failing on a missing table: a fingerprint that changes whenever
# a table is created, dropped or altered, and which of STATUS_TABLES exist. SQLite counts
# every schema change in its schema cookie; PostgreSQL gives a new table a new oid.
_CATALOG_SQL = {
    "sqlite": """
        SELECT (SELECT schema_version FROM pragma_schema_version) AS catalog,
               (SELECT group_concat(name, ',') FROM sqlite_master
                 WHERE type = 'table' AND name IN ({names})) AS present
    """,
    "postgresql": """
        SELECT md5(string_agg(c.oid::text || '.' || c.relname || '.' || a.attname, ','
                              ORDER BY c.oid, a.attnum)) AS catalog,
               string_agg(DISTINCT c.relname, ',') FILTER (WHERE c.relname IN ({names}))
                 AS present
          FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
         WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
           AND a.attnum > 0 AND NOT a.attisdropped
    """,
}


def catalog_state(
    engine: Engine, *, settings: Settings | None = None
) -> tuple[str, frozenset[str]]:
    """A fingerprint of the database's tables and columns (equal fingerprints: no table was
    created, dropped or altered in between) and which of STATUS_TABLES exist, in one cheap
    read of the catalog: what a cached schema check is keyed by."""
    names = ", ".join(f"'{name}'" for name in STATUS_TABLES)
    sql = _CATALOG_SQL[engine.dialect.name].format(names=names)
    row = read_frame(text(sql), engine=engine, settings=settings).iloc[0]
    present = row["present"]
    tables = frozenset(str(present).split(",")) if isinstance(present, str) else frozenset()
    return str(row["catalog"]), tables


def schema_problem(engine: Engine, *, settings: Settings | None = None) -> str | None:
    """Why the summaries of this database must not be read, or None when they may.

    A database without the outcomes tables is has_schema's case (nothing loaded), not a
    problem here. Summaries built under older definitions would show wrong figures, and a
    newer database may hold summaries this version does not know.
    """
    if not has_schema(engine):
        return None
    found: int | None = None
    if inspect(engine).has_table(SchemaInfo.__tablename__):
        frame = read_frame(
            select(SchemaInfo.value).where(SchemaInfo.key == "schema_version"),
            engine=engine,
            settings=settings,
        )
        found = int(frame["value"].iloc[0]) if len(frame) else None
    if found is None or found < SUMMARIES_SINCE_SCHEMA:
        shown = "no version" if found is None else f"schema version {found}"
        return (
            "This database holds summaries of an older form "
            f"({shown}; this dashboard reads schema version {SCHEMA_VERSION}, data contract "
            f"version {CONTRACT_VERSION}), so its figures would be read wrongly. Run "
            f"`{MIGRATE_COMMAND}` to rebuild its summaries from the loaded data, or load "
            "the data again (`python -m data_access load DIR`)."
        )
    if found > SCHEMA_VERSION:
        return newer_schema_message(found)
    if impact_tables_stale(inspect(engine), optional=False):
        return (
            "This database was loaded before the matched comparison's tables took their "
            f"present form. Run `{MIGRATE_COMMAND}` to build them from the loaded "
            "data, or load the data again (`python -m data_access load DIR`)."
        )
    return None


def newer_schema_message(found: int) -> str:
    return (
        f"This database was built by a newer version of the dashboard (schema version "
        f"{found}; this one knows {SCHEMA_VERSION}). Use the newer version."
    )


def csv_for_copy(rows: pd.DataFrame) -> bytes:
    """The rows as CSV for COPY, strings quoted and missing values as bare empty fields.

    pyarrow's writer (installed with pandas' string storage here) is about ten times faster
    than DataFrame.to_csv, which remains the fallback.
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pa_csv
    except ImportError:
        text = rows.to_csv(index=False, header=False, quoting=csv.QUOTE_ALL, lineterminator="\n")
        return text.encode("utf-8")
    sink = io.BytesIO()
    pa_csv.write_csv(
        pa.Table.from_pandas(rows, preserve_index=False),
        sink,
        pa_csv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    return sink.getvalue()


def write_rows(conn: Connection, table: Table, rows: pd.DataFrame) -> None:
    """Append `rows` (columns named as the table's) to `table` in the caller's transaction,
    by the driver's fastest path: PostgreSQL COPY, SQLite one executemany of plain tuples.
    NaN and None are written as NULL. A build step's bulk write (hundreds of thousands of
    rows) costs a fraction of SQLAlchemy's executemany of dictionaries."""
    if rows.empty:
        return
    columns = [str(c) for c in rows.columns]
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        copy_sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT csv)"
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:  # type: ignore[union-attr]
            copy.write(csv_for_copy(rows))
        return
    values = [
        [None if isinstance(v, float) and v != v else v for v in rows[c].tolist()]
        if rows[c].dtype.kind == "f" or rows[c].dtype == object
        else rows[c].tolist()
        for c in columns
    ]
    placeholders = ", ".join("?" for _ in columns)
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})",
            list(zip(*values, strict=True)),
        )
    finally:
        cursor.close()


@contextmanager
def _deadline(conn: Connection, seconds: float) -> Iterator[None]:
    if conn.dialect.name == "postgresql":
        yield  # read_engine's connections open with the statement timeout
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
    engine: Engine | Connection,
    params: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Run one read and return its rows, refusing more than the row limit or the timeout.
    Given a connection (a load's, in its transaction) the read runs on it, without the
    dashboard's row limit and timeout."""
    if isinstance(engine, Connection):
        result = engine.execute(statement, dict(params or {}))
        return rows_frame([tuple(row) for row in result], list(result.keys()))
    settings = settings or get_settings()
    limit = settings.query_row_limit
    with (
        translated_errors(),
        read_engine(engine, settings).connect() as conn,
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
    return rows_frame([tuple(row) for row in rows], columns)


def rows_frame(rows: Sequence[Sequence[Any]], columns: list[str]) -> pd.DataFrame:
    """Rows as a frame, each column's type inferred from its values (`DataFrame.from_records`
    infers the same types in about twice the time: benchmarks/README.md, finding 19)."""
    return pd.DataFrame(rows, columns=columns)


def table_rows(
    engine: Engine, *, settings: Settings | None = None, has_counts: bool | None = None
) -> dict[str, int]:
    """Rows per contract table, in load order, as the last load stored them in table_counts.

    A database last loaded by a version without table_counts has the table missing or empty;
    those tables are counted instead (a full scan of the claims, so only until the next load).
    `has_counts`: whether table_counts exists, when the caller has read the catalog already.
    """
    stored: dict[str, int] = {}
    if has_counts is None:
        has_counts = inspect(engine).has_table(TableCount.__tablename__)
    if has_counts:
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
