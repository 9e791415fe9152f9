"""The sidebar filters, kept in st.session_state across pages and mirrored in the URL.

The URL is read once, when a session starts (a shared link opens a new session); from then
on the widgets own the values and every run writes them back to the query string, because
Streamlit clears the query string when the user moves to another page.

Query parameters (repeated or comma-separated lists):
    state=TX&state=NY   model=whole_health   program=<program_id>   condition=substance_use
    from=YYYY-MM   to=YYYY-MM   setting=all|behavioral|medical
A list parameter left out means "all"; present but blank (`state=`) means "none selected".

A state partner chooses from the lattice of `access.partner_choice_problem`: in each filter
everything or one value, and whole calendar years (docs/disclosure.md). Their sidebar offers
single choices and a range of years, and a link asking for more is narrowed to "all" of that
filter (months widened to whole years), each change said in the link's notice.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.formatting import CONDITION_LABELS, GROUP_LABELS, SETTING_LABELS
from dashboard.memo import kept
from data_access import queries
from data_access.filters import OutcomeFilter
from data_access.queries import complete_year_end as complete_year_end  # for the pages
from data_access.queries import whole_years as whole_years  # for the pages
from data_access.vocabulary import (
    DEFAULT_MONTHS,
    MONTH_PATTERN,
    NOT_ENROLLED,
    PRIMARY_CONDITIONS,
    PROGRAM_GROUPS,
    PROGRAM_MODELS,
    SETTINGS,
)

# URL query-string names.
P_STATE: Final = "state"
P_MODEL: Final = "model"
P_PROGRAM: Final = "program"
P_CONDITION: Final = "condition"
P_FROM: Final = "from"
P_TO: Final = "to"
P_SETTING: Final = "setting"
QUERY_PARAMS: Final = (P_STATE, P_MODEL, P_PROGRAM, P_CONDITION, P_FROM, P_TO, P_SETTING)
# Streamlit's own embedding options may be in any URL; they are not ours to judge.
IGNORED_PARAMS: Final = frozenset({"embed", "embed_options"})

# Widget keys (stable: the session state and the browser tests rely on them).
K_STATES: Final = "filter_states"
K_MODELS: Final = "filter_models"
K_PROGRAMS: Final = "filter_programs"
K_CONDITIONS: Final = "filter_conditions"
K_MONTHS: Final = "filter_months"
K_SETTING: Final = "filter_setting"
K_COMPARISON: Final = "filter_comparison"  # a partner's: the not-enrolled rows in or out
K_YEARS: Final = "filter_years"  # a partner's range of whole calendar years
K_FILTER: Final = "outcome_filter"  # the OutcomeFilter the pages read
K_NOTICES: Final = "url_notices"
K_STARTED: Final = "filters_started"

# The first option of a partner's single-choice filter: every value of it.
ALL: Final = "all"
PARTNER_NOTE: Final = (
    "As a state partner you choose everything or one value in each filter, and whole "
    "calendar years, so that no two views can be subtracted to reveal a count that "
    "small-cell suppression hides (see About the data)."
)
NARROWED_WHY: Final = (
    "State partners choose everything or one value in each filter, so that no two views can "
    "be subtracted to reveal a small count."
)
WIDENED_WHY: Final = (
    "State partners choose whole calendar years, so that no two views can be subtracted to "
    "reveal a small count."
)


@dataclass(frozen=True)
class Options:
    """What can be chosen, from the database."""

    states: dict[str, str]  # state_code -> state_name, of the states the viewer may see
    programs: pd.DataFrame  # program_id, program_name, state_code, program_model
    months: list[str]  # every YYYY-MM from the first to the last month with data
    # The latest month whose claims are complete (later ones are provisional), if known.
    last_complete: str | None = None
    granted_only: bool = False  # a state partner's options: other states are not offered

    @functools.cached_property
    def _program_labels(self) -> dict[str, str]:
        # Once per options object: the sidebar's program list formats every option each run.
        labels: dict[str, str] = {}
        columns = ("program_id", "program_name", "state_code", "program_model")
        for program_id, name, state, model in zip(
            *(self.programs[c] for c in columns), strict=True
        ):
            labels.setdefault(program_id, f"{name} ({state}, {GROUP_LABELS[model]})")
        return labels

    def program_label(self, program_id: str) -> str:
        return self._program_labels.get(program_id, program_id)

    @functools.cached_property
    def _programs_in_order(self) -> list[tuple[str, str, str]]:
        ordered = self.programs.sort_values(["state_code", "program_name"], kind="stable")
        columns = ("state_code", "program_model", "program_id")
        return list(zip(*(ordered[c] for c in columns), strict=True))

    def programs_within(self, states: Iterable[str], models: Iterable[str]) -> list[str]:
        """The programs of these states and models, by state, then name."""
        in_states, in_models = set(states), set(models)
        return [
            program_id
            for state, model, program_id in self._programs_in_order
            if state in in_states and model in in_models
        ]


@dataclass
class Selection:
    """The sidebar's values; lists hold codes, `months` is an inclusive (from, to) pair."""

    states: list[str]
    models: list[str]
    programs: list[str]
    conditions: list[str]
    months: tuple[str, str]
    setting: str = "all"
    notices: list[str] = field(default_factory=list)
    refused_states: list[str] = field(default_factory=list)  # asked for, outside the grant


def months_between(first: str, last: str) -> list[str]:
    periods = pd.period_range(pd.Period(first, "M"), pd.Period(last, "M"), freq="M")
    return [p.strftime("%Y-%m") for p in periods]


def load_options() -> Options:
    """The viewer's options for the current load: the same object for every run that reads
    the same lists, so what it works out once (labels, the programs in order) is kept."""
    return _options(
        data.states(),
        data.programs(),
        data.month_bounds(),
        data.last_complete_month(),
        granted_only=data.viewer().is_partner,
    )


@kept
def _options(
    states: pd.DataFrame,
    programs: pd.DataFrame,
    bounds: tuple[str, str] | None,
    last_complete: str | None,
    *,
    granted_only: bool,
) -> Options:
    return Options(
        states=dict(zip(states["state_code"], states["state_name"], strict=True)),
        programs=programs,
        months=months_between(*bounds) if bounds else [],
        last_complete=last_complete,
        granted_only=granted_only,
    )


def default_months(months: Sequence[str], last_complete: str | None) -> tuple[str, str]:
    """The latest DEFAULT_MONTHS complete months: recent enough for the headline figures,
    ending before the provisional months (claims still arriving), and with months before
    them so the overview can show a change."""
    if not months:
        return "", ""
    # data_access's rule: the load stores the impact replicates of this window.
    return queries.default_window(months[0], months[-1], last_complete)


def years_of(months: Sequence[str]) -> list[str]:
    """The calendar years (YYYY) of these months, in order."""
    return list(dict.fromkeys(month[:4] for month in months))


def last_complete_year(bounds: tuple[str, str] | None, last_complete: str | None) -> int | None:
    """The latest calendar year all of whose 12 months are loaded (within `bounds`, the first
    and last month with data) and complete (up to `last_complete`; later months are
    provisional), with the whole year before it loaded too: the pair a year-over-year change
    compares. None when the data hold no two such years."""
    if bounds is None:
        return None
    first, last = bounds
    year = queries.complete_year(last, last_complete)
    return year if f"{year - 1}-01" >= first else None


def default_years(months: Sequence[str], last_complete: str | None) -> tuple[str, str]:
    """A partner's opening years (queries.partner_years)."""
    if not months:
        return "", ""
    # data_access's rule: the load stores each state's opening sums of these years.
    return queries.partner_years(months[0], months[-1], last_complete)


def default_range(options: Options) -> tuple[str, str]:
    """The months the sidebar opens on: whole years for a partner, else the latest
    DEFAULT_MONTHS complete months."""
    if options.granted_only:
        years = default_years(options.months, options.last_complete)
        return whole_years(*years) if years[0] else ("", "")
    return default_months(options.months, options.last_complete)


def default_selection(options: Options) -> Selection:
    months = default_range(options)
    return Selection(
        states=list(options.states),
        models=list(PROGRAM_GROUPS),
        programs=[],
        conditions=list(PRIMARY_CONDITIONS),
        months=months,
    )


# -- the URL ---------------------------------------------------------------------------------


def _values(raw: Sequence[str]) -> list[str]:
    """Repeated and comma-separated values, in order, without blanks or repeats."""
    values: list[str] = []
    for item in raw:
        values += [part.strip() for part in item.split(",") if part.strip()]
    return list(dict.fromkeys(values))


def _known(
    name: str,
    raw: Sequence[str],
    allowed: Sequence[str],
    notices: list[str],
    *,
    upper: bool = False,
) -> list[str]:
    values = _values(raw)
    if upper:
        values = [v.upper() for v in values]
    kept = [v for v in values if v in allowed]
    dropped = [v for v in values if v not in allowed]
    if dropped:
        notices.append(
            f"`{name}`: ignored unknown value{'s' if len(dropped) > 1 else ''} "
            f"{', '.join(repr(v) for v in dropped)}."
        )
        if not kept:
            # A link that asked for something, all of it unknown, is not a request for
            # nothing: show everything rather than an empty page.
            notices[-1] += " Showing all."
            return list(allowed)
    return [v for v in allowed if v in kept]  # the options' order


def _one_or_all(
    name: str,
    chosen: list[str],
    everything: Sequence[str],
    all_words: str,
    labels: Mapping[str, str],
    notices: list[str],
) -> list[str]:
    """A state partner's list: one value or all of them; more than one but not all, or none,
    becomes all of them, said in a notice."""
    if len(chosen) == 1 or set(chosen) == set(everything):
        return chosen
    asked = f"asked for {', '.join(labels.get(v, v) for v in chosen)}" if chosen else "none chosen"
    notices.append(f"`{name}`: {asked}; showing {all_words} instead. {NARROWED_WHY}")
    return list(everything)


def _partner_models(chosen: list[str], notices: list[str]) -> list[str]:
    """A state partner's program models: one or all four, the not-enrolled rows in or out."""
    enrolled = [m for m in chosen if m != NOT_ENROLLED]
    if not chosen:
        notices.append(f"`{P_MODEL}`: none chosen; showing all program models. {NARROWED_WHY}")
        return list(PROGRAM_GROUPS)
    if len(enrolled) <= 1 or set(enrolled) == set(PROGRAM_MODELS):
        return chosen
    notices.append(
        f"`{P_MODEL}`: asked for {', '.join(GROUP_LABELS[m] for m in enrolled)}; showing all "
        f"program models instead. {NARROWED_WHY}"
    )
    return [g for g in PROGRAM_GROUPS if g in PROGRAM_MODELS or g in chosen]


def selection_from_query(params: Mapping[str, Sequence[str]], options: Options) -> Selection:
    """The selection a URL asks for; anything unknown or malformed is dropped with a notice,
    and a state partner's link is brought into the partner's choices with a notice."""
    partner = options.granted_only
    selection = default_selection(options)
    notices = selection.notices
    for name in params:
        if name not in QUERY_PARAMS and name.lower() not in IGNORED_PARAMS:
            notices.append(f"`{name}`: not a filter of this dashboard; ignored.")
    if P_STATE in params:
        if partner:
            # Whether a state outside the grant exists is itself not the partner's to learn.
            asked = [v.upper() for v in _values(params[P_STATE])]
            selection.refused_states = [v for v in asked if v not in options.states]
            if selection.refused_states:
                notices.append(
                    f"`{P_STATE}`: left out {', '.join(selection.refused_states)}: your access "
                    f"covers {', '.join(options.states)} only."
                )
            kept = [v for v in options.states if v in asked]
            selection.states = (
                _one_or_all(P_STATE, kept, list(options.states), "all your states", {}, notices)
                if kept
                else list(options.states)
            )
        else:
            selection.states = _known(
                P_STATE, params[P_STATE], list(options.states), notices, upper=True
            )
    if P_MODEL in params:
        selection.models = _known(P_MODEL, params[P_MODEL], list(PROGRAM_GROUPS), notices)
        if partner:
            selection.models = _partner_models(selection.models, notices)
    if P_CONDITION in params:
        selection.conditions = _known(
            P_CONDITION, params[P_CONDITION], list(PRIMARY_CONDITIONS), notices
        )
        if partner:
            selection.conditions = _one_or_all(
                P_CONDITION,
                selection.conditions,
                PRIMARY_CONDITIONS,
                "all primary conditions",
                CONDITION_LABELS,
                notices,
            )
    if P_PROGRAM in params:
        within = options.programs_within(selection.states, selection.models)
        wanted = _values(params[P_PROGRAM])
        unknown = [p for p in wanted if p not in set(options.programs["program_id"])]
        outside = [p for p in wanted if p not in within and p not in unknown]
        if unknown:
            notices.append(
                f"`{P_PROGRAM}`: ignored unknown program {', '.join(map(repr, unknown))}."
            )
        if outside:
            notices.append(
                f"`{P_PROGRAM}`: ignored {', '.join(map(repr, outside))}, not in the selected "
                "states and program models."
            )
        selection.programs = [p for p in within if p in wanted]
        if partner and len(selection.programs) > 1:
            notices.append(
                f"`{P_PROGRAM}`: asked for {', '.join(selection.programs)}; showing all "
                f"programs instead. {NARROWED_WHY}"
            )
            selection.programs = []
    if P_SETTING in params:
        setting = (_values(params[P_SETTING]) or [""])[-1]
        if setting in SETTINGS:
            selection.setting = setting
        else:
            notices.append(f"`{P_SETTING}`: ignored {setting!r}; use all, behavioral or medical.")
    selection.months = _months_from_query(params, options, notices) or selection.months
    return selection


def _months_from_query(
    params: Mapping[str, Sequence[str]], options: Options, notices: list[str]
) -> tuple[str, str] | None:
    if not options.months or (P_FROM not in params and P_TO not in params):
        return None
    first, last = options.months[0], options.months[-1]
    if options.granted_only:
        # A partner's own link ends in December, which may be after the data's last month.
        years = years_of(options.months)
        first, last = whole_years(years[0], years[-1])
    defaults = default_range(options)
    chosen = dict(zip((P_FROM, P_TO), defaults, strict=True))
    for name in (P_FROM, P_TO):
        if name not in params:
            continue
        value = (_values(params[name]) or [""])[-1]
        if not MONTH_PATTERN.match(value):
            notices.append(f"`{name}`: ignored {value!r}; months are written YYYY-MM.")
        elif value < first or value > last:
            notices.append(f"`{name}`: ignored {value}, outside the data ({first} to {last}).")
        else:
            chosen[name] = value
    if chosen[P_FROM] > chosen[P_TO]:
        notices.append(f"`from` {chosen[P_FROM]} is after `to` {chosen[P_TO]}; ignored both.")
        return defaults
    months = chosen[P_FROM], chosen[P_TO]
    if options.granted_only:
        widened = whole_years(months[0][:4], months[1][:4])
        if widened != months:
            notices.append(
                f"`{P_FROM}`, `{P_TO}`: widened {months[0]} to {months[1]} to whole calendar "
                f"years, {widened[0]} to {widened[1]}. {WIDENED_WHY}"
            )
        return widened
    return months


def query_from_selection(selection: Selection, options: Options) -> dict[str, list[str]]:
    """The query string of a selection: lists only when they differ from "all"."""
    params: dict[str, list[str]] = {}
    for name, chosen, everything in (
        (P_STATE, selection.states, list(options.states)),
        (P_MODEL, selection.models, list(PROGRAM_GROUPS)),
        (P_CONDITION, selection.conditions, list(PRIMARY_CONDITIONS)),
    ):
        if set(chosen) != set(everything):
            params[name] = list(chosen) or [""]
    if selection.programs:
        params[P_PROGRAM] = list(selection.programs)
    if options.months:
        # Months are always written, so a link keeps its range after newer data is loaded.
        params[P_FROM], params[P_TO] = [selection.months[0]], [selection.months[1]]
    if selection.setting != "all":
        params[P_SETTING] = [selection.setting]
    return params


def outcome_filter(selection: Selection, options: Options) -> OutcomeFilter:
    """The filter of a selection; "all" states or conditions become no restriction."""
    return OutcomeFilter(
        states=None if set(selection.states) == set(options.states) else tuple(selection.states),
        program_models=tuple(selection.models),
        program_ids=tuple(selection.programs) or None,
        conditions=None
        if set(selection.conditions) == set(PRIMARY_CONDITIONS)
        else tuple(selection.conditions),
        month_from=selection.months[0] or None,
        month_to=selection.months[1] or None,
        setting=selection.setting,
    )


def with_comparison(filters: OutcomeFilter) -> OutcomeFilter:
    """The same filter with the not-enrolled comparison population added back."""
    if NOT_ENROLLED in filters.program_models:
        return filters
    return OutcomeFilter.model_validate(
        {**filters.model_dump(), "program_models": (*filters.program_models, NOT_ENROLLED)}
    )


def enrolled_only(filters: OutcomeFilter) -> OutcomeFilter:
    """The same filter over the program models only (the not-enrolled rows left out)."""
    return filters.model_copy(update={"program_models": filters.enrolled_models})


def not_enrolled_only(filters: OutcomeFilter) -> OutcomeFilter:
    """The comparison population of the same states, conditions and months."""
    return filters.model_copy(update={"program_models": (NOT_ENROLLED,)})


def for_state(filters: OutcomeFilter, state_code: str) -> OutcomeFilter:
    return OutcomeFilter.model_validate({**filters.model_dump(), "states": (state_code,)})


# -- the sidebar -----------------------------------------------------------------------------


def _seed_session(selection: Selection, options: Options) -> None:
    if options.granted_only:
        _seed_partner(selection, options)
        return
    st.session_state[K_STATES] = selection.states
    st.session_state[K_MODELS] = selection.models
    st.session_state[K_PROGRAMS] = selection.programs
    st.session_state[K_CONDITIONS] = selection.conditions
    st.session_state[K_MONTHS] = selection.months
    st.session_state[K_SETTING] = selection.setting


def _one(chosen: Sequence[str]) -> str:
    """A partner's single-choice value of a list already narrowed to one value or all."""
    return chosen[0] if len(chosen) == 1 else ALL


def _seed_partner(selection: Selection, options: Options) -> None:
    """The single-choice widgets' values of a selection within the partner's choices."""
    st.session_state[K_STATES] = _one(selection.states) if len(options.states) > 1 else ALL
    enrolled = [m for m in selection.models if m != NOT_ENROLLED]
    st.session_state[K_MODELS] = (
        _one(enrolled) if enrolled else NOT_ENROLLED if selection.models else ALL
    )
    st.session_state[K_COMPARISON] = NOT_ENROLLED in selection.models or not enrolled
    st.session_state[K_PROGRAMS] = _one(selection.programs)
    st.session_state[K_CONDITIONS] = _one(selection.conditions)
    if selection.months[0]:
        st.session_state[K_YEARS] = (selection.months[0][:4], selection.months[1][:4])
    st.session_state[K_SETTING] = selection.setting


def _reset(options: Options) -> None:
    _seed_session(default_selection(options), options)


def _keep_valid(key: str, allowed: Sequence[str]) -> None:
    """Drop values no longer offered (e.g. programs of a state just deselected): a widget
    whose state holds a value outside its options would raise. Written only when one is
    dropped: any write to a widget's key, even of its own value, sends the widget with a
    value to set, which the browser draws afresh (30-100 ms of script per run, four
    widgets)."""
    current = st.session_state.get(key, [])
    offered = set(allowed)
    kept = [v for v in current if v in offered]
    if key not in st.session_state or kept != list(current):
        st.session_state[key] = kept


def _keep_choice(key: str, allowed: Sequence[str]) -> None:
    """A single-choice widget's value no longer offered becomes "all"."""
    if st.session_state.get(key) not in set(allowed):
        st.session_state[key] = ALL


def _current_query() -> dict[str, list[str]]:
    return {name: st.query_params.get_all(name) for name in st.query_params}


def _write_query(params: dict[str, list[str]]) -> None:
    """Set our parameters only, and only when they changed (each write is a browser message)."""
    current = _current_query()
    for name in QUERY_PARAMS:
        if name in params and current.get(name) != params[name]:
            st.query_params[name] = params[name]
        elif name not in params and name in current:
            del st.query_params[name]
    for name in current:
        if name not in QUERY_PARAMS and name.lower() not in IGNORED_PARAMS:
            del st.query_params[name]  # reported once, then gone from the link


def render_sidebar(options: Options) -> OutcomeFilter:
    """Draw the filters, keep the URL in step, and store the OutcomeFilter for the pages."""
    if not st.session_state.get(K_STARTED):
        selection = selection_from_query(_current_query(), options)
        _seed_session(selection, options)
        st.session_state[K_NOTICES] = selection.notices
        st.session_state[K_STARTED] = True
        if selection.refused_states:
            data.record_refused_states(selection.refused_states)
    else:
        st.session_state[K_NOTICES] = []

    sidebar = st.sidebar
    sidebar.header("Filters")
    if options.granted_only:
        states, models, programs, conditions, months = _partner_filters(options)
    else:
        states, models, programs, conditions, months = _filters(options)
    setting: str = sidebar.radio(
        "Inpatient setting",
        list(SETTINGS),
        key=K_SETTING,
        format_func=lambda code: SETTING_LABELS[code],
        help="Limits the admission measures (admissions, inpatient days, length of stay, "
        "readmissions, paid per admission) to behavioral or medical stays. Costs per member "
        "always count every admission and claim.",
    )
    if options.granted_only:
        sidebar.caption(PARTNER_NOTE)
    sidebar.button("Reset filters", on_click=_reset, args=(options,), key="filter_reset")
    sidebar.caption("The address bar holds these filters: copy it to share this view.")

    selection = Selection(states, models, programs, conditions, months, setting)
    _write_query(query_from_selection(selection, options))
    filters = outcome_filter(selection, options)
    st.session_state[K_FILTER] = filters
    return filters


Choices = tuple[list[str], list[str], list[str], list[str], tuple[str, str]]


def _filters(options: Options) -> Choices:
    """Leadership's and admins' filters: any states, models, programs and conditions, and any
    range of months."""
    sidebar = st.sidebar
    _keep_valid(K_STATES, list(options.states))
    states: list[str] = sidebar.multiselect(
        "States",
        list(options.states),
        key=K_STATES,
        format_func=lambda code: f"{code} · {options.states.get(code, code)}",
        placeholder="Choose one or more states",
    )
    _keep_valid(K_MODELS, list(PROGRAM_GROUPS))
    models: list[str] = sidebar.multiselect(
        "Program models",
        list(PROGRAM_GROUPS),
        key=K_MODELS,
        format_func=lambda code: GROUP_LABELS[code],
        help="Not enrolled is the comparison population: members of the same states "
        "who were in no program that month.",
        placeholder="Choose one or more program models",
    )
    within = options.programs_within(states, models)
    _keep_valid(K_PROGRAMS, within)
    programs: list[str] = sidebar.multiselect(
        "Programs",
        within,
        key=K_PROGRAMS,
        format_func=options.program_label,
        placeholder="All programs",
        help="Leave empty for every program. Programs never restrict the not-enrolled rows.",
    )
    _keep_valid(K_CONDITIONS, list(PRIMARY_CONDITIONS))
    conditions: list[str] = sidebar.multiselect(
        "Primary condition",
        list(PRIMARY_CONDITIONS),
        key=K_CONDITIONS,
        format_func=lambda code: CONDITION_LABELS[code],
        placeholder="Choose one or more conditions",
    )
    return states, models, programs, conditions, _month_range(options)


def _partner_filters(options: Options) -> Choices:
    """A state partner's filters: everything or one value in each, and whole calendar years
    (the choices of `access.partner_choice_problem`)."""
    sidebar = st.sidebar
    codes = list(options.states)
    if len(codes) > 1:
        _keep_choice(K_STATES, codes)
        state: str = sidebar.selectbox(
            "States",
            [ALL, *codes],
            key=K_STATES,
            format_func=lambda code: (
                f"All your states ({', '.join(codes)})"
                if code == ALL
                else f"{code} · {options.states.get(code, code)}"
            ),
        )
        states = codes if state == ALL else [state]
    else:
        states = codes
        sidebar.markdown(
            "**State:** "
            + ", ".join(f"{code} · {options.states.get(code, code)}" for code in codes)
        )
    _keep_choice(K_MODELS, list(PROGRAM_GROUPS))
    model: str = sidebar.selectbox(
        "Program model",
        [ALL, *PROGRAM_GROUPS],
        key=K_MODELS,
        format_func=lambda code: (
            "All program models"
            if code == ALL
            else "Not enrolled only (the comparison population)"
            if code == NOT_ENROLLED
            else GROUP_LABELS[code]
        ),
    )
    if model == NOT_ENROLLED:
        st.session_state[K_COMPARISON] = True  # shown, as it is: the only rows chosen
    comparison: bool = sidebar.checkbox(
        "With members not enrolled",
        key=K_COMPARISON,
        disabled=model == NOT_ENROLLED,
        help="Not enrolled is the comparison population: members of the same states who were "
        "in no program that month.",
    )
    enrolled = list(PROGRAM_MODELS) if model == ALL else [] if model == NOT_ENROLLED else [model]
    models: list[str] = [
        g for g in PROGRAM_GROUPS if g in enrolled or (g == NOT_ENROLLED and comparison)
    ]
    within = options.programs_within(states, enrolled)
    _keep_choice(K_PROGRAMS, within)
    program: str = sidebar.selectbox(
        "Program",
        [ALL, *within],
        key=K_PROGRAMS,
        format_func=lambda code: "All programs" if code == ALL else options.program_label(code),
        disabled=not within,
        help="Programs never restrict the not-enrolled rows.",
    )
    _keep_choice(K_CONDITIONS, list(PRIMARY_CONDITIONS))
    condition: str = sidebar.selectbox(
        "Primary condition",
        [ALL, *PRIMARY_CONDITIONS],
        key=K_CONDITIONS,
        format_func=lambda code: (
            "All primary conditions" if code == ALL else CONDITION_LABELS[code]
        ),
    )
    return (
        states,
        models,
        [] if program == ALL else [program],
        list(PRIMARY_CONDITIONS) if condition == ALL else [condition],
        _year_range(options),
    )


def _year_range(options: Options) -> tuple[str, str]:
    """A partner's range of whole calendar years, as its first and last months."""
    years = years_of(options.months)
    if not years:
        return "", ""
    if len(years) == 1:
        st.sidebar.caption(f"Year: {years[0]} (the only year with data)")
        return whole_years(years[0], years[0])
    opening = default_years(options.months, options.last_complete)
    current = st.session_state.get(K_YEARS)
    if (
        not isinstance(current, (tuple, list))
        or len(current) != 2
        or not set(current) <= set(years)
    ):
        st.session_state[K_YEARS] = opening
    chosen: Any = st.sidebar.select_slider(
        "Years",
        years,
        # A two-year default makes it a range slider; the session state set above wins.
        value=opening,
        key=K_YEARS,
        help=f"First and last calendar year, inclusive. Opens on the latest "
        f"{DEFAULT_MONTHS // 12} complete years (the newest months are provisional: their "
        "claims are still arriving); the overview compares them with the years of equal "
        "length just before.",
    )
    return whole_years(str(chosen[0]), str(chosen[1]))


def _month_range(options: Options) -> tuple[str, str]:
    if not options.months:
        return "", ""
    current = st.session_state.get(K_MONTHS)
    if (
        not isinstance(current, (tuple, list))
        or len(current) != 2
        or not set(current) <= set(options.months)
    ):
        st.session_state[K_MONTHS] = default_months(options.months, options.last_complete)
    if len(options.months) == 1:
        st.sidebar.caption(f"Month: {options.months[0]} (the only month with data)")
        return options.months[0], options.months[0]
    chosen: Any = st.sidebar.select_slider(
        "Months",
        options.months,
        # A two-month default makes it a range slider; the session state set above wins.
        value=default_months(options.months, options.last_complete),
        key=K_MONTHS,
        help=f"First and last month, inclusive. Opens on the latest {DEFAULT_MONTHS} complete "
        "months (the newest months are provisional: their claims are still arriving); the "
        "overview compares them with the months of equal length just before.",
    )
    return str(chosen[0]), str(chosen[1])


def show_url_notices() -> None:
    """Tell the user which parts of the link were not understood, or were changed to fit a
    state partner's choices (on the run that read it)."""
    notices: list[str] = st.session_state.get(K_NOTICES, [])
    if notices:
        st.warning(
            "Some filters in the link were not recognised or are not available to you, and "
            "were changed:\n\n" + "\n".join(f"- {notice}" for notice in notices),
            icon=":material/link_off:",
        )


def current_filter() -> OutcomeFilter:
    """The filter of the sidebar (set by the app before the page runs).

    A state partner's "all states" is written out as the granted states, so captions and
    audit rows say what the figures cover (data_access narrows it anyway).
    """
    filters = st.session_state.get(K_FILTER)
    filters = filters if isinstance(filters, OutcomeFilter) else OutcomeFilter()
    viewer = data.viewer()
    if viewer.is_partner and filters.states is None:
        filters = filters.model_copy(update={"states": viewer.states})
    return filters


def require_selection(filters: OutcomeFilter) -> None:
    """Stop the page with an explanation when the filters select nothing."""
    if not filters.selects_nothing:
        return
    missing = [
        name
        for name, chosen in (
            ("a state", filters.states),
            ("a program model", filters.program_models),
            ("a primary condition", filters.conditions),
        )
        if chosen is not None and len(chosen) == 0
    ]
    st.info(
        f"Nothing to show: choose {' and '.join(missing)} in the sidebar filters "
        "(or press Reset filters).",
        icon=":material/filter_alt:",
    )
    st.stop()
