"""Small-cell suppression, the CMS cell-size rule: no count from 1 to threshold - 1 is shown
or can be worked out from what is shown.

A frame is suppressed in three steps, all on a boolean "hidden" mask of its cells:

1. Primary: a row computed over fewer members (or enrollments) than the threshold is hidden
   whole; any count from 1 to threshold - 1 is hidden, including the counts a query uses
   but does not show (the admissions behind a rate per enrollment, say).
2. Derivation: a figure computed from a hidden cell is hidden (a rate would give back its
   count), and figures that add up within a row are hidden together (paid = behavioral +
   medical).
3. Complementary: where a row of the frame is the total of other rows (a margin), no hidden
   cell may be left alone among the parts of a shown total; another part (the smallest
   non-zero one) or else the total is hidden too. Steps 2 and 3 repeat until nothing changes.

Hidden cells become NaN and the column `suppressed` lists, per row, the hidden columns
(";"-separated, empty when none), so an empty value in a CSV says why it is empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import pandas as pd

SUPPRESSED_COLUMN: Final = "suppressed"


@dataclass(frozen=True)
class DisclosureRules:
    """What the columns of one kind of frame are, for suppression.

    basis: the number of members or enrollments a row's figures are computed over.
    counts: counts suppressed from 1 to threshold - 1 (shown or helper columns).
    derived: figure -> the cells it is computed from.
    additive: columns whose values add up across rows (checked against margins).
    linked: groups of columns of a row that add up to each other, hidden together.
    """

    basis: str
    counts: tuple[str, ...]
    derived: Mapping[str, tuple[str, ...]]
    additive: tuple[str, ...] = ()
    linked: tuple[tuple[str, ...], ...] = ()
    shown_with_basis: tuple[str, ...] = field(default=())

    @property
    def columns(self) -> tuple[str, ...]:
        names = [self.basis, *self.counts, *self.derived, *self.additive, *self.shown_with_basis]
        for group in self.linked:
            names.extend(group)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Margin:
    """Row `total` of a frame is the sum of rows `parts` (labels of the frame's index)."""

    total: int
    parts: tuple[int, ...]


def _propagate(hidden: pd.DataFrame, rules: DisclosureRules) -> bool:
    """Hide what derives from hidden cells, until nothing changes; True if anything did."""
    changed_any = False
    while True:
        changed = False
        for figure, sources in rules.derived.items():
            present = [s for s in sources if s in hidden.columns]
            if figure not in hidden.columns or not present:
                continue
            newly = hidden[present].any(axis=1) & ~hidden[figure]
            if newly.any():
                hidden.loc[newly, figure] = True
                changed = True
        for group in rules.linked:
            present = [c for c in group if c in hidden.columns]
            if not present:
                continue
            any_hidden = hidden[present].any(axis=1)
            newly = any_hidden & ~hidden[present].all(axis=1)
            if newly.any():
                hidden.loc[newly, present] = True
                changed = True
        if not changed:
            return changed_any
        changed_any = True


def _complement(
    values: pd.DataFrame, hidden: pd.DataFrame, rules: DisclosureRules, margins: Sequence[Margin]
) -> bool:
    changed = False
    for margin in margins:
        parts = [p for p in margin.parts if p in hidden.index]
        if margin.total not in hidden.index or not parts:
            continue
        for column in rules.additive:
            if column not in hidden.columns or hidden.loc[margin.total, column]:
                continue
            lonely = [p for p in parts if hidden.loc[p, column]]
            if len(lonely) != 1:
                continue
            shown = values.loc[parts, column][~hidden.loc[parts, column]]
            shown = shown[shown.fillna(0) > 0]
            if shown.empty:
                hidden.loc[margin.total, column] = True
            else:
                hidden.loc[shown.astype("float64").idxmin(), column] = True
            changed = True
    return changed


def hidden_cells(
    frame: pd.DataFrame,
    rules: DisclosureRules,
    *,
    threshold: int,
    margins: Sequence[Margin] = (),
    also_hidden: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The boolean mask of the cells to suppress, over the columns of `rules` in `frame`.

    `also_hidden` (same index, any of the columns) adds cells the caller must hide for a
    reason outside the frame, such as a pooled line whose difference with shown lines
    would be small; they are propagated like the others.
    """
    columns = [c for c in rules.columns if c in frame.columns]
    hidden = pd.DataFrame(False, index=frame.index, columns=columns)
    if also_hidden is not None:
        extra = also_hidden.reindex(index=frame.index, columns=columns, fill_value=False)
        hidden = hidden | extra.astype(bool)
    basis = frame[rules.basis].fillna(0).astype("float64")
    counted = [c for c in rules.counts if c in frame.columns]
    counts = frame[counted].fillna(0).astype("float64")
    any_value = (counts != 0).any(axis=1) | (basis != 0)
    money_or_other = [
        c
        for c in (*rules.additive, *rules.shown_with_basis)
        if c in frame.columns and c not in counted
    ]
    if money_or_other:
        any_value |= (frame[money_or_other].fillna(0).astype("float64") != 0).any(axis=1)
    few = any_value & (basis < threshold)
    hidden.loc[few, :] = True
    small = (counts >= 1) & (counts < threshold)
    hidden[counted] = hidden[counted] | small
    values = frame[columns]
    _propagate(hidden, rules)
    while _complement(values, hidden, rules, margins):
        _propagate(hidden, rules)
    return hidden


def apply_suppression(
    frame: pd.DataFrame,
    rules: DisclosureRules,
    *,
    threshold: int,
    shown: Sequence[str],
    margins: Sequence[Margin] = (),
    also_hidden: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """`frame` restricted to the `shown` columns, small cells emptied, plus `suppressed`.

    Helper columns the rules need (hidden counts, the basis) may be in `frame` without
    being shown; they are used, then dropped.
    """
    hidden = hidden_cells(
        frame, rules, threshold=threshold, margins=margins, also_hidden=also_hidden
    )
    out = frame[list(shown)].copy()
    flagged = [c for c in shown if c in hidden.columns]
    for column in flagged:
        mask = hidden[column]
        if mask.any():
            out[column] = out[column].astype("float64").mask(mask)
    names = pd.Series("", index=out.index, dtype="object")
    for column in flagged:
        names = names + hidden[column].map({True: f"{column};", False: ""}).astype("object")
    out[SUPPRESSED_COLUMN] = names.str.rstrip(";") if len(out) else names
    return out


__all__ = [
    "SUPPRESSED_COLUMN",
    "DisclosureRules",
    "Margin",
    "apply_suppression",
    "hidden_cells",
]
