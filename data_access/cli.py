"""`python -m data_access`: load the contract files, export CSVs, make sample data, summarise.

Every failure the user can fix ends in one clear message on stderr and a non-zero exit
code, never a traceback: 1 for a refused load or an unusable database, 2 for wrong
arguments or settings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import importlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO, cast

from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from data_access import access, db
from data_access.access import Viewer
from data_access.errors import DatabaseNotReady, OutcomesError
from data_access.filters import OutcomeFilter
from data_access.loader import LoadError, data_through, load_directory
from data_access.models import CONTRACT_TABLES, LoadRun
from data_access.settings import Settings, SettingsError, get_settings
from data_access.vocabulary import (
    AUDIT_EVENTS,
    DATASETS,
    LOAD_COMMAND,
    PRIMARY_CONDITIONS,
    PROGRAM_GROUPS,
    SETTINGS,
    Dataset,
    SmallCells,
    utc_timestamp,
)

EXIT_REFUSED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Arguments that parse but make no sense; exit code 2."""


# ---------------------------------------------------------------------------------------
# Settings and the database


def _settings(database_url: str | None) -> Settings:
    """The settings, with --database-url taking the place of DATABASE_URL."""
    if not database_url:
        return get_settings()
    try:
        return Settings(database_url=database_url)
    except ValidationError as exc:
        problems = "; ".join(str(err["msg"]) for err in exc.errors())
        raise SettingsError(f"Invalid --database-url: {problems}") from exc


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _engine(database_url: str | None) -> tuple[Engine, str]:
    url = _settings(database_url).sqlalchemy_url
    return db.get_engine(url), url


def _loaded_engine(database_url: str | None) -> tuple[Engine, str]:
    """The engine of a database that has been loaded at least once."""
    url = _settings(database_url).sqlalchemy_url
    parsed = make_url(url)
    missing = f"The outcomes database {_shown(url)} has no data yet; load it first: {LOAD_COMMAND}"
    database = parsed.database
    # Check before connecting: connecting to SQLite would create an empty file.
    on_disk = parsed.get_backend_name() == "sqlite" and database and database != ":memory:"
    if on_disk and not Path(str(database)).exists():
        raise DatabaseNotReady(missing)
    engine = db.get_engine(url)
    if not db.has_schema(engine):
        raise DatabaseNotReady(missing)
    with engine.connect() as conn:
        if not conn.execute(select(func.count()).select_from(LoadRun)).scalar():
            raise DatabaseNotReady(missing)
    problem = db.schema_problem(engine)
    if problem is not None:
        raise DatabaseNotReady(problem)
    return engine, url


# ---------------------------------------------------------------------------------------
# load


class ProgressLine:
    """A plain-text progress display on stderr: one line per table, rewritten in place on a
    terminal, one line per chunk otherwise (for logs)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.current: str | None = None
        self.last: tuple[str, int] | None = None

    def __call__(self, table: str, done: int, total: int) -> None:
        if (table, done) == self.last:
            return
        self.last = (table, done)
        if table == "summaries":
            text = "summaries: rebuilding" if done == 0 else "summaries: rebuilt"
        else:
            percent = f" ({done * 100 // total}%)" if total else ""
            text = f"{table}: {done:,} of {total:,} rows{percent}"
        if self.live:
            if self.current is not None and table != self.current:
                self.stream.write("\n")
            self.stream.write(f"\r{text:<60}")
        else:
            self.stream.write(text + "\n")
        self.current = table
        self.stream.flush()

    def close(self) -> None:
        if self.live and self.current is not None:
            self.stream.write("\n")
            self.stream.flush()
        self.current = None


def _load(args: argparse.Namespace) -> int:
    engine, url = _engine(args.database_url)
    display = ProgressLine(sys.stderr)
    try:
        report = load_directory(Path(args.directory), engine=engine, progress=display)
    except LoadError as exc:
        display.close()
        print(exc.report(), file=sys.stderr)
        return EXIT_REFUSED
    display.close()
    print(f"Loaded {args.directory} into {_shown(url)} in {report.seconds:.1f} s:")
    width = max((len(name) for name in report.rows), default=0)
    for name, rows in report.rows.items():
        print(f"  {name:<{width}}  {rows:>12,} rows")
    print(f"Data through: {report.data_through or 'no admissions or claims yet'}")
    return 0


def _ensure_loaded(args: argparse.Namespace) -> int:
    """Load DIR only when the database has never been loaded (the README's run command)."""
    engine, url = _engine(args.database_url)
    if db.has_schema(engine) and db.schema_problem(engine) is not None:
        # Loaded under older definitions: its summaries are rebuilt from its own rows.
        print(db.migrate(engine))
    try:
        _loaded_engine(args.database_url)
    except DatabaseNotReady:
        print(f"The outcomes database is empty; loading {args.directory} first.")
        return _load(args)
    print(f"The outcomes database {_shown(url)} is loaded; starting.")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    engine, _url = _engine(args.database_url)
    print(db.migrate(engine))
    return EXIT_REFUSED if db.schema_problem(engine) is not None else 0


# ---------------------------------------------------------------------------------------
# export


def _values(raw: Sequence[str] | None) -> list[str] | None:
    """Repeated flags and comma lists alike: --state TX --state NY == --state TX,NY."""
    if raw is None:
        return None
    return [part.strip() for item in raw for part in item.split(",") if part.strip()]


def _choices(raw: Sequence[str] | None, allowed: Sequence[str], what: str) -> list[str] | None:
    values = _values(raw)
    if values is None:
        return None
    unknown = [v for v in values if v not in allowed]
    if unknown:
        shown = ", ".join(repr(v) for v in unknown)
        raise UsageError(f"unknown {what} {shown}; choose from {', '.join(allowed)}")
    return values


def build_filter(args: argparse.Namespace) -> OutcomeFilter:
    """The OutcomeFilter of the export flags; UsageError says what is wrong."""
    states = _values(args.state)
    fields: dict[str, object] = {
        "states": None if states is None else [s.upper() for s in states],
        "program_ids": _values(args.program),
        "conditions": _choices(args.condition, PRIMARY_CONDITIONS, "primary condition"),
        "month_from": args.month_from,
        "month_to": args.month_to,
        "setting": args.setting,
    }
    models = _choices(args.model, PROGRAM_GROUPS, "program model")
    if models is not None:
        fields["program_models"] = models
    try:
        return OutcomeFilter.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(str(err["msg"]).removeprefix("Value error, ") for err in exc.errors())
        raise UsageError(f"bad filter: {problems}") from exc


def _export_viewer(args: argparse.Namespace, engine: Engine) -> Viewer:
    """Whom the export is for: `--as` a granted viewer, or else the operator as leadership
    (whoever runs the command line already holds the database's credentials)."""
    if args.as_viewer:
        viewer = access.viewer_for(args.as_viewer, engine=engine)
        if viewer is None:
            raise UsageError(f"--as {args.as_viewer}: no such viewer has a grant")
    else:
        viewer = Viewer(email=f"cli:{getpass.getuser()}", role="leadership")
    if args.unsuppressed:
        if not viewer.may_unsuppress:
            raise UsageError(f"--unsuppressed: {viewer.email} is a state partner; not allowed")
        if not (args.purpose or "").strip():
            raise UsageError("--unsuppressed needs --purpose: why small cells must be shown")
    return viewer


def _export(args: argparse.Namespace) -> int:
    filters = build_filter(args)
    engine, _url = _loaded_engine(args.database_url)
    from data_access.exports import write_export

    viewer = _export_viewer(args, engine)
    small_cells: SmallCells = "show" if args.unsuppressed else "suppress"
    dataset = cast(Dataset, args.dataset)
    suppressed = access.must_suppress(viewer, small_cells)

    def audit(rows: int) -> None:
        purpose = f"; purpose: {args.purpose.strip()}" if args.unsuppressed else ""
        access.record_download(
            viewer=viewer,
            dataset=dataset,
            filters=filters,
            rows=rows,
            suppressed=suppressed,
            detail=f"command line{purpose}",
            engine=engine,
        )

    def write(stream: TextIO) -> int:
        return write_export(
            dataset=dataset,
            filters=filters,
            viewer=viewer,
            small_cells=small_cells,
            engine=engine,
            out=stream,
        )

    if args.out is None:
        rows = write(sys.stdout)
        sys.stdout.flush()
        audit(rows)
        print(f"{rows:,} rows of {dataset}", file=sys.stderr)
        return 0
    out = Path(args.out)
    rows = _write_atomically(out, write)
    audit(rows)
    print(f"Wrote {rows:,} rows of {dataset} to {out}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------
# generate-sample and summary


def _generate_sample(args: argparse.Namespace) -> int:
    # Imported by name: sample_data is a development tool beside the package, not part of it.
    generate = importlib.import_module("sample_data.generate").main
    forwarded: list[str] = []
    for flag, value in (("--out", args.out), ("--members", args.members), ("--seed", args.seed)):
        if value is not None:
            forwarded += [flag, str(value)]
    return int(generate(forwarded))


def _summary(args: argparse.Namespace) -> int:
    engine, url = _loaded_engine(args.database_url)
    with engine.connect() as conn:
        counts = {
            model.__tablename__: conn.execute(select(func.count()).select_from(model)).scalar()
            for model in CONTRACT_TABLES
        }
        through = data_through(conn)
        runs = conn.execute(select(func.count()).select_from(LoadRun)).scalar()
        last = conn.execute(select(LoadRun).order_by(LoadRun.load_id.desc()).limit(1)).one()
    print(f"Outcomes database {_shown(url)}")
    width = max(len(name) for name in counts)
    for name, rows in counts.items():
        print(f"  {name:<{width}}  {rows or 0:>12,} rows")
    print(f"Data through: {through or 'no admissions or claims yet'}")
    loaded_at = last.loaded_at.strftime("%Y-%m-%d %H:%M:%S")
    loads = "1 load" if runs == 1 else f"{runs:,} loads"
    print(f"Last load: {loaded_at} UTC from {last.source} ({loads} in all)")
    return 0


# ---------------------------------------------------------------------------------------
# access: who may see what, and the audit log
#
# For operators who already hold the database's credentials (they could change the tables
# directly anyway); the command line asks for no sign-in. Grants may come before the first
# load: a state code is checked against the states table only once it has rows.

ACCESS_PROG = "python -m data_access access"
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _operator() -> str:
    """Who runs the command, as the grants and the audit log name them: cli:<OS user>."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError) as exc:  # no user name in the environment or passwd
        raise UsageError("cannot tell which user runs this; say who with --by WHO") from exc


def _actor(by: str | None) -> str:
    if by is None:
        return _operator()
    if not by.strip():
        raise UsageError("--by needs a name")
    return by.strip()


def _access_engine(database_url: str | None, *, create: bool) -> Engine:
    """The engine, with the access tables in place.

    Only a grant may create a missing SQLite file: listing, revoking or reading the audit log
    of a database that does not exist is a wrong URL, not a fresh start.
    """
    url = _settings(database_url).sqlalchemy_url
    parsed = make_url(url)
    database = parsed.database
    on_disk = parsed.get_backend_name() == "sqlite" and database and database != ":memory:"
    if not create and on_disk and not Path(str(database)).exists():
        raise DatabaseNotReady(
            f"The outcomes database {_shown(url)} does not exist; "
            "check --database-url or DATABASE_URL."
        )
    engine, _url = _engine(database_url)
    access.ensure_access_tables(engine)
    return engine


def _email(raw: str) -> str:
    try:
        return access.normalise_email(raw)
    except access.AccessError as exc:
        raise UsageError(str(exc)) from exc


def _state_codes(raw: Sequence[str] | None) -> tuple[str, ...]:
    try:
        return access.state_list(_values(raw) or [])
    except access.AccessError as exc:
        raise UsageError(str(exc)) from exc


def _day(raw: str | None, flag: str) -> dt.date | None:
    if raw is None:
        return None
    try:
        if DAY.fullmatch(raw):
            return dt.date.fromisoformat(raw)
    except ValueError:
        pass
    raise UsageError(f"{flag} takes a day written YYYY-MM-DD; got {raw!r}")


def _utc_text(moment: object) -> str:
    """A stored time in UTC; SQLite keeps no time zone, so a naive time is UTC already."""
    return utc_timestamp(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def _access_messages(
    handler: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """One line on stderr naming the action: exit 2 for wrong arguments, 1 for what the
    database refuses (an unknown state, a grant that is not there)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except UsageError as exc:
            print(f"{ACCESS_PROG} {args.access_command}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except access.AccessError as exc:
            print(f"{ACCESS_PROG} {args.access_command}: {exc}", file=sys.stderr)
            return EXIT_REFUSED

    return run


@_access_messages
def _access_grant(args: argparse.Namespace) -> int:
    # Everything that needs no database is checked first, as a usage error (exit 2).
    email = _email(args.email)
    try:
        role, states = access.grant_request(args.role, _values(args.state) or [])
    except access.AccessError as exc:
        raise UsageError(str(exc)) from exc
    by = _actor(args.by)
    engine = _access_engine(args.database_url, create=True)
    viewer = access.grant(email=email, role=role, states=states, granted_by=by, engine=engine)
    print(f"Granted: {viewer.describe()}")
    return 0


@_access_messages
def _access_revoke(args: argparse.Namespace) -> int:
    email = _email(args.email)
    states = _state_codes(args.state)
    by = _actor(args.by)
    engine = _access_engine(args.database_url, create=False)
    viewer = access.revoke(email=email, states=states, revoked_by=by, engine=engine)
    taken = ", ".join(sorted(set(states))) if states else "all access"
    left = viewer.describe() if viewer is not None else "no access"
    print(f"Revoked {taken} from {email}. Left: {left}")
    return 0


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, *rows]
    return "\n".join(
        "  ".join(f"{cell:<{width}}" for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


@_access_messages
def _access_list(args: argparse.Namespace) -> int:
    engine = _access_engine(args.database_url, create=False)
    grants = access.list_grants(engine=engine)
    if grants.empty:
        print("No grants yet.")
        return 0
    rows = [
        (email, role, states or "all", _utc_text(granted_at), granted_by)
        for email, role, states, granted_at, granted_by in grants.itertuples(index=False, name=None)
    ]
    print(_table(("email", "role", "states", "granted_at", "granted_by"), rows))
    return 0


def _write_atomically(out: Path, write: Callable[[TextIO], int]) -> int:
    # Write beside the target and rename, so a failure never leaves half a file.
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent or Path())
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            rows = write(stream)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return rows


@_access_messages
def _access_audit(args: argparse.Namespace) -> int:
    since = _day(args.since, "--since")
    until = _day(args.until, "--until")
    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}")
    events = _choices(args.event, AUDIT_EVENTS, "audit event")
    email = args.email.strip() if args.email and args.email.strip() else None
    operator = _operator()
    limit = _settings(args.database_url).query_row_limit
    engine = _access_engine(args.database_url, create=False)
    # The operator reads as an admin: holding the database credentials is the authority.
    frame = access.audit_log(
        viewer=access.Viewer(email=operator, role="admin"),
        since=since,
        until=until,
        email=email,
        events=events,
        limit=limit,
        engine=engine,
    )
    from data_access.exports import write_csv

    if args.out is None:
        rows = write_csv(frame, sys.stdout)
        sys.stdout.flush()
        where = ""
    else:
        rows = _write_atomically(Path(args.out), lambda stream: write_csv(frame, stream))
        where = f" to {args.out}"
    # Reading the audit log is itself recorded, as the audit page's download is.
    access.record_event(
        email=operator,
        role="admin",
        event="download",
        dataset="audit_log",
        rows=rows,
        detail=access.audit_query_words("command line", since, until, email, events),
        engine=engine,
    )
    print(f"Wrote {rows:,} audit rows{where}", file=sys.stderr)
    if rows == limit:
        print(
            f"Only the newest {limit:,} rows (QUERY_ROW_LIMIT); narrow with --since/--until.",
            file=sys.stderr,
        )
    return 0


def _access_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parent = commands.add_parser(
        "access", help="grant, revoke and list viewers' access; write the audit log"
    )
    actions = parent.add_subparsers(dest="access_command", metavar="ACTION")

    def usage(_args: argparse.Namespace) -> int:
        parent.print_help(sys.stderr)
        return EXIT_USAGE

    parent.set_defaults(handler=usage)
    by_help = "who does it, as the audit log names them (default: cli:<your user name>)"
    state_help = "a state partner's state code; repeat or comma-separate"

    grant = actions.add_parser("grant", help="give an e-mail address a role (and states)")
    grant.add_argument("email", metavar="EMAIL")
    grant.add_argument(
        "--role",
        required=True,
        metavar="ROLE",
        help="leadership (every state), state_partner (only the --state states) or admin "
        "(every state and the audit log page)",
    )
    grant.add_argument("--state", action="append", metavar="XX", help=state_help)
    grant.add_argument("--by", metavar="WHO", help=by_help)
    _database_flag(grant)
    grant.set_defaults(handler=_access_grant)

    revoke = actions.add_parser(
        "revoke", help="take states from a state partner, or without --state all access"
    )
    revoke.add_argument("email", metavar="EMAIL")
    revoke.add_argument("--state", action="append", metavar="XX", help=state_help)
    revoke.add_argument("--by", metavar="WHO", help=by_help)
    _database_flag(revoke)
    revoke.set_defaults(handler=_access_revoke)

    listing = actions.add_parser("list", help="every grant: e-mail, role, states, when, by whom")
    _database_flag(listing)
    listing.set_defaults(handler=_access_list)

    audit = actions.add_parser("audit", help="write the audit log as CSV, newest first")
    audit.add_argument("--since", metavar="YYYY-MM-DD", help="first day (UTC)")
    audit.add_argument("--until", metavar="YYYY-MM-DD", help="last day (UTC)")
    audit.add_argument("--email", metavar="PART", help="e-mail address contains PART")
    audit.add_argument(
        "--event",
        action="append",
        metavar="E",
        help=f"event: {', '.join(AUDIT_EVENTS)}; repeat or comma-separate",
    )
    audit.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    _database_flag(audit)
    audit.set_defaults(handler=_access_audit)


# ---------------------------------------------------------------------------------------
# Arguments


def _database_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL of the outcomes database (default: DATABASE_URL, "
        "else data/outcomes.sqlite)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_access", description="The peer support outcomes database."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    load = commands.add_parser("load", help="load a folder of contract CSV files (all or nothing)")
    load.add_argument("directory", metavar="DIR", help="folder of states.csv ... services.csv")
    _database_flag(load)
    load.set_defaults(handler=_load)

    ensure = commands.add_parser(
        "ensure-loaded", help="load DIR only if the database has never been loaded"
    )
    ensure.add_argument("directory", metavar="DIR", help="folder of states.csv ... services.csv")
    _database_flag(ensure)
    ensure.set_defaults(handler=_ensure_loaded)

    export = commands.add_parser("export", help="write the monthly or prepost CSV export")
    export.add_argument("dataset", choices=DATASETS)
    export.add_argument(
        "--state", action="append", metavar="XX", help="state code; repeat or comma-separate"
    )
    export.add_argument(
        "--model",
        action="append",
        metavar="M",
        help=f"program model: {', '.join(PROGRAM_GROUPS)}; repeat or comma-separate",
    )
    export.add_argument(
        "--program", action="append", metavar="ID", help="program id; repeat or comma-separate"
    )
    export.add_argument(
        "--condition",
        action="append",
        metavar="C",
        help=f"primary condition: {', '.join(PRIMARY_CONDITIONS)}; repeat or comma-separate",
    )
    export.add_argument("--from", dest="month_from", metavar="YYYY-MM", help="first month")
    export.add_argument("--to", dest="month_to", metavar="YYYY-MM", help="last month")
    export.add_argument("--setting", choices=SETTINGS, default="all")
    export.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    export.add_argument(
        "--as",
        dest="as_viewer",
        metavar="EMAIL",
        help="export for this granted viewer: a state partner gets only the granted states, "
        "and may ask for everything or one value per filter and whole calendar years",
    )
    export.add_argument(
        "--unsuppressed",
        action="store_true",
        help="show small cells (leadership and admin only; needs --purpose; audited)",
    )
    export.add_argument("--purpose", metavar="TEXT", help="why unsuppressed data is needed")
    _database_flag(export)
    export.set_defaults(handler=_export)

    sample = commands.add_parser("generate-sample", help="write a synthetic sample dataset")
    sample.add_argument("--out", metavar="DIR", help="output folder")
    sample.add_argument("--members", type=int, metavar="N", help="number of members")
    sample.add_argument("--seed", type=int, metavar="S", help="random seed")
    sample.set_defaults(handler=_generate_sample)

    migrate = commands.add_parser(
        "migrate",
        help="bring a database built by an earlier version to this one (rebuilds its summaries)",
    )
    _database_flag(migrate)
    migrate.set_defaults(handler=_migrate)

    summary = commands.add_parser("summary", help="rows per table, data-through date, last load")
    _database_flag(summary)
    summary.set_defaults(handler=_summary)

    _access_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except UsageError as exc:
        print(f"{parser.prog} {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except OutcomesError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    except DBAPIError as exc:
        print(f"The outcomes database failed: {exc.orig}", file=sys.stderr)
        return EXIT_REFUSED
    except SQLAlchemyError as exc:
        print(f"The outcomes database failed: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except BrokenPipeError:
        # The reader of standard output went away (e.g. `| head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("Interrupted; a load in progress was rolled back.", file=sys.stderr)
        return 130
