"""The matched comparison on the shipped sample (both engines): the sample's documented true
effects (sample_data/README.md, "True program effects") against the 95% intervals, and the
event study and balance agreeing with the effects they explain."""

from __future__ import annotations

import math

import pytest

from data_access import db
from data_access.access import LOCAL_VIEWER
from data_access.event_study import RELATIVE_MONTHS, balance_by_unit, event_study
from data_access.filters import OutcomeFilter
from data_access.impact import impact_by_unit
from data_access.vocabulary import EVENT_STUDY_MEASURES
from sample_data.catalog import PROGRAMS

# The true effect as realised in the shipped files, per enrollment, of each model's random
# programs pooled (WA-PIERCE-ED, whose effect is on ED visits alone, left out): README table.
TRUE_EFFECTS = {
    ("embedded", "admissions_per_enrollment"): -0.11,
    ("embedded", "total_paid_per_enrollment"): -30.0,
    ("whole_health", "admissions_per_enrollment"): -0.02,
    ("whole_health", "total_paid_per_enrollment"): 774.0,
    ("hot_spotting", "admissions_per_enrollment"): 0.0,
    ("hot_spotting", "total_paid_per_enrollment"): 1179.0,
}


def _random_programs(model: str) -> tuple[str, ...]:
    return tuple(
        p.program_id
        for p in PROGRAMS
        if p.kind == "random" and p.model == model and p.program_id != "WA-PIERCE-ED"
    )


@pytest.mark.parametrize(
    ("model", "measure"),
    [pytest.param(*key, id="-".join(key)) for key in TRUE_EFFECTS],
)
def test_the_sample_true_effects_lie_in_the_intervals(
    loaded_sample: str, model: str, measure: str
) -> None:
    engine = db.get_engine(loaded_sample)
    rows = impact_by_unit(
        viewer=LOCAL_VIEWER,
        filters=OutcomeFilter(program_models=(model,), program_ids=_random_programs(model)),
        small_cells="show",
        engine=engine,
    )
    row = rows[(rows["level"] == "program_model") & (rows["measure"] == measure)].iloc[0]
    assert row["matched_enrollments"] >= 100
    truth = TRUE_EFFECTS[(model, measure)]
    assert row["effect_ci_low"] <= truth <= row["effect_ci_high"], (
        f"{model} {measure}: {row['effect']:.3f} ({row['effect_ci_low']:.3f} to "
        f"{row['effect_ci_high']:.3f}) misses the true {truth}"
    )


def test_the_months_add_up_to_the_windows_and_balance_to_its_maximum(loaded_sample: str) -> None:
    engine = db.get_engine(loaded_sample)
    filters = OutcomeFilter(month_from="2023-01", month_to="2025-12")
    effects = impact_by_unit(
        viewer=LOCAL_VIEWER, filters=filters, small_cells="show", engine=engine
    )
    months = event_study(viewer=LOCAL_VIEWER, filters=filters, small_cells="show", engine=engine)
    assert len(months) == (len(set(months["program_model"].dropna())) + 1) * 2 * len(
        RELATIVE_MONTHS
    )
    for measure in EVENT_STUDY_MEASURES:
        for level in ("program_model", "all"):
            unit = effects[(effects["level"] == level) & (effects["measure"] == measure)]
            for row in unit.to_dict("records"):
                same = months[(months["level"] == level) & (months["measure"] == measure)]
                if level == "program_model":
                    same = same[same["program_model"] == row["program_model"]]
                assert (same["matched_enrollments"] == row["matched_enrollments"]).all()
                if not row["matched_enrollments"]:
                    continue
                before = same[same["relative_month"] < 0]
                after = same[same["relative_month"] > 0]
                for column, window in (
                    ("enrolled_mean", "enrolled"),
                    ("comparison_mean", "comparison"),
                ):
                    assert math.isclose(
                        before[column].sum(), row[f"{window}_pre"], rel_tol=1e-9, abs_tol=1e-9
                    )
                    assert math.isclose(
                        after[column].sum(), row[f"{window}_post"], rel_tol=1e-9, abs_tol=1e-9
                    )
    balance = balance_by_unit(
        viewer=LOCAL_VIEWER, filters=filters, small_cells="show", engine=engine
    )
    worst = balance.groupby(
        [balance["level"], balance["program_id"].fillna(balance["program_model"]).fillna("")]
    )["std_diff_after"].agg(lambda values: values.max(skipna=False))
    for row in effects[effects["measure"] == "admissions_per_enrollment"].to_dict("records"):
        key = (
            row["level"],
            str(row["program_id"])
            if isinstance(row["program_id"], str)
            else str(row["program_model"])
            if isinstance(row["program_model"], str)
            else "",
        )
        expected = row["max_std_diff"]
        if isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(worst[key])
        else:
            assert math.isclose(worst[key], expected, rel_tol=1e-9, abs_tol=1e-12)
