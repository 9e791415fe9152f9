"""The summaries the dashboard reads equal the contract's definitions on the raw tables.

`tests/reference_metrics.py` computes every figure straight from the sample's CSV files in
plain pandas, written separately from the SQL; every monthly and prepost figure of the
sample, loaded into each engine, must match it.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import BigInteger, select

from data_access import db
from data_access.access import LOCAL_VIEWER
from data_access.filters import OutcomeFilter
from data_access.measures import MONTHLY_COLUMNS, PREPOST_COLUMNS
from data_access.models import enrollment_outcomes, prepost_summary
from data_access.queries import monthly_outcomes, prepost_by_program
from data_access.vocabulary import ADMISSION_SETTINGS, SETTINGS, WINDOWS
from tests import reference_metrics
from tests.conftest import SAMPLE_DATA

# The pandas reference over the whole sample takes about 20 s: out of `make test-fast`.
pytestmark = pytest.mark.slow

KEY_COLUMNS = ["month", "state_code", "program_model"]
# the reference computes the contract version the product's columns say it implements
VERSION = 2 if "followed_discharges" in MONTHLY_COLUMNS else 1


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return reference_metrics.read_frames(SAMPLE_DATA)


@pytest.fixture(scope="module")
def reference_monthly(frames) -> pd.DataFrame:
    return reference_metrics.monthly(frames, contract_version=VERSION)


def _comparable(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    out = frame[list(columns)].copy()
    for column in out.columns:
        if column not in KEY_COLUMNS and column not in ("program_id", "program_name", "setting"):
            out[column] = out[column].astype("float64")
        else:
            out[column] = out[column].astype(str)
    return out.reset_index(drop=True)


def test_monthly_summary_equals_the_definitions(loaded_sample, reference_monthly):
    got = monthly_outcomes(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(),
        engine=db.get_engine(loaded_sample),
    )
    assert len(got) == len(reference_monthly) > 6000
    pd.testing.assert_frame_equal(
        _comparable(got, MONTHLY_COLUMNS),
        _comparable(reference_monthly, MONTHLY_COLUMNS),
        check_exact=False,
        rtol=1e-12,
        atol=1e-9,
    )


@pytest.mark.parametrize("setting", ["all", "behavioral", "medical"])
def test_enrollment_outcomes_equal_the_definitions(loaded_sample, frames, setting):
    got = prepost_by_program(
        viewer=LOCAL_VIEWER,
        small_cells="show",
        filters=OutcomeFilter(setting=setting),
        engine=db.get_engine(loaded_sample),
    )
    expected = reference_metrics.prepost(frames, setting=setting, contract_version=VERSION)
    assert len(got) == len(expected) == 40
    pd.testing.assert_frame_equal(
        _comparable(got, PREPOST_COLUMNS),
        _comparable(expected, PREPOST_COLUMNS),
        check_exact=False,
        rtol=1e-12,
        atol=1e-9,
    )


def test_prepost_summary_sums_the_analysable_enrollment_outcomes(loaded_sample):
    """The pre/post rows add up prepost_summary: each of its rows is the sum of the
    analysable enrollments of its program, month of enrollment and condition."""
    engine = db.get_engine(loaded_sample)
    outcomes = db.read_frame(select(enrollment_outcomes), engine=engine)
    outcomes = outcomes[outcomes["analysable"].astype(bool)].copy()
    keys = ["program_id", "enrolled_month", "primary_condition", "state_code", "program_model"]
    summed = [c.name for c in enrollment_outcomes.columns if isinstance(c.type, BigInteger)]
    for window in WINDOWS:
        admitted = {
            setting: outcomes[f"{window}_admissions_{setting}"] > 0
            for setting in ADMISSION_SETTINGS
        }
        admitted["all"] = (
            outcomes[[f"{window}_admissions_{s}" for s in ADMISSION_SETTINGS]].sum(axis=1) > 0
        )
        for setting in SETTINGS:
            outcomes[f"{window}_with_admission_{setting}"] = admitted[setting].astype("int64")
    outcomes["enrollments"] = 1
    expected = (
        outcomes.groupby(keys, as_index=False)[
            ["enrollments", *(c for c in outcomes.columns if "_with_admission_" in c), *summed]
        ]
        .sum()
        .sort_values(keys[:3], ignore_index=True)
    )
    got = db.read_frame(select(prepost_summary), engine=engine)
    got = got.sort_values(keys[:3], ignore_index=True)[list(expected.columns)]
    assert 300 < len(got) < outcomes.shape[0]
    pd.testing.assert_frame_equal(got.astype({c: "int64" for c in expected.columns[5:]}), expected)
