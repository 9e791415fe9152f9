"""Impact's stored bootstrap replicates (impact_replicates): the impact rows read with them are
the bits of drawing every replicate again, for every kind of filter and both engines; a
program whose matched enrollments a filter cuts is drawn again; the table is rebuilt and
rolled back with the load, and built by migrate for a database loaded before it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import Engine, func, select

from data_access import db, impact, loader
from data_access.access import LOCAL_VIEWER, Viewer
from data_access.filters import OutcomeFilter
from data_access.impact import _unit_seed, bootstrap_sums, impact_by_unit
from data_access.models import IMPACT_TABLES, impact_enrollments, impact_replicates
from data_access.vocabulary import BOOTSTRAP_REPLICATES, IMPACT_MEASURES
from tests.conftest import SAMPLE_DATA
from tests.test_impact import build

# Cuts the programs still enrolling in 2025, keeps the cohorts that ended before whole.
MONTHS = OutcomeFilter(month_from="2016-01", month_to="2024-12")
# (filter, which of the selected programs' matched enrollments it cuts: none, some, all)
FILTERS = {
    "default": (OutcomeFilter(), "none"),
    "one state": (OutcomeFilter(states=("TX",)), "none"),
    "one model": (OutcomeFilter(program_models=("embedded",)), "none"),
    "one program": (OutcomeFilter(program_ids=("MI-WHOLE-HEALTH",)), "none"),
    "behavioral": (OutcomeFilter(setting="behavioral"), "none"),
    "medical": (OutcomeFilter(setting="medical", states=("NY", "WI")), "none"),
    "month range": (MONTHS, "some"),
    "one condition": (OutcomeFilter(conditions=("substance_use",)), "all"),
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


def _cut_programs(filters: OutcomeFilter, engine: Engine) -> set[int]:
    """The seeds of the programs of which the filters' months and conditions keep some
    matched enrollments, not all."""
    columns = impact_enrollments.c
    rows = db.read_frame(
        select(columns.program_id, columns.enrolled_month, columns.primary_condition).where(
            columns.matches > 0
        ),
        engine=engine,
    )
    months = rows["enrolled_month"].between(filters.month_from or "", filters.month_to or "9999")
    condition = rows["primary_condition"].isin(filters.conditions or rows["primary_condition"])
    inside = rows.assign(inside=months & condition).groupby("program_id")["inside"]
    some, every = inside.any(), inside.all()
    return {_unit_seed(str(p)) for p in some.index if some[p] and not every[p]}


@pytest.mark.parametrize("name", list(FILTERS))
def test_stored_replicates_give_the_same_figures_as_drawing_them(
    loaded_sample: str, draws: list[int], name: str
) -> None:
    filters, cuts = FILTERS[name]
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
    cut = _cut_programs(filters, engine)
    assert sorted(draws) == sorted(cut)
    expected = {"none": 0, "some": len(cut), "all": len(programs)}[cuts]
    assert len(cut) == expected and (cuts != "some" or 0 < len(cut) < len(programs))


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
    stored = _replicates(engine)
    assert stored[["program_id", "setting", "matched_enrollments"]].to_numpy().tolist() == [
        ["P1", "all", 1],
        ["P1", "behavioral", 1],
        ["P1", "medical", 1],
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


def test_migrate_builds_the_replicates_of_a_database_loaded_before_them(engine: Engine) -> None:
    build(engine)
    before = _replicates(engine)
    with engine.begin() as conn:
        impact_replicates.drop(conn)
    problem = db.schema_problem(engine)
    assert problem is not None and "python -m data_access migrate" in problem
    assert db.migrate(engine).startswith("Rebuilt the matched comparison's tables")
    assert_frame_equal(_replicates(engine), before)


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
