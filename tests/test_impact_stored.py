"""Impact's stored bootstrap replicates (impact_replicates): the impact rows read with them are
the bits of drawing every replicate again, for every kind of filter and both engines, over
all months and over the dashboard's opening months (the default window); a program whose
filtered matched enrollments are no stored set is drawn again; the table is rebuilt and
rolled back with the load, and built by migrate for a database loaded before it (which is
read meanwhile, drawing every replicate)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    cast,
    func,
    literal,
    select,
)

from dashboard.filters import Options, default_range, months_between
from data_access import db, event_study, impact, impact_store, loader, queries
from data_access.access import LOCAL_VIEWER, Viewer
from data_access.filters import OutcomeFilter
from data_access.impact import (
    COMPARED_MEMBERS_OUTPUT,
    MONTH_SUMS_OUTPUT,
    _comparison_members,
    _unit_seed,
    bootstrap_sums,
    impact_by_unit,
)
from data_access.impact_store import MEMBERS_OUTPUT, STORED_SUMS, StoredRead
from data_access.models import (
    IMPACT_TABLES,
    Program,
    impact_enrollments,
    impact_frames,
    impact_months,
    impact_replicates,
)
from data_access.vocabulary import (
    BOOTSTRAP_REPLICATES,
    ENROLLED,
    EVERY_MONTH,
    IMPACT_MEASURES,
    NOT_ENROLLED,
    PROGRAM_GROUPS,
    PROGRAM_MODELS,
    Dimension,
    Period,
    Population,
)
from tests.conftest import SAMPLE_DATA
from tests.test_impact import build

# Cuts the programs still enrolling in 2025, keeps the cohorts that ended before whole.
MONTHS = OutcomeFilter(month_from="2016-01", month_to="2024-12")
# The sample's default window: the 36 months up to its last complete month (2025-09).
WINDOW_MONTHS = ("2022-10", "2025-09")
WINDOW = OutcomeFilter(month_from=WINDOW_MONTHS[0], month_to=WINDOW_MONTHS[1])
# (filter, which of the selected programs' replicates are drawn: none, some, all)
FILTERS = {
    "default": (OutcomeFilter(), "none"),
    "one state": (OutcomeFilter(states=("TX",)), "none"),
    "one model": (OutcomeFilter(program_models=("embedded",)), "none"),
    "one program": (OutcomeFilter(program_ids=("MI-WHOLE-HEALTH",)), "none"),
    "behavioral": (OutcomeFilter(setting="behavioral"), "none"),
    "medical": (OutcomeFilter(setting="medical", states=("NY", "WI")), "none"),
    "window": (WINDOW, "none"),
    "window, one state": (WINDOW.model_copy(update={"states": ("TX",)}), "none"),
    "window, one model": (WINDOW.model_copy(update={"program_models": ("embedded",)}), "none"),
    "window, behavioral": (WINDOW.model_copy(update={"setting": "behavioral"}), "none"),
    "window, medical": (WINDOW.model_copy(update={"setting": "medical"}), "none"),
    "month range": (MONTHS, "some"),
    "one condition": (OutcomeFilter(conditions=("substance_use",)), "some"),
    "window, one condition": (WINDOW.model_copy(update={"conditions": ("mental_health",)}), "all"),
}


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The seeds of the replicates impact_by_unit draws (the stored ones are read)."""
    seeds: list[int] = []

    def counted(*args: object, seed: int, **kwargs: object) -> np.ndarray:
        seeds.append(seed)
        return bootstrap_sums(*args, seed=seed, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(impact, "bootstrap_sums", counted)
    yield seeds


def _sets(filters: OutcomeFilter, engine: Engine) -> dict[str, frozenset[str]]:
    """Each program's matched enrollments within the filters' months and conditions."""
    columns = impact_enrollments.c
    rows = db.read_frame(
        select(
            columns.program_id,
            columns.enrollment_id,
            columns.enrolled_month,
            columns.primary_condition,
        ).where(columns.matches > 0),
        engine=engine,
    )
    months = rows["enrolled_month"].between(filters.month_from or "", filters.month_to or "9999")
    condition = rows["primary_condition"].isin(filters.conditions or rows["primary_condition"])
    kept = rows[months & condition]
    return {str(p): frozenset(group) for p, group in kept.groupby("program_id")["enrollment_id"]}


def _drawn_programs(filters: OutcomeFilter, engine: Engine) -> set[int]:
    """The seeds of the programs whose filtered matched enrollments are neither all of their
    matched enrollments nor those of the default window (the stored sets)."""
    every, window = _sets(OutcomeFilter(), engine), _sets(WINDOW, engine)
    kept = _sets(filters, engine)
    return {_unit_seed(p) for p, chosen in kept.items() if chosen not in (every[p], window.get(p))}


def test_the_stored_window_is_the_one_the_dashboard_opens_on(loaded_sample: str) -> None:
    engine = db.get_engine(loaded_sample)
    bounds = queries.month_bounds(viewer=LOCAL_VIEWER, engine=engine)
    assert bounds is not None
    options = Options(
        states={},
        programs=pd.DataFrame(),
        months=months_between(*bounds),
        last_complete=queries.last_complete_month(engine=engine),
    )
    assert default_range(options) == ("2022-10", "2025-09")
    columns = impact_replicates.c
    stored = db.read_frame(
        select(columns.enrollment_window, columns.month_from, columns.month_to)
        .distinct()
        .order_by(columns.enrollment_window),
        engine=engine,
    )
    assert stored.fillna("").to_numpy().tolist() == [
        ["all_months", "", ""],
        ["default_months", "2022-10", "2025-09"],
    ]


@pytest.mark.parametrize("name", list(FILTERS))
def test_stored_replicates_give_the_same_figures_as_drawing_them(
    loaded_sample: str, draws: list[int], name: str
) -> None:
    filters, drawn_ones = FILTERS[name]
    engine = db.get_engine(loaded_sample)
    drawn = impact_by_unit(
        viewer=LOCAL_VIEWER,
        filters=filters,
        small_cells="show",
        engine=engine,
        stored_replicates=False,
    )
    programs = set(drawn.loc[drawn["matched_enrollments"] > 0, "program_id"].dropna())
    assert len(programs) > 0
    assert sorted(draws) == sorted(_unit_seed(p) for p in programs)
    draws.clear()
    stored = impact_by_unit(viewer=LOCAL_VIEWER, filters=filters, small_cells="show", engine=engine)
    assert_frame_equal(stored, drawn, check_exact=True)
    assert stored["effect_ci_low"].notna().sum() == 7 * (len(programs) + 1) + 7 * len(
        set(drawn.loc[drawn["program_id"].isin(programs), "program_model"])
    )
    expected = _drawn_programs(filters, engine)
    assert sorted(draws) == sorted(expected)
    assert {"none": 0, "some": len(expected), "all": len(programs)}[drawn_ones] == len(expected)
    assert drawn_ones != "some" or 0 < len(expected) < len(programs)


def test_the_window_cuts_most_programs(loaded_sample: str) -> None:
    # So the window's filters above read the default_months sets, not the all-months ones.
    engine = db.get_engine(loaded_sample)
    every, window = _sets(OutcomeFilter(), engine), _sets(WINDOW, engine)
    cut = [p for p in window if window[p] != every[p]]
    assert (len(cut), len(window), len(every)) == (36, 36, 39)


def test_a_partner_reads_the_stored_replicates(loaded_sample: str, draws: list[int]) -> None:
    # A partner's evaluation is over every program, month and condition of the grant.
    partner = Viewer(email="p@example.org", role="state_partner", states=("NY", "TX"))
    engine = db.get_engine(loaded_sample)
    asked = OutcomeFilter(month_from="2019-01", month_to="2019-06", conditions=("mental_health",))
    drawn = impact_by_unit(viewer=partner, filters=asked, engine=engine, stored_replicates=False)
    assert len(draws) > 0
    draws.clear()
    stored = impact_by_unit(viewer=partner, filters=asked, engine=engine)
    assert draws == []
    assert_frame_equal(stored, drawn, check_exact=True)
    assert set(stored["state_code"].dropna()) == {"NY", "TX"}


def _replicates(engine: Engine) -> pd.DataFrame:
    return db.read_frame(
        select(impact_replicates).order_by(*impact_replicates.primary_key), engine=engine
    )


def test_the_hand_built_world_stores_its_one_matched_enrollment(engine: Engine) -> None:
    # P1's EA is its one matched enrollment (EX has no match, EH no post window); P2 has none.
    build(engine)
    # The default window keeps EA (2020-06): no set of its own.
    stored = _replicates(engine)
    keys = ["program_id", "setting", "enrollment_window", "matched_enrollments"]
    assert stored[keys].to_numpy().tolist() == [
        ["P1", "all", "all_months", 1],
        ["P1", "behavioral", "all_months", 1],
        ["P1", "medical", "all_months", 1],
    ]
    sums = np.frombuffer(stored["sums"].iloc[0], dtype="<f8")
    assert sums.shape == (BOOTSTRAP_REPLICATES * (len(IMPACT_MEASURES) + 1),)
    # One member drawn once in each replicate: each replicate is its own values.
    assert (sums.reshape(BOOTSTRAP_REPLICATES, -1)[:, -1] == 1.0).all()
    for setting in ("all", "behavioral", "medical"):
        filters = OutcomeFilter(setting=setting)
        stored_rows = impact_by_unit(
            viewer=LOCAL_VIEWER, filters=filters, small_cells="show", engine=engine
        )
        drawn = impact_by_unit(
            viewer=LOCAL_VIEWER,
            filters=filters,
            small_cells="show",
            engine=engine,
            stored_replicates=False,
        )
        assert_frame_equal(stored_rows, drawn, check_exact=True)


def _drawn_and_stored(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    filters = OutcomeFilter(month_from="2020-01", month_to="2020-12")
    return tuple(  # type: ignore[return-value]
        impact_by_unit(
            viewer=LOCAL_VIEWER,
            filters=filters,
            small_cells="show",
            engine=engine,
            stored_replicates=stored,
        )
        for stored in (False, True)
    )


def test_migrate_builds_the_replicates_of_a_database_loaded_before_them(
    engine: Engine, draws: list[int]
) -> None:
    build(engine)
    before = _replicates(engine)
    draws.clear()  # the load's
    with engine.begin() as conn:
        impact_replicates.drop(conn)
    # Still read: the replicates are drawn, the same figures.
    assert db.schema_problem(engine) is None
    drawn, read = _drawn_and_stored(engine)
    assert draws == [_unit_seed("P1")] * 2
    assert_frame_equal(read, drawn, check_exact=True)
    assert db.migrate(engine).startswith("Rebuilt the matched comparison's tables")
    assert_frame_equal(_replicates(engine), before)
    assert db.migrate(engine).startswith("The database is up to date")


def test_replicates_of_the_older_form_are_not_read_and_migrate_rebuilds_them(
    engine: Engine, draws: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database loaded before the default window's sets: keyed by program and setting,
    # no digest. Its rows are not read (they would be the bits anyway); migrate replaces them.
    build(engine)
    before = _replicates(engine)
    older = Table(
        "impact_replicates",
        MetaData(),
        Column("program_id", String(64), primary_key=True),
        Column("setting", String(16), primary_key=True),
        Column("matched_enrollments", Integer, nullable=False),
        Column("sums", LargeBinary, nullable=False),
    )
    with engine.begin() as conn:
        impact_replicates.drop(conn)
        older.create(conn)
        conn.execute(
            older.insert(),
            before[["program_id", "setting", "matched_enrollments", "sums"]].to_dict("records"),
        )
    draws.clear()  # the load's
    assert db.schema_problem(engine) is None
    drawn, read = _drawn_and_stored(engine)
    assert draws == [_unit_seed("P1")] * 2
    assert_frame_equal(read, drawn, check_exact=True)

    def no_full_rebuild(conn: object) -> None:
        raise AssertionError("only the replicates are stale")

    # The rest of the matched comparison is not rebuilt: only the replicates are drawn.
    monkeypatch.setattr(impact, "rebuild_impact", no_full_rebuild)
    assert db.migrate(engine).startswith("Rebuilt the matched comparison's tables")
    assert_frame_equal(_replicates(engine), before)
    assert db.schema_problem(engine) is None
    draws.clear()  # the load's and migrate's
    drawn, read = _drawn_and_stored(engine)
    assert draws == [_unit_seed("P1")]
    assert_frame_equal(read, drawn, check_exact=True)


def test_a_refused_load_leaves_no_replicates(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Fail after the rebuild, inside the load's transaction: nothing of it may stay.
    def refuse(conn: object) -> None:
        assert conn is not None
        rows = conn.execute(select(func.count()).select_from(impact_replicates)).scalar()  # type: ignore[attr-defined]
        assert rows > 0  # the rebuild wrote them in this transaction
        raise RuntimeError("refused after the rebuild")

    monkeypatch.setattr(loader, "data_through", refuse)
    with pytest.raises(RuntimeError, match="refused after the rebuild"):
        loader.load_directory(SAMPLE_DATA, engine=engine)
    for table in IMPACT_TABLES:
        count = db.read_frame(select(func.count().label("n")).select_from(table), engine=engine)
        assert int(count["n"].iloc[0]) == 0, table.name


# -- the stored default-filter outputs (impact_frames) ------------------------------------

OUTPUTS = {
    "impact": (impact_by_unit, impact, "impact_payload"),
    "event_study": (event_study.event_study, event_study, "event_study_payload"),
    "balance": (event_study.balance_by_unit, event_study, "balance_payload"),
}
LEADERSHIP = Viewer(email="l@example.org", role="leadership")
PER_STATE = (MONTH_SUMS_OUTPUT, COMPARED_MEMBERS_OUTPUT)


def _computed(
    monkeypatch: pytest.MonkeyPatch, output: str, viewer: Viewer, filters: OutcomeFilter, **kw: Any
) -> pd.DataFrame:
    """The output computed from the tables, the stored payloads not read."""
    function, _, _ = OUTPUTS[output]
    with monkeypatch.context() as patch:
        # Every output reads its stored payload through impact.stored_payload.
        patch.setattr(impact, "stored_payload", lambda *args: None)
        return function(viewer=viewer, filters=filters, **kw)  # type: ignore[no-any-return]


def _computes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The outputs computed (not read from impact_frames) from here on."""
    computed: list[str] = []

    def counting(output: str, fn: Any) -> Any:
        def counted(*args: Any, **kw: Any) -> Any:
            computed.append(output)
            return fn(*args, **kw)

        return counted

    for output, (_, module, name) in OUTPUTS.items():
        monkeypatch.setattr(module, name, counting(output, getattr(module, name)))
    return computed


def _frames(engine: Engine) -> pd.DataFrame:
    columns = impact_frames.c
    return db.read_frame(
        select(
            columns.output, columns.scope, columns.setting, columns.month_from, columns.month_to
        ).order_by(columns.output, columns.scope, columns.month_from),
        engine=engine,
    )


# (filters, program models) -> the evaluation's stored scope (None: computed)
EVALUATION_SCOPES = {
    "one state over every month": (OutcomeFilter(states=("TX",)), PROGRAM_MODELS, "TX|*"),
    "every state over every month": (OutcomeFilter(), PROGRAM_MODELS, None),
    "one model over every month": (OutcomeFilter(), ("embedded",), None),
    "one state's model over every month": (OutcomeFilter(states=("TX",)), ("embedded",), None),
    "one state from a month on": (
        OutcomeFilter(states=("TX",), month_from="2020-01"),
        PROGRAM_MODELS,
        None,
    ),
    "one state's model over the window": (
        WINDOW.model_copy(update={"states": ("TX",)}),
        ("embedded",),
        "TX|embedded",
    ),
}


@pytest.mark.parametrize("case", list(EVALUATION_SCOPES))
def test_only_each_states_evaluation_is_read_over_every_month(case: str) -> None:
    filters, models, scope = EVALUATION_SCOPES[case]
    assert impact.stored_scope(filters, models, every_month=True) == scope
    # Counts and sums are stored over windows only.
    over_window = filters.month_from is not None
    assert impact.stored_scope(filters, models) == (scope if over_window else None)


SCOPES = [(None, None), ("TX", None), (None, "embedded"), ("TX", "embedded")]
# (first, last and last complete month loaded) -> the partner's opening months, when stored
OPENING_WINDOWS = {
    "provisional months": (("2016-01", "2025-12", "2025-09"), ("2022-01", "2024-12")),
    "complete through a December": (("2016-01", "2025-12", "2024-12"), None),
    "less than a year, not through a date": (("2024-03", "2024-12", None), ("2024-01", "2024-12")),
}


@pytest.mark.parametrize("case", list(OPENING_WINDOWS))
def test_each_state_is_stored_over_a_partners_opening_years_when_they_differ(case: str) -> None:
    loaded, partner = OPENING_WINDOWS[case]
    window = queries.default_window(*loaded)
    assert impact_store.opening_windows(SCOPES, loaded) == [
        *((state, model, window) for state, model in SCOPES),
        *([("TX", None, partner)] if partner else []),
    ]


def test_the_common_filters_are_stored_over_the_opening_windows(loaded_sample: str) -> None:
    engine = db.get_engine(loaded_sample)
    programs = db.read_frame(select(Program.state_code, Program.program_model), engine=engine)
    pairs = set(programs["state_code"] + "|" + programs["program_model"])
    scopes = {
        "*|*",
        *(f"{state}|*" for state in programs["state_code"]),
        *(f"*|{model}" for model in programs["program_model"]),
        *pairs,
    }
    assert len(pairs) > len(set(programs["state_code"])) > 1
    # The members are counted, and the tiles' sums summed, over the months before the window
    # too (the tiles' change).
    before = {MEMBERS_OUTPUT, *(name for name, read in STORED_SUMS.items() if read.with_before)}
    windows = {
        output: [("2019-10", "2022-09")] * (output in before) + [("2022-10", "2025-09")]
        for output in [*OUTPUTS, MEMBERS_OUTPUT, *STORED_SUMS, *PER_STATE]
    }
    assert before == {MEMBERS_OUTPUT, "sums_population", "sums_model_month"}
    # Every name fits the table's column (SQLite would not say).
    assert max(map(len, windows)) <= impact_frames.c.output.type.length
    # What several whole states add up is stored per state, and so is a state's members not
    # enrolled, whatever the program models.
    states = sorted(f"{state}|*" for state in set(programs["state_code"]))
    per_state = {*PER_STATE, "sums_ne_quarter"}
    expected = [
        [output, scope, "all", *months]
        for output in sorted(windows)
        for scope in (states if output in per_state else sorted(scopes))
        for months in windows[output]
    ]
    # And each state's evaluation over every month: a state partner's, whatever the filters.
    expected += [[output, scope, "all", "*", "*"] for output in OUTPUTS for scope in states]
    # And each state's members and sums over a partner's opening years (and the years before).
    expected += [
        [output, scope, "all", *months]
        for output in [MEMBERS_OUTPUT, *STORED_SUMS]
        for scope in states
        for months in [("2019-01", "2021-12")] * (output in before) + [("2022-01", "2024-12")]
    ]
    assert sorted(_frames(engine).to_numpy().tolist()) == sorted(expected)


TX_PARTNER = Viewer(email="p@example.org", role="state_partner", states=("TX",))
NY_TX_PARTNER = Viewer(email="p@example.org", role="state_partner", states=("NY", "TX"))
# (viewer, filters) read from impact_frames, and computed
STORED = {
    "every model, not enrolled out": (LEADERSHIP, WINDOW),
    "every model, not enrolled in": (
        LEADERSHIP,
        WINDOW.model_copy(update={"program_models": PROGRAM_MODELS}),
    ),
    "one state": (LEADERSHIP, WINDOW.model_copy(update={"states": ("TX",)})),
    "one model": (LEADERSHIP, WINDOW.model_copy(update={"program_models": ("whole_health",)})),
    "one state's model": (
        LEADERSHIP,
        WINDOW.model_copy(update={"states": ("TX",), "program_models": ("embedded",)}),
    ),
}
# Stored for the evaluation only: each state over every month.
EVERY_MONTH_STORED = {
    # A partner's evaluation is over every month of the grant (access.impact_scope).
    "a partner": (TX_PARTNER, WINDOW),
    "one state over every month": (LEADERSHIP, OutcomeFilter(states=("TX",))),
}
COMPUTED = {
    "another setting": (LEADERSHIP, WINDOW.model_copy(update={"setting": "behavioral"})),
    "all months": (LEADERSHIP, OutcomeFilter()),
    "two states": (LEADERSHIP, WINDOW.model_copy(update={"states": ("TX", "NY")})),
    "two models": (
        LEADERSHIP,
        WINDOW.model_copy(update={"program_models": ("embedded", "whole_health")}),
    ),
    "one program": (LEADERSHIP, WINDOW.model_copy(update={"program_ids": ("MI-WHOLE-HEALTH",)})),
    "one condition": (LEADERSHIP, WINDOW.model_copy(update={"conditions": ("mental_health",)})),
    "one state from a month on": (LEADERSHIP, OutcomeFilter(states=("TX",), month_from="2020-01")),
    # Over every month, each state is stored alone: not what two states add up.
    "a partner of two states": (NY_TX_PARTNER, WINDOW),
}


@pytest.mark.parametrize("output", list(OUTPUTS))
@pytest.mark.parametrize("small_cells", ["show", "suppress"])
def test_stored_outputs_are_the_computed_frames(
    loaded_sample: str, monkeypatch: pytest.MonkeyPatch, output: str, small_cells: str
) -> None:
    engine = db.get_engine(loaded_sample)
    function = OUTPUTS[output][0]
    kw = {"small_cells": small_cells, "engine": engine}
    computed = _computes(monkeypatch)
    for cases, reads in (({**STORED, **EVERY_MONTH_STORED}, True), (COMPUTED, False)):
        for name, (viewer, filters) in cases.items():
            expected = _computed(monkeypatch, output, viewer, filters, **kw)
            computed.clear()
            got = function(viewer=viewer, filters=filters, **kw)
            assert computed == ([] if reads else [output]), name
            assert_frame_equal(got, expected, check_exact=True, obj=name)
            assert len(expected) > 0, name


def test_the_load_counts_each_scopes_comparison_members_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Impact and the event study of a scope report the same distinct comparison members:
    the load counts them once per scope and hands the count to both."""
    build(engine)
    counted: list[tuple[OutcomeFilter, tuple[str, ...]]] = []

    def counting(filters: OutcomeFilter, models: Any, conn: Any) -> dict[str, int]:
        counted.append((filters, tuple(models)))
        return _comparison_members(filters, models, conn)

    for module in (impact_store, impact, event_study):
        monkeypatch.setattr(module, "_comparison_members", counting)
    with engine.begin() as conn:
        impact_store.store_frames(conn)
        scopes = impact_store.stored_scopes(conn)
    # Each scope over the opening months, and each state over every month.
    states = [(state, model) for state, model in scopes if state is not None and model is None]
    assert len(counted) == len(set(counted)) == len(scopes) + len(states) > len(scopes)
    stored = _frames(engine)
    for output in OUTPUTS:
        assert sorted(stored.loc[stored["output"] == output, "scope"]) == sorted(
            impact.scope_name(state, model) for state, model in [*scopes, *states]
        ), output


# (states, program models, whether all programs' comparison members add up) over WINDOW
WHOLE_STATES = {
    "two states": (("TX", "NY"), PROGRAM_MODELS, True),
    "three states, one model": (("MI", "OH", "WI"), ("whole_health",), True),
    "every state, two models": (None, ("embedded", "hot_spotting"), False),
    "a state without programs of the model": (("TX", "AK"), ("care_advocacy",), True),
}


@pytest.mark.parametrize("case", list(WHOLE_STATES))
def test_whole_states_add_up_each_states_stored_sums(
    loaded_sample: str, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """The event study of several whole states is summed from each state's stored sums, and
    their comparison members from each state's counts (a member is matched only in its own
    state): the same frames, bit for bit, as the database's sums over their rows."""
    engine = db.get_engine(loaded_sample)
    states, models, members_add_up = WHOLE_STATES[case]
    if states is None:
        with engine.connect() as conn:
            states = tuple(sorted({s for s, _ in impact_store.stored_scopes(conn) if s}))
    filters = WINDOW.model_copy(update={"states": states, "program_models": models})
    assert event_study._composed_parts(filters, models, engine) is not None
    composed = impact.composed_comparison_members(filters, models, engine)
    assert (composed is not None) == members_add_up
    kw: dict[str, Any] = {"viewer": LEADERSHIP, "filters": filters, "engine": engine}
    got = {
        output: OUTPUTS[output][0](**kw, small_cells=cells)
        for output in ("impact", "event_study")
        for cells in ("show", "suppress")
    }
    with monkeypatch.context() as patch:
        patch.setattr(event_study, "_composed_parts", lambda *args: None)
        for module in (impact, event_study):
            patch.setattr(module, "composed_comparison_members", lambda *args: None)
        expected = {
            output: OUTPUTS[output][0](**kw, small_cells=cells)
            for output in ("impact", "event_study")
            for cells in ("show", "suppress")
        }
    for output, frame in expected.items():
        assert_frame_equal(got[output], frame, check_exact=True, obj=output)
    if composed is not None:
        assert composed == _comparison_members(filters, models, engine)


def test_each_states_sums_of_squares_are_exact(engine: Engine) -> None:
    """The stored squares of a state's cents are the exact integers on both engines (SQLite
    sums them in three 64-bit parts), even where one square outgrows a bigint and a float
    would round it."""
    build(engine)
    columns = impact_months.c
    month = cast(columns.relative_month, BigInteger)
    with engine.begin() as conn:
        # Months of a billion dollars: each square needs about 84 bits.
        conn.execute(
            impact_months.update().values(
                enrolled_paid_cents=month * 7919 + literal(2**40 + 1, BigInteger),
                comparison_paid_cents=month * 104729 + literal(3 * 2**40 + 3, BigInteger),
            )
        )
    state, matches = db.read_frame(
        select(impact_enrollments.c.state_code, impact_enrollments.c.matches).where(
            impact_enrollments.c.matches > 0
        ),
        engine=engine,
    ).iloc[0]
    with engine.connect() as conn:
        stored = event_study.state_month_sums(OutcomeFilter(states=(str(state),)), conn)
    rows = db.read_frame(
        select(columns.relative_month, columns.enrolled_paid_cents, columns.comparison_paid_cents),
        engine=engine,
    )
    assert len(rows) > 1
    names = event_study._BY_MATCHES_SUMS
    at = {
        name: names.index(f"total_paid_per_enrollment__{name}") + 3
        for name in ("enrolled_square_total", "comparison_square_total")
    }
    got = {
        row[1]: (row[at["enrolled_square_total"]], row[at["comparison_square_total"]])
        for row in stored["rows"]
    }
    assert got == {
        int(month): (int(enrolled) ** 2, int(compared) ** 2)
        for month, enrolled, compared in rows.itertuples(index=False)
    }
    assert int(matches) > 0 and min(min(pair) for pair in got.values()) > 2**79


BEFORE_WINDOW = OutcomeFilter(month_from="2019-10", month_to="2022-09")
# A state partner's opening years (queries.partner_years: 2022 to 2024, the last complete
# December being 2024's), and the years before them: stored for each state.
PARTNER_OPENING = {
    "a partner's opening years": (
        TX_PARTNER,
        OutcomeFilter(month_from="2022-01", month_to="2024-12"),
        PROGRAM_MODELS,
    ),
    "a partner's years before": (
        TX_PARTNER,
        OutcomeFilter(month_from="2019-01", month_to="2021-12"),
        PROGRAM_MODELS,
    ),
}
# The members' count is the same in every setting.
MEMBERS_STORED = {
    **STORED,
    **{
        f"{name}, the months before": (
            viewer,
            filters.model_copy(update=BEFORE_WINDOW.model_dump(include={"month_from", "month_to"})),
        )
        for name, (viewer, filters) in STORED.items()
    },
    "another setting": COMPUTED["another setting"],
    **{name: (viewer, filters) for name, (viewer, filters, _) in PARTNER_OPENING.items()},
}
MEMBERS_COUNTED = {
    **{k: v for k, v in COMPUTED.items() if k not in MEMBERS_STORED},
    "one program": (LEADERSHIP, WINDOW.model_copy(update={"program_ids": ("OH-WHOLE-HEALTH",)})),
    "other months": (LEADERSHIP, WINDOW.model_copy(update={"month_to": "2025-08"})),
    # A partner's tiles cover whole years (their one state's count is counted).
    "a partner": (TX_PARTNER, OutcomeFilter(month_from="2023-01", month_to="2024-12")),
    "a partner of two states": (
        NY_TX_PARTNER,
        OutcomeFilter(month_from="2023-01", month_to="2024-12"),
    ),
}


@pytest.mark.parametrize("small_cells", ["show", "suppress"])
def test_stored_member_counts_are_the_counted_ones(
    loaded_sample: str, monkeypatch: pytest.MonkeyPatch, small_cells: str
) -> None:
    engine = db.get_engine(loaded_sample)
    counted: list[OutcomeFilter] = []
    count = queries.count_members

    def counting(filters: OutcomeFilter, engine: Engine) -> int:
        counted.append(filters)
        return count(filters, engine)

    for cases, reads in ((MEMBERS_STORED, True), (MEMBERS_COUNTED, False)):
        for name, (viewer, filters) in cases.items():
            kw: dict[str, Any] = {"viewer": viewer, "filters": filters, "engine": engine}
            with monkeypatch.context() as patch:
                patch.setattr(impact_store, "stored_members", lambda *args: None)
                expected = queries.enrolled_members(**kw, small_cells=small_cells)
                shown = queries.enrolled_members(**kw, small_cells="show")
            monkeypatch.setattr(queries, "count_members", counting)
            counted.clear()
            assert queries.enrolled_members(**kw, small_cells=small_cells) == expected, name
            assert (counted == []) == reads, name
            monkeypatch.setattr(queries, "count_members", count)
            assert shown is not None and shown > 0, name


WITH_NOT_ENROLLED = {
    name: (viewer, filters.model_copy(update={"program_models": (*models, NOT_ENROLLED)}))
    for name, (viewer, filters, models) in {
        "every model": (LEADERSHIP, WINDOW, PROGRAM_MODELS),
        "one state": (LEADERSHIP, WINDOW.model_copy(update={"states": ("TX",)}), PROGRAM_MODELS),
        "one model": (LEADERSHIP, WINDOW, ("whole_health",)),
        "one state's model": (
            LEADERSHIP,
            WINDOW.model_copy(update={"states": ("TX",)}),
            ("embedded",),
        ),
        "another setting": (
            LEADERSHIP,
            WINDOW.model_copy(update={"setting": "behavioral"}),
            PROGRAM_MODELS,
        ),
        "all months": (LEADERSHIP, OutcomeFilter(), PROGRAM_MODELS),
        "other months": (
            LEADERSHIP,
            WINDOW.model_copy(update={"month_to": "2025-08"}),
            PROGRAM_MODELS,
        ),
        "two states": (
            LEADERSHIP,
            WINDOW.model_copy(update={"states": ("TX", "NY")}),
            PROGRAM_MODELS,
        ),
        "three states' two models": (
            LEADERSHIP,
            WINDOW.model_copy(update={"states": ("AK", "OH", "TX")}),
            ("embedded", "whole_health"),
        ),
        "two states in another setting": (
            LEADERSHIP,
            WINDOW.model_copy(update={"states": ("TX", "NY"), "setting": "medical"}),
            PROGRAM_MODELS,
        ),
        "two models": (LEADERSHIP, WINDOW, ("embedded", "whole_health")),
        "one program": (
            LEADERSHIP,
            WINDOW.model_copy(update={"program_ids": ("OH-WHOLE-HEALTH",)}),
            PROGRAM_MODELS,
        ),
        "one condition": (
            LEADERSHIP,
            WINDOW.model_copy(update={"conditions": ("mental_health",)}),
            PROGRAM_MODELS,
        ),
        "a partner's years": (
            TX_PARTNER,
            OutcomeFilter(month_from="2023-01", month_to="2024-12"),
            PROGRAM_MODELS,
        ),
        **PARTNER_OPENING,
    }.items()
}
STORED_SCOPES = ["every model", "one state", "one model", "one state's model"]
# Added up from each state's stored sums by month and program model, over either window.
COMPOSED = ["two states", "three states' two models"]
# A case's name says the population its filters hold (both when it says none).
POPULATIONS: dict[Population | None, str] = {
    None: "",
    ENROLLED: ", enrolled only",
    NOT_ENROLLED: ", not enrolled only",
}


def _stored(name: str, read: StoredRead) -> bool:
    """Whether a case's read is stored: the members not enrolled of one state's scope only
    (the program models play no part in them); every read of whole states added up; a
    partner's state over their opening years, and the tiles' over the years before."""
    if name in COMPOSED or name == "a partner's opening years":
        return True
    if name == "a partner's years before":
        return read.with_before
    if read.population == NOT_ENROLLED:
        return name in ("one state", "one state's model")
    return name in STORED_SCOPES


# (filters, period, by, read from impact_frames)
SUMS = [
    *[
        (f"{name}{POPULATIONS[read.population]}", read.period, read.by, _stored(name, read))
        for name in WITH_NOT_ENROLLED
        for read in STORED_SUMS.values()
    ],
    *[
        (
            f"{name}{POPULATIONS[read.population]}, the months before",
            read.period,
            read.by,
            _stored(name, read) and (read.with_before or name in COMPOSED),
        )
        for name in [*STORED_SCOPES, *COMPOSED]
        for read in STORED_SUMS.values()
    ],
    ("one state, not enrolled out", None, ("population",), False),
    ("one state, enrolled only", "month", (), False),
    ("one state, enrolled only", "quarter", ("population",), False),
    ("two states, not enrolled only", "quarter", (), True),
    ("every model", "month", (), False),
    ("every model", None, ("state_code",), False),
    ("every model", "year", ("population",), False),
    # Whole states by any period and by state, population or program model, in any order.
    ("two states", "year", ("program_model", "state_code"), True),
    ("two states, the months before", "quarter", ("state_code", "population"), True),
    ("three states' two models, enrolled only", "month", ("state_code",), True),
    ("three states' two models", None, ("population", "program_model"), True),
    # Not by program, nor in a setting not stored.
    ("two states", None, ("program_id",), False),
    ("two states in another setting", None, ("population",), False),
]


def _sums_case(name: str) -> tuple[Viewer, OutcomeFilter]:
    if name == "one state, not enrolled out":
        viewer, filters = WITH_NOT_ENROLLED["one state"]
        return viewer, filters.model_copy(update={"program_models": PROGRAM_MODELS})
    base, before, _ = name.partition(", the months before")
    population = next(p for p, suffix in reversed(POPULATIONS.items()) if base.endswith(suffix))
    base = base.removesuffix(POPULATIONS[population])
    viewer, filters = WITH_NOT_ENROLLED[base]
    if before:
        update = BEFORE_WINDOW.model_dump(include={"month_from", "month_to"})
        filters = filters.model_copy(update=update)
    models = [m for m in filters.program_models if m != NOT_ENROLLED]
    groups = {None: filters.program_models, ENROLLED: models, NOT_ENROLLED: (NOT_ENROLLED,)}
    return viewer, filters.model_copy(update={"program_models": tuple(groups[population])})


@pytest.mark.parametrize("small_cells", ["show", "suppress"])
def test_stored_sums_are_the_summed_ones(
    loaded_sample: str, monkeypatch: pytest.MonkeyPatch, small_cells: str
) -> None:
    engine = db.get_engine(loaded_sample)
    summed: list[tuple[object, ...]] = []
    sum_months = queries.summed_months

    def summing(
        filters: OutcomeFilter, period: Period | None, by: tuple[Dimension, ...], engine: Engine
    ) -> pd.DataFrame:
        summed.append((filters.month_from, filters.month_to, period, by))
        return sum_months(filters, period, by, engine)

    # Both populations, the enrolled members and those not enrolled of each stored scope, and
    # the tiles' months before.
    # Whole states added up: both populations and each alone, over either window. A partner's
    # state over their opening years: both populations and each alone, and the years before.
    assert len({name for name, *_, reads in SUMS if reads}) == 4 + 4 + 2 + 4 + 2 * 3 * 2 + 3 + 1
    for name, period, by, reads in SUMS:
        viewer, filters = _sums_case(name)
        kw: dict[str, Any] = {"viewer": viewer, "filters": filters, "period": period, "by": by}
        case = f"{name}, {period} by {by}"
        with monkeypatch.context() as patch:
            patch.setattr(impact_store, "stored_sums", lambda *args: None)
            expected = queries.outcome_summary(**kw, small_cells=small_cells, engine=engine)
        monkeypatch.setattr(queries, "summed_months", summing)
        summed.clear()
        got = queries.outcome_summary(**kw, small_cells=small_cells, engine=engine)
        monkeypatch.setattr(queries, "summed_months", sum_months)
        assert_frame_equal(got, expected, check_exact=True, obj=case)
        assert len(expected) > 0, case
        assert ((filters.month_from, filters.month_to, period, by) not in summed) == reads, case


# (states, program models, months, period, by) of whole states added up.
COMPOSED_SUMS = [
    (states, models, months, period, by)
    for states in [("NY", "TX"), ("AK", "OH", "TX")]
    for models in [PROGRAM_GROUPS, PROGRAM_MODELS, (NOT_ENROLLED,), ("embedded", "whole_health")]
    # The opening months and a partner's opening years, each with the months before.
    for months in [
        WINDOW_MONTHS,
        ("2019-10", "2022-09"),
        ("2022-01", "2024-12"),
        ("2019-01", "2021-12"),
    ]
    for period, by in [
        (None, ()),
        (None, ("population",)),
        (None, ("state_code", "population")),
        ("month", ("program_model",)),
        ("quarter", ()),
        ("quarter", ("population", "state_code")),
        ("year", ("program_model",)),
    ]
]


def test_whole_states_sums_added_up_are_the_summed_rows(loaded_sample: str) -> None:
    """Every column, the busiest month's member-months and the last month included (which
    only suppression reads), is the statement's, row for row in the keys' order."""
    engine = db.get_engine(loaded_sample)
    for states, models, (first, last), period, by in COMPOSED_SUMS:
        filters = OutcomeFilter(
            states=states, program_models=models, month_from=first, month_to=last
        )
        case = f"{states} {models} {first}..{last}, {period} by {by}"
        composed = impact_store.composed_sums(filters, period, by, engine)
        assert composed is not None, case
        summed = queries.summed_months(filters, period, by, engine)
        keys = [*([period] if period else []), *by]
        expected = queries.shaped_sums(summed, period)
        if keys:
            expected = expected.sort_values(keys, kind="stable").reset_index(drop=True)
        assert len(expected) > 0, case
        assert_frame_equal(
            queries.shaped_sums(composed, period), expected, check_exact=True, obj=case
        )


def _assert_outputs(
    engine: Engine, filters: OutcomeFilter, expected: dict[str, pd.DataFrame]
) -> None:
    """Each output, as leadership's screen asks for it, is exactly `expected`'s frame."""
    for output, (function, _, _) in OUTPUTS.items():
        assert_frame_equal(
            function(viewer=LOCAL_VIEWER, filters=filters, engine=engine),
            expected[output],
            check_exact=True,
        )


def test_a_stale_stored_output_is_not_read(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    build(engine)
    frames = _frames(engine)
    # The opening months' evaluation (not each state's over every month).
    opening = (frames["output"] == "impact") & (frames["month_from"] != EVERY_MONTH)
    window = frames.loc[opening, ["month_from", "month_to"]].drop_duplicates()
    assert len(window) == 1
    filters = OutcomeFilter(month_from=window.iloc[0, 0], month_to=window.iloc[0, 1])
    expected = {
        output: _computed(monkeypatch, output, LOCAL_VIEWER, filters, engine=engine)
        for output in OUTPUTS
    }
    computed = _computes(monkeypatch)
    _assert_outputs(engine, filters, expected)
    assert computed == []
    # Stored by other code (another digest), with other figures: computed, not read.
    with engine.begin() as conn:
        conn.execute(impact_frames.update().values(code_digest="0" * 64, payload="{}"))
    _assert_outputs(engine, filters, expected)
    assert computed == list(OUTPUTS)
    # After a deploy, migrate stores this code's outputs again; they are read, not computed.
    assert db.migrate(engine).startswith(
        "Stored the outputs of the common filters (the matched comparison's, the enrolled"
        " members and the opening pages' sums) for this code"
    )
    digests = db.read_frame(select(impact_frames.c.code_digest), engine=engine)
    assert set(digests["code_digest"]) == {impact.CODE_DIGEST}
    computed.clear()  # migrate's own
    _assert_outputs(engine, filters, expected)
    assert computed == []
    assert db.migrate(engine).startswith("The database is up to date")
    # No table at all (a database loaded before it): computed, no error; migrate builds it.
    computed.clear()
    with engine.begin() as conn:
        impact_frames.drop(conn)
    assert db.schema_problem(engine) is None
    _assert_outputs(engine, filters, expected)
    assert computed == list(OUTPUTS)
    computed.clear()
    assert db.migrate(engine).startswith("Rebuilt the matched comparison's tables")
    computed.clear()  # migrate's own
    _assert_outputs(engine, filters, expected)
    assert computed == []
