"""The only place pages get data: cached wrappers around `data_access`.

Every cached function is keyed by the database URL (so a changed DATABASE_URL never serves
another database's figures) and by the frozen OutcomeFilter, hashed as its canonical JSON
(its tuples are sorted, so equal filters give equal keys).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import pandas as pd
import streamlit as st

from data_access import db, exports, queries
from data_access.filters import OutcomeFilter
from data_access.settings import SettingsError, get_settings

log = logging.getLogger(__name__)

Period = Literal["month", "quarter", "year"]
By = Literal["state_code", "program_model", "program_id", "population"]
Dataset = Literal["monthly", "prepost"]


def _ttl() -> int:
    try:
        return get_settings().cache_ttl_seconds
    except SettingsError:
        return 600  # the app shows the settings error itself


TTL = _ttl()
HASH_FUNCS: dict[str | type[Any], Callable[[Any], Any]] = {
    OutcomeFilter: lambda f: f.model_dump_json()
}


def database_url() -> str:
    return get_settings().sqlalchemy_url


def _engine(url: str) -> db.Engine:
    return db.get_engine(url)


# -- reference lists -------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def _states(url: str) -> pd.DataFrame:
    return queries.list_states(engine=_engine(url))


def states() -> pd.DataFrame:
    """state_code, state_name of every state in the database."""
    return _states(database_url())


@st.cache_data(ttl=TTL, show_spinner=False)
def _programs(url: str) -> pd.DataFrame:
    return queries.list_programs(engine=_engine(url))


def programs() -> pd.DataFrame:
    """program_id, program_name, state_code, program_model, launched_on."""
    return _programs(database_url())


@st.cache_data(ttl=TTL, show_spinner=False)
def _month_bounds(url: str) -> tuple[str, str] | None:
    return queries.month_bounds(engine=_engine(url))


def month_bounds() -> tuple[str, str] | None:
    return _month_bounds(database_url())


@st.cache_data(ttl=TTL, show_spinner=False)
def _database_status(url: str) -> queries.DatabaseStatus:
    return queries.database_status(engine=_engine(url))


def database_status() -> queries.DatabaseStatus:
    """Whether the database is loaded; a not-ready answer is never kept in the cache,
    so the app notices as soon as someone runs the loader."""
    status = _database_status(database_url())
    if not status.ready:
        _database_status.clear()
    return status


# -- figures behind the charts ---------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _outcome_summary(
    url: str, filters: OutcomeFilter, period: Period | None, by: tuple[By, ...]
) -> pd.DataFrame:
    return queries.outcome_summary(filters=filters, period=period, by=by, engine=_engine(url))


def outcome_summary(
    filters: OutcomeFilter, *, period: Period | None = "month", by: tuple[By, ...] = ()
) -> pd.DataFrame:
    return _outcome_summary(database_url(), filters, period, tuple(by))


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _enrolled_members(url: str, filters: OutcomeFilter) -> int:
    return int(queries.enrolled_members(filters=filters, engine=_engine(url)))


def enrolled_members(filters: OutcomeFilter) -> int:
    return _enrolled_members(database_url(), filters)


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _previous_period(url: str, filters: OutcomeFilter) -> OutcomeFilter | None:
    return queries.previous_period(filters, engine=_engine(url))


def previous_period(filters: OutcomeFilter) -> OutcomeFilter | None:
    return _previous_period(database_url(), filters)


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _export_frame(url: str, dataset: Dataset, filters: OutcomeFilter) -> pd.DataFrame:
    return exports.export_frame(dataset=dataset, filters=filters, engine=_engine(url))


def export_frame(dataset: Dataset, filters: OutcomeFilter) -> pd.DataFrame:
    """Exactly the rows of the CLI export (monthly or prepost) for these filters."""
    return _export_frame(database_url(), dataset, filters)


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _export_csv(url: str, dataset: Dataset, filters: OutcomeFilter) -> str:
    return exports.to_csv_text(_export_frame(url, dataset, filters))


def export_csv(dataset: Dataset, filters: OutcomeFilter) -> str:
    """The export's CSV text, written by the one CSV writer."""
    return _export_csv(database_url(), dataset, filters)


def csv_text(frame: pd.DataFrame) -> str:
    """Another cut of the data (map, ranking, trend by quarter) in the export's CSV format."""
    return exports.to_csv_text(frame)


def file_name(dataset: str, filters: OutcomeFilter) -> str:
    return exports.export_filename(dataset, filters)


def clear_caches() -> None:
    st.cache_data.clear()


# -- failure containment ---------------------------------------------------------------------


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Run one chart's data call and drawing; a failure shows an error for that chart only.

    Streamlit's own control flow (st.stop, st.rerun) derives from BaseException and passes.
    """
    try:
        yield
    except (db.QueryError, db.DatabaseNotReady) as exc:
        st.error(f"Could not show {what}. {exc}", icon=":material/error:")
    except Exception:
        log.exception("Failed to show %s", what)
        st.error(
            f"Could not show {what}: an unexpected error occurred (details in the server log).",
            icon=":material/error:",
        )
