"""The loader: a small hand-built dataset, every refusal of the contract, all-or-nothing loads,
replacement by key, gzip, exact cents. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal
from sqlalchemy import Engine, select

from data_access.loader import (
    MAX_PROBLEMS_KEPT,
    LoadError,
    LoadReport,
    Problem,
    _check_money,
    _ChunkProblems,
    _Problems,
    _real_dates,
    load_directory,
)
from data_access.models import LoadRun, metadata

D = dt.date

# Line numbers below count the header as line 1.
GOOD: dict[str, str] = {
    "states.csv": "state_code,state_name\nTX,Texas\nNY,New York\n",
    "programs.csv": (
        "program_id,state_code,program_model,program_name,launched_on\n"
        'P1,TX,whole_health,"Texas whole health, older adults",2019-01-01\n'
        "P2,NY,embedded,NY bridge,2018-06-15\n"
    ),
    "members.csv": (
        "member_id,state_code,birth_year,primary_condition\n"
        "M1,TX,1970,mental_health\n"
        "M2,TX,1985,substance_use\n"
        "M3,NY,1990,co_occurring\n"
    ),
    "eligibility.csv": (
        "member_id,start_date,end_date\n"
        "M1,2019-01-01,2020-12-31\n"
        "M2,2019-01-01,2019-06-30\n"
        "M2,2019-07-01,2020-12-31\n"
        "M3,2018-01-01,2021-12-31\n"
    ),
    "enrollments.csv": (
        "enrollment_id,member_id,program_id,coaching_role,enrolled_on,ended_on\n"
        "E1,M1,P1,whole_health_coach,2019-07-01,\n"
        "E2,M3,P2,peer_bridge,2019-03-01,2019-09-30\n"
    ),
    "admissions.csv": (
        "admission_id,member_id,setting,admit_date,discharge_date,paid_amount\n"
        "A1,M1,behavioral,2019-03-02,2019-03-09,12345.67\n"
        "A2,M1,medical,2019-10-10,,0.1\n"
        "A3,M3,behavioral,2020-02-29,2020-03-01,0.2\n"
    ),
    "services.csv": (
        "claim_id,member_id,service_date,category,behavioral,visits,paid_amount\n"
        "C1,M1,2019-05-01,peer_support,true,1,80\n"
        "C2,M2,2019-05-02,emergency,false,2,1500.5\n"
        "C3,M3,2020-01-15,pharmacy,false,1,0.30\n"
    ),
}

EXPECTED: dict[str, list[tuple[object, ...]]] = {
    "states": [("NY", "New York"), ("TX", "Texas")],
    "programs": [
        ("P1", "TX", "whole_health", "Texas whole health, older adults", D(2019, 1, 1)),
        ("P2", "NY", "embedded", "NY bridge", D(2018, 6, 15)),
    ],
    "members": [
        ("M1", "TX", 1970, "mental_health"),
        ("M2", "TX", 1985, "substance_use"),
        ("M3", "NY", 1990, "co_occurring"),
    ],
    "eligibility": [
        ("M1", D(2019, 1, 1), D(2020, 12, 31)),
        ("M2", D(2019, 1, 1), D(2019, 6, 30)),
        ("M2", D(2019, 7, 1), D(2020, 12, 31)),
        ("M3", D(2018, 1, 1), D(2021, 12, 31)),
    ],
    "enrollments": [
        ("E1", "M1", "P1", "whole_health_coach", D(2019, 7, 1), None),
        ("E2", "M3", "P2", "peer_bridge", D(2019, 3, 1), D(2019, 9, 30)),
    ],
    "admissions": [
        ("A1", "M1", "behavioral", D(2019, 3, 2), D(2019, 3, 9), 1_234_567),
        ("A2", "M1", "medical", D(2019, 10, 10), None, 10),
        ("A3", "M3", "behavioral", D(2020, 2, 29), D(2020, 3, 1), 20),
    ],
    "services": [
        ("C1", "M1", D(2019, 5, 1), "peer_support", True, 1, 8_000),
        ("C2", "M2", D(2019, 5, 2), "emergency", False, 2, 150_050),
        ("C3", "M3", D(2020, 1, 15), "pharmacy", False, 1, 30),
    ],
}
GOOD_ROWS = {
    "states": 2,
    "programs": 2,
    "members": 3,
    "eligibility": 4,
    "enrollments": 2,
    "admissions": 3,
    "services": 3,
}


def write(folder: Path, files: Mapping[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        # Text is encoded (and gzipped for .gz names); bytes are written as they are.
        if isinstance(content, str):
            data = content.encode()
            if name.endswith(".gz"):
                data = gzip.compress(data)
        else:
            data = content
        (folder / name).write_bytes(data)
    return folder


def contract_frame(engine: Engine, name: str) -> pd.DataFrame:
    table = metadata.tables[name]
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
    return pd.DataFrame.from_records(rows, columns=list(table.columns.keys()))


def expected_frame(engine: Engine, name: str, rows: Sequence[tuple[object, ...]]) -> pd.DataFrame:
    columns = list(contract_frame(engine, name).columns)
    return pd.DataFrame.from_records(rows, columns=columns)


def snapshot(engine: Engine) -> dict[str, pd.DataFrame]:
    """Every table of the database, summaries and load runs included, in a stable order."""
    tables = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.columns)).all()
            tables[table.name] = pd.DataFrame.from_records(rows, columns=list(table.columns.keys()))
    return tables


def assert_same(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    assert before.keys() == after.keys()
    for name in before:
        assert_frame_equal(before[name], after[name], obj=name)


def refused(folder: Path, engine: Engine, chunk_rows: int = 200_000) -> LoadError:
    with pytest.raises(LoadError) as info:
        load_directory(folder, engine=engine, chunk_rows=chunk_rows)
    return info.value


def edit(file: str, old: str, new: str) -> Callable[[dict[str, str | bytes]], None]:
    def apply(files: dict[str, str | bytes]) -> None:
        content = files[file]
        assert isinstance(content, str) and old in content, (file, old)
        files[file] = content.replace(old, new, 1)

    return apply


def put(file: str, content: str | bytes) -> Callable[[dict[str, str | bytes]], None]:
    def apply(files: dict[str, str | bytes]) -> None:
        files[file] = content

    return apply


# ---------------------------------------------------------------------------------------
# A good load


def test_good_dataset_loads_exactly(engine: Engine, tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    report = load_directory(
        write(tmp_path / "in", dict(GOOD)),
        engine=engine,
        progress=lambda table, done, total: calls.append((table, done, total)),
    )
    for name, rows in EXPECTED.items():
        assert_frame_equal(contract_frame(engine, name), expected_frame(engine, name, rows))
    assert isinstance(report, LoadReport)
    assert dict(report.rows) == GOOD_ROWS
    assert report.data_through == D(2020, 2, 29)  # admission A3, later than every claim
    assert report.seconds > 0
    assert ("services", 0, 3) in calls and ("services", 3, 3) in calls
    with engine.connect() as conn:
        runs = conn.execute(select(LoadRun)).all()
    assert len(runs) == 1
    assert runs[0].source == str((tmp_path / "in").resolve())
    assert runs[0].data_through == D(2020, 2, 29)
    assert json.loads(runs[0].rows_loaded) == GOOD_ROWS
    loaded_at = runs[0].loaded_at
    assert abs(loaded_at.replace(tzinfo=None) - dt.datetime.now(dt.UTC).replace(tzinfo=None)) < (
        dt.timedelta(minutes=5)
    )


def test_small_chunks_give_the_same_rows(engine: Engine, tmp_path: Path) -> None:
    load_directory(write(tmp_path / "in", dict(GOOD)), engine=engine, chunk_rows=1)
    for name, rows in EXPECTED.items():
        assert_frame_equal(contract_frame(engine, name), expected_frame(engine, name, rows))


def test_gzip_files_load_like_plain_ones(engine: Engine, tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {f"{name}.gz": content for name, content in GOOD.items()}
    report = load_directory(write(tmp_path / "in", files), engine=engine)
    assert dict(report.rows) == GOOD_ROWS
    for name, rows in EXPECTED.items():
        assert_frame_equal(contract_frame(engine, name), expected_frame(engine, name, rows))


def test_reloading_the_same_files_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    folder = write(tmp_path / "in", dict(GOOD))
    load_directory(folder, engine=engine)
    first = snapshot(engine)
    load_directory(folder, engine=engine)
    second = snapshot(engine)
    # The only difference is the log of loads.
    assert len(second.pop("load_runs")) == 2
    first.pop("load_runs")
    assert_same(first, second)


def test_newer_extract_replaces_rows_by_key(engine: Engine, tmp_path: Path) -> None:
    load_directory(write(tmp_path / "first", dict(GOOD)), engine=engine)
    before = snapshot(engine)
    newer = (
        "admission_id,member_id,setting,admit_date,discharge_date,paid_amount\n"
        "A2,M1,medical,2019-10-10,2019-10-12,250.75\n"
        "A4,M2,medical,2021-01-05,2021-01-06,99.99\n"
    )
    report = load_directory(write(tmp_path / "newer", {"admissions.csv": newer}), engine=engine)
    assert dict(report.rows) == {"admissions": 2}
    assert report.data_through == D(2021, 1, 5)
    expected = [
        ("A1", "M1", "behavioral", D(2019, 3, 2), D(2019, 3, 9), 1_234_567),
        ("A2", "M1", "medical", D(2019, 10, 10), D(2019, 10, 12), 25_075),
        ("A3", "M3", "behavioral", D(2020, 2, 29), D(2020, 3, 1), 20),
        ("A4", "M2", "medical", D(2021, 1, 5), D(2021, 1, 6), 9_999),
    ]
    assert_frame_equal(
        contract_frame(engine, "admissions"), expected_frame(engine, "admissions", expected)
    )
    after = snapshot(engine)
    for name in ("states", "programs", "members", "eligibility", "enrollments", "services"):
        assert_frame_equal(before[name], after[name], obj=name)


def test_a_subset_refers_to_rows_already_in_the_database(engine: Engine, tmp_path: Path) -> None:
    load_directory(write(tmp_path / "first", dict(GOOD)), engine=engine)
    before = snapshot(engine)
    later = (
        "enrollment_id,member_id,program_id,coaching_role,enrolled_on,ended_on\n"
        "E3,M2,P1,recovery_coach,2020-01-01,\n"  # member and program only in the database
        "E4,M2,P7,recovery_coach,2020-01-01,\n"
    )
    error = refused(write(tmp_path / "later", {"enrollments.csv": later}), engine)
    assert error.problems == (
        Problem(
            "enrollments.csv",
            3,
            "program_id",
            "P7",
            "no such program in programs.csv or the database",
        ),
    )
    assert_same(before, snapshot(engine))


def test_money_is_converted_to_exact_cents(engine: Engine, tmp_path: Path) -> None:
    amounts = [
        "0.1",
        "0.2",
        "0.30",
        "0.07",
        "19.99",
        "1",
        "1.5",
        "007.25",
        "0",
        "999999999999999.99",
        "1234567.89",
    ]
    services = "claim_id,member_id,service_date,category,behavioral,visits,paid_amount\n" + "".join(
        f"K{i},M1,2019-05-01,other,false,1,{amount}\n" for i, amount in enumerate(amounts)
    )
    load_directory(write(tmp_path / "in", {**GOOD, "services.csv": services}), engine=engine)
    frame = contract_frame(engine, "services")
    stored = dict(zip(frame["claim_id"], frame["paid_amount_cents"], strict=True))
    cents = [int(stored[f"K{i}"]) for i in range(len(amounts))]
    assert cents == [10, 20, 30, 7, 1999, 100, 150, 725, 0, 99_999_999_999_999_999, 123_456_789]
    assert sum(cents[:3]) == 60  # 0.1 + 0.2 + 0.30, exactly


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**17 - 1), min_size=1, max_size=50))
def test_dollar_strings_become_their_cents(cents: list[int]) -> None:
    texts = [f"{c // 100}.{c % 100:02d}" if c % 3 else f"{c // 100}" for c in cents]
    values = pd.Series(texts, dtype=str)
    found = _ChunkProblems("x.csv", pd.RangeIndex(len(values)).to_numpy(), ["paid_amount"])
    ok, stored = _check_money("paid_amount", values, (values != "").to_numpy(), found)
    assert ok.all()
    assert stored.tolist() == [c if c % 3 else c // 100 * 100 for c in cents]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99))
def test_real_dates_agree_with_the_calendar(year: int, month: int, day: int) -> None:
    text = f"{year:04d}-{month:02d}-{day:02d}"
    try:
        dt.date.fromisoformat(text)
        exists = True
    except ValueError:
        exists = False
    values = pd.Series([text], dtype=str)
    assert bool(_real_dates(values, pd.Series([True]).to_numpy())[0]) is exists


# ---------------------------------------------------------------------------------------
# Refusals: each bad folder is the good one with one change; the load must report exactly
# that problem and leave every table as it was.

LONG_ID = "A" * 65
HEADER_ADMISSIONS = "admission_id,member_id,setting,admit_date,discharge_date,paid_amount\n"

REFUSALS = [
    pytest.param(
        edit("services.csv", "visits,paid_amount\n", "visits,paid_amount,note\n"),
        ("services.csv", 1, "note", "unknown column"),
        id="unknown-column",
    ),
    pytest.param(
        put(
            "admissions.csv",
            "admission_id,member_id,setting,admit_date,discharge_date\n"
            "A1,M1,behavioral,2019-03-02,2019-03-09\n",
        ),
        ("admissions.csv", 1, "paid_amount", "missing column"),
        id="missing-column",
    ),
    pytest.param(
        edit("enrollments.csv", "2019-03-01,2019-09-30", "03/01/2019,2019-09-30"),
        ("enrollments.csv", 3, "enrolled_on", "not a date (YYYY-MM-DD)"),
        id="bad-date",
    ),
    pytest.param(
        edit("enrollments.csv", "2019-03-01,2019-09-30", "2019-03-01,2021-02-30"),
        ("enrollments.csv", 3, "ended_on", "not a real date"),
        id="impossible-date",
    ),
    pytest.param(
        edit("admissions.csv", "12345.67", "-12345.67"),
        ("admissions.csv", 2, "paid_amount", "negative"),
        id="negative-money",
    ),
    pytest.param(
        edit("services.csv", "1500.5\n", "1500.505\n"),
        ("services.csv", 3, "paid_amount", "more than 2 decimals"),
        id="three-decimal-money",
    ),
    pytest.param(
        edit("services.csv", "pharmacy", "inpatient"),
        ("services.csv", 4, "category", "not one of emergency, outpatient"),
        id="unknown-enum",
    ),
    pytest.param(
        edit("members.csv", "substance_use", "Substance_Use"),
        ("members.csv", 3, "primary_condition", "must be lower case"),
        id="upper-case-enum",
    ),
    pytest.param(
        edit("services.csv", "C3,M3", "C3,M9"),
        ("services.csv", 4, "member_id", "no such member in members.csv or the database"),
        id="dangling-member",
    ),
    pytest.param(
        edit("enrollments.csv", "E1,M1,P1", "E1,M1,P9"),
        ("enrollments.csv", 2, "program_id", "no such program in programs.csv or the database"),
        id="dangling-program",
    ),
    pytest.param(
        edit("members.csv", "M2,TX", "M2,CA"),
        ("members.csv", 3, "state_code", "no such state in states.csv or the database"),
        id="dangling-state",
    ),
    pytest.param(
        edit("enrollments.csv", "E1,M1,P1", "E1,M1,P2"),
        ("enrollments.csv", 2, "program_id", "program is in NY, the member in TX"),
        id="program-in-another-state",
    ),
    pytest.param(
        edit("admissions.csv", "2019-03-02,2019-03-09", "2019-03-02,2019-03-01"),
        ("admissions.csv", 2, "discharge_date", "before admit_date 2019-03-02"),
        id="discharge-before-admit",
    ),
    pytest.param(
        edit("enrollments.csv", "2019-03-01,2019-09-30", "2019-03-01,2019-02-28"),
        ("enrollments.csv", 3, "ended_on", "before enrolled_on 2019-03-01"),
        id="ended-before-enrolled",
    ),
    pytest.param(
        edit("eligibility.csv", "M3,2018-01-01,2021-12-31", "M3,2018-01-01,2017-12-31"),
        ("eligibility.csv", 5, "end_date", "before start_date 2018-01-01"),
        id="span-ends-before-it-starts",
    ),
    pytest.param(
        edit("services.csv", "C3,", "C1,"),
        ("services.csv", 4, "claim_id", "duplicate key: the same claim_id is on line 2"),
        id="duplicate-key",
    ),
    pytest.param(
        edit("eligibility.csv", "M2,2019-07-01", "M2,2019-01-01"),
        ("eligibility.csv", 4, "member_id, start_date", "duplicate key"),
        id="duplicate-composite-key",
    ),
    pytest.param(
        put("members.csv", ""),
        ("members.csv", 1, None, "empty file: no header row"),
        id="empty-file",
    ),
    pytest.param(
        put("programs.csv", GOOD["programs.csv"].replace("NY bridge", "NY café").encode("latin-1")),
        ("programs.csv", 3, None, "not UTF-8: byte e9 at byte offset 147"),
        id="wrong-encoding",
    ),
    pytest.param(
        edit("services.csv", "emergency,false", "emergency,no"),
        ("services.csv", 3, "behavioral", "not true or false"),
        id="bad-bool",
    ),
    pytest.param(
        edit("services.csv", "pharmacy,false,1,", "pharmacy,false,0,"),
        ("services.csv", 4, "visits", "must be 1 or more"),
        id="visits-zero",
    ),
    pytest.param(
        edit("admissions.csv", "A3,", f"{LONG_ID},"),
        ("admissions.csv", 4, "admission_id", "identifier longer than 64 characters"),
        id="id-too-long",
    ),
    pytest.param(
        edit("members.csv", "1985", "1899"),
        ("members.csv", 3, "birth_year", "birth year outside 1900 to"),
        id="birth-year-too-early",
    ),
    pytest.param(
        edit("members.csv", "1985", "19x5"),
        ("members.csv", 3, "birth_year", "not a whole number"),
        id="birth-year-not-a-number",
    ),
    pytest.param(
        edit("states.csv", "NY,New York", "Ny,New York"),
        ("states.csv", 3, "state_code", "not a two-letter USPS state code"),
        id="bad-state-code",
    ),
    pytest.param(
        edit("services.csv", "C2,M2,2019-05-02", ",M2,2019-05-02"),
        ("services.csv", 3, "claim_id", "empty; a value is required"),
        id="empty-id",
    ),
    pytest.param(
        edit("admissions.csv", ",0.1\n", ",0.1,extra\n"),
        ("admissions.csv", 3, None, "7 fields, the header has 6"),
        id="row-with-an-extra-field",
    ),
    pytest.param(
        edit("states.csv", "state_code,state_name\n", "state_code,state_name,\n"),
        ("states.csv", 1, "''", "a column without a name (a trailing comma?)"),
        id="trailing-comma-in-header",
    ),
    pytest.param(
        edit("members.csv", "primary_condition\n", "primary_condition,birth_year\n"),
        ("members.csv", 1, "birth_year", "column appears twice"),
        id="column-twice",
    ),
    pytest.param(
        put("services.csv.gz", GOOD["services.csv"]),
        ("services.csv", None, None, "services.csv and services.csv.gz are both present"),
        id="csv-and-gz-both-present",
    ),
    pytest.param(
        put("claims.csv", GOOD["services.csv"]),
        ("claims.csv", None, None, "not a file of the data contract"),
        id="unknown-file",
    ),
    pytest.param(
        put("members.csv.gz", b"not gzip at all"),
        ("members.csv.gz", None, None, "cannot read the gzip file"),
        id="corrupt-gzip",
    ),
]


@pytest.mark.parametrize(("change", "problem"), REFUSALS)
def test_refused_load_reports_the_problem_and_changes_nothing(
    engine: Engine,
    tmp_path: Path,
    change: Callable[[dict[str, str | bytes]], None],
    problem: tuple[str, int | None, str | None, str],
) -> None:
    load_directory(write(tmp_path / "good", dict(GOOD)), engine=engine)
    before = snapshot(engine)
    files: dict[str, str | bytes] = dict(GOOD)
    if problem[0] == "members.csv.gz":
        del files["members.csv"]
    change(files)
    error = refused(write(tmp_path / "bad", files), engine)
    assert len(error.problems) == 1, str(error)
    found = error.problems[0]
    assert (found.file, found.line, found.column) == problem[:3], str(error)
    assert problem[3] in found.reason, str(error)
    assert str(found) in str(error)
    assert_same(before, snapshot(engine))


def test_refused_first_load_leaves_the_database_empty(engine: Engine, tmp_path: Path) -> None:
    before = snapshot(engine)
    files: dict[str, str | bytes] = dict(GOOD)
    edit("services.csv", "1500.5\n", "1500.505\n")(files)
    refused(write(tmp_path / "bad", files), engine)
    assert_same(before, snapshot(engine))


def test_every_bad_row_is_reported_in_file_and_line_order(engine: Engine, tmp_path: Path) -> None:
    files: dict[str, str | bytes] = dict(GOOD)
    edit(
        "services.csv",
        "C1,M1,2019-05-01,peer_support,true,1,80",
        "C1,M9,2019-13-01,Peer_support,yes,0,80.001",
    )(files)
    edit("members.csv", "1970", "1870")(files)
    edit("admissions.csv", "2019-10-10,,0.1", "2019-10-10,,x")(files)
    error = refused(write(tmp_path / "bad", files), engine, chunk_rows=1)
    assert [(p.file, p.line, p.column) for p in error.problems] == [
        ("members.csv", 2, "birth_year"),
        ("admissions.csv", 3, "paid_amount"),
        ("services.csv", 2, "member_id"),
        ("services.csv", 2, "service_date"),
        ("services.csv", 2, "category"),
        ("services.csv", 2, "behavioral"),
        ("services.csv", 2, "visits"),
        ("services.csv", 2, "paid_amount"),
    ]
    report = str(error)
    assert report.splitlines()[0] == (
        "Load refused, nothing was changed in the database: 8 problems."
    )
    assert (
        "  services.csv line 2, column service_date, value '2019-13-01': "
        "not a real date (YYYY-MM-DD)"
    ) in report.splitlines()


def test_the_report_is_capped_but_counts_every_problem(engine: Engine, tmp_path: Path) -> None:
    rows = "".join(f"X{i},M1,2019-05-01,other,maybe,1,1\n" for i in range(120))
    services = GOOD["services.csv"] + rows
    error = refused(write(tmp_path / "bad", {**GOOD, "services.csv": services}), engine)
    assert error.total == 120
    assert [p.line for p in error.problems] == list(range(5, 125))
    lines = str(error).splitlines()
    assert len(lines) == 1 + 50 + 1
    assert lines[-1] == "  ... and 70 more problems."


def test_problems_beyond_the_kept_ones_are_still_counted() -> None:
    kept = _Problems()
    for i in range(MAX_PROBLEMS_KEPT + 5):
        kept.add(Problem("f.csv", i, None, None, "bad"))
    error = kept.error(["f.csv"])
    assert (len(error.problems), error.total) == (MAX_PROBLEMS_KEPT, MAX_PROBLEMS_KEPT + 5)


def test_duplicates_across_chunks(engine: Engine, tmp_path: Path) -> None:
    services = (
        GOOD["services.csv"]
        + "C9,M1,2019-06-01,other,false,1,1\nC2,M1,2019-06-02,other,false,1,1\n"
    )
    error = refused(
        write(tmp_path / "bad", {**GOOD, "services.csv": services}), engine, chunk_rows=2
    )
    assert error.problems == (
        Problem(
            "services.csv", 6, "claim_id", "C2", "duplicate key: the same claim_id is on line 3"
        ),
    )


def test_line_numbers_count_quoted_line_breaks_and_blank_lines(
    engine: Engine, tmp_path: Path
) -> None:
    programs = (
        "program_id,state_code,program_model,program_name,launched_on\n"
        '"P1",TX,whole_health,"Texas whole health,\nolder adults\r\nand more",2019-01-01\n'
        "\n"
        "P2,NY,embedded,NY bridge,2018-02-30\n"
    )
    error = refused(
        write(tmp_path / "bad", {**GOOD, "programs.csv": programs}), engine, chunk_rows=1
    )
    assert [(p.line, p.column, p.value) for p in error.problems] == [
        (6, "launched_on", "2018-02-30")
    ]


def test_a_new_state_for_a_member_must_match_existing_enrollments(
    engine: Engine, tmp_path: Path
) -> None:
    load_directory(write(tmp_path / "good", dict(GOOD)), engine=engine)
    before = snapshot(engine)
    members = "member_id,state_code,birth_year,primary_condition\nM1,NY,1970,mental_health\n"
    error = refused(write(tmp_path / "moved", {"members.csv": members}), engine)
    assert [(p.file, p.line, p.column, p.value) for p in error.problems] == [
        ("members.csv", 2, "state_code", "NY")
    ]
    assert "enrollment E1 in the database pairs member M1 (NY) with program P1 (TX)" in str(error)
    assert_same(before, snapshot(engine))


def test_a_header_only_file_loads_no_rows(engine: Engine, tmp_path: Path) -> None:
    files = {**GOOD, "services.csv": GOOD["services.csv"].splitlines()[0] + "\n"}
    report = load_directory(write(tmp_path / "in", files), engine=engine)
    assert report.rows["services"] == 0
    assert len(contract_frame(engine, "services")) == 0


def test_utf8_bom_and_crlf_are_accepted(engine: Engine, tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        name: "\ufeff" + content.replace("\n", "\r\n") for name, content in GOOD.items()
    }
    load_directory(write(tmp_path / "in", files), engine=engine)
    for name, rows in EXPECTED.items():
        assert_frame_equal(contract_frame(engine, name), expected_frame(engine, name, rows))


def test_missing_folder_is_refused(engine: Engine, tmp_path: Path) -> None:
    error = refused(tmp_path / "nowhere", engine)
    assert error.problems == (
        Problem(str(tmp_path / "nowhere"), None, None, None, "no such folder"),
    )


def test_text_with_quotes_commas_and_line_breaks_round_trips(
    engine: Engine, tmp_path: Path
) -> None:
    name = 'Said "hi", then\n\\.\nleft; café ✓'
    quoted = '"' + name.replace('"', '""') + '"'
    programs = (
        "program_id,state_code,program_model,program_name,launched_on\n"
        f"P1,TX,whole_health,{quoted},2019-01-01\n"
        "P2,NY,embedded,NY bridge,2018-06-15\n"
    )
    load_directory(write(tmp_path / "in", {**GOOD, "programs.csv": programs}), engine=engine)
    stored = contract_frame(engine, "programs")
    assert stored["program_name"].tolist() == [name, "NY bridge"]


def test_refused_load_rolls_back_rows_written_before_the_problem(
    engine: Engine, tmp_path: Path
) -> None:
    load_directory(write(tmp_path / "good", dict(GOOD)), engine=engine)
    before = snapshot(engine)
    files: dict[str, str | bytes] = {
        # Valid changes, written before the bad claim is read...
        "states.csv": "state_code,state_name\nTX,Tejas\nAZ,Arizona\n",
        "members.csv": GOOD["members.csv"] + "M4,AZ,2001,mental_health\n",
        "admissions.csv": GOOD["admissions.csv"].replace("12345.67", "1.00"),
        # ...then a claim of a member that does not exist, in the second chunk.
        "services.csv": GOOD["services.csv"] + "C4,M4,2020-01-01,other,false,1,5\n"
        "C5,M5,2020-01-01,other,false,1,5\n",
    }
    error = refused(write(tmp_path / "bad", files), engine, chunk_rows=4)
    assert [(p.file, p.line, p.column, p.value) for p in error.problems] == [
        ("services.csv", 6, "member_id", "M5")
    ]
    assert_same(before, snapshot(engine))
