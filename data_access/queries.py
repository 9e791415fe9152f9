"""Read functions of the dashboard and the exports.

Each takes keyword-only arguments and one `OutcomeFilter`, runs its aggregation in the
database over the summary tables (see summaries.py) through `db.read_frame`, and returns a
small DataFrame whose columns are documented in the docstring. The figures are computed
from the unrounded integer sums by `measures`, suppression by `suppression`: this module
holds the SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    SQLColumnExpression,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import Label

from data_access import db, differencing
from data_access.access import (
    Viewer,
    must_suppress,
    national_filter,
    partner_choice_problem,
    scope_filter,
)
from data_access.differencing import ATOM_KEYS, atom_column
from data_access.errors import DisclosureRefused
from data_access.filters import OutcomeFilter
from data_access.measures import (
    COUNT_COLUMNS,
    MEASURE_COLUMNS,
    MEMBERS_LOWER_BOUND,
    MONTHLY_COLUMNS,
    PREPOST_COLUMNS,
    PREPOST_MEASURES,
    PROVISIONAL,
    add_monthly_rates,
    divided,
    prepost_measures,
)
from data_access.models import (
    Enrollment,
    Member,
    Program,
    State,
    monthly_summary,
    prepost_summary,
    summary_info,
)
from data_access.settings import get_settings
from data_access.status import load_version
from data_access.suppression import (
    MONTHLY_RULES,
    PREPOST_RULES,
    SUPPRESSED_COLUMN,
    Margin,
    apply_suppression,
    consistent_hidden,
    place_status,
    rest_of_nation_hidden,
)
from data_access.vocabulary import (
    DEFAULT_MONTHS,
    NOT_ENROLLED,
    PROGRAM_MODELS,
    SETTINGS,
    Dimension,
    Period,
    Setting,
    SmallCells,
)

# "filters": the viewer's states within the filters; "national": every state pooled into
# one line, the only figure beyond their states a state partner may see.
Scope = Literal["filters", "national"]


def _plain_text_order(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Sort by the named columns as plain text (code points, missing as ""), stable, as the
    contract asks. Each column's rank among its sorted distinct values, then one lexsort:
    what `sort_values(key=...)` does, in half its time on a page's small frames, and no row
    is moved when the database answered them in order."""
    if frame.empty or not columns:
        return frame.reset_index(drop=True)
    ranks = [
        pd.factorize(frame[c].fillna("").astype(str).to_numpy(dtype=object), sort=True)[0]
        for c in reversed(columns)
    ]
    order = np.lexsort(ranks)
    if (order != np.arange(len(order))).any():
        frame = frame.take(order)
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Monthly measures


def _setting_total(measure: str, setting: str) -> ColumnElement[int]:
    columns = monthly_summary.c
    if setting == "all":
        return columns[f"{measure}_behavioral"] + columns[f"{measure}_medical"]
    return columns[f"{measure}_{setting}"]


def filter_conditions(
    filters: OutcomeFilter,
    *,
    model: SQLColumnExpression[str] | None = None,
    state: SQLColumnExpression[str] | None = None,
    program: SQLColumnExpression[str] | None = None,
    condition: SQLColumnExpression[str] | None = None,
    month: SQLColumnExpression[str] | None = None,
) -> list[ColumnElement[bool]]:
    """The filter as WHERE conditions on the columns given (a column not given is left to
    the caller). A NULL program is a not-enrolled row, which a program list leaves as it is."""
    conditions: list[ColumnElement[bool]] = []
    if model is not None:
        conditions.append(model.in_(filters.program_models))
    if state is not None and filters.states is not None:
        conditions.append(state.in_(filters.states))
    if program is not None and filters.program_ids is not None:
        conditions.append(or_(program.is_(None), program.in_(filters.program_ids)))
    if condition is not None and filters.conditions is not None:
        conditions.append(condition.in_(filters.conditions))
    if month is not None and filters.month_from:
        conditions.append(month >= filters.month_from)
    if month is not None and filters.month_to:
        conditions.append(month <= filters.month_to)
    return conditions


def _monthly_conditions(filters: OutcomeFilter) -> list[ColumnElement[bool]]:
    columns = monthly_summary.c
    return filter_conditions(
        filters,
        model=columns.program_model,
        state=columns.state_code,
        program=columns.program_id,
        condition=columns.primary_condition,
        month=columns.month,
    )


def _dimension(name: Dimension) -> Label[str]:
    columns = monthly_summary.c
    if name == "population":
        return case(
            (columns.program_model == NOT_ENROLLED, literal(NOT_ENROLLED)),
            else_=literal("enrolled"),
        ).label("population")
    return columns[name].label(name)


def _empty(columns: tuple[str, ...] | list[str]) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="object") for column in columns})


def _scoped(filters: OutcomeFilter, viewer: Viewer, scope: Scope) -> OutcomeFilter:
    if scope == "national":
        return national_filter(filters)
    return scope_filter(filters, viewer)[0]


def _check_national(
    viewer: Viewer, filters: OutcomeFilter, by: tuple[Dimension, ...], engine: Engine
) -> tuple[str, ...]:
    """A partner's national line is one pooled line that cannot be taken apart; the states
    outside the grant (none for other viewers)."""
    if not viewer.is_partner:
        return ()
    problem = partner_choice_problem(filters, viewer)  # the same choices as any other view
    if problem:
        raise DisclosureRefused(problem)
    if (
        filters.conditions is not None
        or filters.program_ids is not None
        or filters.setting != "all"
    ):
        # Two national lines that differ by part of a filter, less the partner's own lines,
        # would give the rest of the nation's difference: over every condition, program and
        # setting only (program models are checked line against line).
        raise DisclosureRefused(
            "The national figure is shown to state partners over every program, condition "
            "and setting only; clear those filters to see it."
        )
    if by:
        # One line only: two national breakdowns minus the partner's own lines would give
        # the rest of the nation's cells that each line alone keeps hidden.
        raise DisclosureRefused("The national figure is shown as one pooled line, not broken down.")
    codes = db.read_frame(select(State.state_code), engine=engine)["state_code"]
    outside = tuple(sorted(code for code in codes if not viewer.sees_state(code)))
    if len(outside) < 2:
        # With one state outside the grant, national minus the grant would be that state.
        raise DisclosureRefused(
            "The national figure is not shown: it would reveal the one state outside your grant."
        )
    return outside


def _rest_of_nation_hidden(
    viewer: Viewer,
    outside: tuple[str, ...],
    national: OutcomeFilter,
    period: Period | None,
    by: tuple[Dimension, ...],
    frame: pd.DataFrame,
    engine: Engine,
) -> pd.DataFrame:
    """suppression.rest_of_nation_hidden over the sums of the states outside the grant, and
    for a partner the differencing rule over the national line's cells."""
    rest_filter = national.model_copy(update={"states": outside})
    rest = _summed_months(rest_filter, period, by, engine)
    per_state = (
        rest if rest.empty else _summed_months(rest_filter, period, (*by, "state_code"), engine)
    )
    keys: list[str] = ([period] if period else []) + list(by)
    hidden = rest_of_nation_hidden(rest, per_state, keys=keys, frame=frame, threshold=_threshold())
    if viewer.is_partner and DIFFERENCING_RULE:
        hidden = hidden | _national_differencing_hidden(
            viewer, national, period, frame, engine
        ).reindex(columns=hidden.columns, fill_value=False)
    return hidden


def _national_differencing_hidden(
    viewer: Viewer,
    national: OutcomeFilter,
    period: Period | None,
    frame: pd.DataFrame,
    engine: Engine,
) -> pd.DataFrame:
    """The differencing rule over a partner's national line (one pooled line, every program,
    condition and setting): a count cell is hidden where a national cell holding it (more
    program models, a longer span of months) is larger by 1 to threshold - 1, or where the
    same holds for the rest of the nation (the national line less the partner's own lines).
    Two national figures cannot then differ by the partner's own small count, nor by the
    other states' (`differencing.national_lattices`)."""
    atoms = _national_atoms(engine)
    lattices = differencing.national_lattices(
        atoms, viewer.states or (), _threshold(), differencing.atoms_digest(atoms)
    )
    periods = frame[period].astype(str) if period else pd.Series("", index=frame.index)
    hidden = np.zeros((len(frame), len(COUNT_COLUMNS)), dtype=bool)
    rest_empty = np.ones(hidden.shape, dtype=bool)
    every = SETTINGS.index("all")
    for lattice, is_rest in zip(lattices, (False, True), strict=True):
        mask = lattice.keys["program_model"].isin(national.program_models).to_numpy(dtype=bool)
        selection = lattice.selection(mask)
        rows, spans = [], []
        for row, value in enumerate(periods):
            span = lattice.span(*differencing._months_of(period or "range", value, national))
            if span is None:  # no data in these months: nothing to compare
                continue
            if selection is None:  # not a partner's choice: nothing to compare it with
                hidden[row] = True
                continue
            rows.append(row)
            spans.append(span)
        if rows and selection is not None:  # every row at once: a cell per month, say
            hidden[rows] |= lattice.small_differences_many([selection] * len(rows), "all", spans)
            if is_rest:
                rest_empty[rows] = lattice.sums[selection, every, spans] == 0
    # Where the other states count nothing, a national cell is the partner's own cell of
    # the same filters: it is hidden wherever that own cell is hidden in the partner's view.
    own = differencing.partner_status(
        _partner_atoms(viewer, engine),
        national.model_copy(update={"states": viewer.states}),
        by=(),
        threshold=_threshold(),
        granted=viewer.states or (),
    )
    own_hidden = place_status(
        own.status,
        period=period,
        by=(),
        frame=frame,
        rows=pd.Series(True, index=frame.index),
        states=[],
    )
    hidden |= rest_empty & own_hidden[list(COUNT_COLUMNS)].to_numpy(dtype=bool)
    return pd.DataFrame(hidden, index=frame.index, columns=list(COUNT_COLUMNS))


def _consistent_hidden(
    filters: OutcomeFilter,
    period: Period | None,
    by: tuple[Dimension, ...],
    frame: pd.DataFrame,
    is_total: pd.Series,
    engine: Engine,
) -> pd.DataFrame | None:
    """suppression.consistent_hidden over the finest monthly cut of this output; outputs by
    program are left to their own rules."""
    if "program_id" in by:
        return None
    finest_by: tuple[Dimension, ...] = (
        ("state_code", "program_model") if "state_code" in by else ("program_model",)
    )
    finest = _summed_months(filters, "month", finest_by, engine)
    if finest.empty:
        return None
    return consistent_hidden(
        finest, period=period, by=by, frame=frame, is_total=is_total, threshold=_threshold()
    )


# The differencing rule of docs/disclosure.md for state partners; a switch only so that a
# test can show what a partner could work out without it.
DIFFERENCING_RULE = True


def _partner_hidden(
    viewer: Viewer,
    filters: OutcomeFilter,
    period: Period | None,
    by: tuple[Dimension, ...],
    frame: pd.DataFrame,
    is_total: pd.Series,
    engine: Engine,
) -> pd.DataFrame:
    """The differencing rule (differencing.py) over this output's cuts, for a partner; the
    pooled rows of `with_total` get the cells of the view without `by`, which they are."""
    if "program_id" in by:
        raise DisclosureRefused(
            "Figures by program are shown to state partners one program at a time: choose "
            "the program in the filters."
        )
    atoms = _partner_atoms(viewer, engine)

    def status(keys: tuple[Dimension, ...]) -> differencing.View:
        return differencing.partner_status(
            atoms, filters, by=keys, threshold=_threshold(), granted=viewer.states or ()
        )

    view = status(by)
    mask = place_status(
        view.status, period=period, by=by, frame=frame, rows=~is_total, states=view.states
    )
    if is_total.any():
        # The pooled rows are the view's total: over the states too when `by` has them.
        pooled = status(()) if view.states else view
        mask |= place_status(
            pooled.status, period=period, by=(), frame=frame, rows=is_total, states=[]
        )
    return mask


def _threshold() -> int:
    return get_settings().small_cell_threshold


LAST_MONTH = "last_month"


def last_complete_month(*, engine: Engine | None = None) -> str | None:
    """The latest month whose claims have all arrived (YYYY-MM): the data-through month less
    the run-out months; later months are provisional. None before the first load."""
    through = db.read_frame(select(summary_info.c.data_through), engine=db.resolve_engine(engine))
    if through.empty or pd.isna(through["data_through"].iloc[0]):
        return None
    return complete_through(pd.Timestamp(through["data_through"].iloc[0]).date())


def complete_through(data_through: dt.date) -> str:
    """The last complete month (YYYY-MM) of a data-through date: less the run-out months."""
    day = data_through
    return _month_of(day.year * 12 + day.month - 1 - get_settings().runout_months)


def default_window(first: str, last: str, last_complete: str | None) -> tuple[str, str]:
    """The months the dashboard opens on, of data from month `first` to `last` (YYYY-MM):
    the latest DEFAULT_MONTHS up to the last complete month (up to `last` when that is
    outside the data). The load stores the impact replicates of this window too."""
    end = last_complete if last_complete is not None and first <= last_complete <= last else last
    return max(first, _month_of(_month_index(end) + 1 - DEFAULT_MONTHS)), end


def whole_years(first_year: str, last_year: str) -> tuple[str, str]:
    """The months of a range of whole calendar years: (first_year-01, last_year-12)."""
    return f"{first_year}-01", f"{last_year}-12"


def complete_year_end(last_complete: str) -> str:
    """The December of the last calendar year whose months are all complete (YYYY-12)."""
    year = int(last_complete[:4])
    return f"{year if last_complete.endswith('-12') else year - 1}-12"


def complete_year(last: str, last_complete: str | None) -> int:
    """The last calendar year whose December is loaded (data up to month `last`) and complete
    (up to `last_complete`; None: every loaded month is)."""
    end = last if last_complete is None else min(last_complete, last)
    return int(complete_year_end(end)[:4])


def partner_years(first: str, last: str, last_complete: str | None) -> tuple[str, str]:
    """A state partner's opening years (YYYY), of data from month `first` to `last`: the
    latest complete calendar years, up to DEFAULT_MONTHS / 12, ending with the last year whose
    December is complete; with no complete year in the data, the latest year with data. The
    load stores each state's opening sums over these years too."""
    final = str(complete_year(last, last_complete))
    if final < first[:4]:
        final = last[:4]
    return max(first[:4], str(int(final) - DEFAULT_MONTHS // 12 + 1)), final


@cache  # the same expressions every call: built once, not for every read
def _monthly_sums(setting: Setting, suffix: str = "") -> tuple[Label[int], ...]:
    """The sums behind every monthly figure, limited to `setting`, named with `suffix`."""
    columns = monthly_summary.c
    behavioral_cents = (
        columns.admission_paid_cents_behavioral + columns.service_paid_cents_behavioral
    )
    medical_cents = columns.admission_paid_cents_medical + columns.service_paid_cents_medical
    return (
        func.sum(columns.member_months).label(f"member_months{suffix}"),
        func.sum(_setting_total("admissions", setting)).label(f"admissions{suffix}"),
        func.sum(_setting_total("discharges", setting)).label(f"discharges{suffix}"),
        func.sum(_setting_total("inpatient_days", setting)).label(f"inpatient_days{suffix}"),
        func.sum(_setting_total("followed_discharges", setting)).label(
            f"followed_discharges{suffix}"
        ),
        # All-cause under `all` (a stay of either setting after it), same-setting when limited.
        func.sum(
            _setting_total("readmissions_any_30d", setting)
            if setting == "all"
            else _setting_total("readmissions_30d", setting)
        ).label(f"readmissions_30d{suffix}"),
        func.sum(_setting_total("ed_visits", setting)).label(f"ed_visits{suffix}"),
        *[
            func.sum(columns[name]).label(f"{name}{suffix}")
            for name in (
                "followed_behavioral_discharges",
                "followups_7d",
                "followups_30d",
                "peer_contacts_1d",
            )
        ],
        func.sum(behavioral_cents + medical_cents).label(f"paid_cents{suffix}"),
        func.sum(behavioral_cents).label(f"behavioral_paid_cents{suffix}"),
        func.sum(medical_cents).label(f"medical_paid_cents{suffix}"),
    )


# The partners' monthly sums by load: (database, states, load) -> the rows; a new load is
# a new key, so nothing stale is read.
_ATOMS: dict[tuple[object, ...], pd.DataFrame] = {}
# Entries each of these per-load caches keeps (partners and loads at once).
KEPT_PER_CACHE = 32
T = TypeVar("T")


def _partner_atoms(viewer: Viewer, engine: Engine) -> pd.DataFrame:
    """The partner's monthly sums by month, state, program model, program and condition, in
    every setting (differencing.ATOM_KEYS, then differencing.atom_column names): every view
    the partner may ask for is a sum of these rows. Read once per load."""
    return _kept(_ATOMS, _partner_key(viewer, engine), lambda: _read_partner_atoms(viewer, engine))


def _kept(cache: dict[tuple[object, ...], T], key: tuple[object, ...], read: Callable[[], T]) -> T:
    """`cache[key]`, read and kept when missing; past `KEPT_PER_CACHE` the oldest goes."""
    if key not in cache:
        if len(cache) >= KEPT_PER_CACHE:
            cache.pop(next(iter(cache)))
        cache[key] = read()
    return cache[key]


def _partner_key(viewer: Viewer, engine: Engine) -> tuple[object, ...]:
    """The database, the grant, the load and a fingerprint of the rows (tests change rows
    without a load)."""
    where = monthly_summary.c.state_code.in_(viewer.states or ())
    return _rows_key(engine, viewer.states or (), _monthly_fingerprint().where(where))


def _monthly_fingerprint() -> Select[int, Any, Any]:
    columns = monthly_summary.c
    return select(
        func.count().label("rows"),
        func.sum(columns.member_months).label("member_months"),
        func.sum(columns.admissions_behavioral + columns.admissions_medical).label("stays"),
    )


def _rows_key(engine: Engine, scope: object, fingerprint: Executable) -> tuple[object, ...]:
    """The database, the scope, the load and the `fingerprint` read's one row."""
    row = db.read_frame(fingerprint, engine=engine).iloc[0]
    return (
        engine.url.render_as_string(),
        scope,
        load_version(engine=engine),
        tuple(str(v) for v in row),
    )


def _read_partner_atoms(viewer: Viewer, engine: Engine) -> pd.DataFrame:
    return _read_atoms(ATOM_KEYS, engine, monthly_summary.c.state_code.in_(viewer.states or ()))


def _national_atoms(engine: Engine) -> pd.DataFrame:
    """Every state's monthly sums by month, state and program model, in every setting (the
    columns of `_partner_atoms`, program and condition None): every cell of the national
    line a partner may see, and of the rest of the nation, is a sum of these rows. Read once
    per load."""
    return _kept(
        _ATOMS,
        _national_key(engine),
        lambda: _read_atoms(("month", "state_code", "program_model"), engine),
    )


def _national_key(engine: Engine) -> tuple[object, ...]:
    """As `_partner_key`, over every state's rows."""
    return _rows_key(engine, "national", _monthly_fingerprint())


def _read_atoms(by: tuple[str, ...], engine: Engine, *where: ColumnElement[bool]) -> pd.DataFrame:
    """Monthly sums by the keys `by` in every setting, the other ATOM_KEYS None."""
    columns = monthly_summary.c
    keys = [columns[name].label(name) for name in by]
    sums = [
        label
        for setting in SETTINGS
        for label in _monthly_sums(setting, suffix=atom_column("", setting))
    ]
    statement = select(*keys, *sums).where(true(), *where).group_by(*keys)
    atoms = db.read_frame(statement, engine=engine)
    numbers = [label.name for label in sums]
    atoms[numbers] = atoms[numbers].fillna(0).astype("int64")
    for name in ATOM_KEYS:
        if name not in by:
            atoms[name] = None
    atoms["program_id"] = atoms["program_id"].astype("object").where(atoms["program_id"].notna())
    return atoms[[*ATOM_KEYS, *numbers]]


def _summed_months(
    filters: OutcomeFilter, period: Period | None, by: tuple[Dimension, ...], engine: Engine
) -> pd.DataFrame:
    """Integer sums by period and `by`, with `members_lower_bound` for suppression: stored at
    load for the common filters' opening reads (impact_store.stored_sums), else summed."""
    # Imported here: the stored outputs are computed with modules that import this one.
    from data_access.impact_store import stored_sums

    frame = stored_sums(filters, period, by, engine)
    if frame is None:
        frame = summed_months(filters, period, by, engine)
    return shaped_sums(frame, period)


def _sums_statement(
    filters: OutcomeFilter, period: Period | None, by: tuple[Dimension, ...]
) -> Select[Any]:
    columns = monthly_summary.c
    keys: list[str] = ([period] if period else []) + list(by)
    key_columns = ([columns[period].label(period)] if period else []) + [_dimension(d) for d in by]
    sums = _monthly_sums(filters.setting)
    where = and_(true(), *_monthly_conditions(filters))
    if period == "month":
        statement = (
            select(*key_columns, *sums, func.max(columns.month).label(LAST_MONTH))
            .where(where)
            .group_by(*key_columns)
        )
    else:
        # Sum each month first: the busiest month's member-months bound the members below.
        by_month = (
            select(*key_columns, columns.month.label("by_month"), *sums)
            .where(where)
            .group_by(*key_columns, columns.month)
            .subquery()
        )
        statement = (
            select(
                *[by_month.c[key] for key in keys],
                *[func.sum(by_month.c[s.name]).label(s.name) for s in sums],
                func.max(by_month.c.member_months).label(MEMBERS_LOWER_BOUND),
                func.max(by_month.c.by_month).label(LAST_MONTH),
            )
            .group_by(*[by_month.c[key] for key in keys])
            # Without keys an aggregate answers one row even over no months: none is wanted.
            .having(func.count() > 0)
        )
    return statement


def summed_months(
    filters: OutcomeFilter,
    period: Period | None,
    by: tuple[Dimension, ...],
    engine: Engine | Connection,
) -> pd.DataFrame:
    """`_summed_months`'s rows as the database answers them, before `shaped_sums` (what
    impact_store stores)."""
    return db.read_frame(_sums_statement(filters, period, by), engine=engine)


def shaped_sums(frame: pd.DataFrame, period: Period | None) -> pd.DataFrame:
    """The sums as int64 (a sum over no row is NULL; PostgreSQL's sums are decimals)."""
    if frame.empty:
        return frame
    counts = [
        *COUNT_COLUMNS,
        "paid_cents",
        "behavioral_paid_cents",
        "medical_paid_cents",
        MEMBERS_LOWER_BOUND,
    ]
    # One new frame: assigning the columns in place, at once or one by one, took longer than
    # the read (benchmarks/README.md, finding 19).
    columns: dict[str, Any] = {name: frame[name] for name in frame.columns}
    if period == "month":
        columns[MEMBERS_LOWER_BOUND] = frame["member_months"]
    columns.update({name: _int64(columns[name]) for name in counts})
    return pd.DataFrame(columns, index=frame.index)


def _int64(sums: pd.Series) -> np.ndarray:
    """A column of sums as int64, a sum over no row (NULL) as 0, as `fillna(0).astype("int64")`."""
    values: np.ndarray = sums.to_numpy()
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    if values.dtype.kind == "f":
        values = np.nan_to_num(values, nan=0.0)
    else:
        values = np.array([0 if pd.isna(value) else value for value in values])
    return values.astype(np.int64)


def outcome_summary(
    *,
    viewer: Viewer,
    filters: OutcomeFilter,
    period: Period | None = "month",
    by: tuple[Dimension, ...] = (),
    scope: Scope = "filters",
    with_total: bool = False,
    small_cells: SmallCells = "suppress",
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Outcome measures by period and by the chosen dimensions, for the filters.

    The filters are first narrowed to the viewer's states (`scope="filters"`), or widened to
    every state pooled (`scope="national"`, `by` may then hold only `population` for a
    state partner). With `with_total`, each period also gets a row pooling all its `by`
    rows, the `by` columns empty, and complementary suppression keeps the parts from
    giving away a suppressed cell.

    Columns: the period (`month` YYYY-MM, `quarter` YYYY-Qn or `year` YYYY) when asked, the
    `by` columns (`population` is `enrolled` or `not_enrolled`; `program_id` is None for
    not_enrolled rows), then `member_months`, `admissions`, `discharges`, `inpatient_days`,
    `readmissions_30d` (integers; floats when a cell is suppressed), `paid`,
    `behavioral_paid`, `medical_paid` (dollars), the rates `admissions_per_1000_mm`,
    `inpatient_days_per_1000_mm`, `average_los`, `readmission_rate_30d`, `cost_pmpm`,
    `behavioral_cost_pmpm`, `medical_cost_pmpm` (NaN when undefined or suppressed), and
    `suppressed` (the suppressed columns of the row, ";"-separated). Small cells are
    suppressed for state partners always and for others unless `small_cells="show"`.
    Ordered by the period and the `by` columns as plain text.
    """
    engine = db.resolve_engine(engine)
    keys: list[str] = ([period] if period else []) + list(by)
    shown = [*keys, *MEASURE_COLUMNS, PROVISIONAL]
    outside = _check_national(viewer, filters, by, engine) if scope == "national" else ()
    filters = _scoped(filters, viewer, scope)
    if filters.selects_nothing:
        return _empty([*shown, SUPPRESSED_COLUMN])
    frame = _summed_months(filters, period, by, engine)
    if frame.empty:
        return _empty([*shown, SUPPRESSED_COLUMN])
    margins: list[Margin] = []
    is_total = pd.Series(False, index=frame.index)
    if with_total and by:
        totals = _summed_months(filters, period, (), engine).assign(**{d: None for d in by})
        is_total = pd.Series([False] * len(frame) + [True] * len(totals))
        frame = pd.concat([frame, totals[frame.columns]], ignore_index=True)
        periods = frame[period] if period else pd.Series("", index=frame.index)
        for key, rows in frame.groupby(periods, sort=False).groups.items():
            total = [int(r) for r in rows if is_total[r]]
            parts = tuple(int(r) for r in rows if not is_total[r])
            if total and key is not None:
                margins.append(Margin(total=total[0], parts=parts))
    frame = add_monthly_rates(frame)
    complete_through = last_complete_month(engine=engine)
    provisional = (
        frame[LAST_MONTH] > complete_through
        if complete_through is not None
        else pd.Series(False, index=frame.index)
    )
    if not must_suppress(viewer, small_cells):
        # One new frame: selecting the shown columns, then adding two, copies it three times.
        columns = {name: frame[name] for name in shown if name != PROVISIONAL}
        return _plain_text_order(
            pd.DataFrame(
                {**columns, PROVISIONAL: provisional, SUPPRESSED_COLUMN: ""}, index=frame.index
            ),
            keys,
        )
    frame[PROVISIONAL] = provisional
    also_hidden: pd.DataFrame | None
    if outside:
        also_hidden = _rest_of_nation_hidden(viewer, outside, filters, period, by, frame, engine)
    elif viewer.is_partner and DIFFERENCING_RULE:
        also_hidden = _partner_hidden(viewer, filters, period, by, frame, is_total, engine)
    else:
        also_hidden = _consistent_hidden(filters, period, by, frame, is_total, engine)
    frame = apply_suppression(
        frame,
        MONTHLY_RULES,
        threshold=_threshold(),
        shown=shown,
        margins=margins,
        also_hidden=also_hidden,
    )
    return _plain_text_order(frame, keys)


def monthly_outcomes(
    *,
    viewer: Viewer,
    filters: OutcomeFilter,
    small_cells: SmallCells = "suppress",
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The contract's monthly export rows: one per month, state and program model, then
    `suppressed`."""
    frame = outcome_summary(
        viewer=viewer,
        filters=filters,
        period="month",
        by=("state_code", "program_model"),
        small_cells=small_cells,
        engine=engine,
    )
    out = frame[[*MONTHLY_COLUMNS, SUPPRESSED_COLUMN]].copy()
    own = set(MONTHLY_COLUMNS)
    out[SUPPRESSED_COLUMN] = [
        ";".join(c for c in str(flags).split(";") if c in own) for flags in out[SUPPRESSED_COLUMN]
    ]
    return out


def monthly_outcome_rows(
    *, viewer: Viewer, filters: OutcomeFilter, engine: Engine | None = None
) -> int:
    """How many rows `monthly_outcomes` gives for these filters and this viewer (its groups
    of month, state and program model), counted in the database without summing anything.
    Suppression blanks cells, never rows, so the count holds suppressed or not; a partner's
    refused choice raises DisclosureRefused as the rows do."""
    filters = _scoped(filters, viewer, "filters")
    if filters.selects_nothing:
        return 0
    columns = monthly_summary.c
    groups = (
        select(columns.month, columns.state_code, columns.program_model)
        .where(true(), *_monthly_conditions(filters))
        .group_by(columns.month, columns.state_code, columns.program_model)
        .subquery()
    )
    counted = db.read_frame(
        select(func.count().label("rows")).select_from(groups), engine=db.resolve_engine(engine)
    )
    return int(counted["rows"].iloc[0])


# ---------------------------------------------------------------------------------------
# Pre/post analysis


@cache
def _window_sums(window: str, setting: Setting, suffix: str = "") -> tuple[Label[int], ...]:
    columns = prepost_summary.c

    def limited(measure: str) -> ColumnElement[int]:
        """An admission measure by the stays' setting, a claim measure by the claims' flag."""
        if setting == "all":
            return (
                columns[f"{window}_{measure}_behavioral"] + columns[f"{window}_{measure}_medical"]
            )
        return columns[f"{window}_{measure}_{setting}"]

    return (
        func.sum(columns[f"{window}_with_admission_{setting}"]).label(
            f"{window}_with_admission{suffix}"
        ),
        func.sum(limited("admissions")).label(f"{window}_admissions{suffix}"),
        func.sum(limited("discharges")).label(f"{window}_discharges{suffix}"),
        func.sum(limited("inpatient_days")).label(f"{window}_inpatient_days{suffix}"),
        func.sum(limited("admission_paid_cents")).label(f"{window}_admission_cents{suffix}"),
        func.sum(
            columns[f"{window}_admission_paid_cents_behavioral"]
            + columns[f"{window}_service_paid_cents_behavioral"]
        ).label(f"{window}_behavioral_cents{suffix}"),
        func.sum(
            columns[f"{window}_admission_paid_cents_medical"]
            + columns[f"{window}_service_paid_cents_medical"]
        ).label(f"{window}_medical_cents{suffix}"),
        func.sum(limited("ed_visits")).label(f"{window}_ed_visits{suffix}"),
        func.sum(limited("visits")).label(f"{window}_visits{suffix}"),
        func.sum(limited("visit_paid_cents")).label(f"{window}_visit_cents{suffix}"),
    )


def prepost_by_program(
    *,
    viewer: Viewer,
    filters: OutcomeFilter,
    small_cells: SmallCells = "suppress",
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The contract's prepost export rows: one per program of the filters and the viewer.

    Columns: `program_id`, `program_name`, `state_code`, `program_model`, `setting`,
    `enrollments` (analysable enrollments whose `enrolled_on` is in the month range), then for
    each measure of `PREPOST_MEASURES` `pre_`, `post_`, `change_` and `pct_change_` (floats,
    NaN where undefined or suppressed), and `suppressed`. Programs with no analysable
    enrollment are listed with 0. A measure over fewer enrollments, members with an
    admission, admissions or days than the threshold is suppressed, as in `outcome_summary`.
    """
    filters = scope_filter(filters, viewer)[0]
    if filters.selects_nothing:
        return _empty([*PREPOST_COLUMNS, SUPPRESSED_COLUMN])
    outcomes = prepost_summary.c
    program_conditions = _prepost_programs(filters)
    enrollment_conditions = filter_conditions(
        filters, condition=outcomes.primary_condition, month=outcomes.enrolled_month
    )
    if _narrows_programs(filters):
        # Only the chosen programs' rows summed (a key range, not every program's).
        chosen = select(Program.program_id).where(*program_conditions)
        enrollment_conditions.append(outcomes.program_id.in_(chosen))
    per_program = (
        select(
            outcomes.program_id,
            func.sum(outcomes.enrollments).label("enrollments"),
            *_window_sums("pre", filters.setting),
            *_window_sums("post", filters.setting),
        )
        .where(*enrollment_conditions)
        .group_by(outcomes.program_id)
        .subquery()
    )
    sum_columns = [c for c in per_program.c if c.name != "program_id"]
    statement = (
        select(
            Program.program_id,
            Program.program_name,
            Program.state_code,
            Program.program_model,
            *[func.coalesce(c, 0).label(c.name) for c in sum_columns],
        )
        .select_from(Program)
        .outerjoin(per_program, per_program.c.program_id == Program.program_id)
        .where(*program_conditions)
    )
    sums = db.read_frame(statement, engine=db.resolve_engine(engine))
    if sums.empty:
        return _empty([*PREPOST_COLUMNS, SUPPRESSED_COLUMN])
    for column in sum_columns:
        sums[column.name] = sums[column.name].astype("int64")
    pre, post = prepost_measures(sums, "pre"), prepost_measures(sums, "post")
    columns: dict[str, pd.Series | np.ndarray] = {
        name: sums[name] for name in ("program_id", "program_name", "state_code", "program_model")
    }
    columns["setting"] = pd.Series(filters.setting, index=sums.index)
    columns["enrollments"] = sums["enrollments"]
    for measure in PREPOST_MEASURES:
        change = post[measure] - pre[measure]
        columns[f"pre_{measure}"] = pre[measure]
        columns[f"post_{measure}"] = post[measure]
        columns[f"change_{measure}"] = change
        columns[f"pct_change_{measure}"] = divided(change * 100, pre[measure])
    # One frame at once: ~50 columns set one by one cost more than the figures.
    out = pd.DataFrame(columns)
    if must_suppress(viewer, small_cells):
        helpers = sums[[name for name in PREPOST_RULES.counts]]
        with_helpers = pd.concat([out, helpers], axis=1)
        also_hidden = (
            _partner_prepost_hidden(viewer, filters, with_helpers, db.resolve_engine(engine))
            if viewer.is_partner and DIFFERENCING_RULE
            else None
        )
        out = apply_suppression(
            with_helpers,
            PREPOST_RULES,
            threshold=_threshold(),
            shown=PREPOST_COLUMNS,
            also_hidden=also_hidden,
        )
    else:
        out = out[list(PREPOST_COLUMNS)].assign(**{SUPPRESSED_COLUMN: ""})
    return _plain_text_order(out, ["state_code", "program_id"])


def _prepost_programs(filters: OutcomeFilter) -> list[ColumnElement[bool]]:
    """The programs of the pre/post rows (one row each, with or without enrollments)."""
    return filter_conditions(
        filters, model=Program.program_model, state=Program.state_code, program=Program.program_id
    )


def _narrows_programs(filters: OutcomeFilter) -> bool:
    """Whether the filters leave out some programs: a state, program or model choice. Every
    program's rows are read in one scan; a range of the key pays only for a part of them."""
    return (
        filters.states is not None
        or filters.program_ids is not None
        or not set(PROGRAM_MODELS) <= set(filters.program_models)
    )


def prepost_program_rows(
    *, viewer: Viewer, filters: OutcomeFilter, engine: Engine | None = None
) -> int:
    """How many rows `prepost_by_program` gives for these filters and this viewer: its
    programs, counted without their enrollments (suppression blanks cells, never rows; a
    partner's refused choice raises DisclosureRefused as the rows do)."""
    filters = scope_filter(filters, viewer)[0]
    if filters.selects_nothing:
        return 0
    counted = db.read_frame(
        select(func.count().label("rows")).select_from(Program).where(*_prepost_programs(filters)),
        engine=db.resolve_engine(engine),
    )
    return int(counted["rows"].iloc[0])


def _partner_prepost_hidden(
    viewer: Viewer, filters: OutcomeFilter, frame: pd.DataFrame, engine: Engine
) -> pd.DataFrame:
    """The differencing rule over the pre/post rows of a partner: each program's counts
    against its rows over other conditions, settings and whole years
    (`differencing.prepost_hidden`)."""
    outcomes = prepost_summary.c
    year = func.substr(outcomes.enrolled_month, 1, 4).label("year")
    keys = [outcomes.program_id, year, outcomes.primary_condition]
    sums = [
        label
        for setting in SETTINGS
        for label in (
            *_window_sums("pre", setting, atom_column("", setting)),
            *_window_sums("post", setting, atom_column("", setting)),
        )
    ]

    def read() -> pd.DataFrame:
        statement = (
            select(*keys, func.sum(outcomes.enrollments).label("enrollments"), *sums)
            .where(outcomes.state_code.in_(viewer.states or ()))
            .group_by(*keys)
        )
        atoms = db.read_frame(statement, engine=engine)
        numbers = ["enrollments", *(label.name for label in sums)]
        atoms[numbers] = atoms[numbers].fillna(0).astype("int64")
        atoms["year"] = atoms["year"].astype(int)
        return atoms

    return differencing.prepost_hidden(
        _kept(_PREPOST_ATOMS, _prepost_key(viewer, engine), read),
        filters,
        frame=frame,
        counts=("enrollments", *PREPOST_RULES.counts),
        threshold=_threshold(),
    )


# The partners' pre/post sums by program, enrollment year and condition, by load: read once
# for the screen, its download and every other pre/post view of the partner.
_PREPOST_ATOMS: dict[tuple[object, ...], pd.DataFrame] = {}


def _prepost_key(viewer: Viewer, engine: Engine) -> tuple[object, ...]:
    """As `_partner_key`, with a fingerprint of the partner's pre/post sums (tests change
    rows without a load)."""
    outcomes = prepost_summary.c
    fingerprint = select(
        func.count().label("rows"),
        func.sum(outcomes.enrollments).label("enrollments"),
        func.sum(
            outcomes.pre_admissions_behavioral
            + outcomes.pre_admissions_medical
            + outcomes.post_admissions_behavioral
            + outcomes.post_admissions_medical
        ).label("stays"),
        func.sum(outcomes.pre_visits_behavioral + outcomes.post_visits_behavioral).label("visits"),
    ).where(outcomes.state_code.in_(viewer.states or ()))
    return _rows_key(engine, viewer.states or (), fingerprint)


# ---------------------------------------------------------------------------------------
# Reference data and status


def list_states(*, viewer: Viewer, engine: Engine | None = None) -> pd.DataFrame:
    """The states the viewer may see. Columns: `state_code`, `state_name`; by state_code."""
    statement = select(State.state_code, State.state_name)
    if viewer.states is not None:
        statement = statement.where(State.state_code.in_(viewer.states))
    frame = db.read_frame(statement, engine=db.resolve_engine(engine))
    return _plain_text_order(frame, ["state_code"])


def list_programs(*, viewer: Viewer, engine: Engine | None = None) -> pd.DataFrame:
    """The programs of the states the viewer may see. Columns: `program_id`,
    `program_name`, `state_code`, `program_model`, `launched_on`."""
    statement = select(
        Program.program_id,
        Program.program_name,
        Program.state_code,
        Program.program_model,
        Program.launched_on,
    )
    if viewer.states is not None:
        statement = statement.where(Program.state_code.in_(viewer.states))
    frame = db.read_frame(statement, engine=db.resolve_engine(engine))
    return _plain_text_order(frame, ["state_code", "program_id"])


def month_bounds(*, viewer: Viewer, engine: Engine | None = None) -> tuple[str, str] | None:
    """The first and last month (YYYY-MM) with data, or None when the database is empty.

    The same for every viewer: the extract's months are not a figure of any state.
    """
    del viewer
    # Each bound its own subquery: both engines answer a lone MIN or MAX with one seek at an
    # end of ix_monthly_summary_month, where SQLite scans an index for the pair.
    month = monthly_summary.c.month
    statement = select(
        select(func.min(month)).scalar_subquery(), select(func.max(month)).scalar_subquery()
    )
    row = db.read_frame(statement, engine=db.resolve_engine(engine)).iloc[0]
    if row.iloc[0] is None or pd.isna(row.iloc[0]):
        return None
    return str(row.iloc[0]), str(row.iloc[1])


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _month_of(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _first_day(month: str) -> dt.date:
    return dt.date(int(month[:4]), int(month[5:7]), 1)


def previous_period(
    filters: OutcomeFilter, *, viewer: Viewer, engine: Engine | None = None
) -> OutcomeFilter | None:
    """The same filters over the months of equal length just before the filter's range."""
    bounds = month_bounds(viewer=viewer, engine=engine)
    if bounds is None:
        return None
    before = previous_months(
        filters.month_from or bounds[0], filters.month_to or bounds[1], first_month=bounds[0]
    )
    if before is None:
        return None
    return filters.model_copy(update={"month_from": before[0], "month_to": before[1]})


def previous_months(month_from: str, month_to: str, *, first_month: str) -> tuple[str, str] | None:
    """The months of equal length just before `month_from`..`month_to` (YYYY-MM); None when
    they would start before the data's `first_month`."""
    first = _month_index(month_from)
    length = _month_index(month_to) - first + 1
    if first - length < _month_index(first_month):
        return None
    return _month_of(first - length), _month_of(first - 1)


def count_members(filters: OutcomeFilter, engine: Engine | Connection) -> int:
    """Distinct members enrolled in a selected program on at least one day of the range,
    before suppression."""
    models = filters.enrolled_models
    if filters.selects_nothing or not models:
        return 0
    conditions = [
        Program.program_model.in_(models),
        *filter_conditions(filters, state=Program.state_code, program=Program.program_id),
    ]
    if filters.month_to:
        after_end = _month_of(_month_index(filters.month_to) + 1)
        conditions.append(Enrollment.enrolled_on < _first_day(after_end))
    if filters.month_from:
        start = _first_day(filters.month_from)
        conditions.append(or_(Enrollment.ended_on.is_(None), Enrollment.ended_on >= start))
    statement = (
        select(func.count(func.distinct(Enrollment.member_id)).label("members"))
        .join(Program, Program.program_id == Enrollment.program_id)
        .where(*conditions)
    )
    if filters.conditions is not None:  # members joined only when needed (finding 4)
        statement = statement.join(Member, Member.member_id == Enrollment.member_id).where(
            Member.primary_condition.in_(filters.conditions)
        )
    return int(db.read_frame(statement, engine=engine)["members"].iloc[0])


def _members_differ(viewer: Viewer, filters: OutcomeFilter, members: int, engine: Engine) -> bool:
    """The differencing rule over a partner's count of members (differencing.py): a count
    of members they may ask for that holds this one differs by a small count, or the count
    is the one part its siblings give away."""

    def read() -> differencing.Enrolled:
        bounds = month_bounds(viewer=viewer, engine=engine)
        return differencing.Enrolled.build(
            _read_partner_enrollments(viewer, engine),
            granted=viewer.states or (),
            years=list(range(int(bounds[0][:4]), int(bounds[1][:4]) + 1)) if bounds else [],
            threshold=_threshold(),
        )

    key = (*_partner_key(viewer, engine), "enrollments")
    return differencing.members_hidden(_kept(_ENROLLED, key, read), filters, members=members)


# The partners' enrollments, coded for counting members, by the same keys as _ATOMS.
_ENROLLED: dict[tuple[object, ...], differencing.Enrolled] = {}


def _read_partner_enrollments(viewer: Viewer, engine: Engine) -> pd.DataFrame:
    statement = (
        select(
            Enrollment.member_id,
            Program.state_code,
            Program.program_model,
            Program.program_id,
            Member.primary_condition,
            Enrollment.enrolled_on,
            Enrollment.ended_on,
        )
        .join(Program, Program.program_id == Enrollment.program_id)
        .join(Member, Member.member_id == Enrollment.member_id)
        .where(Program.state_code.in_(viewer.states or ()))
    )
    frame = db.read_frame(statement, engine=engine)
    started = pd.to_datetime(frame["enrolled_on"])
    ended = pd.to_datetime(frame["ended_on"])
    frame["first_month"] = started.dt.year * 12 + started.dt.month - 1
    frame["last_month"] = (ended.dt.year * 12 + ended.dt.month - 1).astype("Float64")
    return frame.drop(columns=["enrolled_on", "ended_on"])


def enrolled_members(
    *,
    viewer: Viewer,
    filters: OutcomeFilter,
    small_cells: SmallCells = "suppress",
    engine: Engine | None = None,
) -> int | None:
    """Distinct members enrolled in a selected program on at least one day of the range;
    None when the count is suppressed (from 1 to the threshold - 1, or, for a partner, when
    a wider view they may ask for differs from it by such a count)."""
    filters = scope_filter(filters, viewer)[0]
    engine = db.resolve_engine(engine)
    # Imported here: the stored outputs are computed with modules that import this one.
    from data_access.impact_store import stored_members

    members = stored_members(filters, engine)
    if members is None:
        members = count_members(filters, engine)
    if must_suppress(viewer, small_cells):
        if 0 < members < _threshold():
            return None
        partner_rule = viewer.is_partner and DIFFERENCING_RULE and members > 0
        if partner_rule and _members_differ(viewer, filters, members, engine):
            return None
    return members


__all__ = [
    "MONTHLY_COLUMNS",
    "PREPOST_COLUMNS",
    "enrolled_members",
    "list_programs",
    "list_states",
    "month_bounds",
    "monthly_outcomes",
    "outcome_summary",
    "prepost_by_program",
    "previous_months",
    "previous_period",
]
