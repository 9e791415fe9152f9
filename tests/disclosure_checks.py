"""Can a suppressed cell be worked out from what an output shows? The test oracle of issue #4.

`disclosure_findings` reads an output frame as a reader would: the cells its `suppressed`
column lists are unknown, every other cell of the frame is known (NaN there means
"undefined", i.e. a denominator of 0). It then works out everything it can, until nothing
changes:

(b) within a row, from the relations of `Spec.relations`: a ratio, a difference or a percent
    change with all but one of its terms known gives the last one (admissions_per_1000_mm
    with member_months gives admissions back, average_los with discharges gives
    inpatient_days, an undefined rate says its denominator is 0). Helper counts a frame uses
    but does not show (the prepost `pre_admissions`, say) are unknowns too, so a count implied
    by a shown rate is checked like a shown count;
(a) additive relations: each `Margin` says total = sum(parts) in every additive column and
    each linked group says first = sum(rest) in every row; the unknowns of these equations
    are the cells still unknown, and one is recoverable iff its unit vector lies in the row
    space of the equation matrix over the unknowns (a numpy rank test, per connected
    component of unknowns);
(c) linked columns (paid = behavioral_paid + medical_paid) with exactly one hidden are the
    one-equation case of (a).

It reports every suppressed cell it recovered, (d) every known count (shown or implied)
from 1 to threshold - 1, and every cell listed as suppressed whose value is still there.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from data_access.measures import PREPOST_MEASURES
from data_access.suppression import (
    MONTHLY_RULES,
    PREPOST_RULES,
    SUPPRESSED_COLUMN,
    DisclosureRules,
    Margin,
)

FindingKind = Literal["small_count", "within_row", "additive", "linked", "not_emptied"]


@dataclass(frozen=True)
class Ratio:
    """figure = scale * numerator / denominator (NaN when the denominator is 0)."""

    figure: str
    numerator: str
    denominator: str
    scale: float = 1.0


@dataclass(frozen=True)
class Difference:
    """figure = later - earlier."""

    figure: str
    earlier: str
    later: str


@dataclass(frozen=True)
class PercentChange:
    """figure = (later - earlier) * 100 / earlier (NaN when earlier is 0)."""

    figure: str
    earlier: str
    later: str


Relation = Ratio | Difference | PercentChange


@dataclass(frozen=True)
class Spec:
    """What a reader knows about one kind of frame besides its values.

    counts: columns (shown or helper) that must never be known with a value from 1 to
    threshold - 1. linked: groups whose first column is the sum of the others, in a row.
    """

    rules: DisclosureRules
    relations: tuple[Relation, ...] = ()
    counts: tuple[str, ...] = ()
    linked: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    row: Hashable
    column: str
    value: float | None
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} at row {self.row!r}, {self.column} = {self.value}: {self.detail}"


MONTHLY_RELATIONS: tuple[Relation, ...] = (
    Ratio("admissions_per_1000_mm", "admissions", "member_months", 1000.0),
    Ratio("inpatient_days_per_1000_mm", "inpatient_days", "member_months", 1000.0),
    Ratio("average_los", "inpatient_days", "discharges"),
    Ratio("readmission_rate_30d", "readmissions_30d", "followed_discharges"),
    Ratio("ed_visits_per_1000_mm", "ed_visits", "member_months", 1000.0),
    Ratio("followup_rate_7d", "followups_7d", "followed_behavioral_discharges"),
    Ratio("followup_rate_30d", "followups_30d", "followed_behavioral_discharges"),
    Ratio("peer_contact_rate_1d", "peer_contacts_1d", "followed_behavioral_discharges"),
    Ratio("cost_pmpm", "paid", "member_months"),
    Ratio("behavioral_cost_pmpm", "behavioral_paid", "member_months"),
    Ratio("medical_cost_pmpm", "medical_paid", "member_months"),
)
MONTHLY_SPEC = Spec(
    rules=MONTHLY_RULES,
    relations=MONTHLY_RELATIONS,
    counts=("member_months", *MONTHLY_RULES.counts),
    linked=MONTHLY_RULES.linked,
)

_PREPOST_RATIOS = {
    # measure: (numerator helper without the window prefix, denominator)
    "share_with_admission": ("with_admission", "enrollments"),
    "admissions_per_enrollment": ("admissions", "enrollments"),
    "inpatient_days_per_enrollment": ("inpatient_days", "enrollments"),
    "average_los": ("inpatient_days", "discharges"),
    "behavioral_paid_per_enrollment": ("behavioral_paid", "enrollments"),
    "medical_paid_per_enrollment": ("medical_paid", "enrollments"),
    "total_paid_per_enrollment": ("paid", "enrollments"),
    "paid_per_admission": ("admission_paid", "admissions"),
    "ed_visits_per_enrollment": ("ed_visits", "enrollments"),
    "visits_per_enrollment": ("visits", "enrollments"),
    "visit_paid_per_enrollment": ("visit_paid", "enrollments"),
    "inpatient_paid_per_enrollment": ("admission_paid", "enrollments"),
}
assert set(_PREPOST_RATIOS) == set(PREPOST_MEASURES)


def _window(window: str, name: str) -> str:
    return name if name == "enrollments" else f"{window}_{name}"


PREPOST_RELATIONS: tuple[Relation, ...] = (
    *(
        Ratio(f"{window}_{measure}", _window(window, num), _window(window, den))
        for window in ("pre", "post")
        for measure, (num, den) in _PREPOST_RATIOS.items()
    ),
    *(Difference(f"change_{m}", f"pre_{m}", f"post_{m}") for m in PREPOST_MEASURES),
    *(PercentChange(f"pct_change_{m}", f"pre_{m}", f"post_{m}") for m in PREPOST_MEASURES),
)
PREPOST_SPEC = Spec(
    rules=PREPOST_RULES,
    relations=PREPOST_RELATIONS,
    counts=("enrollments", *PREPOST_RULES.counts),
    linked=tuple(
        (
            f"{window}_total_paid_per_enrollment",
            f"{window}_behavioral_paid_per_enrollment",
            f"{window}_medical_paid_per_enrollment",
        )
        for window in ("pre", "post")
    ),
)


def hidden_mask(frame: pd.DataFrame, *, strict: bool = True) -> pd.DataFrame:
    """The cells the `suppressed` column lists, as a boolean frame over `frame`'s columns.

    `strict`: a listed name that is not a column of the frame is an error.
    """
    hidden = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    if SUPPRESSED_COLUMN not in frame.columns:
        return hidden
    listed = [
        set(names.split(";")) if isinstance(names, str) and names else set()
        for names in frame[SUPPRESSED_COLUMN]
    ]
    unknown = set().union(*listed) - set(frame.columns) if listed else set()
    if unknown and strict:
        raise AssertionError(f"`suppressed` lists {sorted(unknown)}, which are not columns")
    for column in frame.columns:
        hidden[column] = [column in names for names in listed]
    return hidden


def total_margins(frame: pd.DataFrame, *, period: str | None, by: Sequence[str]) -> list[Margin]:
    """The margins of a frame from `outcome_summary(with_total=True)`.

    In each period, the row whose `by` columns are all empty is the total of the other rows.
    With `by=("program_id",)` the not_enrolled rows have every `by` column empty too; the
    total is then the last such row of the period (the order outcome_summary writes).
    """
    if not by or frame.empty:
        return []
    empty = frame[list(by)].isna().all(axis=1)
    keys = frame[period] if period else pd.Series("", index=frame.index)
    margins = []
    for _, labels in frame.groupby(keys, sort=False).groups.items():
        rows = list(labels)
        totals = [r for r in rows if empty[r]]
        if not totals:
            continue
        total = totals[-1]
        margins.append(Margin(total=total, parts=tuple(r for r in rows if r != total)))
    return margins


class _State:
    """Known values of every column of interest (shown, helper, recovered), per row."""

    def __init__(self, frame: pd.DataFrame, spec: Spec, hidden: pd.DataFrame) -> None:
        names: list[str] = list(spec.rules.columns) + list(spec.counts)
        for relation in spec.relations:
            names.extend(vars(relation)[k] for k in vars(relation) if k != "scale")
        for group in spec.linked:
            names.extend(group)
        self.columns = [c for c in dict.fromkeys(names)]
        self.figures = pd.DataFrame(np.nan, index=frame.index, columns=self.columns)
        self.known = pd.DataFrame(False, index=frame.index, columns=self.columns)
        self.how: dict[tuple[Hashable, str], FindingKind] = {}
        for column in self.columns:
            if column in frame.columns:
                self.figures[column] = pd.to_numeric(frame[column], errors="coerce").astype(
                    "float64"
                )
                self.known[column] = ~hidden[column]
        self.hidden = pd.DataFrame(False, index=frame.index, columns=self.columns)
        for column in self.columns:
            if column in frame.columns:
                self.hidden[column] = hidden[column]

    def learn(self, rows: pd.Series, column: str, values: pd.Series, kind: FindingKind) -> bool:
        new = rows & ~self.known[column]
        if not new.any():
            return False
        self.figures.loc[new, column] = values[new]
        self.known.loc[new, column] = True
        for label in new[new].index:
            self.how[(label, column)] = kind
        return True


def _has(state: _State, column: str) -> pd.Series:
    return state.known[column] & state.figures[column].notna()


def _within_rows(state: _State, spec: Spec) -> bool:
    changed = False
    for relation in spec.relations:
        if isinstance(relation, Ratio):
            f, n, d = relation.figure, relation.numerator, relation.denominator
            fv, nv, dv = state.figures[f], state.figures[n], state.figures[d]
            has_f, has_n, has_d = _has(state, f), _has(state, n), _has(state, d)
            undefined = state.known[f] & fv.isna()
            # an undefined ratio: the denominator is 0
            changed |= state.learn(undefined, d, pd.Series(0.0, index=fv.index), "within_row")
            # a ratio of 0: the numerator is 0
            changed |= state.learn(has_f & (fv == 0), n, fv * 0.0, "within_row")
            changed |= state.learn(has_f & has_d, n, fv * dv / relation.scale, "within_row")
            changed |= state.learn(
                has_f & has_n & (fv != 0), d, relation.scale * nv / fv.where(fv != 0), "within_row"
            )
            changed |= state.learn(
                has_n & has_d & (dv != 0), f, relation.scale * nv / dv.where(dv != 0), "within_row"
            )
        elif isinstance(relation, Difference):
            f, e, later = relation.figure, relation.earlier, relation.later
            fv, ev, lv = state.figures[f], state.figures[e], state.figures[later]
            has_f, has_e, has_l = _has(state, f), _has(state, e), _has(state, later)
            changed |= state.learn(has_e & has_l, f, lv - ev, "within_row")
            changed |= state.learn(has_f & has_e, later, ev + fv, "within_row")
            changed |= state.learn(has_f & has_l, e, lv - fv, "within_row")
        else:
            f, e, later = relation.figure, relation.earlier, relation.later
            fv, ev, lv = state.figures[f], state.figures[e], state.figures[later]
            has_f, has_e, has_l = _has(state, f), _has(state, e), _has(state, later)
            changed |= state.learn(
                has_e & has_l & (ev != 0), f, (lv - ev) * 100 / ev.where(ev != 0), "within_row"
            )
            changed |= state.learn(has_f & has_e, later, ev * (1 + fv / 100), "within_row")
            factor = 1 + fv / 100
            changed |= state.learn(
                has_f & has_l & (factor != 0), e, lv / factor.where(factor != 0), "within_row"
            )
    return changed


def _equations(
    state: _State, spec: Spec, margins: Sequence[Margin]
) -> list[tuple[dict[tuple[int, int], float], float, bool]]:
    """Linear equations sum(coef * cell) = rhs over the unknown cells, cells as (row
    position, column position); the flag says whether the equation comes from a margin."""
    known = state.known.to_numpy()
    values = state.figures.to_numpy()
    column_at = {c: i for i, c in enumerate(state.columns)}
    index = state.figures.index
    equations = []

    def add(terms: list[tuple[int, int, float]], from_margin: bool) -> None:
        unknown: dict[tuple[int, int], float] = {}
        rhs = 0.0
        for row, column, coef in terms:
            if known[row, column]:
                if math.isnan(values[row, column]):
                    return  # an undefined term: no usable equation
                rhs -= coef * values[row, column]
            else:
                unknown[(row, column)] = unknown.get((row, column), 0.0) + coef
        if unknown:
            equations.append((unknown, rhs, from_margin))

    for margin in margins:
        parts = [index.get_loc(p) for p in margin.parts if p in index]
        if margin.total not in index or not parts:
            continue
        total = index.get_loc(margin.total)
        for name in spec.rules.additive:
            if name in column_at:
                column = column_at[name]
                add([(total, column, 1.0)] + [(p, column, -1.0) for p in parts], True)
    for group in spec.linked:
        if not all(c in column_at for c in group):
            continue
        first, *rest = (column_at[c] for c in group)
        rows = np.flatnonzero(~known[:, [first, *rest]].all(axis=1))
        for row in rows:
            add([(row, first, 1.0)] + [(row, c, -1.0) for c in rest], False)
    return equations


def _additive(state: _State, spec: Spec, margins: Sequence[Margin]) -> bool:
    """Solve the linear equations per connected component of unknowns.

    An unknown x_j is determined iff the unit vector e_j lies in the row space of the
    component's matrix A, i.e. rank([A; e_j]) == rank(A). With A = U S V^T and r = rank(A),
    the rows V_1..V_r are an orthonormal basis of that row space, so the test is
    sum_k<r V_kj^2 == 1 (the projection of e_j on the row space is e_j itself): one SVD per
    component instead of one rank per unknown. Small components also run the literal
    rank test, as a cross-check.
    """
    equations = _equations(state, spec, margins)
    if not equations:
        return False
    parent: dict[tuple[int, int], tuple[int, int]] = {}

    def find(cell: tuple[int, int]) -> tuple[int, int]:
        parent.setdefault(cell, cell)
        while parent[cell] != cell:
            parent[cell] = parent[parent[cell]]
            cell = parent[cell]
        return cell

    for unknown, _, _ in equations:
        cells = list(unknown)
        root = find(cells[0])
        for cell in cells[1:]:
            other = find(cell)
            if other != root:
                parent[other] = root
    components: dict[tuple[int, int], list[int]] = {}
    for number, (unknown, _, _) in enumerate(equations):
        components.setdefault(find(next(iter(unknown))), []).append(number)
    changed = False
    for numbers in components.values():
        cells = list(dict.fromkeys(c for n in numbers for c in equations[n][0]))
        position = {cell: i for i, cell in enumerate(cells)}
        matrix = np.zeros((len(numbers), len(cells)))
        rhs = np.zeros(len(numbers))
        for row, n in enumerate(numbers):
            unknown, value, _ = equations[n]
            for cell, coef in unknown.items():
                matrix[row, position[cell]] = coef
            rhs[row] = value
        kind: FindingKind = "additive" if any(equations[n][2] for n in numbers) else "linked"
        if len(numbers) == 1 and len(cells) > 1:
            continue  # one equation over several unknowns determines none of them
        u, s, vt = np.linalg.svd(matrix, full_matrices=False)
        rank = int((s > s.max() * max(matrix.shape) * np.finfo(float).eps).sum()) if len(s) else 0
        basis = vt[:rank]
        determined = (basis**2).sum(axis=0) > 1 - 1e-9
        if len(cells) <= 8:
            literal = [
                np.linalg.matrix_rank(np.vstack([matrix, np.eye(len(cells))[[i]]])) == rank
                for i in range(len(cells))
            ]
            assert list(determined) == literal, "the rank test and the projection disagree"
        if not determined.any():
            continue
        solution = basis.T @ ((u[:, :rank].T @ rhs) / s[:rank])
        for (row, column), i in position.items():
            if determined[i]:
                rows = np.zeros(len(state.figures.index), dtype=bool)
                rows[row] = True
                changed |= state.learn(
                    pd.Series(rows, index=state.figures.index),
                    state.columns[column],
                    pd.Series(solution[i], index=state.figures.index),
                    kind,
                )
    return changed


def _small(values: pd.Series, threshold: int) -> pd.Series:
    """Values from 1 to threshold - 1, an implied count's rounding error aside."""
    nearest = values.round()
    exact = values.where((values - nearest).abs() >= 1e-6, nearest)
    return (exact >= 1) & (exact < threshold)


def disclosure_findings(
    frame: pd.DataFrame,
    spec: Spec,
    *,
    threshold: int,
    margins: Sequence[Margin] = (),
) -> list[Finding]:
    """Every suppressed cell of `frame` that can be worked out, and every small count known."""
    hidden = hidden_mask(frame, strict=False)  # names of absent columns hide nothing here
    findings: list[Finding] = []
    for column in frame.columns:
        if column == SUPPRESSED_COLUMN:
            continue
        still = hidden[column] & frame[column].notna()
        for label in still[still].index:
            findings.append(
                Finding(
                    "not_emptied",
                    label,
                    column,
                    float(frame.loc[label, column]),
                    "listed as suppressed but its value is shown",
                )
            )
    state = _State(frame, spec, hidden)
    while True:
        while _within_rows(state, spec):
            pass
        if not _additive(state, spec, margins):
            break
    recovered = state.hidden & state.known
    for column in state.columns:
        for label in recovered[column][recovered[column]].index:
            findings.append(
                Finding(
                    state.how[(label, column)],
                    label,
                    column,
                    float(state.figures.loc[label, column]),
                    "a suppressed cell can be worked out from what is shown",
                )
            )
    for column in spec.counts:
        if column not in state.columns:
            continue
        small = state.known[column] & _small(state.figures[column], threshold)
        for label in small[small].index:
            value = float(state.figures.loc[label, column])
            shown = column in frame.columns and not state.hidden.loc[label, column]
            findings.append(
                Finding(
                    "small_count",
                    label,
                    column,
                    value,
                    f"a count from 1 to {threshold - 1} is "
                    + ("shown" if shown else "implied by what is shown"),
                )
            )
    return findings


__all__ = [
    "MONTHLY_RELATIONS",
    "MONTHLY_SPEC",
    "PREPOST_RELATIONS",
    "PREPOST_SPEC",
    "Difference",
    "Finding",
    "PercentChange",
    "Ratio",
    "Relation",
    "Spec",
    "disclosure_findings",
    "hidden_mask",
    "total_margins",
]
