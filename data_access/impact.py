"""Did peer support work? Each program's pre/post change against a matched comparison group.

At load (`rebuild_impact`, inside the load's transaction, right after the summaries):

1. Every analysable enrollment is an *index date* (its `enrolled_on`). Comparison
   candidates are index dates of members of the same state not enrolled in any program from
   the first day of the pre window through that date, analysable there as an enrollment
   would be (except the behavioral use in either window, which an enrollment meets through
   its own peer support claims: asked of a candidate it would look at the outcome): the day
   after each behavioral discharge, the 15th of a month up to 30 days
   after one, and the 15th of the month for a fixed sample of each state's members; only
   in the cells that have analysable enrollments (impact_sql.py).
2. Matching, exact on state, calendar month of the index date, primary condition, age band
   and the number of behavioral stays in the pre window (3 or more pooled); then up to
   `MATCHES_PER_ENROLLMENT` nearest candidate dates of distinct members, with replacement,
   on the standardised log1p of the pre window's behavioral and medical stays, inpatient
   days, total paid, the days since the latest behavioral discharge and the stays admitted
   before the window's last RECENT_DAYS days, within a caliper
   (`match_enrollments`). An enrollment with none is left out of the matched enrollments.
3. Both groups' window sums are stored per enrollment (impact_outcomes), and by month
   relative to the index date (impact_months); each exact-match cell's candidate moments
   are stored for the balance before matching (impact_cells). event_study.py reads those.

At query time (`impact_by_unit`): the effect is a difference in differences over the
matched enrollments of a unit (a program, a program model pooled, all programs), each
enrollment weighing the same, its comparison being the mean of its matches; its 95%
interval is a percentile bootstrap over enrolled members with a fixed seed, so the same
database always gives the same figures. The load stores each program's replicates per
setting over all its matched enrollments and over those of the dashboard's opening months
(impact_replicates), read for the programs whose filtered enrollments are one of those
sets. docs/methods.md explains the design and its limits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Select,
    func,
    literal,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.sql.elements import Label

from data_access import db
from data_access.access import SmallCells, Viewer, impact_scope, must_suppress, scope_filter
from data_access.errors import DatabaseUnavailable
from data_access.filters import OutcomeFilter
from data_access.impact_sql import ImpactSql
from data_access.models import (
    IMPACT_TABLES,
    Admission,
    Program,
    Service,
    impact_cells,
    impact_enrollments,
    impact_frames,
    impact_matches,
    impact_outcomes,
    impact_replicates,
    impact_sum_columns,
    monthly_summary,
    summary_info,
)
from data_access.queries import complete_through, default_window, filter_conditions
from data_access.settings import get_settings
from data_access.summaries import day_number
from data_access.suppression import (
    SUPPRESSED_COLUMN,
    DisclosureRules,
    apply_suppression,
    unit_margins,
)
from data_access.vocabulary import (
    BOOTSTRAP_REPLICATES,
    BOOTSTRAP_SEED,
    CONFIDENCE_LEVEL,
    EVERY_MONTH,
    EXACT_BEHAVIORAL_STAYS,
    IMPACT_LEVELS,
    IMPACT_MEASURES,
    MATCH_CALIPER_SD,
    MATCHES_PER_ENROLLMENT,
    MATCHING_VARIABLES,
    NO_RECENT_DISCHARGE_DAYS,
    PROGRAM_MODELS,
    SETTINGS,
    ImpactMeasure,
    Setting,
)

IMPACT_COLUMNS: Final = (
    "level",
    "state_code",
    "program_model",
    "program_id",
    "setting",
    "measure",
    "enrollments",
    "matched_enrollments",
    "comparison_members",
    "enrolled_pre",
    "enrolled_post",
    "comparison_pre",
    "comparison_post",
    "pre_post_change",
    "effect",
    "effect_ci_low",
    "effect_ci_high",
    "effect_pct",
    "max_std_diff",
)
IMPACT_COUNT_COLUMNS: Final = ("enrollments", "matched_enrollments", "comparison_members")
# Measures in dollars: their window sums are cents.
MONEY_MEASURES: Final = frozenset(
    {"behavioral_paid_per_enrollment", "medical_paid_per_enrollment", "total_paid_per_enrollment"}
)
# The counts behind a measure's figures (members with an admission, admissions, days, ED
# visits), suppressed from 1 to the threshold - 1 as in prepost; money has none.
_COUNTED_MEASURES: Final = frozenset(IMPACT_MEASURES) - MONEY_MEASURES

_EVENTS = ("enrolled_pre", "enrolled_post", "comparison_pre", "comparison_post")
IMPACT_RULES: Final = DisclosureRules(
    basis="enrollments",
    counts=(
        *IMPACT_COUNT_COLUMNS,
        # Helpers, never shown: the analysable enrollments left unmatched (the matched
        # figures and prepost's figures over all enrollments would give theirs), the matched
        # enrollments again (so that hiding the shown count for the unmatched ones does not
        # hide the effect), and the events summed in each figure.
        "unmatched_enrollments",
        "matched_basis",
        *(f"{figure}_events" for figure in _EVENTS),
    ),
    derived={
        "matched_enrollments": ("matched_basis", "unmatched_enrollments"),
        **{
            figure: ("matched_basis", "unmatched_enrollments", f"{figure}_events")
            for figure in ("enrolled_pre", "enrolled_post")
        },
        **{
            figure: (
                "matched_basis",
                "comparison_members",
                "unmatched_enrollments",
                f"{figure}_events",
            )
            for figure in ("comparison_pre", "comparison_post")
        },
        "pre_post_change": ("enrolled_pre", "enrolled_post"),
        "effect": ("matched_basis", "comparison_members"),
        "effect_ci_low": ("effect",),
        "effect_ci_high": ("effect",),
        # effect + effect x 100 / effect_pct is enrolled_post.
        "effect_pct": ("effect", "enrolled_post"),
        "max_std_diff": ("matched_basis",),
    },
    additive=(
        "enrollments",
        "matched_enrollments",
        "unmatched_enrollments",
        "matched_basis",
        *(f"{figure}_events" for figure in _EVENTS),
    ),
    # The effect is the difference of the four levels' changes: with three of them it gives
    # the fourth back, so a suppressed level takes the other three with it.
    linked=(_EVENTS,),
)

_MATCH_COLUMNS = ("enrollment_id", "match_rank", "member_id", "index_day", "distance")
_KEYS = ("state_code", "month_index", "primary_condition", "age_band")
_MATCHING = MATCHING_VARIABLES
# The window sums of each matched enrollment the query reads: (measure, group, window).
_WINDOW_SUMS: Final = tuple(
    (measure, group, window)
    for measure in IMPACT_MEASURES
    for group in ("enrolled", "comparison")
    for window in ("pre", "post")
)
# Distance matrices are built in blocks of at most this many cells (memory bound).
_BLOCK_CELLS = 2_000_000


# ---------------------------------------------------------------------------------------
# Matching


def matching_scale(frame: pd.DataFrame) -> np.ndarray:
    """The matching variables (`MATCHING_VARIABLES`) on the matching scale: log1p of each,
    paid in dollars, and the days since the latest behavioral discharge
    `NO_RECENT_DISCHARGE_DAYS` when there was none (a missing value)."""
    columns = []
    for name in MATCHING_VARIABLES:
        values = frame[name].astype("float64")
        if name == "days_since_discharge":
            values = values.fillna(NO_RECENT_DISCHARGE_DAYS)
        if name.startswith("pre_paid_cents"):
            values = values / 100.0
        columns.append(values.to_numpy(dtype="float64"))
    return np.log1p(np.column_stack(columns)) if columns else np.empty((len(frame), 0))


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64 of unsigned 64-bit integers (wrapping), a fixed pseudo-random scramble."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _cell_codes(enrollees: pd.DataFrame, candidates: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """The exact-match cell of each row: `cell_id` when both frames have it (the load's
    work cells: state, month of the index date, primary condition, age band), else those
    keys as columns; and the pre window's behavioral stays up to EXACT_BEHAVIORAL_STAYS."""
    keys = ["cell_id"] if "cell_id" in enrollees and "cell_id" in candidates else list(_KEYS)
    both = pd.concat([enrollees[keys], candidates[keys]], ignore_index=True)
    stays = pd.concat(
        [enrollees["pre_admissions_behavioral"], candidates["pre_admissions_behavioral"]],
        ignore_index=True,
    )
    both["stays"] = stays.clip(upper=EXACT_BEHAVIORAL_STAYS).to_numpy()
    codes = both.groupby([*keys, "stays"], sort=True).ngroup().to_numpy()
    return codes[: len(enrollees)], codes[len(enrollees) :]


def match_enrollments(
    enrollees: pd.DataFrame,
    candidates: pd.DataFrame,
    *,
    k: int = MATCHES_PER_ENROLLMENT,
    caliper: float = MATCH_CALIPER_SD,
) -> pd.DataFrame:
    """The comparison index dates of each enrollment, nearest first.

    `enrollees`: enrollment_id, member_id and `candidates`: member_id, index_day; both with
    the exact-match keys state_code, month_index, primary_condition, age_band (or one
    `cell_id` for them) and the matching variables (see `matching_scale`). Matching is
    exact on those keys and on the behavioral stays up to EXACT_BEHAVIORAL_STAYS (more
    pooled). Each variable is then divided by its standard deviation over enrollees and
    candidates together, and the distance is the root mean square of the differences (in
    standard deviations). An enrollment gets the `k` nearest candidates of its cell within
    `caliper`, of distinct members other than its own; ties are broken by a fixed scramble
    of the enrollment's and the candidate's places in id order (so that no member is
    preferred for its id), then by member_id and index_day. Candidates may serve several
    enrollments (with replacement). Returns enrollment_id, match_rank (1 = nearest),
    member_id, index_day, distance, ordered by enrollment_id and match_rank; the same for
    the same rows in any order.
    """
    return _match(enrollees, candidates, k=k, caliper=caliper)[0]


def _match(
    enrollees: pd.DataFrame, candidates: pd.DataFrame, *, k: int, caliper: float
) -> tuple[pd.DataFrame, np.ndarray]:
    """`match_enrollments`, and the position in `candidates` of each match."""
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in _MATCH_COLUMNS})
    if enrollees.empty or candidates.empty:
        return empty, np.empty(0, dtype="int64")
    enrollees = enrollees.sort_values("enrollment_id", kind="stable")
    candidates = candidates.reset_index(drop=True)
    candidate_order = candidates.sort_values(["member_id", "index_day"], kind="stable").index
    candidate_position = candidates.index.get_indexer(candidate_order)
    candidates = candidates.loc[candidate_order]
    x_enrolled, x_candidates = matching_scale(enrollees), matching_scale(candidates)
    spread = np.vstack([x_enrolled, x_candidates]).std(axis=0)
    spread[spread == 0] = 1.0
    z_enrolled, z_candidates = x_enrolled / spread, x_candidates / spread

    member_ids = np.unique(
        np.concatenate([enrollees["member_id"], candidates["member_id"]]).astype(str)
    )
    enrolled_member = np.searchsorted(member_ids, enrollees["member_id"].astype(str))
    candidate_member = np.searchsorted(member_ids, candidates["member_id"].astype(str))
    candidate_day = candidates["index_day"].to_numpy(dtype="int64")
    candidate_hash = _mix(candidate_member.astype(np.uint64) * np.uint64(1 << 24) + candidate_day)
    enrolled_hash = _mix(np.arange(len(enrollees), dtype=np.uint64) + np.uint64(1 << 40))

    enrolled_cell, candidate_cell = _cell_codes(enrollees, candidates)
    by_cell = np.argsort(candidate_cell, kind="stable")
    cells, starts = np.unique(candidate_cell[by_cell], return_index=True)
    ends = np.append(starts[1:], len(by_cell))
    span = {int(cell): (int(s), int(e)) for cell, s, e in zip(cells, starts, ends, strict=True)}

    enrollee_order = np.argsort(enrolled_cell, kind="stable")
    enrollee_cells, enrollee_starts = np.unique(enrolled_cell[enrollee_order], return_index=True)
    enrollee_ends = np.append(enrollee_starts[1:], len(enrollee_order))
    found: list[tuple[int, int, int, float]] = []  # enrollee row, rank, candidate row, distance
    for cell, low, high in zip(enrollee_cells, enrollee_starts, enrollee_ends, strict=True):
        if int(cell) not in span:
            continue
        start, end = span[int(cell)]
        pool = by_cell[start:end]
        chosen = enrollee_order[low:high]
        block = max(1, _BLOCK_CELLS // len(pool))
        for first in range(0, len(chosen), block):
            part = chosen[first : first + block]
            found += _nearest(
                part,
                pool,
                z_enrolled,
                z_candidates,
                enrolled_member,
                candidate_member,
                candidate_day,
                _mix(enrolled_hash[part][:, None] ^ candidate_hash[pool][None, :]),
                k=k,
                caliper=caliper,
            )
    if not found:
        return empty, np.empty(0, dtype="int64")
    rows, ranks, chosen_rows, distances = (np.array(v) for v in zip(*found, strict=True))
    matches = pd.DataFrame(
        {
            "enrollment_id": enrollees["enrollment_id"].astype(str).to_numpy()[rows],
            "match_rank": ranks.astype("int64"),
            "member_id": member_ids[candidate_member[chosen_rows]],
            "index_day": candidate_day[chosen_rows],
            "distance": distances.astype("float64"),
        }
    )
    order = np.lexsort((matches["match_rank"].to_numpy(), matches["enrollment_id"].to_numpy()))
    return (
        matches.iloc[order].reset_index(drop=True),
        candidate_position[chosen_rows[order]],
    )


def _nearest(
    part: np.ndarray,
    pool: np.ndarray,
    z_enrolled: np.ndarray,
    z_candidates: np.ndarray,
    enrolled_member: np.ndarray,
    candidate_member: np.ndarray,
    candidate_day: np.ndarray,
    ties: np.ndarray,
    *,
    k: int,
    caliper: float,
) -> list[tuple[int, int, int, float]]:
    """The matches of the enrollee rows `part` among the candidate rows `pool` (one cell)."""
    diff = z_enrolled[part][:, None, :] - z_candidates[pool][None, :, :]
    distance = np.sqrt((diff**2).mean(axis=2))
    allowed = (distance <= caliper) & (
        candidate_member[pool][None, :] != enrolled_member[part][:, None]
    )
    distance = np.where(allowed, distance, np.inf)
    shape = distance.shape
    order = np.lexsort(
        (
            np.broadcast_to(candidate_day[pool], shape),
            np.broadcast_to(candidate_member[pool], shape),
            ties,
            distance,
        ),
        axis=-1,
    )
    ranked = np.take_along_axis(distance, order, axis=1)
    usable = np.isfinite(ranked).sum(axis=1)
    found: list[tuple[int, int, int, float]] = []
    # Most rows: the k nearest are k distinct members, taken as they are.
    width = min(k, shape[1])
    top = pool[order[:, :width]]
    top_members = np.sort(candidate_member[top], axis=1)
    simple = (usable >= width) & (np.diff(top_members, axis=1) != 0).all(axis=1)
    for row in np.flatnonzero(simple):
        found += [
            (int(part[row]), rank + 1, int(top[row, rank]), float(ranked[row, rank]))
            for rank in range(width)
        ]
    for row in np.flatnonzero(~simple & (usable > 0)):
        seen: set[int] = set()
        for position in range(int(usable[row])):
            candidate = int(pool[order[row, position]])
            member = int(candidate_member[candidate])
            if member in seen:
                continue
            seen.add(member)
            found.append((int(part[row]), len(seen), candidate, float(ranked[row, position])))
            if len(seen) == k:
                break
    return found


def comparison_moments(
    candidates: pd.DataFrame, matches: pd.DataFrame, positions: np.ndarray
) -> pd.DataFrame:
    """Per matched enrollment: the matches' mean and mean square of each matching variable
    on the matching scale (for the balance figure). `positions`: each match's row in
    `candidates` (see `_match`). Indexed by enrollment_id, in its order."""
    columns = [f"comparison_{m}_{name}" for m in ("mean", "meansq") for name in _MATCHING]
    if matches.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="enrollment_id"))
    scaled = matching_scale(candidates.iloc[positions])
    codes, enrollment = pd.factorize(matches["enrollment_id"], sort=True)
    count = np.bincount(codes).astype("float64")[:, None]
    sums = np.zeros((len(enrollment), scaled.shape[1]))
    squares = np.zeros_like(sums)
    np.add.at(sums, codes, scaled)
    np.add.at(squares, codes, scaled**2)
    return pd.DataFrame(
        np.hstack([sums / count, squares / count]),
        columns=columns,
        index=pd.Index(enrollment, name="enrollment_id"),
    )


def cell_moments(enrollees: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """The impact_cells rows: per work cell (`cell_id`) of the enrollees with candidates,
    its keys, the number of candidates and their mean and mean square of each matching
    variable on the matching scale (the balance before matching)."""
    columns = [c.name for c in impact_cells.columns]
    if enrollees.empty or candidates.empty or enrollees["cell_id"].isna().all():
        return pd.DataFrame(columns=columns)
    scaled = matching_scale(candidates)
    frame = pd.DataFrame(
        np.hstack([scaled, scaled**2]),
        columns=[f"pool_{m}_{name}" for m in ("mean", "meansq") for name in _MATCHING],
    )
    frame["cell_id"] = candidates["cell_id"].to_numpy(dtype="int64")
    grouped = frame.groupby("cell_id", sort=True)
    moments = grouped.mean().join(grouped.size().rename("candidates"))
    keys = (
        enrollees.dropna(subset=["cell_id"])
        .drop_duplicates("cell_id")
        .astype({"cell_id": "int64"})
        .set_index("cell_id")[["state_code", "enrolled_month", "primary_condition", "age_band"]]
    )
    return keys.join(moments, how="inner").reset_index(drop=True)[columns]


# ---------------------------------------------------------------------------------------
# The load


def _through_day(conn: Connection) -> int | None:
    """The data-through day: the summaries', which were just built from the same tables
    (a scan of the claims for their latest date costs seconds at ten million rows); a
    scan when the summaries hold none."""
    stored = conn.execute(select(summary_info.c.data_through)).all()
    if stored:
        value = stored[0][0]
        return None if value is None else day_number(pd.Timestamp(value).date())
    latest = [
        conn.execute(select(func.max(Admission.admit_date))).scalar(),
        conn.execute(select(func.max(Service.service_date))).scalar(),
    ]
    days = [day_number(pd.Timestamp(value).date()) for value in latest if value is not None]
    return max(days, default=None)


def _read(conn: Connection, sql: str) -> pd.DataFrame:
    """Rows of a query with no parameters, straight from the driver's cursor (a million rows
    cost seconds less than through SQLAlchemy), in the caller's transaction."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        columns = [column[0] for column in cursor.description]
        return db.rows_frame(cursor.fetchall(), columns)
    finally:
        cursor.close()


def rebuild_impact(conn: Connection) -> None:
    """Recompute the impact tables from the contract and summary tables, inside the caller's
    transaction; run after `summaries.rebuild_summaries`."""
    sql = ImpactSql(conn.dialect.name)
    for table in reversed(IMPACT_TABLES):
        conn.execute(table.delete())
    through = _through_day(conn)
    if through is None:
        return
    for statement in sql.create_work_tables():
        conn.execute(text(statement), {"through_day": through})
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE impact_work_index"))
    enrollees = _read(conn, sql.enrollee_features())
    candidates = _read(conn, sql.candidate_features()) if len(enrollees) else enrollees
    for statement in sql.drop_work_tables():
        conn.execute(text(statement))
    if enrollees.empty:
        return
    matches, positions = _match(
        enrollees, candidates, k=MATCHES_PER_ENROLLMENT, caliper=MATCH_CALIPER_SD
    )
    moments = comparison_moments(candidates, matches, positions)
    counts = matches.groupby("enrollment_id").size()
    records = enrollees.sort_values("enrollment_id", kind="stable").reset_index(drop=True)
    records["days_since_discharge"] = (
        records["days_since_discharge"]
        .astype("float64")
        .fillna(NO_RECENT_DISCHARGE_DAYS)
        .astype("int64")
    )
    records["matches"] = records["enrollment_id"].map(counts).fillna(0).astype("int64")
    records = records.join(moments, on="enrollment_id")
    table_columns = [c.name for c in impact_enrollments.columns]
    db.write_rows(conn, impact_enrollments, records[table_columns])
    db.write_rows(conn, impact_matches, matches[list(_MATCH_COLUMNS)])
    conn.execute(text(sql.outcomes_insert(impact_sum_columns())))
    conn.execute(text(sql.months_insert()))
    cells = cell_moments(enrollees, candidates)
    if not cells.empty:
        db.write_rows(conn, impact_cells, cells)
    store_replicates(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {', '.join(t.name for t in IMPACT_TABLES)}"))
    # Imported here: it computes the outputs with event_study, which imports this module.
    # After ANALYZE, so that the reads of every stored scope are planned on statistics.
    from data_access.impact_store import store_frames

    store_frames(conn)


# ---------------------------------------------------------------------------------------
# The estimate, at query time


def _setting_sum(group: str, window: str, name: str, setting: Setting) -> ColumnElement[int]:
    """A window sum of impact_outcomes limited to the setting (both settings for `all`)."""
    columns = impact_outcomes.c
    if setting == "all":
        if name == "with_admission":
            return columns[f"{group}_{window}_with_admission_all"]
        return (
            columns[f"{group}_{window}_{name}_behavioral"]
            + columns[f"{group}_{window}_{name}_medical"]
        )
    return columns[f"{group}_{window}_{name}_{setting}"]


def _measure_sum(
    measure: ImpactMeasure, group: str, window: str, setting: Setting
) -> ColumnElement[int]:
    """The window sum behind a measure: admissions and ED visits follow the setting (ED
    visits through the claims' behavioral flag); paid never does."""
    columns = impact_outcomes.c
    if measure == "behavioral_paid_per_enrollment":
        return columns[f"{group}_{window}_paid_cents_behavioral"]
    if measure == "medical_paid_per_enrollment":
        return columns[f"{group}_{window}_paid_cents_medical"]
    if measure == "total_paid_per_enrollment":
        return _setting_sum(group, window, "paid_cents", "all")
    name = {
        "share_with_admission": "with_admission",
        "admissions_per_enrollment": "admissions",
        "inpatient_days_per_enrollment": "inpatient_days",
        "ed_visits_per_enrollment": "ed_visits",
    }[measure]
    return _setting_sum(group, window, name, setting)


def _conditions(filters: OutcomeFilter, models: Sequence[str]) -> list[ColumnElement[bool]]:
    """The filter on the impact enrollments, their month being the enrollment's."""
    columns = impact_enrollments.c
    return filter_conditions(
        filters.model_copy(update={"program_models": tuple(models)}),
        model=columns.program_model,
        state=columns.state_code,
        program=columns.program_id,
        condition=columns.primary_condition,
        month=columns.enrolled_month,
    )


def _programs(
    filters: OutcomeFilter, models: Sequence[str], engine: Engine | Connection
) -> pd.DataFrame:
    conditions = filter_conditions(
        filters.model_copy(update={"program_models": tuple(models)}),
        model=Program.program_model,
        state=Program.state_code,
        program=Program.program_id,
    )
    statement = select(Program.program_id, Program.state_code, Program.program_model).where(
        *conditions
    )
    return db.read_frame(statement, engine=engine)


def _analysable(
    filters: OutcomeFilter, models: Sequence[str], engine: Engine | Connection
) -> dict[str, int]:
    """Analysable enrollments of the filters, counted in the database per program
    (`program|<id>`), per model (`program_model|<model>`) and in all (`all|`)."""
    columns = impact_enrollments.c
    statement = (
        select(columns.program_id, columns.program_model, func.count().label("enrollments"))
        .where(true(), *_conditions(filters, models))
        .group_by(columns.program_id, columns.program_model)
    )
    frame = db.read_frame(statement, engine=engine)
    counts: dict[str, int] = {"all|": 0}
    for program_id, model, n in zip(
        frame["program_id"], frame["program_model"], frame["enrollments"], strict=True
    ):
        counts[f"program|{program_id}"] = int(n)
        counts[f"program_model|{model}"] = counts.get(f"program_model|{model}", 0) + int(n)
        counts["all|"] += int(n)
    return counts


def _enrollment_rows(
    filters: OutcomeFilter, models: Sequence[str], engine: Engine | Connection
) -> pd.DataFrame:
    """One row per matched enrollment of the filters (the unmatched ones only count, see
    `_analysable`): its unit keys, member, matches, matching variables, comparison moments,
    and per measure the four window sums (`<measure>__enrolled_pre`, ...; comparison sums
    are over its matches)."""
    return _ordered_rows(db.read_frame(_enrollment_statement(filters, models), engine=engine))


@cache  # the same expressions every call: built once, not for every read
def _enrollment_sums(setting: Setting) -> tuple[Label[int], ...]:
    """Each enrollment's window sums of `_enrollment_rows`, limited to the setting."""
    return tuple(
        func.coalesce(_measure_sum(measure, group, window, setting), 0).label(
            f"{measure}__{group}_{window}"
        )
        for measure, group, window in _WINDOW_SUMS
    )


def _enrollment_statement(filters: OutcomeFilter, models: Sequence[str]) -> Select[Any]:
    """The query of `_enrollment_rows`."""
    columns = impact_enrollments.c
    sums = _enrollment_sums(filters.setting)
    moment_columns: list[Column[float]] = [
        columns[f"comparison_{moment}_{name}"]
        for moment in ("mean", "meansq")
        for name in _MATCHING
    ]
    return (
        select(
            columns.enrollment_id,
            columns.member_id,
            columns.program_id,
            columns.program_model,
            columns.matches,
            *[columns[name] for name in _MATCHING],
            *moment_columns,
            *sums,
        )
        .select_from(
            impact_enrollments.join(
                impact_outcomes, impact_outcomes.c.enrollment_id == columns.enrollment_id
            )
        )
        .where(columns.matches > 0, *_conditions(filters, models))
    )


def _ordered_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """`_enrollment_statement`'s rows typed and in a fixed order."""
    sums = [f"{measure}__{group}_{window}" for measure, group, window in _WINDOW_SUMS]
    # Only the columns not int64 already: astype copies the whole frame, even for none.
    dtypes = frame.dtypes
    cast = {name: "int64" for name in [*sums, "matches"] if dtypes[name] != np.int64}
    if cast:
        frame = frame.astype(cast)
    # A fixed order (members, then enrollments, by code point) so that every sum and the
    # bootstrap see the rows in the same order on every engine.
    return frame.sort_values(["member_id", "enrollment_id"], kind="stable").reset_index(drop=True)


def _comparison_members(
    filters: OutcomeFilter, models: Sequence[str], engine: Engine | Connection
) -> dict[str, int]:
    """Distinct comparison members of the filtered matched enrollments, counted in the
    database per program (`program|<id>`), per model (`program_model|<model>`) and in all
    (`all|`); the members themselves never leave it. One statement: the join is made once
    (materialized) and counted three ways, where three statements each made it again."""
    columns = impact_enrollments.c
    pairs = (
        select(columns.program_id, columns.program_model, impact_matches.c.member_id)
        .select_from(
            impact_enrollments.join(
                impact_matches, impact_matches.c.enrollment_id == columns.enrollment_id
            )
        )
        .where(true(), *_conditions(filters, models))
        .distinct()
        .cte("comparison_pairs")
        .prefix_with("MATERIALIZED")
    )
    members = func.count(func.distinct(pairs.c.member_id)).label("members")
    counts = union_all(
        select(
            literal("program").label("level"), pairs.c.program_id.label("unit"), members
        ).group_by(pairs.c.program_id),
        select(literal("program_model"), pairs.c.program_model, members).group_by(
            pairs.c.program_model
        ),
        select(literal("all"), literal(""), members),
    )
    frame = db.read_frame(counts, engine=engine)
    return {
        f"{level}|{unit}": int(n)
        for level, unit, n in zip(frame["level"], frame["unit"], frame["members"], strict=True)
    }


def _unit_seed(program_id: str) -> int:
    """A bootstrap seed of its own per program, so a program's interval is the same whichever
    other programs the filters select."""
    return int.from_bytes(hashlib.sha256(program_id.encode()).digest()[:8], "big")


def bootstrap_sums(
    members: np.ndarray,
    differences: np.ndarray,
    *,
    seed: int,
    replicates: int = BOOTSTRAP_REPLICATES,
) -> np.ndarray:
    """Bootstrap replicates of a program's summed differences in differences, resampling
    its enrolled members (clusters) with replacement.

    `members`: the member of each matched enrollment; `differences`: one row per matched
    enrollment, one column per measure. Each replicate draws as many members as there are
    and sums the drawn members' enrollments. Returns a (replicates, measures + 1) array: the
    sums of the differences, then the number of enrollments drawn; a replicate's effects
    are the sums over the count. Pooled units add their programs' replicates (a bootstrap
    stratified by program).
    """
    codes, cluster = np.unique(members, return_inverse=True)
    n = len(codes)
    totals = np.zeros((n, differences.shape[1] + 1))
    np.add.at(totals, cluster, np.column_stack([differences, np.ones(len(differences))]))
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([BOOTSTRAP_SEED, seed])))
    out = np.empty((replicates, totals.shape[1]))
    chunk = max(1, min(replicates, 2_000_000 // max(n, 1)))
    for start in range(0, replicates, chunk):
        reps = min(chunk, replicates - start)
        draws = rng.integers(0, n, size=(reps, n))
        draws += (np.arange(reps) * n)[:, None]
        weights = np.bincount(draws.ravel(), minlength=reps * n).reshape(reps, n)
        # einsum's own loops, not BLAS: a BLAS product's last bits follow its thread
        # count, and the same database must give the same intervals on every machine.
        out[start : start + reps] = np.einsum("rn,nm->rm", weights.astype("float64"), totals)
    return out


def _differences(matched: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per matched enrollment and measure: the four window values (comparison ones the mean
    over its matches; money in dollars) keyed `measure|group_window`, and the (enrollments,
    measures) array of differences in differences."""
    values: dict[str, np.ndarray] = {}
    differences = np.empty((len(matched), len(IMPACT_MEASURES)))
    count = matched["matches"].to_numpy(dtype="float64")
    for position, measure in enumerate(IMPACT_MEASURES):
        scale = 100.0 if measure in MONEY_MEASURES else 1.0
        part = {
            name: matched[f"{measure}__{name}"].to_numpy(dtype="float64")
            / (count if name.startswith("comparison") else 1.0)
            / scale
            for name in _EVENTS
        }
        values.update({f"{measure}|{name}": v for name, v in part.items()})
        differences[:, position] = (part["enrolled_post"] - part["enrolled_pre"]) - (
            part["comparison_post"] - part["comparison_pre"]
        )
    return values, differences


def _worst_difference(
    x_mean: np.ndarray, x_var: np.ndarray, comparison_mean: np.ndarray, square_mean: np.ndarray
) -> float:
    """The largest standardized mean difference over the matching variables from each
    one's moments (enrolled mean and variance, comparison mean and mean square); NaN when a
    variable with no spread differs."""
    worst = float("nan")
    for position in range(len(x_mean)):
        # Scalars of numpy's float64, as the arrays' own reductions gave them.
        comparison_var = max(square_mean[position] - comparison_mean[position] ** 2, 0.0)
        difference = x_mean[position] - comparison_mean[position]
        spread = np.sqrt((x_var[position] + comparison_var) / 2)
        if spread == 0:
            if difference != 0:
                return float("nan")
            value = 0.0
        else:
            value = abs(difference) / spread
        worst = value if np.isnan(worst) else max(worst, value)
    return worst


def _balance(rows: pd.DataFrame) -> float:
    """The largest absolute standardized mean difference of the matching variables (on the
    matching scale) between the matched enrollments and their weighted comparison: the
    difference of the means over the root of the mean of the two variances; NaN when
    undefined (no matched enrollment, or a variable with no spread that differs)."""
    if rows.empty:
        return float("nan")
    enrolled = matching_scale(rows).T.copy()
    means, squares = (
        np.vstack(
            [rows[f"comparison_{moment}_{name}"].to_numpy(dtype="float64") for name in _MATCHING]
        )
        for moment in ("mean", "meansq")
    )
    return _worst_difference(
        enrolled.mean(axis=1), enrolled.var(axis=1), means.mean(axis=1), squares.mean(axis=1)
    )


class _Matched:
    """The matched enrollments of the filters as arrays, one column per enrollment in the
    rows' order (members, then enrollments): each unit takes its columns by position, so
    its figures are numpy's reductions over the same values in the same order as over the
    unit's own rows, with no DataFrame per unit."""

    def __init__(self, rows: pd.DataFrame) -> None:
        is_matched = rows["matches"].to_numpy() > 0
        # `_enrollment_rows` holds matched enrollments only: no copy of them.
        matched = rows if is_matched.all() else rows[is_matched]
        values, differences = _differences(matched)
        # (measures x events) rows, measure-major, each C-contiguous: a row's mean over a
        # unit's columns is the mean of that unit's 1-D values.
        self.values = np.vstack(
            [values[f"{measure}|{part}"] for measure in IMPACT_MEASURES for part in _EVENTS]
        ).reshape(len(IMPACT_MEASURES), len(_EVENTS), len(matched))
        self.differences = np.ascontiguousarray(differences.T)
        self.events = np.vstack(
            [
                matched[f"{measure}__{part}"].to_numpy(dtype="int64")
                for measure in IMPACT_MEASURES
                for part in _EVENTS
            ]
        ).reshape(len(IMPACT_MEASURES), len(_EVENTS), len(matched))
        self.scaled = np.ascontiguousarray(matching_scale(matched).T)
        self.comparison = {
            moment: np.vstack(
                [
                    matched[f"comparison_{moment}_{name}"].to_numpy(dtype="float64")
                    for name in _MATCHING
                ]
            )
            for moment in ("mean", "meansq")
        }
        self.members = matched["member_id"].astype(str).to_numpy()
        self.enrollments = matched["enrollment_id"].astype(str).to_numpy()
        self.program = matched["program_id"].astype(str).to_numpy()
        self.model = matched["program_model"].astype(str).to_numpy()


def _take(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The columns `at` of the last axis, C-contiguous: numpy then reduces each row along
    the last axis as it reduces a 1-D array (pairwise), whatever the layout indexing gave."""
    return np.ascontiguousarray(values[..., at])


def _unit_figures(
    level: str,
    keys: dict[str, str | None],
    enrollments: int,
    data: _Matched,
    at: np.ndarray,
    comparison_members: int,
    setting: Setting,
    replicate_sums: np.ndarray | None,
) -> list[dict[str, object]]:
    """The seven measure rows of one unit, with the helper counts for suppression: `at`,
    the positions of its matched enrollments in `data`; `enrollments`, its analysable ones.
    `replicate_sums`: the unit's bootstrap replicates (see `bootstrap_sums`), None when it
    has no matched enrollment."""
    n = len(at)
    measures, events = len(IMPACT_MEASURES), len(_EVENTS)
    if n:
        means = _take(data.values, at).mean(axis=2)
        effects = _take(data.differences, at).mean(axis=1)
        sums = _take(data.events, at).sum(axis=2)
        scaled = _take(data.scaled, at)
        balance = _worst_difference(
            scaled.mean(axis=1),
            scaled.var(axis=1),
            _take(data.comparison["mean"], at).mean(axis=1),
            _take(data.comparison["meansq"], at).mean(axis=1),
        )
    else:
        means = np.full((measures, events), np.nan)
        effects = np.full(measures, np.nan)
        sums = np.zeros((measures, events), dtype="int64")
        balance = float("nan")
    if n and replicate_sums is not None:
        replicates = replicate_sums[:, :-1] / replicate_sums[:, -1:]
        tail = (1 - CONFIDENCE_LEVEL) / 2
        low, high = np.quantile(replicates, [tail, 1 - tail], axis=0)
    else:
        low = high = np.full(measures, np.nan)
    out: list[dict[str, object]] = []
    for position, measure in enumerate(IMPACT_MEASURES):
        mean = {part: float(means[position, i]) for i, part in enumerate(_EVENTS)}
        change = mean["enrolled_post"] - mean["enrolled_pre"]
        effect = float(effects[position])
        counterfactual = mean["enrolled_pre"] + mean["comparison_post"] - mean["comparison_pre"]
        counted = measure in _COUNTED_MEASURES
        counts = {
            f"{part}_events": int(sums[position, i]) if counted else 0
            for i, part in enumerate(_EVENTS)
        }
        out.append(
            {
                "level": level,
                **keys,
                "setting": setting,
                "measure": measure,
                "enrollments": enrollments,
                "matched_enrollments": n,
                "comparison_members": comparison_members,
                **mean,
                "pre_post_change": change,
                "effect": effect,
                "effect_ci_low": float(low[position]),
                "effect_ci_high": float(high[position]),
                "effect_pct": effect / counterfactual * 100 if counterfactual != 0 else np.nan,
                "max_std_diff": balance,
                "unmatched_enrollments": enrollments - n,
                "matched_basis": n,
                **counts,
            }
        )
    return out


def _program_positions(data: _Matched) -> dict[str, np.ndarray]:
    """Each program's matched enrollments (positions in `data`), in the rows' order: one
    stable sort, then slices."""
    by_program = np.argsort(data.program, kind="stable")
    names, starts = np.unique(data.program[by_program], return_index=True)
    ends = np.append(starts[1:], len(by_program))[: len(starts)]
    return {
        str(name): by_program[start:end]
        for name, start, end in zip(names, starts, ends, strict=True)
    }


def _program_replicates(
    data: _Matched, at: np.ndarray, program_id: str, stored: np.ndarray | None
) -> np.ndarray | None:
    """A program's bootstrap replicates over its matched enrollments `at`: the stored ones
    (`stored`, drawn over the same enrollments, see `_stored_replicates`), else drawn now."""
    if not len(at):
        return None
    if stored is not None:
        return stored
    return bootstrap_sums(data.members[at], data.differences[:, at].T, seed=_unit_seed(program_id))


def enrollments_digest(enrollment_ids: np.ndarray) -> str:
    """What identifies a set of matched enrollments in impact_replicates: SHA-256 of their
    ids in the query's row order (members, then enrollments), newline-separated."""
    return hashlib.sha256("\n".join(enrollment_ids.tolist()).encode()).hexdigest()


_REPLICATE_SHAPE: Final = (BOOTSTRAP_REPLICATES, len(IMPACT_MEASURES) + 1)


def _stored_replicates(
    data: _Matched, program_at: dict[str, np.ndarray], setting: Setting, engine: Engine | Connection
) -> dict[str, np.ndarray]:
    """The stored replicates of the programs whose filtered matched enrollments (`at`) are a
    stored set in this setting, by program: only those sets are read. Same rows, order,
    seed and code as drawing them, so the same bits. Nothing when the table is of an older
    form (a database loaded before it; `migrate` builds it): the query draws them."""
    wanted = {
        enrollments_digest(data.enrollments[at]): program_id
        for program_id, at in program_at.items()
        if len(at)
    }
    if not wanted:
        return {}
    columns = impact_replicates.c
    statement = select(columns.program_id, columns.enrollments_digest, columns.sums).where(
        columns.setting == setting, columns.enrollments_digest.in_(sorted(wanted))
    )
    try:
        frame = db.read_frame(statement, engine=engine)
    except DatabaseUnavailable:
        return {}
    size = 8 * _REPLICATE_SHAPE[0] * _REPLICATE_SHAPE[1]
    return {
        str(program_id): np.frombuffer(bytes(sums), dtype="<f8").reshape(_REPLICATE_SHAPE)
        for program_id, digest, sums in zip(
            frame["program_id"], frame["enrollments_digest"], frame["sums"], strict=True
        )
        if wanted.get(str(digest)) == str(program_id) and len(sums) == size
    }


def loaded_months(conn: Connection) -> tuple[str, str, str | None] | None:
    """The first and last month of the data just loaded, and its last complete month (None
    without a data-through date); None when nothing is loaded."""
    first, last = conn.execute(
        select(func.min(monthly_summary.c.month), func.max(monthly_summary.c.month))
    ).one()
    if first is None:
        return None
    through = conn.execute(select(summary_info.c.data_through)).scalar()
    complete = None if through is None else complete_through(pd.Timestamp(through).date())
    return str(first), str(last), complete


def _default_window(conn: Connection) -> tuple[str, str] | None:
    """The dashboard's opening months (queries.default_window) of the data just loaded."""
    months = loaded_months(conn)
    return None if months is None else default_window(*months)


def store_replicates(conn: Connection) -> None:
    """Draw each program's bootstrap replicates per setting over all its matched enrollments
    and over those of the dashboard's opening months (where that window cuts the program),
    and store them (impact_replicates), in the caller's transaction: the query's own rows
    and code, so that reading them gives the bits drawing them would."""
    window = _default_window(conn)
    records: list[dict[str, object]] = []
    for setting in SETTINGS:
        every: dict[str, str] = {}  # program -> digest of all its matched enrollments
        windows: list[tuple[str, str | None, str | None]] = [("all_months", None, None)]
        if window is not None:
            windows.append(("default_months", *window))
        for name, month_from, month_to in windows:
            filters = OutcomeFilter(setting=setting, month_from=month_from, month_to=month_to)
            result = conn.execute(_enrollment_statement(filters, PROGRAM_MODELS))
            frame = db.rows_frame([tuple(row) for row in result], list(result.keys()))
            data = _Matched(_ordered_rows(frame))
            for program_id, at in _program_positions(data).items():
                digest = enrollments_digest(data.enrollments[at])
                if name == "all_months":
                    every[program_id] = digest
                elif every.get(program_id) == digest:
                    continue  # the window keeps the whole program: the all-months set
                sums = bootstrap_sums(
                    data.members[at], data.differences[:, at].T, seed=_unit_seed(program_id)
                )
                records.append(
                    {
                        "program_id": program_id,
                        "setting": setting,
                        "enrollment_window": name,
                        "month_from": month_from,
                        "month_to": month_to,
                        "matched_enrollments": len(at),
                        "enrollments_digest": digest,
                        "sums": np.ascontiguousarray(sums, dtype="<f8").tobytes(),
                    }
                )
    if records:
        conn.execute(impact_replicates.insert(), records)


def _code_digest() -> str:
    """What identifies the code behind the stored outputs (impact_frames): SHA-256 of the
    modules that compute them and of the libraries' versions whose arithmetic they use. A
    change to either leaves the stored rows unread (computed instead) until the next load."""
    here = Path(__file__).parent
    hasher = hashlib.sha256(f"numpy {np.__version__} pandas {pd.__version__}".encode())
    for name in (
        "impact.py",
        "impact_store.py",
        "event_study.py",
        "queries.py",
        "vocabulary.py",
        "models.py",
    ):
        hasher.update((here / name).read_bytes())
    return hasher.hexdigest()


CODE_DIGEST: Final = _code_digest()


def stored_scope(
    filters: OutcomeFilter, models: Sequence[str], *, every_month: bool = False
) -> str | None:
    """The impact_frames scope of the filters (`scope_name`): every state or one, every
    program model or one, every program and condition, over a window of months (or, with
    `every_month`, one state's every program model over every month too: a state partner's
    evaluation); None when the filters are no stored scope."""
    whole = _whole_over_months(filters, every_month=every_month)
    if not whole or (filters.states is not None and len(filters.states) != 1):
        return None
    chosen = set(models)
    if chosen == set(PROGRAM_MODELS):
        model = None
    elif len(chosen) == 1:
        model = next(iter(chosen))
    else:
        return None
    state = filters.states[0] if filters.states else None
    if filters.month_from is None and not is_state_scope(state, model):
        return None
    return scope_name(state, model)


def is_state_scope(state: str | None, model: str | None) -> bool:
    """Whether a stored scope is one state's, every program model: the scope of what whole
    states add up, of a state's members not enrolled and of a partner's first views."""
    return state is not None and model is None


def _whole_over_months(filters: OutcomeFilter, *, every_month: bool = False) -> bool:
    """Every program and condition over a window of months (or, with `every_month`, every
    month too): what the load stores, for every state, each state or (over a window)
    several states added up."""
    if filters.program_ids is not None or filters.conditions is not None:
        return False
    if filters.month_from is None and filters.month_to is None:
        return every_month
    return filters.month_from is not None and filters.month_to is not None


def stored_months(filters: OutcomeFilter) -> tuple[str, str]:
    """impact_frames' (month_from, month_to) of the filters: their window, or EVERY_MONTH."""
    return filters.month_from or EVERY_MONTH, filters.month_to or EVERY_MONTH


def scope_name(state: str | None, model: str | None) -> str:
    """A stored scope's name: `<state>|<model>`, `*` standing for every one."""
    return f"{state or '*'}|{model or '*'}"


def stored_payload(
    output: str, filters: OutcomeFilter, models: Sequence[str], engine: Engine
) -> Any | None:
    """The stored payload of an output (`impact`, `event_study`, `balance`) when the filters
    are a stored scope (`stored_scope`) over a stored window of months and setting, and the
    code is the one that stored it; else None, as when the table is missing or of an older
    form (a database loaded before it)."""
    # Each state's evaluation is stored over every month too: a state partner's.
    scope = stored_scope(filters, models, every_month=True)
    if scope is None:
        return None
    return read_stored(output, scope, filters.setting, filters, engine)


def read_stored(
    output: str, scope: str, setting: str, filters: OutcomeFilter, engine: Engine
) -> Any | None:
    """The stored payload of an output, a scope and a setting over the filters' months,
    stored by this code; else None, as when the table is missing or of an older form."""
    payloads = _stored_payloads(output, [scope], setting, filters, engine)
    return None if payloads is None else payloads[scope]


def _stored_payloads(
    output: str,
    scopes: list[str],
    setting: str,
    filters: OutcomeFilter,
    engine: Engine | Connection,
) -> dict[str, Any] | None:
    """The stored payload of an output for each of `scopes`, by scope, in a setting over the
    filters' months, stored by this code; None unless every scope has one, as when the
    table is missing or of an older form."""
    columns = impact_frames.c
    month_from, month_to = stored_months(filters)
    statement = select(columns.scope, columns.payload).where(
        columns.output == output,
        columns.scope.in_(scopes),
        columns.setting == setting,
        columns.month_from == month_from,
        columns.month_to == month_to,
        columns.code_digest == CODE_DIGEST,
    )
    try:
        frame = db.read_frame(statement, engine=engine)
    except DatabaseUnavailable:
        return None
    if len(frame) != len(scopes):
        return None
    return {
        str(scope): json.loads(payload)
        for scope, payload in zip(frame["scope"], frame["payload"], strict=True)
    }


# Per state, stored at load: the event study's sums (event_study.state_month_sums) and the
# comparison members (`_comparison_members`), which several whole states add up.
MONTH_SUMS_OUTPUT: Final = "es_month_sums"
COMPARED_MEMBERS_OUTPUT: Final = "compared_members"
# A count of members is the same in every setting: stored once, under `all`.
MEMBERS_SETTING: Final = "all"


def read_stored_states(
    output: str, setting: str, filters: OutcomeFilter, engine: Engine | Connection
) -> dict[str, Any] | None:
    """The stored payload of an output for each of the filters' states (scope `<state>|*`),
    by state code, in a setting over the filters' months, stored by this code, when the
    filters are two or more whole states (every program and condition: one state is a stored
    scope of its own); else None, as when a state has none stored."""
    if filters.states is None or len(filters.states) < 2 or not _whole_over_months(filters):
        return None
    scopes = {scope_name(state, None): state for state in filters.states}
    payloads = _stored_payloads(output, sorted(scopes), setting, filters, engine)
    if payloads is None:
        return None
    return {scopes[scope]: payload for scope, payload in payloads.items()}


def composed_comparison_members(
    filters: OutcomeFilter, models: Sequence[str], engine: Engine | Connection
) -> dict[str, int] | None:
    """`_comparison_members` of two or more whole states, from each state's stored counts: a
    comparison member is matched only within its own state (the exact-match cells include
    it), so the distinct members of several states are the sums of each state's. All
    programs are one count when every program model or one is chosen; for two or three
    models (a member may be matched by programs of more than one) None, as when the filters
    are not whole states or one is not stored."""
    chosen = set(models)
    if chosen != set(PROGRAM_MODELS) and len(chosen) != 1:
        return None
    payloads = read_stored_states(COMPARED_MEMBERS_OUTPUT, MEMBERS_SETTING, filters, engine)
    if payloads is None:
        return None
    out = {"all|": 0}
    for payload in payloads.values():
        counts, program_models = payload["members"], payload["program_models"]
        for key, members in counts.items():
            level, unit = key.split("|", 1)
            model = program_models.get(unit) if level == "program" else unit
            if level != "all" and model in chosen:
                out[key] = out.get(key, 0) + int(members)
        if chosen == set(PROGRAM_MODELS):
            out["all|"] += int(counts["all|"])
        else:
            out["all|"] += int(counts.get(f"program_model|{next(iter(chosen))}", 0))
    return out


def state_comparison_members(
    filters: OutcomeFilter, members: dict[str, int], conn: Connection
) -> dict[str, Any]:
    """What `composed_comparison_members` reads of one state (the filters' one state, every
    program model): its `_comparison_members` and the program model of each program."""
    programs = _programs(filters, PROGRAM_MODELS, conn)
    return {
        "members": members,
        "program_models": dict(
            zip(
                programs["program_id"].astype(str),
                programs["program_model"].astype(str),
                strict=True,
            )
        ),
    }


def _pooled(parts: list[np.ndarray | None]) -> np.ndarray | None:
    present = [p for p in parts if p is not None]
    return None if not present else np.sum(present, axis=0)


def _empty_impact() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="object") for c in (*IMPACT_COLUMNS, SUPPRESSED_COLUMN)}
    )


def evaluation_filters(filters: OutcomeFilter, viewer: Viewer) -> tuple[OutcomeFilter, list[str]]:
    """The evaluation's filters for this viewer, and its program models (not_enrolled out)."""
    filters = scope_filter(impact_scope(filters, viewer), viewer)[0]
    return filters, list(filters.enrolled_models)


def stored_or_computed(
    output: str,
    filters: OutcomeFilter,
    models: Sequence[str],
    engine: Engine,
    compute: Callable[[], Any | None],
) -> Any | None:
    """The output's stored payload for these filters (`stored_payload`), else `compute()`."""
    stored = stored_payload(output, filters, models, engine)
    return compute() if stored is None else stored


def impact_unit_rows(
    *, viewer: Viewer, filters: OutcomeFilter, engine: Engine | None = None
) -> int:
    """How many rows `impact_by_unit` gives for these filters and this viewer, from its
    programs alone (no enrollment read): one row per measure for each program, each model of
    those programs and all of them. Suppression blanks cells, never rows."""
    filters, models = evaluation_filters(filters, viewer)
    if filters.selects_nothing or not models:
        return 0
    programs = _programs(filters, models, db.resolve_engine(engine))
    if programs.empty:
        return 0
    units = len(programs) + programs["program_model"].nunique() + 1
    return units * len(IMPACT_MEASURES)


def impact_by_unit(
    *,
    viewer: Viewer,
    filters: OutcomeFilter,
    small_cells: SmallCells = "suppress",
    engine: Engine | None = None,
    stored_replicates: bool = True,
) -> pd.DataFrame:
    """The contract's impact export rows: each program, each program model (its selected
    programs pooled) and all selected programs, one row per measure, then `suppressed`.

    Columns: `IMPACT_COLUMNS` (`state_code` only on program rows, `program_model` empty on
    the `all` rows, `program_id` only on program rows; counts as integers; figures as floats,
    NaN where undefined or suppressed), and `suppressed`. Filters as for prepost: states,
    program models, programs, conditions, the month range on `enrolled_on`; the setting
    limits the admission measures and ED visits. Programs with no analysable enrollment are
    listed with 0; a model appears when a selected program has it. Ordered by level
    (program, program_model, all), then state_code, program_model, program_id and measure
    as plain text. Suppressed as `IMPACT_RULES` say, the pooled rows being the totals of
    the rows they pool.

    A program's bootstrap replicates are read from impact_replicates when the filters keep
    a stored set of its matched enrollments: all of them (any filter but the months and
    conditions, and those when they cut none of its) or those of the dashboard's opening
    months; `stored_replicates=False` draws them all again (the same bits).
    """
    engine = db.resolve_engine(engine)
    filters, models = evaluation_filters(filters, viewer)
    if filters.selects_nothing or not models:
        return _empty_impact()
    payload = stored_payload("impact", filters, models, engine) if stored_replicates else None
    if payload is None:
        payload = impact_payload(filters, models, engine, stored_replicates=stored_replicates)
    if payload is None:
        return _empty_impact()
    return _impact_output(payload, viewer, small_cells)


def impact_payload(
    filters: OutcomeFilter,
    models: Sequence[str],
    engine: Engine | Connection,
    *,
    stored_replicates: bool = True,
    comparison_members: dict[str, int] | None = None,
) -> dict[str, Any] | None:
    """`impact_by_unit`'s rows before suppression, in order (`records`), and the units that
    total others (`margins`: [total, parts]); None when no program is selected. Plain
    values only, so that the load can store it as JSON (impact_frames) and give the same
    frame back. `comparison_members`: `_comparison_members` of the filters, when known."""
    programs = _programs(filters, models, engine)
    if programs.empty:
        return None
    analysable = _analysable(filters, models, engine)
    rows = _enrollment_rows(filters, models, engine)
    if comparison_members is None:
        comparison_members = composed_comparison_members(filters, models, engine)
    if comparison_members is None:
        comparison_members = _comparison_members(filters, models, engine)
    programs = programs.sort_values(["state_code", "program_id"], kind="stable")

    data = _Matched(rows)
    program_at = _program_positions(data)
    nothing = np.empty(0, dtype="int64")
    stored = (
        _stored_replicates(data, program_at, filters.setting, engine) if stored_replicates else {}
    )

    records: list[dict[str, object]] = []
    margins: list[list[Any]] = []  # (total unit, its parts), by unit label
    replicates: dict[str, np.ndarray | None] = {}
    for program in programs.itertuples(index=False):
        program_id = str(program.program_id)
        keys: dict[str, str | None] = {
            "state_code": str(program.state_code),
            "program_model": str(program.program_model),
            "program_id": program_id,
        }
        members = comparison_members.get(f"program|{program_id}", 0)
        at = program_at.get(program_id, nothing)
        replicates[program_id] = _program_replicates(data, at, program_id, stored.get(program_id))
        records += _unit_figures(
            "program",
            keys,
            analysable.get(f"program|{program_id}", 0),
            data,
            at,
            members,
            filters.setting,
            replicates[program_id],
        )
    model_programs: dict[str, list[str]] = {}
    for program in programs.itertuples(index=False):
        model_programs.setdefault(str(program.program_model), []).append(str(program.program_id))
    present_models = sorted(model_programs)
    for model in present_models:
        keys = {"state_code": None, "program_model": model, "program_id": None}
        members = comparison_members.get(f"program_model|{model}", 0)
        parts = model_programs[model]
        pooled = _pooled([replicates[p] for p in parts])
        records += _unit_figures(
            "program_model",
            keys,
            analysable.get(f"program_model|{model}", 0),
            data,
            np.flatnonzero(data.model == model),
            members,
            filters.setting,
            pooled,
        )
        margins.append([f"program_model|{model}", [f"program|{p}" for p in parts]])
    keys = {"state_code": None, "program_model": None, "program_id": None}
    pooled = _pooled(list(replicates.values()))
    records += _unit_figures(
        "all",
        keys,
        analysable["all|"],
        data,
        np.arange(len(data.members)),
        comparison_members["all|"],
        filters.setting,
        pooled,
    )
    margins.append(["all|", [f"program_model|{m}" for m in present_models]])

    return {"records": _impact_order(records), "margins": margins}


def _impact_output(
    payload: dict[str, Any], viewer: Viewer, small_cells: SmallCells
) -> pd.DataFrame:
    """`impact_by_unit`'s frame of a payload (`impact_payload`), suppressed as asked."""
    margins = payload["margins"]
    if not must_suppress(viewer, small_cells):
        return _records_frame(payload["records"], IMPACT_COLUMNS, {SUPPRESSED_COLUMN: ""})
    frame = _records_frame(payload["records"], list(payload["records"][0]))
    return apply_suppression(
        frame,
        IMPACT_RULES,
        threshold=get_settings().small_cell_threshold,
        shown=IMPACT_COLUMNS,
        margins=unit_margins(frame, margins, column="measure", names=IMPACT_MEASURES),
    )


_RECORD_COUNTS: Final = frozenset({*IMPACT_COUNT_COLUMNS, "unmatched_enrollments", "matched_basis"})


def _records_frame(
    records: list[dict[str, Any]], columns: Sequence[str], constants: dict[str, str] | None = None
) -> pd.DataFrame:
    """The `columns` of a payload's records as a frame, the counts as int64, then the
    `constants`: the same frame as `DataFrame.from_records`, `astype` and `assign`, in about
    a third of the time."""
    built: dict[str, Any] = {
        name: np.array([r[name] for r in records], dtype=np.int64)
        if name in _RECORD_COUNTS
        else [r[name] for r in records]
        for name in columns
    }
    return pd.DataFrame({**built, **(constants or {})})


def _impact_order(records: list[dict[str, object]]) -> list[dict[str, object]]:
    """Level in the contract's order, then the keys and the measure as plain text (code
    point order, stable)."""
    rank: dict[str, int] = {level: i for i, level in enumerate(IMPACT_LEVELS)}

    def key(record: dict[str, object]) -> tuple[object, ...]:
        return (
            rank[str(record["level"])],
            *(
                "" if record[name] is None else str(record[name])
                for name in ("state_code", "program_model", "program_id", "measure")
            ),
        )

    return sorted(records, key=key)
