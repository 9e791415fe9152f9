"""`python -m data_access`: load the contract files, export CSVs, make sample data, summarise.

Every failure the user can fix ends in one clear message on stderr and a non-zero exit
code, never a traceback: 1 for a refused load or an unusable database, 2 for wrong
arguments or settings.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, TextIO, cast

from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from data_access import db
from data_access.filters import OutcomeFilter
from data_access.loader import LoadError, data_through, load_directory
from data_access.models import CONTRACT_TABLES, PRIMARY_CONDITIONS, PROGRAM_GROUPS, LoadRun
from data_access.settings import Settings, SettingsError, get_settings

LOAD_HINT = "python -m data_access load sample_data"
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
    missing = f"The outcomes database {_shown(url)} has no data yet; load it first: {LOAD_HINT}"
    database = parsed.database
    # Check before connecting: connecting to SQLite would create an empty file.
    on_disk = parsed.get_backend_name() == "sqlite" and database and database != ":memory:"
    if on_disk and not Path(str(database)).exists():
        raise db.DatabaseNotReady(missing)
    engine = db.get_engine(url)
    if not db.has_schema(engine):
        raise db.DatabaseNotReady(missing)
    with engine.connect() as conn:
        if not conn.execute(select(func.count()).select_from(LoadRun)).scalar():
            raise db.DatabaseNotReady(missing)
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
    try:
        _, url = _loaded_engine(args.database_url)
    except db.DatabaseNotReady:
        print(f"The outcomes database is empty; loading {args.directory} first.")
        return _load(args)
    print(f"The outcomes database {_shown(url)} is loaded; starting.")
    return 0


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


def _export(args: argparse.Namespace) -> int:
    filters = build_filter(args)
    engine, _url = _loaded_engine(args.database_url)
    from data_access.exports import write_export

    dataset = cast(Literal["monthly", "prepost"], args.dataset)
    if args.out is None:
        rows = write_export(dataset=dataset, filters=filters, engine=engine, out=sys.stdout)
        sys.stdout.flush()
        print(f"{rows:,} rows of {dataset}", file=sys.stderr)
        return 0
    out = Path(args.out)
    # Write beside the target and rename, so a failed export never leaves half a file.
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent or Path())
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            rows = write_export(dataset=dataset, filters=filters, engine=engine, out=stream)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
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
    export.add_argument("dataset", choices=("monthly", "prepost"))
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
    export.add_argument("--setting", choices=("all", "behavioral", "medical"), default="all")
    export.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    _database_flag(export)
    export.set_defaults(handler=_export)

    sample = commands.add_parser("generate-sample", help="write a synthetic sample dataset")
    sample.add_argument("--out", metavar="DIR", help="output folder")
    sample.add_argument("--members", type=int, metavar="N", help="number of members")
    sample.add_argument("--seed", type=int, metavar="S", help="random seed")
    sample.set_defaults(handler=_generate_sample)

    summary = commands.add_parser("summary", help="rows per table, data-through date, last load")
    _database_flag(summary)
    summary.set_defaults(handler=_summary)
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
    except (db.DatabaseNotReady, db.QueryError) as exc:
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
