"""Helpers of the dashboard tests: open a page in AppTest, read back its Plotly figures."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from data_access import exports

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"
PAGES = {
    "overview": "../pages/overview.py",
    "trends": "../pages/trends.py",
    "program_outcomes": "../pages/program_outcomes.py",
    "impact": "../pages/impact.py",
    "state_profile": "../pages/state_profile.py",
    "follow_up": "../pages/follow_up.py",
    "downloads": "../pages/downloads.py",
    "about_the_data": "../pages/about_the_data.py",
}
TIMEOUT = 60  # a partner's first view of a filter works out its wider views too


def open_page(page: str = "overview", query: dict[str, Any] | None = None) -> AppTest:
    """Run the app as a new session (with a URL query string, if given), then open `page`."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if query:
        at.query_params.update(query)
    at.run(timeout=TIMEOUT)
    if page != "overview" and not at.exception:
        at.switch_page(PAGES[page]).run(timeout=TIMEOUT)
    return at


def figures(at: AppTest) -> dict[str, dict[str, Any]]:
    """Every Plotly figure on the page, by the key given to st.plotly_chart."""
    return {
        element.proto.id.rsplit("-", 1)[-1]: json.loads(element.proto.spec)
        for element in at.get("plotly_chart")
    }


def values(trace: dict[str, Any], axis: str) -> list[Any]:
    """A trace's x or y values; Plotly 6+ writes numeric arrays as base64 `bdata`."""
    raw = trace.get(axis)
    if isinstance(raw, dict) and "bdata" in raw:
        array = np.frombuffer(base64.b64decode(raw["bdata"]), dtype=np.dtype(raw["dtype"]))
        return [float(v) for v in array]
    return list(raw or [])


def same_numbers(left: list[Any], right: list[Any]) -> bool:
    """Equal lists of numbers, NaN/None meaning "undefined" on both sides."""
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        a_missing = a is None or (isinstance(a, float) and math.isnan(a))
        b_missing = b is None or (isinstance(b, float) and math.isnan(b))
        if a_missing or b_missing:
            if a_missing != b_missing:
                return False
        elif not math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9):
            return False
    return True


def texts(elements: Any) -> str:
    """The text of a list of st.info / st.warning / st.error / markdown elements, joined."""
    return "\n".join(str(element.value) for element in elements)


# The builders behind exports.export_frame, by dataset.
EXPORT_BUILDERS = {
    "monthly": "monthly_outcomes",
    "prepost": "prepost_by_program",
    "impact": "impact_by_unit",
}


def count_export_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on in this test, the dataset of each export the app builds, in order."""
    built: list[str] = []
    for dataset, name in EXPORT_BUILDERS.items():
        original = getattr(exports, name)

        def build(*args: Any, _dataset: str = dataset, _original: Any = original, **kw: Any) -> Any:
            built.append(_dataset)
            return _original(*args, **kw)

        monkeypatch.setattr(exports, name, build)
    return built
