"""Load a folder of contract CSV files into the outcomes database, all or nothing.

Every value is read as text and checked with vectorised pandas operations, a chunk at a
time, so a 10-million-row services file never has to fit in memory. Rows are written as
they are checked, inside one transaction: any problem anywhere rolls the whole load back,
after every file has been checked so that the analyst sees every bad row at once.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import json
import logging
import re
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    column,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy import table as table_clause
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from data_access import db
from data_access.errors import DatabaseNotReady, InputError
from data_access.impact import rebuild_impact
from data_access.models import (
    SCHEMA_VERSION,
    Admission,
    Eligibility,
    Enrollment,
    LoadRun,
    Member,
    Program,
    Service,
    State,
    TableCount,
)
from data_access.summaries import rebuild_summaries
from data_access.vocabulary import (
    ADMISSION_SETTINGS,
    COACHING_ROLES,
    ID_LENGTH,
    PRIMARY_CONDITIONS,
    PROGRAM_MODELS,
    SERVICE_CATEGORIES,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

CHUNK_ROWS: Final = 200_000
MAX_PROBLEMS_KEPT: Final = 10_000  # every problem is counted; only this many are kept in memory
PROBLEMS_SHOWN: Final = 50
MAX_INT: Final = 2**31 - 1  # visits and birth_year are 32-bit INTEGER columns
MAX_DOLLAR_DIGITS: Final = 15  # cents then stay far inside BIGINT, and sums too

# Two-letter USPS codes of the states, DC and the territories with Medicaid programs.
_USPS: Final = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV "
    "NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP"
)
USPS_CODES: Final = frozenset(_USPS.split(" "))

DATE_SHAPE: Final = "[0-9]{4}-[0-9]{2}-[0-9]{2}"  # [0-9], not \d: \d also matches other scripts
DAYS_IN_MONTH: Final = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


# ---------------------------------------------------------------------------------------
# Results and errors


@dataclass(frozen=True)
class Problem:
    """One reason a load was refused; `line` is the physical line in the file (header = 1)."""

    file: str
    line: int | None
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.column is not None:
            where += f", column {self.column}"
        if self.value is not None:
            shown = self.value if len(self.value) <= 80 else self.value[:77] + "..."
            where += f", value {shown!r}"
        return f"{where}: {self.reason}"


class LoadError(InputError):
    """A refused load. Nothing was written; `problems` lists the bad rows found."""

    def __init__(self, problems: Sequence[Problem], total: int | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.total = max(total if total is not None else 0, len(self.problems))
        super().__init__(self.report())

    def report(self, limit: int = PROBLEMS_SHOWN) -> str:
        noun = "problem" if self.total == 1 else "problems"
        lines = [f"Load refused, nothing was changed in the database: {self.total:,} {noun}."]
        lines += [f"  {problem}" for problem in self.problems[:limit]]
        if self.total > limit:
            lines.append(f"  ... and {self.total - limit:,} more {noun}.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


@dataclass(frozen=True)
class LoadReport:
    """What a successful load wrote: data rows read per table (files present only)."""

    rows: Mapping[str, int]
    data_through: dt.date | None
    seconds: float
    source: str = ""
    load_id: int | None = None


# ---------------------------------------------------------------------------------------
# The contract's files

Kind = Literal["id", "text", "usps", "date", "date_or_empty", "int", "money", "bool", "enum"]


@dataclass(frozen=True)
class _Column:
    name: str
    kind: Kind
    choices: tuple[str, ...] = ()
    low: int = 0
    high: int | None = None  # None: no bound, except birth_year (the current year)
    refers_to: str | None = None  # parent table of a foreign key
    not_before: str | None = None  # date column this one may not precede

    @property
    def db_name(self) -> str:
        return f"{self.name}_cents" if self.kind == "money" else self.name


@dataclass(frozen=True)
class _Spec:
    name: str
    table: Table
    columns: tuple[_Column, ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def db_columns(self) -> tuple[str, ...]:
        return tuple(c.db_name for c in self.columns)


def _t(model: type) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


# In load order: parents before children.
SPECS: Final[Mapping[str, _Spec]] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _Spec(
                "states",
                _t(State),
                (_Column("state_code", "usps"), _Column("state_name", "text")),
                ("state_code",),
            ),
            _Spec(
                "programs",
                _t(Program),
                (
                    _Column("program_id", "id"),
                    _Column("state_code", "text", refers_to="states"),
                    _Column("program_model", "enum", choices=PROGRAM_MODELS),
                    _Column("program_name", "text"),
                    _Column("launched_on", "date"),
                ),
                ("program_id",),
            ),
            _Spec(
                "members",
                _t(Member),
                (
                    _Column("member_id", "id"),
                    _Column("state_code", "text", refers_to="states"),
                    _Column("birth_year", "int", low=1900),
                    _Column("primary_condition", "enum", choices=PRIMARY_CONDITIONS),
                ),
                ("member_id",),
            ),
            _Spec(
                "eligibility",
                _t(Eligibility),
                (
                    _Column("member_id", "id", refers_to="members"),
                    _Column("start_date", "date"),
                    _Column("end_date", "date", not_before="start_date"),
                ),
                ("member_id", "start_date"),
            ),
            _Spec(
                "enrollments",
                _t(Enrollment),
                (
                    _Column("enrollment_id", "id"),
                    _Column("member_id", "id", refers_to="members"),
                    _Column("program_id", "id", refers_to="programs"),
                    _Column("coaching_role", "enum", choices=COACHING_ROLES),
                    _Column("enrolled_on", "date"),
                    _Column("ended_on", "date_or_empty", not_before="enrolled_on"),
                ),
                ("enrollment_id",),
            ),
            _Spec(
                "admissions",
                _t(Admission),
                (
                    _Column("admission_id", "id"),
                    _Column("member_id", "id", refers_to="members"),
                    _Column("setting", "enum", choices=ADMISSION_SETTINGS),
                    _Column("admit_date", "date"),
                    _Column("discharge_date", "date_or_empty", not_before="admit_date"),
                    _Column("paid_amount", "money"),
                ),
                ("admission_id",),
            ),
            _Spec(
                "services",
                _t(Service),
                (
                    _Column("claim_id", "id"),
                    _Column("member_id", "id", refers_to="members"),
                    _Column("service_date", "date"),
                    _Column("category", "enum", choices=SERVICE_CATEGORIES),
                    _Column("behavioral", "bool"),
                    _Column("visits", "int", low=1, high=MAX_INT),
                    _Column("paid_amount", "money"),
                ),
                ("claim_id",),
            ),
        )
    }
)
FILE_NAMES: Final = tuple(f"{name}.csv" for name in SPECS)
# Parents whose keys (and state, for the same-state rule) children are checked against.
PARENT_TABLES: Final = ("states", "programs", "members")


# ---------------------------------------------------------------------------------------
# Problems, collected a chunk at a time


class _Problems:
    """Counts every problem; keeps the first MAX_PROBLEMS_KEPT so a hopeless file stays cheap."""

    def __init__(self) -> None:
        self.kept: list[Problem] = []
        self.count = 0

    def add(self, problem: Problem) -> None:
        self.count += 1
        if len(self.kept) < MAX_PROBLEMS_KEPT:
            self.kept.append(problem)

    def error(self, file_order: Sequence[str]) -> LoadError:
        rank = {name: i for i, name in enumerate(file_order)}
        ordered = sorted(
            self.kept, key=lambda p: (rank.get(p.file, -1), p.line if p.line is not None else 0)
        )
        return LoadError(ordered, self.count)


class _ChunkProblems:
    """The problems of one chunk, emitted in line order (then column order) when flushed."""

    def __init__(self, file: str, lines: IntArray, columns: Sequence[str]) -> None:
        self.file = file
        self.lines = lines
        self.order = {name: i for i, name in enumerate(columns)}
        self.parts: list[tuple[IntArray, int, str, list[str], list[str]]] = []

    def add(
        self,
        bad: BoolArray,
        column_name: str,
        values: pd.Series,
        reason: str | pd.Series,
    ) -> None:
        if not bad.any():
            return
        picked = values[bad].tolist()
        reasons = [reason] * len(picked) if isinstance(reason, str) else reason[bad].tolist()
        order = self.order.get(column_name.split(",")[0], len(self.order))
        self.parts.append((self.lines[bad], order, column_name, picked, reasons))

    def flush(self, into: _Problems) -> None:
        if not self.parts:
            return
        lines = np.concatenate([part[0] for part in self.parts])
        orders = np.concatenate([np.full(len(part[0]), part[1]) for part in self.parts])
        owner = np.concatenate([np.full(len(part[0]), i) for i, part in enumerate(self.parts)])
        within = np.concatenate([np.arange(len(part[0])) for part in self.parts])
        room = max(MAX_PROBLEMS_KEPT - len(into.kept), 0)
        sequence = np.lexsort((orders, lines))
        for index in sequence[:room]:
            part = self.parts[owner[index]]
            at = within[index]
            into.kept.append(
                Problem(self.file, int(part[0][at]), part[2], str(part[3][at]), str(part[4][at]))
            )
        into.count += len(lines)
        self.parts.clear()


# ---------------------------------------------------------------------------------------
# Reading files


class _FileUnreadable(Exception):
    """The rest of a file cannot be read; the problem says why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _bad_utf8(path: Path) -> Problem:
    """Where a file stops being UTF-8: the physical line and byte offset of the first bad byte."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    line = 1
    with _open_binary(path) as raw:
        while True:
            block = raw.read(1 << 20)
            pending = decoder.getstate()[0]
            try:
                decoder.decode(block, not block)
            except UnicodeDecodeError as exc:
                # The decoder saw the bytes it held back from the previous block, then this one.
                before = max(exc.start - len(pending), 0)
                line += block[:before].count(b"\n")
                data = pending + block
                bad = data[exc.start : exc.end]
                position = offset - len(pending) + exc.start
                return Problem(
                    path.name,
                    line,
                    None,
                    None,
                    f"not UTF-8: byte {bad.hex(' ')} at byte offset {position:,} ({exc.reason}); "
                    "save the file as UTF-8",
                )
            if not block:
                break
            line += block.count(b"\n")
            offset += len(block)
    return Problem(path.name, None, None, None, "not UTF-8; save the file as UTF-8")


def _unreadable(path: Path, exc: BaseException) -> _FileUnreadable:
    if isinstance(exc, UnicodeDecodeError):
        return _FileUnreadable(_bad_utf8(path))
    what = "gzip file" if path.name.endswith(".gz") else "file"
    return _FileUnreadable(Problem(path.name, None, None, None, f"cannot read the {what}: {exc}"))


def _read_header(path: Path) -> tuple[list[str], int]:
    """The header fields and the number of physical lines they take."""
    try:
        with (
            _open_binary(path) as raw,
            io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as stream,
        ):
            reader = csv.reader(stream)
            header = next(reader, None)
            if not header:
                raise _FileUnreadable(
                    Problem(path.name, 1, None, None, "empty file: no header row")
                )
            return header, reader.line_num
    except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        raise _unreadable(path, exc) from exc


def _count_records(path: Path, header_lines: int) -> int:
    """Physical lines after the header: the row total shown by progress (exact without
    quoted line breaks or blank lines; progress ends on the exact count either way)."""
    newlines = 0
    last = b"\n"
    try:
        with _open_binary(path) as raw:
            while block := raw.read(1 << 22):
                newlines += block.count(b"\n")
                last = block[-1:]
    except (OSError, EOFError, zlib.error):
        return 0  # reported when the rows are read
    return max(newlines + (last != b"\n") - header_lines, 0)


_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _chunks(
    path: Path, header_lines: int, chunk_rows: int
) -> Iterator[tuple[pd.DataFrame, IntArray]]:
    """Data rows as text, a chunk at a time, with the physical line each starts on.

    Blank lines (rows with every field empty) are dropped but still counted as lines.
    """
    next_line = header_lines + 1
    records = 0
    try:
        reader = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,  # skipping them would shift every later line number
            chunksize=chunk_rows,
            encoding="utf-8-sig",
            compression="infer",
        )
        with reader:
            for frame in reader:
                count = len(frame)
                records += count
                extra = _embedded_line_breaks(frame)
                lines = next_line + np.arange(count, dtype=np.int64)
                if extra is not None:
                    lines += np.cumsum(extra) - extra
                    next_line += int(extra.sum())
                next_line += count
                blank = (frame == "").all(axis=1).to_numpy(dtype=bool)
                if blank.any():
                    frame, lines = frame[~blank].reset_index(drop=True), lines[~blank]
                yield frame.reset_index(drop=True), lines
    except pd.errors.ParserError as exc:
        message = str(exc)
        match = _FIELD_COUNT.search(message)
        if match is None:
            raise _FileUnreadable(Problem(path.name, None, None, None, message)) from exc
        expected, line, seen = (int(g) for g in match.groups())
        # pandas counts records from the header (1); add the line breaks inside quoted
        # fields of the chunks read so far (those of the failing chunk are not known).
        line += (next_line - header_lines - 1 - records) + (header_lines - 1)
        raise _FileUnreadable(
            Problem(path.name, line, None, None, f"{seen} fields, the header has {expected}")
        ) from exc
    except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        raise _unreadable(path, exc) from exc


def _embedded_line_breaks(frame: pd.DataFrame) -> IntArray | None:
    """Per row, the line breaks inside quoted fields; None (the usual case) when there are none."""
    columns = [frame[c] for c in frame.columns if frame[c].str.contains("[\r\n]", regex=True).any()]
    if not columns:
        return None
    extra = np.zeros(len(frame), dtype=np.int64)
    for values in columns:
        extra += values.str.count("\r\n|\r|\n").to_numpy(dtype=np.int64)
    return extra


# ---------------------------------------------------------------------------------------
# Checking values


def _bool(series: pd.Series) -> BoolArray:
    return series.to_numpy(dtype=bool, na_value=False)


def _real_dates(values: pd.Series, shaped: BoolArray) -> BoolArray:
    """Which well-shaped YYYY-MM-DD strings name a day that exists (vectorised calendar)."""
    safe = values.where(shaped, "2000-01-01")
    year = safe.str.slice(0, 4).astype("int64").to_numpy()
    month = safe.str.slice(5, 7).astype("int64").to_numpy()
    day = safe.str.slice(8, 10).astype("int64").to_numpy()
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    last = DAYS_IN_MONTH[np.where(month_ok, month, 0)] + (leap & (month == 2))
    real: BoolArray = shaped & (year >= 1) & month_ok & (day >= 1) & (day <= last)
    return real


def _check_column(
    spec_column: _Column, values: pd.Series, found: _ChunkProblems
) -> tuple[BoolArray, pd.Series]:
    """Check one column of a chunk; return which cells are good and the values to store."""
    name = spec_column.name
    kind = spec_column.kind
    empty = _bool(values == "")
    ok = ~empty
    nul = _bool(values.str.contains("\x00", regex=False))
    found.add(nul, name, values, "contains a NUL character")
    ok &= ~nul
    required = kind != "date_or_empty"
    found.add(empty & required, name, values, "empty; a value is required")

    if kind == "id":
        long = ok & _bool(values.str.len() > ID_LENGTH)
        found.add(long, name, values, f"identifier longer than {ID_LENGTH} characters")
        return ok & ~long, values
    if kind == "text":
        return ok, values
    if kind == "usps":
        bad = ok & ~_bool(values.isin(USPS_CODES))
        found.add(bad, name, values, "not a two-letter USPS state code (capital letters)")
        return ok & ~bad, values
    if kind == "enum":
        good = _bool(values.isin(spec_column.choices))
        upper = ok & ~good & _bool(values.str.lower().isin(spec_column.choices))
        found.add(upper, name, values, "must be lower case, as written in the contract")
        other = ok & ~good & ~upper
        found.add(other, name, values, f"not one of {', '.join(spec_column.choices)}")
        return ok & good, values
    if kind == "bool":
        good = _bool(values.isin(("true", "false")))
        bad = ok & ~good
        found.add(bad, name, values, "not true or false (lower case)")
        return ok & good, pd.Series(_bool(values == "true"))
    if kind in ("date", "date_or_empty"):
        shaped = ok & _bool(values.str.fullmatch(DATE_SHAPE))
        found.add(ok & ~shaped, name, values, "not a date (YYYY-MM-DD)")
        real = _real_dates(values, shaped)
        found.add(shaped & ~real, name, values, "not a real date (YYYY-MM-DD)")
        if kind == "date":
            return real, values
        stored = values.astype(object).where(~empty, None)
        return real | empty, stored
    if kind == "int":
        shaped = ok & _bool(values.str.fullmatch("-?[0-9]{1,18}"))
        found.add(ok & ~shaped, name, values, "not a whole number")
        numbers = values.where(shaped, "0").astype("int64").to_numpy()
        high = dt.date.today().year if spec_column.high is None else spec_column.high
        outside = shaped & ((numbers < spec_column.low) | (numbers > high))
        if spec_column.name == "birth_year":
            reason = f"birth year outside {spec_column.low} to {high}"
        elif high == MAX_INT:
            reason = f"must be {spec_column.low} or more (at most {MAX_INT:,})"
        else:
            reason = f"must be {spec_column.low} to {high}"
        found.add(outside, name, values, reason)
        return shaped & ~outside, pd.Series(numbers)
    if kind == "money":
        return _check_money(name, values, ok, found)
    raise AssertionError(kind)


MONEY: Final = rf"[0-9]{{1,{MAX_DOLLAR_DIGITS}}}(\.[0-9]{{1,2}})?"


def _check_money(
    name: str, values: pd.Series, ok: BoolArray, found: _ChunkProblems
) -> tuple[BoolArray, pd.Series]:
    """Dollars to integer cents by string arithmetic, so 0.10 is exactly 10 cents."""
    good = ok & _bool(values.str.fullmatch(MONEY))
    negative = ok & ~good & _bool(values.str.fullmatch(r"-[0-9]*\.?[0-9]*"))
    found.add(negative, name, values, "negative; money is never negative")
    decimals = ok & ~good & ~negative & _bool(values.str.fullmatch(r"[0-9]+\.[0-9]{3,}"))
    found.add(decimals, name, values, "more than 2 decimals")
    other = ok & ~good & ~negative & ~decimals
    found.add(other, name, values, "not an amount of dollars (e.g. 1234.56)")
    # Drop the point and scale by the decimals written: "12.5" -> 125 * 10 -> 1250 cents.
    safe = values.where(good, "0")
    point = safe.str.find(".").to_numpy(dtype=np.int64)
    length = safe.str.len().to_numpy(dtype=np.int64)
    places = np.where(point >= 0, length - point - 1, 0)
    digits = safe.str.replace(".", "", regex=False).astype("int64").to_numpy()
    return good, pd.Series(digits * np.array([100, 10, 1])[places])


# ---------------------------------------------------------------------------------------
# Keys of parent tables, for foreign keys and the same-state rule


@dataclass
class _Parent:
    """Every key of a parent table after this load: the file's rows, then the database's."""

    keys: pd.Index
    state: npt.NDArray[np.object_] | None  # state_code per key (programs, members)
    line: IntArray  # line in the load's file, 0 for rows only in the database

    def positions(self, values: pd.Series) -> IntArray:
        return np.asarray(self.keys.get_indexer(pd.Index(values, dtype=object)), dtype=np.int64)


@dataclass
class _FileKeys:
    keys: list[pd.Series] = field(default_factory=list)
    states: list[pd.Series] = field(default_factory=list)
    lines: list[IntArray] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# Writing


class _Writer:
    # The database's refusal of a first load's rows (a key twice in the file): writing
    # stops, and the duplicate check reports the lines; re-raised if it does not.
    refused: Exception | None = None

    def write(self, rows: pd.DataFrame) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Called once the whole file has been checked and written without a problem."""


class _FirstLoad:
    """An empty table's first load: its secondary indexes, and on PostgreSQL its foreign keys
    to tables that were empty too, are dropped before the rows and created again from the
    metadata after them (one sort per index instead of a B-tree insert per row, one joining
    check per key instead of a trigger per row), inside the load's transaction, so a refused
    load rolls the DDL back with the rows.

    The primary key stays: it refuses a key that is in the file twice, which then stops the
    writing until the duplicate check reports the lines. SQLite cannot drop a foreign key (it
    is part of the table) and keeps checking it per row. Foreign keys to tables that already
    held rows are kept too: dropping one would lock the referenced table, which readers use,
    until the load commits.
    """

    def __init__(self, conn: Connection, spec: _Spec, empty_tables: frozenset[str]) -> None:
        self.conn = conn
        self.indexes = sorted(spec.table.indexes, key=lambda index: str(index.name))
        self.foreign_keys = (
            [
                fk
                for fk in spec.table.foreign_key_constraints
                if fk.referred_table.name in empty_tables
            ]
            if conn.dialect.name == "postgresql"
            else []
        )
        for fk in self.foreign_keys:
            conn.execute(DropConstraint(fk))
        for index in self.indexes:
            conn.execute(DropIndex(index))

    def restore(self) -> None:
        for index in self.indexes:
            self.conn.execute(CreateIndex(index))
        for fk in self.foreign_keys:
            # isolate_from_table=False: by default AddConstraint marks the shared metadata's
            # constraint so that a later CREATE TABLE would leave it out.
            self.conn.execute(AddConstraint(fk, isolate_from_table=False))


def _upsert_set(spec: _Spec, excluded: Any) -> tuple[dict[str, Any], Any]:
    """ON CONFLICT (key) DO UPDATE of every other column, skipping rows that did not change
    (so reloading the same extract rewrites nothing)."""
    others = [c for c in spec.db_columns if c not in spec.key]
    changes = {c: excluded[c] for c in others}
    differs = or_(*[spec.table.c[c].is_distinct_from(excluded[c]) for c in others])
    return changes, differs


class _SqliteWriter(_Writer):
    """Batched executemany of INSERT ... ON CONFLICT DO UPDATE on the raw sqlite3 connection."""

    def __init__(self, conn: Connection, spec: _Spec) -> None:
        statement = sqlite.insert(spec.table).values({c: bindparam(c) for c in spec.db_columns})
        changes, differs = _upsert_set(spec, statement.excluded)
        statement = statement.on_conflict_do_update(
            index_elements=list(spec.key), set_=changes, where=differs
        )
        compiled = statement.compile(dialect=conn.dialect)
        self.sql = compiled.string
        self.order = list(compiled.positiontup or [])
        self.raw: Any = conn.connection.dbapi_connection

    def write(self, rows: pd.DataFrame) -> None:
        self.raw.executemany(self.sql, zip(*(rows[c].tolist() for c in self.order), strict=True))


class _SqliteFirstWriter(_Writer):
    """First load of an empty table: plain batched INSERT, secondary indexes built after."""

    def __init__(self, conn: Connection, spec: _Spec, empty_tables: frozenset[str]) -> None:
        self.first = _FirstLoad(conn, spec, empty_tables)
        statement = insert(spec.table).values({c: bindparam(c) for c in spec.db_columns})
        compiled = statement.compile(dialect=conn.dialect)
        self.sql = compiled.string
        self.order = list(compiled.positiontup or [])
        self.raw: Any = conn.connection.dbapi_connection
        self.integrity_error: type[Exception] = conn.dialect.loaded_dbapi.IntegrityError

    def write(self, rows: pd.DataFrame) -> None:
        if self.refused is not None:
            return
        try:
            self.raw.executemany(
                self.sql, zip(*(rows[c].tolist() for c in self.order), strict=True)
            )
        except self.integrity_error as exc:
            # SQLite undoes only the failing row; the load is refused and rolled back whole.
            self.refused = exc

    def finish(self) -> None:
        self.first.restore()


def _copy_sql(target: str, spec: _Spec) -> str:
    nullable = [c.db_name for c in spec.columns if c.kind == "date_or_empty"]
    # Text is always quoted (a lone \. would otherwise end the data); FORCE_NULL makes an
    # empty optional date NULL however it is written.
    force_null = f", FORCE_NULL ({', '.join(nullable)})" if nullable else ""
    return f"COPY {target} ({', '.join(spec.db_columns)}) FROM STDIN (FORMAT csv{force_null})"


class _PostgresWriter(_Writer):
    """COPY into a temporary staging table, then one INSERT ... SELECT ... ON CONFLICT."""

    def __init__(self, conn: Connection, spec: _Spec) -> None:
        self.conn = conn
        self.spec = spec
        self.stage = f"load_stage_{spec.name}"
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {self.stage} (LIKE {spec.table.name} INCLUDING DEFAULTS) "
            "ON COMMIT DROP"
        )
        self.copy_sql = _copy_sql(self.stage, spec)
        self.raw: Any = conn.connection.dbapi_connection

    def write(self, rows: pd.DataFrame) -> None:
        with self.raw.cursor() as cursor, cursor.copy(self.copy_sql) as copy:
            copy.write(db.csv_for_copy(rows[list(self.spec.db_columns)]))

    def finish(self) -> None:
        stage = table_clause(self.stage, *[column(c) for c in self.spec.db_columns])
        statement = postgresql.insert(self.spec.table).from_select(
            list(self.spec.db_columns), select(*stage.c)
        )
        changes, differs = _upsert_set(self.spec, statement.excluded)
        self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=list(self.spec.key), set_=changes, where=differs
            )
        )
        self.conn.exec_driver_sql(f"DROP TABLE {self.stage}")


class _PostgresFirstWriter(_Writer):
    """First load of an empty table: COPY straight into it (no staging table, no upsert),
    secondary indexes and foreign keys created after the last row."""

    SAVEPOINT: Final = "load_first_rows"

    def __init__(self, conn: Connection, spec: _Spec, empty_tables: frozenset[str]) -> None:
        self.spec = spec
        # Index builds sort in memory up to this; the load's transaction only.
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        self.first = _FirstLoad(conn, spec, empty_tables)
        self.copy_sql = _copy_sql(spec.table.name, spec)
        self.raw: Any = conn.connection.dbapi_connection
        self.integrity_error: type[Exception] = conn.dialect.loaded_dbapi.IntegrityError
        # A refused COPY aborts the transaction; rolling back to here keeps it usable, so the
        # remaining files are still checked and every problem reported.
        self._run(f"SAVEPOINT {self.SAVEPOINT}")

    def _run(self, statement: str) -> None:
        # On the raw connection, like the COPY: it works while the transaction is in error.
        self.raw.execute(statement)

    def write(self, rows: pd.DataFrame) -> None:
        if self.refused is not None:
            return
        try:
            with self.raw.cursor() as cursor, cursor.copy(self.copy_sql) as copy:
                copy.write(db.csv_for_copy(rows[list(self.spec.db_columns)]))
        except self.integrity_error as exc:
            self.refused = exc
            self._run(f"ROLLBACK TO SAVEPOINT {self.SAVEPOINT}")

    def finish(self) -> None:
        self._run(f"RELEASE SAVEPOINT {self.SAVEPOINT}")
        self.first.restore()


# ---------------------------------------------------------------------------------------
# The load


def _find_files(directory: Path, problems: _Problems) -> dict[str, Path]:
    """The contract files of a folder, by table; unknown or doubled files are problems."""
    if not directory.is_dir():
        raise LoadError([Problem(str(directory), None, None, None, "no such folder")])
    candidates: dict[str, list[Path]] = {}
    for path in sorted(directory.iterdir()):
        name = path.name
        if name.startswith(".") or not path.is_file():
            continue
        stem = name[: -len(".csv.gz")] if name.endswith(".csv.gz") else None
        stem = name[: -len(".csv")] if stem is None and name.endswith(".csv") else stem
        if stem is None:
            continue
        if stem not in SPECS:
            # Never skip a CSV silently: a misnamed extract would look loaded.
            problems.add(
                Problem(
                    name,
                    None,
                    None,
                    None,
                    f"not a file of the data contract ({', '.join(FILE_NAMES)}, "
                    "or the same .csv.gz); rename or remove it",
                )
            )
            continue
        candidates.setdefault(stem, []).append(path)
    found: dict[str, Path] = {}
    for stem, paths in candidates.items():
        if len(paths) > 1:
            problems.add(
                Problem(
                    paths[0].name,
                    None,
                    None,
                    None,
                    f"{' and '.join(p.name for p in paths)} are both present; keep one",
                )
            )
        else:
            found[stem] = paths[0]
    if not found and not problems.count:
        problems.add(
            Problem(
                str(directory),
                None,
                None,
                None,
                f"no contract files (expected some of {', '.join(FILE_NAMES)}, or .csv.gz)",
            )
        )
    return {name: found[name] for name in SPECS if name in found}


class _Load:
    def __init__(
        self,
        conn: Connection,
        files: Mapping[str, Path],
        problems: _Problems,
        progress: Progress | None,
        chunk_rows: int,
    ) -> None:
        self.conn = conn
        self.files = files
        self.problems = problems
        self.progress = progress
        self.chunk_rows = chunk_rows
        self.unreadable: set[str] = set()
        self.file_keys: dict[str, _FileKeys] = {}
        self.parents: dict[str, _Parent | None] = {}
        self.rows: dict[str, int] = {}
        # Contract tables without a row when the load took its lock: their files take the
        # first-load path, and their row counts after the load are known without counting.
        self.empty_tables = frozenset(
            spec.name
            for spec in SPECS.values()
            if conn.execute(select(literal(1)).select_from(spec.table).limit(1)).first() is None
        )
        self.inserted: dict[str, int] = {}

    # -- one file ------------------------------------------------------------------------

    def load_file(self, spec: _Spec, path: Path) -> None:
        try:
            header, header_lines = _read_header(path)
            if not self._header_ok(spec, path.name, header):
                self.unreadable.add(spec.name)
                return
            total = _count_records(path, header_lines)
            self._report(spec.name, 0, total)
            writer = self._writer(spec)
            hashes: list[npt.NDArray[Any]] = []
            key_lines: list[IntArray] = []
            done = 0
            for frame, lines in _chunks(path, header_lines, self.chunk_rows):
                stored, key_ok = self._check_chunk(spec, path.name, frame, lines)
                key_frame = frame.loc[key_ok, list(spec.key)]
                hashes.append(pd.util.hash_pandas_object(key_frame, index=False).to_numpy())
                key_lines.append(lines[key_ok])
                if self.problems.count == 0:
                    writer.write(stored)
                done += len(frame)
                self._report(spec.name, done, max(total, done))
        except _FileUnreadable as exc:
            self.problems.add(exc.problem)
            self.unreadable.add(spec.name)
            return
        self._duplicates(spec, path, header_lines, hashes, key_lines)
        if writer.refused is not None and self.problems.count == 0:
            raise writer.refused  # not a duplicate key: a bug, never a silent partial load
        if self.problems.count == 0:
            writer.finish()
            if spec.name in self.empty_tables:
                self.inserted[spec.name] = done
        self.rows[spec.name] = done
        self._report(spec.name, done, done)

    def _writer(self, spec: _Spec) -> _Writer:
        postgres = self.conn.dialect.name == "postgresql"
        if spec.name in self.empty_tables:
            if postgres:
                return _PostgresFirstWriter(self.conn, spec, self.empty_tables)
            return _SqliteFirstWriter(self.conn, spec, self.empty_tables)
        return _PostgresWriter(self.conn, spec) if postgres else _SqliteWriter(self.conn, spec)

    def check_foreign_keys(self) -> None:
        """SQLite loads with foreign keys off (see _sqlite_load_settings): check the tables
        written, once. A dangling key here is a bug of the loader's own checks."""
        if self.conn.dialect.name != "sqlite":
            return
        for name in self.rows:
            dangling = self.conn.exec_driver_sql(f"PRAGMA foreign_key_check({name})").first()
            if dangling is not None:
                raise RuntimeError(f"{name}: a row refers to a missing {dangling[2]} row")

    def table_counts(self) -> dict[str, int]:
        """Rows of every contract table now: known for tables that were empty, counted once
        for the others (a replacing load may have added rows or only changed them)."""
        counts = {}
        for spec in SPECS.values():
            if spec.name in self.empty_tables:
                counts[spec.name] = self.inserted.get(spec.name, 0)
            else:
                counted = self.conn.execute(select(func.count()).select_from(spec.table))
                counts[spec.name] = int(counted.scalar_one())
        return counts

    def _report(self, table: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(table, done, total)

    def _header_ok(self, spec: _Spec, file: str, header: list[str]) -> bool:
        expected = spec.column_names
        ok = True
        seen: set[str] = set()
        for name in header:
            if name in seen:
                self.problems.add(Problem(file, 1, name, None, "column appears twice"))
                ok = False
            seen.add(name)
            if name == "":
                self.problems.add(
                    Problem(file, 1, "''", None, "a column without a name (a trailing comma?)")
                )
                ok = False
            elif name not in expected:
                self.problems.add(
                    Problem(
                        file,
                        1,
                        name,
                        None,
                        f"unknown column; {file} has exactly {', '.join(expected)}",
                    )
                )
                ok = False
        for name in expected:
            if name not in seen:
                self.problems.add(Problem(file, 1, name, None, "missing column"))
                ok = False
        return ok

    def _check_chunk(
        self, spec: _Spec, file: str, frame: pd.DataFrame, lines: IntArray
    ) -> tuple[pd.DataFrame, BoolArray]:
        found = _ChunkProblems(file, lines, spec.column_names)
        ok: dict[str, BoolArray] = {}
        stored: dict[str, pd.Series] = {}
        for spec_column in spec.columns:
            values = frame[spec_column.name]
            ok[spec_column.name], converted = _check_column(spec_column, values, found)
            stored[spec_column.db_name] = converted.reset_index(drop=True)

        for spec_column in spec.columns:
            if spec_column.not_before is None:
                continue
            later, earlier = frame[spec_column.name], frame[spec_column.not_before]
            both = ok[spec_column.name] & ok[spec_column.not_before] & _bool(later != "")
            # ISO dates of one shape order as text.
            bad = both & _bool(later < earlier)
            found.add(bad, spec_column.name, later, f"before {spec_column.not_before} " + earlier)
            ok[spec_column.name] &= ~bad

        positions: dict[str, IntArray] = {}
        for spec_column in spec.columns:
            if spec_column.refers_to is None:
                continue
            parent = self._parent(spec_column.refers_to)
            if parent is None:
                continue  # its file could not be read: that problem is reported already
            values = frame[spec_column.name]
            where = parent.positions(values)
            missing = ok[spec_column.name] & (where < 0)
            reason = (
                f"no such {spec_column.refers_to[:-1]} in "
                f"{spec_column.refers_to}.csv or the database"
            )
            found.add(missing, spec_column.name, values, reason)
            ok[spec_column.name] &= ~missing
            positions[spec_column.name] = where

        if spec.name == "enrollments" and {"member_id", "program_id"} <= positions.keys():
            self._same_state(frame, ok, positions, found)

        if spec.name in PARENT_TABLES:
            keys = self.file_keys.setdefault(spec.name, _FileKeys())
            key_column = spec.key[0]
            good = ok[key_column]
            keys.keys.append(frame.loc[good, key_column])
            keys.states.append(frame.loc[good, "state_code"])
            keys.lines.append(lines[good])

        found.flush(self.problems)
        key_ok = np.logical_and.reduce([ok[c] for c in spec.key])
        return pd.DataFrame(stored), key_ok

    def _same_state(
        self,
        frame: pd.DataFrame,
        ok: dict[str, BoolArray],
        positions: dict[str, IntArray],
        found: _ChunkProblems,
    ) -> None:
        members, programs = self._parent("members"), self._parent("programs")
        assert members is not None and programs is not None
        assert members.state is not None and programs.state is not None
        both = ok["member_id"] & ok["program_id"]
        member_state = pd.Series(members.state[np.where(both, positions["member_id"], 0)])
        program_state = pd.Series(programs.state[np.where(both, positions["program_id"], 0)])
        bad = both & _bool(member_state != program_state)
        reason = "program is in " + program_state + ", the member in " + member_state
        found.add(bad, "program_id", frame["program_id"], reason)
        ok["program_id"] &= ~bad

    def _duplicates(
        self,
        spec: _Spec,
        path: Path,
        header_lines: int,
        hashes: list[npt.NDArray[Any]],
        key_lines: list[IntArray],
    ) -> None:
        """Duplicate keys across the whole file: 64-bit hashes find candidates cheaply; the
        candidates' real keys are then re-read and compared, so a hash collision never
        refuses a good file."""
        if not hashes:
            return
        all_hashes = np.concatenate(hashes)
        candidates = pd.Series(all_hashes).duplicated(keep=False).to_numpy()
        if not candidates.any():
            return
        wanted = np.concatenate(key_lines)[candidates]
        picked = []
        for frame, lines in _chunks(path, header_lines, self.chunk_rows):
            hit = np.isin(lines, wanted)
            picked.append(frame.loc[hit, list(spec.key)].assign(_line=lines[hit]))
        rows = pd.concat(picked, ignore_index=True).sort_values("_line", kind="stable")
        first = rows.groupby(list(spec.key), sort=False)["_line"].transform("first")
        later = rows[rows["_line"] != first]
        label = ", ".join(spec.key)
        for (_, row), first_line in zip(later.iterrows(), first[later.index], strict=True):
            value = ", ".join(str(row[k]) for k in spec.key)
            self.problems.add(
                Problem(
                    path.name,
                    int(row["_line"]),
                    label,
                    value,
                    f"duplicate key: the same {label} is on line {int(first_line)}",
                )
            )

    # -- parents -------------------------------------------------------------------------

    def _parent(self, name: str) -> _Parent | None:
        if name in self.parents:
            return self.parents[name]
        if name in self.unreadable:
            self.parents[name] = None
            return None
        spec = SPECS[name]
        key_column = spec.key[0]
        with_state = name != "states"
        from_file = self.file_keys.get(name, _FileKeys())
        file_frame = pd.DataFrame(
            {
                "key": pd.concat(from_file.keys, ignore_index=True) if from_file.keys else [],
                "state": (
                    pd.concat(from_file.states, ignore_index=True) if from_file.states else []
                ),
                "line": np.concatenate(from_file.lines) if from_file.lines else [],
            }
        )
        wanted = [spec.table.c[key_column]]
        if with_state:
            wanted.append(spec.table.c["state_code"])
        stored = pd.DataFrame(
            [tuple(row) for row in self.conn.execute(select(*wanted))],
            columns=["key", "state"] if with_state else ["key"],
        )
        if not with_state:
            stored["state"] = stored["key"]
        stored["line"] = 0
        # The file replaces the database's rows by key, so its rows come first and win.
        combined = pd.concat(
            [file_frame.astype({"key": object, "state": object}), stored.astype(object)],
            ignore_index=True,
        ).drop_duplicates(subset="key", keep="first")
        parent = _Parent(
            keys=pd.Index(combined["key"].astype(object), dtype=object),
            state=combined["state"].to_numpy(dtype=object) if with_state else None,
            line=combined["line"].to_numpy(dtype=np.int64),
        )
        self.parents[name] = parent
        return parent

    # -- across tables -------------------------------------------------------------------

    def check_existing_enrollments(self) -> None:
        """A newer members or programs extract may move a member or program to another
        state; enrollments already in the database must still pair the same state."""
        if not ({"members", "programs"} & self.files.keys()) or self.problems.count:
            return
        enrollments, members, programs = _t(Enrollment), _t(Member), _t(Program)
        rows = self.conn.execute(
            select(
                enrollments.c.enrollment_id,
                enrollments.c.member_id,
                members.c.state_code,
                enrollments.c.program_id,
                programs.c.state_code,
            )
            .join(members, members.c.member_id == enrollments.c.member_id)
            .join(programs, programs.c.program_id == enrollments.c.program_id)
            .where(members.c.state_code != programs.c.state_code)
            .order_by(enrollments.c.enrollment_id)
            .limit(MAX_PROBLEMS_KEPT)
        ).all()
        member_parent, program_parent = self._parent("members"), self._parent("programs")
        for enrollment_id, member_id, member_state, program_id, program_state in rows:
            member_line = _line_of(member_parent, member_id)
            program_line = _line_of(program_parent, program_id)
            reason = (
                f"enrollment {enrollment_id} in the database pairs member {member_id} "
                f"({member_state}) with program {program_id} ({program_state}); "
                "a member's programs must be in the member's state"
            )
            if member_line and "members" in self.files:
                self.problems.add(
                    Problem(
                        self.files["members"].name, member_line, "state_code", member_state, reason
                    )
                )
            elif program_line and "programs" in self.files:
                self.problems.add(
                    Problem(
                        self.files["programs"].name,
                        program_line,
                        "state_code",
                        program_state,
                        reason,
                    )
                )
            else:
                self.problems.add(Problem("enrollments", None, "program_id", program_id, reason))


def _line_of(parent: _Parent | None, key: str) -> int:
    if parent is None:
        return 0
    where = int(parent.keys.get_indexer(pd.Index([key], dtype=object))[0])
    return int(parent.line[where]) if where >= 0 else 0


def _begin(conn: Connection) -> None:
    """Take the write lock first, so the keys read for checks cannot change under the load;
    then bring an older database to this schema version. Summary tables of older
    definitions are created anew, empty, and filled by this load's rebuild (a refused load
    rolls the migration back with the rows)."""
    db.lock_for_writing(conn)
    found = db.upgrade_schema(conn, rebuild=False)
    if found is not None and found > SCHEMA_VERSION:
        # Its summary tables may differ from this version's: never fill them.
        raise DatabaseNotReady(db.newer_schema_message(found))


@contextmanager
def _sqlite_load_settings(conn: Connection) -> Iterator[None]:
    """SQLite: the connection's settings for a load, restored after it. SQLite ignores or
    refuses both inside a transaction, so they are made on the raw connection before BEGIN.

    - foreign_keys OFF: checked per row they cost more than the rest of the insert (medium
      claims: 8.1 s against 5.4 s without); the loader has checked every key already, and
      `_Load.check_foreign_keys` has SQLite check the loaded tables once before the commit.
    - temp_store FILE: SQLite groups by sorting, so the monthly summary sorts every claim;
      its sorter spills to temporary files, about twice as slow kept in memory (db.py sets
      MEMORY for the app's reads) as on disk where the OS caches them (GROUP BY of 9.3M
      claims by month: 15 s against 22-36 s).
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    raw: Any = conn.connection.dbapi_connection
    previous = {
        name: int(raw.execute(f"PRAGMA {name}").fetchone()[0])
        for name in ("foreign_keys", "temp_store")
    }
    raw.execute("PRAGMA foreign_keys = OFF")
    raw.execute("PRAGMA temp_store = FILE")
    try:
        yield
    finally:
        for name, value in previous.items():
            raw.execute(f"PRAGMA {name} = {value}")


def _rebuild_summaries(conn: Connection, progress: Progress | None) -> None:
    if progress is not None:
        progress("summaries", 0, 1)
    rebuild_summaries(conn)
    rebuild_impact(conn)
    if progress is not None:
        progress("summaries", 1, 1)


def data_through(conn: Connection) -> dt.date | None:
    """The contract's data-through date: the latest admit_date or service_date."""
    latest = [
        conn.execute(select(func.max(Admission.admit_date))).scalar(),
        conn.execute(select(func.max(Service.service_date))).scalar(),
    ]
    dates = [d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for d in latest if d]
    return max(dates, default=None)


def load_directory(
    directory: Path,
    *,
    engine: Engine,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> LoadReport:
    """Load the contract files of `directory` (any subset of the seven) in one transaction.

    Rows replace the database's rows with the same primary key; nothing is deleted. Raises
    LoadError listing every bad row, with the database left exactly as it was.
    `progress(table, rows_done, rows_total)` is called per chunk, and with the table
    "summaries" around the rebuild of the summary tables.
    """
    started = time.perf_counter()
    directory = Path(directory)
    problems = _Problems()
    files = _find_files(directory, problems)
    order = [path.name for path in files.values()]
    if not db.has_schema(engine):
        db.create_schema(engine)
    with engine.connect() as conn, _sqlite_load_settings(conn), conn.begin():
        _begin(conn)
        load = _Load(conn, files, problems, progress, chunk_rows)
        for name, path in files.items():
            load.load_file(SPECS[name], path)
        load.check_existing_enrollments()
        if problems.count:
            raise problems.error(order)  # leaving the block rolls everything back
        load.check_foreign_keys()
        _rebuild_summaries(conn, progress)
        conn.execute(delete(TableCount))
        conn.execute(
            insert(TableCount),
            [{"table_name": name, "rows": rows} for name, rows in load.table_counts().items()],
        )
        through = data_through(conn)
        result = conn.execute(
            insert(LoadRun).values(
                loaded_at=dt.datetime.now(dt.UTC),
                source=str(directory.resolve()),
                rows_loaded=json.dumps(load.rows),
                data_through=through,
            )
        )
        load_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    return LoadReport(
        rows=MappingProxyType(dict(load.rows)),
        data_through=through,
        seconds=time.perf_counter() - started,
        source=str(directory.resolve()),
        load_id=load_id,
    )
