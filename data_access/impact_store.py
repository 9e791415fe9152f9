"""The outputs of the common filters (the matched comparison's, the enrolled members, the
Overview's and the State profile's sums), computed at load and stored.

The dashboard opens on every state, program model, program and condition over its opening months
(queries.default_window) in the `all` setting, and the filters most often chosen from there are
one state or one program model, or both. For each of those scopes over the opening months, and
for each state over every month (a state partner's evaluation, whatever the filters),
`store_frames` computes the impact rows, the event study and the balance inside the load's
transaction, from the tables just built (and the replicates just stored), the distinct
comparison members that impact and the event study share counted once, and stores each before
suppression as JSON (impact_frames), so that the first request of each is one indexed read; the
viewer's suppression is applied when it is read. The count of enrolled members of each scope
(queries.count_members) is stored the same way, over the opening months and the months of equal
length before them: the Overview's tiles and their change; for each state also over a state
partner's opening years (whole calendar years) and the years before them. So are the monthly
sums the Overview and the State profile open on (STORED_SUMS: the Overview's tiles, map by state
and trend by program model, with the members not enrolled; the profile's enrolled members
pooled, by state and by quarter, and a state's members not enrolled), as the database answers
them before any figure is worked out from them. And, per state, what two or more whole states
add up to: the event study's integer sums (event_study.state_month_sums), the distinct
comparison members (impact.state_comparison_members) and the monthly sums by month and program
model (`composed_sums`). JSON keeps every float's bits (repr round-trips) and the frame is built
from the same records by the same code, so the stored and computed outputs are the same frames.
Other filters, rows of other code (impact.CODE_DIGEST) and other months are not read: the query
computes instead.
"""

from __future__ import annotations

import json
from decimal import Decimal
from itertools import product
from typing import Any, Final, NamedTuple

import pandas as pd
from sqlalchemy import Connection, Engine, select

from data_access import db
from data_access.event_study import balance_payload, event_study_payload, state_month_sums
from data_access.filters import OutcomeFilter
from data_access.impact import (
    CODE_DIGEST,
    COMPARED_MEMBERS_OUTPUT,
    MEMBERS_SETTING,
    MONTH_SUMS_OUTPUT,
    _comparison_members,
    impact_payload,
    is_state_scope,
    loaded_months,
    read_stored,
    read_stored_states,
    scope_name,
    state_comparison_members,
    stored_months,
    stored_scope,
)
from data_access.measures import MEMBERS_LOWER_BOUND
from data_access.models import Program, impact_frames
from data_access.queries import (
    LAST_MONTH,
    count_members,
    default_window,
    partner_years,
    previous_months,
    summed_months,
    whole_years,
)
from data_access.vocabulary import (
    ENROLLED,
    NOT_ENROLLED,
    PROGRAM_MODELS,
    Dimension,
    Period,
    Population,
    period_label,
)

# The settings stored: the dashboard's opening one (the others are a click away and computed).
STORED_SETTINGS = ("all",)

Scopes = list[tuple[str | None, str | None]]


def stored_scopes(conn: Connection) -> Scopes:
    """The (state, program model) scopes stored, None standing for every one: all of them,
    each state, each program model and each state's model, as the programs have them."""
    pairs = conn.execute(
        select(Program.state_code, Program.program_model)
        .where(Program.program_model.in_(PROGRAM_MODELS))
        .distinct()
        .order_by(Program.state_code, Program.program_model)
    ).all()
    states = sorted({str(state) for state, _ in pairs})
    models = sorted({str(model) for _, model in pairs})
    return [
        (None, None),
        *[(state, None) for state in states],
        *[(None, model) for model in models],
        *[(str(state), str(model)) for state, model in pairs],
    ]


def _states(scopes: Scopes) -> list[str]:
    """The state of each state's scope (every program model)."""
    return [str(state) for state, model in scopes if is_state_scope(state, model)]


def evaluated_scopes(
    scopes: Scopes, window: tuple[str, str]
) -> list[tuple[str | None, str | None, tuple[str, str] | None]]:
    """The (state, program model, months) whose evaluation is stored: every stored scope over
    the opening months, and each state over every month (None), which is a state partner's
    evaluation whatever the filters (access.impact_scope)."""
    return [
        *((state, model, window) for state, model in scopes),
        *((state, None, None) for state in _states(scopes)),
    ]


def store_frames(conn: Connection) -> None:
    """Compute and store the impact, event study and balance payloads of every evaluated
    scope (`evaluated_scopes`), in the caller's transaction (after impact.store_replicates,
    whose replicates they read)."""
    conn.execute(impact_frames.delete())
    loaded = loaded_months(conn)
    if loaded is None:
        return
    window = default_window(*loaded)
    records: list[dict[str, object]] = []
    scopes = stored_scopes(conn)
    for setting in STORED_SETTINGS:
        for state, model, months in evaluated_scopes(scopes, window):
            filters = OutcomeFilter(
                setting=setting,
                month_from=None if months is None else months[0],
                month_to=None if months is None else months[1],
                states=None if state is None else (state,),
            )
            models = list(PROGRAM_MODELS) if model is None else [model]
            scope = scope_name(state, model)
            # The comparison members of impact and the event study are the same counts.
            members = _comparison_members(filters, models, conn)
            payloads: dict[str, Any] = {
                "impact": impact_payload(filters, models, conn, comparison_members=members),
                "event_study": event_study_payload(
                    filters, models, conn, comparison_members=members
                ),
                "balance": balance_payload(filters, models, conn),
            }
            if is_state_scope(state, model) and months is not None:
                # What two or more whole states add up (event_study._composed_parts,
                # impact.composed_comparison_members), over the opening months: over every
                # month states are seldom added up (1.2 s of a large load for the event
                # study's sums alone).
                payloads[MONTH_SUMS_OUTPUT] = state_month_sums(filters, conn)
                if setting == MEMBERS_SETTING:
                    payloads[COMPARED_MEMBERS_OUTPUT] = state_comparison_members(
                        filters, members, conn
                    )
            records += [
                _record(output, scope, setting, stored_months(filters), payload)
                for output, payload in payloads.items()
                if payload is not None
            ]
    opening = opening_windows(scopes, loaded)
    records += _member_counts(conn, opening, first_month=loaded[0])
    records += _outcome_sums(conn, opening, first_month=loaded[0])
    if records:
        conn.execute(impact_frames.insert(), records)


Windows = list[tuple[str | None, str | None, tuple[str, str]]]


def opening_windows(scopes: Scopes, loaded: tuple[str, str, str | None]) -> Windows:
    """The (state, program model, months) whose member counts and opening sums are stored, of
    data `loaded` (its first, last and last complete month): every stored scope over the
    opening months (queries.default_window), and each state over a state partner's opening
    months (whole calendar years, queries.partner_years) where those differ."""
    window = default_window(*loaded)
    partner = whole_years(*partner_years(*loaded))
    windows: Windows = [(state, model, window) for state, model in scopes]
    if partner != window:
        windows += [(state, None, partner) for state in _states(scopes)]
    return windows


def _record(
    output: str, scope: str, setting: str, months: tuple[str, str], payload: Any
) -> dict[str, object]:
    """One impact_frames row, of this code."""
    return {
        "output": output,
        "scope": scope,
        "setting": setting,
        "month_from": months[0],
        "month_to": months[1],
        "code_digest": CODE_DIGEST,
        # allow_nan: NaN figures are part of the outputs (json reads them back).
        "payload": json.dumps(payload, allow_nan=True),
    }


def _with_before(
    windows: Windows, first_month: str
) -> list[tuple[str | None, str | None, tuple[str, str], tuple[str, str] | None]]:
    """Each (state, program model, months) with the months of equal length before them
    (None when those start before the data's first month): the tiles' change."""
    return [
        (state, model, months, previous_months(*months, first_month=first_month))
        for state, model, months in windows
    ]


def _member_counts(
    conn: Connection, windows: Windows, *, first_month: str
) -> list[dict[str, object]]:
    """The enrolled members of each opening window (`opening_windows`) and the months of equal
    length before it (the Overview's tiles and their change), as `enrolled_members` counts
    them before suppression."""
    return [
        _record(
            MEMBERS_OUTPUT,
            scope_name(state, model),
            MEMBERS_SETTING,
            months,
            count_members(
                OutcomeFilter(
                    month_from=months[0],
                    month_to=months[1],
                    states=None if state is None else (state,),
                    program_models=tuple(PROGRAM_MODELS) if model is None else (model,),
                ),
                conn,
            ),
        )
        for state, model, window, before in _with_before(windows, first_month)
        for months in [window, *([before] if before else [])]
    ]


MEMBERS_OUTPUT = "enrolled_members"


def stored_members(filters: OutcomeFilter, engine: Engine) -> int | None:
    """The stored count of enrolled members (`_member_counts`) when the filters are a stored
    scope over stored months; else None."""
    models = filters.enrolled_models
    scope = stored_scope(filters, models) if models else None
    if scope is None:
        return None
    payload = read_stored(MEMBERS_OUTPUT, scope, MEMBERS_SETTING, filters, engine)
    return None if payload is None else int(payload)


class StoredRead(NamedTuple):
    """A read of queries._summed_months stored at load: its (period, by), whether the months
    before the opening ones are read too (the tiles' change), and the population the filters
    hold (None: both, the enrolled members and those not enrolled)."""

    period: Period | None
    by: tuple[Dimension, ...]
    with_before: bool
    population: Population | None


# The opening reads of the monthly sums, by output: the Overview's (both populations: the
# tiles, the map by state, the trend by program model), then the State profile's (the enrolled
# members pooled, by state and by quarter; one state's members not enrolled by quarter, stored
# for each state's scope, as the page compares them whatever program model is chosen).
STORED_SUMS: Final[dict[str, StoredRead]] = {
    "sums_population": StoredRead(None, ("population",), True, None),
    "sums_state_pop": StoredRead(None, ("state_code", "population"), False, None),
    # Also what two or more whole states add up to (`composed_sums`): by month, both windows.
    "sums_model_month": StoredRead("month", ("program_model",), True, None),
    "sums_enrolled": StoredRead(None, (), False, ENROLLED),
    "sums_enr_state": StoredRead(None, ("state_code",), False, ENROLLED),
    "sums_enr_quarter": StoredRead("quarter", (), False, ENROLLED),
    "sums_ne_quarter": StoredRead("quarter", (), False, NOT_ENROLLED),
}


def _stored_for(population: Population | None, state: str | None, model: str | None) -> bool:
    """Whether a scope stores the reads of a population: the members not enrolled of each
    state's scope only."""
    return population != NOT_ENROLLED or is_state_scope(state, model)


def _sums_filters(
    state: str | None,
    model: str | None,
    window: tuple[str, str],
    setting: str,
    population: Population | None,
) -> OutcomeFilter:
    """A stored scope's filters holding a population (None: both), as the pages read it."""
    models = list(PROGRAM_MODELS) if model is None else [model]
    groups = {None: (*models, NOT_ENROLLED), ENROLLED: tuple(models), NOT_ENROLLED: (NOT_ENROLLED,)}
    return OutcomeFilter.model_validate(
        {
            "month_from": window[0],
            "month_to": window[1],
            "states": None if state is None else (state,),
            "program_models": groups[population],
            "setting": setting,
        }
    )


def _outcome_sums(
    conn: Connection, windows: Windows, *, first_month: str
) -> list[dict[str, object]]:
    """The monthly sums of the opening reads (STORED_SUMS) of each opening window
    (`opening_windows`), and the tiles' over the months before it, as the database sums them,
    in the stored setting."""
    records: list[dict[str, object]] = []
    opening = _with_before(windows, first_month)
    for (state, model, window, before), setting in product(opening, STORED_SETTINGS):
        for output, (period, by, with_before, population) in STORED_SUMS.items():
            if not _stored_for(population, state, model):
                continue
            for months in [window, *([before] if with_before and before else [])]:
                filters = _sums_filters(state, model, months, setting, population)
                frame = summed_months(filters, period, by, conn)
                # Exact: the sums are of integers (PostgreSQL's are decimals).
                rows = [
                    [int(v) if isinstance(v, Decimal) else v for v in row]
                    for row in frame.itertuples(index=False)
                ]
                payload = {"columns": list(frame.columns), "rows": rows}
                records.append(_record(output, scope_name(state, model), setting, months, payload))
    return records


def stored_sums(
    filters: OutcomeFilter, period: Period | None, by: tuple[Dimension, ...], engine: Engine
) -> pd.DataFrame | None:
    """The stored rows of queries._summed_months (`_outcome_sums`), as the database answers
    them, when the filters are a stored scope and population over stored months and setting,
    and (period, by) a stored read; else None."""
    models = filters.enrolled_models
    population: Population | None = ENROLLED
    if NOT_ENROLLED in filters.program_models:
        population = None if models else NOT_ENROLLED
    output = next(
        (
            name
            for name, read in STORED_SUMS.items()
            if (read.period, read.by, read.population) == (period, by, population)
        ),
        None,
    )
    # The members not enrolled are stored by state, whatever the program models.
    scope_models = PROGRAM_MODELS if population == NOT_ENROLLED else models
    scope = stored_scope(filters, scope_models)
    state = filters.states[0] if filters.states else None
    if output is None or scope is None or not _stored_for(population, state, None):
        return composed_sums(filters, period, by, engine)
    payload = read_stored(output, scope, filters.setting, filters, engine)
    if payload is None:
        return None
    return db.rows_frame([tuple(row) for row in payload["rows"]], payload["columns"])


# Each state's monthly sums by program model (both populations) hold every read of two or more
# whole states by period and by these.
COMPOSED_BY: Final = frozenset({"state_code", "program_model", "population"})
COMPOSED_FROM: Final = "sums_model_month"


def composed_sums(
    filters: OutcomeFilter, period: Period | None, by: tuple[Dimension, ...], engine: Engine
) -> pd.DataFrame | None:
    """queries.summed_months' rows of two or more whole states over stored months, added up
    from each state's stored sums by month and program model (COMPOSED_FROM), as the
    statement adds them up: the sums by period and `by`, and for a period longer than a month
    (or none) the busiest month's member-months (`members_lower_bound`) and the last month.
    Integers, so the same totals in any order; rows in the keys' order. None when the filters
    are not such states, `by` is not within COMPOSED_BY, or a state has none stored."""
    if not set(by) <= COMPOSED_BY:
        return None
    payloads = read_stored_states(COMPOSED_FROM, filters.setting, filters, engine)
    if payloads is None:
        return None
    columns: list[str] = next(iter(payloads.values()))["columns"]
    at = {name: position for position, name in enumerate(columns)}
    sums = [name for name in columns if name not in ("month", "program_model", LAST_MONTH)]
    chosen = set(filters.program_models)
    # (period and `by` values, month) -> the month's sums
    by_month: dict[tuple[tuple[str, ...], str], list[int]] = {}
    for state, payload in payloads.items():
        for row in payload["rows"]:
            model, month = row[at["program_model"]], str(row[at["month"]])
            if model not in chosen:
                continue
            dimensions = {
                "state_code": state,
                "program_model": model,
                "population": NOT_ENROLLED if model == NOT_ENROLLED else ENROLLED,
            }
            period_key = (
                [] if period is None else [period_label(int(month[:4]), int(month[5:]), period)]
            )
            key = (*period_key, *(dimensions[name] for name in by))
            total = by_month.setdefault((key, month), [0] * len(sums))
            for position, name in enumerate(sums):
                total[position] += int(row[at[name]] or 0)
    if period == "month":
        rows = [(*key, *total, month) for (key, month), total in sorted(by_month.items())]
        return db.rows_frame(rows, [period, *by, *sums, LAST_MONTH])
    # key -> its sums over its months, its busiest month's member-months, its last month
    summed: dict[tuple[str, ...], list[int]] = {}
    busiest: dict[tuple[str, ...], int] = {}
    last: dict[tuple[str, ...], str] = {}
    members = sums.index("member_months")
    for (key, month), total in sorted(by_month.items()):
        so_far = summed.setdefault(key, [0] * len(sums))
        for position, value in enumerate(total):
            so_far[position] += value
        busiest[key] = max(busiest.get(key, 0), total[members])
        last[key] = month  # in month order: the latest is the last
    names = ([period] if period else []) + list(by)
    rows = [(*key, *total, busiest[key], last[key]) for key, total in summed.items()]
    return db.rows_frame(rows, [*names, *sums, MEMBERS_LOWER_BOUND, LAST_MONTH])
