"""Generate the sample data set of the outcomes data contract.

    python -m sample_data.generate [--out DIR] [--members N] [--seed S]

Seeded and deterministic: the same arguments write the same bytes (gzip with mtime 0).
Vectorised with numpy; claims are generated and written in chunks of members, so a million
members (about ten million claims) fit comfortably in memory.

The population: members of 23 states, most never enrolled in a program (the comparison
population), with eligibility spans (gaps, renewals recorded as touching spans, a few
overlapping records, the 2020-2023 continuous-coverage years and the unwinding after them),
inpatient stays and claims with seasonality, weekday patterns, yearly price inflation and a
dip in the spring of 2020. ED visits, many on the day of an admission; after a behavioral
discharge, follow-up visits at rates that vary by state (and are higher for members enrolled
in a program, whose peers contact most of them within a day).

Crisis episodes, enrolled or not: use climbs for some weeks and ends in a (mostly behavioral)
stay. Programs enrol many members right after such a stay or during the spike, so their use
would fall after enrollment anyway (regression to the mean); members never enrolled have the
same episodes, and more are made where needed (comparison_twins) so that every enrollment
made at a crisis has not-enrolled members of its state, condition, age band and month with a
crisis like it. On top, each random program has a true effect (catalog.true_effect): in its
enrollees' post windows it prevents a share of the admissions, ED visits or medical claims
they would have had; TrueEffects reports the effect as realised.

Three kinds of programs:
- designed cohorts (cohorts.py): the programs with published pre/post figures;
- Pierce County (WA-PIERCE): admissions per member-month placed by quota so that they fall
  by about a third from 2016 to 2021 and its inpatient days per 1,000 member-months stay
  22.5% below those of Washington's members not enrolled;
- every other program: random enrollments with the behaviour of their model (catalog.py).
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from sample_data import cohorts
from sample_data.catalog import (
    BEHAVIOUR,
    END,
    ENROLLED_FOLLOWUP_30D,
    EPISODE_RATE,
    ESCALATION,
    ESCALATION_DAYS,
    FOLLOWUP_7D,
    FOLLOWUP_30D,
    FOLLOWUP_STATE,
    MODEL_VOLUME,
    PIERCE_DAYS_VS_STATE,
    PIERCE_READMISSION_SHARE,
    PIERCE_TREND,
    PROGRAM_INDEX,
    PROGRAMS,
    ROUTINE_ADMISSIONS,
    ROUTINE_CLAIMS,
    START,
    STATE_INDEX,
    STATES,
    day,
    true_effect,
)
from sample_data.cohorts import POST_DAYS, PRE_DAYS

DEFAULT_MEMBERS = 36_000
DEFAULT_SEED = 20160101
CHUNK_MEMBERS = 50_000
HERE = Path(__file__).resolve().parent

CONDITIONS = np.array(["mental_health", "substance_use", "co_occurring"], dtype=object)
CATEGORIES = np.array(
    ["emergency", "outpatient", "professional", "pharmacy", "peer_support", "other"], dtype=object
)
EMERGENCY, OUTPATIENT, PROFESSIONAL, PHARMACY, PEER, OTHER = range(6)
CATEGORY_MIX = np.array([0.14, 0.27, 0.30, 0.24, 0.0, 0.05])
TYPICAL_PAID = np.array([700.0, 160.0, 110.0, 90.0, 70.0, 120.0])
PAID_SPREAD = np.array([0.6, 0.45, 0.4, 0.95, 0.25, 0.5])
BEHAVIORAL_SHARE = np.array([0.30, 0.60, 0.50, 0.45, 1.0, 0.40])
WEEKDAY_WEIGHT = np.array(
    [
        [0.95, 0.90, 0.90, 0.90, 0.95, 1.00, 1.00],  # emergency
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.10, 0.03],  # outpatient
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.08, 0.02],  # professional
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.55, 0.30],  # pharmacy
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.05, 0.02],  # peer support
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.30, 0.10],  # other
    ]
)
SERVICE_SEASON = np.array([1.04, 1.0, 1.07, 1.03, 1.01, 0.97, 0.93, 0.98, 1.0, 1.03, 0.97, 0.88])
ADMISSION_SEASON = np.array([0.95, 0.93, 1.0, 1.02, 1.06, 1.08, 1.07, 1.05, 1.0, 0.98, 0.93, 0.93])
COVID = (day("2020-03-16"), day("2020-05-31"))
PHE = (62, 98)  # months (from 2015-01) whose coverage ends were postponed: 2020-03 .. 2023-03
SETTINGS = np.array(["behavioral", "medical"], dtype=object)
MONTH0 = np.datetime64("2015-01", "M")
N_MONTHS = 132  # 2015-01 .. 2025-12


# ---------------------------------------------------------------------------------------
# calendar helpers


def month_of(days: np.ndarray) -> np.ndarray:
    """Month index (0 = 2015-01) of day numbers."""
    return (np.asarray(days).astype("datetime64[D]").astype("datetime64[M]") - MONTH0).astype(
        np.int64
    )


def month_first_day(months: np.ndarray) -> np.ndarray:
    return (MONTH0 + np.asarray(months)).astype("datetime64[D]").astype(np.int64)


def month_last_day(months: np.ndarray) -> np.ndarray:
    return month_first_day(np.asarray(months) + 1) - 1


def year_of(days: np.ndarray) -> np.ndarray:
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def weekday(days: np.ndarray) -> np.ndarray:
    return (np.asarray(days) + 3) % 7


def to_weekday(days: np.ndarray) -> np.ndarray:
    """Saturdays to Fridays, Sundays to Mondays."""
    wd = weekday(days)
    return np.where(wd == 5, days - 1, np.where(wd == 6, days + 1, days))


def inflation(days: np.ndarray) -> np.ndarray:
    return 1.03 ** ((np.asarray(days) - START) / 365.25)


# ---------------------------------------------------------------------------------------
# members and eligibility


def bulk_members(rng: np.random.Generator, n: int) -> pd.DataFrame:
    size = np.array([s.size for s in STATES]) ** 0.85
    state = rng.choice(len(STATES), size=n, p=size / size.sum())
    group = rng.choice(3, size=n, p=[0.17, 0.76, 0.07])  # children, adults, older adults
    birth = np.select(
        [group == 0, group == 1],
        [rng.integers(2004, 2013, size=n), rng.integers(1956, 2004, size=n)],
        rng.integers(1935, 1956, size=n),
    )
    condition = rng.choice(3, size=n, p=[0.55, 0.20, 0.25])
    factor = np.array([s.admission_factor for s in STATES])[state]
    factor *= np.array([1.0, 1.1, 1.3])[condition] * np.array([0.45, 1.0, 1.1])[group]
    admission_rate = rng.gamma(0.4, 0.19 / 0.4, size=n) * factor
    service_rate = rng.gamma(1.6, 1.95 / 1.6, size=n) * (0.6 + 0.4 * np.sqrt(admission_rate / 0.19))
    return pd.DataFrame(
        {
            "state": state,
            "birth_year": birth,
            "condition": condition,
            "admission_rate": admission_rate,
            "service_rate": service_rate,
        }
    )


def bulk_eligibility(rng: np.random.Generator, members: np.ndarray) -> pd.DataFrame:
    """Coverage periods of 1-3 per member, some recorded as two touching or overlapping spans."""
    n = len(members)
    periods = rng.choice([1, 2, 3], size=n, p=[0.66, 0.25, 0.09])
    start = np.where(rng.random(n) < 0.45, 0, rng.integers(1, N_MONTHS - 2, size=n))
    rows_m, rows_s, rows_e = [], [], []
    for p in range(3):
        alive = (periods > p) & (start < N_MONTHS)
        length = np.maximum(1, np.round(rng.lognormal(np.log(30), 0.9, size=n))).astype(np.int64)
        end = start + length - 1
        postponed = (end >= PHE[0]) & (end <= PHE[1]) & (rng.random(n) < 0.85)
        end = np.where(postponed, rng.integers(100, 114, size=n), end)  # 2023-05 .. 2024-06
        end = np.minimum(end, N_MONTHS - 1)
        rows_m.append(members[alive])
        rows_s.append(start[alive])
        rows_e.append(end[alive])
        start = end + 1 + np.minimum(rng.geometric(0.12, size=n), 30)
    member = np.concatenate(rows_m)
    s_month = np.concatenate(rows_s)
    e_month = np.concatenate(rows_e)
    s_day = month_first_day(s_month)
    e_day = np.minimum(month_last_day(e_month), END)
    mid = rng.random(len(member)) < 0.05  # a start within the month (new-born, retroactive)
    s_day = np.where(mid, np.minimum(s_day + rng.integers(0, 28, size=len(member)), e_day), s_day)
    # renewals recorded as two spans: touching (end + 1 = next start), a few overlapping
    split = (e_month - s_month >= 2) & (rng.random(len(member)) < 0.38)
    cut_month = (
        s_month
        + 1
        + (rng.random(len(member)) * np.maximum(e_month - s_month - 1, 1)).astype(np.int64)
    )
    cut = month_first_day(cut_month)
    overlap = rng.random(len(member)) < 0.06
    first_end = np.where(
        overlap, np.minimum(cut - 1 + rng.integers(1, 46, size=len(member)), e_day), cut - 1
    )
    frame = pd.DataFrame(
        {
            "member": np.concatenate([member, member[split]]),
            "start": np.concatenate([s_day, cut[split]]),
            "end": np.concatenate([np.where(split, first_end, e_day), e_day[split]]),
        }
    )
    return frame


# ---------------------------------------------------------------------------------------
# crisis episodes, enrollments and their comparison twins


class Islands:
    """Each member's eligibility spans joined (spans that overlap or touch make one), to ask
    whether a member is eligible on every day of a range, as the analysable rule does."""

    def __init__(self, spans: pd.DataFrame) -> None:
        s = spans.sort_values(["member", "start", "end"], ignore_index=True)
        member = s["member"].to_numpy()
        start = s["start"].to_numpy()
        end = s["end"].to_numpy()
        reach = pd.Series(end).groupby(member).cummax().shift(fill_value=-1).to_numpy()
        same = np.r_[False, member[1:] == member[:-1]]
        new = ~same | (start > reach + 1)
        island = np.cumsum(new) - 1
        self.member = member[new]
        self.start = start[new]
        self.end = pd.Series(end).groupby(island).max().to_numpy()
        self.keys = self.member * 65536 + self.start

    def covers(self, member: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        at = np.searchsorted(self.keys, np.asarray(member) * 65536 + lo, side="right") - 1
        safe = np.maximum(at, 0)
        return (at >= 0) & (self.member[safe] == member) & (self.end[safe] >= hi)

    def start_of(self, member: np.ndarray, days: np.ndarray) -> np.ndarray:
        """First day of the island holding each (member, day) (the day itself if none)."""
        at = np.searchsorted(self.keys, np.asarray(member) * 65536 + days, side="right") - 1
        safe = np.maximum(at, 0)
        ok = (at >= 0) & (self.member[safe] == member) & (self.end[safe] >= days)
        return np.where(ok, self.start[safe], days)


def age_band(age: np.ndarray) -> np.ndarray:
    """0-17, 18-34, 35-49, 50-64, 65 and over."""
    return np.searchsorted(np.array([18, 35, 50, 65]), age, side="right")


def new_episodes(
    rng: np.random.Generator,
    members: pd.DataFrame,
    islands: Islands,
    member: np.ndarray,
    admit: np.ndarray,
) -> pd.DataFrame:
    """Crisis episodes: a climb of `climb` days (within the eligibility island) ending in a
    stay admitted on `admit` (medical for some older members), never a same-day stay."""
    k = len(member)
    age = year_of(admit) - members["birth_year"].to_numpy()[member]
    setting = (rng.random(k) < np.where(age >= 65, 0.3, 0.08)).astype(np.int64)
    span = np.maximum(stay_lengths(rng, setting), 1)
    climb = rng.integers(ESCALATION_DAYS[0], ESCALATION_DAYS[1] + 1, size=k)
    climb = np.minimum(climb, admit - np.maximum(islands.start_of(member, admit), START))
    return pd.DataFrame(
        {"member": member, "admit": admit, "span": span, "setting": setting, "climb": climb}
    )


def crisis_episodes(
    rng: np.random.Generator, members: pd.DataFrame, spans: Spans, islands: Islands
) -> pd.DataFrame:
    """Every member's crisis episodes: EPISODE_RATE times the admission intensity a year."""
    ids = np.arange(len(members))
    years = spans.exposure(ids) / 365.25
    count = rng.poisson(EPISODE_RATE * members["admission_rate"].to_numpy() * years)
    member = np.repeat(ids, count)
    admit = spans.place(rng, member)
    return new_episodes(rng, members, islands, member, admit)


def top_weighted(rng: np.random.Generator, weight: np.ndarray, n: int) -> np.ndarray:
    """Indices of n items drawn without replacement with probability in proportion to
    weight (Efraimidis-Spirakis keys), in index order."""
    if n >= len(weight):
        return np.arange(len(weight))
    keys = np.log(rng.random(len(weight))) / np.maximum(weight, 1e-12)
    return np.sort(np.argpartition(-keys, n - 1)[:n])


def random_enrollments(
    rng: np.random.Generator,
    members: pd.DataFrame,
    spans: pd.DataFrame,
    islands: Islands,
    episodes: pd.DataFrame,
    eligible_members: np.ndarray,
    n_members: int,
) -> pd.DataFrame:
    """Enrollments of the random programs and Pierce County, members eligible on enrolled_on.

    A share of each program's enrollments (BEHAVIOUR.index_share) is made around a crisis
    episode: days after its stay's discharge (or during it), which is where regression to the
    mean comes from. The others fall on any eligible day. Either way members are drawn with
    weight (admission intensity + 0.02) ** selection. `discharge` is the crisis stay's
    discharge of the enrollments made at a crisis, -1 for the others."""
    state_members = np.bincount(
        members["state"].to_numpy()[eligible_members], minlength=len(STATES)
    )
    randoms = [p for p in PROGRAMS if p.kind == "random"]
    weight = np.array(
        [p.volume * MODEL_VOLUME[p.model] * state_members[STATE_INDEX[p.state]] for p in randoms],
        dtype=float,
    )
    counts = dict(
        zip(
            [p.program_id for p in randoms],
            np.round(0.065 * n_members * weight / weight.sum()).astype(int),
            strict=True,
        )
    )
    counts["WA-PIERCE"] = round(0.04 * n_members)
    pool = spans[np.isin(spans["member"].to_numpy(), eligible_members)]
    pool_state = members["state"].to_numpy()[pool["member"].to_numpy()]
    rate = members["admission_rate"].to_numpy()
    state_of = members["state"].to_numpy()
    bulk = np.zeros(len(members), dtype=bool)
    bulk[eligible_members] = True
    ep = episodes[bulk[episodes["member"].to_numpy()]].reset_index(drop=True)
    ep_discharge = (ep["admit"] + ep["span"]).to_numpy()
    ep_used = np.zeros(len(ep), dtype=bool)
    frames = []
    for program in PROGRAMS:
        if program.kind not in ("random", "pierce"):
            continue
        behaviour = BEHAVIOUR["pierce" if program.kind == "pierce" else program.model]
        count = counts[program.program_id]
        waves = [(day(program.launched_on), day(program.last_enrollment), count)]
        if program.kind == "pierce":  # the network's members at launch, then a steady inflow
            wave = round(0.35 * count)
            waves = [
                (day(program.launched_on), day("2016-06-30"), wave),
                (day("2016-07-01"), day(program.last_enrollment), count - wave),
            ]
        here = pool[pool_state == STATE_INDEX[program.state]]
        for first, last, n in waves:
            # at a crisis: days after the discharge, or while still in hospital
            at_crisis = round(behaviour.index_share * n)
            mine = np.flatnonzero(
                (state_of[ep["member"].to_numpy()] == STATE_INDEX[program.state]) & ~ep_used
            )
            m_ep = ep["member"].to_numpy()[mine]
            delay = rng.integers(behaviour.delay[0], behaviour.delay[1] + 1, size=len(mine))
            enrolled = ep_discharge[mine] + delay
            span = ep["span"].to_numpy()[mine]
            inside = (rng.random(len(mine)) < behaviour.in_hospital) & (span >= 3)
            during = (
                ep["admit"].to_numpy()[mine]
                + 1
                + (rng.random(len(mine)) * (span - 2)).astype(np.int64)
            )
            enrolled = to_weekday(np.where(inside, during, enrolled))
            ok = (
                (enrolled >= first)
                & (enrolled <= last)
                & (ep_discharge[mine] <= END)
                & islands.covers(m_ep, enrolled, enrolled)
            )
            ramp = np.minimum(1.0, 0.35 + 0.65 * (enrolled - first) / 730)
            w = np.where(ok, (rate[m_ep] + 0.02) ** behaviour.selection * ramp, 0.0)
            take = top_weighted(rng, w, min(at_crisis, int((w > 0).sum())))
            ep_used[mine[take]] = True
            frames.append(
                pd.DataFrame(
                    {
                        "member": m_ep[take],
                        "program_id": program.program_id,
                        "enrolled_on": enrolled[take],
                        "discharge": ep_discharge[mine[take]],
                    }
                )
            )
            n -= len(take)
            # on any eligible day
            lo = np.maximum(here["start"].to_numpy(), first)
            hi = np.minimum(here["end"].to_numpy(), last)
            ok = hi >= lo
            m, lo, hi = here["member"].to_numpy()[ok], lo[ok], hi[ok]
            w = (hi - lo + 1) * (rate[m] + 0.02) ** behaviour.selection
            take = rng.choice(len(m), size=3 * n, p=w / w.sum())
            enrolled = lo[take] + (rng.random(3 * n) * (hi[take] - lo[take] + 1)).astype(np.int64)
            ramp = np.minimum(1.0, 0.35 + 0.65 * (enrolled - first) / 730)
            if program.kind == "pierce":
                ramp = np.ones(3 * n)
            keep = np.flatnonzero(rng.random(3 * n) < ramp)[:n]
            frames.append(
                pd.DataFrame(
                    {
                        "member": m[take[keep]],
                        "program_id": program.program_id,
                        "enrolled_on": np.clip(
                            to_weekday(enrolled[keep]), lo[take[keep]], hi[take[keep]]
                        ),
                        "discharge": -1,
                    }
                )
            )
    enr = pd.concat(frames, ignore_index=True)
    kind = np.array(
        [BEHAVIOUR["pierce" if p.kind == "pierce" else p.model].median_days for p in PROGRAMS]
    )
    median = kind[enr["program_id"].map(PROGRAM_INDEX).to_numpy()]
    length = np.maximum(14, rng.lognormal(np.log(median), 0.5)).astype(np.int64)
    ended = enr["enrolled_on"].to_numpy() + length
    never_closed = rng.random(len(enr)) < 0.005
    enr["ended_on"] = np.where((ended > END) | never_closed, -1, ended)
    # one enrollment per member and program at a time
    enr = enr.sort_values(["member", "program_id", "enrolled_on"], kind="stable").reset_index(
        drop=True
    )
    stop = np.where(enr["ended_on"] < 0, END + 1, enr["ended_on"])
    same = enr["member"].eq(enr["member"].shift()) & enr["program_id"].eq(enr["program_id"].shift())
    prev_stop = pd.Series(stop).shift().to_numpy()
    enr = enr[~(same.to_numpy() & (enr["enrolled_on"].to_numpy() <= prev_stop))].reset_index(
        drop=True
    )
    # a few members enrolled in two programs on the same day (the smaller id is their group)
    others = {
        p.program_id: [
            q.program_id
            for q in PROGRAMS
            if q.state == p.state and q.kind == "random" and q is not p
        ]
        for p in PROGRAMS
    }
    twins = enr.sample(n=max(3, len(enr) // 500), random_state=rng).copy()
    twins = twins[twins["program_id"].map(lambda p: bool(others[p]))]
    twins["program_id"] = [
        others[p][int(rng.integers(len(others[p])))] for p in twins["program_id"]
    ]
    return pd.concat([enr, twins], ignore_index=True)


def comparison_twins(
    rng: np.random.Generator,
    members: pd.DataFrame,
    islands: Islands,
    episodes: pd.DataFrame,
    needs: pd.DataFrame,
    never_enrolled: np.ndarray,
) -> pd.DataFrame:
    """Crisis episodes for members never enrolled, so that every enrollment made around a
    behavioral discharge has not-enrolled members like it to be compared with.

    `needs` has one row per such enrollment: member, enrolled_on and gap (days from the
    discharge to enrolled_on). Cell = state, primary condition, age band and calendar month
    of enrolled_on. A never-enrolled member's episode supplies the cell of its discharge + 2
    days; where a cell holds fewer than max(3, twice its enrollments), new episodes are made
    for never-enrolled members of that state, condition and age band, eligible over both
    windows of an index date in that month (the discharge `gap` days before it)."""
    state = members["state"].to_numpy()
    condition = members["condition"].to_numpy()
    birth = members["birth_year"].to_numpy()

    def cells(member: np.ndarray, days: np.ndarray) -> np.ndarray:
        band = age_band(year_of(days) - birth[member])
        return ((state[member] * 3 + condition[member]) * 5 + band) * 1000 + month_of(days)

    need_cell = cells(needs["member"].to_numpy(), needs["enrolled_on"].to_numpy())
    ep = episodes[never_enrolled[episodes["member"].to_numpy()]]
    supply_cell = cells(ep["member"].to_numpy(), (ep["admit"] + ep["span"] + 2).to_numpy())
    wanted, n_need = np.unique(need_cell, return_counts=True)
    have = pd.Series(supply_cell).value_counts().reindex(wanted, fill_value=0).to_numpy()
    short = np.maximum(3, 2 * n_need) - have
    gaps = pd.Series(np.maximum(needs["gap"].to_numpy(), 0)).groupby(need_cell).apply(list)
    weight = members["admission_rate"].to_numpy() + 0.02
    by_group: dict[int, np.ndarray] = {
        g: np.flatnonzero(never_enrolled & (state * 3 + condition == g))
        for g in np.unique(state * 3 + condition)
    }
    new_member, new_admit = [], []
    for cell, k in zip(wanted[short > 0], short[short > 0], strict=True):
        month = int(cell % 1000)
        band = int(cell // 1000 % 5)
        group = int(cell // 5000)
        first = int(month_first_day(np.array([month]))[0])
        last = int(month_last_day(np.array([month]))[0])
        pool = by_group.get(group, np.zeros(0, dtype=np.int64))
        pool = pool[age_band(year_of(np.array([first]))[0] - birth[pool]) == band]
        if len(pool) == 0:
            continue
        tries = 6 * int(k)
        pick = pool[rng.choice(len(pool), size=tries, p=weight[pool] / weight[pool].sum())]
        index = rng.integers(first, last + 1, size=tries)
        gap = np.array(gaps[cell])[rng.integers(0, len(gaps[cell]), size=tries)]
        ok = islands.covers(pick, index - 183 - ESCALATION_DAYS[1], np.minimum(index + 182, END))
        ok &= ~pd.Series(pick).duplicated().to_numpy()
        chosen = np.flatnonzero(ok)[: int(k)]
        new_member.append(pick[chosen])
        new_admit.append(index[chosen] - gap[chosen])
    if not new_member:
        return new_episodes(rng, members, islands, np.zeros(0, np.int64), np.zeros(0, np.int64))
    member = np.concatenate(new_member)
    discharge = np.concatenate(new_admit)
    frame = new_episodes(rng, members, islands, member, discharge)
    frame["admit"] = frame["admit"] - frame["span"]  # the stay ends `gap` days before the index
    frame["climb"] = np.minimum(
        frame["climb"], frame["admit"] - islands.start_of(member, frame["admit"].to_numpy())
    )
    return frame


def coaching_roles(
    rng: np.random.Generator, enr: pd.DataFrame, members: pd.DataFrame
) -> np.ndarray:
    n = len(enr)
    m = enr["member"].to_numpy()
    age = year_of(enr["enrolled_on"].to_numpy()) - members["birth_year"].to_numpy()[m]
    condition = members["condition"].to_numpy()[m]
    model = np.array([p.model for p in PROGRAMS])[enr["program_id"].map(PROGRAM_INDEX).to_numpy()]
    state = np.array([p.state for p in PROGRAMS])[enr["program_id"].map(PROGRAM_INDEX).to_numpy()]
    u = rng.random(n)
    role = np.where(
        (condition == 1) | ((condition == 2) & (u < 0.45)), "recovery_coach", "peer_coach"
    ).astype(object)
    role[(model == "whole_health") & (rng.random(n) < 0.85)] = "whole_health_coach"
    role[(state == "NY") & (age >= 18) & (rng.random(n) < 0.25)] = "peer_bridge"
    role[(age < 18) & (rng.random(n) < 0.85)] = "family_support_partner"
    role[(age < 18) & (role == "recovery_coach")] = "peer_coach"
    return role


# ---------------------------------------------------------------------------------------
# who is enrolled when


def group_spells(enr: pd.DataFrame) -> pd.DataFrame:
    """Days on which each enrollment is its member's group (contract: latest enrolled_on, then
    the smaller enrollment_id; `order` is the enrollment's rank in enrollment_id order)."""
    e = pd.DataFrame(
        {
            "member": enr["member"].to_numpy(),
            "start": enr["enrolled_on"].to_numpy(),
            "stop": np.where(enr["ended_on"] < 0, END, enr["ended_on"]),
            "order": enr["order"].to_numpy(),
        }
    )
    points = (
        pd.concat(
            [
                e[["member", "start"]].rename(columns={"start": "p"}),
                e[["member"]].assign(p=e["stop"] + 1),
            ]
        )
        .drop_duplicates()
        .sort_values(["member", "p"])
    )
    points["next"] = points.groupby("member")["p"].shift(-1)
    points = points.dropna(subset=["next"])
    cand = points.merge(e, on="member")
    cand = cand[(cand["start"] <= cand["p"]) & (cand["p"] <= cand["stop"])]
    cand = cand.sort_values(["member", "p", "start", "order"], ascending=[True, True, False, True])
    win = cand.drop_duplicates(["member", "p"])
    return pd.DataFrame(
        {
            "member": win["member"].to_numpy(),
            "start": win["p"].to_numpy().astype(np.int64),
            "end": win["next"].to_numpy().astype(np.int64) - 1,
            "order": win["order"].to_numpy(),
        }
    ).sort_values(["member", "start"], ignore_index=True)


def group_of(spells: pd.DataFrame, member: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The enrollment (its order) that is the group of each (member, day), or -1."""
    keys = spells["member"].to_numpy() * 65536 + spells["start"].to_numpy()
    query = np.asarray(member) * 65536 + np.asarray(days)
    at = np.searchsorted(keys, query, side="right") - 1
    safe = np.maximum(at, 0)
    hit = (
        (at >= 0)
        & (spells["member"].to_numpy()[safe] == member)
        & (spells["end"].to_numpy()[safe] >= days)
    )
    return np.where(hit, spells["order"].to_numpy()[safe], -1)


def member_months(spans: pd.DataFrame) -> pd.DataFrame:
    """(member, month) for every month with at least one eligible day."""
    first = month_of(spans["start"].to_numpy())
    last = month_of(spans["end"].to_numpy())
    n = last - first + 1
    member = np.repeat(spans["member"].to_numpy(), n)
    offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    months = np.repeat(first, n) + offset
    return pd.DataFrame({"member": member, "month": months}).drop_duplicates(ignore_index=True)


class PostWindows:
    """The post windows (enrolled_on to enrolled_on + 182) of the random programs'
    enrollments, with the chance that an event of each kind survives the program's true
    effect (catalog.true_effect): the program prevents the others."""

    BEHAVIORAL, MEDICAL, ED, CLAIMS = range(4)

    def __init__(self, enr: pd.DataFrame) -> None:
        enr = enr.sort_values(["member", "enrolled_on"], kind="stable")
        self.member = enr["member"].to_numpy()
        self.start = enr["enrolled_on"].to_numpy()
        self.end = self.start + POST_DAYS - 1
        survive = {
            p.program_id: [
                1 - true_effect(p).behavioral_admissions,
                1 - true_effect(p).medical_admissions,
                1 - true_effect(p).ed_visits,
                1 - true_effect(p).medical_claims,
            ]
            for p in PROGRAMS
        }
        self.keep = np.array([survive[p] for p in enr["program_id"]], dtype=float).reshape(-1, 4)
        counts = np.bincount(self.member) if len(self.member) else np.zeros(1, dtype=np.int64)
        self.most = int(counts.max())

    def survival(self, member: np.ndarray, days: np.ndarray, what: np.ndarray) -> np.ndarray:
        out = np.ones(len(member))
        first = np.searchsorted(self.member, member, side="left")
        last = np.searchsorted(self.member, member, side="right")
        what = np.broadcast_to(what, len(member))
        for k in range(self.most):
            i = first + k
            ok = np.flatnonzero(i < last)
            at = i[ok]
            d = days[ok]
            inside = (d >= self.start[at]) & (d <= self.end[at])
            out[ok] *= np.where(inside, self.keep[at, what[ok]], 1.0)
        return out


# ---------------------------------------------------------------------------------------
# events


class Spans:
    """Eligibility spans sorted by member, for placing events uniformly over eligible days."""

    def __init__(self, spans: pd.DataFrame) -> None:
        spans = spans.sort_values(["member", "start"], ignore_index=True)
        self.member = spans["member"].to_numpy()
        self.start = spans["start"].to_numpy()
        self.end = spans["end"].to_numpy()
        length = self.end - self.start + 1
        self.cum = np.cumsum(length)
        self.before = self.cum - length

    def exposure(self, members: np.ndarray) -> np.ndarray:
        first = np.searchsorted(self.member, members, side="left")
        last = np.searchsorted(self.member, members, side="right")
        total = np.zeros(len(members))
        has = last > first
        total[has] = self.cum[last[has] - 1] - self.before[first[has]]
        return total

    def place(self, rng: np.random.Generator, member: np.ndarray) -> np.ndarray:
        first = np.searchsorted(self.member, member, side="left")
        last = np.searchsorted(self.member, member, side="right")
        total = self.cum[last - 1] - self.before[first]
        at = self.before[first] + (rng.random(len(member)) * total).astype(np.int64)
        k = np.searchsorted(self.cum, at, side="right")
        return self.start[k] + (at - self.before[k])

    def ends_of(self, rng: np.random.Generator, member: np.ndarray) -> np.ndarray:
        """The end of a random span of each member (for claims dated after coverage ended)."""
        first = np.searchsorted(self.member, member, side="left")
        last = np.searchsorted(self.member, member, side="right")
        k = first + (rng.random(len(member)) * (last - first)).astype(np.int64)
        return self.end[k]


def stay_lengths(rng: np.random.Generator, setting: np.ndarray) -> np.ndarray:
    """Days from admit to discharge: mostly 3-10 for behavioral stays, some same-day stays."""
    n = len(setting)
    behavioral = setting == 0
    los = np.where(
        behavioral,
        rng.lognormal(np.log(6.0), 0.55, size=n),
        rng.lognormal(np.log(3.8), 0.65, size=n),
    )
    los = np.clip(np.round(los), 1, 90).astype(np.int64)
    same_day = rng.random(n) < np.where(behavioral, 0.04, 0.08)
    return np.where(same_day, 0, los)


def stay_paid(
    rng: np.random.Generator,
    setting: np.ndarray,
    admit: np.ndarray,
    span: np.ndarray,
    cost: np.ndarray,
) -> np.ndarray:
    per_diem = np.where(setting == 0, 850.0, 2000.0)
    fixed = np.where(setting == 0, 350.0, 1800.0)
    dollars = (per_diem * np.maximum(span, 1) + fixed) * cost * inflation(admit)
    dollars *= rng.lognormal(0.0, 0.22, size=len(setting))
    return np.round(dollars * 100).astype(np.int64)


def finish_stays(
    rng: np.random.Generator,
    member: np.ndarray,
    setting: np.ndarray,
    admit: np.ndarray,
    span: np.ndarray,
    cost: np.ndarray,
) -> pd.DataFrame:
    """Discharge dates (none while still in hospital at the end of the data) and paid amounts."""
    discharge = admit + span
    paid = stay_paid(rng, setting, admit, span, cost)
    still_in = discharge > END
    # interim payments for stays still open: part of the days so far, nothing for the newest
    so_far = np.maximum(END - admit, 0)
    interim = np.where(so_far >= 10, np.round(paid * so_far / np.maximum(span, 1) * 0.6), 0)
    return pd.DataFrame(
        {
            "member": member,
            "setting": setting,
            "admit": admit,
            "discharge": np.where(still_in, -1, discharge),
            "paid_cents": np.where(still_in, interim, paid).astype(np.int64),
            "span": span,
        }
    )


def drop_overlapping(stays: pd.DataFrame) -> pd.DataFrame:
    """A member is in one hospital at a time: drop stays admitted before the previous ends."""
    for _ in range(3):
        stays = stays.sort_values(["member", "admit"], kind="stable", ignore_index=True)
        stop = np.where(stays["discharge"] < 0, END + 10_000, stays["discharge"])
        prev = pd.Series(stop).groupby(stays["member"].to_numpy()).cummax().shift()
        same = stays["member"].eq(stays["member"].shift()).to_numpy()
        bad = same & (stays["admit"].to_numpy() <= prev.to_numpy())
        if not bad.any():
            break
        stays = stays[~bad]
    return stays.reset_index(drop=True)


def admission_settings(
    rng: np.random.Generator, members: pd.DataFrame, member: np.ndarray, admit: np.ndarray
) -> np.ndarray:
    """0 behavioral, 1 medical: mostly behavioral, less so for older members."""
    condition = members["condition"].to_numpy()[member]
    age = year_of(admit) - members["birth_year"].to_numpy()[member]
    p_behavioral = np.array([0.68, 0.62, 0.74])[condition] * np.where(age >= 65, 0.6, 1.0)
    p_behavioral = np.where(age < 18, 0.85, p_behavioral)
    return (rng.random(len(member)) >= p_behavioral).astype(np.int64)


def bulk_admissions(
    rng: np.random.Generator,
    members: pd.DataFrame,
    spans: Spans,
    cost: np.ndarray,
) -> pd.DataFrame:
    """Stays at each member's own intensity, following the seasons (and the spring of 2020)."""
    n = len(members)
    ids = np.arange(n)
    exposure = spans.exposure(ids) / 365.25
    peak = ADMISSION_SEASON.max()
    rate = members["admission_rate"].to_numpy() * ROUTINE_ADMISSIONS
    count = rng.poisson(rate * exposure * peak)
    member = np.repeat(ids, count)
    admit = spans.place(rng, member)
    accept = ADMISSION_SEASON[(month_of(admit) % 12)] / peak
    accept *= np.where((admit >= COVID[0]) & (admit <= COVID[1]), 0.8, 1.0)
    keep = rng.random(len(member)) < accept
    member, admit = member[keep], admit[keep]
    setting = admission_settings(rng, members, member, admit)
    span = stay_lengths(rng, setting)
    return finish_stays(rng, member, setting, admit, span, cost[member])


def episode_admissions(
    rng: np.random.Generator, members: pd.DataFrame, episodes: pd.DataFrame, cost: np.ndarray
) -> pd.DataFrame:
    """The crisis stays of the episodes, and the extra stays of their climbs (the member's
    intensity times ESCALATION["admissions"], each ending before the crisis stay)."""
    member = episodes["member"].to_numpy()
    admit = episodes["admit"].to_numpy()
    crisis = finish_stays(
        rng,
        member,
        episodes["setting"].to_numpy(),
        admit,
        episodes["span"].to_numpy(),
        cost[member],
    )
    climb = episodes["climb"].to_numpy()
    rate = members["admission_rate"].to_numpy()[member]
    extra = rng.poisson(rate * (ESCALATION["admissions"] - 1) * climb / 365.25)
    m = np.repeat(member, extra)
    a = np.repeat(admit - climb, extra) + (
        rng.random(extra.sum()) * np.repeat(climb, extra)
    ).astype(np.int64)
    setting = admission_settings(rng, members, m, a)
    span = stay_lengths(rng, setting)
    ok = a + span < np.repeat(admit, extra)
    climbing = finish_stays(rng, m[ok], setting[ok], a[ok], span[ok], cost[m[ok]])
    return pd.concat([crisis, climbing], ignore_index=True)


def readmissions(
    rng: np.random.Generator, stays: pd.DataFrame, cost: np.ndarray, share: tuple[float, float]
) -> pd.DataFrame:
    """Stays that follow a discharge within 30 days, in the same setting."""
    discharged = stays[stays["discharge"] >= 0]
    setting = discharged["setting"].to_numpy()
    p = np.where(setting == 0, share[0], share[1])
    chosen = discharged[rng.random(len(discharged)) < p]
    admit = chosen["discharge"].to_numpy() + rng.integers(1, 31, size=len(chosen))
    ok = admit <= END
    chosen, admit = chosen[ok], admit[ok]
    setting = chosen["setting"].to_numpy()
    member = chosen["member"].to_numpy()
    return finish_stays(rng, member, setting, admit, stay_lengths(rng, setting), cost[member])


# ---------------------------------------------------------------------------------------
# Pierce County


def pierce_admissions(
    rng: np.random.Generator,
    stays: pd.DataFrame,
    members: pd.DataFrame,
    spans_frame: pd.DataFrame,
    spells: pd.DataFrame,
    enr: pd.DataFrame,
    cost: np.ndarray,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Replace the admissions of Pierce County's group by quota (see module docstring)."""
    wa = STATE_INDEX["WA"]
    pierce_orders = set(enr.loc[enr["program_id"] == "WA-PIERCE", "order"])
    is_pierce = np.isin(spells["order"].to_numpy(), list(pierce_orders))
    pierce_spells = spells[is_pierce]
    group = group_of(spells, stays["member"].to_numpy(), stays["admit"].to_numpy())
    in_pierce = np.isin(group, list(pierce_orders))
    stays = stays[~in_pierce].reset_index(drop=True)
    group = group[~in_pierce]
    # Washington's members not enrolled, 2016-2025: inpatient days per member-month
    wa_members = np.flatnonzero(members["state"].to_numpy() == wa)
    wa_spans = spans_frame[np.isin(spans_frame["member"].to_numpy(), wa_members)]
    mm = member_months(wa_spans)
    mm = mm[mm["month"] >= 12]
    mm_group = group_of(spells, mm["member"].to_numpy(), month_first_day(mm["month"].to_numpy()))
    ne_mm = int((mm_group < 0).sum())
    wa_stay = np.isin(stays["member"].to_numpy(), wa_members) & (
        stays["admit"].to_numpy() >= day("2016-01-01")
    )
    ne_stays = stays[wa_stay & (group < 0) & (stays["discharge"].to_numpy() >= 0)]
    ne_days = int(np.maximum(ne_stays["discharge"] - ne_stays["admit"], 1).sum())
    ne_rate = ne_days / ne_mm
    # Pierce member-months per year
    p_mm = mm[np.isin(mm_group, list(pierce_orders))]
    p_year = 2015 + p_mm["month"].to_numpy() // 12
    mm_by_year = {y: int((p_year == y).sum()) for y in PIERCE_TREND}
    total_mm = sum(mm_by_year.values())
    mean_days = 6.3  # expected days of a stay (mix of settings, same-day stays counted as 1)
    weighted = sum(PIERCE_TREND[y] * mm_by_year[y] for y in PIERCE_TREND)
    base = PIERCE_DAYS_VS_STATE * ne_rate * total_mm / (weighted * mean_days)
    admissions_wanted = {y: round(base * PIERCE_TREND[y] * mm_by_year[y]) for y in PIERCE_TREND}
    flags_wanted = {y: round(PIERCE_READMISSION_SHARE * a) for y, a in admissions_wanted.items()}
    # where Pierce stays may fall: Pierce group days on which the member is eligible
    both = pierce_spells.merge(wa_spans, on="member", suffixes=("", "_e"))
    lo = np.maximum(both["start"], both["start_e"]).to_numpy()
    hi = np.minimum(both["end"], both["end_e"]).to_numpy()
    pierce_members = np.unique(pierce_spells["member"].to_numpy())
    theirs = np.isin(stays["member"].to_numpy(), pierce_members)
    kept = stays[theirs].assign(quota=False)
    stays = stays[~theirs]

    def place(year: int, n: int) -> pd.DataFrame:
        y0, y1 = day(f"{year}-01-01"), day(f"{year}-12-31")
        a, b = np.maximum(lo, y0), np.minimum(hi, y1)
        ok = b >= a
        m, a, b = both["member"].to_numpy()[ok], a[ok], b[ok]
        w = (b - a + 1) * np.sqrt(members["admission_rate"].to_numpy()[m] + 0.05)
        pick = rng.choice(len(m), size=n, p=w / w.sum())
        admit = a[pick] + (rng.random(n) * (b[pick] - a[pick] + 1)).astype(np.int64)
        setting = (rng.random(n) < 0.15).astype(np.int64)
        return finish_stays(rng, m[pick], setting, admit, stay_lengths(rng, setting), cost[m[pick]])

    def add_without_overlap(current: pd.DataFrame, new: pd.DataFrame, margin: int) -> pd.DataFrame:
        """Add the new stays that come no closer than `margin` days to a stay of their member."""
        new = drop_overlapping(new)
        current = current.sort_values(["member", "admit"], ignore_index=True)
        keys = current["member"].to_numpy() * 65536 + current["admit"].to_numpy()
        stop = np.where(current["discharge"] < 0, END + 10_000, current["discharge"]).astype(
            np.int64
        )
        m, admit = new["member"].to_numpy(), new["admit"].to_numpy()
        new_stop = np.where(new["discharge"] < 0, END + 10_000, new["discharge"]).astype(np.int64)
        at = np.searchsorted(keys, m * 65536 + admit)
        prev = np.maximum(at - 1, 0)
        nxt = np.minimum(at, len(current) - 1)
        member = current["member"].to_numpy()
        clash_prev = (at > 0) & (member[prev] == m) & (stop[prev] >= admit - margin)
        clash_next = (
            (at < len(current))
            & (member[nxt] == m)
            & (current["admit"].to_numpy()[nxt] <= new_stop + margin)
        )
        return pd.concat([current, new[~(clash_prev | clash_next)]], ignore_index=True)

    def flags(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        # all-cause: the member's next stay of any setting (contract version 2)
        frame = frame.sort_values(["member", "admit"], ignore_index=True)
        same = frame["member"].eq(frame["member"].shift(-1))
        following = np.where(same, frame["admit"].shift(-1).fillna(-1), END + 10_000)
        gap = following.astype(np.int64) - frame["discharge"].to_numpy()
        return frame, (frame["discharge"].to_numpy() >= 0) & (gap >= 1) & (gap <= 30), gap

    # Index stays keep 31 days from any other stay of the member (so they make no 30-day
    # readmission by chance); followers, 1-30 days after some of them, make the readmissions.
    # Rounds until every year has its admissions and its readmissions.
    combined = kept
    for _ in range(12):
        combined, flagged, gap = flags(combined)
        quota = combined["quota"].to_numpy()
        year = year_of(combined["admit"].to_numpy())
        discharge = combined["discharge"].to_numpy()
        group_now = group_of(spells, combined["member"].to_numpy(), combined["admit"].to_numpy())
        in_pierce = np.isin(group_now, list(pierce_orders))
        followers = []
        for y in PIERCE_TREND:
            in_year = quota & in_pierce & (year == y)
            wanted = flags_wanted[y] - int((in_year & flagged).sum())
            room = np.flatnonzero(
                in_year & ~flagged & (discharge >= 0) & (discharge <= END - 35) & (gap > 80)
            )
            if wanted <= 0 or len(room) == 0:
                continue
            chosen = combined.iloc[
                np.sort(rng.choice(room, size=min(wanted, len(room)), replace=False))
            ]
            re_setting = chosen["setting"].to_numpy()
            re_admit = chosen["discharge"].to_numpy() + rng.integers(1, 31, size=len(chosen))
            followers.append(
                finish_stays(
                    rng,
                    chosen["member"].to_numpy(),
                    re_setting,
                    re_admit,
                    np.minimum(stay_lengths(rng, re_setting), 12),
                    cost[chosen["member"].to_numpy()],
                ).assign(quota=True)
            )
        if followers:
            combined = add_without_overlap(combined, pd.concat(followers, ignore_index=True), 2)
            continue
        short = {
            y: admissions_wanted[y]
            - int((in_pierce & (year == y)).sum())
            - max(flags_wanted[y] - int((quota & in_pierce & (year == y) & flagged).sum()), 0)
            for y in PIERCE_TREND
        }
        new = [place(y, n).assign(quota=True) for y, n in short.items() if n > 0]
        if not new:
            break
        combined = add_without_overlap(combined, pd.concat(new, ignore_index=True), 31)
    combined, flagged, gap = flags(combined)
    # inpatient days on target exactly: lengthen or shorten some stays by a day, leaving alone
    # the stays that have, or follow, a readmission
    group_now = group_of(spells, combined["member"].to_numpy(), combined["admit"].to_numpy())
    late = (combined["admit"].to_numpy() >= day("2016-01-01")) & (
        combined["discharge"].to_numpy() >= 0
    )
    # Washington's days not enrolled, now with the Pierce members' stays outside the program
    others = stays[
        np.isin(stays["member"].to_numpy(), wa_members)
        & (stays["admit"].to_numpy() >= day("2016-01-01"))
        & (stays["discharge"].to_numpy() >= 0)
    ]
    others = others[group_of(spells, others["member"].to_numpy(), others["admit"].to_numpy()) < 0]
    ne = pd.concat([others, combined[late & (group_now < 0)]])
    ne_rate = int(np.maximum(ne["discharge"] - ne["admit"], 1).sum()) / ne_mm
    target_days = round(PIERCE_DAYS_VS_STATE * ne_rate * total_mm)
    counted = np.isin(group_now, list(pierce_orders)) & (combined["discharge"].to_numpy() >= 0)
    days_now = int(
        np.maximum(combined.loc[counted, "discharge"] - combined.loc[counted, "admit"], 1).sum()
    )
    diff = target_days - days_now
    span = (combined["discharge"] - combined["admit"]).to_numpy().copy()
    follows = (
        np.r_[False, flagged[:-1]] & combined["member"].eq(combined["member"].shift()).to_numpy()
    )
    free = counted & combined["quota"].to_numpy() & ~flagged & ~follows & (gap > 40)
    free &= (
        (span >= 2) if diff < 0 else (span >= 1) & (combined["discharge"].to_numpy() <= END - 40)
    )
    change = rng.choice(np.flatnonzero(free), size=min(abs(diff), int(free.sum())), replace=False)
    span[change] += 1 if diff > 0 else -1
    combined["discharge"] = np.where(combined["discharge"] >= 0, combined["admit"] + span, -1)
    fresh = stay_paid(
        rng,
        combined["setting"].to_numpy(),
        combined["admit"].to_numpy(),
        span,
        cost[combined["member"].to_numpy()],
    )
    redo = np.zeros(len(combined), dtype=bool)
    redo[change] = True
    combined["paid_cents"] = np.where(redo, fresh, combined["paid_cents"])
    stats = {"wa_not_enrolled_days_per_1000_mm": 1000 * ne_rate, "pierce_member_months": total_mm}
    return pd.concat([stays, combined.drop(columns="quota")], ignore_index=True), stats


# ---------------------------------------------------------------------------------------
# claims


def claim_amounts(
    rng: np.random.Generator,
    member: np.ndarray,
    date: np.ndarray,
    category: np.ndarray,
    cost: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Visits and paid cents of claims: typical prices times the state's prices, inflation
    and a spread by category; 1.5% of claims are paid nothing."""
    n = len(member)
    visits = 1 + np.select(
        [category == OUTPATIENT, category == PEER, category == OTHER, category == PROFESSIONAL],
        [
            rng.poisson(0.3, n),
            rng.poisson(0.4, n),
            rng.poisson(0.2, n),
            (rng.random(n) < 0.1).astype(np.int64),
        ],
        0,
    )
    dollars = TYPICAL_PAID[category] * visits * cost[member] * inflation(date)
    dollars *= rng.lognormal(0.0, PAID_SPREAD[category])
    dollars = np.where(rng.random(n) < 0.015, 0.0, dollars)  # zero-paid claims
    return visits, np.round(dollars * 100).astype(np.int64)


def claims_frame(
    member: np.ndarray,
    date: np.ndarray,
    category: np.ndarray,
    behavioral: np.ndarray,
    visits: np.ndarray,
    paid: np.ndarray,
    actual: np.ndarray | bool,
    counterfactual: np.ndarray | bool,
) -> pd.DataFrame:
    n = len(member)
    return pd.DataFrame(
        {
            "member": member,
            "date": date,
            "category": category,
            "behavioral": np.asarray(behavioral, dtype=bool),
            "visits": visits,
            "paid_cents": paid,
            "actual": np.broadcast_to(actual, n).astype(bool),
            "counterfactual": np.broadcast_to(counterfactual, n).astype(bool),
        }
    )


def forward_weekday(days: np.ndarray) -> np.ndarray:
    """Saturdays and Sundays to the next Monday (an office visit after a discharge)."""
    wd = weekday(days)
    return np.where(wd == 5, days + 2, np.where(wd == 6, days + 1, days))


class Programs:
    """What enrollment does at a discharge, by enrollment `order` (see group_spells)."""

    def __init__(self, enr: pd.DataFrame) -> None:
        by_order = enr.sort_values("order")
        behaviour = [
            BEHAVIOUR["pierce" if p.kind == "pierce" else p.model]
            for p in (PROGRAMS[PROGRAM_INDEX[i]] for i in by_order["program_id"])
        ]
        self.peer_contact = np.array([b.peer_contact for b in behaviour])
        self.followup_7d = np.array([b.followup_7d for b in behaviour])


def stay_claims(
    rng: np.random.Generator,
    stays: pd.DataFrame,
    members: pd.DataFrame,
    spells: pd.DataFrame,
    programs: Programs,
    cost: np.ndarray,
) -> pd.DataFrame:
    """The claims that stays bring: an ED visit on the admit day of many stays; after a
    behavioral discharge, a follow-up visit within 7 or 8-30 days (rates by state and
    condition, higher for members enrolled at the discharge); for enrolled members, a peer
    support contact on the discharge day or the next (peers call within 24 hours).

    `stays` has member, setting, admit, discharge and `actual` (False: a stay the program
    prevented, which brings its claims in the world without programs only)."""
    member = stays["member"].to_numpy()
    setting = stays["setting"].to_numpy()
    admit = stays["admit"].to_numpy()
    actual = stays["actual"].to_numpy()
    parts = []
    # an ED visit on the admit day
    ed = rng.random(len(member)) < np.where(setting == 0, 0.45, 0.3)
    m, d = member[ed], admit[ed]
    cat = np.full(len(m), EMERGENCY)
    visits, paid = claim_amounts(rng, m, d, cat, cost)
    parts.append(claims_frame(m, d, cat, setting[ed] == 0, visits, paid, actual[ed], True))
    # behavioral discharges
    bh = (setting == 0) & (stays["discharge"].to_numpy() >= 0)
    m, d, act = member[bh], stays["discharge"].to_numpy()[bh], actual[bh]
    k = len(m)
    state = members["state"].to_numpy()[m]
    factor = (
        np.array([FOLLOWUP_STATE[s.code] for s in STATES])[state]
        * np.array([1.05, 0.8, 0.95])[members["condition"].to_numpy()[m]]
    )
    p7 = np.minimum(FOLLOWUP_7D * factor, 0.9)
    p30 = np.minimum(FOLLOWUP_30D * factor, 0.9)
    order = group_of(spells, m, d)
    order = np.where(order < 0, group_of(spells, m, d + 3), order)
    enrolled = (order >= 0) & act
    safe = np.maximum(order, 0)
    p7_enrolled = np.where(enrolled, np.maximum(programs.followup_7d[safe], p7), p7)
    p30_enrolled = np.where(enrolled, np.maximum(ENROLLED_FOLLOWUP_30D, p30), p30)
    u = rng.random(k)
    day7 = forward_weekday(d + rng.integers(1, 8, size=k))
    day30 = forward_weekday(d + rng.integers(8, 31, size=k))

    def followed(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first_week = u < a
        return first_week | (u < a + (1 - a) * b), np.where(first_week, day7, day30)

    cf_has, cf_when = followed(p7, p30)
    act_has, act_when = followed(p7_enrolled, p30_enrolled)
    base_mix = np.array([0.0, 0.5, 0.45, 0.0, 0.05, 0.0])
    enrolled_mix = np.array([0.0, 0.35, 0.3, 0.0, 0.35, 0.0])
    for chosen, when, mix, in_actual, in_cf in (
        # not enrolled: one claim, in both worlds (unless the stay was prevented)
        (cf_has & ~enrolled, cf_when, base_mix, act, True),
        # enrolled: the claim without the program, and the one with it
        (cf_has & enrolled, cf_when, base_mix, np.zeros(k, dtype=bool), True),
        (act_has & enrolled, act_when, enrolled_mix, np.ones(k, dtype=bool), False),
    ):
        mm, dd = m[chosen], when[chosen]
        cat = rng.choice(6, size=len(mm), p=mix)
        visits, paid = claim_amounts(rng, mm, dd, cat, cost)
        parts.append(claims_frame(mm, dd, cat, True, visits, paid, in_actual[chosen], in_cf))
    # peer contact within a day of the discharge, for members enrolled
    contact = enrolled & (rng.random(k) < programs.peer_contact[safe])
    mm = m[contact]
    dd = d[contact] + (rng.random(len(mm)) < 0.5)
    cat = np.full(len(mm), PEER)
    visits, paid = claim_amounts(rng, mm, dd, cat, cost)
    parts.append(claims_frame(mm, dd, cat, True, visits, paid, True, False))
    return pd.concat(parts, ignore_index=True)


def chunk_services(
    rng: np.random.Generator,
    ids: np.ndarray,
    members: pd.DataFrame,
    spans: Spans,
    episodes: pd.DataFrame,
    stays: pd.DataFrame,
    enr: pd.DataFrame,
    spells: pd.DataFrame,
    programs: Programs,
    windows: PostWindows,
    cost: np.ndarray,
) -> pd.DataFrame:
    """Claims of the members `ids`: their own (more during the climb of a crisis episode), the
    claims their stays bring, and the peer support claims of their enrollments; with flags
    `actual` (written) and `counterfactual` (the world without programs), for the true
    effects. `episodes` and `stays` are those of the members `ids`."""
    exposure = spans.exposure(ids) / 365.25
    peak = SERVICE_SEASON.max()
    rate = members["service_rate"].to_numpy() * ROUTINE_CLAIMS
    count = rng.poisson(rate[ids] * exposure * peak / 0.70)
    member = np.repeat(ids, count)
    date = spans.place(rng, member)
    category = rng.choice(6, size=len(member), p=CATEGORY_MIX)
    # the climbs of crisis episodes: every kind of claim more often, ED visits most
    e_member = episodes["member"].to_numpy()
    climb = episodes["climb"].to_numpy()
    years = rate[e_member] * climb / 365.25 * peak / 0.70
    n_more = rng.poisson(years * (ESCALATION["claims"] - 1))
    n_ed = rng.poisson(years * CATEGORY_MIX[EMERGENCY] * (ESCALATION["ed"] - ESCALATION["claims"]))
    starts = episodes["admit"].to_numpy() - climb
    for extra, cats in ((n_more, None), (n_ed, EMERGENCY)):
        more = np.repeat(e_member, extra)
        when = np.repeat(starts, extra) + (
            rng.random(extra.sum()) * np.repeat(climb, extra)
        ).astype(np.int64)
        member = np.concatenate([member, more])
        date = np.concatenate([date, when])
        category = np.concatenate(
            [
                category,
                rng.choice(6, size=len(more), p=CATEGORY_MIX)
                if cats is None
                else np.full(len(more), cats),
            ]
        )
    accept = SERVICE_SEASON[month_of(date) % 12] * WEEKDAY_WEIGHT[category, weekday(date)] / peak
    accept *= np.where((date >= COVID[0]) & (date <= COVID[1]), 0.65, 1.0)
    keep = rng.random(len(member)) < accept
    member, date, category = member[keep], date[keep], category[keep]
    # a few claims dated after coverage ended (retroactive terminations)
    late = np.flatnonzero(rng.random(len(member)) < 0.004)
    moved = spans.ends_of(rng, member[late]) + rng.integers(1, 46, size=len(late))
    date[late] = np.where(moved <= END, moved, date[late])
    condition = members["condition"].to_numpy()[member]
    bh_share = BEHAVIORAL_SHARE[category] * np.where(
        condition == 0, 1.0, np.where(condition == 1, 0.95, 1.15)
    )
    behavioral = rng.random(len(member)) < bh_share
    visits, paid = claim_amounts(rng, member, date, category, cost)
    # the programs' true effect: ED visits and medical claims of the post windows prevented
    what = np.where(category == EMERGENCY, PostWindows.ED, PostWindows.CLAIMS)
    affected = (category == EMERGENCY) | ~behavioral
    survive = np.ones(len(member))
    survive[affected] = windows.survival(member[affected], date[affected], what[affected])
    actual = rng.random(len(member)) < survive
    parts = [claims_frame(member, date, category, behavioral, visits, paid, actual, True)]
    parts.append(stay_claims(rng, stays, members, spells, programs, cost))
    # peer support claims of the members' enrollments
    mine = enr[np.isin(enr["member"].to_numpy(), ids)]
    behaviour = [BEHAVIOUR["pierce" if p.kind == "pierce" else p.model] for p in PROGRAMS]
    per_month = np.array([b.peer_claims_per_month for b in behaviour])[
        mine["program_id"].map(PROGRAM_INDEX).to_numpy()
    ]
    pierce = (mine["program_id"] == "WA-PIERCE").to_numpy()
    e = mine["enrolled_on"].to_numpy()
    stop = np.where(mine["ended_on"] < 0, END, mine["ended_on"])
    stop = np.minimum(stop, e + np.where(pierce, 5 * 365, 365))
    stop = np.minimum(stop, END)
    months = np.maximum(stop - e + 1, 0) / 30.4
    n_peer = rng.poisson(per_month * months)
    p_member = np.repeat(mine["member"].to_numpy(), n_peer)
    p_date = np.repeat(e, n_peer) + (
        rng.random(n_peer.sum()) * np.repeat(stop - e + 1, n_peer)
    ).astype(np.int64)
    p_date = to_weekday(p_date)
    p_date = np.where(p_date > END, p_date - 3, p_date)
    cat = np.full(len(p_member), PEER)
    visits, paid = claim_amounts(rng, p_member, p_date, cat, cost)
    parts.append(claims_frame(p_member, p_date, cat, True, visits, paid, True, False))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------------------------
# writing


@contextmanager
def gz_text(path: Path) -> Iterator[io.TextIOWrapper]:
    """A gzip text file with fixed header fields, so the bytes depend on the content only."""
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
    ):
        text = io.TextIOWrapper(gz, encoding="utf-8", newline="")
        yield text
        text.flush()
        text.detach()


class Formatter:
    def __init__(self) -> None:
        first = START - 400
        self.first = first
        days = np.arange(first, END + 400).astype("datetime64[D]")
        self.dates = np.concatenate([days.astype(str).astype(object), np.array([""], dtype=object)])

    def date(self, days: np.ndarray) -> np.ndarray:
        days = np.asarray(days)
        return self.dates[np.where(days < 0, len(self.dates) - 1, days - self.first)]


def money(cents: np.ndarray) -> np.ndarray:
    cents = np.asarray(cents, dtype=np.int64)
    whole = (cents // 100).astype(str).astype(object)
    frac = np.char.zfill((cents % 100).astype(str), 2).astype(object)
    return whole + "." + frac


def ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return (prefix + np.char.zfill(np.asarray(numbers).astype(str), width)).astype(object)


def write_frame(text: io.TextIOWrapper, frame: pd.DataFrame, header: bool) -> None:
    frame.to_csv(text, index=False, header=header, lineterminator="\n")


# ---------------------------------------------------------------------------------------


class TrueEffects:
    """The random programs' true effects, as realised: per enrollment, the admissions and paid
    (admissions' and claims') of its post window as written (actual) and in the world without
    programs (counterfactual: no stay or claim prevented, no claim the program brought), over
    the enrollments the analysable rule keeps."""

    def __init__(self, randoms: pd.DataFrame, islands: Islands) -> None:
        member = randoms["member"].to_numpy()
        e = randoms["enrolled_on"].to_numpy()
        self.keys = pd.DataFrame(
            {
                "pos": np.arange(len(randoms)),
                "member": member,
                "lo": e - PRE_DAYS,
                "start": e,
                "hi": e + POST_DAYS - 1,
            }
        )
        self.program = randoms["program_id"].to_numpy()
        self.covered = islands.covers(member, e - PRE_DAYS, e + POST_DAYS - 1) & (
            e + POST_DAYS - 1 <= END
        )
        # actual admissions, counterfactual admissions, actual paid, counterfactual paid,
        # behavioral use (actual) in either window
        self.totals = np.zeros((len(randoms), 5))

    def _add(self, member: np.ndarray, days: np.ndarray, values: np.ndarray) -> None:
        events = pd.DataFrame({"member": member, "day": days, "row": np.arange(len(member))})
        pairs = self.keys.merge(events, on="member")
        d = pairs["day"].to_numpy()
        post = (d >= pairs["start"].to_numpy()) & (d <= pairs["hi"].to_numpy())
        either = (d >= pairs["lo"].to_numpy()) & (d <= pairs["hi"].to_numpy())
        v = values[pairs["row"].to_numpy()]
        v[:, :4] *= post[:, None]
        v[:, 4] *= either
        np.add.at(self.totals, pairs["pos"].to_numpy(), v)

    def add_stays(self, stays: pd.DataFrame, actual: bool) -> None:
        paid = stays["paid_cents"].to_numpy() / 100
        values = np.zeros((len(stays), 5))
        values[:, 0] = actual
        values[:, 1] = 1
        values[:, 2] = paid * actual
        values[:, 3] = paid
        values[:, 4] = actual & (stays["setting"].to_numpy() == 0)
        self._add(stays["member"].to_numpy(), stays["admit"].to_numpy(), values)

    def add_claims(self, claims: pd.DataFrame) -> None:
        paid = claims["paid_cents"].to_numpy() / 100
        actual = claims["actual"].to_numpy(dtype=bool)
        values = np.zeros((len(claims), 5))
        values[:, 2] = paid * actual
        values[:, 3] = paid * claims["counterfactual"].to_numpy(dtype=bool)
        values[:, 4] = actual & claims["behavioral"].to_numpy(dtype=bool)
        self._add(claims["member"].to_numpy(), claims["date"].to_numpy(), values)

    def table(self) -> pd.DataFrame:
        """Per program model and per program: analysable enrollments, post-window admissions
        and total paid per enrollment, actual and counterfactual, and the effect."""
        keep = self.covered & (self.totals[:, 4] > 0)
        frame = pd.DataFrame(self.totals[keep, :4], columns=["adm", "adm_cf", "paid", "paid_cf"])
        frame["program_id"] = self.program[keep]
        frame["model"] = [PROGRAMS[PROGRAM_INDEX[p]].model for p in frame["program_id"]]
        rows = []
        for level, key in (("model", "model"), ("program", "program_id")):
            sums = frame.groupby(key)[["adm", "adm_cf", "paid", "paid_cf"]].sum()
            sums["enrollments"] = frame.groupby(key).size()
            sums = sums.reset_index().rename(columns={key: "unit"}).assign(level=level)
            rows.append(sums)
        out = pd.concat(rows, ignore_index=True)
        n = out["enrollments"]
        result = pd.DataFrame(
            {
                "level": out["level"],
                "unit": out["unit"],
                "enrollments": n,
                "post_admissions": out["adm"] / n,
                "counterfactual_admissions": out["adm_cf"] / n,
                "effect_admissions": (out["adm"] - out["adm_cf"]) / n,
                "effect_admissions_pct": (out["adm"] / out["adm_cf"] - 1) * 100,
                "post_paid": out["paid"] / n,
                "counterfactual_paid": out["paid_cf"] / n,
                "effect_paid": (out["paid"] - out["paid_cf"]) / n,
                "effect_paid_pct": (out["paid"] / out["paid_cf"] - 1) * 100,
            }
        )
        return result


def generate(
    out: Path, n_members: int = DEFAULT_MEMBERS, seed: int = DEFAULT_SEED
) -> tuple[dict[str, float], pd.DataFrame]:
    """Write the seven files into `out`; return their row counts, the seconds taken and two
    figures of the Pierce County calibration, and the random programs' true effects as
    realised (TrueEffects.table)."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0])
    designed = cohorts.build(np.random.default_rng([seed, 1]))
    n_designed = len(designed.members)
    if n_members < n_designed + 5_000:
        raise SystemExit(f"--members must be at least {n_designed + 5_000}")

    # members: the designed ones first, then the rest
    bulk = bulk_members(rng, n_members - n_designed)
    d = designed.members
    members = pd.concat(
        [
            pd.DataFrame(
                {
                    "state": d["state"].map(STATE_INDEX),
                    "birth_year": d["birth_year"],
                    "condition": d["primary_condition"].map(
                        {c: i for i, c in enumerate(CONDITIONS)}
                    ),
                    "admission_rate": d["admission_rate"],
                    "service_rate": d["service_rate"],
                }
            ),
            bulk,
        ],
        ignore_index=True,
    )
    n = len(members)
    bulk_ids = np.arange(n_designed, n)
    spans_frame = pd.concat(
        [designed.eligibility, bulk_eligibility(rng, bulk_ids)], ignore_index=True
    )
    spans_frame = (
        spans_frame.sort_values(["member", "start", "end"], ascending=[True, True, False])
        .drop_duplicates(["member", "start"])
        .reset_index(drop=True)
    )
    spans = Spans(spans_frame)
    islands = Islands(spans_frame)
    rank = rng.permutation(n)  # member_id number of each member
    cost = np.array([s.cost_index for s in STATES])[members["state"].to_numpy()]

    # crisis episodes of every member; enrollments, some made at a crisis
    episodes = crisis_episodes(rng, members, spans, islands)
    enr_random = random_enrollments(
        rng, members, spans_frame, islands, episodes, bulk_ids, n_members
    )
    enr_random["coaching_role"] = coaching_roles(rng, enr_random, members)
    enr = pd.concat([designed.enrollments.assign(discharge=-1), enr_random], ignore_index=True)
    enr["rank"] = rank[enr["member"].to_numpy()]
    enr = enr.sort_values(["rank", "enrolled_on", "program_id"], ignore_index=True)
    enr["order"] = np.arange(len(enr))
    spells = group_spells(enr)
    randoms = enr[enr["program_id"].map(lambda p: PROGRAMS[PROGRAM_INDEX[p]].kind == "random")]
    # members never enrolled with crises like those of the enrollments made at one
    never = np.ones(n, dtype=bool)
    never[enr["member"].to_numpy()] = False
    never[:n_designed] = False
    at_crisis = randoms[randoms["discharge"] >= 0]
    needs = pd.concat(
        [
            pd.DataFrame(
                {
                    "member": at_crisis["member"].to_numpy(),
                    "enrolled_on": at_crisis["enrolled_on"].to_numpy(),
                    "gap": (at_crisis["enrolled_on"] - at_crisis["discharge"]).to_numpy(),
                }
            ),
            designed.crises,
        ],
        ignore_index=True,
    )
    twins = comparison_twins(rng, members, islands, episodes, needs, never)
    episodes = pd.concat([episodes, twins], ignore_index=True)

    # admissions in the world without programs, then the programs' true effects
    stays = bulk_admissions(rng, members, spans, cost)
    stays = pd.concat([stays, episode_admissions(rng, members, episodes, cost)], ignore_index=True)
    stays = pd.concat([stays, readmissions(rng, stays, cost, (0.11, 0.07))], ignore_index=True)
    stays = stays[stays["admit"] >= START]
    stays = drop_overlapping(stays)
    windows = PostWindows(randoms)
    survive = windows.survival(
        stays["member"].to_numpy(), stays["admit"].to_numpy(), stays["setting"].to_numpy()
    )
    prevented = rng.random(len(stays)) >= survive
    removed = stays[prevented].reset_index(drop=True)
    stays = stays[~prevented].reset_index(drop=True)
    clear = designed.clear  # designed members: their generated stays near the windows go
    hit = stays.reset_index().merge(clear, on="member")
    stop = np.where(hit["discharge"] < 0, END + 1, hit["discharge"])
    near = ((hit["admit"] <= hit["end"] + 45) & (stop >= hit["start"] - 10)).to_numpy()
    stays = stays.drop(index=hit.loc[near, "index"].unique()).reset_index(drop=True)
    stays, pierce_stats = pierce_admissions(rng, stays, members, spans_frame, spells, enr, cost)
    stays = drop_overlapping(stays)
    designed_stays = designed.admissions.assign(
        setting=designed.admissions["setting"].map({"behavioral": 0, "medical": 1}), span=0
    )
    stays = pd.concat([stays, designed_stays], ignore_index=True)
    stays = stays[stays["admit"] <= END]
    effects = TrueEffects(randoms, islands)

    effects.add_stays(stays, actual=True)
    effects.add_stays(removed, actual=False)

    fmt = Formatter()
    member_ids = ids("M", rank + 1, max(7, len(str(n))))
    counts: dict[str, int] = {}

    # small tables
    states = pd.DataFrame(
        {"state_code": [s.code for s in STATES], "state_name": [s.name for s in STATES]}
    )
    programs = pd.DataFrame(
        {
            "program_id": [p.program_id for p in PROGRAMS],
            "state_code": [p.state for p in PROGRAMS],
            "program_model": [p.model for p in PROGRAMS],
            "program_name": [p.name for p in PROGRAMS],
            "launched_on": [p.launched_on for p in PROGRAMS],
        }
    ).sort_values("program_id")
    by_rank = np.argsort(rank)
    member_table = pd.DataFrame(
        {
            "member_id": member_ids[by_rank],
            "state_code": np.array([s.code for s in STATES], dtype=object)[
                members["state"].to_numpy()[by_rank]
            ],
            "birth_year": members["birth_year"].to_numpy()[by_rank],
            "primary_condition": CONDITIONS[members["condition"].to_numpy()[by_rank]],
        }
    )
    elig = spans_frame.assign(rank=rank[spans_frame["member"].to_numpy()]).sort_values(
        ["rank", "start"]
    )
    eligibility = pd.DataFrame(
        {
            "member_id": member_ids[elig["member"].to_numpy()],
            "start_date": fmt.date(elig["start"].to_numpy()),
            "end_date": fmt.date(elig["end"].to_numpy()),
        }
    )
    enrollments = pd.DataFrame(
        {
            "enrollment_id": ids("E", enr["order"].to_numpy() + 1, max(6, len(str(len(enr))))),
            "member_id": member_ids[enr["member"].to_numpy()],
            "program_id": enr["program_id"].to_numpy(),
            "coaching_role": enr["coaching_role"].to_numpy(),
            "enrolled_on": fmt.date(enr["enrolled_on"].to_numpy()),
            "ended_on": fmt.date(enr["ended_on"].to_numpy()),
        }
    )
    stays = stays.assign(rank=rank[stays["member"].to_numpy()]).sort_values(
        ["rank", "admit", "setting"], kind="stable", ignore_index=True
    )
    admissions = pd.DataFrame(
        {
            "admission_id": ids("A", np.arange(1, len(stays) + 1), max(7, len(str(len(stays))))),
            "member_id": member_ids[stays["member"].to_numpy()],
            "setting": SETTINGS[stays["setting"].to_numpy()],
            "admit_date": fmt.date(stays["admit"].to_numpy()),
            "discharge_date": fmt.date(stays["discharge"].to_numpy()),
            "paid_amount": money(stays["paid_cents"].to_numpy()),
        }
    )
    for name, frame in (
        ("states", states),
        ("programs", programs),
        ("members", member_table),
        ("eligibility", eligibility),
        ("enrollments", enrollments),
        ("admissions", admissions),
    ):
        with gz_text(out / f"{name}.csv.gz") as text:
            write_frame(text, frame, header=True)
        counts[name] = len(frame)

    # claims, in chunks of members (by member_id)
    designed_claims = designed.services.assign(
        category=designed.services["category"].map({c: i for i, c in enumerate(CATEGORIES)}),
        actual=True,
        counterfactual=True,
    )
    clear_rank = rank[clear["member"].to_numpy()]
    reaching_end = (spans_frame["end"] == END) & (spans_frame["member"] >= n_designed)
    last_day_member = int(spans_frame.loc[reaching_end, "member"].iloc[0])
    with_peers = enr[enr["program_id"].map(lambda p: PROGRAMS[PROGRAM_INDEX[p]].kind != "cohort")]
    programs_at = Programs(enr)
    every_stay = pd.concat(
        [
            stays[["member", "setting", "admit", "discharge"]].assign(actual=True),
            removed[["member", "setting", "admit", "discharge"]].assign(actual=False),
        ],
        ignore_index=True,
    )
    stay_rank = rank[every_stay["member"].to_numpy()]
    episode_rank = rank[episodes["member"].to_numpy()]
    width = max(8, len(str(n * 30)))
    claim_no = 0
    with gz_text(out / "services.csv.gz") as text:
        for c, lo in enumerate(range(0, n, CHUNK_MEMBERS)):
            chunk_rng = np.random.default_rng([seed, 2, c])
            chunk = by_rank[lo : lo + CHUNK_MEMBERS]
            hi = lo + len(chunk)
            claims = chunk_services(
                chunk_rng,
                chunk,
                members,
                spans,
                episodes[(episode_rank >= lo) & (episode_rank < hi)],
                every_stay[(stay_rank >= lo) & (stay_rank < hi)],
                with_peers,
                spells,
                programs_at,
                windows,
                cost,
            )
            in_chunk = (clear_rank >= lo) & (clear_rank < hi)
            if in_chunk.any():
                hit = claims.reset_index().merge(clear[in_chunk], on="member")
                inside = (hit["date"] >= hit["start"]) & (hit["date"] <= hit["end"])
                claims = claims.drop(index=hit.loc[inside.to_numpy(), "index"].unique())
                mine = designed_claims[np.isin(designed_claims["member"].to_numpy(), chunk)]
                claims = pd.concat([claims, mine], ignore_index=True)
            if last_day_member in set(chunk.tolist()):  # the data run through the last day
                claims.loc[len(claims)] = [
                    last_day_member,
                    END,
                    PHARMACY,
                    False,
                    1,
                    2415,
                    True,
                    True,
                ]
            claims = claims[(claims["date"] >= START) & (claims["date"] <= END)]
            effects.add_claims(claims)
            claims = claims[claims["actual"].to_numpy()]
            claims = claims.assign(rank=rank[claims["member"].to_numpy()]).sort_values(
                ["rank", "date", "category"], kind="stable", ignore_index=True
            )
            frame = pd.DataFrame(
                {
                    "claim_id": ids(
                        "C", np.arange(claim_no + 1, claim_no + len(claims) + 1), width
                    ),
                    "member_id": member_ids[claims["member"].to_numpy()],
                    "service_date": fmt.date(claims["date"].to_numpy()),
                    "category": CATEGORIES[claims["category"].to_numpy()],
                    "behavioral": np.where(
                        claims["behavioral"].to_numpy(dtype=bool), "true", "false"
                    ),
                    "visits": claims["visits"].to_numpy(),
                    "paid_amount": money(claims["paid_cents"].to_numpy()),
                }
            )
            write_frame(text, frame, header=c == 0)
            claim_no += len(claims)
    counts["services"] = claim_no
    report: dict[str, float] = dict(counts)
    report["seconds"] = round(time.perf_counter() - started, 1)
    report.update({k: round(v, 2) for k, v in pierce_stats.items()})
    return report, effects.table()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sample_data.generate", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE,
        help="folder for the seven .csv.gz files (default: sample_data/)",
    )
    parser.add_argument(
        "--members",
        type=int,
        default=DEFAULT_MEMBERS,
        help=f"number of members (default {DEFAULT_MEMBERS:,})",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    args = parser.parse_args(argv)
    counts, effects = generate(args.out, args.members, args.seed)
    for name, value in counts.items():
        print(f"{name:>34}: {value:,}")
    print("\nTrue effects of the random programs (post window per analysable enrollment):")
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(effects.round(2).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
