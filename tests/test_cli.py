"""`python -m data_access`: loads in a subprocess, exit codes and messages, export arguments."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import pytest
from sqlalchemy import func, select

from data_access import access, cli, db
from data_access.access import Viewer
from data_access.filters import OutcomeFilter
from data_access.models import Service
from data_access.vocabulary import PROGRAM_GROUPS
from tests.test_loader import GOOD, write

PROJECT = Path(__file__).resolve().parent.parent


def run(args: list[str], database_url: str | None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url is not None:
        environment["DATABASE_URL"] = database_url
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "data_access", *args],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def services_in(database_url: str) -> int:
    with db.get_engine(database_url).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Service)).scalar_one())


# ---------------------------------------------------------------------------------------
# load


def test_load_in_a_subprocess(database_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "in", dict(GOOD))
    done = run(["load", str(folder)], database_url)
    assert done.returncode == 0, done.stderr
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert lines[0].startswith(f"Loaded {folder} into ")
    assert lines[1:8] == [
        "states 2 rows",
        "programs 2 rows",
        "members 3 rows",
        "eligibility 4 rows",
        "enrollments 2 rows",
        "admissions 3 rows",
        "services 3 rows",
    ]
    assert lines[-1] == "Data through: 2020-02-29"
    assert "services: 3 of 3 rows (100%)" in done.stderr.splitlines()
    assert services_in(database_url) == 3

    summary = run(["summary"], database_url)
    assert summary.returncode == 0, summary.stderr
    assert "Data through: 2020-02-29" in summary.stdout
    assert f"from {folder.resolve()} (1 load in all)" in summary.stdout
    assert "members 3 rows" in [" ".join(line.split()) for line in summary.stdout.splitlines()]


def test_ensure_loaded_loads_only_an_empty_database(sqlite_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "in", dict(GOOD))
    first = cli.main(["ensure-loaded", str(folder), "--database-url", sqlite_url])
    assert (first, services_in(sqlite_url)) == (0, 3)
    with db.get_engine(sqlite_url).begin() as conn:
        conn.execute(Service.__table__.delete())
    second = cli.main(["ensure-loaded", str(folder), "--database-url", sqlite_url])
    assert (second, services_in(sqlite_url)) == (0, 0)  # loaded once already: left alone


def test_a_broken_file_exits_1_with_the_report_and_loads_nothing(
    database_url: str, tmp_path: Path
) -> None:
    files: dict[str, str | bytes] = dict(GOOD)
    files["services.csv"] = str(files["services.csv"]).replace("1500.5\n", "1500.505\n")
    files["admissions.csv"] = str(files["admissions.csv"]).replace("2019-03-09", "2019-02-30")
    done = run(["load", str(write(tmp_path / "bad", files))], database_url)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    report = done.stderr[done.stderr.index("Load refused") :].splitlines()
    assert report == [
        "Load refused, nothing was changed in the database: 2 problems.",
        "  admissions.csv line 2, column discharge_date, value '2019-02-30': "
        "not a real date (YYYY-MM-DD)",
        "  services.csv line 3, column paid_amount, value '1500.505': more than 2 decimals",
    ]
    assert services_in(database_url) == 0


def test_database_url_flag_overrides_the_environment(sqlite_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "in", dict(GOOD))
    done = run(["load", str(folder), "--database-url", sqlite_url], "mysql://nowhere/db")
    assert done.returncode == 0, done.stderr
    assert services_in(sqlite_url) == 3


def test_bad_database_url_is_a_clear_settings_error(tmp_path: Path) -> None:
    done = run(["load", str(tmp_path)], "mysql://nowhere/db")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "DATABASE_URL" in done.stderr and "'mysql'" in done.stderr
    flag = run(["summary", "--database-url", "oracle://x"], None)
    assert flag.returncode == 2
    assert flag.stderr.startswith("Invalid --database-url:")


def test_an_unreachable_database_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:1/nothing"
    done = run(["load", str(write(tmp_path / "in", dict(GOOD))), "--database-url", url], None)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("The outcomes database failed:")


def test_no_command_prints_help() -> None:
    done = run([], None)
    assert done.returncode == 2
    assert "load" in done.stderr and "export" in done.stderr


# ---------------------------------------------------------------------------------------
# export


def parse_export(*args: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["export", *args])


def test_export_flags_build_the_filter() -> None:
    args = parse_export(
        "prepost",
        "--state",
        "tx,NY",
        "--state",
        "AZ",
        "--model",
        "whole_health,not_enrolled",
        "--program",
        "P1",
        "--program",
        "P2,P3",
        "--condition",
        "substance_use",
        "--from",
        "2019-01",
        "--to",
        "2020-12",
        "--setting",
        "behavioral",
        "--out",
        "x.csv",
    )
    assert args.dataset == "prepost"
    assert args.out == "x.csv"
    assert cli.build_filter(args) == OutcomeFilter(
        states=("AZ", "NY", "TX"),
        program_models=("not_enrolled", "whole_health"),
        program_ids=("P1", "P2", "P3"),
        conditions=("substance_use",),
        month_from="2019-01",
        month_to="2020-12",
        setting="behavioral",
    )


def test_export_defaults_restrict_nothing() -> None:
    built = cli.build_filter(parse_export("monthly"))
    assert built == OutcomeFilter()
    assert set(built.program_models) == set(PROGRAM_GROUPS)
    assert built.states is None and built.program_ids is None and built.conditions is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "bogus"], "unknown program model 'bogus'; choose from embedded,"),
        (["--model", "Embedded"], "unknown program model 'Embedded'"),
        (["--condition", "anxiety"], "unknown primary condition 'anxiety'"),
        (["--state", "Texas"], "state codes are two capital letters; got TEXAS"),
        (["--from", "2020-13"], "months are written YYYY-MM; got '2020-13'"),
        (["--to", "2020/01"], "months are written YYYY-MM; got '2020/01'"),
        (["--from", "2021-01", "--to", "2020-01"], "month range starts after it ends"),
    ],
)
def test_bad_filter_values_exit_2_with_a_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The arguments are checked before the database is touched.
    code = cli.main(["export", "monthly", *args, "--database-url", "sqlite:////nonexistent/x.db"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("python -m data_access export: ")
    assert message in captured.err


def test_unknown_setting_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["export", "monthly", "--setting", "dental"])
    assert info.value.code == 2
    assert "invalid choice: 'dental'" in capsys.readouterr().err


def test_export_of_an_empty_or_missing_database_says_to_load(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"sqlite:///{tmp_path / 'none' / 'outcomes.sqlite'}"
    assert cli.main(["export", "monthly", "--database-url", missing]) == 1
    assert "load it first: python -m data_access load sample_data" in capsys.readouterr().err
    assert not (tmp_path / "none" / "outcomes.sqlite").exists()  # nothing created by looking

    assert cli.main(["export", "prepost", "--database-url", database_url]) == 1  # no tables
    assert "python -m data_access load sample_data" in capsys.readouterr().err
    db.create_schema(db.get_engine(database_url))
    assert cli.main(["summary", "--database-url", database_url]) == 1  # tables, never loaded
    assert "python -m data_access load sample_data" in capsys.readouterr().err


def test_export_passes_the_filter_and_writes_the_file(
    configured: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["load", str(write(tmp_path / "in", dict(GOOD)))]) == 0
    calls: list[dict[str, Any]] = []

    def fake_write_export(
        *,
        dataset: str,
        filters: OutcomeFilter,
        viewer: Viewer,
        small_cells: str,
        engine: Any,
        out: TextIO,
    ) -> int:
        calls.append(
            {
                "dataset": dataset,
                "filters": filters,
                "url": str(engine.url),
                "viewer": (viewer.role, viewer.states, viewer.email.startswith("cli:")),
                "small_cells": small_cells,
            }
        )
        out.write("a,b\n1,2\n")
        return 1

    monkeypatch.setitem(
        sys.modules, "data_access.exports", types.SimpleNamespace(write_export=fake_write_export)
    )
    target = tmp_path / "out.csv"
    code = cli.main(["export", "monthly", "--state", "TX", "--out", str(target)])
    assert code == 0
    assert target.read_text() == "a,b\n1,2\n"
    assert calls == [
        {
            "dataset": "monthly",
            "filters": OutcomeFilter(states=("TX",)),
            "url": str(db.get_engine(configured).url),
            "viewer": ("leadership", None, True),
            "small_cells": "suppress",
        }
    ]
    assert capsys.readouterr().err.endswith(f"Wrote 1 rows of monthly to {target}\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []

    assert cli.main(["export", "prepost"]) == 0  # standard output
    assert capsys.readouterr().out == "a,b\n1,2\n"


def test_export_end_to_end_writes_the_contract_header(configured: str, tmp_path: Path) -> None:
    assert cli.main(["load", str(write(tmp_path / "in", dict(GOOD)))]) == 0
    target = tmp_path / "monthly.csv"
    assert cli.main(["export", "monthly", "--state", "NY", "--out", str(target)]) == 0
    lines = target.read_text().splitlines()
    assert lines[0].startswith("month,state_code,program_model,member_months,")
    assert len(lines) > 1
    assert all(line.split(",")[1] == "NY" for line in lines[1:])


# ---------------------------------------------------------------------------------------
# generate-sample


def test_generate_sample_delegates_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str] | None] = []

    def fake_main(argv: list[str] | None = None) -> int:
        seen.append(argv)
        return 0

    monkeypatch.setitem(sys.modules, "sample_data.generate", types.SimpleNamespace(main=fake_main))
    assert cli.main(["generate-sample", "--out", "/tmp/x", "--members", "50", "--seed", "7"]) == 0
    assert cli.main(["generate-sample"]) == 0
    assert seen == [["--out", "/tmp/x", "--members", "50", "--seed", "7"], []]


def _audit_rows(url: str) -> pd.DataFrame:
    admin = Viewer(email="admin@example.org", role="admin")
    log = access.audit_log(viewer=admin, events=["download"], engine=db.get_engine(url))
    return log[["email", "dataset", "rows", "suppressed", "detail"]].iloc[::-1]


def test_export_as_a_partner_keeps_to_the_grant_and_suppresses(
    configured: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["load", str(write(tmp_path / "in", dict(GOOD)))]) == 0
    access.grant(email="tx@example.org", role="state_partner", states=["TX"], granted_by="test")
    target = tmp_path / "monthly.csv"
    # The partner asks for New York too: the grant wins, whatever the flags say.
    args = ["export", "monthly", "--as", "TX@example.org", "--state", "TX,NY"]
    assert cli.main([*args, "--out", str(target)]) == 0
    lines = target.read_text().splitlines()
    assert lines[0].endswith(",cost_pmpm,provisional,suppressed")
    assert {line.split(",")[1] for line in lines[1:]} == {"TX"}
    # Every count of this tiny world is below 11: nothing but zeros may be left.
    counts = pd.read_csv(target)[["admissions", "discharges", "inpatient_days"]]
    assert not ((counts >= 1) & (counts < 11)).any().any()
    assert cli.main([*args, "--unsuppressed", "--purpose", "x"]) == 2
    assert "state partner" in capsys.readouterr().err
    assert _audit_rows(configured).to_dict("records") == [
        {
            "email": "tx@example.org",
            "dataset": "monthly",
            "rows": len(lines) - 1,
            "suppressed": True,
            "detail": "command line",
        }
    ]


def test_unsuppressed_export_needs_a_purpose_and_is_audited(
    configured: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["load", str(write(tmp_path / "in", dict(GOOD)))]) == 0
    assert cli.main(["export", "prepost", "--unsuppressed"]) == 2
    assert "--purpose" in capsys.readouterr().err
    assert cli.main(["export", "prepost", "--as", "nobody@example.org"]) == 2
    assert "no such viewer" in capsys.readouterr().err
    target = tmp_path / "prepost.csv"
    code = cli.main(
        ["export", "prepost", "--unsuppressed", "--purpose", "CMS report", "--out", str(target)]
    )
    assert code == 0
    header = target.read_text().splitlines()[0]
    assert header.startswith("program_id,") and not header.endswith(",suppressed")
    rows = _audit_rows(configured).to_dict("records")
    assert len(rows) == 1
    assert rows[0]["email"].startswith("cli:")
    assert (rows[0]["suppressed"], rows[0]["detail"]) == (
        False,
        "command line; purpose: CMS report",
    )


def test_each_load_moves_the_load_version_the_dashboard_caches_on(
    configured: str, tmp_path: Path
) -> None:
    from data_access.status import load_version

    engine = db.get_engine(configured)
    assert load_version(engine=engine) == 0  # no tables yet
    folder = write(tmp_path / "in", dict(GOOD))
    assert cli.main(["load", str(folder)]) == 0
    first = load_version(engine=engine)
    assert cli.main(["load", str(folder)]) == 0
    assert load_version(engine=engine) == first + 1


def test_export_impact_writes_the_contract_columns(configured: str, tmp_path: Path) -> None:
    from data_access.impact import IMPACT_COLUMNS

    assert cli.main(["load", str(write(tmp_path / "in", dict(GOOD)))]) == 0
    target = tmp_path / "impact.csv"
    assert cli.main(["export", "impact", "--out", str(target)]) == 0
    lines = target.read_text().splitlines()
    assert lines[0] == ",".join([*IMPACT_COLUMNS, "suppressed"])
