"""Small-cell suppression, the CMS cell-size rule: no count from 1 to threshold - 1 is shown
or can be worked out from what is shown.

A frame is suppressed in three steps, all on a boolean "hidden" mask of its cells:

1. Primary: a row computed over fewer members (or enrollments) than the threshold is hidden
   whole; any count from 1 to threshold - 1 is hidden, including the counts a query uses
   but does not show (the admissions behind a rate per enrollment, say).
2. Derivation: a figure computed from a hidden cell is hidden (a rate would give back its
   count), and figures that add up within a row are hidden together (paid = behavioral +
   medical).
3. Complementary: where a row of the frame is the total of other rows (a margin), no hidden
   cell may be left alone among the parts of a shown total; another part (the smallest
   non-zero one) or else the total is hidden too. Steps 2 and 3 repeat until nothing changes.

Hidden cells become NaN and the column `suppressed` lists, per row, the hidden columns
(";"-separated, empty when none), so an empty value in a CSV says why it is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import pandas as pd

from data_access.measures import (
    COUNT_COLUMNS,
    MEMBERS_LOWER_BOUND,
    MONEY_COLUMNS,
    PREPOST_MEASURES,
    SUMMED_COLUMNS,
    add_monthly_rates,
)
from data_access.vocabulary import NOT_ENROLLED, Dimension, Period

SUPPRESSED_COLUMN: Final = "suppressed"


@dataclass(frozen=True)
class DisclosureRules:
    """What the columns of one kind of frame are, for suppression.

    basis: the number of members or enrollments a row's figures are computed over.
    counts: counts suppressed from 1 to threshold - 1 (shown or helper columns).
    derived: figure -> the cells it is computed from.
    additive: columns whose values add up across rows (checked against margins).
    linked: groups of columns of a row that add up to each other, hidden together.
    """

    basis: str
    counts: tuple[str, ...]
    derived: Mapping[str, tuple[str, ...]]
    additive: tuple[str, ...] = ()
    linked: tuple[tuple[str, ...], ...] = ()
    shown_with_basis: tuple[str, ...] = field(default=())

    @property
    def columns(self) -> tuple[str, ...]:
        names = [self.basis, *self.counts, *self.derived, *self.additive, *self.shown_with_basis]
        for group in self.linked:
            names.extend(group)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Margin:
    """Row `total` of a frame is the sum of rows `parts` (labels of the frame's index)."""

    total: int
    parts: tuple[int, ...]


def _propagate(hidden: pd.DataFrame, rules: DisclosureRules) -> bool:
    """Hide what derives from hidden cells, until nothing changes; True if anything did."""
    changed_any = False
    while True:
        changed = False
        for figure, sources in rules.derived.items():
            present = [s for s in sources if s in hidden.columns]
            if figure not in hidden.columns or not present:
                continue
            newly = hidden[present].any(axis=1) & ~hidden[figure]
            if newly.any():
                hidden.loc[newly, figure] = True
                changed = True
        for group in rules.linked:
            present = [c for c in group if c in hidden.columns]
            if not present:
                continue
            any_hidden = hidden[present].any(axis=1)
            newly = any_hidden & ~hidden[present].all(axis=1)
            if newly.any():
                hidden.loc[newly, present] = True
                changed = True
        if not changed:
            return changed_any
        changed_any = True


def _complement(
    values: pd.DataFrame, hidden: pd.DataFrame, rules: DisclosureRules, margins: Sequence[Margin]
) -> bool:
    changed = False
    for margin in margins:
        parts = [p for p in margin.parts if p in hidden.index]
        if margin.total not in hidden.index or not parts:
            continue
        for column in rules.additive:
            if column not in hidden.columns or hidden.loc[margin.total, column]:
                continue
            lonely = [p for p in parts if hidden.loc[p, column]]
            if len(lonely) != 1:
                continue
            shown = values.loc[parts, column][~hidden.loc[parts, column]]
            shown = shown[shown.fillna(0) > 0]
            if shown.empty:
                hidden.loc[margin.total, column] = True
            else:
                hidden.loc[shown.astype("float64").idxmin(), column] = True
            changed = True
    return changed


def hidden_cells(
    frame: pd.DataFrame,
    rules: DisclosureRules,
    *,
    threshold: int,
    margins: Sequence[Margin] = (),
    also_hidden: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The boolean mask of the cells to suppress, over the columns of `rules` in `frame`.

    `also_hidden` (same index, any of the columns) adds cells the caller must hide for a
    reason outside the frame, such as a pooled line whose difference with shown lines
    would be small; they are propagated like the others.
    """
    columns = [c for c in rules.columns if c in frame.columns]
    hidden = pd.DataFrame(False, index=frame.index, columns=columns)
    if also_hidden is not None:
        extra = also_hidden.reindex(index=frame.index, columns=columns, fill_value=False)
        hidden = hidden | extra.astype(bool)
    basis = frame[rules.basis].fillna(0).astype("float64")
    counted = [c for c in rules.counts if c in frame.columns]
    counts = frame[counted].fillna(0).astype("float64")
    any_value = (counts != 0).any(axis=1) | (basis != 0)
    money_or_other = [
        c
        for c in (*rules.additive, *rules.shown_with_basis)
        if c in frame.columns and c not in counted
    ]
    if money_or_other:
        any_value |= (frame[money_or_other].fillna(0).astype("float64") != 0).any(axis=1)
    few = any_value & (basis < threshold)
    hidden.loc[few, :] = True
    small = (counts >= 1) & (counts < threshold)
    hidden[counted] = hidden[counted] | small
    values = frame[columns]
    _propagate(hidden, rules)
    while _complement(values, hidden, rules, margins):
        _propagate(hidden, rules)
    return hidden


def apply_suppression(
    frame: pd.DataFrame,
    rules: DisclosureRules,
    *,
    threshold: int,
    shown: Sequence[str],
    margins: Sequence[Margin] = (),
    also_hidden: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """`frame` restricted to the `shown` columns, small cells emptied, plus `suppressed`.

    Helper columns the rules need (hidden counts, the basis) may be in `frame` without
    being shown; they are used, then dropped.
    """
    hidden = hidden_cells(
        frame, rules, threshold=threshold, margins=margins, also_hidden=also_hidden
    )
    out = frame[list(shown)].copy()
    flagged = [c for c in shown if c in hidden.columns]
    for column in flagged:
        mask = hidden[column]
        if mask.any():
            out[column] = out[column].astype("float64").mask(mask)
    names = pd.Series("", index=out.index, dtype="object")
    for column in flagged:
        names = names + hidden[column].map({True: f"{column};", False: ""}).astype("object")
    out[SUPPRESSED_COLUMN] = names.str.rstrip(";") if len(out) else names
    return out


__all__ = [
    "SUPPRESSED_COLUMN",
    "DisclosureRules",
    "Margin",
    "apply_suppression",
    "hidden_cells",
]


# ---------------------------------------------------------------------------------------
# The rules of the contract's outputs

MONTHLY_RULES = DisclosureRules(
    # In one month a cell's member-months are its members; over longer periods the busiest
    # month's member-months are a lower bound of the distinct members.
    basis=MEMBERS_LOWER_BOUND,
    counts=COUNT_COLUMNS[1:],
    derived={
        "admissions_per_1000_mm": ("member_months", "admissions"),
        "inpatient_days_per_1000_mm": ("member_months", "inpatient_days"),
        "average_los": ("inpatient_days", "discharges"),
        "readmission_rate_30d": ("readmissions_30d", "followed_discharges"),
        "ed_visits_per_1000_mm": ("member_months", "ed_visits"),
        "followup_rate_7d": ("followups_7d", "followed_behavioral_discharges"),
        "followup_rate_30d": ("followups_30d", "followed_behavioral_discharges"),
        "peer_contact_rate_1d": ("peer_contacts_1d", "followed_behavioral_discharges"),
        "cost_pmpm": ("member_months", "paid"),
        "behavioral_cost_pmpm": ("member_months", "behavioral_paid"),
        "medical_cost_pmpm": ("member_months", "medical_paid"),
    },
    additive=("member_months", *COUNT_COLUMNS[1:], *MONEY_COLUMNS),
    linked=(MONEY_COLUMNS,),
)
_PREPOST_COUNTS = (
    "with_admission",
    "admissions",
    "discharges",
    "inpatient_days",
    "ed_visits",
    "visits",
)
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
                    "ed_visits_per_enrollment": ("enrollments", f"{window}_ed_visits"),
                    "visits_per_enrollment": ("enrollments", f"{window}_visits"),
                    "visit_paid_per_enrollment": ("enrollments", f"{window}_visits"),
                    "inpatient_paid_per_enrollment": ("enrollments", f"{window}_admissions"),
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


# ---------------------------------------------------------------------------------------
# Across outputs: what one output shows must not give back what another hides


def rest_of_nation_hidden(
    rest: pd.DataFrame,
    per_state: pd.DataFrame,
    *,
    keys: list[str],
    frame: pd.DataFrame,
    threshold: int,
) -> pd.DataFrame:
    """Cells of a partner's national line to hide, by the rest of the nation.

    National minus the partner's own states is the rest of the nation: where that is one
    state, the whole row goes (it would be that state's figures); where a cell of it is
    small, or derives from a small one, that cell goes (national minus the partner's line
    would give it). `rest` holds the monthly sums of the states outside the grant by `keys`,
    `per_state` the same by `keys` and state.
    """
    columns = [c for c in MONTHLY_RULES.columns if c in frame.columns]
    none_hidden = pd.DataFrame(False, index=frame.index, columns=columns)
    if rest.empty:  # nothing outside the grant: the national line is the partner's own
        return none_hidden
    with_data = per_state[(per_state[list(SUMMED_COLUMNS)] != 0).any(axis=1)]
    if keys:
        states_with_data = with_data.groupby(keys).size().rename("states_with_data")
        rest = rest.merge(states_with_data, left_on=keys, right_index=True, how="left")
    else:
        rest["states_with_data"] = len(with_data)
    rest = add_monthly_rates(rest)
    rest_hidden = hidden_cells(rest, MONTHLY_RULES, threshold=threshold)
    rest_hidden.loc[rest["states_with_data"].fillna(0) == 1, :] = True
    rest_hidden = rest_hidden.reindex(columns=columns, fill_value=False)
    if not keys:
        return pd.DataFrame(
            [rest_hidden.iloc[0].to_numpy()] * len(frame), index=frame.index, columns=columns
        )
    placed = frame[keys].merge(pd.concat([rest[keys], rest_hidden], axis=1), on=keys, how="left")
    placed.index = frame.index
    return placed[columns].fillna(False).astype(bool)


# The cuts the dashboard serves, finest first: every output is a sum of cells of the finest
# (month x program model, per state or pooled), and of every cut between.
TIME_LEVELS: tuple[str, ...] = ("month", "quarter", "year", "range")
GROUP_LEVELS: tuple[str, ...] = ("program_model", "population", "all")
_FINER_TIME = {"month": None, "quarter": "month", "year": "quarter", "range": "month"}
_FINER_GROUP = {"program_model": None, "population": "program_model", "all": "population"}


def cut_keys(finest: pd.DataFrame, time: str, group: str, states: list[str]) -> pd.DataFrame:
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
    by_month = pd.concat([keys, finest[["month", *SUMMED_COLUMNS]]], axis=1)
    by_month = by_month.groupby([*names, "month"], as_index=False)[list(SUMMED_COLUMNS)].sum()
    sums = by_month.groupby(names).agg(
        **{c: (c, "sum") for c in SUMMED_COLUMNS},
        **{MEMBERS_LOWER_BOUND: ("member_months", "max")},
    )
    return add_monthly_rates(sums.reset_index())


LevelStatus = dict[tuple[str, str], tuple[pd.DataFrame, pd.DataFrame]]
# Cells a caller adds at one level of the cuts: (time, group, the cut, its key columns) to a
# mask over the cut's rows and MONTHLY_RULES' additive columns, or None.
LevelExtra = Callable[[str, str, pd.DataFrame, list[str]], "pd.DataFrame | None"]


def _levels(period: Period | None, by: tuple[str, ...]) -> tuple[str, str, list[tuple[str, str]]]:
    target_time = period or "range"
    target_group = (
        "program_model" if "program_model" in by else "population" if "population" in by else "all"
    )
    times = TIME_LEVELS[: TIME_LEVELS.index(target_time) + 1]
    if target_time == "range":
        times = ("month", "range")
    levels = [
        (time, group)
        for group in GROUP_LEVELS[: GROUP_LEVELS.index(target_group) + 1]
        for time in times
    ]
    return target_time, target_group, levels


def level_status(
    finest: pd.DataFrame,
    *,
    period: Period | None,
    by: tuple[str, ...],
    threshold: int,
    states: list[str],
    whole_sums: bool = False,
    extra: LevelExtra | None = None,
) -> LevelStatus:
    """Every cut from the finest to the output's, each with its hidden mask.

    A cut's cell is hidden when it is small itself, when exactly one of its parts in a finer
    cut is hidden, or (`whole_sums`, the partners' rule) when its hidden parts add up to a
    count from 1 to threshold - 1: shown, the cell less its shown parts would give that sum.
    `extra` adds cells of each cut before the cut is checked (the differencing rule).
    """
    _, _, levels = _levels(period, by)
    status: LevelStatus = {}
    for time, group in levels:
        parent = cut_keys(finest, time, group, states)
        cut = _cut(finest, parent)
        names = list(parent.columns)
        additive = list(MONTHLY_RULES.additive)
        lonely = pd.DataFrame(False, index=cut.index, columns=additive)
        for finer in (
            (_FINER_TIME[time], group) if _FINER_TIME[time] else None,
            (time, _FINER_GROUP[group]) if _FINER_GROUP[group] else None,
        ):
            if finer is None or finer not in status:
                continue
            part_cut, part_hidden = status[finer]
            child = cut_keys(finest, *finer, states)
            link = pd.concat([parent, child.add_prefix("child_")], axis=1).drop_duplicates()
            child_names = [f"child_{n}" for n in names]
            hidden_parts = part_hidden[additive].astype(bool)
            hidden_values = part_cut[additive].where(hidden_parts, 0).add_prefix("value_")
            flags = pd.concat(
                [part_cut[names].add_prefix("child_"), hidden_parts, hidden_values], axis=1
            )
            counted = link.merge(flags, on=child_names, how="inner").groupby(names)
            per_parent = counted[additive].sum() == 1
            if whole_sums:
                sums = counted[[f"value_{c}" for c in additive]].sum()
                sums.columns = additive
                per_parent = per_parent | ((sums >= 1) & (sums < threshold))
            placed = cut[names].merge(per_parent, left_on=names, right_index=True, how="left")
            lonely = lonely | placed[additive].fillna(False).astype(bool).to_numpy()
        if extra is not None:
            added = extra(time, group, cut, names)
            if added is not None:
                lonely = lonely | added[additive].to_numpy()
        hidden = hidden_cells(cut, MONTHLY_RULES, threshold=threshold, also_hidden=lonely)
        status[(time, group)] = (cut, hidden)
    return status


def place_status(
    status: LevelStatus,
    *,
    period: Period | None,
    by: tuple[str, ...],
    frame: pd.DataFrame,
    rows: pd.Series,
    states: list[str],
    group: str | None = None,
) -> pd.DataFrame:
    """The mask of one cut of `status` on the `rows` of an output `frame` (False elsewhere);
    `group` names another group level than the output's (the pooled rows of a total)."""
    target_time, target_group, _ = _levels(period, by)
    level_group = group or target_group
    cut, hidden = status[(target_time, level_group)]
    rename: dict[str, str] = {"time": period} if period else {}
    if level_group != "all":
        rename["group"] = level_group
    table = pd.concat([cut[["time", "group", *states]], hidden], axis=1)
    table = table.rename(columns=rename)
    if "population" in by and "population" not in table.columns and level_group != "all":
        models = table["program_model"]
        table["population"] = models.where(models == NOT_ENROLLED, "enrolled")
    out_keys: list[str] = ([period] if period else []) + (
        [d for d in by if d in table.columns] if group is None else list(states)
    )
    columns = list(hidden.columns)
    out = pd.DataFrame(False, index=frame.index, columns=columns)
    if not rows.any():
        return out
    if out_keys:
        placed = frame.loc[rows, out_keys].merge(table, on=out_keys, how="left")[columns]
    else:
        placed = pd.DataFrame(
            [table[columns].iloc[0].to_numpy()] * int(rows.sum()), columns=columns
        )
    out.loc[rows, columns] = placed.fillna(False).astype(bool).to_numpy()
    return out


def consistent_hidden(
    finest: pd.DataFrame,
    *,
    period: Period | None,
    by: tuple[Dimension, ...],
    frame: pd.DataFrame,
    is_total: pd.Series,
    threshold: int,
) -> pd.DataFrame:
    """Cells to hide so that no output gives back a cell another output suppresses.

    Cut by cut from the finest, a cell is hidden when it is small itself or when, among its
    parts in a finer cut the dashboard also serves (its months, its program models, its two
    populations), exactly one is hidden: shown, it would give that part back by subtraction
    (a quarter against its months, a pooled line against the not-enrolled line). `finest`
    holds the monthly sums by month and program model (and state when `by` has it). Outputs
    by program, and the pooled rows of `with_total` (checked against their own parts), are
    left to their own rules.
    """
    states = ["state_code"] if "state_code" in by else []
    status = level_status(finest, period=period, by=by, threshold=threshold, states=states)
    return place_status(status, period=period, by=by, frame=frame, rows=~is_total, states=states)
