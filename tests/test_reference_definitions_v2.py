"""The reference implementation's version-2 definitions on the hand-built world of
tests/worlds_v2.py, whose expected rows were worked out by hand (see its comments): followed
discharges around the data-through date, readmissions of the other setting at 1, 30 and 31
days, follow-up claims on the discharge day and at 1, 7, 8, 30 and 31 days, claims not
behavioral or of another category, open stays, the provisional boundary, and the four new
pre/post measures by setting."""

from __future__ import annotations

import pandas as pd
import pytest

from tests import reference_metrics as rm
from tests.world_tables import world_frames
from tests.worlds_v2 import (
    MONTHLY_V2,
    MONTHLY_V2_CSV,
    MONTHLY_V2_FILTER,
    PREPOST_V2,
    PREPOST_V2_CSV,
    V2_WORLD,
)

TEXAS = rm.Filters(**MONTHLY_V2_FILTER)


@pytest.fixture(scope="module")
def base() -> rm.Base:
    return rm.Base(world_frames(V2_WORLD))


def test_the_world_is_data_through_june_2024(base: rm.Base) -> None:
    assert base.data_through == pd.Timestamp("2024-06-30")
    assert rm.provisional_after(base) == "2024-03"


@pytest.mark.parametrize("setting", rm.SETTINGS)
def test_monthly_v2_rows(base: rm.Base, setting: str) -> None:
    frame = rm.monthly(base, rm.Filters(**MONTHLY_V2_FILTER, setting=setting))
    assert list(frame.columns) == list(rm.V2.monthly_columns) == list(MONTHLY_V2[setting].columns)
    assert rm.csv_text(frame) == MONTHLY_V2_CSV[setting]
    # counts exactly, not only as written (integers carry no rounding)
    for column in rm.V2.count_columns:
        assert frame[column].tolist() == MONTHLY_V2[setting][column].astype(int).tolist()


@pytest.mark.parametrize("setting", rm.SETTINGS)
def test_prepost_v2_rows(base: rm.Base, setting: str) -> None:
    frame = rm.prepost(base, setting)
    assert list(frame.columns) == list(rm.V2.prepost_columns) == list(PREPOST_V2[setting].columns)
    assert rm.csv_text(frame) == PREPOST_V2_CSV[setting]


def test_version_1_counts_readmissions_as_before(base: rm.Base) -> None:
    """v1: same setting, over discharges (H1, not followed, readmitted by H2 at 9 days,
    counts; R1 and R2, readmitted by a stay of the other setting, do not). v2: all-cause
    over followed discharges."""
    v1 = rm.monthly(base, TEXAS, contract_version=1)
    v2 = rm.monthly(base, TEXAS)
    by_month = {
        version: frame.groupby("month")["readmissions_30d"].sum().to_dict()
        for version, frame in (("v1", v1), ("v2", v2))
    }
    months = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06", "2024-07"]
    assert by_month["v1"] == dict(zip(months, [0, 0, 1, 0, 1, 0, 0], strict=True))
    assert by_month["v2"] == dict(zip(months, [2, 0, 1, 0, 0, 0, 0], strict=True))
    assert list(v1.columns) == list(rm.V1.monthly_columns)
    # v1's rate is over every discharge: 2024-05 has 3 (E1 G1 H1), one readmitted
    may = v1[(v1["month"] == "2024-05") & (v1["program_model"] == "not_enrolled")].iloc[0]
    assert may["readmission_rate_30d"] == 1 / 3
    # v1 wrote text as it was
    v1_prepost = rm.prepost(base, "all", contract_version=1)
    assert list(v1_prepost.columns) == list(rm.V1.prepost_columns)
    assert "\nP1,=Whole health," in rm.csv_text(v1_prepost, 1)


@pytest.mark.parametrize(
    ("runout_months", "provisional"),
    [
        (0, ["2024-07"]),  # only the month after the data-through month
        (3, ["2024-04", "2024-05", "2024-06", "2024-07"]),
        (4, ["2024-03", "2024-04", "2024-05", "2024-06", "2024-07"]),
    ],
)
def test_provisional_months_follow_the_runout(
    base: rm.Base, runout_months: int, provisional: list[str]
) -> None:
    frame = rm.outcome_summary(base, TEXAS, period="month", runout_months=runout_months)
    assert frame.loc[frame["provisional"], "month"].tolist() == provisional


def test_a_period_with_a_provisional_month_is_provisional(base: rm.Base) -> None:
    """The contract marks months; this reference marks a quarter, a year or the whole range
    when one of its months is."""
    quarters = rm.outcome_summary(base, TEXAS, period="quarter")
    assert dict(zip(quarters["quarter"], quarters["provisional"], strict=True)) == {
        "2024-Q1": False,
        "2024-Q2": True,
        "2024-Q3": True,
    }
    first_quarter = rm.outcome_summary(base, rm.Filters(month_to="2024-03"), period=None)
    assert first_quarter["provisional"].tolist() == [False]


def test_follow_ups_are_never_limited_by_the_setting(base: rm.Base) -> None:
    followups = ["followed_behavioral_discharges", "followups_7d", "followups_30d"]
    columns = [*followups, "peer_contacts_1d", "member_months", "paid"]
    frames = {
        s: rm.outcome_summary(base, rm.Filters(states=("TX",), setting=s), period=None)
        for s in rm.SETTINGS
    }
    # followed behavioral: R1 K0s K1s, R3 K2s, Q1 K3s-K6s, Q2, E1 G1 (not H1 H2) = 13;
    # 7 days: K2s K3s G1 = 3; 30 days: K2s, K3s K4s K5s, G1 = 5
    assert frames["all"][followups].iloc[0].tolist() == [13, 3, 5]
    for setting in ("behavioral", "medical"):
        pd.testing.assert_frame_equal(frames[setting][columns], frames["all"][columns])
