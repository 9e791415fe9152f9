"""Comparing the product's figures with the reference implementation (tests/reference_metrics).

Shared by the tests that compare them: the sample's reference tables (built once per test
session), Hypothesis strategies for the filters and shapes the pages and exports serve, and
the comparison itself (integers and money exactly, ratios to 1e-9 relative, NaN where
undefined on both sides, rows in the contract's order).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, settings
from hypothesis import strategies as st

from data_access import db
from data_access.access import LOCAL_VIEWER
from data_access.exports import export_frame, to_csv_text
from data_access.filters import OutcomeFilter
from data_access.queries import enrolled_members, outcome_summary, previous_period
from tests import reference_metrics as rm
from tests.conftest import SAMPLE_DATA

RELATIVE = 1e-9
# Ratios of equal sums computed in another order may differ in the last bits; a change of
# two such ratios (post - pre) may then be a few 1e-16 instead of 0.
ABSOLUTE = 1e-9

# Hypothesis: the same examples on every run and engine, no example database, no deadline
# (a query on the sample takes a fraction of a second, sometimes more on a busy machine).
# The loaded sample is a read-only fixture per engine, so reusing it across examples is safe.
REFERENCE_SETTINGS = settings(
    derandomize=True,
    database=None,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@cache
def sample_base() -> rm.Base:
    """The reference tables of the shipped sample, built once per test session."""
    return rm.Base(rm.read_frames(SAMPLE_DATA))


@cache
def _sample_programs() -> pd.DataFrame:
    return _sample_table("programs")


@cache
def sample_states() -> list[str]:
    return sorted(_sample_table("states")["state_code"])


def _sample_table(name: str) -> pd.DataFrame:
    path = SAMPLE_DATA / f"{name}.csv.gz"
    return pd.read_csv(path if path.exists() else path.with_suffix(""), dtype=str)


# ---------------------------------------------------------------------------------------
# strategies

# The breakdowns the pages serve, and other combinations the product accepts.
BYS: tuple[tuple[str, ...], ...] = (
    (),
    ("state_code",),
    ("program_model",),
    ("program_id",),
    ("population",),
    ("state_code", "program_model"),
    ("state_code", "population"),
    ("program_model", "population"),
    ("state_code", "program_id"),
    ("program_id", "program_model"),
    ("population", "state_code", "program_model"),
)
FIRST_MONTH, LAST_MONTH = "2014-11", "2026-02"  # the sample's months, and a little beyond


@dataclass(frozen=True)
class Case:
    """One call of outcome_summary: the filters and the shape."""

    filters: OutcomeFilter = field(default_factory=OutcomeFilter)
    period: str | None = "month"
    by: tuple[str, ...] = ()
    with_total: bool = False
    scope: str = "filters"

    def __repr__(self) -> str:
        shape = f"period={self.period!r}, by={self.by!r}"
        if self.with_total:
            shape += ", with_total=True"
        if self.scope != "filters":
            shape += f", scope={self.scope!r}"
        return f"Case({describe(self.filters)}, {shape})"


def describe(filters: OutcomeFilter) -> str:
    """The filter's non-default fields, to name a failing example."""
    default = OutcomeFilter()
    changed = {
        name: value
        for name, value in filters.model_dump().items()
        if value != getattr(default, name)
    }
    return "OutcomeFilter(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"


months = st.integers(rm.month_number(FIRST_MONTH), rm.month_number(LAST_MONTH)).map(rm.month_text)


@st.composite
def outcome_filters(draw: st.DrawFn) -> OutcomeFilter:
    """Any filter: states (none, or a few), program models (all, or some, not_enrolled
    included or not), programs (mostly of the chosen states; possibly none), conditions,
    a month range (either end open), a setting."""
    programs = _sample_programs()
    states = draw(st.none() | st.lists(st.sampled_from(sample_states()), min_size=1, max_size=4))
    models = draw(
        st.just(rm.PROGRAM_GROUPS)
        | st.lists(st.sampled_from(rm.PROGRAM_GROUPS), min_size=1, max_size=4)
    )
    own = programs if states is None else programs[programs["state_code"].isin(states)]
    pool = sorted(set(own["program_id"]) | set(programs["program_id"].iloc[::13]))
    program_ids = draw(st.none() | st.lists(st.sampled_from(pool), max_size=3))
    conditions = draw(st.none() | st.lists(st.sampled_from(rm.CONDITIONS), min_size=1, max_size=2))
    ends = sorted([draw(st.none() | months), draw(st.none() | months)], key=lambda m: m or "")
    month_from, month_to = (ends[1], None) if ends[0] is None else (ends[0], ends[1])
    if draw(st.booleans()) and month_from is not None and month_to is None:
        month_from, month_to = None, month_from  # an open start as often as an open end
    return OutcomeFilter(
        states=states,
        program_models=models,
        program_ids=program_ids,
        conditions=conditions,
        month_from=month_from,
        month_to=month_to,
        setting=draw(st.sampled_from(rm.SETTINGS)),
    )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    return Case(
        filters=draw(outcome_filters()),
        period=draw(st.sampled_from([*rm.PERIODS, None])),
        by=draw(st.sampled_from(BYS)),
        with_total=draw(st.booleans()),
        scope=draw(st.sampled_from(["filters", "filters", "national"])),
    )


# ---------------------------------------------------------------------------------------
# comparing


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _key_text(value: object) -> str:
    return "" if _is_missing(value) else str(value)


def assert_plain_text_order(frame: pd.DataFrame, keys: list[str], context: str) -> None:
    """Rows ordered by the key columns as plain text (code points), an empty key first."""
    if not keys:
        return
    tuples = [tuple(_key_text(v) for v in row) for row in frame[keys].itertuples(index=False)]
    for i, (before, after) in enumerate(itertools.pairwise(tuples)):
        assert before <= after, f"{context}: rows {i} and {i + 1} out of order: {before} > {after}"


def _canonical(frame: pd.DataFrame, keys: list[str], exact: list[str]) -> pd.DataFrame:
    """Rows sorted by the keys as text, ties (a pooled row and the not_enrolled row share an
    empty program_id) broken by the exact columns, so two frames line up row by row."""
    order = pd.DataFrame({f"k{i}": frame[k].map(_key_text) for i, k in enumerate(keys)})
    for i, column in enumerate(exact):
        order[f"x{i}"] = frame[column].map(lambda v: -1.0 if _is_missing(v) else float(v))
    if order.empty or not len(order.columns):
        return frame.reset_index(drop=True)
    return frame.loc[order.sort_values(list(order.columns), kind="stable").index].reset_index(
        drop=True
    )


def assert_frames_match(
    got: pd.DataFrame,
    expected: pd.DataFrame,
    *,
    keys: list[str],
    context: str,
    suppressed_column: bool = False,
    extra_ok: bool = False,
) -> None:
    """`got` (the product) has the reference's rows in the contract's order and its values:
    key and text columns equal (None where the reference has None), integers and money
    exactly, ratios to RELATIVE. With `suppressed_column`, it ends with an empty
    `suppressed` column; with `extra_ok` it may hold columns the reference does not know
    (compared: the reference's columns, which must all be there)."""
    columns = list(expected.columns)
    if suppressed_column:
        assert list(got.columns)[-1] == "suppressed", f"{context}: no suppressed column"
        assert (got["suppressed"].fillna("") == "").all(), f"{context}: cells suppressed"
        got = got.drop(columns="suppressed")
    if extra_ok:
        missing = [c for c in columns if c not in got.columns]
        assert not missing, f"{context}: columns missing {missing}"
        got = got[columns]
    assert list(got.columns) == columns, (
        f"{context}: columns\n got {list(got.columns)}\nwant {columns}"
    )
    assert len(got) == len(expected), (
        f"{context}: {len(got)} rows, the reference has {len(expected)}\n"
        f" got keys {got[keys].head(8).to_dict('records')}\n"
        f"want keys {expected[keys].head(8).to_dict('records')}"
    )
    if expected.empty:
        return
    assert_plain_text_order(got, keys, context)
    exact = [c for c in columns if c in rm.INTEGER_COLUMNS or c in rm.MONEY_COLUMNS]
    got_rows, want_rows = _canonical(got, keys, exact), _canonical(expected, keys, exact)
    problems = []
    for column in columns:
        g, w = got_rows[column], want_rows[column]
        same = _same_column(g, w, column, text=column in rm.TEXT_COLUMNS or column in keys)
        for i in np.flatnonzero(~same)[:12]:
            where = {k: want_rows[k].iloc[i] for k in keys}
            problems.append(f"{column} at {where}: got {g.iloc[i]!r}, want {w.iloc[i]!r}")
    assert not problems, f"{context}: values differ\n" + "\n".join(problems[:24])


def _same_column(got: pd.Series, want: pd.Series, column: str, *, text: bool) -> np.ndarray:
    """Per row: the product's value equals the reference's (NaN/None on both sides agree)."""
    got_missing = np.array([_is_missing(v) for v in got], dtype=bool)
    want_missing = np.array([_is_missing(v) for v in want], dtype=bool)
    both = ~got_missing & ~want_missing
    if text:
        values = np.array([str(g) == str(w) for g, w in zip(got, want, strict=True)], dtype=bool)
    elif want.map(lambda v: isinstance(v, bool | np.bool_)).all():
        values = np.array(
            [
                isinstance(g, bool | np.bool_) and bool(g) == bool(w)
                for g, w in zip(got, want, strict=True)
            ],
            dtype=bool,
        )
    else:
        g = np.where(got_missing, 0.0, pd.to_numeric(got.where(~got_missing, 0.0)).to_numpy(float))
        w = np.where(
            want_missing, 0.0, pd.to_numeric(want.where(~want_missing, 0.0)).to_numpy(float)
        )
        if column in rm.INTEGER_COLUMNS:
            values = (g == w) & (g == np.round(g))
        elif column in rm.MONEY_COLUMNS:
            values = np.round(g * 100) == np.round(w * 100)
        else:
            values = np.isclose(g, w, rtol=RELATIVE, atol=ABSOLUTE)
    return (got_missing & want_missing) | (both & values)


def assert_csv_matches(
    got_text: str,
    expected: pd.DataFrame,
    *,
    context: str,
    contract_version: int = rm.CONTRACT_VERSION,
) -> None:
    """The product's CSV text is the reference's frame written as the contract writes it.
    A ratio that lies within 1e-9 of a rounding tie may round either way."""
    got = list(csv.reader(io.StringIO(got_text)))
    want = rm.csv_rows(expected, contract_version)
    assert got[0] == want[0], f"{context}: header\n got {got[0]}\nwant {want[0]}"
    assert len(got) == len(want), f"{context}: {len(got) - 1} rows, want {len(want) - 1}"
    values = list(expected.itertuples(index=False, name=None))
    columns = want[0]
    problems = []
    for r, (got_row, want_row) in enumerate(zip(got[1:], want[1:], strict=True)):
        for c, (g, w) in enumerate(zip(got_row, want_row, strict=True)):
            if g == w:
                continue
            value = values[r][c]
            near = set()
            if not _is_missing(value) and not isinstance(value, str | bool):
                for nudge in (-1, 1):
                    moved = float(value) + nudge * 1e-9 * max(1.0, abs(float(value)))
                    near.add(rm.format_cell(columns[c], moved, contract_version))
            if g not in near:
                problems.append(f"row {r + 1} {columns[c]}: got {g!r}, want {w!r}")
    assert not problems, f"{context}: {len(problems)} cells differ\n" + "\n".join(problems[:12])


# ---------------------------------------------------------------------------------------
# the corners every run tries, and the checks the test modules run (one per contract version)

FILTER_CORNERS = [
    OutcomeFilter(),
    OutcomeFilter(program_models=("not_enrolled",)),
    OutcomeFilter(program_models=rm.PROGRAM_MODELS),  # not_enrolled deselected
    OutcomeFilter(program_ids=()),  # no program: the not_enrolled rows stay
    OutcomeFilter(states=("TX", "NY"), program_ids=("TX-COACHING",), setting="behavioral"),
    OutcomeFilter(conditions=("substance_use",), setting="medical"),
    OutcomeFilter(month_from="2025-12", month_to="2025-12"),
    OutcomeFilter(month_from="2025-09", month_to="2025-10"),  # v2: the provisional boundary
    OutcomeFilter(month_to="2015-06", setting="behavioral"),
    OutcomeFilter(month_from="2024-07", conditions=("mental_health", "co_occurring")),
    OutcomeFilter(month_from="2026-01"),  # after the data: nothing
    OutcomeFilter(states=()),  # selects nothing
    OutcomeFilter(conditions=()),
    OutcomeFilter(states=("ZZ",)),  # a state without data
]
CASE_CORNERS = [
    Case(),
    Case(OutcomeFilter(), "month", ("state_code", "program_model")),  # the monthly export
    Case(OutcomeFilter(), None, ("population",)),  # the overview's tiles
    Case(
        OutcomeFilter(month_from="2024-01", month_to="2024-06"),
        None,
        ("state_code", "population"),
    ),
    Case(OutcomeFilter(states=("TX",)), "quarter", ("program_model",), with_total=True),
    Case(OutcomeFilter(), None, ("state_code",), with_total=True),  # the state ranking
    Case(OutcomeFilter(setting="medical"), "year", ("program_id",), with_total=True),
    Case(
        OutcomeFilter(states=("TX",), program_ids=("TX-COACHING",)),
        "month",
        (),
        scope="national",  # leadership's national line: every state and program pooled
    ),
    Case(OutcomeFilter(program_ids=()), "year", ("state_code", "program_id"), with_total=True),
    Case(OutcomeFilter(program_models=("not_enrolled",)), "quarter", ("population",)),
    Case(OutcomeFilter(setting="behavioral"), "quarter", (), scope="national"),
    Case(OutcomeFilter(states=()), "month", ("state_code",), with_total=True),
    Case(OutcomeFilter(month_from="2026-01"), None, ()),
]


def examples(name: str, values: list[Any]) -> Callable[[Callable[..., None]], Any]:
    """Hypothesis `@example`s, one per value, in order."""

    def decorate(test: Callable[..., None]) -> Any:
        for value in reversed(values):
            test = example(**{name: value})(test)
        return test

    return decorate


def product_summary(url: str, case: Case) -> pd.DataFrame:
    return outcome_summary(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=case.filters,
        period=case.period,  # type: ignore[arg-type]
        by=case.by,  # type: ignore[arg-type]
        with_total=case.with_total,
        scope=case.scope,  # type: ignore[arg-type]
        engine=db.get_engine(url),
    )


def check_outcome_summary(url: str, case: Case, version: int) -> None:
    """outcome_summary of the product equals the reference's, for this case.

    v2: the product may serve more columns than the reference knows; `provisional`, which
    the contract defines per month, is compared for other periods only when served.
    """
    got = product_summary(url, case)
    want = rm.outcome_summary(
        sample_base(),
        case.filters,
        period=case.period,
        by=case.by,
        with_total=case.with_total,
        scope=case.scope,
        contract_version=version,
    )
    keys = ([case.period] if case.period else []) + list(case.by)
    context = repr(case)
    if version >= 2 and case.period != "month" and "provisional" not in got.columns:
        want = want.drop(columns="provisional")
    assert_frames_match(
        got, want, keys=keys, context=context, suppressed_column=True, extra_ok=version >= 2
    )


def check_exports(url: str, filters: OutcomeFilter, version: int) -> None:
    """The monthly and prepost exports (frames, then CSV text) equal the reference's."""
    base = sample_base()
    expected = {
        "monthly": (
            rm.monthly(base, filters, contract_version=version),
            ["month", "state_code", "program_model"],
        ),
        "prepost": (
            rm.prepost(base, filters=filters, contract_version=version),
            ["state_code", "program_id"],
        ),
    }
    for dataset, (want, keys) in expected.items():
        got = export_frame(
            dataset=dataset,  # type: ignore[arg-type]
            filters=filters,
            viewer=LOCAL_VIEWER,
            small_cells="show",
            engine=db.get_engine(url),
        )
        context = f"{dataset} export, {describe(filters)}"
        assert_frames_match(got, want, keys=keys, context=context)
        assert_csv_matches(to_csv_text(got), want, context=context, contract_version=version)


def check_overview_helpers(url: str, filters: OutcomeFilter) -> None:
    """enrolled_members and previous_period equal the reference's."""
    engine = db.get_engine(url)
    base = sample_base()
    context = describe(filters)
    members = enrolled_members(
        viewer=LOCAL_VIEWER, small_cells="show", filters=filters, engine=engine
    )
    assert members == rm.enrolled_members(base, filters), context
    previous = previous_period(filters, viewer=LOCAL_VIEWER, engine=engine)
    want = rm.previous_period(base, filters)
    if want is None:
        assert previous is None, context
        return
    assert previous is not None, context
    assert (previous.month_from, previous.month_to) == want, context
    unmoved = {"month_from": None, "month_to": None}  # only the months move
    assert previous.model_copy(update=unmoved) == filters.model_copy(update=unmoved), context
