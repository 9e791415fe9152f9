"""The benchmark's floor app draws the same elements as the page it stands for.

A ratio against the floor means something only if the floor page holds what the real page
holds: an expander, a toggle or a table the floor dropped would make the floor cheaper and
every ratio worse for no fault of the dashboard.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.web.server.app_discovery import discover_asgi_app

from benchmarks import pages
from benchmarks.common import FLOOR_SCRIPT
from data_access.settings import get_settings

FLOOR_APP = Path(__file__).resolve().parent.parent / "benchmarks" / "floor_app.py"
# Layout only: the floor may group columns and containers its own way.
LAYOUT = {"main", "sidebar", "flex_container", "column", "vertical", "horizontal", "tab"}


def _kinds(node: Any, found: Counter[str]) -> Counter[str]:
    kind = getattr(node, "type", None)
    if kind and kind not in LAYOUT:
        found[kind] += 1
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            _kinds(child, found)
    return found


@pytest.fixture
def sample(monkeypatch: pytest.MonkeyPatch, loaded_sample_sqlite: str) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", loaded_sample_sqlite)
    get_settings.cache_clear()
    st.cache_data.clear()
    yield loaded_sample_sqlite
    get_settings.cache_clear()
    st.cache_data.clear()


def _real_and_floor(
    page: pages.Page, states: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[AppTest, AppTest]:
    """The real page run with `states`, and the floor app (not run yet) drawing its skeleton."""
    real = pages.new_session({"state": states})
    real.switch_page(f"../pages/{page.file}")
    real.run()
    skeletons = tmp_path / "skeletons.json"
    pages.save_skeletons(
        skeletons, {page.name: {"url_path": page.url_path, **pages.skeleton(real)}}
    )
    assert json.loads(skeletons.read_text())
    monkeypatch.setattr(sys, "argv", [str(FLOOR_APP), str(skeletons)])
    return real, AppTest.from_file(str(FLOOR_APP), default_timeout=60)


@pytest.mark.parametrize("page", pages.present_pages(), ids=lambda page: page.file)
def test_the_floor_page_draws_every_element_of_the_real_page(
    page: pages.Page, sample: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, floor = _real_and_floor(page, ["TX", "NY"], tmp_path, monkeypatch)
    assert not pages.problems(real)
    floor.run()
    assert not floor.exception

    assert _kinds(floor.main, Counter()) == _kinds(real.main, Counter())


def test_with_sign_in_configured_the_floor_shows_only_its_sign_in_page(
    sample: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partner's journey on the floor app (benchmarks/worker.py) starts at this page, as
    on the dashboard: signed out, any page's address draws it and nothing else."""
    page = next(p for p in pages.present_pages() if p.url_path == "program_outcomes")
    _, floor = _real_and_floor(page, ["TX"], tmp_path, monkeypatch)
    floor.secrets["auth"] = {"client_id": "floor", "client_secret": "floor"}
    floor.run()
    assert not floor.exception
    assert [button.label for button in floor.button] == ["Sign in"]
    assert not floor.get("plotly_chart") and not floor.get("download_button")


def test_the_floor_is_served_warmed_up_as_the_dashboard_is() -> None:
    """A floor paying for imports in its first request that the dashboard pays at start
    would flatter the dashboard's first visit."""
    found = discover_asgi_app(FLOOR_SCRIPT)
    assert (found.is_asgi_app, found.import_string) == (True, "floor_serve:app")
    # In its own interpreter: an st.App pins process-wide Streamlit config.
    served = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, benchmarks.floor_serve as f; "
            "print(json.dumps([str(f.app.script_path), list(f.FLOOR_MODULES)]))",
        ],
        cwd=FLOOR_SCRIPT.parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    script, warmed = json.loads(served.stdout.strip().splitlines()[-1])
    assert script == str(FLOOR_APP)
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.parse(FLOOR_APP.read_text()).body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    third_party = {
        name for name in imported if name and name.split(".")[0] not in sys.stdlib_module_names
    }
    assert third_party - {"streamlit", "__future__"} == set(warmed)


def test_a_change_of_states_redraws_the_floors_texts_that_name_them(
    sample: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Downloads nothing but texts name the states: a floor that drew its skeleton's words
    whatever the selection changed nothing on screen, and the browser's clock never saw its
    rerun end (the benchmark then waited out its timeout)."""
    page = next(p for p in pages.present_pages() if p.url_path == "downloads")
    real, floor = _real_and_floor(page, ["NY", "TX"], tmp_path, monkeypatch)
    floor.query_params["state"] = ["NY", "TX"]
    floor.run()
    filter_lines = [c.value for c in floor.caption if c.value.startswith("Filters: ")]
    assert filter_lines == [c.value for c in real.caption if c.value.startswith("Filters: ")]
    assert filter_lines[0].startswith("Filters: NY, TX ·")

    states = floor.multiselect(key="floor_filter_states")
    added = next(o for o in states.options if o.split(" ")[0] not in ("NY", "TX"))
    states.set_value([*states.value, added]).run()
    assert not floor.exception
    code = added.split(" ")[0]
    names = ", ".join(sorted(["NY", "TX", code]))
    assert [c.value for c in floor.caption if c.value.startswith("Filters: ")] == [
        filter_lines[0].replace("NY, TX", names)
    ]
    files = [c.value for c in floor.caption if " · file " in c.value]
    assert files and all("-".join(sorted(["NY", "TX", code])) in f for f in files)
