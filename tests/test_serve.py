"""dashboard/serve.py: `make run` serves dashboard/app.py, warmed up before the first visitor.

Each check runs in a fresh interpreter: an `st.App` pins process-wide Streamlit config, and
whether a module is imported is only a fact in a process that has not imported it already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.web.server.app_discovery import discover_asgi_app

from tests.browser_helpers import DASHBOARD_SCRIPT

ROOT = Path(__file__).resolve().parent.parent

# Starts the app's ASGI lifespan (as uvicorn does), then reports what the warm-up left.
PROBE = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
sys.path.insert(0, sys.argv[1])
from starlette.testclient import TestClient
from dashboard import serve
watched = ("dashboard.data", "dashboard.charts", "sqlalchemy", "sqlite3", "psycopg")
before = [name for name in watched if name in sys.modules]
with TestClient(serve.app) as client:
    from data_access import db
    print(json.dumps({
        "before": before,
        "after": [name for name in watched if name in sys.modules],
        "engines": sorted(db._ENGINES),
        "health": client.get("/_stcore/health").text,
        "script": str(serve.app.script_path),
    }))
"""


def _probe(database_url: str, tmp_path: Path) -> tuple[dict[str, object], str]:
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)}
    env.pop("STREAMLIT_SECRETS_FILES", None)
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PROBE, str(ROOT)],
        cwd=tmp_path,  # not the repository: nothing may depend on the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_streamlit_run_finds_the_app_in_serve_py() -> None:
    found = discover_asgi_app(DASHBOARD_SCRIPT)
    assert (found.is_asgi_app, found.import_string) == (True, "serve:app")


@pytest.mark.parametrize(
    ("database_url", "engine_url", "driver"),
    [
        ("sqlite:///{tmp}/outcomes.sqlite", "sqlite:///{tmp}/outcomes.sqlite", "sqlite3"),
        # Never created: the warm-up must not connect, only load the dialect and driver.
        (
            "postgresql://postgres@127.0.0.1:5432/not_a_database",
            "postgresql+psycopg://postgres@127.0.0.1:5432/not_a_database",
            "psycopg",
        ),
    ],
    ids=["sqlite", "postgresql"],
)
def test_the_server_imports_the_app_and_creates_its_engine_before_it_answers(
    tmp_path: Path, database_url: str, engine_url: str, driver: str
) -> None:
    report, _log = _probe(database_url.format(tmp=tmp_path), tmp_path)
    assert report == {
        "before": [],
        "after": ["dashboard.data", "dashboard.charts", "sqlalchemy", driver],
        "engines": [engine_url.format(tmp=tmp_path)],
        "health": "ok",
        "script": str(ROOT / "dashboard" / "app.py"),
    }
    assert not (tmp_path / "outcomes.sqlite").exists()  # nothing connected, nothing created


def test_with_settings_in_error_the_server_still_starts_and_logs_why(tmp_path: Path) -> None:
    report, log = _probe("mysql://somewhere/outcomes", tmp_path)
    assert (report["engines"], report["health"]) == ([], "ok")
    assert "dashboard.data" in report["after"]
    assert "WARNING No database engine at start" in log
    assert "DATABASE_URL" in log
