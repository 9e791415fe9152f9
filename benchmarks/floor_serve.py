"""The floor app served the way the dashboard is (dashboard/serve.py):

    streamlit run benchmarks/floor_serve.py -- <skeletons.json>

its modules imported before the server answers, so a fresh floor's first visit carries no
start-up work that a fresh dashboard's no longer does.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# What floor_app.py imports beside Streamlit.
FLOOR_MODULES: Final = ("numpy", "pandas", "plotly.graph_objects", "benchmarks.plotly_payload")


def warm_up() -> None:
    for name in FLOOR_MODULES:
        importlib.import_module(name)


@asynccontextmanager
async def lifespan(_app: st.App) -> AsyncIterator[None]:
    await asyncio.to_thread(warm_up)
    yield


app = st.App(Path(__file__).with_name("floor_app.py"), lifespan=lifespan)
