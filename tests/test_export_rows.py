"""exports.export_rows, the row counts the Downloads page shows before any file is built: the
exact number of rows export_frame gives, for every export, viewer and corner of the filters,
on both engines (a partner's refused choice is refused by both)."""

from __future__ import annotations

import pytest

from data_access import db, exports
from data_access.access import LOCAL_VIEWER, Viewer
from data_access.errors import DisclosureRefused
from data_access.filters import OutcomeFilter
from data_access.vocabulary import DATASETS, IMPACT_MEASURES
from tests.reference_compare import FILTER_CORNERS

PARTNER = Viewer(email="tx.partner@example.org", role="state_partner", states=("TX",))
PARTNER_FILTERS = [
    OutcomeFilter(),
    OutcomeFilter(program_models=("whole_health",), month_from="2024-01", month_to="2024-12"),
    OutcomeFilter(program_models=("not_enrolled",)),
    OutcomeFilter(states=("TX", "NY")),  # NY dropped: TX's rows
    OutcomeFilter(conditions=("substance_use", "mental_health")),  # refused: two conditions
    OutcomeFilter(states=()),
]


def _rows(call, **kwargs) -> int | str:  # type: ignore[no-untyped-def]
    try:
        return int(call(**kwargs))
    except DisclosureRefused:
        return "refused"


@pytest.mark.parametrize(
    ("viewer", "filters"),
    [(LOCAL_VIEWER, f) for f in FILTER_CORNERS] + [(PARTNER, f) for f in PARTNER_FILTERS],
)
def test_the_counted_rows_are_the_rows_of_each_export(
    loaded_sample: str, viewer: Viewer, filters: OutcomeFilter
) -> None:
    engine = db.get_engine(loaded_sample)
    for dataset in DATASETS:
        built = _rows(
            lambda **kw: len(exports.export_frame(**kw)),
            dataset=dataset,
            filters=filters,
            viewer=viewer,
            engine=engine,
        )
        counted = _rows(
            exports.export_rows, dataset=dataset, filters=filters, viewer=viewer, engine=engine
        )
        assert counted == built, f"{dataset} for {viewer.role}, {filters.model_dump_json()}"


def test_the_sample_counts(loaded_sample: str) -> None:
    """The sample's counts, as the Downloads page shows them for all of it and for TX: the
    impact rows are (programs + their models + 1) x the measures."""
    engine = db.get_engine(loaded_sample)
    counts = {
        (name, dataset): exports.export_rows(
            dataset=dataset, filters=filters, viewer=LOCAL_VIEWER, engine=engine
        )
        for name, filters in (("all", OutcomeFilter()), ("TX", OutcomeFilter(states=("TX",))))
        for dataset in DATASETS
    }
    assert len(IMPACT_MEASURES) == 7
    assert counts == {
        ("all", "monthly"): 6448,
        ("all", "prepost"): 40,
        ("all", "impact"): (40 + 4 + 1) * 7,
        ("TX", "monthly"): 424,
        ("TX", "prepost"): 4,
        ("TX", "impact"): (4 + 4 + 1) * 7,
    }
