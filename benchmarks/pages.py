"""Every page, run headless with streamlit.testing.v1.AppTest, and the data calls behind it.

For each page and filter variant this module:
- records the dashboard's data calls the page makes (the `st.cache_data` functions of
  dashboard/data.py, top level only), so the data measurements follow whatever the pages do;
- times those calls cold (st.cache_data cleared, engines disposed so the first call connects
  anew) and warm (the second call through the same cached wrappers);
- times the page's whole script run in AppTest, cold (st.cache_data cleared) and warm;
- measures every Plotly figure the page sends, and keeps a skeleton of the page (its widgets,
  tables and figures) from which benchmarks/floor_app.py draws the same page from constants.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, median
from benchmarks.plotly_payload import figure_facts

APP = ROOT / "dashboard" / "app.py"
APPTEST_TIMEOUT = 300.0
# Replays of a page's data calls, cold and warm, at least: each takes well under a second, and
# with three a single slow replay on the shared machine could be the median (a page measured
# at 176 ms cold in one run was 61-83 ms in six of seven replays).
DATA_REPLAYS = 7


@dataclass(frozen=True)
class Page:
    name: str
    file: str
    url_path: str  # "" for the default page

    @property
    def exists(self) -> bool:
        return (ROOT / "pages" / self.file).is_file()


# Pages the browser part skips: nothing on them depends on the filters.
NOT_FILTERED = frozenset({"about_the_data.py"})


def app_pages(app: Path = APP) -> tuple[Page, ...]:
    """The pages of the app's navigation, in its order, read from dashboard/app.py itself
    (every `st.Page(PAGES / "<file>.py", title=...)` of the `pages = {...}` dict the
    navigation is built from; the admin-only pages added after it are left out), so a page
    added to the app is benchmarked without touching the benchmark."""
    import ast

    found: list[Page] = []
    for node in ast.walk(ast.parse(app.read_text())):
        if not (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["pages"]
            and isinstance(node.value, ast.Dict)
        ):
            continue
        for item in node.value.values:
            if not (isinstance(item, ast.Call) and getattr(item.func, "attr", "") == "Page"):
                continue
            target = item.args[0] if item.args else None
            file = getattr(getattr(target, "right", None), "value", None)
            keywords = {k.arg: k.value for k in item.keywords}
            title = getattr(keywords.get("title"), "value", None)
            if not isinstance(file, str) or not isinstance(title, str):
                continue
            default = getattr(keywords.get("default"), "value", False) is True
            url_path = getattr(keywords.get("url_path"), "value", None)
            if not isinstance(url_path, str):
                url_path = "" if default else Path(file).stem
            found.append(Page(title, file, url_path))
    if not found:
        raise RuntimeError(f"no pages found in {app}: the benchmark reads its `pages = {{...}}`")
    return tuple(found)


PAGES = app_pages()


def present_pages() -> list[Page]:
    return [page for page in PAGES if page.exists]


def filtered_pages() -> list[Page]:
    """The pages whose content follows the filters (those measured in the browser)."""
    return [page for page in present_pages() if page.file not in NOT_FILTERED]


# -- the dashboard's cached data functions -----------------------------------------------


def cached_functions() -> dict[str, Any]:
    import dashboard.data as data

    return {
        name: value
        for name, value in vars(data).items()
        if callable(value) and hasattr(value, "clear") and hasattr(value, "__wrapped__")
    }


Call = tuple[str, tuple[Any, ...], dict[str, Any]]


def describe_filter(value: Any) -> str:
    from data_access.filters import OutcomeFilter

    if not isinstance(value, OutcomeFilter):
        return repr(value)
    default = OutcomeFilter()
    parts = []
    if value.states is not None:
        parts.append("states=" + "+".join(value.states))
    if set(value.program_models) != set(default.program_models):
        parts.append("models=" + "+".join(value.program_models))
    if value.program_ids is not None:
        parts.append(f"{len(value.program_ids)} programs")
    if value.conditions is not None:
        parts.append("conditions=" + "+".join(value.conditions))
    if value.month_from or value.month_to:
        parts.append(f"{value.month_from}..{value.month_to}")
    if value.setting != "all":
        parts.append(value.setting)
    return "F(" + ", ".join(parts) + ")"


def call_label(call: Call) -> str:
    name, args, kwargs = call
    shown = [describe_filter(a) for a in args[1:]]  # args[0] is the database URL
    shown += [f"{k}={describe_filter(v)}" for k, v in kwargs.items()]
    return f"{name.lstrip('_')}({', '.join(shown)})"


@contextmanager
def recording_calls() -> Iterator[list[Call]]:
    """Record the top-level calls of the dashboard's cached data functions (hits included)."""
    import dashboard.data as data

    calls: list[Call] = []
    local = threading.local()
    originals = cached_functions()

    def recorder(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(local, "depth", 0)
            if depth == 0:
                calls.append((name, args, dict(kwargs)))
            local.depth = depth + 1
            try:
                return fn(*args, **kwargs)
            finally:
                local.depth = depth

        return record

    for name, fn in originals.items():
        setattr(data, name, recorder(name, fn))
    try:
        yield calls
    finally:
        for name, fn in originals.items():
            setattr(data, name, fn)


def unique_calls(calls: list[Call]) -> list[Call]:
    seen: set[str] = set()
    out = []
    for call in calls:
        key = repr(call)
        if key not in seen:
            seen.add(key)
            out.append(call)
    return out


def clear_caches() -> None:
    import streamlit as st

    st.cache_data.clear()


def replay_cold(calls: list[Call]) -> tuple[float, list[float]]:
    """st.cache_data cleared and engines disposed (the first query connects anew), then every
    call through the dashboard's cached wrapper: what a page costs when nothing is cached."""
    from data_access import db

    clear_caches()
    db.dispose_engines()
    functions = cached_functions()
    each = []
    start = time.perf_counter()
    for name, args, kwargs in calls:
        t0 = time.perf_counter()
        functions[name](*args, **kwargs)
        each.append(time.perf_counter() - t0)
    return time.perf_counter() - start, each


def replay_warm(calls: list[Call]) -> tuple[float, list[float]]:
    """Through the cached wrappers: a first call fills the cache, the second is timed."""
    functions = cached_functions()
    for name, args, kwargs in calls:
        functions[name](*args, **kwargs)
    each = []
    start = time.perf_counter()
    for name, args, kwargs in calls:
        t0 = time.perf_counter()
        functions[name](*args, **kwargs)
        each.append(time.perf_counter() - t0)
    return time.perf_counter() - start, each


# -- AppTest -----------------------------------------------------------------------------


def new_session(query: dict[str, list[str]]) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=APPTEST_TIMEOUT)
    for key, values in query.items():
        at.query_params[key] = values
    at.run()
    return at


def problems(at: Any) -> list[str]:
    found = [f"exception: {e.value}" for e in at.exception]
    found += [f"error: {e.value}" for e in at.error]
    return found


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def figures(at: Any) -> list[dict[str, Any]]:
    out = []
    for element in at.get("plotly_chart"):
        spec_json = element.proto.spec
        out.append(figure_facts(spec_json, json.loads(spec_json)))
    return out


def _frame_records(frame: Any) -> dict[str, Any]:
    import pandas as pd

    frame = pd.DataFrame(frame).reset_index(drop=True)
    return {
        "columns": [str(c) for c in frame.columns],
        "data": json.loads(frame.to_json(orient="values", date_format="iso", default_handler=str)),
    }


def skeleton(at: Any) -> dict[str, Any]:
    """What the page drew, in order, as plain data: floor_app.py draws it again from it."""

    def node_spec(node: Any) -> dict[str, Any] | None:
        kind = getattr(node, "type", None)
        children = getattr(node, "children", None)
        if (isinstance(children, dict) and not hasattr(node, "proto")) or kind in (
            "tab_container",
            "flex_container",
            "column",
            "tab",
            "vertical",
            "horizontal",
            "expandable",
        ):
            kids = list(children.values()) if isinstance(children, dict) else []
            if kind == "tab_container":
                return {
                    "kind": "tabs",
                    "labels": [str(getattr(t, "label", f"Tab {i}")) for i, t in enumerate(kids)],
                    "tabs": [children_of(t) for t in kids],
                }
            if kids and all(getattr(k, "type", None) == "column" for k in kids):
                return {"kind": "columns", "columns": [children_of(c) for c in kids]}
            return {"kind": "block", "children": children_of(node)}
        if kind == "expander":
            return {"kind": "expander", "label": node.label, "children": children_of(node)}
        if kind == "plotly_chart":
            return {"kind": "plotly", "spec": node.proto.spec, "config": node.proto.config}
        if kind in ("dataframe", "table"):
            return {"kind": kind, "frame": _frame_records(node.value)}
        if kind == "metric":
            return {"kind": "metric", "label": node.label, "value": node.value, "delta": node.delta}
        if kind in ("title", "header", "subheader", "markdown", "caption", "code", "text", "latex"):
            return {"kind": kind, "text": str(getattr(node, "value", ""))}
        if kind in ("info", "warning", "error", "success"):
            return {"kind": kind, "text": str(getattr(node, "value", ""))}
        if kind == "exception":
            return {"kind": "markdown", "text": str(getattr(node, "value", ""))}
        if kind in ("text_input", "toggle"):
            return {"kind": kind, "label": node.label}
        if kind == "button_group":
            return {
                "kind": "pills",
                "label": node.proto.label,
                "options": list(node.options),
                "key": node.key,
            }
        if kind in ("selectbox", "radio", "multiselect", "select_slider"):
            options = [str(o) for o in getattr(node, "options", [])]
            spec = {"kind": kind, "label": node.label, "options": options, "key": node.key}
            if kind == "multiselect":
                spec["value"] = [str(v) for v in node.value]
            return spec
        if kind == "download_button":
            return {"kind": "download_button", "label": getattr(node.proto, "label", "Download")}
        if kind == "button":
            return {"kind": "button", "label": node.label}
        if kind == "divider" or (kind == "markdown" and getattr(node.proto, "is_divider", False)):
            return {"kind": "divider"}
        return None

    def children_of(node: Any) -> list[dict[str, Any]]:
        children = getattr(node, "children", None)
        if not isinstance(children, dict):
            return []
        specs = [node_spec(child) for child in children.values()]
        return [spec for spec in specs if spec is not None]

    return {"main": children_of(at.main), "sidebar": children_of(at.sidebar)}


def measure_page(
    page: Page, query: dict[str, list[str]], repeats: int, keep_skeleton: bool
) -> dict[str, Any]:
    """AppTest cold and warm runs of one page, its data calls cold and warm, its figures."""
    clear_caches()
    at = new_session(query)
    at.switch_page(f"../pages/{page.file}")
    clear_caches()
    with recording_calls() as recorded:
        at.run()
    found = problems(at)
    calls = unique_calls(recorded)
    apptest_cold, apptest_warm = [], []
    for _ in range(repeats):
        clear_caches()
        t0 = time.perf_counter()
        at.run()
        apptest_cold.append(time.perf_counter() - t0)
        found += problems(at)
        t0 = time.perf_counter()
        at.run()
        apptest_warm.append(time.perf_counter() - t0)
        found += problems(at)
    result: dict[str, Any] = {
        "calls": [call_label(c) for c in calls],
        "figures": figures(at),
        "problems": sorted(set(found)),
        "apptest_cold": apptest_cold,
        "apptest_warm": apptest_warm,
    }
    if keep_skeleton:
        result["skeleton"] = skeleton(at)
    cold, warm = [], []
    cold_each: list[list[float]] = []
    warm_each: list[list[float]] = []
    for _ in range(max(repeats, DATA_REPLAYS)):
        total, each = replay_cold(calls)
        cold.append(total)
        cold_each.append(each)
        total, each = replay_warm(calls)
        warm.append(total)
        warm_each.append(each)
    result["data_cold"] = cold
    result["data_warm"] = warm
    result["data_cold_by_call"] = {
        call_label(c): median([run[i] for run in cold_each]) for i, c in enumerate(calls)
    }
    result["data_warm_by_call"] = {
        call_label(c): median([run[i] for run in warm_each]) for i, c in enumerate(calls)
    }
    result["shell_calls"] = [call_label(c) for c in calls if c[0] in SHELL_CALLS]
    return result


# The app shell (dashboard/app.py and the sidebar) makes these calls on every page.
SHELL_CALLS = frozenset({"_database_status", "_shell"})


def payload_variants() -> list[tuple[str, str, dict[str, Any]]]:
    """Widget settings beyond the defaults that draw the biggest figures (page file, label,
    widget key -> value)."""
    return [
        (
            "trends.py",
            "split by state, monthly",
            {"trends_split": "state_code", "trends_period": "month"},
        ),
        ("state_profile.py", "monthly", {"profile_period": "month"}),
    ]


def measure_payload_variant(
    page_file: str, query: dict[str, list[str]], widgets: dict[str, Any]
) -> dict[str, Any]:
    at = new_session(query)
    at.switch_page(f"../pages/{page_file}")
    at.run()
    for key, value in widgets.items():
        for kind in ("radio", "selectbox", "multiselect"):
            matches = [w for w in getattr(at, kind) if w.key == key]
            if matches:
                matches[0].set_value(value)
                break
    at.run()
    return {"figures": figures(at), "problems": problems(at)}


def save_skeletons(path: Path, skeletons: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(skeletons))
