"""The matched comparison month by month (event study) and its balance, at query time.

Both read tables built at load by impact.rebuild_impact:

- `event_study`: impact_months (per matched enrollment and month relative to its index
  date, its own sums and its matches' sums), summed in the database per program model and
  relative month, with sums of squares for the 95% bands; the all-programs rows add the
  models' sums up. Two or more whole states add up each state's sums, stored at load.
- `balance_by_unit`: each matching variable's standardized mean difference before matching
  (the analysable enrollments against the comparison candidates of their exact-match cells,
  impact_cells) and after it (the matched enrollments against their matches, the moments of
  impact_enrollments), per program, program model and all programs.

docs/methods.md explains both; what a partner may see is scoped and suppressed here as in
impact.impact_by_unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from statistics import NormalDist
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Double,
    Engine,
    Numeric,
    and_,
    case,
    cast,
    func,
    select,
    true,
)

from data_access import db
from data_access.access import SmallCells, Viewer, must_suppress
from data_access.filters import OutcomeFilter
from data_access.impact import (
    MONTH_SUMS_OUTPUT,
    _comparison_members,
    _conditions,
    _programs,
    composed_comparison_members,
    evaluation_filters,
    matching_scale,
    read_stored_states,
    stored_or_computed,
)
from data_access.models import impact_cells, impact_enrollments, impact_months
from data_access.queries import filter_conditions
from data_access.settings import get_settings
from data_access.suppression import (
    SUPPRESSED_COLUMN,
    DisclosureRules,
    Margin,
    apply_suppression,
    unit_margins,
)
from data_access.vocabulary import (
    CONFIDENCE_LEVEL,
    EVENT_STUDY_MEASURES,
    EVENT_STUDY_MONTHS,
    MATCHING_VARIABLES,
    PROGRAM_MODELS,
    EventStudyMeasure,
)

RELATIVE_MONTHS: Final = (
    *range(-EVENT_STUDY_MONTHS, 0),
    *range(1, EVENT_STUDY_MONTHS + 1),
)
EVENT_STUDY_COLUMNS: Final = (
    "level",
    "program_model",
    "measure",
    "relative_month",
    "matched_enrollments",
    "comparison_members",
    "enrolled_mean",
    "enrolled_ci_low",
    "enrolled_ci_high",
    "comparison_mean",
    "comparison_ci_low",
    "comparison_ci_high",
)
# A month's figures are means over the unit's matched enrollments; the admissions counted in
# it are counts (suppressed from 1 to threshold - 1), paid has none. As in
# impact.IMPACT_RULES, the unmatched enrollments are a count too (prepost's figures over all
# enrollments less these would give theirs), and the months of a window add up to
# impact_by_unit's window figure: helper rows hold each window's total (`window`), so that
# one hidden month is never the window less the shown months.
EVENT_STUDY_RULES: Final = DisclosureRules(
    basis="enrollments",
    counts=(
        "enrollments",
        "matched_enrollments",
        "unmatched_enrollments",
        "matched_basis",
        "comparison_members",
        "enrolled_events",
        "comparison_events",
    ),
    derived={
        "matched_enrollments": ("matched_basis", "unmatched_enrollments"),
        "enrolled_mean": ("matched_basis", "unmatched_enrollments", "enrolled_events"),
        "enrolled_ci_low": ("enrolled_mean",),
        "enrolled_ci_high": ("enrolled_mean",),
        "comparison_mean": (
            "matched_basis",
            "comparison_members",
            "unmatched_enrollments",
            "comparison_events",
        ),
        "comparison_ci_low": ("comparison_mean",),
        "comparison_ci_high": ("comparison_mean",),
    },
    additive=(
        "enrollments",
        "matched_enrollments",
        "unmatched_enrollments",
        "matched_basis",
        "enrolled_events",
        "comparison_events",
    ),
)
BALANCE_COLUMNS: Final = (
    "level",
    "state_code",
    "program_model",
    "program_id",
    "variable",
    "std_diff_before",
    "std_diff_after",
)
BALANCE_RULES: Final = DisclosureRules(
    basis="enrollments",
    counts=("enrollments", "matched_enrollments", "pooled_enrollments"),
    derived={
        "std_diff_before": ("pooled_enrollments",),
        "std_diff_after": ("matched_enrollments",),
    },
    additive=("enrollments", "matched_enrollments", "pooled_enrollments"),
)
_Z: Final = NormalDist().inv_cdf(1 - (1 - CONFIDENCE_LEVEL) / 2)


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in (*columns, SUPPRESSED_COLUMN)})


# ---------------------------------------------------------------------------------------
# Event study


def _month_value(measure: EventStudyMeasure, group: str, setting: str) -> object:
    """A month's value of one enrollment (enrolled) or the sum over its matches."""
    columns = impact_months.c
    if measure == "total_paid_per_enrollment":
        return columns[f"{group}_paid_cents"]
    if setting == "all":
        return columns[f"{group}_admissions_behavioral"] + columns[f"{group}_admissions_medical"]
    return columns[f"{group}_admissions_{setting}"]


# The squares' sums of the per-state sums stored at load (`state_month_sums`) are exact on
# both engines; SQLite's are split (see `_square_sums`).
SquareSums = Literal["float", "numeric", "split"]


def _square_sums(value: Any, label: str, squares: SquareSums) -> list[Any]:
    """The sum of the squares of an integer `value`: as a numeric (PostgreSQL, exact), as a
    float, or split in three 64-bit integer sums (SQLite, exact, `_square_total` joins them):
    with v = h * 2^16 + l, v^2 = h^2 * 2^32 + h * l * 2^17 + l^2."""
    if squares == "numeric":
        # Multiplied as numeric too: a bigint product overflows from about $30M.
        exact = cast(value, Numeric)
        return [func.sum(exact * exact).label(label)]
    if squares == "float":
        return [func.sum(cast(value, Double) * cast(value, Double)).label(label)]
    high, low = value.op(">>")(16), value.op("&")(0xFFFF)
    return [
        func.sum(high * high).label(f"{label}__hh"),
        func.sum(high * low).label(f"{label}__hl"),
        func.sum(low * low).label(f"{label}__ll"),
    ]


def _square_total(record: dict[Any, Any], label: str) -> object:
    """A square sum of `_square_sums` from a row: the split sums joined into one integer."""
    if label in record:
        return record[label]
    return (
        (int(record[f"{label}__hh"]) << 32)
        + (int(record[f"{label}__hl"]) << 17)
        + int(record[f"{label}__ll"])
    )


def _sums_by_matches(
    filters: OutcomeFilter,
    models: Sequence[str],
    engine: Engine | Connection,
    squares: SquareSums,
) -> pd.DataFrame:
    """Per program model, relative month and number of matches: for each measure the
    integer totals of the enrolled and comparison values over the matched enrollments
    (`<measure>__<group>_total`), and their squares' (`..._square_total`), summed as
    `squares` says."""
    sums = []
    for measure in EVENT_STUDY_MEASURES:
        for group in ("enrolled", "comparison"):
            value: Any = _month_value(measure, group, filters.setting)
            sums += [
                func.sum(value).label(f"{measure}__{group}_total"),
                *_square_sums(value, f"{measure}__{group}_square_total", squares),
            ]
    columns = impact_enrollments.c
    keys = (columns.program_model, impact_months.c.relative_month, columns.matches)
    statement = (
        select(*keys, *sums)
        .select_from(
            impact_enrollments.join(
                impact_months, impact_months.c.enrollment_id == columns.enrollment_id
            )
        )
        .where(columns.matches > 0, *_conditions(filters, models))
        .group_by(*keys)
        .order_by(*keys)
    )
    records = db.read_frame(statement, engine=engine).to_dict("records")
    return pd.DataFrame.from_records(
        [
            {
                **{key: record[key] for key in _BY_MATCHES_KEYS},
                **{name: _square_total(record, name) for name in _BY_MATCHES_SUMS},
            }
            for record in records
        ],
        columns=[*_BY_MATCHES_KEYS, *_BY_MATCHES_SUMS],
    )


_BY_MATCHES_KEYS: Final = ("program_model", "relative_month", "matches")
_BY_MATCHES_SUMS: Final = tuple(
    f"{measure}__{group}_{total}"
    for measure in EVENT_STUDY_MEASURES
    for group in ("enrolled", "comparison")
    for total in ("total", "square_total")
)


def _month_sums(
    filters: OutcomeFilter, models: Sequence[str], engine: Engine | Connection
) -> pd.DataFrame:
    """Per program model and relative month (in that order): for each measure the sums over
    the matched enrollments of the enrolled value and of the comparison value (the mean of
    its matches), and of their squares, as floats; and the events summed, as integers.

    The database sums integers only, per number of matches (exact, in any order: a float sum
    in a parallel plan's order changed in the 12th digit from one read to the next on
    PostgreSQL); the comparison means are then added up here with `math.fsum`, whose result
    does not depend on the order either. Squares of cents can outgrow a bigint: PostgreSQL
    sums them as numeric (exact), SQLite as floats (its one-threaded scans keep one order;
    the per-state sums stored at load are exact, `state_month_sums`)."""
    squares: SquareSums = "numeric" if engine.dialect.name == "postgresql" else "float"
    return _per_month(_sums_by_matches(filters, models, engine, squares))


def _per_month(by_matches: pd.DataFrame) -> pd.DataFrame:
    """`_month_sums`' rows from the sums per (model, month, number of matches)."""
    parts: dict[tuple[str, int], list[dict[Any, Any]]] = {}
    for record in by_matches.to_dict("records"):
        key = (str(record["program_model"]), int(record["relative_month"]))
        parts.setdefault(key, []).append(record)
    out: list[dict[str, object]] = []
    for (model, month), group in sorted(parts.items()):
        row: dict[str, object] = {"program_model": model, "relative_month": month}
        for measure in EVENT_STUDY_MEASURES:
            enrolled = sum(int(part[f"{measure}__enrolled_total"]) for part in group)
            compared = sum(int(part[f"{measure}__comparison_total"]) for part in group)
            row[f"{measure}__enrolled_sum"] = float(enrolled)
            row[f"{measure}__enrolled_squares"] = math.fsum(
                _number(part[f"{measure}__enrolled_square_total"]) for part in group
            )
            row[f"{measure}__comparison_sum"] = math.fsum(
                _number(part[f"{measure}__comparison_total"]) / int(part["matches"])
                for part in group
            )
            row[f"{measure}__comparison_squares"] = math.fsum(
                _number(part[f"{measure}__comparison_square_total"]) / int(part["matches"]) ** 2
                for part in group
            )
            # The events (admissions; none for money), for small-cell suppression.
            money = measure == "total_paid_per_enrollment"
            row[f"{measure}__enrolled_events"] = 0 if money else enrolled
            row[f"{measure}__comparison_events"] = 0 if money else compared
        out.append(row)
    return pd.DataFrame(out, columns=list(_MONTH_SUM_COLUMNS))


def _number(value: object) -> int | float:
    """An exact integer sum as an int (PostgreSQL's numeric arrives as a Decimal), a float
    sum as it is; int / int then rounds once."""
    if isinstance(value, (int, Decimal)):
        return int(value)
    return float(value)  # type: ignore[arg-type]


_MONTH_SUM_COLUMNS: Final = (
    "program_model",
    "relative_month",
    *[
        f"{measure}__{name}"
        for measure in EVENT_STUDY_MEASURES
        for name in (
            "enrolled_sum",
            "enrolled_squares",
            "comparison_sum",
            "comparison_squares",
            "enrolled_events",
            "comparison_events",
        )
    ],
)


def _unit_counts(
    filters: OutcomeFilter, models: Sequence[str], engine: Engine | Connection
) -> pd.DataFrame:
    """Analysable (`enrollments`) and matched (`matched`) enrollments per program model."""
    columns = impact_enrollments.c
    matched = func.sum(case((columns.matches > 0, 1), else_=0))
    statement = (
        select(
            columns.program_model,
            func.count().label("enrollments"),
            matched.label("matched"),
        )
        .where(true(), *_conditions(filters, models))
        .group_by(columns.program_model)
    )
    frame = db.read_frame(statement, engine=engine)
    return frame.set_index("program_model").astype("int64")


def _band(total: float, squares: float, n: int) -> tuple[float, float, float]:
    """Mean and normal 95% interval of n values from their sum and sum of squares."""
    if n == 0:
        return (np.nan, np.nan, np.nan)
    mean = total / n
    if n < 2:
        return (mean, np.nan, np.nan)
    variance = max(squares - total * total / n, 0.0) / (n - 1)
    half = _Z * np.sqrt(variance / n)
    return (mean, mean - half, mean + half)


def event_study(
    *,
    viewer: Viewer,
    filters: OutcomeFilter,
    small_cells: SmallCells = "suppress",
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The matched enrollments' mean per enrollment in each month relative to the index date
    (-6..-1 before, +1..+6 from it on; there is no month 0) against their matched
    comparison's, each with a normal 95% interval, per program model and for all selected
    programs, for each of EVENT_STUDY_MEASURES (admissions follow the setting; total paid in
    dollars never does).

    Columns: `EVENT_STUDY_COLUMNS` (`program_model` empty on the `all` rows; counts as
    integers, figures as floats) and `suppressed`. An enrollment's comparison value is the
    mean over its matches; each enrollment weighs the same. The interval is mean +/- 1.96
    standard errors of the per-enrollment values (sums and sums of squares from the
    database), ignoring that a member may have several enrollments. Filters as for
    impact_by_unit. Ordered by level (program_model, all), model, measure, relative month.
    Suppressed as `EVENT_STUDY_RULES` say, the all rows being the totals of the model rows.
    """
    engine = db.resolve_engine(engine)
    filters, models = evaluation_filters(filters, viewer)
    if filters.selects_nothing or not models:
        return _empty(EVENT_STUDY_COLUMNS)
    payload = stored_or_computed(
        "event_study", filters, models, engine, lambda: event_study_payload(filters, models, engine)
    )
    if payload is None:
        return _empty(EVENT_STUDY_COLUMNS)
    return _event_study_output(payload, viewer, small_cells)


def state_month_sums(filters: OutcomeFilter, conn: Connection) -> dict[str, Any]:
    """One state's (the filters': one state, the opening months) sums per program model,
    relative month and number of matches (`_sums_by_matches`, every program model, squares
    exact on both engines) and its analysable and matched enrollments per model
    (`_unit_counts`): what the event study of several whole states adds up
    (`_composed_parts`). Plain integers (stored as JSON in impact_frames)."""
    exact: SquareSums = "numeric" if conn.dialect.name == "postgresql" else "split"
    sums = _sums_by_matches(filters, PROGRAM_MODELS, conn, exact)
    counts = _unit_counts(filters, PROGRAM_MODELS, conn)
    return {
        "rows": [
            [str(row[0]), *(int(value) for value in row[1:])]
            for row in sums.itertuples(index=False)
        ],
        "counts": {
            str(model): [int(row["enrollments"]), int(row["matched"])]
            for model, row in counts.iterrows()
        },
    }


def _composed_parts(
    filters: OutcomeFilter, models: Sequence[str], engine: Engine | Connection
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """`_unit_counts` and `_sums_by_matches` of two or more whole states over the stored
    months, added up from each state's stored `state_month_sums` (integers, so the same
    totals in any order); None when the filters are not such states or one is not stored."""
    payloads = read_stored_states(MONTH_SUMS_OUTPUT, filters.setting, filters, engine)
    if payloads is None:
        return None
    chosen = set(models)
    totals: dict[tuple[str, int, int], list[int]] = {}
    counts: dict[str, list[int]] = {}
    for payload in payloads.values():
        for model, month, matches, *values in payload["rows"]:
            if model in chosen:
                summed = totals.setdefault((model, month, matches), [0] * len(values))
                for position, value in enumerate(values):
                    summed[position] += value
        for model, (enrollments, matched) in payload["counts"].items():
            if model in chosen:
                pair = counts.setdefault(model, [0, 0])
                pair[0] += enrollments
                pair[1] += matched
    by_matches = pd.DataFrame.from_records(
        [(*key, *values) for key, values in sorted(totals.items())],
        columns=[*_BY_MATCHES_KEYS, *_BY_MATCHES_SUMS],
    )
    unit_counts = pd.DataFrame.from_records(
        [(model, *pair) for model, pair in sorted(counts.items())],
        columns=["program_model", "enrollments", "matched"],
    )
    return unit_counts.set_index("program_model").astype("int64"), by_matches


_WINDOWS: Final = {
    "pre": [m for m in RELATIVE_MONTHS if m < 0],
    "post": [m for m in RELATIVE_MONTHS if m > 0],
}


def event_study_payload(
    filters: OutcomeFilter,
    models: Sequence[str],
    engine: Engine | Connection,
    *,
    comparison_members: dict[str, int] | None = None,
) -> dict[str, Any] | None:
    """`event_study`'s rows before suppression (`records`, with the windows' helper rows) and
    its program models (`present`); None when no program is selected. Plain values only
    (stored as JSON in impact_frames). `comparison_members`: impact's, when known. Two or
    more whole states over the stored months are summed from each state's stored sums
    (`state_month_sums`), the same integers the database would sum over their rows."""
    present = sorted(set(_programs(filters, models, engine)["program_model"]))
    if not present:
        return None
    composed = _composed_parts(filters, models, engine)
    if composed is None:
        counts = _unit_counts(filters, models, engine)
        sums = _month_sums(filters, models, engine)
    else:
        counts, by_matches = composed
        sums = _per_month(by_matches)
    sums = sums.set_index(["program_model", "relative_month"])
    members = comparison_members
    if members is None:
        members = composed_comparison_members(filters, models, engine)
    if members is None:
        members = _comparison_members(filters, models, engine)
    # Each summed column as an array, and the row of each (model, month): a span's total
    # sums its rows in the frame's order, as a pandas sum over the picked rows would.
    columns = {name: sums[name].to_numpy() for name in sums.columns}
    row_of = {key: row for row, key in enumerate(sums.index)}
    units: list[tuple[str, str | None, list[str]]] = [
        ("program_model", model, [model]) for model in present
    ]
    units.append(("all", None, present))
    # The months, then per unit and measure the two windows' totals (helpers, dropped).
    windows = _WINDOWS
    records: list[dict[str, object]] = []
    for level, model, parts in units:
        n = int(sum(int(counts["matched"].get(part, 0)) for part in parts))
        analysable = int(sum(int(counts["enrollments"].get(part, 0)) for part in parts))
        unit_members = members[f"program_model|{model}" if model else "all|"] if n else 0
        for measure in EVENT_STUDY_MEASURES:
            scale = 100.0 if measure == "total_paid_per_enrollment" else 1.0
            spans = [(str(month), [month]) for month in RELATIVE_MONTHS] + list(windows.items())
            for label, span in spans:
                picked = sorted(
                    row_of[(part, m)] for part in parts for m in span if (part, m) in row_of
                )
                total = {
                    name: float(columns[name][picked].sum())
                    for name in columns
                    if name.startswith(f"{measure}__")
                }
                enrolled = _band(
                    float(total[f"{measure}__enrolled_sum"]) / scale,
                    float(total[f"{measure}__enrolled_squares"]) / scale**2,
                    n,
                )
                comparison = _band(
                    float(total[f"{measure}__comparison_sum"]) / scale,
                    float(total[f"{measure}__comparison_squares"]) / scale**2,
                    n,
                )
                records.append(
                    {
                        "level": level,
                        "program_model": model,
                        "measure": measure,
                        "relative_month": span[0] if len(span) == 1 else 0,
                        "matched_enrollments": n,
                        "comparison_members": unit_members,
                        "enrolled_mean": enrolled[0],
                        "enrolled_ci_low": enrolled[1],
                        "enrolled_ci_high": enrolled[2],
                        "comparison_mean": comparison[0],
                        "comparison_ci_low": comparison[1],
                        "comparison_ci_high": comparison[2],
                        "window": "" if len(span) == 1 else label,
                        "enrollments": analysable,
                        "unmatched_enrollments": analysable - n,
                        "matched_basis": n,
                        "enrolled_events": round(float(total[f"{measure}__enrolled_events"])),
                        "comparison_events": round(float(total[f"{measure}__comparison_events"])),
                    }
                )
    return {"records": records, "present": present}


def _event_study_output(
    payload: dict[str, Any], viewer: Viewer, small_cells: SmallCells
) -> pd.DataFrame:
    """`event_study`'s frame of a payload (`event_study_payload`), suppressed as asked."""
    present, windows = payload["present"], _WINDOWS
    frame = pd.DataFrame.from_records(payload["records"])
    for column in ("relative_month", "matched_enrollments", "comparison_members"):
        frame[column] = frame[column].astype("int64")
    months = frame["window"] == ""
    if not must_suppress(viewer, small_cells):
        out = frame.loc[months, list(EVENT_STUDY_COLUMNS)].assign(**{SUPPRESSED_COLUMN: ""})
        return out.reset_index(drop=True)
    position = {
        key: i
        for i, key in enumerate(
            zip(
                frame["level"],
                frame["program_model"].fillna(""),
                frame["measure"],
                frame["relative_month"].astype(int),
                frame["window"],
                strict=True,
            )
        )
    }
    margins = []
    for measure in EVENT_STUDY_MEASURES:
        for model in [*present, ""]:
            level = "program_model" if model else "all"
            # The models add up to all programs, month by month and window by window.
            for month, window in [(m, "") for m in RELATIVE_MONTHS] + [(0, w) for w in windows]:
                if not model:
                    margins.append(
                        Margin(
                            total=position[("all", "", measure, month, window)],
                            parts=tuple(
                                position[("program_model", m, measure, month, window)]
                                for m in present
                            ),
                        )
                    )
            # A window is the total of its months.
            for window, span in windows.items():
                margins.append(
                    Margin(
                        total=position[(level, model, measure, 0, window)],
                        parts=tuple(position[(level, model, measure, m, "")] for m in span),
                    )
                )
    out = apply_suppression(
        frame,
        EVENT_STUDY_RULES,
        threshold=get_settings().small_cell_threshold,
        shown=EVENT_STUDY_COLUMNS,
        margins=margins,
    )
    return out[months.to_numpy()].reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Balance


def standardized_difference(x: np.ndarray, mean_c: np.ndarray, square_c: np.ndarray) -> float:
    """|mean of x - comparison mean| over the root of the mean of the two variances; the
    comparison is a mixture of one distribution per enrollment (its per-enrollment mean
    and mean square). 0 when neither varies nor differs, NaN when undefined."""
    if len(x) == 0:
        return float("nan")
    return _standardized(x.mean(), x.var(), mean_c.mean(), square_c.mean())


def _standardized(x_mean: float, x_var: float, mean_c: float, square_c: float) -> float:
    """`standardized_difference` from the four means (enrolled mean and variance,
    comparison mean and mean square)."""
    comparison_mean = float(mean_c)
    comparison_var = max(float(square_c) - comparison_mean**2, 0.0)
    difference = float(x_mean) - comparison_mean
    spread = np.sqrt((float(x_var) + comparison_var) / 2)
    if spread == 0:
        return 0.0 if difference == 0 else float("nan")
    return float(abs(difference) / spread)


def _balance_rows(
    filters: OutcomeFilter, models: Sequence[str], engine: Engine | Connection
) -> pd.DataFrame:
    """One row per analysable enrollment of the filters: its keys, matches, matching
    variables, its matches' moments and its cell's candidate moments (NULL: no candidate)."""
    columns = impact_enrollments.c
    cells = impact_cells.c
    statement = (
        select(
            columns.enrollment_id,
            columns.program_id,
            columns.state_code,
            columns.program_model,
            columns.matches,
            *[columns[name] for name in MATCHING_VARIABLES],
            *[
                columns[f"comparison_{m}_{name}"]
                for m in ("mean", "meansq")
                for name in MATCHING_VARIABLES
            ],
            *[cells[f"pool_{m}_{name}"] for m in ("mean", "meansq") for name in MATCHING_VARIABLES],
        )
        .select_from(
            impact_enrollments.outerjoin(
                impact_cells,
                and_(
                    cells.state_code == columns.state_code,
                    cells.enrolled_month == columns.enrolled_month,
                    cells.primary_condition == columns.primary_condition,
                    cells.age_band == columns.age_band,
                    # Implied by the join and the WHERE, but said again on the cells' side:
                    # PostgreSQL then reads only the filters' cells by their key instead of
                    # hashing every cell (7 of the statement's 9 ms at 0.9M claims).
                    *filter_conditions(
                        filters,
                        state=cells.state_code,
                        condition=cells.primary_condition,
                        month=cells.enrolled_month,
                    ),
                ),
            )
        )
        .where(true(), *_conditions(filters, models))
    )
    frame = db.read_frame(statement, engine=engine)
    return frame.sort_values("enrollment_id", kind="stable").reset_index(drop=True)


class _BalanceRows:
    """The balance rows as arrays, one column per enrollment in the rows' order: each unit
    takes its columns by position and reduces them as it would reduce its own rows."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.matched = rows["matches"].astype("int64").to_numpy() > 0
        self.pooled = rows[f"pool_mean_{MATCHING_VARIABLES[0]}"].notna().to_numpy()
        self.scaled = np.ascontiguousarray(matching_scale(rows).T)
        self.moments = {
            f"{prefix}_{moment}": np.vstack(
                [
                    rows[f"{prefix}_{moment}_{name}"].to_numpy(dtype="float64")
                    for name in MATCHING_VARIABLES
                ]
            )
            for prefix in ("comparison", "pool")
            for moment in ("mean", "meansq")
        }
        self.program = rows["program_id"].astype(str).to_numpy()
        self.model = rows["program_model"].astype(str).to_numpy()


def _differences(data: _BalanceRows, at: np.ndarray, prefix: str) -> list[float]:
    """Each variable's standardized difference over the enrollments at `at`."""
    if len(at) == 0:
        return [float("nan")] * len(MATCHING_VARIABLES)
    x = np.ascontiguousarray(data.scaled[:, at])
    means = [np.ascontiguousarray(data.moments[f"{prefix}_{m}"][:, at]) for m in ("mean", "meansq")]
    x_mean, x_var = x.mean(axis=1), x.var(axis=1)
    mean_c, square_c = (values.mean(axis=1) for values in means)
    return [
        _standardized(x_mean[i], x_var[i], mean_c[i], square_c[i])
        for i in range(len(MATCHING_VARIABLES))
    ]


def _unit_balance(
    level: str, keys: dict[str, str | None], data: _BalanceRows, at: np.ndarray
) -> list[dict[str, object]]:
    """The balance rows of one unit, its enrollments at positions `at` of `data`."""
    matched, pooled = at[data.matched[at]], at[data.pooled[at]]
    before = _differences(data, pooled, "pool")
    after = _differences(data, matched, "comparison")
    return [
        {
            "level": level,
            **keys,
            "variable": name,
            "std_diff_before": before[position],
            "std_diff_after": after[position],
            "enrollments": len(at),
            "matched_enrollments": len(matched),
            "pooled_enrollments": len(pooled),
        }
        for position, name in enumerate(MATCHING_VARIABLES)
    ]


def balance_by_unit(
    *,
    viewer: Viewer,
    filters: OutcomeFilter,
    small_cells: SmallCells = "suppress",
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Each matching variable's standardized mean difference (on the matching scale) before
    and after matching, per program, program model and all selected programs.

    Before: the unit's analysable enrollments whose exact-match cell (state, month of the
    index date, condition, age band) has comparison candidates, against those candidates,
    each enrollment's cell weighing as one enrollment. After: the matched enrollments
    against their matches (each enrollment's matches weighing as one). See
    `standardized_difference`.

    Columns: `BALANCE_COLUMNS` (keys as in impact_by_unit; `variable` one of
    MATCHING_VARIABLES, in their order) and `suppressed`. A unit with fewer analysable
    enrollments than the small-cell threshold shows none; the figure after (before) matching
    is hidden when its matched (pooled) enrollments are few. Ordered by level (program,
    program_model, all), then state_code, program_id, program_model, variable order.
    """
    engine = db.resolve_engine(engine)
    filters, models = evaluation_filters(filters, viewer)
    if filters.selects_nothing or not models:
        return _empty(BALANCE_COLUMNS)
    payload = stored_or_computed(
        "balance", filters, models, engine, lambda: balance_payload(filters, models, engine)
    )
    if payload is None:
        return _empty(BALANCE_COLUMNS)
    return _balance_output(payload, viewer, small_cells)


def balance_payload(
    filters: OutcomeFilter, models: Sequence[str], engine: Engine | Connection
) -> dict[str, Any] | None:
    """`balance_by_unit`'s rows before suppression (`records`) and the units that total
    others (`margins`: [total, parts]); None when no program is selected. Plain values only
    (stored as JSON in impact_frames)."""
    programs = _programs(filters, models, engine)
    if programs.empty:
        return None
    programs = programs.sort_values(["state_code", "program_id"], kind="stable")
    data = _BalanceRows(_balance_rows(filters, models, engine))
    records: list[dict[str, object]] = []
    margins: list[list[Any]] = []
    for program in programs.itertuples(index=False):
        keys: dict[str, str | None] = {
            "state_code": str(program.state_code),
            "program_model": str(program.program_model),
            "program_id": str(program.program_id),
        }
        at = np.flatnonzero(data.program == str(program.program_id))
        records += _unit_balance("program", keys, data, at)
    present = sorted(set(programs["program_model"]))
    for model in present:
        keys = {"state_code": None, "program_model": model, "program_id": None}
        records += _unit_balance("program_model", keys, data, np.flatnonzero(data.model == model))
        parts = programs.loc[programs["program_model"] == model, "program_id"]
        margins.append([f"program_model|{model}", [f"program|{p}" for p in parts]])
    keys = {"state_code": None, "program_model": None, "program_id": None}
    records += _unit_balance("all", keys, data, np.arange(len(data.program)))
    margins.append(["all|", [f"program_model|{m}" for m in present]])
    return {"records": records, "margins": margins}


def _balance_output(
    payload: dict[str, Any], viewer: Viewer, small_cells: SmallCells
) -> pd.DataFrame:
    """`balance_by_unit`'s frame of a payload (`balance_payload`), suppressed as asked."""
    margins = payload["margins"]
    frame = pd.DataFrame.from_records(payload["records"])
    for column in ("enrollments", "matched_enrollments", "pooled_enrollments"):
        frame[column] = frame[column].astype("int64")
    if not must_suppress(viewer, small_cells):
        return frame[list(BALANCE_COLUMNS)].assign(**{SUPPRESSED_COLUMN: ""})
    return apply_suppression(
        frame,
        BALANCE_RULES,
        threshold=get_settings().small_cell_threshold,
        shown=BALANCE_COLUMNS,
        margins=unit_margins(frame, margins, column="variable", names=MATCHING_VARIABLES),
    )
