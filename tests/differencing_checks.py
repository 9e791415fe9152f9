"""Can a state partner work out a small count by setting two of their own views side by side?
The checker of issue #14.

A partner may ask for any filter of the lattice of `data_access.access.partner_choice_problem`
(per filter everything or one value, a setting, whole calendar years) and gets, for each, the
public outputs the pages, downloads and command line serve: `outcome_summary` by period and
dimension (and the national line), `prepost_by_program` and `enrolled_members`. Every count
cell of these counts some set of things, its *elements*:

- monthly counts: the rows of `monthly_summary` (state, program model, program or none,
  primary condition, month) the cell sums, each in the admission settings the cell counts
  (member-months, follow-ups and the other claim-based columns do not depend on the setting;
  admissions under `all` are the behavioral ones and the medical ones; readmissions under
  `all` are all-cause, so each setting's part splits into same-setting and other-setting);
- pre/post counts: the analysable enrollments (and their stays' settings) of a program row;
  the counts come back from the rates (admissions per enrollment x enrollments, ...);
- enrolled members: the members themselves.

A cell's elements are what its selection holds (`zeros_known=False`, the default): when the
elements of one shown cell hold those of another of the same column, the partner knows the
one view holds the other, and the difference of the two values is the count of the
elements in one and not the other. With `zeros_known=True` only elements with a non-zero
count are kept: two cells nest more often, as for a partner who also reads the zeros that
further views show (a pair and its zeros). A difference from 1 to threshold - 1 is a
finding, as is a shown count from 1 to threshold - 1.

Which cells are shown is the product's answer, and a product call takes a good part of a
second, so the checker works the other way round (`mode="candidates"`): it lists every cell
of every partner output with its elements and true value (from the summary tables, without
the product), keeps the nested pairs whose values are both at least the threshold and differ
by 1 to threshold - 1, and then asks the product whether both cells of such a pair are shown
in some output (memoised per cell; a pair stops at the first cell found hidden in every
output that holds it). A shown value that is not the true one is reported (`mismatch`): it
would mean this model of the outputs is wrong. `mode="all"` calls every output instead.

    python -m tests.differencing_checks world --no-rule   # tests/differencing_world.py
    python -m tests.differencing_checks sample --years 2023,2024 --share   # TX partner
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import itertools
import math
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from data_access import db, queries
from data_access.access import Viewer, national_filter, scope_filter
from data_access.errors import DisclosureRefused
from data_access.filters import OutcomeFilter
from data_access.measures import COUNT_COLUMNS
from data_access.models import (
    Enrollment,
    Member,
    Program,
    enrollment_outcomes,
    monthly_summary,
)
from data_access.settings import get_settings
from data_access.suppression import SUPPRESSED_COLUMN
from data_access.vocabulary import (
    ADMISSION_SETTINGS,
    NOT_ENROLLED,
    PRIMARY_CONDITIONS,
    PROGRAM_MODELS,
    SETTINGS,
    Dimension,
    Period,
)
from tests.disclosure_checks import (
    MONTHLY_RELATIONS,
    PREPOST_RELATIONS,
    Difference,
    Ratio,
    Relation,
)

PERIODS: tuple[Period | None, ...] = ("month", "quarter", "year", None)
WINDOWS = ("pre", "post")
PREPOST_COUNTS = ("with_admission", "admissions", "discharges", "inpatient_days", "ed_visits")
PREPOST_COUNT_COLUMNS = (
    "enrollments",
    *(f"{w}_{c}" for w in WINDOWS for c in (*PREPOST_COUNTS, "visits")),
)
MEMBERS_COLUMN = "enrolled_members"
Family = Literal["monthly", "prepost", "members"]


# ---------------------------------------------------------------------------------------
# What a partner can ask for


@dataclass(frozen=True)
class Output:
    """One public output: an `outcome_summary` call, the pre/post rows or the member count."""

    kind: Literal["summary", "prepost", "members"]
    period: Period | None = None
    by: tuple[Dimension, ...] = ()
    scope: Literal["filters", "national"] = "filters"
    with_total: bool = False

    def describe(self) -> str:
        if self.kind != "summary":
            return self.kind
        words = [f"by {'+'.join(self.by) or 'nothing'}", f"per {self.period or 'range'}"]
        words += ["national"] if self.scope == "national" else []
        words += ["with total"] if self.with_total else []
        return "summary " + " ".join(words)


def data_years(engine: Engine, viewer: Viewer) -> list[int]:
    bounds = queries.month_bounds(viewer=viewer, engine=engine)
    return [] if bounds is None else list(range(int(bounds[0][:4]), int(bounds[1][:4]) + 1))


def partner_filters(
    engine: Engine, viewer: Viewer, years: Sequence[int] | None = None
) -> list[OutcomeFilter]:
    """Every filter of the partner's lattice over the data: states of the grant (all, or one
    when the grant has several), program models (none, one or all four enrolled ones, with
    or without not_enrolled; one model only if it has data), no program or one of the
    partner's, no condition or one (that has data), every setting, and every whole-year
    range within the data's years (None bounds included; `years` narrows the years the
    ranges start and end in, for data with many).
    Filters the product refuses (DisclosureRefused) are left out: they are not requestable.
    """
    grant = viewer.states or ()
    states: list[tuple[str, ...] | None] = [None]
    if len(grant) > 1:
        states += [(s,) for s in grant]
    present = _present(engine, None if _national_given(engine, viewer) else viewer.states)
    # A model or condition without data anywhere selects what another choice selects.
    one_model = [(m,) for m in PROGRAM_MODELS if m in present["program_model"]]
    enrolled: list[tuple[str, ...]] = [(), *one_model, PROGRAM_MODELS]
    models = [e + n for e in enrolled for n in ((), (NOT_ENROLLED,)) if e + n]
    programs: list[tuple[str, ...] | None] = [None] + [
        (p,) for p in queries.list_programs(viewer=viewer, engine=engine)["program_id"]
    ]
    conditions: list[tuple[str, ...] | None] = [None] + [
        (c,) for c in PRIMARY_CONDITIONS if c in present["primary_condition"]
    ]
    years = [y for y in data_years(engine, viewer) if years is None or y in years]
    ranges = [
        (None if a is None else f"{a}-01", None if b is None else f"{b}-12")
        for a in [None, *years]
        for b in [None, *years]
        if a is None or b is None or a <= b
    ]
    out = []
    for s, m, p, c, (first, last), setting in itertools.product(
        states, models, programs, conditions, ranges, SETTINGS
    ):
        filters = OutcomeFilter(
            states=s,
            program_models=m,
            program_ids=p,
            conditions=c,
            month_from=first,
            month_to=last,
            setting=setting,
        )
        try:
            scope_filter(filters, viewer)
        except DisclosureRefused:
            continue
        out.append(filters)
    return out


def _present(engine: Engine, states: Sequence[str] | None) -> dict[str, set[str]]:
    """The models and conditions with data in these states (None: anywhere)."""
    c = monthly_summary.c
    out = {}
    for column in (c.program_model, c.primary_condition):
        statement = select(column).distinct()
        if states is not None:
            statement = statement.where(c.state_code.in_(list(states)))
        out[column.name] = set(db.read_frame(statement, engine=engine)[column.name])
    return out


def partner_outputs(
    viewer: Viewer, *, national: bool, periods: Sequence[Period | None] = PERIODS
) -> list[Output]:
    """The outputs a partner gets for one filter: outcome_summary per period by nothing, by
    program model and by population (and, for a grant of several states, by state, by state
    and population, and the ranking's by state with its total), the monthly export (by state
    and program model), the national line when the product gives it, the pre/post rows and
    the enrolled members."""
    bys: list[tuple[Dimension, ...]] = [(), ("program_model",), ("population",)]
    several = len(viewer.states or ()) > 1
    if several:
        bys += [("state_code",), ("state_code", "population")]
    outputs = [Output("summary", period, by) for period in periods for by in bys]
    if "month" in periods:
        outputs.append(Output("summary", "month", ("state_code", "program_model")))
    if several and None in periods:
        outputs.append(Output("summary", None, ("state_code",), with_total=True))
    if national:
        outputs += [Output("summary", period, (), scope="national") for period in periods]
    return [*outputs, Output("prepost"), Output("members")]


def describe_filter(filters: OutcomeFilter) -> str:
    models = "+".join(m for m in filters.program_models)
    words = [
        "+".join(filters.states) if filters.states else "all states",
        "all groups" if len(filters.program_models) == 5 else models,
        "+".join(filters.program_ids) if filters.program_ids else "all programs",
        "+".join(filters.conditions) if filters.conditions else "all conditions",
        f"{filters.month_from or 'start'}..{filters.month_to or 'end'}",
        filters.setting,
    ]
    return " | ".join(words)


# ---------------------------------------------------------------------------------------
# The elements of cells


def _mask(selected: np.ndarray) -> int:
    """A boolean array as an int bit mask (bit i: element i)."""
    if not len(selected):
        return 0
    return int.from_bytes(np.packbits(selected, bitorder="little").tobytes(), "little")


def _bits(mask: int, n: int) -> np.ndarray:
    raw = np.frombuffer(mask.to_bytes((n + 7) // 8 or 1, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[:n].astype(bool)


@dataclass
class Slot:
    """One part of a column's elements: an element is (atom, slot); it is in a cell of a
    setting when its atom is in the cell and its weight in that setting is not 0."""

    name: str
    weights: dict[str, np.ndarray]  # setting -> weight per atom (absent: not counted)


@dataclass
class AtomFamily:
    """Atoms (rows) of one kind and, per count column, the slots of its elements."""

    name: Family
    atoms: pd.DataFrame
    columns: dict[str, list[Slot]]
    # False: an element is in a cell when its atom is selected (two cells nest when one's
    # selection holds the other's: pairs of views). True: only atoms with a non-zero count
    # are elements, as for a partner who also reads the zeros other views show.
    zeros_known: bool = False
    nonzero: dict[tuple[str, int, str], int] = field(default_factory=dict)
    _matrix_rows: dict[tuple[str, int, str], int] = field(default_factory=dict)
    _matrix: np.ndarray | None = None
    _values: dict[int, np.ndarray] = field(default_factory=dict)
    _masks: dict[str, dict[Any, int]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.atoms)

    def __post_init__(self) -> None:
        rows: list[np.ndarray] = []
        for column, slots in self.columns.items():
            for i, slot in enumerate(slots):
                for setting, weights in slot.weights.items():
                    if (weights < 0).any():
                        raise AssertionError(f"negative weight: {column} {slot.name} {setting}")
                    counted = weights != 0 if self.zeros_known else np.ones(self.n, dtype=bool)
                    self.nonzero[(column, i, setting)] = _mask(counted)
                    self._matrix_rows[(column, i, setting)] = len(rows)
                    rows.append(weights.astype("float64"))
        self._matrix = np.vstack(rows) if rows else np.zeros((0, self.n))

    def masks(self, column: str) -> dict[Any, int]:
        """Value -> the atoms with that value of `column`, in the values' order."""
        if column not in self._masks:
            values = self.atoms[column].astype(str).to_numpy()
            self._masks[column] = {value: _mask(values == value) for value in sorted(set(values))}
        return self._masks[column]

    def elements(self, column: str, setting: str, atoms: int) -> int:
        out = 0
        for i, slot in enumerate(self.columns[column]):
            if setting in slot.weights:
                out |= (atoms & self.nonzero[(column, i, setting)]) << (i * self.n)
        return out

    def value(self, column: str, setting: str, atoms: int) -> int:
        sums = self._values.get(atoms)
        if sums is None:
            assert self._matrix is not None
            sums = self._matrix @ _bits(atoms, self.n)
            self._values[atoms] = sums
        total = sum(
            sums[self._matrix_rows[(column, i, setting)]]
            for i, slot in enumerate(self.columns[column])
            if setting in slot.weights
        )
        return round(float(total))

    def describe(self, column: str, elements: int) -> str:
        """The elements in words: the atoms' distinct values per dimension and the slots."""
        parts, atoms = [], 0
        for i, slot in enumerate(self.columns[column]):
            chunk = (elements >> (i * self.n)) & ((1 << self.n) - 1)
            if chunk:
                parts.append(slot.name)
                atoms |= chunk
        rows = self.atoms[_bits(atoms, self.n)]
        words = []
        for dimension in ("state_code", "group", "primary_condition"):
            if dimension in rows:
                words.append("+".join(sorted(set(rows[dimension].astype(str)))))
        if "month" in rows and len(rows):
            first, last = rows["month"].min(), rows["month"].max()
            words.append(first if first == last else f"{first}..{last}")
        if "member_id" in rows:
            words.append(f"{rows['member_id'].nunique()} members")
        named = [p for p in parts if p]
        return " · ".join(words + (["+".join(named)] if named else []))


def _atom_frame(engine: Engine, statement: Any) -> pd.DataFrame:
    return db.read_frame(statement, engine=engine)


def monthly_family(engine: Engine, zeros_known: bool = False) -> AtomFamily:
    c = monthly_summary.c
    keys = [c.state_code, c.program_model, c.program_id, c.primary_condition, c.month]
    measures = [
        "member_months",
        *(
            f"{m}_{s}"
            for m in (
                "admissions",
                "discharges",
                "inpatient_days",
                "followed_discharges",
                "readmissions_30d",
                "readmissions_any_30d",
                "ed_visits",
            )
            for s in ADMISSION_SETTINGS
        ),
        "followed_behavioral_discharges",
        "followups_7d",
        "followups_30d",
        "peer_contacts_1d",
    ]
    atoms = _atom_frame(
        engine,
        select(*keys, *[func.sum(c[m]).label(m) for m in measures]).group_by(*keys).order_by(*keys),
    )
    for m in measures:
        atoms[m] = atoms[m].fillna(0).astype("int64")
    atoms["program_id"] = atoms["program_id"].where(atoms["program_id"].notna(), None)
    atoms["group"] = atoms["program_id"].fillna(NOT_ENROLLED)
    atoms["quarter"] = (
        atoms["month"].str[:4]
        + "-Q"
        + ((atoms["month"].str[5:7].astype(int) - 1) // 3 + 1).astype(str)
    )
    atoms["year"] = atoms["month"].str[:4]
    atoms["population"] = np.where(atoms["program_model"] == NOT_ENROLLED, NOT_ENROLLED, "enrolled")
    everywhere = list(SETTINGS)

    def same(name: str) -> list[Slot]:
        return [Slot("", {s: atoms[name].to_numpy() for s in everywhere})]

    def by_setting(measure: str) -> list[Slot]:
        return [
            Slot(
                setting,
                {
                    "all": atoms[f"{measure}_{setting}"].to_numpy(),
                    setting: atoms[f"{measure}_{setting}"].to_numpy(),
                },
            )
            for setting in ADMISSION_SETTINGS
        ]

    readmissions = []
    for setting in ADMISSION_SETTINGS:
        own = atoms[f"readmissions_30d_{setting}"].to_numpy()
        other = atoms[f"readmissions_any_30d_{setting}"].to_numpy() - own
        readmissions += [
            Slot(f"{setting} readmitted same setting", {"all": own, setting: own}),
            Slot(f"{setting} readmitted other setting", {"all": other}),
        ]
    columns: dict[str, list[Slot]] = {
        "member_months": same("member_months"),
        "admissions": by_setting("admissions"),
        "discharges": by_setting("discharges"),
        "inpatient_days": by_setting("inpatient_days"),
        "followed_discharges": by_setting("followed_discharges"),
        "readmissions_30d": readmissions,
        "ed_visits": by_setting("ed_visits"),
        **{
            name: same(name)
            for name in (
                "followed_behavioral_discharges",
                "followups_7d",
                "followups_30d",
                "peer_contacts_1d",
            )
        },
    }
    assert set(columns) == set(COUNT_COLUMNS)
    return AtomFamily("monthly", atoms, columns, zeros_known)


def prepost_family(engine: Engine, zeros_known: bool = False) -> AtomFamily:
    o = enrollment_outcomes.c
    measures = [
        f"{w}_{m}_{s}"
        for w in WINDOWS
        for m in ("admissions", "discharges", "inpatient_days", "ed_visits", "visits")
        for s in ADMISSION_SETTINGS
    ]
    atoms = _atom_frame(
        engine,
        select(
            o.enrollment_id,
            o.program_id,
            o.state_code,
            o.program_model,
            o.primary_condition,
            o.enrolled_month.label("month"),
            *[o[m] for m in measures],
        )
        .where(o.analysable)
        .order_by(o.enrollment_id),
    )
    for m in measures:
        atoms[m] = atoms[m].fillna(0).astype("int64")
    atoms["group"] = atoms["program_id"]
    ones = np.ones(len(atoms), dtype="int64")
    columns: dict[str, list[Slot]] = {"enrollments": [Slot("", {s: ones for s in SETTINGS})]}
    for w in WINDOWS:
        behavioral = atoms[f"{w}_admissions_behavioral"].to_numpy()
        medical = atoms[f"{w}_admissions_medical"].to_numpy()
        columns[f"{w}_with_admission"] = [
            Slot(
                "",
                {
                    "all": ((behavioral + medical) > 0).astype("int64"),
                    "behavioral": (behavioral > 0).astype("int64"),
                    "medical": (medical > 0).astype("int64"),
                },
            )
        ]
        for m in ("admissions", "discharges", "inpatient_days", "ed_visits", "visits"):
            columns[f"{w}_{m}"] = [
                Slot(
                    s,
                    {"all": atoms[f"{w}_{m}_{s}"].to_numpy(), s: atoms[f"{w}_{m}_{s}"].to_numpy()},
                )
                for s in ADMISSION_SETTINGS
            ]
    assert set(columns) == set(PREPOST_COUNT_COLUMNS)
    return AtomFamily("prepost", atoms, columns, zeros_known)


def members_family(engine: Engine, zeros_known: bool = False) -> tuple[AtomFamily, pd.DataFrame]:
    """Atoms are members (the elements of enrolled_members); the enrollments come along to
    work out which members a filter counts."""
    enrollments = _atom_frame(
        engine,
        select(
            Enrollment.member_id,
            Enrollment.program_id,
            Enrollment.enrolled_on,
            Enrollment.ended_on,
            Program.state_code,
            Program.program_model,
            Member.primary_condition,
        )
        .join(Program, Program.program_id == Enrollment.program_id)
        .join(Member, Member.member_id == Enrollment.member_id)
        .order_by(Enrollment.member_id, Enrollment.program_id),
    )
    enrollments["enrolled_on"] = pd.to_datetime(enrollments["enrolled_on"])
    enrollments["ended_on"] = pd.to_datetime(enrollments["ended_on"])
    members = (
        enrollments.groupby("member_id")
        .agg(
            state_code=("state_code", "first"),
            group=("program_id", lambda p: "+".join(sorted(set(p)))),
            primary_condition=("primary_condition", "first"),
        )
        .reset_index()
    )
    index = {m: i for i, m in enumerate(members["member_id"])}
    enrollments["member_index"] = enrollments["member_id"].map(index)
    ones = np.ones(len(members), dtype="int64")
    family = AtomFamily(
        "members", members, {MEMBERS_COLUMN: [Slot("", {s: ones for s in SETTINGS})]}, zeros_known
    )
    return family, enrollments


# ---------------------------------------------------------------------------------------
# Every cell of every output, symbolically


@dataclass(frozen=True)
class Place:
    """Where a cell is shown: filter, output and row key (period value and `by` values; the
    program for pre/post rows; nothing for the member count)."""

    filter_index: int
    output_index: int
    row: tuple[Any, ...]


CellKey = tuple[Family, int, str]  # family, atoms (members for "members"), setting


@dataclass
class Universe:
    """Every cell of every requestable output: per cell key, where it is shown."""

    filters: list[OutcomeFilter]
    outputs: list[Output]
    families: dict[Family, AtomFamily]
    places: dict[CellKey, list[Place]] = field(default_factory=lambda: defaultdict(list))
    rows: dict[tuple[int, int], list[tuple[tuple[Any, ...], CellKey]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, key: CellKey, place: Place) -> None:
        self.places[key].append(place)
        self.rows[(place.filter_index, place.output_index)].append((place.row, key))

    def describe(self, place: Place) -> str:
        output = self.outputs[place.output_index]
        if output.kind == "summary":
            period, *by = place.row
            words = [period or "whole range", *("total" if v is None else v for v in by)]
        else:
            words = list(place.row) or ["the count"]
        where = f"{output.describe()}: {', '.join(map(str, words))}"
        return f"[{describe_filter(self.filters[place.filter_index])}] {where}"


def _in(values: pd.Series, chosen: Iterable[Any] | None) -> np.ndarray:
    if chosen is None:
        return np.ones(len(values), dtype=bool)
    return values.isin(list(chosen)).to_numpy()


def _any(family: AtomFamily, column: str, chosen: Iterable[Any] | None) -> int:
    """The atoms whose `column` is one of `chosen` (None: every atom)."""
    masks = family.masks(column)
    if chosen is None:
        return (1 << family.n) - 1
    out = 0
    for value in chosen:
        out |= masks.get(value, 0)
    return out


def _months(family: AtomFamily, filters: OutcomeFilter) -> int:
    first, last = filters.month_from or "", filters.month_to or "9999-99"
    return _any(family, "month", [m for m in family.masks("month") if first <= m <= last])


def _monthly_atoms(family: AtomFamily, filters: OutcomeFilter) -> int:
    programs = None
    if filters.program_ids is not None:
        programs = [NOT_ENROLLED, *filters.program_ids]  # programs leave not_enrolled rows
    return (
        _any(family, "state_code", filters.states)
        & _any(family, "program_model", filters.program_models)
        & _any(family, "group", programs)
        & _any(family, "primary_condition", filters.conditions)
        & _months(family, filters)
    )


def _prepost_programs(
    programs: pd.DataFrame, family: AtomFamily, filters: OutcomeFilter
) -> list[tuple[str, int]]:
    enrollments = _any(family, "primary_condition", filters.conditions) & _months(family, filters)
    rows = programs[
        _in(programs["program_model"], filters.program_models)
        & _in(programs["state_code"], filters.states)
        & _in(programs["program_id"], filters.program_ids)
    ]
    by_program = family.masks("program_id")
    return [(p, enrollments & by_program.get(p, 0)) for p in rows["program_id"]]


def _members(family: AtomFamily, enrollments: pd.DataFrame, filters: OutcomeFilter) -> int:
    """The members queries.enrolled_members counts, as a mask over the members."""
    models = [m for m in filters.program_models if m != NOT_ENROLLED]
    e = enrollments
    keep = (
        _in(e["program_model"], models)
        & _in(e["state_code"], filters.states)
        & _in(e["program_id"], filters.program_ids)
        & _in(e["primary_condition"], filters.conditions)
    )
    if filters.month_to:
        year, month = int(filters.month_to[:4]), int(filters.month_to[5:])
        after = pd.Timestamp(year + month // 12, month % 12 + 1, 1)
        keep &= (e["enrolled_on"] < after).to_numpy()
    if filters.month_from:
        start = pd.Timestamp(filters.month_from + "-01")
        keep &= (e["ended_on"].isna() | (e["ended_on"] >= start)).to_numpy()
    chosen = np.zeros(family.n, dtype=bool)
    chosen[e.loc[keep, "member_index"].to_numpy()] = True
    return _mask(chosen)


def _key_masks(family: AtomFamily) -> dict[str, dict[Any, int]]:
    return {
        column: family.masks(column)
        for column in ("month", "quarter", "year", "state_code", "program_model", "population")
    }


def _summary_rows(
    atoms: int, output: Output, keys: dict[str, dict[Any, int]]
) -> Iterator[tuple[tuple[Any, ...], int]]:
    periods = list(keys[output.period].items()) if output.period else [(None, -1)]
    for period_value, period_mask in periods:
        within = atoms & period_mask
        if not within:
            continue
        choices = [list(keys[d].items()) for d in output.by]
        for combo in itertools.product(*choices):
            mask = within
            for _, value_mask in combo:
                mask &= value_mask
            if mask:
                yield (period_value, *(v for v, _ in combo)), mask
        if output.with_total and output.by:
            yield (period_value, *(None for _ in output.by)), within


def build_universe(
    engine: Engine,
    viewer: Viewer,
    *,
    national: bool = True,
    periods: Sequence[Period | None] = PERIODS,
    filters: Sequence[OutcomeFilter] | None = None,
    years: Sequence[int] | None = None,
    zeros_known: bool = False,
) -> Universe:
    monthly = monthly_family(engine, zeros_known)
    prepost = prepost_family(engine, zeros_known)
    members, enrollments = members_family(engine, zeros_known)
    national = national and _national_given(engine, viewer)
    universe = Universe(
        filters=list(filters) if filters is not None else partner_filters(engine, viewer, years),
        outputs=partner_outputs(viewer, national=national, periods=periods),
        families={"monthly": monthly, "prepost": prepost, "members": members},
    )
    keys = _key_masks(monthly)
    programs = queries.list_programs(viewer=viewer, engine=engine)
    # Per filter without its setting: the cells' atoms do not depend on the setting.
    base: dict[OutcomeFilter, list[tuple[int, str]]] = defaultdict(list)
    for index, asked in enumerate(universe.filters):
        base[asked.model_copy(update={"setting": "all"})].append((index, asked.setting))
    for asked, variants in base.items():
        scoped = scope_filter(asked, viewer)[0]
        local = _monthly_atoms(monthly, scoped)
        pooled = _monthly_atoms(monthly, national_filter(asked)) if national else 0
        for output_index, output in enumerate(universe.outputs):
            cells: list[tuple[Family, tuple[Any, ...], int]]
            if output.kind == "summary":
                atoms = pooled if output.scope == "national" else local
                cells = [("monthly", row, mask) for row, mask in _summary_rows(atoms, output, keys)]
            elif output.kind == "prepost":
                cells = [
                    ("prepost", (program,), mask)
                    for program, mask in _prepost_programs(programs, prepost, scoped)
                    if mask
                ]
            else:
                mask = _members(members, enrollments, scoped)
                cells = [("members", (), mask)] if mask else []
            for family, row, mask in cells:
                for filter_index, setting in variants:
                    universe.add((family, mask, setting), Place(filter_index, output_index, row))
    return universe


def _national_given(engine: Engine, viewer: Viewer) -> bool:
    try:
        queries.outcome_summary(
            viewer=viewer, filters=OutcomeFilter(), period=None, scope="national", engine=engine
        )
    except DisclosureRefused:
        return False
    return True


# ---------------------------------------------------------------------------------------
# What the product shows


def _solve(known: dict[str, float], undefined: set[str], relations: Sequence[Relation]) -> None:
    """Work out, within one row, what the shown figures give (as a reader would)."""
    changed = True
    while changed:
        changed = False

        def learn(column: str, value: float) -> None:
            nonlocal changed
            if column not in known and math.isfinite(value):
                known[column] = value
                changed = True

        for r in relations:
            if isinstance(r, Ratio):
                f, n, d = r.figure, r.numerator, r.denominator
                if f in undefined:
                    learn(d, 0.0)
                if f in known and d in known:
                    learn(n, known[f] * known[d] / r.scale)
                if f in known and n in known and known[f] != 0:
                    learn(d, r.scale * known[n] / known[f])
            elif isinstance(r, Difference):
                f, e, later = r.figure, r.earlier, r.later
                if f in known and e in known:
                    learn(later, known[e] + known[f])
                if f in known and later in known:
                    learn(e, known[later] - known[f])
            else:
                f, e, later = r.figure, r.earlier, r.later
                if f in known and e in known:
                    learn(later, known[e] * (1 + known[f] / 100))
                if f in known and later in known and known[f] != -100:
                    learn(e, known[later] / (1 + known[f] / 100))


def _known_counts(
    row: pd.Series, counts: Sequence[str], relations: Sequence[Relation]
) -> dict[str, int]:
    hidden = set(str(row.get(SUPPRESSED_COLUMN) or "").split(";")) - {""}
    known: dict[str, float] = {}
    undefined: set[str] = set()
    for column, value in row.items():
        if column == SUPPRESSED_COLUMN or column in hidden:
            continue
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            if pd.isna(value):
                undefined.add(str(column))
            else:
                known[str(column)] = float(value)
    _solve(known, undefined, relations)
    out = {}
    for column in counts:
        value = known.get(column)
        if value is not None and abs(value - round(value)) < 0.01:
            out[column] = round(value)
    return out


class Product:
    """The partner's outputs, called once each."""

    def __init__(self, engine: Engine, viewer: Viewer, universe: Universe) -> None:
        self.engine, self.viewer, self.universe = engine, viewer, universe
        self.calls = 0
        self.seconds = 0.0
        self._shown: dict[tuple[int, int], dict[tuple[Any, ...], dict[str, int]]] = {}

    def called(self, filter_index: int, output_index: int) -> bool:
        return (filter_index, output_index) in self._shown

    def shown(self, filter_index: int, output_index: int) -> dict[tuple[Any, ...], dict[str, int]]:
        """Row key -> the counts a partner knows in that row."""
        key = (filter_index, output_index)
        if key not in self._shown:
            started = time.perf_counter()
            self._shown[key] = self._call(
                self.universe.filters[filter_index], self.universe.outputs[output_index]
            )
            self.calls += 1
            self.seconds += time.perf_counter() - started
        return self._shown[key]

    def _call(
        self, filters: OutcomeFilter, output: Output
    ) -> dict[tuple[Any, ...], dict[str, int]]:
        call = dict(viewer=self.viewer, filters=filters, engine=self.engine)
        try:
            if output.kind == "members":
                members = queries.enrolled_members(**call)  # type: ignore[arg-type]
                return {(): {} if members is None else {MEMBERS_COLUMN: members}}
            if output.kind == "prepost":
                frame = queries.prepost_by_program(**call)  # type: ignore[arg-type]
                return {
                    (row["program_id"],): _known_counts(
                        row, PREPOST_COUNT_COLUMNS, PREPOST_RELATIONS
                    )
                    for _, row in frame.iterrows()
                }
            frame = queries.outcome_summary(
                **call,  # type: ignore[arg-type]
                period=output.period,
                by=output.by,
                scope=output.scope,
                with_total=output.with_total,
            )
        except DisclosureRefused:
            return {}
        out = {}
        for _, row in frame.iterrows():
            key = (
                row[output.period] if output.period else None,
                *(None if pd.isna(row[d]) else row[d] for d in output.by),
            )
            out[key] = _known_counts(row, COUNT_COLUMNS, MONTHLY_RELATIONS)
        return out


# ---------------------------------------------------------------------------------------
# The findings


@dataclass(frozen=True)
class Finding:
    """kind "difference": `value` = wide - narrow, the count of `recovered`; "shown_small":
    a shown count from 1 to threshold - 1; "mismatch": a shown count that is not the true
    count of its cell (this checker's model of the output is wrong)."""

    kind: Literal["difference", "shown_small", "mismatch"]
    column: str
    value: int
    recovered: str
    wide: str
    narrow: str = ""

    def __str__(self) -> str:
        if self.kind == "difference":
            return (
                f"{self.column} {self.value} ({self.recovered}) = {self.wide}  minus  {self.narrow}"
            )
        return f"{self.kind} {self.column} {self.value} ({self.recovered}) at {self.wide}"


@dataclass
class Cell:
    """A distinct cell of one column: its elements, true value and cell keys."""

    column: str
    family: Family
    elements: int
    value: int
    keys: list[CellKey]
    shown_at: Place | None = None
    hidden_everywhere: bool = False


class Checker:
    def __init__(self, engine: Engine, viewer: Viewer, universe: Universe) -> None:
        self.universe = universe
        self.product = Product(engine, viewer, universe)
        self.threshold = get_settings().small_cell_threshold
        self.cells: dict[str, dict[int, Cell]] = defaultdict(dict)
        self.findings: list[Finding] = []
        self._reported: set[tuple[str, str, int]] = set()
        self._basis: dict[CellKey, int] = {}
        self.stats: dict[str, Any] = {}
        monthly = universe.families["monthly"].atoms
        self._month_codes = pd.factorize(monthly["month"])[0]
        self._member_months = monthly["member_months"].to_numpy().astype("float64")
        for key in universe.places:
            family_name, atoms, setting = key
            family = universe.families[family_name]
            for column in family.columns:
                elements = family.elements(column, setting, atoms)
                if not elements:
                    continue  # a count of 0 gives nothing away by difference
                cell = self.cells[column].get(elements)
                if cell is None:
                    value = family.value(column, setting, atoms)
                    cell = Cell(column, family_name, elements, value, [])
                    self.cells[column][elements] = cell
                cell.keys.append(key)

    # -- one cell at a time ------------------------------------------------------------

    def basis(self, key: CellKey) -> int:
        """What the primary rule holds a row's figures against: the members of its busiest
        month (member-months of a month are its members) for a monthly row, the enrollments
        for a pre/post row; a row below the threshold is hidden whole."""
        if key not in self._basis:
            family_name, atoms, _ = key
            family = self.universe.families[family_name]
            chosen = _bits(atoms, family.n)
            if family_name == "monthly":
                per_month = np.bincount(
                    self._month_codes[chosen], weights=self._member_months[chosen]
                )
                self._basis[key] = int(per_month.max()) if len(per_month) else 0
            elif family_name == "prepost":
                self._basis[key] = int(chosen.sum())
            else:
                self._basis[key] = self.threshold  # the member count is its own basis
        return self._basis[key]

    def _places(self, cell: Cell, budget: int | None) -> list[Place]:
        """Where the cell is shown, rows the primary rule hides whole left out; with a
        budget, that many at most, spread over the kinds of output first (the number left
        out is added to stats["places_cut"])."""
        keys = [key for key in cell.keys if self.basis(key) >= self.threshold]
        places = sorted(
            (p for key in keys for p in self.universe.places[key]),
            key=lambda p: (p.output_index, p.filter_index, p.row),
        )
        if budget is None or len(places) <= budget:
            return places
        # One place per kind of output and choice of models, program and condition first:
        # a cell hidden in one such view may be shown in another.
        by_view: dict[tuple[Any, ...], list[Place]] = defaultdict(list)
        for place in places:
            f = self.universe.filters[place.filter_index]
            view = (place.output_index, f.program_models, f.program_ids, f.conditions)
            by_view[view].append(place)
        groups = sorted(by_view.values(), key=lambda group: group[0].output_index)
        spread = [p for p in itertools.chain(*itertools.zip_longest(*groups)) if p]
        self.stats["places_cut"] = self.stats.get("places_cut", 0) + len(spread) - budget
        self.stats["cells_cut"] = self.stats.get("cells_cut", 0) + 1
        return spread[:budget]

    def _look(self, cell: Cell, place: Place) -> bool:
        shown = self.product.shown(place.filter_index, place.output_index)
        value = shown.get(place.row, {}).get(cell.column)
        if value is None:
            return False
        if value != cell.value:
            self._report(
                Finding(
                    "mismatch",
                    cell.column,
                    value,
                    f"true count {cell.value}",
                    self.universe.describe(place),
                )
            )
        return True

    def _report(self, finding: Finding) -> None:
        key = (finding.kind, finding.column, hash((finding.recovered, finding.wide)))
        if key not in self._reported:
            self._reported.add(key)
            self.findings.append(finding)

    def _difference(self, wide: Cell, narrow: Cell) -> None:
        assert wide.shown_at is not None and narrow.shown_at is not None
        family = self.universe.families[wide.family]
        self._report(
            Finding(
                "difference",
                wide.column,
                wide.value - narrow.value,
                family.describe(wide.column, wide.elements & ~narrow.elements),
                f"{self.universe.describe(wide.shown_at)} = {wide.value}",
                f"{self.universe.describe(narrow.shown_at)} = {narrow.value}",
            )
        )

    # -- the pairs ---------------------------------------------------------------------

    def candidate_pairs(self, column: str) -> Iterator[tuple[Cell, Cell]]:
        """Nested cells of a column whose values are both at least the threshold (smaller
        ones are hidden by the primary rule) and differ by 1 to threshold - 1."""
        t = self.threshold
        cells = sorted(
            (c for c in self.cells[column].values() if c.value >= t), key=lambda c: c.value
        )
        values = [c.value for c in cells]
        for narrow in cells:
            low = bisect.bisect_left(values, narrow.value + 1)
            high = bisect.bisect_left(values, narrow.value + t)
            for wide in cells[low:high]:
                if narrow.elements & ~wide.elements == 0:
                    yield wide, narrow

    def run_candidates(
        self,
        budget: int | None = None,
        max_calls: int | None = None,
        max_findings: int | None = None,
    ) -> None:
        """Decide the candidate pairs with as few product calls as it takes: call next the
        output that holds the most undecided cells of open pairs; a cell is shown once an
        output shows it, hidden once every place of it (within `budget` places per cell)
        hides it; a pair leaks when both cells are shown and is safe when one is hidden."""
        pairs = [pair for column in sorted(self.cells) for pair in self.candidate_pairs(column)]
        self.stats.update(candidate_pairs=len(pairs))
        open_pairs: dict[int, tuple[Cell, Cell]] = dict(enumerate(pairs))
        pairs_of: dict[int, set[int]] = defaultdict(set)  # id(cell) -> open pairs
        by_difference: dict[tuple[str, int], set[int]] = defaultdict(set)
        for i, (wide, narrow) in open_pairs.items():
            pairs_of[id(wide)].add(i)
            pairs_of[id(narrow)].add(i)
            by_difference[(wide.column, wide.elements & ~narrow.elements)].add(i)
        cells = {id(c): c for pair in pairs for c in pair}
        pending: dict[int, dict[tuple[int, int], list[Place]]] = {}
        holding: dict[tuple[int, int], set[int]] = defaultdict(set)  # output -> cells
        for cell_id, cell in cells.items():
            places = self._places(cell, budget)
            pending[cell_id] = defaultdict(list)
            for place in places:
                output = (place.filter_index, place.output_index)
                pending[cell_id][output].append(place)
                holding[output].add(cell_id)
            if not places:
                cell.hidden_everywhere = True

        def drop(cell_id: int) -> None:
            for output in pending.pop(cell_id, {}):
                holding[output].discard(cell_id)

        def settle() -> None:
            """Close the pairs decided by the cells' states; forget cells no pair needs."""
            for i, (wide, narrow) in list(open_pairs.items()):
                if wide.hidden_everywhere or narrow.hidden_everywhere:
                    close(i)
                elif wide.shown_at is not None and narrow.shown_at is not None:
                    self._difference(wide, narrow)
                    for j in by_difference[(wide.column, wide.elements & ~narrow.elements)]:
                        close(j)

        def close(i: int) -> None:
            pair = open_pairs.pop(i, None)
            if pair is None:
                return
            for cell in pair:
                pairs_of[id(cell)].discard(i)
                if not pairs_of[id(cell)]:
                    drop(id(cell))

        settle()
        heap = [(-len(ids), output) for output, ids in holding.items() if ids]
        heapq.heapify(heap)
        while open_pairs and heap:
            if max_calls is not None and self.product.calls >= max_calls:
                break
            if max_findings is not None and len(self.findings) >= max_findings:
                break
            count, output = heapq.heappop(heap)
            if -count != len(holding[output]):
                if holding[output]:
                    heapq.heappush(heap, (-len(holding[output]), output))
                continue
            for cell_id in list(holding.pop(output)):
                cell = cells[cell_id]
                places = pending[cell_id].pop(output)
                if any(self._look(cell, place) for place in places):
                    cell.shown_at = next(p for p in places if self._look(cell, p))
                    drop(cell_id)
                elif not pending[cell_id]:
                    cell.hidden_everywhere = True
                    drop(cell_id)
            settle()
        self.stats["open_pairs"] = len(open_pairs)
        self._shown_small()

    def run_all(self) -> None:
        """Call every output; every shown count is a cell; every nested pair is checked."""
        for filter_index, output_index in sorted(self.universe.rows):
            for row, key in self.universe.rows[(filter_index, output_index)]:
                family = self.universe.families[key[0]]
                for column in family.columns:
                    elements = family.elements(column, key[2], key[1])
                    cell = self.cells[column].get(elements)
                    place = Place(filter_index, output_index, row)
                    if cell is not None and cell.shown_at is None and self._look(cell, place):
                        cell.shown_at = place
        t = self.threshold
        for _, cells in sorted(self.cells.items()):
            shown_cells = sorted(
                (c for c in cells.values() if c.shown_at is not None), key=lambda c: c.value
            )
            values = [c.value for c in shown_cells]
            for narrow in shown_cells:
                low = bisect.bisect_left(values, narrow.value + 1)
                high = bisect.bisect_left(values, narrow.value + t)
                for wide in shown_cells[low:high]:
                    if narrow.elements & ~wide.elements == 0:
                        self._difference(wide, narrow)
        self._shown_small()

    def _shown_small(self) -> None:
        """Every count from 1 to threshold - 1 in the outputs called."""
        t = self.threshold
        for (filter_index, output_index), rows in sorted(self.product._shown.items()):
            for row, counts in rows.items():
                for column, value in counts.items():
                    if 1 <= value < t:
                        place = Place(filter_index, output_index, row)
                        self._report(
                            Finding(
                                "shown_small", column, value, "shown", self.universe.describe(place)
                            )
                        )


def differencing_findings(
    engine: Engine,
    viewer: Viewer,
    *,
    mode: Literal["candidates", "all"] = "candidates",
    budget: int | None = None,
    max_calls: int | None = None,
    max_findings: int | None = None,
    national: bool = True,
    periods: Sequence[Period | None] = PERIODS,
    filters: Sequence[OutcomeFilter] | None = None,
    years: Sequence[int] | None = None,
    stats: dict[str, Any] | None = None,
    zeros_known: bool = False,
) -> list[Finding]:
    """Every count from 1 to threshold - 1 a partner can work out as the difference of two
    cells they are shown, or sees shown (see the module docstring).

    `filters` defaults to the whole lattice (`partner_filters`, its ranges within `years`
    when given). `national=False` leaves the national line out. In "candidates" mode,
    `budget` bounds the places asked about per cell, `max_calls` the product calls and
    `max_findings` stops at that many findings: a finding is then still certain, but a pair
    may be left undecided (stats["open_pairs"]) or called safe on the places asked only
    (stats["cells_cut"]). `stats` gets the numbers of filters, cells, pairs, product calls
    and seconds. `zeros_known` counts only non-zero parts as a cell's elements: pairs nest
    more often, as for a partner who combines a pair with the zeros of further views.
    """
    started = time.perf_counter()
    universe = build_universe(
        engine,
        viewer,
        national=national,
        periods=periods,
        filters=filters,
        years=years,
        zeros_known=zeros_known,
    )
    checker = Checker(engine, viewer, universe)
    built = time.perf_counter() - started
    if mode == "all":
        checker.run_all()
    else:
        checker.run_candidates(budget=budget, max_calls=max_calls, max_findings=max_findings)
    if stats is not None:
        stats.update(
            filters=len(universe.filters),
            outputs=len(universe.outputs),
            cells=sum(len(c) for c in checker.cells.values()),
            **checker.stats,
            product_calls=checker.product.calls,
            product_seconds=round(checker.product.seconds, 1),
            model_seconds=round(built, 1),
            seconds=round(time.perf_counter() - started, 1),
        )
    return sorted(
        checker.findings, key=lambda f: (f.kind, f.column, f.value, f.recovered, f.wide, f.narrow)
    )


# ---------------------------------------------------------------------------------------
# What the rule costs a partner


DefaultView = tuple[
    Callable[[OutcomeFilter], OutcomeFilter], Period | None, tuple[Dimension, ...], str
]

# The outcome_summary outputs the pages draw for the default filters (pages/*.py): the
# overview's tiles (this and the previous period, by population), map (by state and
# population) and trend (by month and model, with the comparison population); the state
# profile's lines (by quarter: the state, its not-enrolled members, the national line); the
# follow-up page's trend and its by-state view of the enrolled models.


def _with_comparison(f: OutcomeFilter) -> OutcomeFilter:
    models = tuple(dict.fromkeys((*f.program_models, NOT_ENROLLED)))
    return f.model_copy(update={"program_models": models})


def _enrolled_only(f: OutcomeFilter) -> OutcomeFilter:
    return f.model_copy(
        update={"program_models": tuple(m for m in f.program_models if m != NOT_ENROLLED)}
    )


def _not_enrolled_only(f: OutcomeFilter) -> OutcomeFilter:
    return f.model_copy(update={"program_models": (NOT_ENROLLED,)})


DEFAULT_VIEWS: tuple[DefaultView, ...] = (
    (lambda f: f, None, ("population",), "filters"),
    (lambda f: f, None, ("state_code", "population"), "filters"),
    (_with_comparison, "month", ("program_model",), "filters"),
    (lambda f: f, "quarter", (), "filters"),
    (_not_enrolled_only, "quarter", (), "filters"),
    (lambda f: f, "quarter", (), "national"),
    (_enrolled_only, None, ("state_code",), "filters"),
)


def default_partner_filter(engine: Engine, viewer: Viewer, years: int = 3) -> OutcomeFilter:
    """The partner's default view as whole years: the latest `years` calendar years that end
    by the last complete month (the pages open on the latest complete months)."""
    last = queries.last_complete_month(engine=engine)
    bounds = queries.month_bounds(viewer=viewer, engine=engine)
    assert last is not None and bounds is not None
    end = int(last[:4]) if last.endswith("-12") else int(last[:4]) - 1
    start = max(int(bounds[0][:4]), end - years + 1)
    return OutcomeFilter(month_from=f"{start}-01", month_to=f"{end}-12")


def _hidden_share(engine: Engine, viewer: Viewer, filters: OutcomeFilter) -> tuple[int, int]:
    hidden = total = 0
    views = [(v, filters) for v in DEFAULT_VIEWS]
    previous = queries.previous_period(filters, viewer=viewer, engine=engine)
    if previous is not None:
        views.append(((lambda f: f, None, ("population",), "filters"), previous))
    for (transform, period, by, scope), base in views:
        try:
            frame = queries.outcome_summary(
                viewer=viewer,
                filters=transform(base),
                period=period,
                by=by,
                scope=scope,  # type: ignore[arg-type]
                engine=engine,
            )
        except DisclosureRefused:
            continue
        cells = frame[list(COUNT_COLUMNS)]
        total += cells.size
        hidden += int(cells.isna().to_numpy().sum())
    return hidden, total


def share_lost(
    engine: Engine, viewer: Viewer, filters: OutcomeFilter | None = None
) -> tuple[float, float]:
    """The share of count cells hidden among the partner's default-view cells
    (DEFAULT_VIEWS over `filters`, by default `default_partner_filter`), with the
    differencing rule off and on: (before, after)."""
    filters = filters if filters is not None else default_partner_filter(engine, viewer)
    shares = []
    saved = queries.DIFFERENCING_RULE
    try:
        for rule in (False, True):
            queries.DIFFERENCING_RULE = rule
            hidden, total = _hidden_share(engine, viewer, filters)
            shares.append(hidden / total if total else 0.0)
    finally:
        queries.DIFFERENCING_RULE = saved
    return shares[0], shares[1]


# ---------------------------------------------------------------------------------------
# Command line: python -m tests.differencing_checks sample|world [--no-rule] [--all]


def summary_lines(findings: Sequence[Finding]) -> list[str]:
    counted = Counter((f.kind, f.column) for f in findings)
    return [f"{kind:12} {column:32} {n}" for (kind, column), n in sorted(counted.items())]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.differencing_checks")
    parser.add_argument(
        "data", choices=("sample", "world"), help="the shipped sample or the test world"
    )
    parser.add_argument("--state", default="TX", help="the partner's state (default TX)")
    parser.add_argument("--no-rule", action="store_true", help="switch the differencing rule off")
    parser.add_argument("--all", action="store_true", help="call every output (slow)")
    parser.add_argument("--budget", type=int, help="places asked per cell (default: all)")
    parser.add_argument("--max-calls", type=int, help="product calls at most")
    parser.add_argument("--national", action="store_true", help="add the national line")
    parser.add_argument("--periods", default="month,quarter,year,range")
    parser.add_argument(
        "--years", help="years the ranges start and end in, e.g. 2023,2024 (default: all)"
    )
    parser.add_argument("--show", type=int, default=20, help="findings to print in full")
    parser.add_argument("--share", action="store_true", help="also the share of cells lost")
    parser.add_argument(
        "--zeros-known",
        action="store_true",
        help="nest cells by their non-zero parts (a pair with the zeros of further views)",
    )
    args = parser.parse_args(argv)
    periods: tuple[Any, ...] = tuple(None if p == "range" else p for p in args.periods.split(","))
    with tempfile.TemporaryDirectory() as folder:
        engine = db.get_engine(f"sqlite:///{Path(folder) / 'outcomes.sqlite'}")
        if args.data == "sample":
            from data_access.loader import load_directory

            load_directory(Path(__file__).resolve().parent.parent / "sample_data", engine=engine)
        else:
            from tests.differencing_world import DIFFERENCING_SPEC, build

            db.create_schema(engine)
            build(engine, DIFFERENCING_SPEC)
        viewer = Viewer(email="partner@example.org", role="state_partner", states=(args.state,))
        queries.DIFFERENCING_RULE = not args.no_rule
        stats: dict[str, Any] = {}
        findings = differencing_findings(
            engine,
            viewer,
            mode="all" if args.all else "candidates",
            budget=args.budget,
            max_calls=args.max_calls,
            national=args.national,
            periods=periods,
            years=[int(y) for y in args.years.split(",")] if args.years else None,
            stats=stats,
            zeros_known=args.zeros_known,
        )
        print(f"rule {'off' if args.no_rule else 'on'}: {len(findings)} findings; {stats}")
        print("\n".join(summary_lines(findings)))
        for finding in findings[: args.show]:
            print(" ", finding)
        if args.share:
            before, after = share_lost(engine, viewer)
            print(
                f"default-view count cells hidden: {before:.1%} without the rule, {after:.1%} with"
            )
        db.dispose_engines()
    return 0


if __name__ == "__main__":
    sys.exit(main())
