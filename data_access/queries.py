"""Read functions of the dashboard and the exports.

Each takes keyword-only arguments and one `OutcomeFilter`, runs its aggregation in the
database over the summary tables (see summaries.py) through `db.read_frame`, and returns a
small DataFrame whose columns are documented in the docstring. Ratios are computed here
from the unrounded integer sums, in one place, so every engine gives the same figures.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pandas as pd
from sqlalchemy import ColumnElement, Engine, and_, case, func, literal, or_, select, true
from sqlalchemy.sql.elements import Label

from data_access import db
from data_access.access import Viewer, must_suppress, national_filter, scope_filter
from data_access.errors import DisclosureRefused
from data_access.filters import OutcomeFilter
from data_access.models import (
    Enrollment,
    Member,
    Program,
    State,
    enrollment_outcomes,
    monthly_summary,
)
from data_access.settings import get_settings
from data_access.suppression import (
    SUPPRESSED_COLUMN,
    DisclosureRules,
    Margin,
    apply_suppression,
    hidden_cells,
)
from data_access.vocabulary import NOT_ENROLLED, Dimension, Period, SmallCells

# "filters": the viewer's states within the filters; "national": every state pooled into
# one line, the only figure beyond their states a state partner may see.
Scope = Literal["filters", "national"]

COUNT_COLUMNS = ("member_months", "admissions", "discharges", "inpatient_days", "readmissions_30d")
MONEY_COLUMNS = ("paid", "behavioral_paid", "medical_paid")
RATE_COLUMNS = (
    "admissions_per_1000_mm",
    "inpatient_days_per_1000_mm",
    "average_los",
    "readmission_rate_30d",
    "cost_pmpm",
    "behavioral_cost_pmpm",
    "medical_cost_pmpm",
)
MEASURE_COLUMNS = (*COUNT_COLUMNS, *MONEY_COLUMNS, *RATE_COLUMNS)
PREPOST_MEASURES = (
    "share_with_admission",
    "admissions_per_enrollment",
    "inpatient_days_per_enrollment",
    "average_los",
    "behavioral_paid_per_enrollment",
    "medical_paid_per_enrollment",
    "total_paid_per_enrollment",
    "paid_per_admission",
)
PREPOST_LEAD_COLUMNS = (
    "program_id",
    "program_name",
    "state_code",
    "program_model",
    "setting",
    "enrollments",
)
PREPOST_COLUMNS = (
    *PREPOST_LEAD_COLUMNS,
    *(
        f"{part}_{measure}"
        for measure in PREPOST_MEASURES
        for part in ("pre", "post", "change", "pct_change")
    ),
)
MONTHLY_COLUMNS = (
    "month",
    "state_code",
    "program_model",
    *COUNT_COLUMNS,
    *MONEY_COLUMNS,
    *RATE_COLUMNS[:5],
)


MEMBERS_LOWER_BOUND = "members_lower_bound"
MONTHLY_RULES = DisclosureRules(
    # In one month a cell's member-months are its members; over longer periods the busiest
    # month's member-months are a lower bound of the distinct members.
    basis=MEMBERS_LOWER_BOUND,
    counts=("admissions", "discharges", "inpatient_days", "readmissions_30d"),
    derived={
        "admissions_per_1000_mm": ("member_months", "admissions"),
        "inpatient_days_per_1000_mm": ("member_months", "inpatient_days"),
        "average_los": ("inpatient_days", "discharges"),
        "readmission_rate_30d": ("readmissions_30d", "discharges"),
        "cost_pmpm": ("member_months", "paid"),
        "behavioral_cost_pmpm": ("member_months", "behavioral_paid"),
        "medical_cost_pmpm": ("member_months", "medical_paid"),
    },
    additive=("member_months", *COUNT_COLUMNS[1:], *MONEY_COLUMNS),
    linked=(MONEY_COLUMNS,),
)
_PREPOST_COUNTS = ("with_admission", "admissions", "discharges", "inpatient_days")
PREPOST_RULES = DisclosureRules(
    basis="enrollments",
    counts=tuple(f"{window}_{count}" for window in ("pre", "post") for count in _PREPOST_COUNTS),
    derived={
        **{
            f"{window}_{measure}": tuple(
                {
                    "share_with_admission": ("enrollments", f"{window}_with_admission"),
                    "admissions_per_enrollment": ("enrollments", f"{window}_admissions"),
                    "inpatient_days_per_enrollment": ("enrollments", f"{window}_inpatient_days"),
                    "average_los": (f"{window}_inpatient_days", f"{window}_discharges"),
                    "behavioral_paid_per_enrollment": ("enrollments",),
                    "medical_paid_per_enrollment": ("enrollments",),
                    "total_paid_per_enrollment": ("enrollments",),
                    "paid_per_admission": (f"{window}_admissions",),
                }[measure]
            )
            for window in ("pre", "post")
            for measure in PREPOST_MEASURES
        },
        **{
            f"{part}_{measure}": (f"pre_{measure}", f"post_{measure}")
            for part in ("change", "pct_change")
            for measure in PREPOST_MEASURES
        },
    },
)


def _engine(engine: Engine | None) -> Engine:
    return engine if engine is not None else db.get_engine()


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as floats, NaN where the denominator is 0 (undefined)."""
    num = numerator.astype("float64")
    den = denominator.astype("float64")
    return (num / den.where(den != 0)).astype("float64")


def _plain_text_order(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Sort by the named columns as plain text (code points), as the contract asks."""
    if frame.empty or not columns:
        return frame.reset_index(drop=True)
    return frame.sort_values(
        columns, key=lambda col: col.fillna("").astype(str), kind="stable"
    ).reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Monthly measures


def _setting_total(measure: str, setting: str) -> ColumnElement[int]:
    columns = monthly_summary.c
    if setting == "all":
        return columns[f"{measure}_behavioral"] + columns[f"{measure}_medical"]
    return columns[f"{measure}_{setting}"]


def _monthly_conditions(filters: OutcomeFilter) -> list[ColumnElement[bool]]:
    columns = monthly_summary.c
    conditions: list[ColumnElement[bool]] = [columns.program_model.in_(filters.program_models)]
    if filters.states is not None:
        conditions.append(columns.state_code.in_(filters.states))
    if filters.program_ids is not None:
        conditions.append(
            or_(columns.program_id.is_(None), columns.program_id.in_(filters.program_ids))
        )
    if filters.conditions is not None:
        conditions.append(columns.primary_condition.in_(filters.conditions))
    if filters.month_from:
        conditions.append(columns.month >= filters.month_from)
    if filters.month_to:
        conditions.append(columns.month <= filters.month_to)
    return conditions


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


def add_monthly_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the contract's rates to a frame of summed counts and cents; money to dollars."""
    out = frame.copy()
    mm = out["member_months"]
    out["admissions_per_1000_mm"] = _ratio(out["admissions"] * 1000, mm)
    out["inpatient_days_per_1000_mm"] = _ratio(out["inpatient_days"] * 1000, mm)
    out["average_los"] = _ratio(out["inpatient_days"], out["discharges"])
    out["readmission_rate_30d"] = _ratio(out["readmissions_30d"], out["discharges"])
    out["cost_pmpm"] = _ratio(out["paid_cents"], mm * 100)
    out["behavioral_cost_pmpm"] = _ratio(out["behavioral_paid_cents"], mm * 100)
    out["medical_cost_pmpm"] = _ratio(out["medical_paid_cents"], mm * 100)
    for money in MONEY_COLUMNS:
        out[money] = out.pop(f"{money}_cents").astype("int64") / 100
    return out


def _scoped(filters: OutcomeFilter, viewer: Viewer, scope: Scope) -> OutcomeFilter:
    if scope == "national":
        return national_filter(filters)
    return scope_filter(filters, viewer)[0]


def _check_national(viewer: Viewer, by: tuple[Dimension, ...], engine: Engine) -> tuple[str, ...]:
    """A partner's national line is one pooled line that cannot be taken apart; the states
    outside the grant (none for other viewers)."""
    if not viewer.is_partner:
        return ()
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


def _threshold() -> int:
    return get_settings().small_cell_threshold


_SUMMED = (*COUNT_COLUMNS, "paid_cents", "behavioral_paid_cents", "medical_paid_cents")


def _rest_of_nation_hidden(
    outside: tuple[str, ...],
    national: OutcomeFilter,
    period: Period | None,
    by: tuple[Dimension, ...],
    frame: pd.DataFrame,
    engine: Engine,
) -> pd.DataFrame:
    """Cells of a partner's national line to hide, by the rest of the nation.

    National minus the partner's own states is the rest of the nation: where that is one
    state, the whole row goes (it would be that state's figures); where a cell of it is
    small, or derives from a small one, that cell goes (national minus the partner's line
    would give it).
    """
    keys: list[str] = ([period] if period else []) + list(by)
    columns = [c for c in MONTHLY_RULES.columns if c in frame.columns]
    none_hidden = pd.DataFrame(False, index=frame.index, columns=columns)
    rest_filter = national.model_copy(update={"states": outside})
    rest = _summed_months(rest_filter, period, by, engine)
    if rest.empty:  # nothing outside the grant: the national line is the partner's own
        return none_hidden
    per_state = _summed_months(rest_filter, period, (*by, "state_code"), engine)
    with_data = per_state[(per_state[list(_SUMMED)] != 0).any(axis=1)]
    if keys:
        states_with_data = with_data.groupby(keys).size().rename("states_with_data")
        rest = rest.merge(states_with_data, left_on=keys, right_index=True, how="left")
    else:
        rest["states_with_data"] = len(with_data)
    rest = add_monthly_rates(rest)
    rest_hidden = hidden_cells(rest, MONTHLY_RULES, threshold=_threshold())
    rest_hidden.loc[rest["states_with_data"].fillna(0) == 1, :] = True
    rest_hidden = rest_hidden.reindex(columns=columns, fill_value=False)
    if not keys:
        return pd.DataFrame(
            [rest_hidden.iloc[0].to_numpy()] * len(frame), index=frame.index, columns=columns
        )
    placed = frame[keys].merge(pd.concat([rest[keys], rest_hidden], axis=1), on=keys, how="left")
    placed.index = frame.index
    return placed[columns].fillna(False).astype(bool)


def _summed_months(
    filters: OutcomeFilter, period: Period | None, by: tuple[Dimension, ...], engine: Engine
) -> pd.DataFrame:
    """Integer sums by period and `by`, with `members_lower_bound` for suppression."""
    columns = monthly_summary.c
    setting = filters.setting
    behavioral_cents = (
        columns.admission_paid_cents_behavioral + columns.service_paid_cents_behavioral
    )
    medical_cents = columns.admission_paid_cents_medical + columns.service_paid_cents_medical
    keys: list[str] = ([period] if period else []) + list(by)
    key_columns = ([columns[period].label(period)] if period else []) + [_dimension(d) for d in by]
    sums = [
        func.sum(columns.member_months).label("member_months"),
        func.sum(_setting_total("admissions", setting)).label("admissions"),
        func.sum(_setting_total("discharges", setting)).label("discharges"),
        func.sum(_setting_total("inpatient_days", setting)).label("inpatient_days"),
        func.sum(_setting_total("readmissions_30d", setting)).label("readmissions_30d"),
        func.sum(behavioral_cents + medical_cents).label("paid_cents"),
        func.sum(behavioral_cents).label("behavioral_paid_cents"),
        func.sum(medical_cents).label("medical_paid_cents"),
    ]
    where = and_(true(), *_monthly_conditions(filters))
    if period == "month":
        statement = select(*key_columns, *sums).where(where).group_by(*key_columns)
    else:
        # Sum each month first: the busiest month's member-months bound the members below.
        by_month = (
            select(*key_columns, columns.month.label("by_month"), *sums)
            .where(where)
            .group_by(*key_columns, columns.month)
            .subquery()
        )
        statement = select(
            *[by_month.c[key] for key in keys],
            *[func.sum(by_month.c[s.name]).label(s.name) for s in sums],
            func.max(by_month.c.member_months).label(MEMBERS_LOWER_BOUND),
        ).group_by(*[by_month.c[key] for key in keys])
    frame = db.read_frame(statement, engine=engine)
    if frame.empty:
        return frame
    if period == "month":
        frame[MEMBERS_LOWER_BOUND] = frame["member_months"]
    for count in (
        *COUNT_COLUMNS,
        "paid_cents",
        "behavioral_paid_cents",
        "medical_paid_cents",
        MEMBERS_LOWER_BOUND,
    ):
        frame[count] = frame[count].fillna(0).astype("int64")
    return frame


# The cuts the dashboard serves, finest first: every output is a sum of cells of the finest
# (month x program model, per state or pooled), and of every cut between.
TIME_LEVELS: tuple[str, ...] = ("month", "quarter", "year", "range")
GROUP_LEVELS: tuple[str, ...] = ("program_model", "population", "all")
_FINER_TIME = {"month": None, "quarter": "month", "year": "quarter", "range": "month"}
_FINER_GROUP = {"program_model": None, "population": "program_model", "all": "population"}


def _cut_keys(finest: pd.DataFrame, time: str, group: str, states: list[str]) -> pd.DataFrame:
    month = finest["month"].astype(str)
    keys = pd.DataFrame(index=finest.index)
    if time == "quarter":
        keys["time"] = (
            month.str[:4] + "-Q" + ((month.str[5:7].astype(int) - 1) // 3 + 1).astype(str)
        )
    elif time in ("month", "year"):
        keys["time"] = month if time == "month" else month.str[:4]
    else:
        keys["time"] = "range"
    if group == "program_model":
        keys["group"] = finest["program_model"]
    elif group == "population":
        keys["group"] = finest["program_model"].where(
            finest["program_model"] == NOT_ENROLLED, "enrolled"
        )
    else:
        keys["group"] = "all"
    for state in states:
        keys[state] = finest[state]
    return keys


def _cut(finest: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """The finest rows summed to one cut; members bounded by the busiest month."""
    names = list(keys.columns)
    by_month = pd.concat([keys, finest[["month", *_SUMMED]]], axis=1)
    by_month = by_month.groupby([*names, "month"], as_index=False)[list(_SUMMED)].sum()
    sums = by_month.groupby(names).agg(
        **{c: (c, "sum") for c in _SUMMED},
        **{MEMBERS_LOWER_BOUND: ("member_months", "max")},
    )
    return add_monthly_rates(sums.reset_index())


def _consistent_hidden(
    filters: OutcomeFilter,
    period: Period | None,
    by: tuple[Dimension, ...],
    frame: pd.DataFrame,
    is_total: pd.Series,
    engine: Engine,
) -> pd.DataFrame | None:
    """Cells to hide so that no output gives back a cell another output suppresses.

    Cut by cut from the finest, a cell is hidden when it is small itself or when, among its
    parts in a finer cut the dashboard also serves (its months, its program models, its two
    populations), exactly one is hidden: shown, it would give that part back by subtraction
    (a quarter against its months, a pooled line against the not-enrolled line). Outputs by
    program, and the pooled rows of `with_total` (checked against their own parts), are left
    to their own rules.
    """
    if "program_id" in by:
        return None
    states = ["state_code"] if "state_code" in by else []
    finest_by: tuple[Dimension, ...] = (
        ("state_code", "program_model") if states else ("program_model",)
    )
    finest = _summed_months(filters, "month", finest_by, engine)
    if finest.empty:
        return None
    target_time = period or "range"
    target_group = (
        "program_model" if "program_model" in by else "population" if "population" in by else "all"
    )
    threshold = _threshold()
    status: dict[tuple[str, str], tuple[pd.DataFrame, pd.DataFrame]] = {}
    times = TIME_LEVELS[: TIME_LEVELS.index(target_time) + 1]
    if target_time == "range":
        times = ("month", "range")
    for group in GROUP_LEVELS[: GROUP_LEVELS.index(target_group) + 1]:
        for time in times:
            parent = _cut_keys(finest, time, group, states)
            cut = _cut(finest, parent)
            names = list(parent.columns)
            lonely = pd.DataFrame(False, index=cut.index, columns=list(MONTHLY_RULES.additive))
            for finer in (
                (_FINER_TIME[time], group) if _FINER_TIME[time] else None,
                (time, _FINER_GROUP[group]) if _FINER_GROUP[group] else None,
            ):
                if finer is None or finer not in status:
                    continue
                part_cut, part_hidden = status[finer]
                child = _cut_keys(finest, *finer, states)
                link = pd.concat([parent, child.add_prefix("child_")], axis=1).drop_duplicates()
                child_names = [f"child_{n}" for n in names]
                flags = pd.concat(
                    [part_cut[names].add_prefix("child_"), part_hidden[lonely.columns]], axis=1
                )
                counted = link.merge(flags, on=child_names, how="inner")
                per_parent = counted.groupby(names)[list(lonely.columns)].sum() == 1
                placed = cut[names].merge(per_parent, left_on=names, right_index=True, how="left")
                lonely = lonely | placed[lonely.columns].fillna(False).astype(bool).to_numpy()
            hidden = hidden_cells(cut, MONTHLY_RULES, threshold=threshold, also_hidden=lonely)
            status[(time, group)] = (cut, hidden)
    cut, hidden = status[(target_time, target_group)]
    rename: dict[str, str] = {"time": period} if period else {}
    if target_group != "all":
        rename["group"] = target_group
    table = pd.concat([cut[["time", "group", *states]], hidden], axis=1)
    table = table.rename(columns=rename)
    if "population" in by and "population" not in table.columns:  # by model and population
        models = table["program_model"]
        table["population"] = models.where(models == NOT_ENROLLED, "enrolled")
    out_keys: list[str] = ([period] if period else []) + list(by)
    columns = list(hidden.columns)
    out = pd.DataFrame(False, index=frame.index, columns=columns)
    rows = ~is_total
    if out_keys:
        placed = frame.loc[rows, out_keys].merge(table, on=out_keys, how="left")[columns]
    else:
        placed = pd.DataFrame(
            [table[columns].iloc[0].to_numpy()] * int(rows.sum()), columns=columns
        )
    out.loc[rows, columns] = placed.fillna(False).astype(bool).to_numpy()
    return out


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
    engine = _engine(engine)
    keys: list[str] = ([period] if period else []) + list(by)
    shown = keys + list(MEASURE_COLUMNS)
    outside = _check_national(viewer, by, engine) if scope == "national" else ()
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
    if must_suppress(viewer, small_cells):
        also_hidden = (
            _rest_of_nation_hidden(outside, filters, period, by, frame, engine)
            if outside
            else _consistent_hidden(filters, period, by, frame, is_total, engine)
        )
        frame = apply_suppression(
            frame,
            MONTHLY_RULES,
            threshold=_threshold(),
            shown=shown,
            margins=margins,
            also_hidden=also_hidden,
        )
    else:
        frame = frame[shown].assign(**{SUPPRESSED_COLUMN: ""})
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


# ---------------------------------------------------------------------------------------
# Pre/post analysis


def _window_sums(window: str, setting: str) -> list[Label[int]]:
    columns = enrollment_outcomes.c

    def admission_measure(measure: str) -> ColumnElement[int]:
        if setting == "all":
            return (
                columns[f"{window}_{measure}_behavioral"] + columns[f"{window}_{measure}_medical"]
            )
        return columns[f"{window}_{measure}_{setting}"]

    admissions = admission_measure("admissions")
    return [
        func.sum(case((admissions > 0, 1), else_=0)).label(f"{window}_with_admission"),
        func.sum(admissions).label(f"{window}_admissions"),
        func.sum(admission_measure("discharges")).label(f"{window}_discharges"),
        func.sum(admission_measure("inpatient_days")).label(f"{window}_inpatient_days"),
        func.sum(admission_measure("admission_paid_cents")).label(f"{window}_admission_cents"),
        func.sum(
            columns[f"{window}_admission_paid_cents_behavioral"]
            + columns[f"{window}_service_paid_cents_behavioral"]
        ).label(f"{window}_behavioral_cents"),
        func.sum(
            columns[f"{window}_admission_paid_cents_medical"]
            + columns[f"{window}_service_paid_cents_medical"]
        ).label(f"{window}_medical_cents"),
    ]


def _prepost_measures(sums: pd.DataFrame, window: str) -> dict[str, pd.Series]:
    n = sums["enrollments"]

    def total(name: str) -> pd.Series:
        return sums[f"{window}_{name}"]

    return {
        "share_with_admission": _ratio(total("with_admission"), n),
        "admissions_per_enrollment": _ratio(total("admissions"), n),
        "inpatient_days_per_enrollment": _ratio(total("inpatient_days"), n),
        "average_los": _ratio(total("inpatient_days"), total("discharges")),
        "behavioral_paid_per_enrollment": _ratio(total("behavioral_cents"), n * 100),
        "medical_paid_per_enrollment": _ratio(total("medical_cents"), n * 100),
        "total_paid_per_enrollment": _ratio(
            total("behavioral_cents") + total("medical_cents"), n * 100
        ),
        "paid_per_admission": _ratio(total("admission_cents"), total("admissions") * 100),
    }


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
    outcomes = enrollment_outcomes.c
    enrollment_conditions: list[ColumnElement[bool]] = [outcomes.analysable == true()]
    if filters.conditions is not None:
        enrollment_conditions.append(outcomes.primary_condition.in_(filters.conditions))
    if filters.month_from:
        enrollment_conditions.append(outcomes.enrolled_month >= filters.month_from)
    if filters.month_to:
        enrollment_conditions.append(outcomes.enrolled_month <= filters.month_to)
    per_program = (
        select(
            outcomes.program_id,
            func.count().label("enrollments"),
            *_window_sums("pre", filters.setting),
            *_window_sums("post", filters.setting),
        )
        .where(*enrollment_conditions)
        .group_by(outcomes.program_id)
        .subquery()
    )
    program_conditions: list[ColumnElement[bool]] = [
        Program.program_model.in_(filters.program_models)
    ]
    if filters.states is not None:
        program_conditions.append(Program.state_code.in_(filters.states))
    if filters.program_ids is not None:
        program_conditions.append(Program.program_id.in_(filters.program_ids))
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
    sums = db.read_frame(statement, engine=_engine(engine))
    if sums.empty:
        return _empty([*PREPOST_COLUMNS, SUPPRESSED_COLUMN])
    for column in sum_columns:
        sums[column.name] = sums[column.name].astype("int64")
    out = sums[["program_id", "program_name", "state_code", "program_model"]].copy()
    out["setting"] = filters.setting
    out["enrollments"] = sums["enrollments"]
    pre, post = _prepost_measures(sums, "pre"), _prepost_measures(sums, "post")
    for measure in PREPOST_MEASURES:
        out[f"pre_{measure}"] = pre[measure]
        out[f"post_{measure}"] = post[measure]
        out[f"change_{measure}"] = post[measure] - pre[measure]
        out[f"pct_change_{measure}"] = _ratio((post[measure] - pre[measure]) * 100, pre[measure])
    if must_suppress(viewer, small_cells):
        helpers = sums[[name for name in PREPOST_RULES.counts]]
        out = apply_suppression(
            pd.concat([out, helpers], axis=1),
            PREPOST_RULES,
            threshold=_threshold(),
            shown=PREPOST_COLUMNS,
        )
    else:
        out = out[list(PREPOST_COLUMNS)].assign(**{SUPPRESSED_COLUMN: ""})
    return _plain_text_order(out, ["state_code", "program_id"])


# ---------------------------------------------------------------------------------------
# Reference data and status


def list_states(*, viewer: Viewer, engine: Engine | None = None) -> pd.DataFrame:
    """The states the viewer may see. Columns: `state_code`, `state_name`; by state_code."""
    statement = select(State.state_code, State.state_name)
    if viewer.states is not None:
        statement = statement.where(State.state_code.in_(viewer.states))
    return _plain_text_order(db.read_frame(statement, engine=_engine(engine)), ["state_code"])


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
    frame = db.read_frame(statement, engine=_engine(engine))
    return _plain_text_order(frame, ["state_code", "program_id"])


def month_bounds(*, viewer: Viewer, engine: Engine | None = None) -> tuple[str, str] | None:
    """The first and last month (YYYY-MM) with data, or None when the database is empty.

    The same for every viewer: the extract's months are not a figure of any state.
    """
    del viewer
    statement = select(func.min(monthly_summary.c.month), func.max(monthly_summary.c.month))
    row = db.read_frame(statement, engine=_engine(engine)).iloc[0]
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
    first = _month_index(filters.month_from or bounds[0])
    last = _month_index(filters.month_to or bounds[1])
    length = last - first + 1
    if first - length < _month_index(bounds[0]):
        return None
    return filters.model_copy(
        update={"month_from": _month_of(first - length), "month_to": _month_of(first - 1)}
    )


def enrolled_members(
    *,
    viewer: Viewer,
    filters: OutcomeFilter,
    small_cells: SmallCells = "suppress",
    engine: Engine | None = None,
) -> int | None:
    """Distinct members enrolled in a selected program on at least one day of the range;
    None when the count is suppressed (from 1 to the threshold - 1)."""
    filters = scope_filter(filters, viewer)[0]
    models = [m for m in filters.program_models if m != NOT_ENROLLED]
    if filters.selects_nothing or not models:
        return 0
    conditions: list[ColumnElement[bool]] = [Program.program_model.in_(models)]
    if filters.states is not None:
        conditions.append(Program.state_code.in_(filters.states))
    if filters.program_ids is not None:
        conditions.append(Program.program_id.in_(filters.program_ids))
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
    members = int(db.read_frame(statement, engine=_engine(engine))["members"].iloc[0])
    if must_suppress(viewer, small_cells) and 0 < members < _threshold():
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
    "previous_period",
]
