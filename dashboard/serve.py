"""Server entry: `streamlit run dashboard/serve.py` serves the app of dashboard/app.py.

The same app as `streamlit run dashboard/app.py` (which AppTest runs), with the start-up
work moved from the first visitor to the server's start: before the server answers, it
imports the modules every run needs (SQLAlchemy, pydantic, the database driver, plotly's
figures; about 0.5 s) and creates the database engine. A fresh server's first page, a
signed-out visitor's sign-in page included, then costs what any later one does.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

# What app.py and the pages import; the rest of dashboard/ and data_access/ comes with them.
WARM_MODULES: Final = (
    "dashboard.audit",
    "dashboard.auth",
    "dashboard.charts",
    "dashboard.data",
    "dashboard.filters",
    "dashboard.formatting",
    "dashboard.sections",
)
log = logging.getLogger(__name__)


def warm_up() -> None:
    """Import the app's modules and create the settings' engine (its dialect and driver).

    Connects to nothing: a database that is down or not configured yet is the app's to
    report, on the page, when someone looks.
    """
    started = time.perf_counter()
    for name in WARM_MODULES:
        importlib.import_module(name)
    from data_access import db
    from data_access.settings import SettingsError

    try:
        db.get_engine()
    except SettingsError as exc:
        log.warning("No database engine at start (the app will say why): %s", exc)
    log.info("Warmed up in %.2f s", time.perf_counter() - started)


@asynccontextmanager
async def lifespan(_app: st.App) -> AsyncIterator[None]:
    await asyncio.to_thread(warm_up)
    yield


# An absolute path: started by uvicorn instead of `streamlit run`, a relative one would be
# resolved against the working directory.
app = st.App(Path(__file__).with_name("app.py"), lifespan=lifespan)
