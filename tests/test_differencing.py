"""Issue #14: a state partner cannot work out a small count from two of their own views.

tests/differencing_checks.py lists every cell of every output a partner can ask for, with
what it counts, and reports every pair of shown cells of one column, one counting a part of
what the other counts, whose difference is a count from 1 to 10. The hand-built world of
tests/differencing_world.py has such pairs planted: without the differencing rule the
checker finds them (the product leaks); with it, nothing. Both engines.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from data_access import queries
from data_access.access import Viewer
from data_access.differencing import (
    Enrolled,
    Lattice,
    atom_column,
    members_hidden,
    partner_status,
    prepost_hidden,
    selection_mask,
)
from data_access.filters import OutcomeFilter
from data_access.measures import COUNT_COLUMNS, SUMMED_COLUMNS
from data_access.models import metadata
from data_access.settings import get_settings
from data_access.vocabulary import PROGRAM_GROUPS, PROGRAM_MODELS, SETTINGS
from tests.differencing_checks import Finding, differencing_findings, share_lost
from tests.differencing_world import DIFFERENCING_SPEC, MH, SU, B, Group, M, WorldSpec, build

TX = Viewer(email="tx@example.org", role="state_partner", states=("TX",))

# The views behind the planted pairs (tests/differencing_world.py) and their neighbours:
# whole_health or not_enrolled, every program or TX-WH-1, every condition or
# mental_health, 2021-2022, 2021 or 2022, every setting or behavioral.
PLANTED_VIEWS = [
    OutcomeFilter(
        program_models=models,
        program_ids=programs,
        conditions=conditions,
        month_from=first,
        month_to=last,
        setting=setting,
    )
    for models, programs, conditions, (first, last), setting in itertools.product(
        [("whole_health",), ("not_enrolled",)],
        [None, ("TX-WH-1",)],
        [None, (MH,)],
        [("2021-01", "2022-12"), ("2021-01", "2021-12"), ("2022-01", "2022-12")],
        ["all", "behavioral"],
    )
]

# (column, count, what it counts) of the planted pairs: each is a difference of two shown
# cells, both 11 or more (see tests/differencing_world.py).
PLANTED = {
    # whole_health 2022 (19) minus program TX-WH-1 (14)
    ("admissions", 5, "TX · TX-WH-2 · mental_health · 2022-01..2022-12 · behavioral+medical"),
    # TX-WH-1 2022 under every setting (14) minus behavioral (12)
    ("admissions", 2, "TX · TX-WH-1 · mental_health+substance_use · 2022-01..2022-12 · medical"),
    # TX-WH-1 2022 of every condition (14) minus mental_health (12)
    ("admissions", 2, "TX · TX-WH-1 · substance_use · 2022-01..2022-12 · behavioral+medical"),
    # not enrolled 2021 of every condition (28) minus mental_health (25)
    ("admissions", 3, "TX · not_enrolled · substance_use · 2021-01..2021-12 · behavioral+medical"),
    # not enrolled 2021-2022 (34) minus 2021 (30)
    ("ed_visits", 4, "TX · not_enrolled · mental_health · 2022-01..2022-12 · behavioral+medical"),
    # a month: not enrolled (30) minus mental_health (20); whole_health (19) minus TX-WH-1 (14)
    ("member_months", 10, "TX · not_enrolled · substance_use · 2022-06"),
    ("member_months", 5, "TX · TX-WH-2 · mental_health · 2021-08"),
    # pre/post rows of TX-WH-1: every condition (14) minus mental_health (11)
    ("enrollments", 3, "TX · TX-WH-1 · substance_use · 2021-07"),
    # enrolled members of whole_health (19) minus TX-WH-1 (14)
    ("enrolled_members", 5, "TX · TX-WH-2 · mental_health · 5 members"),
}


@pytest.fixture
def world(engine: Engine) -> Iterator[Engine]:
    get_settings.cache_clear()
    build(engine, DIFFERENCING_SPEC)
    yield engine
    get_settings.cache_clear()


def listed(findings: list[Finding], stats: dict[str, object] | None = None) -> str:
    lines = [str(f) for f in findings[:40]]
    more = [f"... and {len(findings) - 40} more"] if len(findings) > 40 else []
    return "\n".join([f"{len(findings)} findings; {stats or ''}", *lines, *more])


def test_without_the_rule_a_partner_recovers_the_planted_counts(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "DIFFERENCING_RULE", False)
    findings = differencing_findings(world, TX, filters=PLANTED_VIEWS)
    assert {f.kind for f in findings} == {"difference"}, listed(findings)
    recovered = {(f.column, f.value, f.recovered) for f in findings}
    assert recovered >= PLANTED, listed(findings)
    assert all(1 <= f.value <= 10 for f in findings)


@pytest.mark.slow  # 48 views, about 400 calls
@pytest.mark.timeout(1200)
def test_with_the_rule_the_planted_views_give_nothing_away(world: Engine) -> None:
    stats: dict[str, object] = {}
    findings = differencing_findings(world, TX, filters=PLANTED_VIEWS, stats=stats)
    assert findings == [], listed(findings, stats)


@pytest.mark.slow  # every view of the lattice: 2,016 filters, 15 outputs each; minutes
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("zeros_known", [False, True], ids=["pairs", "pairs-and-zeros"])
def test_with_the_rule_no_two_views_of_the_lattice_give_a_small_count_away(
    world: Engine, zeros_known: bool
) -> None:
    # Each cell is asked about in up to 6 of the outputs that hold it (spread over the
    # kinds of output and the choices of models, program and condition); the checker's
    # command line asks about all of them (python -m tests.differencing_checks world).
    # With zeros_known, cells nest by their non-zero parts: a pair read with the zeros
    # that further views show.
    stats: dict[str, object] = {}
    findings = differencing_findings(
        world, TX, budget=6, max_findings=40, stats=stats, zeros_known=zeros_known
    )
    assert findings == [], listed(findings, stats)


def test_the_share_of_default_cells_a_partner_loses(world: Engine) -> None:
    # The default views over 2021 (the latest whole year that ends by the last complete
    # month, 2022-09): without the rule the other rules hide 112 of their 385 count cells;
    # the rule may only hide more. The switch is left as it was.
    before, after = share_lost(world, TX)
    assert before == 112 / 385
    assert before <= after <= 1
    assert queries.DIFFERENCING_RULE is True


# ---------------------------------------------------------------------------------------
# Generated worlds


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@st.composite
def worlds(draw: st.DrawFn) -> WorldSpec:
    """Texas with two whole_health programs and a hot_spotting one, New York and California
    beside it; members per group from none to 24 and admissions per year and setting up to
    20."""
    programs = (
        ("TX-WH-1", "TX", "whole_health"),
        ("TX-WH-2", "TX", "whole_health"),
        ("TX-HS-1", "TX", "hot_spotting"),
        ("NY-EM-1", "NY", "embedded"),
    )
    groups = []
    for program, condition in itertools.product((None, "TX-WH-1", "TX-WH-2", "TX-HS-1"), (MH, SU)):
        label = f"{program or 'not enrolled'} {condition}"
        if (program, condition) == (None, MH):  # first: its first member dates the data
            members = draw(st.integers(11, 24), label=label)
        else:
            members = draw(st.sampled_from((0, 3, 8, 11, 14, 20)), label=label)
        if members:
            admissions = {
                (year, setting): draw(st.integers(0, 20), label=f"{label} {year} {setting}")
                for year in (2021, 2022)
                for setting in (B, M)
            }
            groups.append(Group("TX", program, condition, members, admissions, {2021: 12}))
    groups += [Group("NY", None, MH, 15, {(2021, B): 15}), Group("NY", "NY-EM-1", MH, 12)]
    # A second state outside the grant: the national line is given, and checked too.
    california = draw(st.sampled_from((3, 8, 11, 14)), label="CA not enrolled")
    stays = draw(st.integers(0, 12), label="CA stays")
    groups.append(Group("CA", None, MH, california, {(2021, B): stays}))
    return WorldSpec(programs=programs, groups=tuple(groups))


def _check_generated_world(
    engine: Engine, spec: WorldSpec, data: st.DataObject, zeros_known: bool | None = None
) -> None:
    """`zeros_known` None: drawn (pairs, or pairs read with the zeros of further views)."""
    _reset(engine)
    build(engine, spec)
    get_settings.cache_clear()
    models = data.draw(
        st.sampled_from([("whole_health",), ("hot_spotting",), ("not_enrolled",)]), label="models"
    )
    views = [
        OutcomeFilter(
            program_models=m, program_ids=p, conditions=c, month_from=f, month_to=t, setting=s
        )
        for m, p, c, (f, t), s in itertools.product(
            [models, (*models, "not_enrolled") if models != ("not_enrolled",) else models],
            [None, ("TX-WH-1",), ("TX-HS-1",)],
            [None, (MH,), (SU,)],
            [(None, None), ("2021-01", "2021-12"), ("2022-01", None)],
            ["all", "behavioral", "medical"],
        )
    ]
    if zeros_known is None:
        zeros_known = data.draw(st.booleans(), label="zeros_known")
    stats: dict[str, object] = {}
    findings = differencing_findings(
        engine, TX, filters=views, budget=6, max_findings=20, stats=stats, zeros_known=zeros_known
    )
    assert findings == [], listed(findings, stats)


GENERATED = settings(
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # shrinking would rerun the checker for long
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.slow  # a world per example, each checked over a sample of the lattice
@pytest.mark.timeout(1800)
@settings(GENERATED, max_examples=4)
@given(spec=worlds(), data=st.data())
def test_with_the_rule_no_generated_world_gives_a_small_count_away(
    engine: Engine, spec: WorldSpec, data: st.DataObject
) -> None:
    _check_generated_world(engine, spec, data)


@pytest.mark.audit  # make audit: many more worlds, pairs of views (the guarantee)
@pytest.mark.timeout(7200)
@settings(GENERATED, max_examples=30)
@given(spec=worlds(), data=st.data())
def test_with_the_rule_no_generated_world_of_many_gives_a_small_count_away(
    engine: Engine, spec: WorldSpec, data: st.DataObject
) -> None:
    _check_generated_world(engine, spec, data, zeros_known=False)


# ---------------------------------------------------------------------------------------
# The lattice of a partner's cells, by hand

# Admissions (every setting behavioral) of Texas: members not enrolled with mental health,
# program P1 (whole health) by condition, in December 2021 and January 2022.
LATTICE_ROWS = [
    ("2021-12", "not_enrolled", None, MH, 20),
    ("2021-12", "whole_health", "P1", MH, 15),
    ("2021-12", "whole_health", "P1", SU, 4),
    ("2022-01", "whole_health", "P1", MH, 12),
]


def _lattice() -> Lattice:
    columns = {atom_column(c, s): [0] * len(LATTICE_ROWS) for c in COUNT_COLUMNS for s in SETTINGS}
    for setting in ("all", "behavioral"):
        columns[atom_column("admissions", setting)] = [row[-1] for row in LATTICE_ROWS]
    atoms = pd.DataFrame(
        {
            "month": [row[0] for row in LATTICE_ROWS],
            "state_code": "TX",
            "program_model": [row[1] for row in LATTICE_ROWS],
            "program_id": [row[2] for row in LATTICE_ROWS],
            "primary_condition": [row[3] for row in LATTICE_ROWS],
            **columns,
        }
    )
    return Lattice.build(atoms, ("TX",), threshold=11)


@pytest.mark.parametrize(
    ("models", "program", "condition", "months", "admissions", "hidden"),
    [
        # 15 against P1's 19 over every condition: 4 apart
        (("whole_health",), "P1", MH, ("2021-12", "2021-12"), 15, True),
        # the same keys named by every enrolled model and the program: the same cell
        (PROGRAM_MODELS, "P1", MH, ("2021-12", "2021-12"), 15, True),
        # with the members not enrolled: 35 against every condition's 39
        (None, "P1", MH, ("2021-12", "2021-12"), 35, True),
        (("whole_health",), "P1", MH, ("2022-01", "2022-01"), 12, False),
        # 0 against the range's 4: a holding cell under 11 is hidden wherever it is shown
        (("whole_health",), "P1", SU, ("2022-01", "2022-12"), 0, False),
        # 20 against everyone's 39 in the month, 20 over both years: never 1 to 10 apart
        (("not_enrolled",), None, MH, ("2021-12", "2021-12"), 20, False),
        (("not_enrolled",), None, None, (None, None), 20, False),
        (("whole_health",), None, None, (None, None), 31, False),
    ],
)
def test_a_cell_is_hidden_when_a_cell_holding_it_is_larger_by_a_small_count(
    models: tuple[str, ...] | None,
    program: str | None,
    condition: str | None,
    months: tuple[str | None, str | None],
    admissions: int,
    hidden: bool,
) -> None:
    lattice = _lattice()
    mask = selection_mask(
        lattice.keys,
        states=("TX",),
        models=models or PROGRAM_GROUPS,
        programs=(program,) if program else None,
        conditions=(condition,) if condition else None,
    )
    selection, span = lattice.selection(mask), lattice.span(*months)
    assert selection is not None and span is not None
    at = list(COUNT_COLUMNS).index("admissions")
    assert lattice.sums[selection, SETTINGS.index("behavioral"), span, at] == admissions
    flags = lattice.small_differences(selection, "behavioral", span)
    assert flags[at] == hidden
    assert not flags[np.arange(len(COUNT_COLUMNS)) != at].any()  # every other count is 0


# Admissions (every setting behavioral) of Texas in January and February 2022: the members
# not enrolled have mental health stays in January only, substance use ones in February.
NONZERO_ROWS = [
    ("2022-01", "not_enrolled", None, MH, 20),
    ("2022-02", "not_enrolled", None, SU, 30),
    ("2022-01", "hot_spotting", "H1", MH, 5),
    ("2022-01", "hot_spotting", "H1", SU, 30),
    ("2022-01", "whole_health", "W1", MH, 30),
]


@pytest.mark.parametrize(
    ("models", "condition", "setting", "months", "admissions", "hidden"),
    [
        # Every condition of the members not enrolled in January is their mental health
        # alone: (hot spotting and not enrolled, mental health) holds it and is 5 more.
        (("not_enrolled",), None, "behavioral", ("2022-01", "2022-01"), 20, True),
        # The same under every setting: every stay is behavioral, so the behavioral
        # cells hold it too.
        (("not_enrolled",), None, "all", ("2022-01", "2022-01"), 20, True),
        # Over both months the substance use stays are in it: 30 or more apart from all.
        (("not_enrolled",), None, "behavioral", ("2022-01", "2022-02"), 50, False),
        # Medical: nothing counted, nothing to hide.
        (("not_enrolled",), None, "medical", ("2022-01", "2022-01"), 0, False),
    ],
)
def test_a_cell_is_held_by_the_cells_holding_its_non_zero_parts(
    models: tuple[str, ...],
    condition: str | None,
    setting: str,
    months: tuple[str, str],
    admissions: int,
    hidden: bool,
) -> None:
    columns = {atom_column(c, s): [0] * len(NONZERO_ROWS) for c in COUNT_COLUMNS for s in SETTINGS}
    for each in ("all", "behavioral"):
        columns[atom_column("admissions", each)] = [row[-1] for row in NONZERO_ROWS]
    atoms = pd.DataFrame(
        {
            "month": [row[0] for row in NONZERO_ROWS],
            "state_code": "TX",
            "program_model": [row[1] for row in NONZERO_ROWS],
            "program_id": [row[2] for row in NONZERO_ROWS],
            "primary_condition": [row[3] for row in NONZERO_ROWS],
            **columns,
        }
    )
    lattice = Lattice.build(atoms, ("TX",), threshold=11)
    mask = selection_mask(
        lattice.keys,
        states=("TX",),
        models=models,
        programs=None,
        conditions=(condition,) if condition else None,
    )
    selection, span = lattice.selection(mask), lattice.span(*months)
    assert selection is not None and span is not None
    at = list(COUNT_COLUMNS).index("admissions")
    assert lattice.sums[selection, SETTINGS.index(setting), span, at] == admissions
    assert lattice.small_differences(selection, setting, span)[at] == hidden


# ---------------------------------------------------------------------------------------
# Siblings: a one-value view among its siblings as each of their own views shows them

# Admissions of three whole health programs (mental health, 100 member-months a row):
# P2's January (15) is hidden in P2's own view, since P2's year is 19 (4 more).
SIBLING_ROWS = [
    ("2022-01", "P1", 20),
    ("2022-02", "P1", 20),
    ("2022-01", "P2", 15),
    ("2022-02", "P2", 4),
    ("2022-01", "P3", 30),
]


def test_a_sibling_hidden_by_the_lattice_in_its_own_view_is_never_left_alone() -> None:
    columns: dict[str, list[int]] = {}
    for column in SUMMED_COLUMNS:
        for setting in SETTINGS:
            values = [0] * len(SIBLING_ROWS)
            if column == "member_months":
                values = [100] * len(SIBLING_ROWS)
            elif column == "admissions" and setting in ("all", "behavioral"):
                values = [row[-1] for row in SIBLING_ROWS]
            columns[atom_column(column, setting)] = values
    atoms = pd.DataFrame(
        {
            "month": [row[0] for row in SIBLING_ROWS],
            "state_code": "TX",
            "program_model": "whole_health",
            "program_id": [row[1] for row in SIBLING_ROWS],
            "primary_condition": MH,
            **columns,
        }
    )

    def shown(program: str | None) -> dict[str, int | None]:
        view = OutcomeFilter(
            program_models=("whole_health",),
            program_ids=(program,) if program else None,
            conditions=(MH,),
            month_from="2022-01",
            month_to="2022-12",
        )
        status = partner_status(atoms, view, by=(), threshold=11, granted=("TX",)).status
        cut, flags = status[("month", "all")]
        pairs = zip(cut["admissions"], flags["admissions"], strict=True)
        values = [None if hidden else int(value) for value, hidden in pairs]
        return dict(zip(cut["time"], values, strict=True))

    # January: P2 is hidden in its own view (its year is 19, 4 more), so P1, the smallest
    # shown sibling, is hidden too; P3, the smallest shown program of the first quarter (89
    # in all), and with it its January. February: P2's 4, and P1 beside it.
    views = {program: shown(program) for program in ("P1", "P2", "P3")}
    assert views == {
        "P1": {"2022-01": None, "2022-02": None},
        "P2": {"2022-01": None, "2022-02": None},
        "P3": {"2022-01": None},
    }
    total = shown(None)
    assert total == {"2022-01": 65, "2022-02": 24}
    for month, value in total.items():
        parts = {p: (view.get(month, 0), month in view) for p, view in views.items()}
        hidden = [
            p for p, (shown_value, present) in parts.items() if present and shown_value is None
        ]
        assert len(hidden) != 1, (month, hidden)
        left = (value or 0) - sum(v or 0 for v, _ in parts.values())
        assert not 1 <= left <= 10, (month, left)


# Members of one whole health program in 2022 by primary condition, and their pre/post
# admissions: the co-occurring ones (4 members, 4 admissions) are hidden by the small-cell
# rule, so every condition less mental health less substance use would give them.
CONDITION_ROWS = [("mental_health", 20, 20), ("substance_use", 15, 15), ("co_occurring", 4, 4)]
CONDITION_VIEWS = [
    # the shown condition with the fewest is hidden beside the small one; the other stays
    ("mental_health", False),
    ("substance_use", True),
    # hidden by the small-cell rule already, and not the sibling chosen
    ("co_occurring", False),
]


def _one_condition(condition: str) -> OutcomeFilter:
    return OutcomeFilter(
        program_models=("whole_health",),
        conditions=(condition,),
        month_from="2022-01",
        month_to="2022-12",
    )


@pytest.mark.parametrize(("condition", "hidden"), CONDITION_VIEWS)
def test_a_count_of_members_is_never_the_one_sibling_left_to_subtract(
    condition: str, hidden: bool
) -> None:
    rows = [(c, i) for c, members, _ in CONDITION_ROWS for i in range(members)]
    enrollments = pd.DataFrame(
        {
            "member_id": [f"{c}-{i}" for c, i in rows],
            "state_code": "TX",
            "program_model": "whole_health",
            "program_id": "P1",
            "primary_condition": [c for c, _ in rows],
            "first_month": 2022 * 12,
            "last_month": pd.array([2022 * 12 + 11] * len(rows), dtype="Float64"),
        }
    )
    enrolled = Enrolled.build(enrollments, granted=("TX",), years=[2022], threshold=11)
    view = _one_condition(condition)
    members = enrolled.count(view)
    assert members == {c: n for c, n, _ in CONDITION_ROWS}[condition]
    assert members_hidden(enrolled, view, members=members) == hidden


@pytest.mark.parametrize(("condition", "hidden"), CONDITION_VIEWS)
def test_a_pre_post_row_is_never_the_one_sibling_left_to_subtract(
    condition: str, hidden: bool
) -> None:
    counts = ("enrollments", "post_admissions")
    atoms = pd.DataFrame(
        {
            "program_id": "P1",
            "year": 2022,
            "primary_condition": [c for c, _, _ in CONDITION_ROWS],
            # 11 more enrollments than members: the rows are shown by their basis
            "enrollments": [n + 11 for _, n, _ in CONDITION_ROWS],
            **{
                atom_column("post_admissions", s): [a for _, _, a in CONDITION_ROWS]
                for s in SETTINGS
            },
        }
    )
    frame = pd.DataFrame({"program_id": ["P1"]})
    out = prepost_hidden(atoms, _one_condition(condition), frame=frame, counts=counts, threshold=11)
    assert out.to_dict("records") == [{"enrollments": False, "post_admissions": hidden}]
