"""The product against the reference implementation in the contract's version 2: every shape
of figure the pages and exports serve, for any filter (as tests/test_reference_v1.py does
for version 1), and the hand-built world of tests/worlds_v2.py row for row.

Version 2 counts readmissions over followed discharges (all-cause under setting `all`), and
adds ED visits, follow-ups after behavioral discharges, peer contacts, `provisional`, four
pre/post measures and the CSV's `'` before a formula-like text cell.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from sqlalchemy import Engine

from data_access.access import LOCAL_VIEWER
from data_access.exports import export_frame, to_csv_text
from data_access.filters import OutcomeFilter
from tests import reference_metrics as rm
from tests.reference_compare import (
    CASE_CORNERS,
    FILTER_CORNERS,
    REFERENCE_SETTINGS,
    Case,
    cases,
    check_exports,
    check_outcome_summary,
    check_overview_helpers,
    examples,
    outcome_filters,
    product_summary,
    sample_base,
)
from tests.worlds import build
from tests.worlds_v2 import MONTHLY_V2_CSV, MONTHLY_V2_FILTER, PREPOST_V2_CSV, V2_WORLD

VERSION = 2


@REFERENCE_SETTINGS
@given(case=cases())
@examples("case", CASE_CORNERS)
def test_outcome_summary_matches_reference(loaded_sample: str, case: Case) -> None:
    check_outcome_summary(loaded_sample, case, VERSION)


@REFERENCE_SETTINGS
@given(filters=outcome_filters())
@examples("filters", FILTER_CORNERS)
def test_exports_match_reference(loaded_sample: str, filters: OutcomeFilter) -> None:
    check_exports(loaded_sample, filters, VERSION)


@REFERENCE_SETTINGS
@given(filters=outcome_filters())
@examples("filters", FILTER_CORNERS)
def test_overview_helpers_match_reference(loaded_sample: str, filters: OutcomeFilter) -> None:
    check_overview_helpers(loaded_sample, filters)


# ---------------------------------------------------------------------------------------
# the hand-built world (expected rows worked out by hand in tests/worlds_v2.py)


@pytest.fixture
def world(engine: Engine) -> Engine:
    build(engine, V2_WORLD)
    return engine


@pytest.mark.parametrize("setting", rm.SETTINGS)
def test_exports_of_the_v2_world(world: Engine, setting: str) -> None:
    for dataset, filters, expected in (
        ("monthly", OutcomeFilter(**MONTHLY_V2_FILTER, setting=setting), MONTHLY_V2_CSV),
        ("prepost", OutcomeFilter(setting=setting), PREPOST_V2_CSV),
    ):
        frame = export_frame(
            dataset=dataset,  # type: ignore[arg-type]
            filters=filters,
            viewer=LOCAL_VIEWER,
            small_cells="show",
            engine=world,
        )
        assert to_csv_text(frame) == expected[setting], f"{dataset}, setting {setting}"


@pytest.mark.parametrize(
    "filters", [OutcomeFilter(month_from="2026-01"), OutcomeFilter(states=("ZZ",))]
)
def test_pooled_range_without_data_has_no_row(loaded_sample: str, filters: OutcomeFilter) -> None:
    got = product_summary(loaded_sample, Case(filters, period=None))
    assert rm.outcome_summary(sample_base(), filters, period=None, contract_version=VERSION).empty
    assert got.empty, got.to_dict("records")
