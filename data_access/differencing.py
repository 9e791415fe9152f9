"""The differencing rule: what a state partner may see, given every other view they may ask for.

Small-cell suppression holds within each output; a partner who sets two of their own views
side by side (programs A+B against A, all conditions against one, 2023-2024 against 2023)
could subtract them. Partners choose filters from a lattice (`access.partner_choice_problem`),
so the views that hold a view are few (`access.wider_choices`), and a count cell of a view is
hidden, at every cut from the finest up, when

1. a wider view's cell at the same keys is larger by 1 to threshold - 1 (the difference would
   be a small count), or equal to it and hidden there (the same figure is hidden everywhere);
2. (year and whole-range cells) the nearest year with data outside the cell's years, in the
   view or in a wider view equal to it, holds 1 to threshold - 1: the cell against the
   longer range would give that year's count;

and cells adding up within a view follow the partners' whole-sum rule of
`suppression.level_status`. docs/disclosure.md states the guarantee and its cost.

Plain pandas over the partner's monthly sums by month, state, program model, program and
condition in every setting (`atoms`), read once by `queries`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_access.filters import OutcomeFilter
from data_access.measures import COUNT_COLUMNS, MEMBERS_LOWER_BOUND, SUMMED_COLUMNS
from data_access.suppression import MONTHLY_RULES, LevelStatus, cut_keys, level_status
from data_access.vocabulary import NOT_ENROLLED, PRIMARY_CONDITIONS, PROGRAM_GROUPS

ATOM_KEYS = ("month", "state_code", "program_model", "program_id", "primary_condition")
SETTING_SEPARATOR = "__"


def atom_column(column: str, setting: str) -> str:
    return f"{column}{SETTING_SEPARATOR}{setting}"


def view_finest(atoms: pd.DataFrame, filters: OutcomeFilter, *, by_state: bool) -> pd.DataFrame:
    """A view's monthly sums by month and program model (and state), over every month."""
    keep = atoms["program_model"].isin(filters.program_models)
    if filters.states is not None:
        keep &= atoms["state_code"].isin(filters.states)
    if filters.program_ids is not None:
        keep &= atoms["program_id"].isna() | atoms["program_id"].isin(filters.program_ids)
    if filters.conditions is not None:
        keep &= atoms["primary_condition"].isin(filters.conditions)
    names = {atom_column(c, filters.setting): c for c in SUMMED_COLUMNS}
    keys = ["month", "program_model", *(["state_code"] if by_state else [])]
    chosen = atoms.loc[keep, [*keys, *names]].rename(columns=names)
    finest = chosen.groupby(keys, as_index=False)[list(SUMMED_COLUMNS)].sum()
    finest[MEMBERS_LOWER_BOUND] = finest["member_months"]
    return finest


def in_months(finest: pd.DataFrame, filters: OutcomeFilter) -> pd.DataFrame:
    month = finest["month"].astype(str)
    keep = pd.Series(True, index=finest.index)
    if filters.month_from:
        keep &= month >= filters.month_from
    if filters.month_to:
        keep &= month <= filters.month_to
    return finest.loc[keep].reset_index(drop=True)


@dataclass
class View:
    """One view a partner may ask for: its monthly sums over every month and its cuts."""

    every_month: pd.DataFrame
    status: LevelStatus
    states: list[str]
    filters: OutcomeFilter


# Views already worked out, by the atoms' digest and the view: the same wider views serve
# many of a partner's views (and every output of a page), and each costs a pass over all cuts.
_VIEWS: dict[tuple[object, ...], View] = {}
_VIEWS_KEPT = 512


def atoms_digest(atoms: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(atoms, index=False).sum())


def build_view(
    atoms: pd.DataFrame,
    filters: OutcomeFilter,
    *,
    states: list[str],
    threshold: int,
    digest: int,
    extra: Differencing | None = None,
) -> View:
    """A view's every cut with its hidden mask, once per view: every output of the view (by
    month or year, by model or pooled) reads its cells from the same masks."""
    key = (digest, filters, tuple(states), threshold, extra is not None)
    if key not in _VIEWS:
        if len(_VIEWS) >= _VIEWS_KEPT:
            _VIEWS.pop(next(iter(_VIEWS)))
        every_month = view_finest(atoms, filters, by_state=bool(states))
        status = level_status(
            in_months(every_month, filters),
            period=None,
            by=(),
            threshold=threshold,
            states=states,
            whole_sums=True,
            extra=extra,
            every_level=True,
        )
        _VIEWS[key] = View(every_month, status, states, filters)
    return _VIEWS[key]


def _keys(frame: pd.DataFrame, on: list[str]) -> np.ndarray:
    """Each row's values of `on` as one text (a key to match rows of two cuts by)."""
    if not on:
        return np.full(len(frame), "", dtype=object)
    joined = frame[on[0]].astype(str)
    for name in on[1:]:
        joined = joined + "|" + frame[name].astype(str)
    return joined.to_numpy(dtype=object)


GROUP_BITS: dict[str, int] = {group: 1 << i for i, group in enumerate(PROGRAM_GROUPS)}


def _group_bits(groups: list[frozenset[str]]) -> np.ndarray:
    return np.array([sum(GROUP_BITS[g] for g in held) for held in groups], dtype="int64")


def _group_sets(cut: pd.DataFrame, group: str, models: tuple[str, ...]) -> list[frozenset[str]]:
    """The program groups each row of a cut holds: its model, its population or all."""
    enrolled = frozenset(m for m in models if m != NOT_ENROLLED)
    if group == "program_model":
        return [frozenset({str(g)}) for g in cut["group"]]
    if group == "population":
        return [frozenset({NOT_ENROLLED}) if g == NOT_ENROLLED else enrolled for g in cut["group"]]
    return [frozenset(models)] * len(cut)


@dataclass
class Family:
    """One-value views of one filter that add up to a total: the view is one of `parts`."""

    total: View
    parts: list[View]
    me: int


@dataclass
class Differencing:
    """The extra cells of a partner's view at each cut (`suppression.LevelExtra`)."""

    own: View  # the view itself, without the extra cells (its monthly sums and filters)
    wider: list[View]
    families: list[Family]
    threshold: int
    years: tuple[int, int]  # the first and last year of the view's months
    states: list[str]

    def _small(self, values: np.ndarray) -> np.ndarray:
        return (values >= 1) & (values < self.threshold)

    def _aligned(
        self, cut: pd.DataFrame, other: pd.DataFrame, flags: pd.DataFrame, on: list[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """`other`'s additive values and hidden flags at the keys of `cut`'s rows (0, False
        where it has no such row)."""
        additive = list(MONTHLY_RULES.additive)
        at = pd.Index(_keys(other, on)).get_indexer(_keys(cut, on))
        found = at >= 0
        values = np.zeros((len(cut), len(additive)))
        values[found] = other[additive].fillna(0).to_numpy(dtype="float64")[at[found]]
        hidden = np.zeros(values.shape, dtype=bool)
        hidden[found] = flags[additive].to_numpy(dtype=bool)[at[found]]
        return values, hidden

    def __call__(self, time: str, group: str, cut: pd.DataFrame, names: list[str]) -> pd.DataFrame:
        additive = list(MONTHLY_RULES.additive)
        count_at = [additive.index(c) for c in COUNT_COLUMNS]
        own = cut[additive].fillna(0).to_numpy(dtype="float64")
        hidden = np.zeros(own.shape, dtype=bool)
        everywhere = np.ones((len(cut), len(count_at)), dtype=bool)
        equal_views: list[tuple[pd.DataFrame, np.ndarray]] = [(self.own.every_month, everywhere)]
        mine = _group_bits(_group_sets(cut, group, self.own.filters.program_models))
        for view in self.wider:
            on = [n for n in names if n != "group" and n in view.status[(time, group)][0].columns]
            mine_keys = _keys(cut, on)
            same_level = np.zeros((len(cut), len(count_at)), dtype=bool)
            for (level_time, level), (wide_cut, wide_hidden) in view.status.items():
                if level_time != time or wide_cut.empty:
                    continue
                theirs = _group_bits(_group_sets(wide_cut, level, view.filters.program_models))
                codes = pd.factorize(np.concatenate([mine_keys, _keys(wide_cut, on)]))[0]
                # Every row of the wider view holding the same groups or more, at any cut.
                match = (codes[: len(cut), None] == codes[None, len(cut) :]) & (
                    (mine[:, None] & ~theirs[None, :]) == 0
                )
                rows, wide_rows = np.nonzero(match)
                if not len(rows):
                    continue
                wide = wide_cut[additive].fillna(0).to_numpy(dtype="float64")[wide_rows]
                wide_is_hidden = wide_hidden[additive].to_numpy(dtype=bool)[wide_rows]
                difference = np.round(wide - own[rows], 6)
                # A wider figure that is hidden cannot be subtracted from.
                small = self._small(difference[:, count_at]) & ~wide_is_hidden[:, count_at]
                equal = difference == 0
                found = np.zeros(hidden.shape, dtype=bool)
                np.logical_or.at(found, rows, equal & wide_is_hidden)
                small_rows = np.zeros((len(cut), len(count_at)), dtype=bool)
                np.logical_or.at(small_rows, rows, small)
                hidden |= found
                hidden[:, count_at] |= small_rows
                if level == group:
                    same = theirs[wide_rows] == mine[rows]
                    np.logical_or.at(same_level, rows[same], equal[same][:, count_at])
            if time in ("year", "range") and view.states == self.states:
                equal_views.append((view.every_month, same_level))
        for family in self.families:
            hidden[:, count_at] |= self._complement(family, time, group, cut, names)
        if time in ("year", "range"):
            for every_month, equal in equal_views:
                hidden[:, count_at] |= self._nearest_years(time, group, cut, every_month) & equal
        return pd.DataFrame(hidden, index=cut.index, columns=additive)

    def _complement(
        self, family: Family, time: str, group: str, cut: pd.DataFrame, names: list[str]
    ) -> np.ndarray:
        """Cells to hide so that the total less its shown one-value parts never leaves one
        hidden part or hidden parts adding up to a small count: where it would, the part
        with the smallest non-zero count among the shown ones is hidden too (so the view
        hides its cell when it is that part)."""
        counts = list(COUNT_COLUMNS)
        on = [n for n in names if n in family.total.status[(time, group)][0].columns]
        values, flags = [], []
        for part in family.parts:
            part_cut, part_flags = part.status[(time, group)]
            value, flag = self._aligned(cut, part_cut, part_flags, on)
            values.append(value)
            flags.append(flag)
        total_cut, total_hidden = family.total.status[(time, group)]
        _, total_flag = self._aligned(cut, total_cut, total_hidden, on)
        additive = list(MONTHLY_RULES.additive)
        count_at = [additive.index(c) for c in counts]
        part_values = np.stack(values)[:, :, count_at]
        part_hidden = np.stack(flags)[:, :, count_at]
        hidden_sum = (part_values * part_hidden).sum(axis=0)
        lonely = (part_hidden.sum(axis=0) == 1) | self._small(hidden_sum)
        exposed = lonely & ~total_flag[:, count_at]
        candidates = np.where(~part_hidden & (part_values > 0), part_values, np.inf)
        smallest = candidates.argmin(axis=0)
        chosen: np.ndarray = exposed & np.isfinite(candidates.min(axis=0)) & (smallest == family.me)
        return chosen

    def _nearest_years(
        self, time: str, group: str, cut: pd.DataFrame, every_month: pd.DataFrame
    ) -> np.ndarray:
        """Cells whose nearest year with data before or after their own years holds a small
        count, in the view `every_month`."""
        counts = list(COUNT_COLUMNS)
        out = np.zeros((len(cut), len(counts)), dtype=bool)
        if every_month.empty or cut.empty:
            return out
        keys = cut_keys(every_month, "year", group, self.states)
        year = keys["time"].astype(int).to_numpy()
        first_year = int(year.min())
        years = np.arange(first_year, int(year.max()) + 1)
        codes, uniques = pd.factorize(_keys(keys, ["group", *self.states]))
        table = np.zeros((len(uniques), len(years), len(counts)))
        np.add.at(table, (codes, year - first_year), every_month[counts].to_numpy(dtype="float64"))
        code_of = {key: i for i, key in enumerate(uniques)}
        for row, key in enumerate(_keys(cut, ["group", *self.states])):
            k = code_of.get(key)
            if k is None:
                continue
            first, last = (int(cut["time"].iloc[row]),) * 2 if time == "year" else self.years
            out[row] = nearest_year_small(table[k], years, first, last, self.threshold)
        return out


def nearest_year_small(
    by_year: np.ndarray, years: np.ndarray, first: int, last: int, threshold: int
) -> np.ndarray:
    """For each column of `by_year` (counts, one row per year of `years`, ascending), whether
    the nearest year with a non-zero count before `first` or after `last` holds 1 to
    threshold - 1: the same view over the range widened to that year would give its count.
    The one rule for years, used by every output a partner sees."""
    out = np.zeros(by_year.shape[1], dtype=bool)
    columns = np.arange(by_year.shape[1])
    for side in (by_year[years < first][::-1], by_year[years > last]):  # nearest year first
        if not len(side):
            continue
        nonzero = side != 0
        nearest = side[nonzero.argmax(axis=0), columns]
        out |= nonzero.any(axis=0) & (nearest >= 1) & (nearest < threshold)
    return out


def partner_status(
    atoms: pd.DataFrame,
    filters: OutcomeFilter,
    wider: list[OutcomeFilter],
    *,
    by: tuple[str, ...],
    threshold: int,
    granted: tuple[str, ...],
) -> View:
    """The cuts of a partner's view with the differencing rule applied at each (by state
    when `by` has it)."""
    pooled_states = len(granted) > 1
    states = ["state_code"] if "state_code" in by else []
    digest = atoms_digest(atoms)

    def view(of: OutcomeFilter, keys: list[str], extra: Differencing | None = None) -> View:
        return build_view(atoms, of, states=keys, threshold=threshold, digest=digest, extra=extra)

    views = [view(w, states) for w in wider]
    if states and pooled_states:  # each state's rows against the states pooled
        views.append(view(filters, []))
    families = [
        Family(view(total, states), [view(part, states) for part in parts], me)
        for total, parts, me in _families(atoms, filters, granted)
    ]
    months = pd.to_datetime(atoms["month"].astype(str)).dt.year
    first = int(filters.month_from[:4]) if filters.month_from else int(months.min())
    last = int(filters.month_to[:4]) if filters.month_to else int(months.max())
    extra = Differencing(view(filters, states), views, families, threshold, (first, last), states)
    return view(filters, states, extra)


def _families(
    atoms: pd.DataFrame, filters: OutcomeFilter, granted: tuple[str, ...]
) -> list[tuple[OutcomeFilter, list[OutcomeFilter], int]]:
    """The one-value choices of this view's filters, each with its siblings and total: one
    condition among all conditions, one program among the programs of its states (the
    enrolled rows only: every program's view holds the same not-enrolled rows), one state
    among the grant."""

    def changed(base: OutcomeFilter, **update: object) -> OutcomeFilter:
        return OutcomeFilter.model_validate({**base.model_dump(), **update})

    families = []
    if filters.conditions is not None and len(filters.conditions) == 1:
        parts = [changed(filters, conditions=(c,)) for c in PRIMARY_CONDITIONS]
        me = PRIMARY_CONDITIONS.index(filters.conditions[0])
        families.append((changed(filters, conditions=None), parts, me))
    if filters.program_ids is not None and len(filters.program_ids) == 1:
        enrolled = tuple(m for m in filters.program_models if m != NOT_ENROLLED)
        within = atoms["program_model"].isin(enrolled) & atoms["program_id"].notna()
        if filters.states is not None:
            within &= atoms["state_code"].isin(filters.states)
        programs = sorted(set(atoms.loc[within, "program_id"]) | set(filters.program_ids))
        base = changed(filters, program_models=enrolled)
        parts = [changed(base, program_ids=(p,)) for p in programs]
        families.append(
            (changed(base, program_ids=None), parts, programs.index(filters.program_ids[0]))
        )
    if filters.states is not None and len(filters.states) == 1 and len(granted) > 1:
        parts = [changed(filters, states=(s,)) for s in granted]
        families.append((changed(filters, states=granted), parts, granted.index(filters.states[0])))
    return families


def _prepost_sums(
    atoms: pd.DataFrame, filters: OutcomeFilter, counts: tuple[str, ...]
) -> pd.DataFrame:
    """A view's pre/post counts by program and enrollment year."""
    keep = pd.Series(True, index=atoms.index)
    if filters.conditions is not None:
        keep &= atoms["primary_condition"].isin(filters.conditions)
    names = {atom_column(c, filters.setting): c for c in counts if c != "enrollments"}
    chosen = atoms.loc[keep, ["program_id", "year", "enrollments", *names]].rename(columns=names)
    return chosen.groupby(["program_id", "year"], as_index=False)[list(counts)].sum()


def prepost_hidden(
    atoms: pd.DataFrame,
    filters: OutcomeFilter,
    wider: list[OutcomeFilter],
    *,
    frame: pd.DataFrame,
    counts: tuple[str, ...],
    threshold: int,
) -> pd.DataFrame:
    """Count cells of a partner's pre/post rows (`frame`, one per program) to hide: a wider
    view's count of the same program (all conditions, every setting) larger by 1 to
    threshold - 1, or the nearest enrollment year with data outside the range, in the view
    or a wider view equal to it, holding such a count. `atoms` holds the sums by program,
    enrollment year and condition in every setting."""
    hidden = pd.DataFrame(False, index=frame.index, columns=list(counts))
    if atoms.empty or frame.empty:
        return hidden
    years = atoms["year"]
    first = int(filters.month_from[:4]) if filters.month_from else int(years.min())
    last = int(filters.month_to[:4]) if filters.month_to else int(years.max())
    options: dict[tuple[object, str], OutcomeFilter] = {
        (w.conditions, w.setting): w
        for w in wider
        if (w.conditions, w.setting) != (filters.conditions, filters.setting)
    }

    def per_program(view: OutcomeFilter, in_range: bool) -> pd.DataFrame:
        sums = _prepost_sums(atoms, view, counts)
        if in_range:
            sums = sums[(sums["year"] >= first) & (sums["year"] <= last)]
        totals = sums.groupby("program_id")[list(counts)].sum()
        return totals.reindex(frame["program_id"]).fillna(0).set_axis(frame.index)

    own = per_program(filters, in_range=True)
    same: list[tuple[OutcomeFilter, pd.DataFrame]] = [
        (filters, pd.DataFrame(True, index=frame.index, columns=list(counts)))
    ]
    for view in options.values():
        difference = per_program(view, in_range=True) - own
        hidden |= (difference >= 1) & (difference < threshold)
        same.append((view, difference == 0))
    for view, equal in same:
        by_year = _prepost_sums(atoms, view, counts).set_index(["program_id", "year"])
        programs = set(by_year.index.get_level_values(0))
        for row, program in zip(frame.index, frame["program_id"], strict=True):
            if program not in programs:
                continue
            values = by_year.loc[program].sort_index()
            small = nearest_year_small(
                values[list(counts)].to_numpy(dtype="float64"),
                values.index.to_numpy(),
                first,
                last,
                threshold,
            )
            hidden.loc[row] = hidden.loc[row].to_numpy(dtype=bool) | (
                small & equal.loc[row].to_numpy(dtype=bool)
            )
    return hidden
