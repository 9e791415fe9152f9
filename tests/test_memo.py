"""dashboard/memo.py: a figure or table is built once per distinct input and handed to every
later caller with the same input; any difference in a frame, an argument or the small-cell
threshold builds it again."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest
from pandas.testing import assert_frame_equal

from dashboard import charts, memo, sections
from dashboard.formatting import SUMMARY_MEASURES
from data_access.settings import get_settings

FRAME = pd.DataFrame(
    {
        "month": ["2024-01", "2024-02", "2024-01", "2024-02"],
        "program_model": ["embedded", "embedded", "whole_health", "whole_health"],
        "admissions_per_1000_mm": [12.5, 11.25, 9.0, None],
        "suppressed": ["", "", "", "admissions_per_1000_mm"],
        "member_months": [800.0, 812.0, 40.0, 41.0],
        "admissions": [10.0, 9.0, None, None],
        "discharges": [10.0, 9.0, None, None],
    }
)


@pytest.fixture(autouse=True)
def empty_memo() -> Iterator[None]:
    memo.clear()
    yield
    memo.clear()


@pytest.fixture
def calls() -> list[tuple[Any, ...]]:
    return []


@pytest.fixture
def summed(calls: list[tuple[Any, ...]]) -> Callable[..., pd.DataFrame]:
    @memo.kept
    def summed(frame: pd.DataFrame, *, column: str, scale: float = 1.0) -> pd.DataFrame:
        calls.append((column, scale))
        return frame.groupby("program_model", as_index=False)[column].sum() * 1

    return summed


def _changed_value(frame: pd.DataFrame) -> pd.DataFrame:
    changed = frame.copy()
    changed.loc[3, "admissions_per_1000_mm"] = 0.0
    return changed


@pytest.mark.parametrize(
    ("second", "kwargs", "builds"),
    [
        pytest.param(lambda f: f, {}, 1, id="the same frame"),
        pytest.param(lambda f: f.copy(), {}, 1, id="an equal copy"),
        pytest.param(lambda f: pickle.loads(pickle.dumps(f)), {}, 1, id="unpickled, as cached"),
        pytest.param(_changed_value, {}, 2, id="one value changed (NaN to 0)"),
        pytest.param(lambda f: f.iloc[:3], {}, 2, id="a row fewer"),
        pytest.param(lambda f: f.rename(columns={"suppressed": "x"}), {}, 2, id="a renamed column"),
        pytest.param(
            lambda f: f.astype({"admissions_per_1000_mm": "float32"}), {}, 2, id="another type"
        ),
        pytest.param(lambda f: f.set_axis([9, 1, 2, 3]), {}, 2, id="another index"),
        pytest.param(lambda f: f, {"scale": 2.0}, 2, id="another argument"),
    ],
)
def test_a_build_is_kept_by_every_value_of_its_input(
    summed: Callable[..., pd.DataFrame],
    calls: list[tuple[Any, ...]],
    second: Callable[[pd.DataFrame], pd.DataFrame],
    kwargs: dict[str, Any],
    builds: int,
) -> None:
    first = summed(FRAME, column="admissions_per_1000_mm")
    again = summed(second(FRAME), column="admissions_per_1000_mm", **kwargs)
    assert len(calls) == builds
    if builds == 1:
        assert_frame_equal(again, first)


def test_a_kept_frame_is_handed_out_as_a_copy(summed: Callable[..., pd.DataFrame]) -> None:
    first = summed(FRAME, column="admissions_per_1000_mm")
    expected = first.copy()
    first.loc[0, "admissions_per_1000_mm"] = -1.0
    assert_frame_equal(summed(FRAME, column="admissions_per_1000_mm"), expected)


def test_an_argument_that_cannot_be_keyed_builds_every_time(calls: list[tuple[Any, ...]]) -> None:
    @memo.kept
    def labelled(frame: pd.DataFrame, *, labels: dict[str, str]) -> int:
        calls.append(("labelled",))
        return len(frame)

    assert labelled(FRAME, labels={"a": "b"}) == labelled(FRAME, labels={"a": "b"}) == 4
    assert len(calls) == 2


def test_another_small_cell_threshold_builds_again(
    summed: Callable[..., pd.DataFrame],
    calls: list[tuple[Any, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summed(FRAME, column="admissions_per_1000_mm")
    monkeypatch.setenv("SMALL_CELL_THRESHOLD", "20")
    get_settings.cache_clear()
    try:
        summed(FRAME, column="admissions_per_1000_mm")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    summed(FRAME, column="admissions_per_1000_mm")
    assert len(calls) == 2


def _one_answer() -> int:
    """The bytes an answer built from FRAME weighs against the bound."""
    return memo._ENTRY_BYTES + len(pickle.dumps(FRAME, protocol=5))


def test_the_least_recently_used_is_dropped_past_the_bound(
    summed: Callable[..., pd.DataFrame],
    calls: list[tuple[Any, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memo, "MAX_FRAME_BYTES", 2 * _one_answer())  # room for two answers of FRAME
    for scale in (1.0, 2.0, 1.0, 3.0):  # 1.0 used again, so 2.0 is the one dropped
        summed(FRAME, column="admissions_per_1000_mm", scale=scale)
    summed(FRAME, column="admissions_per_1000_mm", scale=1.0)
    summed(FRAME, column="admissions_per_1000_mm", scale=2.0)
    assert calls == [("admissions_per_1000_mm", s) for s in (1.0, 2.0, 3.0, 2.0)]


def test_the_bound_is_on_the_frames_bytes(
    summed: Callable[..., pd.DataFrame],
    calls: list[tuple[Any, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memo, "MAX_FRAME_BYTES", 3 * _one_answer())
    summed(FRAME, column="admissions_per_1000_mm")
    summed(FRAME, column="admissions_per_1000_mm", scale=2.0)
    large = pd.concat([FRAME] * 3, ignore_index=True)
    summed(large, column="admissions_per_1000_mm")  # drops the oldest answers to make room
    summed(FRAME, column="admissions_per_1000_mm")
    summed(large, column="admissions_per_1000_mm")
    assert calls == [("admissions_per_1000_mm", s) for s in (1.0, 2.0, 1.0, 1.0)]
    assert memo._kept_bytes <= memo.MAX_FRAME_BYTES


def test_a_kept_figure_is_the_one_its_builder_draws() -> None:
    arguments: dict[str, Any] = {
        "period": "month",
        "group": "program_model",
        "measure": SUMMARY_MEASURES["admissions_per_1000_mm"],
        "title": "Admissions",
        "subtitle": "All states",
    }
    first = charts.trend_by_group(FRAME, **arguments)
    again = charts.trend_by_group(pickle.loads(pickle.dumps(FRAME)), **arguments)
    built = charts.trend_by_group.__wrapped__(FRAME, **arguments)  # type: ignore[attr-defined]
    assert again is first
    assert isinstance(first, go.Figure)
    assert first.to_json() == built.to_json()
    other = charts.trend_by_group(FRAME, **{**arguments, "title": "Stays"})
    assert other.layout.title.text != first.layout.title.text


def test_year_change_is_kept_and_equal_to_its_build() -> None:
    frame = pd.DataFrame(
        {
            "year": ["2023", "2024", "2023", "2024"],
            "state_code": ["TX", "TX", "KS", "KS"],
            "average_los": [5.0, 6.5, 7.0, 6.0],
            "suppressed": ["", "", "", ""],
        }
    )
    kept = sections.year_change(frame, "average_los", 2024)
    built = sections.year_change.__wrapped__(frame, "average_los", 2024)  # type: ignore[attr-defined]
    assert_frame_equal(kept, built)
    assert kept["state_code"].tolist() == ["TX", "KS"]
    assert kept["change"].tolist() == [1.5, -1.0]
