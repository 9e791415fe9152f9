"""The only place pages get data: cached wrappers around `data_access`.

Every cached function is keyed by the database URL (so a changed DATABASE_URL never serves
another database's figures), by the viewer (so no viewer is served another's figures) and by
the frozen OutcomeFilter, hashed as its canonical JSON (its tuples are sorted, so equal
filters give equal keys). What a viewer may see is decided in data_access, not here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from dashboard import auth
from data_access import access, db, event_study, exports, impact, queries, status
from data_access.access import Viewer
from data_access.errors import DisclosureRefused, OutcomesError
from data_access.filters import OutcomeFilter
from data_access.queries import Scope
from data_access.settings import SettingsError, get_settings
from data_access.vocabulary import Dataset, Dimension, Period, SmallCells

log = logging.getLogger(__name__)


def _ttl() -> int:
    try:
        return get_settings().cache_ttl_seconds
    except SettingsError:
        return 600  # the app shows the settings error itself


TTL = _ttl()
# Keyed by the viewer too: two viewers never share a cached figure.
HASH_FUNCS: dict[str | type[Any], Callable[[Any], Any]] = {
    OutcomeFilter: lambda f: f.model_dump_json(),
    Viewer: lambda v: v.model_dump_json(),
}


VERSION_MARK = "#load="
VERSION_TTL = 2  # seconds a new load may go unnoticed by a read (app.py polls it too)


@st.cache_data(ttl=VERSION_TTL, show_spinner=False)
def _load_version(url: str) -> int:
    return status.load_version(engine=db.get_engine(url))


RUN_KEY = "_dashboard_run_reads"


def begin_run() -> None:
    """A run of the app, or of a fragment, begins: what every read of the run shares (the
    load version, the shell) is read once in it, afresh, so a run never mixes two loads and
    a page's dozen reads make one cache lookup each, not a dozen."""
    st.session_state[RUN_KEY] = {}


def _this_run() -> dict[Any, Any]:
    """This run's shared reads ({} to keep nothing when no run began one, as in a test that
    calls the pages' data functions alone)."""
    kept = st.session_state.get(RUN_KEY)
    return kept if isinstance(kept, dict) else {}


def database_url(*, fresh: bool = False) -> str:
    """The cache key of the database: its URL and its latest load, so a new load is never
    answered from figures cached before it. Read once per run (`begin_run`), or `fresh`: by
    the watch for new loads, whose fragment runs on its own between the app's runs."""
    kept = _this_run()
    if fresh or "url" not in kept:
        url = get_settings().sqlalchemy_url
        kept["url"] = f"{url}{VERSION_MARK}{_load_version(url)}"
    return str(kept["url"])


def _engine(key: str) -> Engine:
    return db.get_engine(key.split(VERSION_MARK, 1)[0])


# -- the viewer ------------------------------------------------------------------------------


def viewer() -> Viewer:
    """This session's viewer (the app's sign-in gate put it there)."""
    return auth.current_viewer()


def _screen() -> SmallCells:
    """What the screen may show: a partner's screen is suppressed as their downloads are
    (data_access enforces it; asking for it here lets screen and download share one cached
    result)."""
    return "suppress" if viewer().is_partner else "show"


# -- the app shell's reads ------------------------------------------------------------------


@dataclass(frozen=True)
class Shell:
    """What every page's shell reads (status, the viewer's states and programs, the month
    range, the last complete month): one cached read per viewer and database load version
    (the URL key holds the version), so a page run makes one cache lookup for all of it."""

    status: status.DatabaseStatus
    states: pd.DataFrame
    programs: pd.DataFrame
    month_bounds: tuple[str, str] | None
    last_complete_month: str | None


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _shell(url: str, who: Viewer) -> Shell:
    engine = _engine(url)
    current = status.database_status(viewer=who, engine=engine)
    if not current.ready:  # nothing else to read; the caller drops this answer
        return Shell(current, pd.DataFrame(), pd.DataFrame(), None, None)
    return Shell(
        status=current,
        states=queries.list_states(viewer=who, engine=engine),
        programs=queries.list_programs(viewer=who, engine=engine),
        month_bounds=queries.month_bounds(viewer=who, engine=engine),
        last_complete_month=queries.last_complete_month(engine=engine),
    )


def _shell_of(who: Viewer) -> Shell:
    kept = _this_run()
    if ("shell", who) not in kept:
        answer = _shell(database_url(), who)
        if not answer.status.ready:
            _shell.clear()
            return answer
        kept["shell", who] = answer
    return kept["shell", who]  # type: ignore[no-any-return]


def shell() -> Shell:
    """This viewer's shell reads for the current load, once per run (a not-ready answer is
    not kept)."""
    return _shell_of(viewer())


def states() -> pd.DataFrame:
    """state_code, state_name of every state the viewer may see."""
    return shell().states


def programs() -> pd.DataFrame:
    """program_id, program_name, state_code, program_model, launched_on, of the viewer's
    states."""
    return shell().programs


def month_bounds() -> tuple[str, str] | None:
    return shell().month_bounds


def last_complete_month() -> str | None:
    """The latest month whose claims are complete (YYYY-MM); later months are provisional."""
    return shell().last_complete_month


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _database_status(url: str, who: Viewer | None) -> status.DatabaseStatus:
    return status.database_status(viewer=who, engine=_engine(url))


def database_status() -> status.DatabaseStatus:
    """Whether the database is loaded (row counts only for leadership and admin viewers);
    a not-ready answer is never kept in the cache, so the app notices as soon as someone
    runs the loader. Callable before sign-in: without a viewer it says only ready or not.
    With a viewer it is the shell's read (one lookup for the whole shell)."""
    who = st.session_state.get(auth.VIEWER_KEY)
    url = database_url()
    if isinstance(who, Viewer):
        try:
            return _shell_of(who).status
        except OutcomesError:  # the lists failed: the status alone, the lists raise later
            pass
    current = _database_status(url, who if isinstance(who, Viewer) else None)
    if not current.ready:
        _database_status.clear()
    return current


# -- figures behind the charts ---------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _outcome_summary(
    url: str,
    who: Viewer,
    filters: OutcomeFilter,
    period: Period | None,
    by: tuple[Dimension, ...],
    scope: Scope,
    with_total: bool,
    small_cells: SmallCells,
) -> pd.DataFrame:
    return queries.outcome_summary(
        viewer=who,
        filters=filters,
        period=period,
        by=by,
        scope=scope,
        with_total=with_total,
        small_cells=small_cells,
        engine=_engine(url),
    )


def outcome_summary(
    filters: OutcomeFilter,
    *,
    period: Period | None = "month",
    by: tuple[Dimension, ...] = (),
    scope: Scope = "filters",
    with_total: bool = False,
    for_download: bool = False,
) -> pd.DataFrame:
    """queries.outcome_summary for this viewer: on screen as the viewer may see it, and for a
    download always with small cells suppressed."""
    small_cells: SmallCells = "suppress" if for_download else _screen()
    return _outcome_summary(
        database_url(), viewer(), filters, period, tuple(by), scope, with_total, small_cells
    )


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _enrolled_members(url: str, who: Viewer, filters: OutcomeFilter) -> int | None:
    return queries.enrolled_members(
        viewer=who,
        filters=filters,
        small_cells="suppress" if who.is_partner else "show",
        engine=_engine(url),
    )


def enrolled_members(filters: OutcomeFilter) -> int | None:
    """Distinct enrolled members; None when suppressed."""
    return _enrolled_members(database_url(), viewer(), filters)


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _previous_period(url: str, who: Viewer, filters: OutcomeFilter) -> OutcomeFilter | None:
    return queries.previous_period(filters, viewer=who, engine=_engine(url))


def previous_period(filters: OutcomeFilter) -> OutcomeFilter | None:
    return _previous_period(database_url(), viewer(), filters)


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _impact(url: str, who: Viewer, filters: OutcomeFilter, small_cells: SmallCells) -> pd.DataFrame:
    return impact.impact_by_unit(
        viewer=who, filters=filters, small_cells=small_cells, engine=_engine(url)
    )


def impact_rows(filters: OutcomeFilter, *, for_download: bool = False) -> pd.DataFrame:
    """The impact export's rows (each program, model and all programs against their matched
    comparison) for this viewer: on screen as the viewer may see them, downloads suppressed."""
    small_cells: SmallCells = "suppress" if for_download else _screen()
    return _impact(database_url(), viewer(), filters, small_cells)


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _event_study(
    url: str, who: Viewer, filters: OutcomeFilter, small_cells: SmallCells
) -> pd.DataFrame:
    return event_study.event_study(
        viewer=who, filters=filters, small_cells=small_cells, engine=_engine(url)
    )


def event_study_rows(filters: OutcomeFilter, *, for_download: bool = False) -> pd.DataFrame:
    """The matched enrollments month by month against their comparison, per program model
    and all programs (event_study.EVENT_STUDY_COLUMNS), as `impact_rows` serves them."""
    small_cells: SmallCells = "suppress" if for_download else _screen()
    return _event_study(database_url(), viewer(), filters, small_cells)


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _balance(
    url: str, who: Viewer, filters: OutcomeFilter, small_cells: SmallCells
) -> pd.DataFrame:
    return event_study.balance_by_unit(
        viewer=who, filters=filters, small_cells=small_cells, engine=_engine(url)
    )


def balance_rows(filters: OutcomeFilter, *, for_download: bool = False) -> pd.DataFrame:
    """Each matching variable's standardized difference before and after matching, per
    program, model and all programs (event_study.BALANCE_COLUMNS)."""
    small_cells: SmallCells = "suppress" if for_download else _screen()
    return _balance(database_url(), viewer(), filters, small_cells)


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _export_frame(
    url: str, who: Viewer, dataset: Dataset, filters: OutcomeFilter, small_cells: SmallCells
) -> pd.DataFrame:
    return exports.export_frame(
        dataset=dataset, filters=filters, viewer=who, small_cells=small_cells, engine=_engine(url)
    )


def export_frame(
    dataset: Dataset, filters: OutcomeFilter, *, unsuppressed: bool = False
) -> pd.DataFrame:
    """Exactly the rows of the CLI export (monthly or prepost) for these filters and this
    viewer: suppressed unless a leadership or admin viewer asks for `unsuppressed`."""
    small_cells: SmallCells = "show" if unsuppressed and viewer().may_unsuppress else "suppress"
    return _export_frame(database_url(), viewer(), dataset, filters, small_cells)


@st.cache_data(ttl=TTL, show_spinner=False, hash_funcs=HASH_FUNCS)
def _export_rows(url: str, who: Viewer, dataset: Dataset, filters: OutcomeFilter) -> int:
    return exports.export_rows(dataset=dataset, filters=filters, viewer=who, engine=_engine(url))


def export_rows(dataset: Dataset, filters: OutcomeFilter) -> int:
    """How many rows the export (and so its file, suppressed or not) has, counted without
    building it: a page can say the size of a file nobody has asked for yet."""
    return _export_rows(database_url(), viewer(), dataset, filters)


def export_columns(dataset: Dataset, *, unsuppressed: bool = False) -> list[str]:
    """The columns of `export_frame(dataset, ..., unsuppressed=...)`, in order."""
    small_cells: SmallCells = "show" if unsuppressed and viewer().may_unsuppress else "suppress"
    return exports.export_columns(dataset=dataset, viewer=viewer(), small_cells=small_cells)


def export_csv(dataset: Dataset, filters: OutcomeFilter, *, unsuppressed: bool = False) -> str:
    """The export's CSV text, written by the one CSV writer."""
    return exports.to_csv_text(export_frame(dataset, filters, unsuppressed=unsuppressed))


def csv_text(frame: pd.DataFrame) -> str:
    """Another cut of the data (map, ranking, trend by quarter) in the export's CSV format."""
    return exports.to_csv_text(frame)


# -- downloads, prepared when clicked --------------------------------------------------------
#
# A download button gets a zero-argument callable that Streamlit runs only when the file is
# asked for, in a thread of its own without the script's context (no session state, no
# st.user, no st.* calls). So each `*_download` below captures the database key and the
# viewer NOW, at render time, and calls the cached function with them explicitly: a page that
# is only drawn computes nothing for its downloads, and a click shares the page's cache.

Rows = Callable[[], pd.DataFrame]


class DownloadFailed(RuntimeError):
    """A download could not be prepared; the details (SQL included) are in the server log."""


def derived(rows: Rows, then: Callable[[pd.DataFrame], pd.DataFrame]) -> Rows:
    """`rows`, then `then` (pandas only: it runs outside the script, like `rows`)."""
    return lambda: then(rows())


def summary_download(
    filters: OutcomeFilter,
    *,
    period: Period | None = "month",
    by: tuple[Dimension, ...] = (),
    scope: Scope = "filters",
    with_total: bool = False,
) -> Rows:
    """`outcome_summary(..., for_download=True)`, computed when called."""
    return partial(
        _outcome_summary,
        database_url(),
        viewer(),
        filters,
        period,
        tuple(by),
        scope,
        with_total,
        "suppress",
    )


def impact_download(filters: OutcomeFilter) -> Rows:
    """`impact_rows(filters, for_download=True)`, computed when called."""
    return partial(_impact, database_url(), viewer(), filters, "suppress")


def event_study_download(filters: OutcomeFilter) -> Rows:
    """`event_study_rows(filters, for_download=True)`, computed when called."""
    return partial(_event_study, database_url(), viewer(), filters, "suppress")


def balance_download(filters: OutcomeFilter) -> Rows:
    """`balance_rows(filters, for_download=True)`, computed when called."""
    return partial(_balance, database_url(), viewer(), filters, "suppress")


def export_download(
    dataset: Dataset, filters: OutcomeFilter, *, unsuppressed: bool = False
) -> Rows:
    """`export_frame(...)`, computed when called: the CLI export's rows."""
    small_cells: SmallCells = "show" if unsuppressed and viewer().may_unsuppress else "suppress"
    return partial(_export_frame, database_url(), viewer(), dataset, filters, small_cells)


def csv_file(
    rows: Rows,
    *,
    dataset: str,
    filters: OutcomeFilter | None,
    suppressed: bool = True,
    detail: str | None = None,
) -> Callable[[], str]:
    """The download button's data: when clicked, the rows, written by the one CSV writer, and
    one audit row (who, what, which filters, how many rows) for the file produced.

    The viewer and the database are taken now; the callable touches no Streamlit state."""
    url, who = database_url(), viewer()

    def produce() -> str:
        try:
            frame = rows()
            text = exports.to_csv_text(frame)
            access.record_download(
                viewer=who,
                dataset=dataset,
                filters=filters,
                rows=len(frame),
                suppressed=suppressed,
                detail=detail,
                engine=_engine(url),
            )
        except DisclosureRefused as exc:
            # A refusal is no failure: its plain reason is what the viewer reads.
            raise DownloadFailed(
                f"The {dataset} download is withheld. {exc.viewer_message}"
            ) from None
        except Exception:
            log.exception("Could not prepare the download %s", dataset)
            # Streamlit shows a failed download as an error; the SQL stays in the log.
            raise DownloadFailed(f"The {dataset} download could not be prepared.") from None
        return text

    return produce


def record_refused_states(states: list[str]) -> None:
    """Audit a link or request that named states outside the viewer's grant."""
    who = viewer()
    access.record_event(
        email=who.email,
        role=who.role,
        event="states_dropped",
        detail=", ".join(states),
        engine=_engine(database_url()),
    )


def file_name(dataset: str, filters: OutcomeFilter) -> str:
    return exports.export_filename(dataset, filters)


def runout_months() -> int:
    return get_settings().runout_months


def small_cell_threshold() -> int:
    return get_settings().small_cell_threshold


def clear_caches() -> None:
    st.cache_data.clear()
    status.forget_schema_checks()


# -- failure containment ---------------------------------------------------------------------


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Run one chart's data call and drawing; a failure shows an error for that chart only.

    Streamlit's own control flow (st.stop, st.rerun) derives from BaseException and passes.
    """
    try:
        yield
    except DisclosureRefused as exc:
        st.info(exc.viewer_message, icon=":material/visibility_off:")
    except OutcomesError as exc:
        log.warning("Could not show %s: %s", what, exc)
        st.error(f"Could not show {what}. {exc.viewer_message}", icon=":material/error:")
    except Exception:
        log.exception("Failed to show %s", what)
        st.error(
            f"Could not show {what}: an unexpected error occurred (details in the server log).",
            icon=":material/error:",
        )
