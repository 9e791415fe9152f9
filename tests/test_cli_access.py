"""`python -m data_access access grant|revoke|list|audit` end to end, on both engines."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from sqlalchemy import insert

from data_access import access, cli, db
from data_access.filters import OutcomeFilter
from data_access.models import State
from tests.test_access import Clock
from tests.test_loader import GOOD, write

PROG = "python -m data_access access"
HEADER = "occurred_at,email,role,event,dataset,filters,rows,suppressed,detail"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """access's clock fixed from 2026-03-01 09:00 UTC, a minute per reading; the operator is
    the OS user "ops"."""
    clock = Clock()
    monkeypatch.setattr(access, "utc_now", clock)
    monkeypatch.setattr(getpass, "getuser", lambda: "ops")
    return clock


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["access", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_grant_list_revoke_and_audit(
    configured: str, clock: Clock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # DATABASE_URL points at an empty database: grants come before any load.
    assert run(
        capsys,
        "grant",
        "Partner@Example.org",
        "--role",
        "state_partner",
        "--state",
        "tx",
        "--state",
        "NM",
    ) == (
        0,
        "Granted: partner@example.org, state partner for NM, TX\n",
        "",
    )  # granted at 09:00, audited 09:01
    assert run(
        capsys, "grant", "lead@example.org", "--role", "leadership", "--by", "jane@example.org"
    ) == (
        0,
        "Granted: lead@example.org, leadership\n",
        "",
    )  # 09:02, 09:03
    assert run(capsys, "grant", "boss@example.org", "--role", "admin") == (
        0,
        "Granted: boss@example.org, admin\n",
        "",
    )  # 09:04, 09:05
    assert run(capsys, "list") == (
        0,
        "email                role           states  granted_at               granted_by\n"
        "boss@example.org     admin          all     2026-03-01 09:04:00 UTC  cli:ops\n"
        "lead@example.org     leadership     all     2026-03-01 09:02:00 UTC  jane@example.org\n"
        "partner@example.org  state_partner  NM, TX  2026-03-01 09:00:00 UTC  cli:ops\n",
        "",
    )
    assert run(capsys, "revoke", "partner@example.org", "--state", "nm") == (
        0,
        "Revoked NM from partner@example.org. Left: partner@example.org, state partner for TX\n",
        "",
    )  # 09:06
    assert run(capsys, "revoke", "lead@example.org", "--by", "boss@example.org") == (
        0,
        "Revoked all access from lead@example.org. Left: no access\n",
        "",
    )  # 09:07
    assert run(capsys, "list")[1].splitlines()[1:] == [
        "boss@example.org     admin          all     2026-03-01 09:04:00 UTC  cli:ops",
        "partner@example.org  state_partner  TX      2026-03-01 09:00:00 UTC  cli:ops",
    ]

    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "audit.csv"
    assert run(capsys, "audit", "--out", str(target)) == (
        0,
        "",
        f"Wrote 5 audit rows to {target}\n",
    )  # the reading itself is audited at 09:08
    assert target.read_text().splitlines() == [
        HEADER,
        "2026-03-01T09:07:00Z,boss@example.org,,revoke,,,,,lead@example.org: all access",
        "2026-03-01T09:06:00Z,cli:ops,,revoke,,,,,partner@example.org: NM",
        "2026-03-01T09:05:00Z,cli:ops,,grant,,,,,boss@example.org: admin",
        "2026-03-01T09:03:00Z,jane@example.org,,grant,,,,,lead@example.org: leadership",
        '2026-03-01T09:01:00Z,cli:ops,,grant,,,,,"partner@example.org: state_partner NM, TX"',
    ]
    assert [p.name for p in target.parent.iterdir()] == ["audit.csv"]  # no temporary file

    # Standard output, narrowed; the earlier reading is there as a download of the audit log.
    code, out, err = run(capsys, "audit", "--event", "download,revoke", "--email", "OPS")
    assert (code, err) == (0, "Wrote 2 audit rows\n")
    assert out.splitlines() == [
        HEADER,
        "2026-03-01T09:08:00Z,cli:ops,admin,download,audit_log,,5,,command line: the whole log",
        "2026-03-01T09:06:00Z,cli:ops,,revoke,,,,,partner@example.org: NM",
    ]


def test_audit_csv_writes_filters_counts_flags_and_days(
    database_url: str, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = db.get_engine(database_url)
    filters = OutcomeFilter(states=("TX",), month_from="2020-01", month_to="2020-06")
    clock.at(clock.next.replace(day=2, hour=23, minute=59))
    access.record_event(
        email="partner@example.org",
        role="state_partner",
        event="download",
        dataset="monthly",
        filters=filters,
        rows=12,
        suppressed=True,
        engine=engine,
    )  # 03-02 23:59
    access.record_event(
        email="lead@example.org",
        role="leadership",
        event="download",
        dataset="prepost",
        rows=0,
        suppressed=False,
        detail="small cells shown; purpose: board report",
        engine=engine,
    )  # 03-03 00:00
    access.record_event(email="x@example.org", event="access_refused", engine=engine)  # 00:01
    code, out, err = run(
        capsys,
        "audit",
        "--since",
        "2026-03-02",
        "--until",
        "2026-03-02",
        "--event",
        "download",
        "--database-url",
        database_url,
    )
    assert (code, err) == (0, "Wrote 1 audit rows\n")
    quoted = filters.model_dump_json().replace('"', '""')
    assert quoted.startswith('{""states"":[""TX""],')
    assert out.splitlines() == [
        HEADER,
        # The filters' JSON in one quoted cell, its quotes doubled.
        "2026-03-02T23:59:00Z,partner@example.org,state_partner,download,monthly,"
        f'"{quoted}",12,true,',
    ]
    code, out, _err = run(
        capsys, "audit", "--since", "2026-03-03", "--email", "lead", "--database-url", database_url
    )
    assert (code, out.splitlines()) == (
        0,
        [
            HEADER,
            "2026-03-03T00:00:00Z,lead@example.org,leadership,download,prepost,,0,false,"
            "small cells shown; purpose: board report",
        ],
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["grant", "not-an-address", "--role", "leadership"],
            2,
            "grant: 'not-an-address' is not an e-mail address",
        ),
        (
            ["grant", "x@example.org", "--role", "boss"],
            2,
            "grant: unknown role 'boss'; choose from leadership, state_partner, admin",
        ),
        (
            ["grant", "x@example.org", "--role", "state_partner"],
            2,
            "grant: a state partner needs at least one --state",
        ),
        (
            ["grant", "x@example.org", "--role", "leadership", "--state", "TX"],
            2,
            "grant: leadership sees every state; leave out --state",
        ),
        (
            ["grant", "x@example.org", "--role", "state_partner", "--state", "TX,Texas"],
            2,
            "grant: state codes are two letters; got TEXAS",
        ),
        (["grant", "x@example.org", "--role", "admin", "--by", " "], 2, "grant: --by needs a name"),
        (
            ["grant", "x@example.org", "--role", "state_partner", "--state", "TX,ZZ"],
            1,
            "grant: no state ZZ in the outcomes database (it has NM, TX)",
        ),
        (["revoke", "nobody@example.org"], 1, "revoke: nobody@example.org has no grant"),
        (
            ["revoke", "partner@example.org", "--state", "NM"],
            1,
            "revoke: partner@example.org holds no grant for NM",
        ),
        (
            ["revoke", "lead@example.org", "--state", "TX"],
            1,
            "revoke: lead@example.org is leadership, which has no state list; "
            "revoke without --state",
        ),
        (["revoke", "partner@example"], 2, "revoke: 'partner@example' is not an e-mail address"),
        (
            ["audit", "--since", "2026-02-30"],
            2,
            "audit: --since takes a day written YYYY-MM-DD; got '2026-02-30'",
        ),
        (
            ["audit", "--until", "3/1/2026"],
            2,
            "audit: --until takes a day written YYYY-MM-DD; got '3/1/2026'",
        ),
        (
            ["audit", "--since", "2026-03-02", "--until", "2026-03-01"],
            2,
            "audit: --since 2026-03-02 is after --until 2026-03-01",
        ),
        (
            ["audit", "--event", "download,hack"],
            2,
            "audit: unknown audit event 'hack'; choose from sign_in, access_refused, "
            "states_dropped, download, grant, revoke",
        ),
    ],
)
def test_wrong_or_refused_commands_exit_with_one_line_and_change_nothing(
    database_url: str,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    engine = db.get_engine(database_url)
    db.create_schema(engine)
    with engine.begin() as conn:
        conn.execute(insert(State), [{"state_code": c, "state_name": c} for c in ("TX", "NM")])
    access.grant(
        email="partner@example.org",
        role="state_partner",
        states=["TX"],
        granted_by="a",
        engine=engine,
    )
    access.grant(email="lead@example.org", role="leadership", granted_by="a", engine=engine)
    grants = access.list_grants(engine=engine)
    admin = access.Viewer(email="admin@example.org", role="admin")
    events = len(access.audit_log(viewer=admin, engine=engine))

    assert run(capsys, *args, "--database-url", database_url) == (code, "", f"{PROG} {message}\n")
    assert access.list_grants(engine=engine).equals(grants)
    assert len(access.audit_log(viewer=admin, engine=engine)) == events


def test_a_missing_sqlite_file_is_created_only_by_a_grant(
    tmp_path: Path, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new" / "outcomes.sqlite"
    url = f"sqlite:///{path}"
    missing = f"The outcomes database {url} does not exist; check --database-url or DATABASE_URL.\n"
    for args in (["list"], ["revoke", "a@example.org"], ["audit"]):
        assert run(capsys, *args, "--database-url", url) == (1, "", missing)
    assert not path.exists()  # nothing created by looking

    granted = run(capsys, "grant", "a@example.org", "--role", "admin", "--database-url", url)
    assert granted == (0, "Granted: a@example.org, admin\n", "")
    assert run(capsys, "list", "--database-url", url)[1].splitlines()[1:] == [
        "a@example.org  admin  all     2026-03-01 09:00:00 UTC  cli:ops"
    ]
    # The grant made the tables, not the data: the outcomes still ask for a load.
    assert cli.main(["summary", "--database-url", url]) == 1
    assert "load it first: python -m data_access load sample_data" in capsys.readouterr().err


def test_an_empty_database_has_no_grants(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "list", "--database-url", postgres_url) == (0, "No grants yet.\n", "")


def test_without_a_user_name_the_grant_asks_for_by(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_user() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", no_user)
    args = ["grant", "a@example.org", "--role", "admin", "--database-url", sqlite_url]
    assert run(capsys, *args) == (
        2,
        "",
        f"{PROG} grant: cannot tell which user runs this; say who with --by WHO\n",
    )
    assert run(capsys, *args, "--by", "jane@example.org") == (
        0,
        "Granted: a@example.org, admin\n",
        "",
    )


def test_an_unreachable_database_is_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "list", "--database-url", "postgresql://postgres@127.0.0.1:1/x")
    assert (code, out) == (1, "")
    assert err.startswith("The outcomes database failed:")
    assert "Traceback" not in err


def test_usage_without_an_action_or_a_role(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"usage: {PROG} [-h] ACTION ...")
    assert all(action in err for action in ("grant", "revoke", "list", "audit"))
    with pytest.raises(SystemExit) as info:
        cli.main(["access", "grant", "a@example.org"])
    assert info.value.code == 2
    assert "the following arguments are required: --role" in capsys.readouterr().err


# -- a state partner's export: everything or one value per filter, whole years ---------------

REFUSAL = (
    "This combination of filters is not available to state partners: choose {}. Two views "
    "that differ by part of a filter could be subtracted to reveal a count that small-cell "
    "suppression hides (see About the data).\n"
)


@pytest.mark.parametrize(
    ("flags", "choices"),
    [
        (
            ["--condition", "mental_health,substance_use"],
            "one primary condition or all of them",
        ),
        (["--model", "embedded", "--model", "whole_health"], "one program model or all of them"),
        (["--from", "2019-03", "--to", "2020-12"], "whole calendar years (January to December)"),
        (
            ["--condition", "mental_health,co_occurring", "--to", "2020-06"],
            "one primary condition or all of them; whole calendar years (January to December)",
        ),
    ],
    ids=["two-conditions", "two-models", "months", "both"],
)
def test_a_partner_export_outside_the_partner_choices_exits_1_with_the_reason(
    configured: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    choices: str,
) -> None:
    assert cli.main(["load", str(write(tmp_path / "in", dict(GOOD)))]) == 0
    access.grant(email="tx@example.org", role="state_partner", states=["TX"], granted_by="test")
    capsys.readouterr()
    export = ["export", "monthly", "--as", "tx@example.org", *flags]
    target = tmp_path / "monthly.csv"

    assert cli.main([*export, "--out", str(target)]) == 1
    assert capsys.readouterr() == ("", REFUSAL.format(choices))
    assert not target.exists()
    assert cli.main(export) == 1  # to standard output: not a line of it written
    assert capsys.readouterr() == ("", REFUSAL.format(choices))
    admin = access.Viewer(email="admin@example.org", role="admin")
    assert access.audit_log(viewer=admin, events=["download"]).empty

    # Leadership may ask for the same; the partner for everything or one value, whole years.
    assert cli.main(["export", "monthly", *flags, "--out", str(target)]) == 0
    allowed = ["--condition", "mental_health", "--model", "whole_health"]
    years = ["--from", "2019-01", "--to", "2020-12"]
    assert cli.main(["export", "monthly", "--as", "tx@example.org", *allowed, *years]) == 0
    rows = access.audit_log(viewer=admin, events=["download"])
    assert list(rows["email"]) == ["tx@example.org", f"cli:{getpass.getuser()}"]
