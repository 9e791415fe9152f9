"""Twenty dashboard sessions at once against one app and one PostgreSQL database.

Each session is a streamlit.testing.v1.AppTest in its own thread, all in this one process,
so they share what the sessions of one `streamlit run` server share: the st.cache_data
caches and the SQLAlchemy engine with its connection pool. Every session opens the app
on its own state and program model (from the URL), then changes its filters in the sidebar
and moves to the Trends page; every chart and table it shows must hold exactly the figures
data_access.queries returns for that session's filter, and no session may see an exception.
"""

from __future__ import annotations

import base64
import builtins
import math
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import numpy as np
import pandas as pd
import pytest
import streamlit as st

from data_access.access import LOCAL_VIEWER

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"
SESSIONS = 20
RUN_TIMEOUT = 120.0
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def dataset() -> Path:
    """The shipped sample data, or the folder DASHBOARD_TEST_DATA names."""
    return Path(os.environ.get("DASHBOARD_TEST_DATA", ROOT / "sample_data"))


@pytest.fixture
def loaded(postgres_url: str, dataset: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """One PostgreSQL database with the dataset loaded; the app's settings pointed at it."""
    from data_access import db
    from data_access.loader import load_directory
    from data_access.settings import get_settings

    load_directory(dataset, engine=db.get_engine(postgres_url))
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    st.cache_data.clear()
    yield postgres_url
    st.cache_data.clear()
    get_settings.cache_clear()


@contextmanager
def concurrent_apptests(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let AppTest sessions run at the same time in threads of one process.

    Every AppTest run installs a mock Runtime as the process-wide `Runtime._instance`, patches
    `config.get_option`, and undoes both when it ends; runs overlapping in threads would pull
    them from under each other. Here one mock Runtime (with real media, dataframe and cache
    managers) and one config patch stay in place for the whole test, and the per-run swaps
    write to a stand-in class instead.
    """
    from streamlit import config
    from streamlit.components.v2.component_manager import BidiComponentManager
    from streamlit.runtime import Runtime
    from streamlit.runtime.caching.storage.dummy_cache_storage import (
        MemoryCacheStorageManager,
    )
    from streamlit.runtime.dataframe_source_manager import DataframeSourceManager
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import app_test
    from streamlit.testing.v1.util import build_mock_config_get_option

    shared = MagicMock(spec=Runtime)
    shared.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    shared.dataframe_source_mgr = DataframeSourceManager()
    shared.cache_storage_manager = MemoryCacheStorageManager()
    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)
    shared.bidi_component_registry = components

    class RuntimeStandIn:
        _instance: Any = None

    @contextmanager
    def no_patch(_overrides: dict[str, Any]) -> Iterator[None]:
        yield

    # CPython 3.11's compile() of an AST is not thread-safe ("AST constructor recursion depth
    # mismatch" when pages are first compiled in several threads at once); a real server
    # compiles each page once, so serialising the compilations changes nothing measured.
    original_compile = builtins.compile
    compile_lock = threading.RLock()

    def serial_compile(*args: Any, **kwargs: Any) -> Any:
        with compile_lock:
            return original_compile(*args, **kwargs)

    monkeypatch.setattr(builtins, "compile", serial_compile)
    monkeypatch.setattr(Runtime, "_instance", shared)
    monkeypatch.setattr(app_test, "Runtime", RuntimeStandIn)
    monkeypatch.setattr(app_test, "patch_config_options", no_patch)
    monkeypatch.setattr(
        config, "get_option", build_mock_config_get_option({"global.appTest": True})
    )
    yield


# -- reading what a session shows ------------------------------------------------------------


def _numbers(raw: Any) -> list[float | None]:
    if isinstance(raw, dict) and "bdata" in raw:
        array = np.frombuffer(base64.b64decode(raw["bdata"]), dtype=np.dtype(raw["dtype"]))
        return [float(v) for v in array]
    return [None if v is None else float(v) for v in (raw or [])]


def _same(left: list[float | None], right: list[Any]) -> bool:
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        a_missing = a is None or math.isnan(a)
        b_missing = b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NA
        if a_missing or b_missing:
            if a_missing != b_missing:
                return False
        elif not math.isclose(a, float(b), rel_tol=1e-9, abs_tol=1e-9):
            return False
    return True


def _figure(at: Any, key: str) -> dict[str, Any]:
    import json

    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(key):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart {key!r} on the page")


def _problems(at: Any) -> list[str]:
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]


@dataclass
class Seen:
    """What one session showed: the filter the app used and the trend figure and table."""

    session: int
    page: str
    filters: Any
    measure: str
    figure: dict[str, Any]
    table: pd.DataFrame


def _trend_seen(at: Any, session: int, page: str, chart: str, measure_key: str) -> Seen:
    from dashboard.filters import K_FILTER

    figure = _figure(at, chart)
    # The table tab beside the chart holds the chart's rows (chart_with_table).
    tables = [df.value for df in at.dataframe]
    table = next(t for t in tables if "program_model" in t.columns and "month" in t.columns)
    return Seen(
        session=session,
        page=page,
        filters=at.session_state[K_FILTER],
        measure=str(at.selectbox(key=measure_key).value),
        figure=figure,
        table=table,
    )


def _session(index: int, plan: dict[str, Any], start: threading.Barrier) -> list[Seen]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
    at.query_params["state"] = [plan["first_state"]]
    at.query_params["model"] = [plan["first_model"]]
    start.wait()
    at.run()
    assert not _problems(at), f"session {index}: {_problems(at)}"
    seen = [_trend_seen(at, index, "overview", "chart_overview_trend", "overview_measure")]
    # Change the filters in the sidebar and move to another page, in one rerun.
    at.multiselect(key="filter_states").set_value(plan["second_states"])
    at.multiselect(key="filter_models").set_value(plan["second_models"])
    at.switch_page("../pages/trends.py").run()
    assert not _problems(at), f"session {index}: {_problems(at)}"
    seen.append(_trend_seen(at, index, "trends", "chart_trends", "trends_measure"))
    return seen


def _plans(states: list[str], models: list[str]) -> list[dict[str, Any]]:
    plans = []
    for i in range(SESSIONS):
        first, second = states[i % len(states)], states[(i * 7 + 3) % len(states)]
        plans.append(
            {
                "first_state": first,
                "first_model": models[i % len(models)],
                "second_states": sorted({first, second}),
                "second_models": [models[(i + 1) % len(models)], models[(i + 2) % len(models)]],
            }
        )
    return plans


def test_twenty_sessions_at_once_each_see_their_own_figures(
    loaded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard.filters import with_comparison
    from dashboard.formatting import GROUP_LABELS
    from data_access import db, queries
    from data_access.vocabulary import NOT_ENROLLED, PROGRAM_MODELS

    engine = db.get_engine(loaded)
    states = list(queries.list_states(viewer=LOCAL_VIEWER, engine=engine)["state_code"])
    plans = _plans(states, list(PROGRAM_MODELS))
    start = threading.Barrier(SESSIONS)
    with concurrent_apptests(monkeypatch), ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        futures = [pool.submit(_session, i, plan, start) for i, plan in enumerate(plans)]
        results = [future.result(timeout=300) for future in futures]

    st.cache_data.clear()
    checked = 0
    for plan, seen in zip(plans, results, strict=True):
        overview, trends = seen
        # Each session's filter is the one it asked for, not another session's.
        assert overview.filters.states == (plan["first_state"],)
        assert overview.filters.program_models == (plan["first_model"],)
        assert trends.filters.states == tuple(plan["second_states"])
        assert trends.filters.program_models == tuple(sorted(plan["second_models"]))
        for shown in seen:
            compared = with_comparison(shown.filters)
            expected = queries.outcome_summary(
                viewer=LOCAL_VIEWER,
                small_cells="show",
                filters=compared,
                period="month",
                by=("program_model",),
                engine=engine,
            )
            traces = {trace["name"]: trace for trace in shown.figure["data"]}
            assert set(traces) == {GROUP_LABELS[str(m)] for m in set(expected["program_model"])}, (
                f"session {shown.session} {shown.page}: lines {sorted(traces)}"
            )
            for code, rows in expected.groupby("program_model"):
                trace = traces[GROUP_LABELS[str(code)]]
                assert list(trace["x"]) == list(rows["month"]), f"session {shown.session}"
                assert _same(_numbers(trace["y"]), list(rows[shown.measure])), (
                    f"session {shown.session} {shown.page} {code}: the chart's "
                    f"{shown.measure} differ from data_access"
                )
            table = shown.table.reset_index(drop=True)
            assert list(table["month"]) == list(expected["month"])
            for column in ("member_months", "admissions", "paid", shown.measure):
                assert _same(
                    [None if pd.isna(v) else float(v) for v in table[column]],
                    list(expected[column]),
                ), f"session {shown.session} {shown.page}: table column {column}"
            assert NOT_ENROLLED in set(expected["program_model"]) or expected.empty
            checked += 1
    assert checked == 2 * SESSIONS
