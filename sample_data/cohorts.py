"""The designed cohorts: programs whose pre/post figures are published.

For each of these programs every enrollment, and everything its member has in the pre and
post windows, is laid out here, so that the contract's pre/post measures over the analysable
enrollments hit chosen totals exactly (see COHORTS and sample_data/README.md). The members'
history outside the windows comes from the ordinary generator; generate.py clears whatever it
put inside the windows (`Designed.clear`).

Besides the analysable enrollments each program has enrollments that the analysable rule must
leave out (a one-day eligibility gap, eligibility starting one day late or ending one day early,
no behavioral claim or admission in either window, a post window that ends after the data),
and the analysable ones include the edge cases the rule must keep (eligibility in spans that
touch or overlap, exactly covering the windows, or with a gap just outside them; a post window
ending on the data-through date; a member enrolled twice). Some members also have claims and
stays just outside their windows (the day before the pre window, the day after the post
window, a stay admitted before the pre window that ends inside it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from sample_data.catalog import (
    END,
    ENROLLED_FOLLOWUP_30D,
    FOLLOWUP_7D,
    FOLLOWUP_30D,
    FOLLOWUP_STATE,
    PROGRAMS,
    START,
    STATE_INDEX,
    STATES,
    day,
)

PRE_DAYS = 183
POST_DAYS = 183
LAST_ANALYSABLE = END - (POST_DAYS - 1)  # latest enrolled_on whose post window is complete


def cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


@dataclass(frozen=True)
class VisitTarget:
    """Medical (behavioral false) claims of some categories: total visits and total paid."""

    categories: tuple[str, ...]
    visits: int
    paid: str


@dataclass(frozen=True)
class Window:
    """Totals over the analysable enrollments in one window (pre or post)."""

    holders: int  # enrollments with at least one admission (any setting)
    admissions: tuple[int, int]  # behavioral, medical
    los: tuple[int, int]  # sum of length of stay (every designed stay is discharged)
    admission_paid: tuple[str, str]  # dollars
    claims_paid: tuple[str, str]  # dollars: behavioral claims, medical claims
    visits: VisitTarget | None = None  # part of the medical claims
    behavioral_claims: float = 5.0  # mean per enrollment
    medical_claims: float = 3.0
    peer_claims: float = 0.0


@dataclass(frozen=True)
class Cohort:
    program_id: str
    analysable: int
    enrolled_from: str
    enrolled_to: str
    pre: Window
    post: Window
    extras: dict[str, int]  # non-analysable enrollments by reason
    roles: dict[str, float]
    conditions: dict[str, float]
    birth_years: tuple[int, int]
    index_stay: bool = True  # the last pre-window stay ends at enrollment
    in_hospital: float = 0.1  # share of index stays still open on enrolled_on
    children: float = 0.0  # share enrolled with a family support partner
    repeat_members: int = 0  # members with two analysable enrollments
    median_days: int = 170
    min_days: int = 20
    ended_by: str | None = None
    edge_dates: tuple[str, ...] = ()  # analysable enrollments on these dates
    single_behavioral_claim: bool = False  # one enrollment whose only behavioral use is one claim
    medical_share_elderly: bool = False


PEER = {"peer_coach": 0.6, "recovery_coach": 0.4}
# The claims the contract counts as visits (emergency, outpatient, professional): a designed
# program's medical visits are laid out as a whole, so its other medical claims are of the
# other categories.
VISITS = ("emergency", "outpatient", "professional")
COHORTS: tuple[Cohort, ...] = (
    # Seed 001: share with an inpatient stay 92.6% -> 48.2% (-47.9%), inpatient days per
    # member 11.2 -> 4.2 (-62.5%), behavioral cost per member $9,999 -> $5,292 (-47.1%).
    Cohort(
        "NY-TRANSITION",
        282,
        "2016-01-04",
        "2025-07-02",
        pre=Window(
            261,
            (330, 30),
            (2930, 215),
            ("2302515.00", "402360.00"),
            ("517203.00", "198000.00"),
            behavioral_claims=6,
            medical_claims=3,
        ),
        post=Window(
            136,
            (150, 14),
            (1083, 96),
            ("855570.00", "180400.00"),
            ("636774.00", "171300.00"),
            behavioral_claims=7,
            medical_claims=3,
            peer_claims=4,
        ),
        extras={"gap": 3, "late_start": 2, "early_end": 2, "no_behavioral": 2, "recent": 10},
        roles={"peer_coach": 0.45, "peer_bridge": 0.32, "recovery_coach": 0.23},
        conditions={"mental_health": 0.55, "substance_use": 0.15, "co_occurring": 0.30},
        birth_years=(1950, 2000),
        children=0.05,
        repeat_members=3,
        edge_dates=("2025-07-02",),
        single_behavioral_claim=True,
    ),
    # Seed 001: 71.5% -> 43.9% (-38.6%), 6.4 -> 4.5 days (-29.7%), $7,555 -> $5,716 (-24.3%).
    Cohort(
        "WI-TRANSITION",
        239,
        "2016-01-04",
        "2025-06-30",
        pre=Window(
            171,
            (190, 22),
            (1365, 154),
            ("1296750.00", "400400.00"),
            ("508895.00", "160000.00"),
            behavioral_claims=6,
            medical_claims=3,
        ),
        post=Window(
            105,
            (112, 12),
            (965, 103),
            ("868500.00", "267800.00"),
            ("497624.00", "150000.00"),
            behavioral_claims=6,
            medical_claims=3,
            peer_claims=4,
        ),
        extras={"gap": 2, "late_start": 1, "early_end": 1, "no_behavioral": 1, "recent": 7},
        roles=PEER,
        conditions={"mental_health": 0.5, "substance_use": 0.2, "co_occurring": 0.3},
        birth_years=(1950, 2000),
        children=0.05,
        repeat_members=2,
    ),
    # Seed 000: 107 members enrolled 2016-01-01 to 2018-12-31; behavioral admissions -66%,
    # admissions per member -1.3, average length of stay -0.6 days, -$280 per admission
    # (each holds with the setting "all" and with "behavioral"); with the setting "medical",
    # inpatient paid per member -$597, visits per member -5.72 and their paid -$492.
    Cohort(
        "TX-COACHING",
        107,
        "2016-01-04",
        "2018-12-28",
        pre=Window(
            105,
            (211, 5),
            (1498, 25),
            ("1522449.40", "99466.60"),
            ("210000.00", "163050.00"),
            visits=VisitTarget(VISITS, 1017, "123050.00"),
            behavioral_claims=5,
            medical_claims=6,
        ),
        post=Window(
            60,
            (72, 2),
            (468, 9),
            ("499348.80", "35587.60"),
            ("260000.00", "108406.00"),
            visits=VisitTarget(VISITS, 405, "70406.00"),
            behavioral_claims=5,
            medical_claims=3,
            peer_claims=5,
        ),
        extras={"gap": 3, "late_start": 2, "early_end": 2, "no_behavioral": 1},
        roles=PEER,
        conditions={"mental_health": 0.5, "substance_use": 0.2, "co_occurring": 0.3},
        birth_years=(1952, 1998),
        in_hospital=0.3,
    ),
    # Seed 000: 16 members, inpatient admissions per member -1.87, inpatient cost per member
    # -$19,283 (setting "all"), medical outpatient visits per member -17.56 and their cost
    # -$3,191 (the contract's visits, setting "medical").
    Cohort(
        "MI-WHOLE-HEALTH",
        16,
        "2016-01-04",
        "2016-07-29",
        pre=Window(
            15,
            (14, 26),
            (98, 135),
            ("120000.00", "290000.00"),
            ("30000.00", "120000.00"),
            visits=VisitTarget(VISITS, 448, "80000.00"),
            behavioral_claims=4,
            medical_claims=8,
        ),
        post=Window(
            7,
            (3, 7),
            (15, 28),
            ("23472.00", "78000.00"),
            ("28000.00", "58944.00"),
            visits=VisitTarget(VISITS, 167, "28944.00"),
            behavioral_claims=4,
            medical_claims=5,
            peer_claims=5,
        ),
        extras={"gap": 2, "early_end": 1},
        roles={"whole_health_coach": 1.0},
        conditions={"mental_health": 0.6, "substance_use": 0.1, "co_occurring": 0.3},
        birth_years=(1955, 1985),
        index_stay=False,
        median_days=180,
        min_days=150,
        ended_by="2017-01-31",
    ),
    # Seed 001: average length of stay 6 -> 2.3 days (-62%), hospitalizations -70%.
    Cohort(
        "TX-OLDER-ADULTS",
        34,
        "2017-03-01",
        "2019-06-28",
        pre=Window(
            30,
            (18, 25),
            (120, 138),
            ("126000.00", "300000.00"),
            ("40000.00", "90000.00"),
            behavioral_claims=4,
            medical_claims=6,
        ),
        post=Window(
            11,
            (5, 8),
            (12, 18),
            ("20500.00", "61000.00"),
            ("55000.00", "80000.00"),
            behavioral_claims=4,
            medical_claims=6,
            peer_claims=4,
        ),
        extras={"gap": 2, "late_start": 1, "no_behavioral": 1},
        roles={"whole_health_coach": 1.0},
        conditions={"mental_health": 0.8, "substance_use": 0.05, "co_occurring": 0.15},
        birth_years=(1930, 1955),
        index_stay=False,
        median_days=200,
        medical_share_elderly=True,
    ),
    # Seed 000: eight members enrolled 2016-06-01 to 2017-07-15, engaged more than six months.
    # The published figures are 24-month projections (not reproduced); the six-month windows
    # are built to move the same way: admissions -68%, total paid -38%, about $5,387 per stay.
    Cohort(
        "RI-PRAISE",
        8,
        "2016-06-01",
        "2017-07-14",
        pre=Window(
            8,
            (15, 4),
            (128, 22),
            ("80353.00", "22000.00"),
            ("30000.00", "10000.00"),
            behavioral_claims=8,
            medical_claims=3,
        ),
        post=Window(
            4,
            (5, 1),
            (36, 4),
            ("27000.00", "5200.00"),
            ("45059.00", "11000.00"),
            behavioral_claims=8,
            medical_claims=3,
            peer_claims=10,
        ),
        extras={"gap": 1, "early_end": 1},
        roles={"peer_coach": 0.5, "recovery_coach": 0.5},
        conditions={"co_occurring": 0.75, "mental_health": 0.25},
        birth_years=(1960, 1995),
        median_days=300,
        min_days=200,
    ),
)

BEHAVIORAL_CATEGORIES = {
    "outpatient": 0.36,
    "professional": 0.30,
    "pharmacy": 0.24,
    "emergency": 0.06,
    "other": 0.04,
}
MEDICAL_CATEGORIES = {
    "professional": 0.36,
    "outpatient": 0.24,
    "pharmacy": 0.30,
    "emergency": 0.06,
    "other": 0.04,
}
TYPICAL_PAID = {  # dollars per visit, before state prices and inflation
    "outpatient": 160.0,
    "professional": 110.0,
    "pharmacy": 90.0,
    "emergency": 900.0,
    "other": 120.0,
    "peer_support": 70.0,
}
WEEKDAY_ONLY = {"outpatient", "professional", "peer_support"}
FOLLOWUP = {"outpatient": 0.5, "professional": 0.45, "peer_support": 0.05}
ENROLLED_FOLLOWUP = {"outpatient": 0.35, "professional": 0.3, "peer_support": 0.35}


def allocate(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split an integer total in proportion to weights (largest remainder), each >= minimum."""
    n = len(weights)
    rest = total - minimum * n
    if n == 0:
        if total:
            raise ValueError(f"cannot allocate {total} over nothing")
        return np.zeros(0, dtype=np.int64)
    if rest < 0:
        raise ValueError(f"cannot allocate {total} over {n} with minimum {minimum}")
    share = np.asarray(weights, dtype=float)
    raw = rest * share / share.sum()
    base = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - base), kind="stable")
    base[order[: rest - int(base.sum())]] += 1
    return base + minimum


def inflation(d: int) -> float:
    return 1.03 ** ((d - START) / 365.25)


def month_start(d: int) -> int:
    return int(np.datetime64(d, "D").astype("datetime64[M]").astype("datetime64[D]").astype(int))


def month_end(d: int) -> int:
    m = np.datetime64(d, "D").astype("datetime64[M]") + 1
    return int(m.astype("datetime64[D]").astype(int)) - 1


def weekday(d: int) -> int:
    return (d + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)


@dataclass
class Slot:
    """One designed enrollment."""

    cohort: Cohort
    enrolled_on: int
    kind: str  # eligibility / analysability case
    analysable: bool
    member: int = -1
    role: str = ""
    ended_on: int = -1
    stays: list[tuple[str, int, int, int]] = field(
        default_factory=list
    )  # setting, admit, disch, cents
    claims: list[tuple[int, str, bool, int, int]] = field(
        default_factory=list
    )  # date, cat, bh, visits, cents
    pre_floor: int = 0  # earliest admit of a pre-window stay (after a straddling stay)
    planned: list[tuple[int, str]] = field(default_factory=list)  # day, category (behavioral)

    @property
    def pre_start(self) -> int:
        return self.enrolled_on - PRE_DAYS

    @property
    def post_end(self) -> int:
        return self.enrolled_on + POST_DAYS - 1


@dataclass
class Designed:
    members: pd.DataFrame  # local index, state, birth_year, primary_condition, intensities
    eligibility: pd.DataFrame  # member, start, end
    enrollments: pd.DataFrame  # member, program_id, coaching_role, enrolled_on, ended_on (-1)
    admissions: pd.DataFrame  # member, setting, admit, discharge (-1), paid_cents
    services: pd.DataFrame  # member, date, category, behavioral, visits, paid_cents
    clear: pd.DataFrame  # member, start, end: generated use inside is replaced
    crises: pd.DataFrame  # member, enrolled_on, gap: days since the latest behavioral discharge
    slots: list[Slot]


def _weekday_shift(d: int, lo: int, hi: int) -> int:
    wd = weekday(d)
    if wd == 5:
        d = d - 1 if d - 1 >= lo else d + 2
    elif wd == 6:
        d = d + 1 if d + 1 <= hi else d - 2
    return min(max(d, lo), hi)


def _enrollment_dates(rng: np.random.Generator, first: int, last: int, n: int) -> list[int]:
    days = np.sort(rng.integers(first, last + 1, size=n))
    return [_weekday_shift(int(d), first, last) for d in days]


def _stay_spans(rng: np.random.Generator, los: np.ndarray) -> np.ndarray:
    """Days from admit to discharge: LOS, or 0 (same-day stay) for some stays of LOS 1."""
    span = los.copy()
    ones = np.flatnonzero(los == 1)
    span[ones[rng.random(len(ones)) < 0.4]] = 0
    return span


def _place(rng: np.random.Generator, lo: int, hi: int, spans: list[int], cap: int) -> list[int]:
    """Admit days of consecutive stays: admits within [lo, hi], no overlap, discharge <= cap."""
    k = len(spans)
    if k == 0:
        return []
    hi = min(hi, cap - spans[-1])
    free = hi - lo - sum(s + 1 for s in spans[:-1])
    if free < 0:
        raise ValueError("stays do not fit in the window")
    cuts = np.sort(rng.integers(0, free + 1, size=k))
    gaps = np.diff(np.concatenate([[0], cuts]))
    admits, at = [], lo
    for i, span in enumerate(spans):
        at += int(gaps[i])
        admits.append(at)
        at += span + 1
    return admits


def _design_stays(
    rng: np.random.Generator, slots: list[Slot], window: Window, which: str, behavioral: bool = True
) -> None:
    """Give each slot its stays in one window so that the window's totals are met exactly."""
    cohort = slots[0].cohort
    n = len(slots)
    n_b, n_m = window.admissions if behavioral else (0, window.admissions[1])
    total = n_b + n_m
    if total == 0:
        return
    holders = min(max(window.holders, 1), total, n)
    holder_idx = rng.choice(n, size=holders, replace=False)
    counts = np.zeros(n, dtype=np.int64)
    counts[holder_idx] = 1
    cap = max(6, math.ceil(total / holders) + 1)
    extra = allocate(total - holders, rng.gamma(0.7, size=holders) + 0.05)
    counts[holder_idx] += extra
    while (over := counts > cap).any():  # move stays above the cap to other holders
        spill = int((counts[over] - cap).sum())
        counts[over] = cap
        for _ in range(spill):
            room = holder_idx[counts[holder_idx] < cap]
            counts[rng.choice(room)] += 1
    owner = np.repeat(np.arange(n), counts)
    # the last pre stay of a holder is the index stay: make it behavioral where possible
    is_index = np.zeros(total, dtype=bool)
    if which == "pre" and cohort.index_stay:
        last = np.cumsum(counts)[counts > 0] - 1
        is_index[last] = True
    order = rng.permutation(total)
    if not cohort.medical_share_elderly:  # medical stays go to non-index stays first
        order = np.concatenate([order[~is_index[order]], order[is_index[order]]])
    setting = np.array(["behavioral"] * total, dtype=object)
    setting[order[:n_m]] = "medical"
    los = np.zeros(total, dtype=np.int64)
    paid = np.zeros(total, dtype=np.int64)
    for s_i, name in enumerate(("behavioral", "medical")):
        idx = np.flatnonzero(setting == name)
        if len(idx) == 0:
            continue
        n_s = (n_b, n_m)[s_i]
        assert len(idx) == n_s
        los_total = window.los[s_i]
        los[idx] = allocate(los_total, rng.lognormal(0.0, 0.5, size=n_s), minimum=1)
        year_factor = np.array([inflation(slots[o].enrolled_on) for o in owner[idx]])
        weight = (los[idx] + 0.6) * year_factor * rng.lognormal(0.0, 0.2, size=n_s)
        paid[idx] = allocate(cents(window.admission_paid[s_i]), weight)
    spans = _stay_spans(rng, los)
    start = 0
    for i, slot in enumerate(slots):
        k = int(counts[i])
        mine = list(range(start, start + k))
        start += k
        if k == 0:
            continue
        rng.shuffle(mine)
        e = slot.enrolled_on
        if which == "pre":
            floor = max(slot.pre_floor, slot.pre_start)
            if cohort.index_stay:
                index = next(j for j in mine if is_index[j])
                mine.remove(index)
                span = int(spans[index])
                if span >= 3 and rng.random() < cohort.in_hospital:  # still in hospital
                    discharge = e + int(rng.integers(0, min(span - 2, 5) + 1))
                else:
                    discharge = e - int(rng.integers(0, 3))
                admit = min(discharge - span, e - 1)
                admits = _place(rng, floor, admit - 2, [int(spans[j]) for j in mine], admit - 1)
                placed = [*zip(mine, admits, strict=True), (index, admit)]
            else:
                admits = _place(rng, floor, e - 1, [int(spans[j]) for j in mine], END)
                placed = list(zip(mine, admits, strict=True))
        else:
            lo = max([e] + [d + 1 for (_, _, d, _) in slot.stays if d >= e])
            cap = min(END, slot.post_end + 20)
            try:
                admits = _place(rng, lo, slot.post_end, [int(spans[j]) for j in mine], cap)
            except ValueError:
                if slot.analysable:
                    raise
                admits = []  # a post window cut short by the end of the data: no stays
                mine = []
            placed = list(zip(mine, admits, strict=True))
        for j, admit in placed:
            slot.stays.append((str(setting[j]), admit, admit + int(spans[j]), int(paid[j])))


def _forward_weekday(d: int) -> int:
    """Saturdays and Sundays to the next Monday (an office visit after a discharge)."""
    wd = weekday(d)
    return d + 2 if wd == 5 else d + 1 if wd == 6 else d


def _plan_stay_claims(rng: np.random.Generator, slot: Slot, state: str) -> None:
    """The behavioral claims a slot's behavioral stays bring (as generate.stay_claims does for
    everyone else): an ED visit on many admit days; after a discharge, a follow-up within 7
    or 8-30 days, likelier once enrolled; once enrolled, a peer contact on the discharge day or
    the next for most discharges. Only those dated inside a window are used (_design_claims)."""
    factor = FOLLOWUP_STATE[state]
    for setting, admit, discharge, _ in sorted(slot.stays, key=lambda st: st[1]):
        if setting != "behavioral":
            continue
        if rng.random() < 0.45:
            slot.planned.append((admit, "emergency"))
        if discharge < 0:
            continue
        enrolled = discharge >= slot.enrolled_on - 3 and (
            slot.ended_on < 0 or discharge <= slot.ended_on
        )
        p7 = 0.45 if enrolled else FOLLOWUP_7D * factor
        p30 = ENROLLED_FOLLOWUP_30D if enrolled else FOLLOWUP_30D * factor
        u = rng.random()
        mix = ENROLLED_FOLLOWUP if enrolled else FOLLOWUP
        category = str(_pick_categories(rng, mix, 1)[0])
        if u < p7:
            slot.planned.append((_forward_weekday(discharge + int(rng.integers(1, 8))), category))
        elif u < p7 + (1 - p7) * p30:
            slot.planned.append((_forward_weekday(discharge + int(rng.integers(8, 31))), category))
        if enrolled and rng.random() < 0.85:
            slot.planned.append((discharge + int(rng.random() < 0.5), "peer_support"))


def _pick_categories(rng: np.random.Generator, mix: dict[str, float], n: int) -> np.ndarray:
    names = list(mix)
    p = np.array([mix[c] for c in names])
    return np.array(names, dtype=object)[rng.choice(len(names), size=n, p=p / p.sum())]


def _claim_days(rng: np.random.Generator, lo: int, hi: int, categories: np.ndarray) -> list[int]:
    days = rng.integers(lo, hi + 1, size=len(categories))
    return [
        _weekday_shift(int(d), lo, hi) if c in WEEKDAY_ONLY else int(d)
        for d, c in zip(days, categories, strict=True)
    ]


def _design_claims(
    rng: np.random.Generator, slots: list[Slot], window: Window, which: str, behavioral: bool = True
) -> None:
    """Give each slot its claims in one window; paid totals (and visit totals) exact."""
    rows: list[list] = []  # slot, day, category, behavioral, visits, weight
    target_rows: list[list] = []
    for i, slot in enumerate(slots):
        lo, hi = (
            (slot.pre_start, slot.enrolled_on - 1)
            if which == "pre"
            else (slot.enrolled_on, min(slot.post_end, END))
        )
        state_cost = STATES[
            STATE_INDEX[next(p.state for p in PROGRAMS if p.program_id == slot.cohort.program_id)]
        ].cost_index
        price = state_cost * inflation(slot.enrolled_on)
        if behavioral:
            if slot.kind == "single_behavioral":
                cats = (
                    np.array(["outpatient"], dtype=object)
                    if which == "pre"
                    else np.array([], dtype=object)
                )
            else:
                cats = _pick_categories(
                    rng, BEHAVIORAL_CATEGORIES, 1 + rng.poisson(window.behavioral_claims - 1)
                )
            days = (
                [slot.pre_start]
                if slot.kind == "single_behavioral" and which == "pre"
                else (_claim_days(rng, lo, hi, cats))
            )
            for d, c in zip(days, cats, strict=True):
                visits = 1 + int(rng.poisson(0.3)) if c == "outpatient" else 1
                rows.append([i, d, c, True, visits, TYPICAL_PAID[c] * visits * price])
            for d, c in slot.planned:
                if lo <= d <= hi:
                    visits = 1 + int(rng.poisson(0.3)) if c == "outpatient" else 1
                    rows.append([i, d, c, True, visits, TYPICAL_PAID[c] * visits * price])
            if window.peer_claims:
                n_peer = 1 + rng.poisson(window.peer_claims - 1)
                if slot.kind == "single_behavioral":
                    n_peer = 0
                peer_days = sorted(
                    _weekday_shift(int(d), lo, hi)
                    for d in rng.integers(lo, min(hi, lo + 120) + 1, size=n_peer)
                )
                for d in peer_days:
                    visits = 1 + int(rng.poisson(0.4))
                    rows.append(
                        [
                            i,
                            d,
                            "peer_support",
                            True,
                            visits,
                            TYPICAL_PAID["peer_support"] * visits * price,
                        ]
                    )
        mix = dict(MEDICAL_CATEGORIES)
        if window.visits is not None:
            for c in window.visits.categories:
                mix.pop(c, None)
        cats = _pick_categories(rng, mix, rng.poisson(window.medical_claims))
        for d, c in zip(_claim_days(rng, lo, hi, cats), cats, strict=True):
            visits = 1 + int(rng.poisson(0.2)) if c in ("outpatient", "other") else 1
            rows.append([i, d, c, False, visits, TYPICAL_PAID[c] * visits * price])
        if window.visits is not None:
            per_slot = window.visits.visits / len(slots)
            n_claims = 1 + rng.poisson(max(per_slot / 2.2 - 1, 0.2))
            vcats = _pick_categories(
                rng, {c: MEDICAL_CATEGORIES[c] for c in window.visits.categories}, n_claims
            )
            for d, c in zip(_claim_days(rng, lo, hi, vcats), vcats, strict=True):
                target_rows.append([i, d, c, False, 1, TYPICAL_PAID[c] * price])
    claims = pd.DataFrame(
        rows, columns=["slot", "day", "category", "behavioral", "visits", "weight"]
    )
    if not (~claims["behavioral"]).any() and cents(window.claims_paid[1]) > (
        cents(window.visits.paid) if window.visits is not None else 0
    ):  # at least one medical claim to carry the medical total
        slot0 = slots[0]
        d = slot0.pre_start if which == "pre" else slot0.enrolled_on
        claims.loc[len(claims)] = [0, _weekday_shift(d, d, d + 3), "pharmacy", False, 1, 1.0]
    claims["weight"] *= rng.lognormal(0.0, 0.35, size=len(claims))
    claims["cents"] = 0
    if behavioral:
        bh = claims["behavioral"].to_numpy()
        claims.loc[bh, "cents"] = allocate(
            cents(window.claims_paid[0]), claims.loc[bh, "weight"].to_numpy()
        )
    med_total = cents(window.claims_paid[1])
    if window.visits is not None:
        target = pd.DataFrame(target_rows, columns=claims.columns[:-1]).head(window.visits.visits)
        target["visits"] = allocate(
            window.visits.visits, rng.lognormal(0, 0.5, len(target)), minimum=1
        )
        target["weight"] *= target["visits"] * rng.lognormal(0.0, 0.3, size=len(target))
        target["cents"] = allocate(cents(window.visits.paid), target["weight"].to_numpy())
        med_total -= cents(window.visits.paid)
    med = ~claims["behavioral"].to_numpy()
    claims.loc[med, "cents"] = allocate(med_total, claims.loc[med, "weight"].to_numpy())
    if window.visits is not None:
        claims = pd.concat([claims, target], ignore_index=True)
    for row in claims.itertuples(index=False):
        slots[row.slot].claims.append(
            (row.day, row.category, bool(row.behavioral), int(row.visits), int(row.cents))
        )


def _scaled(window: Window, n: int, of: int, rng: np.random.Generator) -> Window:
    """A window for non-analysable enrollments, with totals in proportion (not calibrated)."""

    def part(x: int) -> int:
        return int(rng.binomial(max(x, 0), min(1.0, n / of))) if x else 0

    def money(x: str, units: int, of_units: int) -> str:
        return f"{float(Decimal(x)) * (units / of_units if of_units else 0):.2f}"

    adm = (part(window.admissions[0]), part(window.admissions[1]))
    los = tuple(
        max(a, round(window.los[i] * a / window.admissions[i])) if window.admissions[i] else 0
        for i, a in enumerate(adm)
    )
    visits = None
    if window.visits is not None:
        v = max(n, round(window.visits.visits * n / of))
        visits = VisitTarget(window.visits.categories, v, money(window.visits.paid, n, of))
    return Window(
        holders=min(sum(adm), part(window.holders)),
        admissions=adm,
        los=(int(los[0]), int(los[1])),
        admission_paid=(
            money(window.admission_paid[0], adm[0], window.admissions[0]),
            money(window.admission_paid[1], adm[1], window.admissions[1]),
        ),
        claims_paid=(money(window.claims_paid[0], n, of), money(window.claims_paid[1], n, of)),
        visits=visits,
        behavioral_claims=window.behavioral_claims,
        medical_claims=window.medical_claims,
        peer_claims=window.peer_claims,
    )


def _add_traps(rng: np.random.Generator, slot: Slot, state_cost: float) -> None:
    """Use just outside the windows, which no pre/post measure may count."""
    a, b = slot.pre_start, slot.post_end
    price = state_cost * inflation(a)
    slot.claims.append(
        (a - 1, "outpatient", True, 1, int(TYPICAL_PAID["outpatient"] * price * 100))
    )
    if b + 1 <= END:
        slot.claims.append(
            (b + 1, "professional", True, 1, int(TYPICAL_PAID["professional"] * price * 100))
        )
    if rng.random() < 0.6:  # a stay admitted before the pre window that ends inside it
        admit = a - int(rng.integers(2, 7))
        discharge = a + int(rng.integers(0, 4))
        slot.stays.append(
            ("behavioral", admit, discharge, int((discharge - admit + 1) * 900 * price * 100))
        )
        slot.pre_floor = discharge + 2


def _eligibility(
    rng: np.random.Generator, kind: str, first: int, last: int
) -> list[tuple[int, int]]:
    """Spans of a member whose windows run from `first` to `last`, following the case `kind`."""
    s = month_start(max(START, first - int(rng.integers(0, 1500))))
    t = month_end(min(END, last + int(rng.integers(0, 2500))))
    t = min(t, END)
    if kind == "exact":
        spans = [(first, last)]
        if first - START > 120:
            spans.append((month_start(max(START, first - 700)), first - 40))
        if last + 60 <= END:
            spans.append((last + 40, min(END, last + 400)))
        return spans
    if kind == "adjacent":
        p = int(rng.integers(first + 1, last + 1))
        return [(s, p - 1), (p, t)]
    if kind == "overlap":
        p = int(rng.integers(first + 1, last))
        return [(s, min(t, p + int(rng.integers(1, 60)))), (p, t)]
    if kind == "gap_outside":
        return [(month_start(max(START, first - 400)), first - 2), (first, t)]
    if kind == "gap":
        g = int(rng.integers(first + 1, last))
        return [(s, g - 1), (g + 1, t)]
    if kind == "late_start":
        spans = [(first + 1, t)]
        if first - START > 200:
            spans.append((month_start(max(START, first - 600)), first - 35))
        return spans
    if kind == "early_end":
        return [(s, last - 1)]
    if kind == "recent":
        return [(s, END)]
    spans = [(s, t)]
    if s - START > 300 and rng.random() < 0.3:
        spans.append(
            (
                month_start(max(START, s - int(rng.integers(200, 900)))),
                s - int(rng.integers(30, 120)),
            )
        )
    return spans


def _roles(rng: np.random.Generator, cohort: Cohort, n: int) -> list[str]:
    names = list(cohort.roles)
    p = np.array([cohort.roles[r] for r in names])
    return [str(r) for r in np.array(names)[rng.choice(len(names), size=n, p=p / p.sum())]]


def build(rng: np.random.Generator) -> Designed:
    """Lay out every designed cohort; members are numbered 0.. in the returned frames."""
    slots_all: list[Slot] = []
    members: list[dict] = []
    eligibility: list[tuple[int, int, int]] = []
    for cohort in COHORTS:
        program = next(p for p in PROGRAMS if p.program_id == cohort.program_id)
        state_cost = STATES[STATE_INDEX[program.state]].cost_index
        first, last = day(cohort.enrolled_from), day(cohort.enrolled_to)
        dates = _enrollment_dates(rng, first, last, cohort.analysable)
        for i, edge in enumerate(cohort.edge_dates):
            dates[-1 - i] = day(edge)
        kinds = ["plain"] * cohort.analysable
        special = (
            ["exact", "exact", "gap_outside", "gap_outside"]
            if cohort.analysable > 50
            else ["exact"]
        )
        special += ["adjacent"] * round(0.15 * cohort.analysable) + ["overlap"] * round(
            0.08 * cohort.analysable
        )
        positions = rng.choice(
            [
                i
                for i in range(cohort.analysable)
                if dates[i] not in {day(e) for e in cohort.edge_dates}
            ],
            size=len(special),
            replace=False,
        )
        for pos, kind in zip(positions, special, strict=True):
            kinds[pos] = kind
        slots = [Slot(cohort, d, k, True) for d, k in zip(dates, kinds, strict=True)]
        for kind, count in cohort.extras.items():
            if kind == "recent":
                extra_dates = [
                    LAST_ANALYSABLE + 1,
                    *_enrollment_dates(rng, LAST_ANALYSABLE + 2, END - 5, count - 1),
                ]
            else:
                extra_dates = _enrollment_dates(rng, first, min(last, LAST_ANALYSABLE), count)
            slots += [Slot(cohort, d, kind, False) for d in extra_dates]
        # members: one per slot, except members enrolled twice (windows far apart)
        owner = list(range(len(slots)))
        paired: set[int] = set()
        for _ in range(cohort.repeat_members):
            for i in rng.permutation(cohort.analysable):
                if i in paired or slots[i].kind != "plain":
                    continue
                later = [
                    j
                    for j in range(cohort.analysable)
                    if j not in paired
                    and j != i
                    and slots[j].kind == "plain"
                    and slots[j].enrolled_on >= slots[i].enrolled_on + 400
                ]
                if later:
                    j = int(rng.choice(later))
                    owner[j] = i
                    paired |= {i, j}
                    break
        base = len(members)
        local = {o: base + k for k, o in enumerate(sorted(set(owner)))}
        roles = _roles(rng, cohort, len(slots))
        for i, slot in enumerate(slots):
            slot.member = local[owner[i]]
            slot.role = roles[i]
        for o in sorted(set(owner)):
            mine = [s for s in slots if s.member == local[o]]
            child = rng.random() < cohort.children
            e0 = min(s.enrolled_on for s in mine)
            year0 = int(np.datetime64(e0, "D").astype("datetime64[Y]").astype(int)) + 1970
            if child:
                birth = year0 - int(rng.integers(7, 17))
                for s in mine:
                    s.role = "family_support_partner"
            else:
                birth = int(rng.integers(cohort.birth_years[0], cohort.birth_years[1] + 1))
                for s in mine:
                    if s.role == "family_support_partner":
                        s.role = "peer_coach"
            names = list(cohort.conditions)
            p = np.array([cohort.conditions[c] for c in names])
            condition = str(names[rng.choice(len(names), p=p / p.sum())])
            for s in mine:
                if s.role == "recovery_coach" and condition == "mental_health":
                    s.role = "peer_coach"
            members.append(
                {
                    "state": program.state,
                    "birth_year": birth,
                    "primary_condition": condition,
                    "admission_rate": float(rng.gamma(2.0, 0.2)),
                    "service_rate": float(rng.gamma(3.0, 1.2)),
                }
            )
            kind = mine[0].kind if len(mine) == 1 else "plain"
            for start, end in _eligibility(
                rng, kind, min(s.pre_start for s in mine), max(s.post_end for s in mine)
            ):
                eligibility.append((local[o], start, end))
        # enrollment ends
        for slot in slots:
            length = max(cohort.min_days, int(rng.lognormal(math.log(cohort.median_days), 0.25)))
            if rng.random() < 0.1:
                length = int(rng.integers(cohort.min_days, 90)) if cohort.min_days < 90 else length
            end = slot.enrolled_on + length
            if cohort.ended_by is not None:
                end = min(end, day(cohort.ended_by))
            slot.ended_on = -1 if end > END else end
        # traps for some analysable members with a single enrollment
        for slot in slots:
            if slot.analysable and slot.kind == "plain" and rng.random() < 0.12:
                _add_traps(rng, slot, state_cost)
        # the one enrollment whose only behavioral use is a claim on the first day of the window
        analysable = [s for s in slots if s.analysable]
        # design the windows of the analysable enrollments (exact totals) ...
        for which, window in (("pre", cohort.pre), ("post", cohort.post)):
            _design_stays(rng, analysable, window, which)
        if cohort.single_behavioral_claim:
            candidates = [
                s for s in analysable if s.kind == "plain" and not s.stays and not s.claims
            ]
            if candidates:
                candidates[0].kind = "single_behavioral"
        for slot in analysable:
            _plan_stay_claims(rng, slot, program.state)
        for which, window in (("pre", cohort.pre), ("post", cohort.post)):
            _design_claims(rng, analysable, window, which)
        # ... and of the others (in proportion, not calibrated)
        for kind in cohort.extras:
            group = [s for s in slots if s.kind == kind]
            behavioral = kind != "no_behavioral"
            for which, window in (("pre", cohort.pre), ("post", cohort.post)):
                scaled = _scaled(window, len(group), cohort.analysable, rng)
                _design_stays(rng, group, scaled, which, behavioral=behavioral)
            for slot in group:
                _plan_stay_claims(rng, slot, program.state)
            for which, window in (("pre", cohort.pre), ("post", cohort.post)):
                scaled = _scaled(window, len(group), cohort.analysable, rng)
                _design_claims(rng, group, scaled, which, behavioral=behavioral)
            if not behavioral:  # behavioral claims on the days just outside the windows
                for slot in group:
                    price = state_cost * inflation(slot.pre_start)
                    slot.claims.append(
                        (slot.pre_start - 1, "outpatient", True, 1, int(16000 * price))
                    )
                    if slot.post_end + 1 <= END:
                        slot.claims.append(
                            (slot.post_end + 1, "outpatient", True, 1, int(16000 * price))
                        )
        slots_all += slots

    enrollments = pd.DataFrame(
        [(s.member, s.cohort.program_id, s.role, s.enrolled_on, s.ended_on) for s in slots_all],
        columns=["member", "program_id", "coaching_role", "enrolled_on", "ended_on"],
    )
    admissions = pd.DataFrame(
        [(s.member, st, a, d, c) for s in slots_all for (st, a, d, c) in s.stays],
        columns=["member", "setting", "admit", "discharge", "paid_cents"],
    )
    services = pd.DataFrame(
        [(s.member, *c) for s in slots_all for c in s.claims],
        columns=["member", "date", "category", "behavioral", "visits", "paid_cents"],
    )
    clear = pd.DataFrame(
        [(s.member, s.pre_start, min(s.post_end, END)) for s in slots_all],
        columns=["member", "start", "end"],
    )
    crises = []  # analysable enrollments after a behavioral stay: days since its discharge
    for s in slots_all:
        ends = [d for st, a, d, _ in s.stays if st == "behavioral" and a < s.enrolled_on and d >= 0]
        if s.analysable and ends:
            crises.append((s.member, s.enrolled_on, s.enrolled_on - max(ends)))
    elig = pd.DataFrame(eligibility, columns=["member", "start", "end"])
    elig = (
        elig.sort_values(["member", "start"])
        .drop_duplicates(["member", "start"])
        .reset_index(drop=True)
    )
    _check(slots_all)
    return Designed(
        pd.DataFrame(members),
        elig,
        enrollments,
        admissions,
        services,
        clear,
        pd.DataFrame(crises, columns=["member", "enrolled_on", "gap"]),
        slots_all,
    )


def _check(slots: list[Slot]) -> None:
    """The designed windows of the analysable enrollments meet every target exactly."""
    for cohort in COHORTS:
        mine = [s for s in slots if s.cohort is cohort and s.analysable]
        assert len(mine) == cohort.analysable
        for which, window in (("pre", cohort.pre), ("post", cohort.post)):
            lo_hi = {
                id(s): (s.pre_start, s.enrolled_on - 1)
                if which == "pre"
                else (s.enrolled_on, s.post_end)
                for s in mine
            }

            def inside(s: Slot, d: int, lo_hi: dict = lo_hi) -> bool:
                lo, hi = lo_hi[id(s)]
                return lo <= d <= hi

            stays = [(s, st) for s in mine for st in s.stays if inside(s, st[1])]
            holders = len({id(s) for s, _ in stays})
            assert holders == window.holders, (cohort.program_id, which, holders)
            for i, setting in enumerate(("behavioral", "medical")):
                mine_s = [st for _, st in stays if st[0] == setting]
                assert len(mine_s) == window.admissions[i], (cohort.program_id, which, setting)
                assert sum(max(d - a, 1) for _, a, d, _ in mine_s) == window.los[i]
                assert sum(c for *_, c in mine_s) == cents(window.admission_paid[i])
                claims = [c for s in mine for c in s.claims if inside(s, c[0]) and c[2] == (i == 0)]
                assert sum(c[4] for c in claims) == cents(window.claims_paid[i]), (
                    cohort.program_id,
                    which,
                )
            if window.visits is not None:
                target = [
                    c
                    for s in mine
                    for c in s.claims
                    if inside(s, c[0]) and not c[2] and c[1] in window.visits.categories
                ]
                assert sum(c[3] for c in target) == window.visits.visits
                assert sum(c[4] for c in target) == cents(window.visits.paid)
        for s in mine:  # every analysable enrollment has behavioral use in its windows
            assert any(
                s.pre_start <= a <= s.post_end and st == "behavioral" for st, a, _, _ in s.stays
            ) or any(s.pre_start <= c[0] <= s.post_end and c[2] for c in s.claims)
