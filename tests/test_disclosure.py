"""Issue #4 on the shipped sample, both engines: every data_access read and export, across
generated filters, keeps a partner to their states, shows no small count and leaves no
suppressed cell recoverable (tests/disclosure_checks.py).

The checker's own tests come first: each feeds it a frame with a known leak and asserts the
exact finding, so a checker that finds nothing cannot pass for a safe product.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from data_access import db, exports, queries
from data_access.access import Viewer, national_filter, scope_filter
from data_access.errors import DisclosureRefused
from data_access.filters import OutcomeFilter
from data_access.measures import (
    COUNT_COLUMNS,
    MEASURE_COLUMNS,
    PREPOST_COLUMNS,
    PROVISIONAL,
    add_monthly_rates,
)
from data_access.settings import get_settings
from data_access.suppression import MONTHLY_RULES, SUPPRESSED_COLUMN, Margin, apply_suppression
from data_access.vocabulary import (
    NOT_ENROLLED,
    PRIMARY_CONDITIONS,
    PROGRAM_GROUPS,
    PROGRAM_MODELS,
)
from tests.disclosure_checks import (
    MONTHLY_SPEC,
    PREPOST_SPEC,
    Finding,
    Ratio,
    Spec,
    disclosure_findings,
    hidden_mask,
    total_margins,
)
from tests.test_suppression import SIMPLE, SIMPLE_SPEC, simple_frame

LEADERSHIP = Viewer(email="lead@example.org", role="leadership")
TX = Viewer(email="tx@example.org", role="state_partner", states=("TX",))
TX_NY = Viewer(email="tx-ny@example.org", role="state_partner", states=("TX", "NY"))
# New Mexico is not in the sample: a grant of a state without data must act as TX alone.
TX_NM = Viewer(email="tx-nm@example.org", role="state_partner", states=("TX", "NM"))
VIEWERS = (TX, TX_NY, TX_NM, LEADERSHIP)
DIMENSIONS = ("state_code", "program_model", "program_id", "population")
PREPOST_COUNTS = ("enrollments",)


def found(findings: list[Finding]) -> set[tuple[str, object, str, float | None]]:
    return {
        (f.kind, f.row, f.column, None if f.value is None else round(f.value, 6)) for f in findings
    }


# ---------------------------------------------------------------------------------------
# The checker can fail


def test_the_checker_recovers_a_cell_left_alone_without_complementary_suppression():
    # total 38 = 3 (hidden) + 0 + 20 + 15: without a complement, 3 = 38 - 0 - 20 - 15.
    frame = simple_frame(n=[400, 100, 100, 100, 100], a=[38, 3, 0, 20, 15])
    margin = Margin(total=0, parts=(1, 2, 3, 4))
    skipped = apply_suppression(frame, SIMPLE, threshold=11, shown=["n", "a", "rate"], margins=())
    assert list(skipped[SUPPRESSED_COLUMN]) == ["", "a;rate", "", "", ""]
    findings = disclosure_findings(skipped, SIMPLE_SPEC, threshold=11, margins=[margin])
    assert found(findings) == {
        ("additive", 1, "a", 3.0),
        ("within_row", 1, "rate", 0.03),  # a / n, once a is known
        ("small_count", 1, "a", 3.0),
    }
    done = apply_suppression(
        frame, SIMPLE, threshold=11, shown=["n", "a", "rate"], margins=[margin]
    )
    assert disclosure_findings(done, SIMPLE_SPEC, threshold=11, margins=[margin]) == []


def test_the_checker_takes_a_monthly_row_back_from_its_total_and_linked_money():
    # Row 0 (8 member-months) is hidden whole; without complements, each of its additive
    # cells is the total less the two shown parts, and each rate of it whose terms are then
    # known follows. Its average LOS, readmission rate and follow-up rates stay unknown:
    # their denominators (discharges, followed and followed behavioral discharges) are 0.
    frame = add_monthly_rates(
        pd.DataFrame(
            {
                "member_months": [8, 200, 100, 308],
                "admissions": [0, 30, 15, 45],
                "discharges": [0, 30, 15, 45],
                "inpatient_days": [0, 150, 70, 220],
                "followed_discharges": [0, 30, 15, 45],
                "readmissions_30d": [0, 12, 0, 12],
                "ed_visits": [3, 18, 60, 81],
                "followed_behavioral_discharges": [0, 20, 12, 32],
                "followups_7d": [0, 14, 0, 14],
                "followups_30d": [0, 16, 12, 28],
                "peer_contacts_1d": [0, 0, 11, 11],
                "paid_cents": [7_000, 1_000_000, 50_000, 1_057_000],
                "behavioral_paid_cents": [5_000, 900_000, 0, 905_000],
                "medical_paid_cents": [2_000, 100_000, 50_000, 152_000],
                "members_lower_bound": [8, 200, 100, 308],
            }
        )
    )
    margin = Margin(total=3, parts=(0, 1, 2))
    shown = list(MEASURE_COLUMNS)
    skipped = apply_suppression(frame, MONTHLY_RULES, threshold=11, shown=shown, margins=())
    findings = disclosure_findings(skipped, MONTHLY_SPEC, threshold=11, margins=[margin])
    assert found(findings) == {
        ("additive", 0, "member_months", 8.0),
        ("additive", 0, "admissions", 0.0),
        ("additive", 0, "discharges", 0.0),
        ("additive", 0, "inpatient_days", 0.0),
        ("additive", 0, "followed_discharges", 0.0),
        ("additive", 0, "readmissions_30d", 0.0),
        ("additive", 0, "ed_visits", 3.0),
        ("additive", 0, "followed_behavioral_discharges", 0.0),
        ("additive", 0, "followups_7d", 0.0),
        ("additive", 0, "followups_30d", 0.0),
        ("additive", 0, "peer_contacts_1d", 0.0),
        ("additive", 0, "paid", 70.0),
        ("additive", 0, "behavioral_paid", 50.0),
        ("additive", 0, "medical_paid", 20.0),
        ("within_row", 0, "admissions_per_1000_mm", 0.0),
        ("within_row", 0, "inpatient_days_per_1000_mm", 0.0),
        ("within_row", 0, "ed_visits_per_1000_mm", 375.0),  # 3 / 8 x 1000
        ("within_row", 0, "cost_pmpm", 8.75),
        ("within_row", 0, "behavioral_cost_pmpm", 6.25),
        ("within_row", 0, "medical_cost_pmpm", 2.5),
        ("small_count", 0, "member_months", 8.0),
        ("small_count", 0, "ed_visits", 3.0),
    }
    done = apply_suppression(frame, MONTHLY_RULES, threshold=11, shown=shown, margins=[margin])
    assert disclosure_findings(done, MONTHLY_SPEC, threshold=11, margins=[margin]) == []


def test_the_checker_recovers_counts_from_shown_rates_in_the_row():
    # admissions_per_1000_mm with member_months gives admissions (5: small); average_los with
    # discharges gives inpatient_days.
    frame = pd.DataFrame(
        {
            "member_months": [100],
            "admissions": [np.nan],
            "discharges": [20],
            "inpatient_days": [np.nan],
            "admissions_per_1000_mm": [50.0],
            "average_los": [2.5],
            SUPPRESSED_COLUMN: ["admissions;inpatient_days"],
        }
    )
    assert found(disclosure_findings(frame, MONTHLY_SPEC, threshold=11)) == {
        ("within_row", 0, "admissions", 5.0),
        ("within_row", 0, "inpatient_days", 50.0),
        ("small_count", 0, "admissions", 5.0),
    }


def test_the_checker_recovers_one_hidden_linked_column():
    frame = pd.DataFrame(
        {
            "paid": [100.0, 100.0],
            "behavioral_paid": [60.0, np.nan],
            "medical_paid": [np.nan, np.nan],
            SUPPRESSED_COLUMN: ["medical_paid", "behavioral_paid;medical_paid"],
        }
    )
    assert found(disclosure_findings(frame, MONTHLY_SPEC, threshold=11)) == {
        ("linked", 0, "medical_paid", 40.0)
    }


def test_the_checker_reports_shown_and_implied_small_counts_and_cells_left_filled():
    monthly = pd.DataFrame(
        {
            "member_months": [7, 0, 50],
            "admissions": [0, 0, 12],
            SUPPRESSED_COLUMN: ["", "", "admissions"],
        }
    )
    assert found(disclosure_findings(monthly, MONTHLY_SPEC, threshold=11)) == {
        ("small_count", 0, "member_months", 7.0),
        ("not_emptied", 2, "admissions", 12.0),
    }
    # a share of 0.1 of 40 enrollments: 4 members with an admission
    prepost = pd.DataFrame(
        {"enrollments": [40], "pre_share_with_admission": [0.1], SUPPRESSED_COLUMN: [""]}
    )
    assert found(disclosure_findings(prepost, PREPOST_SPEC, threshold=11)) == {
        ("small_count", 0, "pre_with_admission", 4.0)
    }
    # ... and the threshold is the one given
    assert disclosure_findings(prepost, PREPOST_SPEC, threshold=4) == []


def test_the_checker_solves_several_margins_together():
    # Two hidden cells of one column, each alone in no margin, still come back: c11 + c12 and
    # c11 + c21 are shown totals and c12 is recovered from its column total.
    frame = pd.DataFrame(
        {
            "n": [100] * 7,
            "a": [np.nan, np.nan, 50, 43, 53, 60, 100],
            SUPPRESSED_COLUMN: ["a", "a", "", "", "", "", ""],
        }
    )
    margins = [Margin(total=3, parts=(0, 1)), Margin(total=6, parts=(1, 5))]
    spec = Spec(rules=SIMPLE, relations=(Ratio("rate", "a", "n"),), counts=("a",))
    assert found(disclosure_findings(frame, spec, threshold=11, margins=margins)) == {
        ("additive", 0, "a", 3.0),
        ("additive", 1, "a", 40.0),
        ("small_count", 0, "a", 3.0),
    }
    # with one equation only, neither cell is determined
    assert disclosure_findings(frame, spec, threshold=11, margins=margins[:1]) == []


def test_total_margins_read_the_rows_with_empty_by_columns():
    frame = pd.DataFrame(
        {
            "month": ["2020-01"] * 3 + ["2020-02"] * 3,
            "program_id": [None, None, "P1", None, None, "P1"],
        }
    )
    # not_enrolled rows have no program either: the total is the last empty row of a month
    assert total_margins(frame, period="month", by=("program_id",)) == [
        Margin(total=1, parts=(0, 2)),
        Margin(total=4, parts=(3, 5)),
    ]
    assert total_margins(frame, period="month", by=()) == []


# ---------------------------------------------------------------------------------------
# The sample, both engines


@dataclass(frozen=True)
class Sample:
    engine: Engine
    states: tuple[str, ...]
    programs: pd.DataFrame
    months: tuple[str, ...]
    threshold: int

    def program_ids(self, states: tuple[str, ...] | None) -> set[str]:
        rows = self.programs
        if states is not None:
            rows = rows[rows["state_code"].isin(states)]
        return set(rows["program_id"])

    def granted(self, viewer: Viewer) -> set[str]:
        return set(self.states) if viewer.states is None else set(viewer.states) & set(self.states)


def _months(first: str, last: str) -> tuple[str, ...]:
    index = range(int(first[:4]) * 12 + int(first[5:]) - 1, int(last[:4]) * 12 + int(last[5:]))
    return tuple(f"{i // 12:04d}-{i % 12 + 1:02d}" for i in index)


@pytest.fixture
def sample(loaded_sample: str) -> Iterator[Sample]:
    engine = db.get_engine(loaded_sample)
    get_settings.cache_clear()
    states = tuple(queries.list_states(viewer=LEADERSHIP, engine=engine)["state_code"])
    bounds = queries.month_bounds(viewer=LEADERSHIP, engine=engine)
    assert bounds is not None
    assert {"TX", "NY"} <= set(states) and "NM" not in states
    yield Sample(
        engine=engine,
        states=states,
        programs=queries.list_programs(viewer=LEADERSHIP, engine=engine),
        months=_months(*bounds),
        threshold=get_settings().small_cell_threshold,
    )
    get_settings.cache_clear()


@st.composite
def outcome_filters(draw: st.DrawFn, sample: Sample) -> OutcomeFilter:
    states = draw(
        st.none()
        | st.lists(st.sampled_from(("TX", "NY")), min_size=1, unique=True)
        | st.lists(st.sampled_from(sample.states), max_size=4, unique=True)
    )
    models = draw(
        st.just(PROGRAM_GROUPS) | st.lists(st.sampled_from(PROGRAM_GROUPS), max_size=4, unique=True)
    )
    ids = sorted(sample.program_ids(None))
    program_ids = draw(st.none() | st.lists(st.sampled_from(ids), max_size=6, unique=True))
    conditions = draw(
        st.none() | st.lists(st.sampled_from(PRIMARY_CONDITIONS), min_size=1, unique=True)
    )
    last = len(sample.months) - 1
    first_index = draw(st.none() | st.integers(0, last))
    last_index = draw(st.none() | st.integers(first_index or 0, last))
    return OutcomeFilter(
        states=states,
        program_models=models,
        program_ids=program_ids,
        conditions=conditions,
        month_from=None if first_index is None else sample.months[first_index],
        month_to=None if last_index is None else sample.months[last_index],
        setting=draw(st.sampled_from(("all", "behavioral", "medical"))),
    )


@st.composite
def partner_filters(draw: st.DrawFn, sample: Sample, viewer: Viewer) -> OutcomeFilter:
    """A filter a state partner may ask for (access.partner_choice_problem): everything or
    one value per filter, whole calendar years."""
    granted = sorted(sample.granted(viewer))
    states = draw(st.none() | st.sampled_from(granted).map(lambda s: (s,)))
    one_model = st.sampled_from(PROGRAM_MODELS).map(lambda m: (m,))
    models = draw(
        st.sampled_from((PROGRAM_GROUPS, PROGRAM_MODELS, (NOT_ENROLLED,)))
        | one_model
        | one_model.map(lambda m: (*m, NOT_ENROLLED))
    )
    ids = sorted(sample.program_ids(tuple(states or granted)))
    program_ids = draw(st.none() | st.sampled_from(ids).map(lambda p: (p,)))
    conditions = draw(st.none() | st.sampled_from(PRIMARY_CONDITIONS).map(lambda c: (c,)))
    years = sorted({m[:4] for m in sample.months})
    first = draw(st.none() | st.sampled_from(years))
    last = draw(st.none() | st.sampled_from([y for y in years if first is None or y >= first]))
    return OutcomeFilter(
        states=states,
        program_models=models,
        program_ids=program_ids,
        conditions=conditions,
        month_from=None if first is None else f"{first}-01",
        month_to=None if last is None else f"{last}-12",
        setting=draw(st.sampled_from(("all", "behavioral", "medical"))),
    )


def _text(values: pd.Series) -> set[str]:
    return {
        str(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))
    }


def assert_in_scope(frame: pd.DataFrame, viewer: Viewer, sample: Sample) -> None:
    """Rows only of granted states, programs only of granted states."""
    granted = sample.granted(viewer)
    if "state_code" in frame.columns:
        assert _text(frame["state_code"]) <= granted, frame["state_code"].unique()
    if "program_id" in frame.columns:
        assert _text(frame["program_id"]) <= sample.program_ids(tuple(granted))


def assert_csv_in_scope(text: str, viewer: Viewer, sample: Sample) -> None:
    granted = sample.granted(viewer)
    ids = sample.program_ids(tuple(granted))
    names = set(sample.programs.loc[sample.programs["program_id"].isin(ids), "program_name"])
    for row in csv.DictReader(io.StringIO(text)):
        assert row.get("state_code", "") in granted | {""}, row
        assert row.get("program_id", "") in ids | {""}, row
        assert row.get("program_name", "") in names | {""}, row
    for other in sample.program_ids(None) - ids:
        assert other not in text


def assert_no_small_count(frame: pd.DataFrame, columns: tuple[str, ...], threshold: int) -> None:
    for column in columns:
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            small = frame[(values >= 1) & (values < threshold)]
            assert small.empty, f"{column} from 1 to {threshold - 1} shown:\n{small}"


def assert_no_findings(frame: pd.DataFrame, spec: Spec, threshold: int, margins=()) -> None:
    findings = disclosure_findings(frame, spec, threshold=threshold, margins=margins)
    assert not findings, "\n".join(str(f) for f in findings[:20])


def assert_equal_where_shown(suppressed: pd.DataFrame, truth: pd.DataFrame) -> None:
    """The suppressed frame is the truth with its hidden cells emptied, and nothing else."""
    assert list(truth.columns) == [c for c in suppressed.columns if c != SUPPRESSED_COLUMN]
    assert len(truth) == len(suppressed)
    hidden = hidden_mask(suppressed)[truth.columns]
    assert suppressed[truth.columns].where(~hidden).isna().equals(suppressed[truth.columns].isna())
    expected = truth.mask(hidden)
    for column in truth.columns:
        got, want = suppressed[column], expected[column]
        if pd.api.types.is_numeric_dtype(want) and not pd.api.types.is_bool_dtype(want):
            np.testing.assert_allclose(
                got.astype("float64"), want.astype("float64"), rtol=1e-12, equal_nan=True
            )
        else:
            assert list(got.astype(object).where(got.notna(), None)) == list(
                want.astype(object).where(want.notna(), None)
            ), column


def assert_margins_add_up(truth: pd.DataFrame, margins: list[Margin]) -> None:
    """The checker's model of a with_total frame holds in the unsuppressed figures."""
    for margin in margins:
        for column in (*COUNT_COLUMNS, "paid", "behavioral_paid", "medical_paid"):
            parts = truth.loc[list(margin.parts), column].sum()
            assert truth.loc[margin.total, column] == pytest.approx(parts, abs=1e-6), column


def refused_nationally(
    viewer: Viewer, filters: OutcomeFilter, by: tuple[str, ...], sample: Sample
) -> bool:
    outside = [s for s in sample.states if not viewer.sees_state(s)]
    narrowed = (
        filters.conditions is not None
        or filters.program_ids is not None
        or filters.setting != "all"
    )
    return viewer.is_partner and (bool(by) or len(outside) < 2 or narrowed)


def check_outcome_summary(sample, viewer, filters, period, by, scope, with_total, small_cells):
    t = sample.threshold
    call = dict(filters=filters, period=period, by=by, scope=scope, with_total=with_total)
    if scope == "national" and refused_nationally(viewer, filters, by, sample):
        with pytest.raises(DisclosureRefused):
            queries.outcome_summary(
                viewer=viewer, small_cells=small_cells, engine=sample.engine, **call
            )
        return
    frame = queries.outcome_summary(
        viewer=viewer, small_cells=small_cells, engine=sample.engine, **call
    )
    keys = ([period] if period else []) + list(by)
    assert list(frame.columns) == [*keys, *MEASURE_COLUMNS, PROVISIONAL, SUPPRESSED_COLUMN]
    if viewer.is_partner and scope == "national":
        assert "state_code" not in frame.columns and "program_id" not in frame.columns
    assert_in_scope(frame, viewer, sample)
    assert_no_small_count(frame, COUNT_COLUMNS, t)
    margins = total_margins(frame, period=period, by=by) if with_total else []
    assert_no_findings(frame, MONTHLY_SPEC, t, margins)
    # The truth: leadership's unsuppressed figures over the filters this viewer was given.
    given = national_filter(filters) if scope == "national" else scope_filter(filters, viewer)[0]
    truth = queries.outcome_summary(
        viewer=LEADERSHIP, small_cells="show", engine=sample.engine, **{**call, "filters": given}
    )
    assert (truth[SUPPRESSED_COLUMN] == "").all()
    assert_equal_where_shown(frame, truth.drop(columns=SUPPRESSED_COLUMN))
    assert_margins_add_up(truth, margins)
    if viewer.is_partner and scope == "national":
        own = queries.outcome_summary(
            viewer=viewer,
            small_cells=small_cells,
            engine=sample.engine,
            **{**call, "scope": "filters"},
        )
        assert_rest_of_nation_not_small(frame, own, keys, t)
    if period == "month":
        # a month row over fewer than T member-months, with any figure, is hidden whole
        measures = truth[[*COUNT_COLUMNS, "paid"]]
        few = (truth["member_months"] < t) & (measures != 0).any(axis=1)
        hidden = hidden_mask(frame)
        assert hidden.loc[few, list(MEASURE_COLUMNS)].all(axis=None)


def assert_rest_of_nation_not_small(
    national: pd.DataFrame, own: pd.DataFrame, keys: list[str], threshold: int
) -> None:
    """National minus the partner's own line (a missing own row is 0) is the rest of the
    nation: where both are shown it must not be a count from 1 to threshold - 1."""
    counts = list(COUNT_COLUMNS)
    if not keys:  # one row each: join on a constant
        national, own, keys = national.assign(one=1), own.assign(one=1), ["one"]
    both = national[[*keys, *counts]].merge(
        own[[*keys, *counts]], on=keys, how="left", suffixes=("", "_own"), indicator=True
    )
    for column in counts:
        mine = both[f"{column}_own"].where(both["_merge"] == "both", 0.0)
        rest = both[column] - mine
        small = both[(rest >= 1) & (rest < threshold)]
        assert small.empty, f"national - own {column} from 1 to {threshold - 1}:\n{small}"


def check_prepost_and_exports(sample, viewer, filters, small_cells):
    t = sample.threshold
    prepost = queries.prepost_by_program(
        viewer=viewer, filters=filters, small_cells=small_cells, engine=sample.engine
    )
    assert list(prepost.columns) == [*PREPOST_COLUMNS, SUPPRESSED_COLUMN]
    assert_in_scope(prepost, viewer, sample)
    assert_no_small_count(prepost, PREPOST_COUNTS, t)
    assert_no_findings(prepost, PREPOST_SPEC, t)
    truth = queries.prepost_by_program(
        viewer=LEADERSHIP,
        filters=scope_filter(filters, viewer)[0],
        small_cells="show",
        engine=sample.engine,
    )
    assert_equal_where_shown(prepost, truth.drop(columns=SUPPRESSED_COLUMN))
    few = (truth["enrollments"] > 0) & (truth["enrollments"] < t)
    measures = [c for c in PREPOST_COLUMNS if c.startswith(("pre_", "post_", "change_", "pct_"))]
    assert hidden_mask(prepost).loc[few, ["enrollments", *measures]].all(axis=None)

    members = queries.enrolled_members(
        viewer=viewer, filters=filters, small_cells=small_cells, engine=sample.engine
    )
    assert members is None or members == 0 or members >= t
    if members is None:
        unsuppressed = queries.enrolled_members(
            viewer=LEADERSHIP,
            filters=scope_filter(filters, viewer)[0],
            small_cells="show",
            engine=sample.engine,
        )
        # or, for a partner, a wider view they may ask for differs from it by a small count
        assert 1 <= unsuppressed < t or (viewer.is_partner and unsuppressed >= t)

    for dataset, spec, counts in (
        ("monthly", MONTHLY_SPEC, COUNT_COLUMNS),
        ("prepost", PREPOST_SPEC, PREPOST_COUNTS),
    ):
        frame = exports.export_frame(
            dataset=dataset,
            filters=filters,
            viewer=viewer,
            small_cells=small_cells,
            engine=sample.engine,
        )
        assert frame.columns[-1] == SUPPRESSED_COLUMN
        assert_in_scope(frame, viewer, sample)
        assert_no_small_count(frame, counts, t)
        assert_no_findings(frame, spec, t)
        text = exports.to_csv_text(frame)
        assert text.count("\n") == len(frame) + 1
        assert_csv_in_scope(text, viewer, sample)


def check_lists(sample, viewer):
    states = queries.list_states(viewer=viewer, engine=sample.engine)
    assert list(states["state_code"]) == sorted(sample.granted(viewer))
    programs = queries.list_programs(viewer=viewer, engine=sample.engine)
    assert set(programs["state_code"]) <= sample.granted(viewer)
    assert set(programs["program_id"]) == sample.program_ids(tuple(sample.granted(viewer)))


@pytest.mark.slow  # many examples, each a dozen queries
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_output_leaks_another_state_or_a_small_count(sample: Sample, data) -> None:
    viewer = data.draw(st.sampled_from(VIEWERS), label="viewer")
    filters = data.draw(
        partner_filters(sample, viewer) if viewer.is_partner else outcome_filters(sample),
        label="filters",
    )
    period = data.draw(st.sampled_from(("month", "quarter", "year", None)), label="period")
    # A partner sees rows by program one program at a time (the filter), never side by side.
    dimensions = [d for d in DIMENSIONS if not (viewer.is_partner and d == "program_id")]
    by = tuple(data.draw(st.lists(st.sampled_from(dimensions), max_size=3, unique=True), "by"))
    scope = data.draw(st.sampled_from(("filters", "national")), label="scope")
    with_total = data.draw(st.booleans(), label="with_total")
    # "show" is honoured for leadership only; a partner asking for it still gets suppressed
    small_cells = (
        "suppress"
        if not viewer.is_partner
        else data.draw(st.sampled_from(("suppress", "show")), label="small_cells")
    )
    check_outcome_summary(sample, viewer, filters, period, by, scope, with_total, small_cells)
    check_prepost_and_exports(sample, viewer, filters, small_cells)
    check_lists(sample, viewer)


@pytest.mark.slow  # many examples, each a dozen queries
@settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_leadership_show_gets_exactly_the_unsuppressed_figures(sample: Sample, data) -> None:
    filters = data.draw(outcome_filters(sample), label="filters")
    period = data.draw(st.sampled_from(("month", "quarter", "year", None)), label="period")
    by = tuple(data.draw(st.lists(st.sampled_from(DIMENSIONS), max_size=3, unique=True), "by"))
    with_total = data.draw(st.booleans(), label="with_total")
    call = dict(filters=filters, period=period, by=by, with_total=with_total, engine=sample.engine)
    shown = queries.outcome_summary(viewer=LEADERSHIP, small_cells="show", **call)
    suppressed = queries.outcome_summary(viewer=LEADERSHIP, small_cells="suppress", **call)
    assert (shown[SUPPRESSED_COLUMN] == "").all()
    assert_equal_where_shown(suppressed, shown.drop(columns=SUPPRESSED_COLUMN))
    export_call = dict(dataset="prepost", filters=filters, viewer=LEADERSHIP, engine=sample.engine)
    unsuppressed = exports.export_frame(small_cells="show", **export_call)
    assert list(unsuppressed.columns) == list(PREPOST_COLUMNS)
    assert_equal_where_shown(exports.export_frame(**export_call), unsuppressed)


# ---------------------------------------------------------------------------------------
# Deterministic cases on the sample


def test_show_is_honoured_for_leadership_only(sample: Sample) -> None:
    filters = OutcomeFilter(states=("TX",), month_from="2019-01", month_to="2019-12")
    call = dict(filters=filters, period="month", by=("program_model",), engine=sample.engine)
    partner = queries.outcome_summary(viewer=TX, small_cells="show", **call)
    assert partner.equals(queries.outcome_summary(viewer=TX, small_cells="suppress", **call))
    assert (partner[SUPPRESSED_COLUMN] != "").any()
    leadership = queries.outcome_summary(viewer=LEADERSHIP, small_cells="show", **call)
    small = leadership["admissions"].between(1, sample.threshold - 1)
    assert small.any()
    assert partner.loc[small, "admissions"].isna().all()


@pytest.mark.parametrize(
    ("viewer", "by"),
    [
        (TX, ("state_code",)),
        (TX, ("program_model",)),
        (TX, ("program_model", "population")),
        (TX_NY, ("state_code", "population")),
        (TX, ("population",)),
    ],
)
def test_a_partner_gets_the_national_line_pooled_only(sample: Sample, viewer, by) -> None:
    with pytest.raises(DisclosureRefused, match="pooled"):
        queries.outcome_summary(
            viewer=viewer, filters=OutcomeFilter(), by=by, scope="national", engine=sample.engine
        )


def test_no_national_line_when_it_would_reveal_the_states_outside_the_grant(sample: Sample):
    for left_out in ((), ("AK",)):
        viewer = Viewer(
            email="most@example.org",
            role="state_partner",
            states=tuple(s for s in sample.states if s not in left_out),
        )
        with pytest.raises(DisclosureRefused, match="outside your grant"):
            queries.outcome_summary(
                viewer=viewer, filters=OutcomeFilter(), scope="national", engine=sample.engine
            )
    two_out = Viewer(
        email="most@example.org",
        role="state_partner",
        states=tuple(s for s in sample.states if s not in ("AK", "AZ")),
    )
    frame = queries.outcome_summary(
        viewer=two_out, filters=OutcomeFilter(), scope="national", engine=sample.engine
    )
    assert list(frame.columns[:2]) == ["month", "member_months"]


def test_a_partner_asking_for_other_states_gets_nothing_of_them(sample: Sample) -> None:
    others = tuple(s for s in sample.states if s != "TX")
    ny_programs = tuple(sorted(sample.program_ids(("NY",))))[:1]  # a partner asks for one
    filters = OutcomeFilter(states=others, program_ids=ny_programs)
    frame = queries.outcome_summary(
        viewer=TX, filters=filters, by=("state_code", "program_model"), engine=sample.engine
    )
    assert frame.empty and list(frame.columns)[-1] == SUPPRESSED_COLUMN
    prepost = queries.prepost_by_program(viewer=TX, filters=filters, engine=sample.engine)
    assert prepost.empty
    assert queries.enrolled_members(viewer=TX, filters=filters, engine=sample.engine) == 0
    # programs of another state leave only the partner's not_enrolled rows
    mine = queries.outcome_summary(
        viewer=TX,
        filters=OutcomeFilter(program_ids=ny_programs),
        period=None,
        by=("state_code", "program_model"),
        engine=sample.engine,
    )
    assert list(zip(mine["state_code"], mine["program_model"], strict=True)) == [
        ("TX", "not_enrolled")
    ]


@pytest.mark.parametrize("threshold", [5, 20])
def test_the_threshold_setting_is_honoured(sample: Sample, monkeypatch, threshold) -> None:
    call = dict(
        viewer=TX,
        filters=OutcomeFilter(states=("TX",), month_from="2018-01", month_to="2019-12"),
        period="month",
        by=("program_model",),
        with_total=True,
        engine=sample.engine,
    )
    default = queries.outcome_summary(**call)
    monkeypatch.setenv("SMALL_CELL_THRESHOLD", str(threshold))
    get_settings.cache_clear()
    frame = queries.outcome_summary(**call)
    truth = queries.outcome_summary(**{**call, "viewer": LEADERSHIP, "small_cells": "show"}).drop(
        columns=SUPPRESSED_COLUMN
    )
    assert_no_small_count(frame, COUNT_COLUMNS, threshold)
    assert_no_findings(
        frame,
        MONTHLY_SPEC,
        threshold,
        total_margins(frame, period="month", by=("program_model",)),
    )
    assert_equal_where_shown(frame, truth)
    counts = list(COUNT_COLUMNS)
    hidden, hidden_by_default = hidden_mask(frame)[counts], hidden_mask(default)[counts]
    low, high = sorted((threshold, sample.threshold))
    between = truth[counts].ge(low) & truth[counts].lt(high)
    assert between.any(axis=None)
    if threshold < sample.threshold:
        # counts from the new threshold to 10 were hidden and may now be shown
        assert (~between | hidden_by_default).all(axis=None)
        assert (between & ~hidden).any(axis=None)
    else:
        # counts from 11 to 19 were shown and are now hidden
        assert (~between | hidden).all(axis=None)
        assert (between & ~hidden_by_default).any(axis=None)


def test_a_partner_cannot_difference_the_national_line_into_a_small_count(sample: Sample):
    """National minus the partner's own line is the other states pooled; it must not be a
    count from 1 to T-1 (the national figure is suppressed by what it would give away)."""
    narrowed = OutcomeFilter(program_models=("whole_health",), conditions=("mental_health",))
    with pytest.raises(DisclosureRefused, match="every program, condition and setting"):
        queries.outcome_summary(viewer=TX, filters=narrowed, scope="national", engine=sample.engine)
    filters = OutcomeFilter(program_models=(NOT_ENROLLED,))
    call = dict(viewer=TX, filters=filters, period="month", engine=sample.engine)
    national = queries.outcome_summary(scope="national", **call).set_index("month")
    own = queries.outcome_summary(**call).set_index("month")
    both = national.merge(own, left_index=True, right_index=True, suffixes=("", "_own"))
    leaks = []
    for column in COUNT_COLUMNS:
        rest = both[column] - both[f"{column}_own"]
        small = rest[(rest >= 1) & (rest < sample.threshold)]
        leaks.extend(
            f"{month} {column}: national {both.loc[month, column]:g} - TX "
            f"{both.loc[month, column + '_own']:g} = {value:g}"
            for month, value in small.items()
        )
    assert not leaks, "\n".join(leaks)


def test_the_monthly_export_lists_only_its_own_columns_as_suppressed(sample: Sample) -> None:
    """`suppressed` says why a cell of the row is empty: it names columns of the export."""
    frame = exports.export_frame(
        dataset="monthly",
        filters=OutcomeFilter(states=("TX",), month_from="2019-01", month_to="2019-12"),
        viewer=TX,
        engine=sample.engine,
    )
    listed = {name for names in frame[SUPPRESSED_COLUMN] if names for name in names.split(";")}
    assert listed, "the case needs suppressed cells"
    assert listed <= set(frame.columns), sorted(listed - set(frame.columns))


# ---------------------------------------------------------------------------------------
# The property's checks fail on a product with a hole in it


def test_the_checks_catch_a_product_without_complementary_suppression(
    sample: Sample, monkeypatch
) -> None:
    def no_complements(frame, rules, *, margins=(), **kwargs):
        return apply_suppression(frame, rules, margins=(), **kwargs)

    # TX's months of 2020 and 2021 by program model have cells hidden alone among their
    # month's parts (in 2018 and 2019, two or more small models are hidden whole every
    # month, so no part is ever alone there).
    filters = OutcomeFilter(month_from="2020-01", month_to="2021-12")
    args = (sample, LEADERSHIP, filters, "month", ("program_model",), "filters", True, "suppress")
    check_outcome_summary(*args)
    monkeypatch.setattr(queries, "apply_suppression", no_complements)
    with pytest.raises(AssertionError, match="additive at row"):
        check_outcome_summary(*args)


def test_the_checks_catch_a_product_without_state_scoping(sample: Sample, monkeypatch) -> None:
    filters = OutcomeFilter(month_from="2019-01", month_to="2019-12")
    args = (sample, TX_NY, filters, "quarter", ("state_code",), "filters", False, "suppress")
    check_outcome_summary(*args)
    monkeypatch.setattr(queries, "scope_filter", lambda filters, viewer: (filters, ()))
    with pytest.raises(AssertionError, match="AK"):
        check_outcome_summary(*args)
    with pytest.raises(AssertionError):
        check_prepost_and_exports(sample, TX_NY, filters, "suppress")


def test_two_national_breakdowns_do_not_give_away_the_rest_of_the_nation(sample: Sample):
    """The national line pooled and by population, minus the partner's own enrolled line,
    gave the rest of the nation's small counts (2016, embedded, substance use: 37 cells).
    A partner now gets the national line pooled only; what remains is checked for the
    rest of the nation: never one state, never a small count."""
    narrowed = OutcomeFilter(
        program_models=("embedded", "not_enrolled"),
        conditions=("substance_use",),
        month_from="2016-01",
        month_to="2016-12",
    )
    for by in ((), ("population",)):
        with pytest.raises(DisclosureRefused, match="every program, condition and setting"):
            queries.outcome_summary(
                viewer=TX, filters=narrowed, scope="national", by=by, engine=sample.engine
            )
    filters = OutcomeFilter(month_from="2016-01", month_to="2016-12")
    call = dict(viewer=TX, filters=filters, period="month", engine=sample.engine)
    with pytest.raises(DisclosureRefused, match="one pooled line"):
        queries.outcome_summary(scope="national", by=("population",), **call)
    pooled = queries.outcome_summary(scope="national", **call).set_index("month")
    own = queries.outcome_summary(**call).set_index("month")
    leaks = []
    for column in COUNT_COLUMNS:
        rest = pooled[column] - own[column].reindex(pooled.index).fillna(0.0)
        leaks.extend(
            f"{month} {column}: national - TX = {value:g}"
            for month, value in rest[(rest >= 1) & (rest < sample.threshold)].items()
        )
    assert not leaks, "\n".join(leaks)


def test_a_partner_sees_rows_by_program_one_program_at_a_time(sample: Sample) -> None:
    with pytest.raises(DisclosureRefused, match="one program at a time"):
        queries.outcome_summary(
            viewer=TX, filters=OutcomeFilter(), by=("program_id",), engine=sample.engine
        )
