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
from typing import Any, Final

import numpy as np
import pandas as pd

from data_access.measures import (
    COUNT_COLUMNS,
    MEMBERS_LOWER_BOUND,
    MONEY_COLUMNS,
    PREPOST_MEASURES,
    RATE_COLUMNS,
    SUMMED_COLUMNS,
    add_monthly_rates,
)
from data_access.vocabulary import ENROLLED, NOT_ENROLLED, Dimension, Period

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


def unit_margins(
    frame: pd.DataFrame, units: Sequence[Sequence[Any]], *, column: str, names: Sequence[str]
) -> list[Margin]:
    """The margins of a frame with one row per unit and `column` value: for each
    [total, parts] of `units` (units labelled `level|program or model`, as the impact and
    balance payloads give them) and each of `names`, the total's row is the sum of its
    parts' rows of that name."""
    label = frame["level"] + "|" + frame["program_id"].fillna(frame["program_model"]).fillna("")
    position = {
        (unit, name): index
        for index, (unit, name) in enumerate(zip(label, frame[column], strict=True))
    }
    return [
        Margin(total=position[(total, name)], parts=tuple(position[(part, name)] for part in parts))
        for total, parts in units
        for name in names
    ]


def _propagate_array(mask: np.ndarray, columns: list[str], rules: DisclosureRules) -> bool:
    at = {c: i for i, c in enumerate(columns)}
    derived = [
        (at[figure], [at[s] for s in sources if s in at])
        for figure, sources in rules.derived.items()
        if figure in at
    ]
    derived = [(figure, sources) for figure, sources in derived if sources]
    linked = [[at[c] for c in group if c in at] for group in rules.linked]
    linked = [group for group in linked if group]
    changed_any = False
    while True:
        changed = False
        for figure, sources in derived:
            newly = mask[:, sources].any(axis=1) & ~mask[:, figure]
            if newly.any():
                mask[newly, figure] = True
                changed = True
        for group in linked:
            part = mask[:, group]
            newly = part.any(axis=1) & ~part.all(axis=1)
            if newly.any():
                mask[np.ix_(newly, np.asarray(group, dtype="int64"))] = True
                changed = True
        if not changed:
            return changed_any
        changed_any = True


def _complement(
    values: np.ndarray,
    mask: np.ndarray,
    additive: np.ndarray,
    margins: list[tuple[int, np.ndarray]],
) -> bool:
    """Where a shown total has exactly one hidden part in a column, hide the part with the
    smallest non-zero value among the shown ones (the first of equals), or else the total.
    Rows are positions; `additive` the positions of the columns that add up."""
    changed = False
    for total, parts in margins:
        part_hidden = mask[np.ix_(parts, additive)]
        lonely = (part_hidden.sum(axis=0) == 1) & ~mask[total, additive]
        if not lonely.any():
            continue
        part_values = np.nan_to_num(values[np.ix_(parts, additive)])
        candidates = np.where(~part_hidden & (part_values > 0), part_values, np.inf)
        best = candidates.argmin(axis=0)
        found = np.isfinite(candidates.min(axis=0))
        for column in np.flatnonzero(lonely):
            row = parts[best[column]] if found[column] else total
            mask[row, additive[column]] = True
        changed = True
    return changed


def _hide_small(
    mask: np.ndarray,
    columns: list[str],
    rules: DisclosureRules,
    threshold: int,
    values: Callable[[list[str]], np.ndarray],
) -> None:
    """Steps 1 and 2 on `mask` (rows by `columns`, the rules' columns of a frame):
    `values(names)` gives those columns of the frame as floats, missing as 0."""
    at = {c: i for i, c in enumerate(columns)}
    basis = values([rules.basis])[:, 0]
    counted = [c for c in rules.counts if c in at]
    counts = values(counted)
    any_value = (counts != 0).any(axis=1) | (basis != 0)
    money_or_other = [
        c for c in (*rules.additive, *rules.shown_with_basis) if c in at and c not in counted
    ]
    if money_or_other:
        others = values(money_or_other)
        any_value |= (others != 0).any(axis=1)
    mask[any_value & (basis < threshold), :] = True
    mask[:, [at[c] for c in counted]] |= (counts >= 1) & (counts < threshold)
    _propagate_array(mask, columns, rules)


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
    at = {c: i for i, c in enumerate(columns)}
    mask = np.zeros((len(frame), len(columns)), dtype=bool)
    if also_hidden is not None:
        extra = also_hidden.reindex(index=frame.index, columns=columns, fill_value=False)
        mask |= extra.to_numpy(dtype=bool)
    _hide_small(
        mask,
        columns,
        rules,
        threshold,
        lambda names: frame[names].fillna(0).to_numpy(dtype="float64"),
    )
    if margins:
        values = frame[columns].to_numpy(dtype="float64", na_value=np.nan)
        additive = np.array([at[c] for c in rules.additive if c in at], dtype="int64")
        row_of = {label: i for i, label in enumerate(frame.index)}
        positions = []
        for margin in margins:
            parts = np.array([row_of[p] for p in margin.parts if p in row_of], dtype="int64")
            if margin.total in row_of and len(parts):
                positions.append((row_of[margin.total], parts))
        while _complement(values, mask, additive, positions):
            _propagate_array(mask, columns, rules)
    return pd.DataFrame(mask, index=frame.index, columns=columns)


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
    # One array for every flagged column: a pandas mask and map per column cost more than
    # the rule itself on a wide frame (the pre/post rows have ~100 columns).
    flags = np.column_stack([hidden[c].to_numpy(dtype=bool) for c in flagged]) if flagged else None
    names = [""] * len(out)
    if flags is not None:
        for at in np.flatnonzero(flags.any(axis=0)).tolist():
            column = flagged[at]
            values = out[column].astype("float64").to_numpy(copy=True)
            values[flags[:, at]] = np.nan
            out[column] = pd.Series(values, index=out.index)
        names = [
            ";".join(column for column, hide in zip(flagged, row, strict=True) if hide)
            for row in flags.tolist()
        ]
    out[SUPPRESSED_COLUMN] = pd.Series(names, index=out.index, dtype="object")
    return out


__all__ = [
    "SUPPRESSED_COLUMN",
    "DisclosureRules",
    "Margin",
    "apply_suppression",
    "hidden_cells",
    "unit_margins",
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


LevelStatus = dict[tuple[str, str], tuple[pd.DataFrame, pd.DataFrame]]
# Per cut: its MONTHLY_RULES.additive values (missing as 0) and hidden flags, [row, column].
CutArrays = dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
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


@dataclass
class _Cut:
    """One cut: its sums, its rows' integer keys and the sums over MONTHLY_RULES' columns
    as arrays (missing as NaN in `read`, as 0 in `filled`)."""

    frame: pd.DataFrame
    keys: np.ndarray
    columns: list[str]
    read: np.ndarray
    filled: np.ndarray
    additive: np.ndarray  # positions of MONTHLY_RULES.additive in `columns`

    def hidden(self, also: np.ndarray, threshold: int) -> np.ndarray:
        """`hidden_cells` of the cut with `also` (over the additive columns) hidden too."""
        mask = np.zeros(self.read.shape, dtype=bool)
        mask[:, self.additive] = also
        at = {c: i for i, c in enumerate(self.columns)}
        _hide_small(
            mask,
            self.columns,
            MONTHLY_RULES,
            threshold,
            lambda names: self.filled[:, [at[c] for c in names]],
        )
        return mask


class _Cuts:
    """The finest monthly rows as integer codes, summed to any cut without string keys.

    A month is its index from January of the first year, so a quarter is month // 3 and a
    year month // 12; a group is a program model's code, its population (not enrolled or
    not) or one code for all; a state its code. Cuts are sorted as their text keys would be.
    """

    def __init__(self, finest: pd.DataFrame, states: list[str]) -> None:
        month = finest["month"].astype(str)
        years = month.str[:4].astype(int).to_numpy()
        self.first_year = int(years.min()) if len(years) else 0
        self.month = (years - self.first_year) * 12 + month.str[5:7].astype(int).to_numpy() - 1
        model_codes, models = pd.factorize(finest["program_model"].astype(str), sort=True)
        self.models = [str(m) for m in models]
        self.model = np.asarray(model_codes, dtype="int64")
        self.not_enrolled = np.array([m == NOT_ENROLLED for m in self.models], dtype=bool)
        if states:
            state_codes, state_names = pd.factorize(finest["state_code"].astype(str), sort=True)
            self.state = np.asarray(state_codes, dtype="int64")
            self.state_names = [str(x) for x in state_names]
        else:
            self.state = np.zeros(len(finest), dtype="int64")
            self.state_names = []
        self.has_states = bool(states)
        self.values = finest[list(SUMMED_COLUMNS)].to_numpy(dtype="float64")
        # The whole-sum rule passes over the same cuts several times: each cut, its values
        # and its rows' parents are worked out once.
        self._cuts: dict[tuple[str, str], _Cut] = {}
        self._parents: dict[tuple[tuple[str, str], tuple[str, str]], np.ndarray] = {}

    def cut(self, time: str, group: str) -> _Cut:
        level = (time, group)
        if level not in self._cuts:
            frame, keys = self._sums(time, group)
            columns = [c for c in MONTHLY_RULES.columns if c in frame.columns]
            values = frame[columns].to_numpy(dtype="float64", na_value=np.nan)
            self._cuts[level] = _Cut(
                frame,
                keys,
                columns,
                values,
                np.where(np.isnan(values), 0.0, values),
                np.array([columns.index(c) for c in MONTHLY_RULES.additive], dtype="int64"),
            )
        return self._cuts[level]

    def parent_rows(self, level: tuple[str, str], finer: tuple[str, str]) -> np.ndarray:
        """Per row of the cut `finer`, the row of the cut `level` holding it."""
        if (level, finer) not in self._parents:
            position = {tuple(k): i for i, k in enumerate(self.cut(*level).keys.tolist())}
            parents = self.parents(self.cut(*finer).keys, finer, level)
            self._parents[(level, finer)] = np.array(
                [position[tuple(k)] for k in parents.tolist()], dtype="int64"
            )
        return self._parents[(level, finer)]

    def time_code(self, month: np.ndarray, time: str) -> np.ndarray:
        if time == "month":
            return month
        if time in ("quarter", "year"):
            return month // (3 if time == "quarter" else 12)
        return np.zeros_like(month)

    def group_code(self, model: np.ndarray, group: str) -> np.ndarray:
        if group == "program_model":
            return model
        if group == "population":
            return np.asarray(self.not_enrolled[model], dtype="int64")
        return np.zeros_like(model)

    def time_text(self, code: int, time: str) -> str:
        if time == "month":
            return f"{self.first_year + code // 12:04d}-{code % 12 + 1:02d}"
        if time == "quarter":
            return f"{self.first_year + code // 4:04d}-Q{code % 4 + 1}"
        if time == "year":
            return f"{self.first_year + code:04d}"
        return "range"

    def group_text(self, code: int, group: str) -> str:
        if group == "program_model":
            return self.models[code]
        if group == "population":
            return NOT_ENROLLED if code else ENROLLED
        return "all"

    def _sums(self, time: str, group: str) -> tuple[pd.DataFrame, np.ndarray]:
        """The cut's sums (text keys, money in dollars, rate columns empty) and its rows'
        integer keys (time, group, state)."""
        t = self.time_code(self.month, time)
        g = self.group_code(self.model, group)
        rows = np.stack([t, g, self.state], axis=1)
        keys, inverse = np.unique(rows, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        sums = np.zeros((len(keys), self.values.shape[1]))
        np.add.at(sums, inverse, self.values)
        # The busiest month's member-months: months summed over the cut's groups first.
        by_month = np.stack([self.month, g, self.state], axis=1)
        month_keys, month_inverse = np.unique(by_month, axis=0, return_inverse=True)
        month_members = np.zeros(len(month_keys))
        np.add.at(month_members, month_inverse.reshape(-1), self.values[:, 0])
        month_cut = np.unique(
            np.stack(
                [self.time_code(month_keys[:, 0], time), month_keys[:, 1], month_keys[:, 2]], 1
            ),
            axis=0,
            return_inverse=True,
        )[1].reshape(-1)
        bound = np.zeros(len(keys))
        np.maximum.at(bound, month_cut, month_members)
        texts = {
            "time": [self.time_text(int(c), time) for c in keys[:, 0]],
            "group": [self.group_text(int(c), group) for c in keys[:, 1]],
        }
        if self.has_states:
            texts["state_code"] = [self.state_names[int(c)] for c in keys[:, 2]]
        # Sorted as the text keys: time, then group, then state (lexsort's last key first).
        order = np.lexsort(
            [
                np.asarray(texts.get("state_code", [""] * len(keys))),
                np.asarray(texts["group"]),
                np.asarray(texts["time"]),
            ]
        )
        columns: dict[str, object] = {name: np.asarray(text)[order] for name, text in texts.items()}
        sums = sums[order].round()
        for j, name in enumerate(SUMMED_COLUMNS):
            if name.endswith("_cents"):
                columns[name.removesuffix("_cents")] = sums[:, j] / 100
            else:
                columns[name] = sums[:, j].astype("int64")
        columns[MEMBERS_LOWER_BOUND] = bound[order].round().astype("int64")
        # The masks need every figure's column; the values of the rates are never read here.
        empty = np.full(len(keys), np.nan)
        columns.update({rate: empty for rate in RATE_COLUMNS})
        return pd.DataFrame(columns), keys[order]

    def parents(
        self, keys: np.ndarray, finer: tuple[str, str], level: tuple[str, str]
    ) -> np.ndarray:
        """The integer keys of the cells of `level` holding rows of a cut of `finer`."""
        out = keys.copy()
        if finer[0] != level[0]:
            months = {"month": 1, "quarter": 3, "year": 12}[finer[0]] * keys[:, 0]
            out[:, 0] = self.time_code(months, level[0])
        if finer[1] != level[1]:
            if level[1] == "population":
                out[:, 1] = self.not_enrolled[keys[:, 1]].astype("int64")
            else:
                out[:, 1] = 0
        return out


def level_status(
    finest: pd.DataFrame,
    *,
    period: Period | None,
    by: tuple[str, ...],
    threshold: int,
    states: list[str],
    whole_sums: bool = False,
    extra: LevelExtra | None = None,
    every_level: bool = False,
    arrays: CutArrays | None = None,
) -> LevelStatus:
    """Every cut from the finest to the output's (`every_level`: every cut the dashboard
    serves, so that every output of a view hides the same cells), each with its hidden mask.

    A cut's cell is hidden when it is small itself, when exactly one of its parts in a finer
    cut is hidden, or (`whole_sums`, the partners' rule) when its hidden parts add up to a
    count from 1 to threshold - 1: shown, the cell less its shown parts would give that sum.
    `extra` adds cells of each cut before the cut is checked (the differencing rule).
    `arrays`, when given, gets each cut's additive values and hidden flags as arrays (what the
    masks were made of: a caller reading them back from the frames pays a copy per column).
    """
    _, _, levels = _levels(period, by)
    if every_level:
        levels = [(time, group) for group in GROUP_LEVELS for time in TIME_LEVELS]
    cuts = _Cuts(finest, states)
    forced: dict[tuple[str, str], np.ndarray] = {}
    extras: dict[tuple[str, str], np.ndarray] = {}
    while True:
        status, relations, flags = _pass(
            cuts, levels, threshold, states, whole_sums, extra, forced, extras
        )
        if not whole_sums:
            return _kept(status, cuts, flags, arrays)
        # A hidden cell must not be the sum of shown parts: where all its non-zero parts are
        # shown, the smallest is hidden too (and its own parts in the next pass).
        more = False
        for (level, finer), at in reversed(relations.items()):  # coarsest first
            cut = status[level][0]
            part = cuts.cut(*finer)
            values = part.filled[:, part.additive]
            part_flags = flags[finer]
            nonzero = values != 0
            hidden_nonzero = np.zeros((len(cut), values.shape[1]))
            # A hidden part is unknown to the viewer even when it is zero.
            np.add.at(hidden_nonzero, at, part_flags.astype("float64"))
            parent = cuts.cut(*level)
            parent_value = parent.filled[:, parent.additive]
            exposed = flags[level] & (parent_value != 0) & (hidden_nonzero == 0)
            if not exposed.any():
                continue
            candidate = np.where(nonzero & ~part_flags, values, np.inf)
            smallest = np.full(exposed.shape, np.inf)
            np.minimum.at(smallest, at, candidate)
            pick = exposed[at] & (candidate == smallest[at]) & np.isfinite(candidate)
            # One part per parent and column: the first of equal smallest ones.
            seen = np.zeros(exposed.shape, dtype=bool)
            for row in np.flatnonzero(pick.any(axis=1)):
                for column in np.flatnonzero(pick[row]):
                    if not seen[at[row], column]:
                        seen[at[row], column] = True
                    else:
                        pick[row, column] = False
            mask = forced.setdefault(finer, np.zeros(values.shape, dtype=bool))
            new = pick & ~mask
            if new.any():
                mask |= new
                part_flags |= new  # seen by the finer cuts' own parts below, this pass
                more = True
        if not more:
            return _kept(status, cuts, flags, arrays)


def _kept(
    status: LevelStatus,
    cuts: _Cuts,
    flags: dict[tuple[str, str], np.ndarray],
    arrays: CutArrays | None,
) -> LevelStatus:
    """`status`, with each cut's additive values and hidden flags put in `arrays`."""
    if arrays is not None:
        for level in status:
            cut = cuts.cut(*level)
            arrays[level] = (cut.filled[:, cut.additive], flags[level].copy())
    return status


def _pass(
    cuts: _Cuts,
    levels: list[tuple[str, str]],
    threshold: int,
    states: list[str],
    whole_sums: bool,
    extra: LevelExtra | None,
    forced: dict[tuple[str, str], np.ndarray],
    extras: dict[tuple[str, str], np.ndarray],
) -> tuple[
    LevelStatus,
    dict[tuple[tuple[str, str], tuple[str, str]], np.ndarray],
    dict[tuple[str, str], np.ndarray],
]:
    """One pass over the cuts, finest first; `forced` cells are hidden as given, `extras`
    keeps what `extra` said of each cut (it depends on the cut's values only). Also each
    cut's hidden flags over the additive columns, as arrays (a copy: the caller's to add to)."""
    additive = list(MONTHLY_RULES.additive)
    status: LevelStatus = {}
    flags: dict[tuple[str, str], np.ndarray] = {}
    relations: dict[tuple[tuple[str, str], tuple[str, str]], np.ndarray] = {}
    for time, group in levels:
        level = (time, group)
        cut = cuts.cut(time, group)
        names = ["time", "group", *states]
        lonely = np.zeros((len(cut.frame), len(additive)), dtype=bool)
        for finer in (
            (_FINER_TIME[time], group) if _FINER_TIME[time] else None,
            (time, _FINER_GROUP[group]) if _FINER_GROUP[group] else None,
        ):
            if finer is None or finer not in status:
                continue
            part = cuts.cut(*finer)
            hidden_parts = flags[finer]
            values = np.where(hidden_parts, part.read[:, part.additive], 0.0)
            at = cuts.parent_rows(level, finer)
            relations[(level, finer)] = at
            hidden_count = np.zeros(lonely.shape)
            np.add.at(hidden_count, at, hidden_parts.astype("float64"))
            lonely |= hidden_count == 1
            if whole_sums:
                hidden_sum = np.zeros(lonely.shape)
                np.add.at(hidden_sum, at, values)
                lonely |= (hidden_sum >= 1) & (hidden_sum < threshold)
        if level in forced:
            lonely |= forced[level]
        also = lonely
        if extra is not None:
            if level not in extras:
                added = extra(time, group, cut.frame, names)
                extras[level] = (
                    added[additive].to_numpy(dtype=bool)
                    if added is not None
                    else np.zeros(lonely.shape, dtype=bool)
                )
            also = also | extras[level]
        hidden = cut.hidden(also, threshold)
        status[level] = (
            cut.frame,
            pd.DataFrame(hidden, index=cut.frame.index, columns=cut.columns),
        )
        flags[level] = hidden[:, cut.additive]
    return status, relations, flags


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
