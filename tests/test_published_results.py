"""The published figures (tests/data/published_results.csv) against the pre/post export over
the shipped sample (sample_data/*.csv.gz).

Every row of the published file that names a `prepost_measure` is checked, in its `setting`,
to its published rounding: the computed value must round to the published one at the published
number of decimals (0.926: three decimals; a percent change of -47.9: one decimal). A row
without a `prepost_measure` cannot be expressed by the contract's pre/post measures; its
reason is in NOT_REPRODUCED, and sample_data/README.md gives the same reasons.

Two sources of the export: tests/reference_metrics.py (plain pandas), and the real export of
data_access over the sample loaded into each database engine. Each passing check records how
many figures it compared; the session's summary adds them up (tests/conftest.py).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from tests import reference_metrics as rm

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = Path(__file__).resolve().parent / "data" / "published_results.csv"
SAMPLE = REPO / "sample_data"
README = SAMPLE / "README.md"
# The user property under which each check records the figures it compared, by source
# ("reference", "sqlite", "postgresql"); tests/conftest.py sums them at the session's end.
CHECKED_PROPERTY = "published_figures_checked"


def checked(source: str) -> str:
    return f"{CHECKED_PROPERTY}:{source}"


def engine_name(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


# The published programs that are programs of the sample: their `members` figure is the
# number of analysable enrollments of the program.
SAMPLE_PROGRAMS: dict[tuple[str, str], str] = {
    ("Peer coaching for level-of-care transitions", "NY"): "NY-TRANSITION",
    ("Peer coaching for level-of-care transitions", "WI"): "WI-TRANSITION",
    ("Pierce County Regional Support Network", "WA"): "WA-PIERCE",
    ("Peer support and coaching (members hospitalized or in hospital)", "TX"): "TX-COACHING",
    ("Whole health coaching", "MI"): "MI-WHOLE-HEALTH",
    ("Whole-health peer support for older adults", "TX"): "TX-OLDER-ADULTS",
    (
        "PRAISE (Peer Recovery Activation - Intensive Support and Empowerment)",
        "RI",
    ): "RI-PRAISE",
}

# Figures (pre, post, change; and members where the program is not in the sample) that the
# contract's pre/post measures cannot express. sample_data/README.md gives the same reasons.
NOT_REPRODUCED: dict[str, str] = {
    "pierce_hospitalizations": "a five-year trend, not a pre/post window",
    "pierce_30day_readmissions": "a five-year trend, not a pre/post window; no readmission measure",
    "pierce_ip_days_vs_state": "a comparison with the state average, not a pre/post change",
    "ri_praise_benefit_expense": "24-month projected windows, not the contract's 183-day windows",
    "ri_praise_ip_admissions": "24-month projected windows, not the contract's 183-day windows",
    "hot_spotting_costs": "one member's recurrent admissions in an unnamed state, no window",
    "seeking_safety_cohort": "90-day windows, enrolled 2014-2015 before the sample's data",
    "peer_run_transition_admissions": "an outside study of another program (a plausibility range)",
    "peer_run_transition_ip_days": "an outside study of another program (a plausibility range)",
}

# A figure that lies exactly on a rounding tie: with 16 enrollments the change in admissions
# per enrollment is a multiple of 1/16; -30/16 = -1.875 is the only such value within half a
# unit of -1.87 (the source rounded the tie towards zero; round-half-even gives -1.88).
TIES: dict[str, float] = {"mi_whole_health_ip_admits": -30 / 16}


def _published_rows() -> list[dict[str, str]]:
    # A missing file is an error at collection, never a run that checks nothing.
    with PUBLISHED.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise RuntimeError(f"{PUBLISHED} lists no published figures")
    return rows


ROWS = _published_rows()
# The rows a pre/post measure expresses: each is one check per source.
PREPOST_ROWS = [row for row in ROWS if row["prepost_measure"]]


@dataclass(frozen=True)
class Figure:
    result_id: str
    column: str  # a column of the prepost export
    published: str  # as written, which gives the rounding

    @property
    def decimals(self) -> int:
        return max(0, -Decimal(self.published).as_tuple().exponent)  # type: ignore[operator]


@dataclass(frozen=True)
class Published:
    """One row of the published file as checks of the prepost export."""

    result_id: str
    program_id: str | None  # None: the program is not in the sample
    measure: str
    setting: str
    figures: tuple[Figure, ...]


def _published(row: dict[str, str]) -> Published:
    measure = row["prepost_measure"]
    figures = []
    for field in ("pre", "post", "change"):
        if not row[field]:
            continue
        if field == "change":
            kind = "pct_change_" if row["change_unit"] == "percent" else "change_"
        else:
            kind = f"{field}_"
        figures.append(Figure(row["result_id"], kind + measure, row[field]))
    return Published(
        result_id=row["result_id"],
        program_id=SAMPLE_PROGRAMS.get((row["program"], row["state_code"])),
        measure=measure,
        setting=row["setting"],
        figures=tuple(figures),
    )


PUBLISHED_CHECKS = [_published(row) for row in PREPOST_ROWS]


def _params(checks: list[Published]) -> list[object]:
    return [
        pytest.param(
            check,
            id=check.result_id,
        )
        for check in checks
    ]


def _member_counts() -> list[tuple[str, str, int]]:
    counts = []
    for row in ROWS:
        program_id = SAMPLE_PROGRAMS.get((row["program"], row["state_code"]))
        if row["members"] and program_id is not None:
            counts.append((row["result_id"], program_id, int(row["members"])))
    return counts


MEMBER_COUNTS = _member_counts()


def rounds_to(value: float, published: str) -> bool:
    """True when `value` rounds to `published` at its number of decimals: no further from it
    than half a unit of its last digit (exact decimal arithmetic on the float's value)."""
    target = Decimal(published)
    half = Decimal(1).scaleb(target.as_tuple().exponent) / 2  # type: ignore[arg-type]
    return abs(Decimal(value) - target) <= half


def check(frame: pd.DataFrame, figure: Figure, program_id: str) -> str | None:
    """None when the export reproduces the figure, else what is wrong."""
    rows = frame[frame["program_id"] == program_id]
    if len(rows) != 1:
        return f"{figure.result_id}: {len(rows)} rows for {program_id}"
    value = float(rows[figure.column].iloc[0])
    where = f"{figure.result_id}: {program_id} {figure.column}"
    if not rounds_to(value, figure.published):
        return f"{where} = {value!r}, published {figure.published}"
    if figure.result_id in TIES:
        if value != TIES[figure.result_id]:
            return f"{where} = {value!r}, expected the tie {TIES[figure.result_id]!r}"
    elif round(value, figure.decimals) != float(figure.published):
        return f"{where} = {value!r} does not round (half even) to {figure.published}"
    return None


def check_row(published: Published, export: Callable[[str], pd.DataFrame]) -> int:
    """Check every figure of one published row against `export(setting)`; fail with every
    problem, else return how many figures were compared."""
    assert published.program_id is not None, (
        f"{published.result_id}: its program is not a program of the sample"
    )
    assert published.figures, f"{published.result_id}: no pre, post or change to check"
    # The columns are the same in every setting: a missing one is told without computing
    # the export of a setting that no other row needs.
    columns = export("all").columns
    missing = [f.column for f in published.figures if f.column not in columns]
    assert not missing, (
        f"{published.result_id}: the prepost export has no column {', '.join(missing)}: the "
        f"pre/post measure {published.measure!r} (contract version 2) is not computed"
    )
    frame = export(published.setting)
    problems = [check(frame, figure, published.program_id) for figure in published.figures]
    problems = [p for p in problems if p is not None]
    assert not problems, f"setting {published.setting}: " + "\n".join(problems)
    return len(published.figures)


def check_members(frame: pd.DataFrame, program_id: str, members: int) -> str | None:
    rows = frame[frame["program_id"] == program_id]
    got = rows["enrollments"].tolist()
    if got != [members]:
        return f"{program_id}: analysable enrollments {got}, published {members}"
    return None


# ---------------------------------------------------------------------------------------
# the published file and the lists above agree


def test_every_published_figure_is_checked_or_explained() -> None:
    ids = [row["result_id"] for row in ROWS]
    assert len(ids) == len(set(ids)), "result_id repeats in the published file"
    checked = {row["result_id"] for row in PREPOST_ROWS}
    assert set(NOT_REPRODUCED) <= set(ids) and not set(NOT_REPRODUCED) & checked
    for row in ROWS:
        rid = row["result_id"]
        if any(row[field] for field in ("pre", "post", "change")):
            assert rid in checked or rid in NOT_REPRODUCED, (
                f"{rid} is neither checked nor explained"
            )
        if row["members"] and (row["program"], row["state_code"]) not in SAMPLE_PROGRAMS:
            assert rid in NOT_REPRODUCED, f"{rid}: members of a program not in the sample"
    # Never a run that checks nothing: the file's pre/post rows all become checks, and each
    # has at least one figure.
    figures = sum(len(p.figures) for p in PUBLISHED_CHECKS)
    assert len(PUBLISHED_CHECKS) == len(PREPOST_ROWS) > 0
    assert all(p.figures for p in PUBLISHED_CHECKS)
    print(
        f"{PUBLISHED.name}: {len(ROWS)} rows, {len(PUBLISHED_CHECKS)} with a pre/post measure "
        f"({figures} figures), {len(MEMBER_COUNTS)} member counts, "
        f"{len(NOT_REPRODUCED)} explained as not reproducible"
    )


def test_readme_gives_the_same_reasons() -> None:
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    for rid, reason in NOT_REPRODUCED.items():
        mine = [line for line in lines if f"`{rid}`" in line]
        assert mine, f"sample_data/README.md does not list {rid}"
        assert any(reason in line for line in mine), (
            f"README's reason for {rid} differs: {reason!r}"
        )


# ---------------------------------------------------------------------------------------
# reference implementation over the sample files


@pytest.fixture(scope="module")
def reference() -> Callable[[str], pd.DataFrame]:
    """The reference prepost export in a setting, computed once per setting."""
    frames = rm.read_frames(SAMPLE)
    exports: dict[str, pd.DataFrame] = {}

    def export(setting: str) -> pd.DataFrame:
        if setting not in exports:
            exports[setting] = rm.prepost(frames, setting)
        return exports[setting]

    return export


@pytest.mark.parametrize("published", _params(PUBLISHED_CHECKS))
def test_reference_reproduces_published_figure(
    reference: Callable[[str], pd.DataFrame],
    published: Published,
    record_property: Callable[[str, object], None],
) -> None:
    record_property(checked("reference"), check_row(published, reference))


@pytest.mark.parametrize(
    ("result_id", "program_id", "members"), MEMBER_COUNTS, ids=[c[0] for c in MEMBER_COUNTS]
)
def test_reference_counts_published_members(
    reference: Callable[[str], pd.DataFrame],
    result_id: str,
    program_id: str,
    members: int,
    record_property: Callable[[str, object], None],
) -> None:
    problem = check_members(reference("all"), program_id, members)
    assert problem is None, f"{result_id}: {problem}"
    record_property(checked("reference"), 1)


# ---------------------------------------------------------------------------------------
# the product: the sample loaded into each database, the prepost export of data_access

# The product's exports, once per database and setting (the sample databases are read-only).
_PRODUCT_EXPORTS: dict[tuple[str, str], pd.DataFrame] = {}


def product_export(url: str, setting: str) -> pd.DataFrame:
    from data_access import db
    from data_access.access import LOCAL_VIEWER
    from data_access.filters import OutcomeFilter
    from data_access.queries import prepost_by_program

    if (url, setting) not in _PRODUCT_EXPORTS:
        _PRODUCT_EXPORTS[url, setting] = prepost_by_program(
            viewer=LOCAL_VIEWER,
            small_cells="show",
            filters=OutcomeFilter(setting=setting),
            engine=db.get_engine(url),
        )
    return _PRODUCT_EXPORTS[url, setting]


@pytest.mark.parametrize("published", _params(PUBLISHED_CHECKS))
def test_database_export_reproduces_published_figures(
    loaded_sample: str, published: Published, record_property: Callable[[str, object], None]
) -> None:
    figures = check_row(published, lambda setting: product_export(loaded_sample, setting))
    record_property(checked(engine_name(loaded_sample)), figures)


@pytest.mark.parametrize(
    ("result_id", "program_id", "members"), MEMBER_COUNTS, ids=[c[0] for c in MEMBER_COUNTS]
)
def test_database_export_counts_published_members(
    loaded_sample: str,
    result_id: str,
    program_id: str,
    members: int,
    record_property: Callable[[str, object], None],
) -> None:
    problem = check_members(product_export(loaded_sample, "all"), program_id, members)
    assert problem is None, f"{result_id}: {problem}"
    record_property(checked(engine_name(loaded_sample)), 1)
