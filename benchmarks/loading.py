"""Datasets and loads: generate the files once per size, time whole loads per table and per
SQL statement, and explain the summary statements."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

from benchmarks.common import PYTHON, ROOT, SEED, Size, dataset_dir

MARKER = "_benchmark_dataset.json"
TABLE_ORDER = (
    "states",
    "programs",
    "members",
    "eligibility",
    "enrollments",
    "admissions",
    "services",
)


# -- datasets ----------------------------------------------------------------------------


def _count_rows(path: Path) -> int:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:  # type: ignore[operator]
        return max(
            sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b"")) - 1, 0
        )


def ensure_dataset(size: Size, seed: int = SEED, log: Any = print) -> dict[str, Any]:
    """The size's files in benchmarks/work/data, generated unless a complete copy is there."""
    out = dataset_dir(size, seed)
    marker = out / MARKER
    if marker.exists():
        info = json.loads(marker.read_text())
        info["reused"] = True
        return info
    out.mkdir(parents=True, exist_ok=True)
    log(f"generating {size.label} into {out.relative_to(ROOT)} ...")
    start = time.perf_counter()
    subprocess.run(
        [
            PYTHON,
            "-m",
            "sample_data.generate",
            "--out",
            str(out),
            "--members",
            str(size.members),
            "--seed",
            str(seed),
        ],
        cwd=ROOT,
        check=True,
    )
    seconds = time.perf_counter() - start
    files = {
        path.name.split(".")[0]: path
        for path in out.iterdir()
        if path.name.split(".")[0] in TABLE_ORDER
    }
    info = {
        "dir": str(out),
        "members_asked": size.members,
        "seed": seed,
        "generate_seconds": round(seconds, 1),
        "rows": {name: _count_rows(path) for name, path in sorted(files.items())},
        "bytes": sum(path.stat().st_size for path in files.values()),
    }
    marker.write_text(json.dumps(info, indent=1))
    info["reused"] = False
    return info


# -- statement timing --------------------------------------------------------------------

_LABEL = re.compile(
    r"\b(INSERT INTO|DELETE FROM|ANALYZE|UPDATE|CREATE TEMP TABLE|DROP TABLE)\s+(\w+)", re.I
)


def statement_label(statement: str) -> str:
    if statement.lstrip().upper().startswith("ANALYZE"):
        return " ".join(statement.split())[:60]  # every table it names
    match = _LABEL.search(statement)
    if match:
        return f"{match.group(1).upper()} {match.group(2)}"
    words = " ".join(statement.split())
    return words[:60]


class StatementClock:
    """Times every statement SQLAlchemy sends on an engine (raw-cursor COPY and executemany
    of the loader bypass it; those show in the per-table phases)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.totals: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.statements: dict[str, str] = {}
        self._starts: list[float] = []

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._starts.append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seconds = time.perf_counter() - self._starts.pop()
        label = statement_label(statement)
        self.totals[label] += seconds
        self.counts[label] += 1
        self.statements.setdefault(label, statement)

    def __enter__(self) -> StatementClock:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def top(self, n: int = 12) -> dict[str, float]:
        ranked = sorted(self.totals.items(), key=lambda item: -item[1])[:n]
        return {label: round(seconds, 3) for label, seconds in ranked}


# -- loads -------------------------------------------------------------------------------


class PhaseClock:
    """The loader's progress callback: each table's phase runs from the end of the previous
    phase (so header checks and row counting are included) to its last progress call."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.last_event = self.start
        self.order: list[str] = []
        self.ends: dict[str, float] = {}
        self.begins: dict[str, float] = {}

    def __call__(self, table: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if table not in self.begins:
            self.begins[table] = self.last_event
            self.order.append(table)
        self.ends[table] = now
        self.last_event = now

    def phases(self) -> dict[str, float]:
        return {t: round(self.ends[t] - self.begins[t], 3) for t in self.order}


@contextmanager
def _timed_steps() -> Iterator[dict[str, float]]:
    """Time the loader's rebuild_summaries and rebuild_impact calls (wrapped where the loader
    looks them up, restored after)."""
    from data_access import loader

    seconds: dict[str, float] = defaultdict(float)
    originals = {
        name: getattr(loader, name)
        for name in ("rebuild_summaries", "rebuild_impact")
        if hasattr(loader, name)
    }

    def wrap(name: str, fn: Any) -> Any:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[name.removeprefix("rebuild_")] += time.perf_counter() - t0

        return timed_call

    for name, fn in originals.items():
        setattr(loader, name, wrap(name, fn))
    try:
        yield seconds
    finally:
        for name, fn in originals.items():
            setattr(loader, name, fn)


def load_once(url: str, directory: Path) -> dict[str, Any]:
    """One whole load into the (empty) database at `url`: total, per-table phases, statements."""
    from data_access import db
    from data_access.loader import load_directory

    db.dispose_engines()
    engine = db.get_engine(url)
    clock = PhaseClock()
    with StatementClock(engine) as statements, _timed_steps() as steps:
        start = time.perf_counter()
        clock.start = clock.last_event = start
        report = load_directory(directory, engine=engine, progress=clock)
        total = time.perf_counter() - start
    phases = clock.phases()
    # The loader reports the summary tables and the impact tables as one "summaries" phase;
    # the two rebuilds are timed apart here, inside it.
    for name, seconds in steps.items():
        phases[f"summaries: {name}"] = round(seconds, 3)
    phases["after summaries (data-through, commit)"] = round(total - (clock.last_event - start), 3)
    db.dispose_engines()
    return {
        "seconds": round(total, 3),
        "report_seconds": round(report.seconds, 3),
        "rows": dict(report.rows),
        "phases": phases,
        "statements": statements.top(),
    }


def database_bytes(url: str) -> int:
    from data_access import db

    engine = db.get_engine(url)
    if url.startswith("sqlite"):
        path = Path(url.split("sqlite:///", 1)[1])
        return sum(
            Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists()
        )
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


# -- the summary statements, explained ----------------------------------------------------


@contextmanager
def _rolled_back(engine: Engine) -> Iterator[Any]:
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


def explain_summaries(url: str) -> list[dict[str, Any]]:
    """The plans of the statements of `rebuild_summaries`, re-run after the load in a
    transaction that is rolled back. PostgreSQL runs each under EXPLAIN (ANALYZE, BUFFERS):
    the statements really execute, so the plan has real row counts and times per node.
    SQLite gets EXPLAIN QUERY PLAN instead of each statement (nothing executes: its
    statement times are those the load itself measured)."""
    from data_access import db
    from data_access.summaries import rebuild_summaries

    db.dispose_engines()
    engine = db.get_engine(url)
    dialect = engine.dialect.name
    steps: list[dict[str, Any]] = []
    pending: list[float] = []
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) "
        if dialect == "postgresql"
        else "EXPLAIN QUERY PLAN "
    )

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool):
        kinds = ("WITH", "INSERT", "DELETE") if dialect == "postgresql" else ("WITH", "INSERT")
        explainable = not many and statement.lstrip().upper().startswith(kinds)
        steps.append(
            {
                "label": statement_label(statement),
                "plan": [],
                "explained": explainable,
                "executed": dialect == "postgresql" or not explainable,
            }
        )
        if explainable:
            statement = prefix + statement
        pending.append(time.perf_counter())
        return statement, parameters

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool):
        step = steps[-1]
        step["seconds"] = (
            round(time.perf_counter() - pending.pop(), 3) if step["executed"] else None
        )
        if step["explained"] and cursor.description:
            rows = cursor.fetchall()
            step["plan"] = [
                str(row[0]) if dialect == "postgresql" else str(row[-1]) for row in rows
            ]

    event.listen(engine, "before_cursor_execute", before, retval=True)
    event.listen(engine, "after_cursor_execute", after)
    try:
        with _rolled_back(engine) as conn:
            rebuild_summaries(conn)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        db.dispose_engines()
    return steps
