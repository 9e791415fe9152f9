"""The differencing rule: what a state partner may see, given every other view they may ask for.

Small-cell suppression holds within each output; a partner who sets two of their own views
side by side (programs A+B against A, all conditions against one, 2023-2024 against 2023)
could subtract them. Partners choose filters from a lattice (`access.partner_choice_problem`),
so every cell they can be shown is one of a known, finite set: a selection of the atoms'
state, model, program and condition keys, a setting and a span of months (`Lattice`). A
count cell is hidden when any of those cells that holds it (its keys or more, its setting or
every setting, its months or more) is larger by 1 to threshold - 1, whether or not that cell
is shown anywhere: then no two cells a partner sees, one holding the other, differ by a
small count. A one-value view is also kept from leaving one hidden sibling (`Family`), and
cells adding up within a view follow the partners' whole-sum rule of
`suppression.level_status`. Pre/post rows and the count of members follow the same rule over
their own cells. docs/disclosure.md states the guarantee and its cost.

Plain pandas and numpy over the partner's monthly sums by month, state, program model,
program and condition in every setting (`atoms`), read once per load by `queries`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from data_access.filters import OutcomeFilter
from data_access.measures import COUNT_COLUMNS, MEMBERS_LOWER_BOUND, SUMMED_COLUMNS
from data_access.suppression import MONTHLY_RULES, CutArrays, LevelStatus, level_status
from data_access.vocabulary import (
    NOT_ENROLLED,
    PRIMARY_CONDITIONS,
    PROGRAM_GROUPS,
    PROGRAM_MODELS,
    SETTINGS,
)

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
    _tables: dict[tuple[object, ...], CutTable] = field(
        default_factory=dict, repr=False, compare=False
    )
    # Each cut's additive values and hidden flags as `level_status` made them.
    arrays: CutArrays = field(default_factory=dict, repr=False, compare=False)

    def table(self, level: tuple[str, str], on: list[str]) -> CutTable:
        """One cut's rows by their keys `on`, with its additive values and hidden flags as
        arrays: a sibling or total view is read by every view of its family, at every cut."""
        key = (level, tuple(on))
        if key not in self._tables:
            cut = self.status[level][0]
            values, hidden = self.arrays[level]
            self._tables[key] = CutTable(
                {k: i for i, k in enumerate(_row_keys(cut, on))}, values, hidden
            )
        return self._tables[key]


@dataclass
class CutTable:
    """A cut's row positions by key, its additive values (0 for none) and hidden flags."""

    row: dict[tuple[Hashable, ...], int]
    values: np.ndarray
    hidden: np.ndarray

    def aligned(self, keys: list[tuple[Hashable, ...]]) -> tuple[np.ndarray, np.ndarray]:
        """The values and flags at these keys (0, False where the cut has no such row)."""
        at = np.array([self.row.get(k, -1) for k in keys], dtype="int64")
        found = at >= 0
        values = np.zeros((len(keys), self.values.shape[1]))
        values[found] = self.values[at[found]]
        hidden = np.zeros(values.shape, dtype=bool)
        hidden[found] = self.hidden[at[found]]
        return values, hidden


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
        arrays: CutArrays = {}
        status = level_status(
            in_months(every_month, filters),
            period=None,
            by=(),
            threshold=threshold,
            states=states,
            whole_sums=True,
            extra=extra,
            every_level=True,
            arrays=arrays,
        )
        _VIEWS[key] = View(every_month, status, states, filters, arrays=arrays)
    return _VIEWS[key]


# A view's base cuts with the lattice's cells hidden too, by the base view's key: how a
# sibling or total reads in its own view, for step 4.
_SHOWN: dict[tuple[object, ...], View] = {}


def shown_view(base: View, lattice: Lattice, *, threshold: int, digest: int) -> View:
    """A view as step 4 reads it among its siblings: its base cuts with every count cell
    the lattice holds by more hidden too. (The whole-sum passes of its own full view, which
    can hide more, are not rerun: a sibling worked out in full costs a view of its own.)"""
    key = (digest, base.filters, tuple(base.states), threshold)
    if key not in _SHOWN:
        if len(_SHOWN) >= _VIEWS_KEPT:
            _SHOWN.pop(next(iter(_SHOWN)))
        extra = Differencing(base, [], threshold, base.states, lattice)
        status: LevelStatus = {}
        arrays: CutArrays = {}
        for (time, group), (cut, flags) in base.status.items():
            more = extra(time, group, cut, base.states)
            status[(time, group)] = (
                cut,
                flags | more.reindex(columns=flags.columns, fill_value=False),
            )
            values, hidden = base.arrays[(time, group)]
            added = more[list(MONTHLY_RULES.additive)].to_numpy(dtype=bool)
            arrays[(time, group)] = (values, hidden | added)
        _SHOWN[key] = View(base.every_month, status, base.states, base.filters, arrays=arrays)
    return _SHOWN[key]


def _row_keys(frame: pd.DataFrame, on: list[str]) -> list[tuple[Hashable, ...]]:
    """Each row's values of `on` (a key to match rows of two cuts by: their text keys)."""
    return (
        list(zip(*(frame[name].tolist() for name in on), strict=True)) if on else [()] * len(frame)
    )


@dataclass
class Family:
    """One-value views of one filter that add up to a total: the view is one of `parts`."""

    total: View
    parts: list[View]
    me: int


@dataclass
class Differencing:
    """The extra cells of a partner's view at each cut (`suppression.LevelExtra`): a cell
    that a cell of any view holds by 1 to threshold - 1 (`Lattice`), and a one-value view's
    part among its siblings (`Family`)."""

    own: View  # the view itself, without the extra cells (its monthly sums and filters)
    families: list[Family]
    threshold: int
    states: list[str]
    lattice: Lattice

    def _small(self, values: np.ndarray) -> np.ndarray:
        return (values >= 1) & (values < self.threshold)

    def __call__(self, time: str, group: str, cut: pd.DataFrame, names: list[str]) -> pd.DataFrame:
        additive = list(MONTHLY_RULES.additive)
        count_at = [additive.index(c) for c in COUNT_COLUMNS]
        hidden = np.zeros((len(cut), len(additive)), dtype=bool)
        hidden[:, count_at] = self._held_by_more(time, group, cut)
        for family in self.families:
            hidden[:, count_at] |= self._complement(family, time, group, cut, names)
        return pd.DataFrame(hidden, index=cut.index, columns=additive)

    def _held_by_more(self, time: str, group: str, cut: pd.DataFrame) -> np.ndarray:
        """Per row and count column: a cell holding this one is larger by a small count."""
        lattice, filters = self.lattice, self.own.filters
        base = lattice.filter_mask(filters)
        out = np.zeros((len(cut), len(COUNT_COLUMNS)), dtype=bool)
        model, state = lattice.model, lattice.state
        # Rows share selections (group and state) and spans (period): each worked out once.
        selections: dict[tuple[Hashable, ...], int | None] = {}
        spans: dict[Hashable, int | None] = {}
        where = _row_keys(cut, ["group", *self.states])
        asked: list[tuple[int, int, int]] = []  # row, selection, span
        for row, (period, key) in enumerate(zip(cut["time"].tolist(), where, strict=True)):
            if period not in spans:
                spans[period] = lattice.span(*_months_of(time, str(period), filters))
            span = spans[period]
            if span is None:
                continue
            if key not in selections:
                held, *in_states = key
                mask = base.copy()
                if group == "program_model":
                    mask &= model == held
                elif group == "population":
                    mask &= (model == NOT_ENROLLED) == (held == NOT_ENROLLED)
                for value in in_states:
                    mask &= state == value
                selections[key] = lattice.selection(mask)
            selection = selections[key]
            if selection is None:  # not a partner's choice: nothing to compare it with
                out[row] = True
                continue
            asked.append((row, selection, span))
        if asked:
            rows, chosen, spans_asked = zip(*asked, strict=True)
            out[list(rows)] = lattice.small_differences_many(
                list(chosen), filters.setting, list(spans_asked)
            )
        return out

    def _complement(
        self, family: Family, time: str, group: str, cut: pd.DataFrame, names: list[str]
    ) -> np.ndarray:
        """Cells to hide so that the total less its shown one-value parts never leaves one
        hidden part or hidden parts adding up to a small count: where it would, the part
        with the smallest non-zero count among the shown ones is hidden too (so the view
        hides its cell when it is that part)."""
        counts = list(COUNT_COLUMNS)
        level = (time, group)
        on = [n for n in names if n in family.total.status[level][0].columns]
        keys = _row_keys(cut, on)
        values, flags = [], []
        for part in family.parts:
            value, flag = part.table(level, on).aligned(keys)
            values.append(value)
            flags.append(flag)
        _, total_flag = family.total.table(level, on).aligned(keys)
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


def _months_of(time: str, period: str, filters: OutcomeFilter) -> tuple[str | None, str | None]:
    """The first and last month (YYYY-MM; None: the data's edge) a cut's cell covers."""
    if time == "month":
        return period[:7], period[:7]
    if time == "quarter":
        year, quarter = period[:4], int(period[-1])
        return f"{year}-{3 * quarter - 2:02d}", f"{year}-{3 * quarter:02d}"
    if time == "year":
        return f"{period[:4]}-01", f"{period[:4]}-12"
    return filters.month_from, filters.month_to


# The lattice of each partner's atoms, by their digest, grant and threshold.
_LATTICES: dict[tuple[object, ...], Lattice] = {}


def partner_lattice(
    atoms: pd.DataFrame, granted: tuple[str, ...], threshold: int, digest: int
) -> Lattice:
    key = (digest, granted, threshold)
    if key not in _LATTICES:
        if len(_LATTICES) >= 8:
            _LATTICES.pop(next(iter(_LATTICES)))
        _LATTICES[key] = Lattice.build(atoms, granted, threshold)
    return _LATTICES[key]


def national_options(keys: pd.DataFrame) -> list[np.ndarray]:
    """The national line's selections: every state, one of a partner's program model
    choices (`model_choices`)."""
    return [keys["program_model"].isin(models).to_numpy(dtype=bool) for models in model_choices()]


# The lattices of the national line (every state; the states outside the grant), by the
# national atoms' digest, grant and threshold.
_NATIONAL_LATTICES: dict[tuple[object, ...], list[Lattice]] = {}


def national_lattices(
    atoms: pd.DataFrame, granted: tuple[str, ...], threshold: int, digest: int
) -> list[Lattice]:
    """The cells of the national line a partner may be shown, over every state, and the same
    cells over the states outside the grant (the national line less the partner's own).
    `atoms`: the monthly sums of every state by month, state and program model."""
    key = (digest, granted, threshold)
    if key not in _NATIONAL_LATTICES:
        if len(_NATIONAL_LATTICES) >= 8:
            _NATIONAL_LATTICES.pop(next(iter(_NATIONAL_LATTICES)))
        rest = atoms[~atoms["state_code"].isin(granted)]
        _NATIONAL_LATTICES[key] = [
            Lattice.build(sums, granted, threshold, options=national_options)
            for sums in (atoms, rest)
        ]
    return _NATIONAL_LATTICES[key]


def partner_status(
    atoms: pd.DataFrame,
    filters: OutcomeFilter,
    *,
    by: tuple[str, ...],
    threshold: int,
    granted: tuple[str, ...],
) -> View:
    """The cuts of a partner's view with the differencing rule applied at each (by state
    when `by` has it)."""
    states = ["state_code"] if "state_code" in by else []
    digest = atoms_digest(atoms)

    def view(of: OutcomeFilter, keys: list[str], extra: Differencing | None = None) -> View:
        return build_view(atoms, of, states=keys, threshold=threshold, digest=digest, extra=extra)

    lattice = partner_lattice(atoms, granted, threshold, digest)

    def shown(of: OutcomeFilter) -> View:
        return shown_view(view(of, states), lattice, threshold=threshold, digest=digest)

    families = [
        Family(shown(total), [shown(part) for part in parts], me)
        for total, parts, me in _families(atoms, filters, granted)
    ]
    extra = Differencing(view(filters, states), families, threshold, states, lattice)
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
        enrolled = filters.enrolled_models
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


def prepost_hidden(
    atoms: pd.DataFrame,
    filters: OutcomeFilter,
    *,
    frame: pd.DataFrame,
    counts: tuple[str, ...],
    threshold: int,
) -> pd.DataFrame:
    """Count cells of a partner's pre/post rows (`frame`, one per program) to hide: a row of
    the same program holding this one's non-zero parts (every condition or one, this setting
    or every setting, or under every setting a setting equal to it part by part, and whole
    years holding its years with a count) is larger by 1 to threshold - 1 and itself at
    least threshold; and, for one condition, the row its sibling conditions would give away
    (step 4). `atoms` holds the sums by program, enrollment year and condition in every
    setting ("enrollments" alike in all)."""
    hidden = pd.DataFrame(False, index=frame.index, columns=list(counts))
    if atoms.empty or frame.empty:
        return hidden
    programs = list(frame["program_id"])
    _, out = _prepost_rule(atoms, filters, programs, counts, threshold)
    if filters.conditions is not None and len(filters.conditions) == 1:
        out |= _prepost_sibling(atoms, filters, programs, counts, threshold)
    hidden.loc[:, :] = out
    return hidden


def _prepost_sibling(
    atoms: pd.DataFrame,
    filters: OutcomeFilter,
    programs: list[str],
    counts: tuple[str, ...],
    threshold: int,
) -> np.ndarray:
    """A one-condition row among the same program's rows of every condition: where the
    program's row of every condition is shown and the hidden condition rows would be one
    alone or add up to a small count, the shown condition with the smallest count is hidden
    too; whether that is this row, per program and count."""
    basis = counts.index("enrollments")

    def shown_as(view: OutcomeFilter) -> tuple[np.ndarray, np.ndarray]:
        value, held = _prepost_rule(atoms, view, programs, counts, threshold)
        small = (value >= 1) & (value < threshold)
        return value, held | small | small[:, [basis]]

    _, total_hidden = shown_as(filters.model_copy(update={"conditions": None}))
    parts = [shown_as(filters.model_copy(update={"conditions": (c,)})) for c in PRIMARY_CONDITIONS]
    values = np.stack([v for v, _ in parts])
    hidden = np.stack([h for _, h in parts])
    hidden_sum = (values * hidden).sum(axis=0)
    lonely = (hidden.sum(axis=0) == 1) | ((hidden_sum >= 1) & (hidden_sum < threshold))
    candidates = np.where(~hidden & (values > 0), values, np.inf)
    me = PRIMARY_CONDITIONS.index(filters.conditions[0]) if filters.conditions else -1
    chosen: np.ndarray = (
        lonely
        & ~total_hidden
        & np.isfinite(candidates.min(axis=0))
        & (candidates.argmin(axis=0) == me)
    )
    return chosen


def _prepost_rule(
    atoms: pd.DataFrame,
    filters: OutcomeFilter,
    programs: list[str],
    counts: tuple[str, ...],
    threshold: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per program and count: the view's value, and whether a row holding it is larger by a
    small count."""
    conditions = sorted({*atoms["primary_condition"].dropna(), *(filters.conditions or ())})
    years = sorted(int(y) for y in atoms["year"].unique())
    known = atoms["program_id"].isin(programs) & atoms["primary_condition"].isin(conditions)
    rows = atoms.loc[known]
    at = (
        rows["program_id"].map({p: i for i, p in enumerate(programs)}).to_numpy(),
        rows["primary_condition"].map({c: i for i, c in enumerate(conditions)}).to_numpy(),
        rows["year"].astype(int).map({y: i for i, y in enumerate(years)}).to_numpy(),
    )
    # [setting, program, condition, year, count]
    sums = np.zeros((len(SETTINGS), len(programs), len(conditions), len(years), len(counts)))
    for s, setting in enumerate(SETTINGS):
        names = [c if c == "enrollments" else atom_column(c, setting) for c in counts]
        np.add.at(sums[s], at, rows[names].to_numpy(dtype="float64"))
    chosen_conditions = np.array(
        [filters.conditions is None or c in filters.conditions for c in conditions]
    )
    first = int(filters.month_from[:4]) if filters.month_from else years[0]
    last = int(filters.month_to[:4]) if filters.month_to else years[-1]
    chosen_years = np.array([first <= y <= last for y in years])
    inside = chosen_conditions[:, None, None] & chosen_years[None, :, None]
    own_setting = SETTINGS.index(filters.setting)
    own = np.where(inside, sums[own_setting], 0)  # [program, condition, year, count]
    value = own.sum(axis=(1, 2))
    nonzero = own != 0
    with_conditions = nonzero.any(axis=2)  # [program, condition, count]
    with_years = nonzero.any(axis=1)  # [program, year, count]
    every = SETTINGS.index("all")
    holding_settings = {
        own_setting: np.ones(value.shape, dtype=bool),
        every: np.ones_like(value, dtype=bool),
    }
    if own_setting == every:
        for t in range(len(SETTINGS)):
            if t != every:
                holding_settings[t] = (np.where(inside, sums[t], 0) == own).all(axis=(1, 2))
    choices = [np.ones(len(conditions), dtype=bool)] + [
        np.arange(len(conditions)) == c for c in range(len(conditions))
    ]
    out = np.zeros(value.shape, dtype=bool)
    for t, setting_holds in holding_settings.items():
        for choice in choices:
            # The choice holds the row where no condition outside it has a count.
            holds_keys = setting_holds & ~(with_conditions & ~choice[None, :, None]).any(axis=1)
            by_year = np.where(choice[None, :, None, None], sums[t], 0).sum(axis=1)
            running = np.concatenate([np.zeros_like(by_year[:, :1]), by_year.cumsum(axis=1)], 1)
            for a, b in itertools.combinations_with_replacement(range(len(years)), 2):
                outside = with_years[:, :a].any(axis=1) | with_years[:, b + 1 :].any(axis=1)
                holding = running[:, b + 1] - running[:, a]
                more = holding - value
                out |= (
                    holds_keys
                    & ~outside
                    & (more >= 1)
                    & (more < threshold)
                    & (holding >= threshold)
                )
    return value, out


# ---------------------------------------------------------------------------------------
# Every cell a partner may be shown: the rule against pairs


def _month_number(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def model_choices() -> list[tuple[str, ...]]:
    """The program models a partner may choose (`access.partner_choice_problem`): one model
    with or without the members not enrolled, those alone, every enrolled model, or all."""
    enrolled = PROGRAM_MODELS
    return (
        [(m,) for m in enrolled]
        + [(m, NOT_ENROLLED) for m in enrolled]
        + [(NOT_ENROLLED,), enrolled, tuple(PROGRAM_GROUPS)]
    )


def _selection_options(
    keys: pd.DataFrame, granted: tuple[str, ...]
) -> list[tuple[tuple[str, ...], tuple[str, ...], str | None, str | None]]:
    """Every (states, program models, program, condition) a partner may choose
    (`access.partner_choice_problem`): each of the grant's states or all of them; one of
    `model_choices`; one program or all; one condition or all."""
    states = [(s,) for s in granted] + ([granted] if len(granted) > 1 else [])
    models = model_choices()
    programs: list[str | None] = [None, *sorted(set(keys["program_id"].dropna()))]
    conditions: list[str | None] = [None, *PRIMARY_CONDITIONS]
    return list(itertools.product(states, models, programs, conditions))


class KeyIndex:
    """The atoms' key columns coded once: a lattice builds hundreds of selections over the
    same keys (`option_masks`), and a pandas isin per column and selection costs more than
    the rule itself. A selection matches as `isin` would: equal values, missing only where
    asked for."""

    NAMES = ("state_code", "program_model", "program_id", "primary_condition")

    def __init__(self, keys: pd.DataFrame) -> None:
        self._codes: dict[str, np.ndarray] = {}
        self._at: dict[str, dict[object, int]] = {}
        for name in self.NAMES:
            codes, uniques = pd.factorize(keys[name])  # missing: -1
            self._codes[name] = np.asarray(codes, dtype="int64")
            self._at[name] = {value: i for i, value in enumerate(uniques)}

    def isin(self, name: str, values: tuple[str, ...]) -> np.ndarray:
        wanted = [self._at[name][v] for v in values if v in self._at[name]]
        return np.isin(self._codes[name], wanted)

    def isna(self, name: str) -> np.ndarray:
        return np.asarray(self._codes[name] == -1)

    def mask(
        self,
        *,
        states: tuple[str, ...] | None,
        models: tuple[str, ...],
        programs: tuple[str, ...] | None,
        conditions: tuple[str, ...] | None,
    ) -> np.ndarray:
        keep = self.isin("program_model", models)
        if states is not None:
            keep &= self.isin("state_code", states)
        if programs is not None:
            keep &= self.isna("program_id") | self.isin("program_id", programs)
        if conditions is not None:
            keep &= self.isin("primary_condition", conditions)
        return np.asarray(keep, dtype=bool)


def selection_mask(
    keys: pd.DataFrame,
    *,
    states: tuple[str, ...] | None,
    models: tuple[str, ...],
    programs: tuple[str, ...] | None,
    conditions: tuple[str, ...] | None,
    index: KeyIndex | None = None,
) -> np.ndarray:
    """The atoms' keys a filter selects, as `view_finest` selects them (`index`: the keys
    already coded, to build many selections)."""
    return (index or KeyIndex(keys)).mask(
        states=states, models=models, programs=programs, conditions=conditions
    )


def filter_mask(
    keys: pd.DataFrame, filters: OutcomeFilter, index: KeyIndex | None = None
) -> np.ndarray:
    return selection_mask(
        keys,
        states=filters.states,
        models=filters.program_models,
        programs=filters.program_ids,
        conditions=filters.conditions,
        index=index,
    )


def option_masks(keys: pd.DataFrame, granted: tuple[str, ...]) -> list[np.ndarray]:
    """The distinct selections of `_selection_options`, in their order."""
    masks: dict[bytes, np.ndarray] = {}
    index = KeyIndex(keys)
    for states, models, program, condition in _selection_options(keys, granted):
        mask = selection_mask(
            keys,
            index=index,
            states=states,
            models=models,
            programs=(program,) if program else None,
            conditions=(condition,) if condition else None,
        )
        masks.setdefault(mask.tobytes(), mask)
    return list(masks.values())


@dataclass
class Lattice:
    """Every count cell a state partner may be shown, whatever view shows it: the sums of
    each count column over every selection of the partner's choices (a set of the atoms'
    state, model, program and condition keys), every setting and every span of months a
    cell can cover (a month, a quarter, a year, any run of whole years), clipped to the
    months with data. A cell is hidden when a cell holding it (a selection holding its
    keys, the setting or every setting, a span holding its months) is larger by 1 to
    threshold - 1: no two cells a partner sees, in any two views, differ by a small count
    when one holds the other (docs/disclosure.md)."""

    keys: pd.DataFrame
    masks: np.ndarray  # [selection, key]
    first_month: int
    spans: np.ndarray  # [span, 2]: first and last month (relative, inclusive)
    sums: np.ndarray  # [selection, setting, span, count column], int64
    by_key: np.ndarray  # [setting, key, month, count column], int64: the atoms' sums
    threshold: int
    _selection: dict[bytes, int]
    _span: dict[tuple[int, int], int]
    _flags: dict[tuple[int, int, int], np.ndarray]
    _edges: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        atoms: pd.DataFrame,
        granted: tuple[str, ...],
        threshold: int,
        *,
        options: Callable[[pd.DataFrame], list[np.ndarray]] | None = None,
    ) -> Lattice:
        """`options`: the selections a viewer may be shown, as masks over the keys (by default
        a partner's choices over `granted`, `option_masks`)."""
        key_names = ["state_code", "program_model", "program_id", "primary_condition"]
        month = atoms["month"].astype(str).map(_month_number).to_numpy(dtype="int64")
        first, last = (int(month.min()), int(month.max())) if len(month) else (0, -1)
        named = atoms[key_names].astype(object)
        codes = named.groupby(key_names, dropna=False, sort=False).ngroup().to_numpy(dtype="int64")
        # In order of first appearance, as ngroup numbers them; no program: not enrolled.
        keys = named.drop_duplicates().reset_index(drop=True)
        keys = keys.where(keys.notna(), None)
        offered = options(keys) if options else option_masks(keys, granted)
        masks = list({mask.tobytes(): mask for mask in offered}.values())
        seen = {mask.tobytes(): i for i, mask in enumerate(masks)}
        mask_array = np.array(masks, dtype=bool).reshape(len(masks), len(keys))
        n_months = last - first + 1
        spans = _spans(first, last)
        counts = list(COUNT_COLUMNS)
        values = np.zeros((len(masks), len(SETTINGS), len(spans), len(counts)), dtype="int64")
        by_key = np.zeros((len(SETTINGS), len(keys), n_months, len(counts)), dtype="int64")
        for s, setting in enumerate(SETTINGS if len(keys) else ()):  # no rows: every cell 0
            sums = atoms[[atom_column(c, setting) for c in counts]].to_numpy(dtype="int64")
            np.add.at(by_key[s], (codes, month - first), sums)
            chosen = (mask_array.astype("int64") @ by_key[s].reshape(len(keys), -1)).reshape(
                len(masks), n_months, len(counts)
            )
            running = np.concatenate(
                [np.zeros((len(masks), 1, len(counts)), dtype="int64"), chosen.cumsum(axis=1)],
                axis=1,
            )
            values[:, s] = running[:, spans[:, 1] + 1] - running[:, spans[:, 0]]
        return cls(
            keys,
            mask_array,
            first,
            spans,
            values,
            by_key,
            threshold,
            seen,
            {(int(a), int(b)): i for i, (a, b) in enumerate(spans)},
            {},
        )

    def selection(self, mask: np.ndarray) -> int | None:
        return self._selection.get(np.asarray(mask, dtype=bool).tobytes())

    # The keys as arrays, coded once: every cut of every view asks for selections over them.
    @cached_property
    def index(self) -> KeyIndex:
        return KeyIndex(self.keys)

    @cached_property
    def model(self) -> np.ndarray:
        return self.keys["program_model"].to_numpy()

    @cached_property
    def state(self) -> np.ndarray:
        return self.keys["state_code"].to_numpy()

    @cached_property
    def _outside(self) -> np.ndarray:
        """[selection, key]: 1 where the selection leaves the key out (a float matrix: a
        product with it counts the keys left out, exactly, however many)."""
        return (~self.masks).astype("float64")

    def filter_mask(self, filters: OutcomeFilter) -> np.ndarray:
        """The keys `filters` select (a copy: callers narrow it)."""
        return filter_mask(self.keys, filters, self.index)

    def span(self, first_month: str | None, last_month: str | None) -> int | None:
        """The span of these months (YYYY-MM, None for the data's first or last), clipped to
        the months with data; None when it holds no month with data."""
        end = self.first_month + int(self.spans[:, 1].max(initial=-1))
        a = max(_month_number(first_month) if first_month else self.first_month, self.first_month)
        b = min(_month_number(last_month) if last_month else end, end)
        if a > b:
            return None
        return self._span.get((a - self.first_month, b - self.first_month))

    def small_differences(self, selection: int, setting: str, span: int) -> np.ndarray:
        """Per count column: whether a cell holding this one's non-zero parts is larger by 1
        to threshold - 1 (and itself at least threshold).

        A cell holds another when its keys, setting and months hold the other's atoms with a
        non-zero count: a partner who reads zeros in other views knows that a view with
        fewer keys, a shorter span or one setting counts the same things, so two views need
        not hold one another by their filters to be subtracted. Under every setting, the
        cell is held by one setting's cells too where that setting's sums equal it atom by
        atom."""
        flags: np.ndarray = self.small_differences_many([selection], setting, [span])[0]
        return flags

    def small_differences_many(
        self, selections: list[int], setting: str, spans: list[int]
    ) -> np.ndarray:
        """`small_differences` of many cells (a selection and a span each) in one setting,
        [cell, count column]: worked out together, as a view's cut asks for hundreds."""
        s = SETTINGS.index(setting)
        keys = [(selection, s, span) for selection, span in zip(selections, spans, strict=True)]
        todo = list(dict.fromkeys(key for key in keys if key not in self._flags))
        for start in range(0, len(todo), _CELLS_AT_ONCE):
            chunk = todo[start : start + _CELLS_AT_ONCE]
            flags = self._held_by_more(
                np.array([key[0] for key in chunk], dtype="int64"),
                s,
                np.array([key[2] for key in chunk], dtype="int64"),
            )
            self._flags.update(zip(chunk, flags, strict=True))
        out = np.zeros((len(keys), len(COUNT_COLUMNS)), dtype=bool)
        for row, key in enumerate(keys):
            out[row] = self._flags[key]
        return out

    # Running counts over months, per setting, key and count column, so that which keys
    # and settings a span holds is a difference of two rows, not a pass over its months.
    @cached_property
    def _months_counted(self) -> np.ndarray:
        """[setting, key, month + 1, count]: months with a non-zero count so far."""
        return _running(self.by_key != 0)

    @cached_property
    def _months_unlike_every(self) -> np.ndarray:
        """[setting, key, month + 1, count]: months where the setting's count differs from
        every setting's so far."""
        return _running(self.by_key != self.by_key[SETTINGS.index("all")][None])

    def _month_edges(self, selection: int, s: int) -> tuple[np.ndarray, np.ndarray]:
        """[month, count]: from each month on, the first month with a non-zero count in the
        selection and setting (past the last month where none); up to each month, the last
        (-1 where none)."""
        key = (selection, s)
        if key not in self._edges:
            counted = (self.by_key[s][self.masks[selection]] != 0).any(axis=0)  # [month, count]
            month = np.arange(counted.shape[0])[:, None]
            after = np.where(counted, month, counted.shape[0])
            before = np.where(counted, month, -1)
            self._edges[key] = (
                np.minimum.accumulate(after[::-1], axis=0)[::-1],
                np.maximum.accumulate(before, axis=0),
            )
        return self._edges[key]

    def _held_by_more(self, selection: np.ndarray, s: int, span: np.ndarray) -> np.ndarray:
        """[cell, count column] for cells (a selection and a span each) in setting `s`.

        Per cell and count column, all at once: the selections holding its keys with a
        non-zero count, the spans holding its first to last such month and the settings
        holding it; then, cell by cell, the holding cells of those that differ by a small
        count, once for the columns alike in all three (most are)."""
        n_counts = len(COUNT_COLUMNS)
        out = np.zeros((len(selection), n_counts), dtype=bool)
        a, b = self.spans[span, 0], self.spans[span, 1]
        masks = self.masks[selection]  # [cell, key]
        running = self._months_counted[s]
        present = ((running[:, b + 1] - running[:, a]) > 0).transpose(1, 0, 2)
        present &= masks[:, :, None]  # [cell, key, count]
        counted = present.any(axis=1)  # a zero cell: no holding cell differs by little
        live = np.flatnonzero(counted.any(axis=1))
        if not len(live):
            return out
        selection, span, a, b = selection[live], span[live], a[live], b[live]
        masks, present, counted = masks[live], present[live], counted[live]
        chosen, at = np.unique(selection, return_inverse=True)
        edges = [self._month_edges(int(c), s) for c in chosen]
        first = np.stack([after for after, _ in edges])[at.reshape(-1), a]  # [cell, count]
        last = np.stack([before for _, before in edges])[at.reshape(-1), b]
        # [cell, selection, count]: no key with a count left out.
        wider = np.matmul(self._outside, present.astype("float64")) == 0
        longer = (self.spans[None, :, :1] <= first[:, None, :]) & (
            self.spans[None, :, 1:] >= last[:, None, :]
        )  # [cell, span, count]
        every = SETTINGS.index("all")
        held_in = np.zeros((len(live), len(SETTINGS), n_counts), dtype=bool)
        held_in[:, [s, every]] = True
        if s == every:  # a setting equal to every setting month by month, key by key
            unlike = self._months_unlike_every
            differs = (unlike[:, :, b + 1] - unlike[:, :, a]) > 0  # [setting, key, cell, count]
            differs &= masks.T[None, :, :, None]
            held_in |= ~differs.any(axis=1).transpose(1, 0, 2)
        value = self.sums[selection, s, span]  # [cell, count]
        for cell, row in enumerate(live.tolist()):
            alike: dict[tuple[bytes, bytes, bytes], list[int]] = {}
            cell_wider, cell_held, cell_longer = wider[cell], held_in[cell], longer[cell]
            for c in np.flatnonzero(counted[cell]).tolist():
                key = (
                    cell_wider[:, c].tobytes(),
                    cell_held[:, c].tobytes(),
                    cell_longer[:, c].tobytes(),
                )
                alike.setdefault(key, []).append(c)
            for columns in alike.values():
                c = columns[0]
                around = self.sums[
                    np.flatnonzero(cell_wider[:, c])[:, None, None, None],
                    np.flatnonzero(cell_held[:, c])[None, :, None, None],
                    np.flatnonzero(cell_longer[:, c])[None, None, :, None],
                    np.array(columns)[None, None, None, :],
                ]
                difference = around - value[cell, columns]
                # A holding cell under the threshold is hidden wherever it is shown.
                small = (
                    (difference >= 1) & (difference < self.threshold) & (around >= self.threshold)
                )
                out[row, columns] = small.any(axis=(0, 1, 2))
        return out


# Cells of a lattice worked out together at most: the arrays of a batch grow with it.
_CELLS_AT_ONCE = 256


def _running(flags: np.ndarray) -> np.ndarray:
    """Running counts of `flags` [setting, key, month, count] over months, from 0."""
    running = np.zeros(
        (flags.shape[0], flags.shape[1], flags.shape[2] + 1, flags.shape[3]), "int32"
    )
    np.cumsum(flags, axis=2, out=running[:, :, 1:])
    return running


def _spans(first: int, last: int) -> np.ndarray:
    """Every month, quarter, year and run of whole years between two months (absolute
    month numbers), clipped to them, relative to `first`."""
    if last < first:
        return np.zeros((0, 2), dtype="int64")
    spans: set[tuple[int, int]] = {(m, m) for m in range(first, last + 1)}
    for q in range(first // 3, last // 3 + 1):
        spans.add((max(q * 3, first), min(q * 3 + 2, last)))
    years = range(first // 12, last // 12 + 1)
    for y1 in years:
        for y2 in years:
            if y2 >= y1:
                spans.add((max(y1 * 12, first), min(y2 * 12 + 11, last)))
    return np.array(sorted(spans), dtype="int64") - first


# ---------------------------------------------------------------------------------------
# Enrolled members and pre/post rows: the same rule over their own cells

ENROLLMENT_KEYS = ("state_code", "program_model", "program_id", "primary_condition")


def _whole_year_ranges(
    first: int | None, last: int | None, years: list[int]
) -> list[tuple[int | None, int | None]]:
    """Every run of whole years a partner may choose that holds months `first`..`last`
    (month numbers; None: open), as month numbers (None: open)."""
    starts: list[int | None] = [None]
    ends: list[int | None] = [None]
    if first is not None:
        starts += [y * 12 for y in years if y * 12 <= first]
    if last is not None:
        ends += [y * 12 + 11 for y in years if y * 12 + 11 >= last]
    return [(s, e) for s in starts for e in ends]


@dataclass
class Enrolled:
    """A partner's enrollments (ENROLLMENT_KEYS, `member_id`, `first_month`/`last_month`:
    month numbers, the last None while open), coded once to count the members of any view
    they may ask for."""

    frame: pd.DataFrame
    keys: pd.DataFrame
    codes: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    member: np.ndarray  # member_id coded as integers
    years: list[int]
    granted: tuple[str, ...]
    threshold: int
    options: list[np.ndarray]

    @classmethod
    def build(
        cls,
        enrollments: pd.DataFrame,
        *,
        granted: tuple[str, ...],
        years: list[int],
        threshold: int,
    ) -> Enrolled:
        """`years`: the years a partner may choose, and any year an enrollment reaches."""
        names = list(ENROLLMENT_KEYS)
        keys = enrollments.drop_duplicates(names)[names].reset_index(drop=True)
        codes = (
            enrollments[names]
            .merge(keys.reset_index(), on=names, how="left")["index"]
            .to_numpy(dtype="int64")
        )
        starts = enrollments["first_month"].to_numpy(dtype="int64")
        ends = enrollments["last_month"].to_numpy(dtype="float64", na_value=np.inf)
        reached = {int(m) // 12 for m in starts} | {int(m) // 12 for m in ends[np.isfinite(ends)]}
        every_year = sorted(set(years) | reached)
        if every_year:
            every_year = list(range(every_year[0], every_year[-1] + 1))
        return cls(
            enrollments,
            keys,
            codes,
            starts,
            ends,
            # Codes, not the ids: distinct codes are counted without sorting (sorting the ids
            # took 85% of the rule's time over a partner's count of members).
            pd.factorize(enrollments["member_id"])[0].astype("int64"),
            every_year,
            granted,
            threshold,
            option_masks(keys, granted),
        )

    def _rows(self, mask: np.ndarray, start: int | None, end: int | None) -> np.ndarray:
        keep: np.ndarray = mask[self.codes]
        if end is not None:
            keep &= self.starts <= end
        if start is not None:
            keep &= self.ends >= start
        return keep

    def _count(self, mask: np.ndarray, start: int | None, end: int | None) -> int:
        return int(np.count_nonzero(np.bincount(self.member[self._rows(mask, start, end)])))

    @cached_property
    def index(self) -> KeyIndex:
        return KeyIndex(self.keys)

    def count(self, filters: OutcomeFilter) -> int:
        return self._count(filter_mask(self.keys, filters, self.index), *_months(filters))

    def held_by_more(self, filters: OutcomeFilter, members: int) -> bool:
        """A count of members the partner may ask for, holding this view's members (a
        selection holding the keys of the enrollments it counts, whole years holding its
        months), is larger by 1 to threshold - 1 and itself at least threshold."""
        first, last = _months(filters)
        present = np.zeros(len(self.keys), dtype=bool)
        present[
            self.codes[self._rows(filter_mask(self.keys, filters, self.index), first, last)]
        ] = True
        for mask in self.options:
            if (present & ~mask).any():
                continue
            for start, end in _whole_year_ranges(first, last, self.years):
                more = self._count(mask, start, end) - members
                if 1 <= more < self.threshold <= members + more:
                    return True
        return False

    def hidden(self, filters: OutcomeFilter, members: int) -> bool:
        """As the view itself shows it: small, or held by more."""
        return 1 <= members < self.threshold or self.held_by_more(filters, members)

    def sibling_hidden(self, filters: OutcomeFilter) -> bool:
        """A one-value view among its siblings (one condition, program or state), as the
        monthly outputs' step 4: where the total is shown and its hidden parts would be one
        alone or add up to a small count, the shown part with the fewest members is
        hidden; whether that is this view."""
        for total, parts, me in _families(self.frame, filters, self.granted):
            if self.hidden(total, self.count(total)):
                continue
            counts = [self.count(part) for part in parts]
            hidden = [self.hidden(part, n) for part, n in zip(parts, counts, strict=True)]
            hidden_sum = sum(n for n, h in zip(counts, hidden, strict=True) if h)
            if sum(hidden) != 1 and not 1 <= hidden_sum < self.threshold:
                continue
            shown = [(n, i) for i, (n, h) in enumerate(zip(counts, hidden, strict=True)) if not h]
            shown = [(n, i) for n, i in shown if n > 0]
            if shown and min(shown)[1] == me:
                return True
        return False


def _months(filters: OutcomeFilter) -> tuple[int | None, int | None]:
    first = _month_number(filters.month_from) if filters.month_from else None
    last = _month_number(filters.month_to) if filters.month_to else None
    return first, last


def members_hidden(enrolled: Enrolled, filters: OutcomeFilter, *, members: int) -> bool:
    """Whether the rule hides a partner's count of members (`members`, this view's): a
    count holding it is larger by a small count, or it is the part its siblings give away."""
    return enrolled.held_by_more(filters, members) or enrolled.sibling_hidden(filters)
