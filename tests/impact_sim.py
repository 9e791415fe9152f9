"""Small simulated outcomes worlds with a known program effect, for the impact tests.

Each member has a lasting risk of behavioral stays (gamma distributed) and a higher risk in
the 30 days after a discharge. Members are enrolled right after a behavioral discharge,
more often the more stays they had in the 183 days before: the selection that makes a
plain pre/post comparison fall with no program at all (regression to the mean). The
enrollment choice uses only what happened before it, all of which the matching sees, so a
matched comparison should find no effect where none is injected.

`effect` removes that share of each enrollee's behavioral stays admitted in the post window
(the injected effect; the removed stays are recorded). `placebo` adds a program whose pretend
enrollments start the day after a behavioral discharge, chosen as the real ones are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

START = dt.date(2019, 1, 1)
END = dt.date(2023, 12, 31)
DAYS = (END - START).days + 1
# Enrollments whose windows fit in the data (index day from 183 to DAYS - 183).
FIRST_INDEX, LAST_INDEX = 183, DAYS - 183
STATE = "TX"
PROGRAMS = (
    ("P-HOT", "hot_spotting", "High utilizers"),
    ("P-EMB", "embedded", "Transition coaching"),
)
PLACEBO_PROGRAM = ("P-PLACEBO", "whole_health", "Pretend enrollments")
ENROLLED_DAYS = 150


@dataclass(frozen=True)
class SimWorld:
    tables: dict[str, pd.DataFrame]
    # The behavioral stays the injected effect removed: member_id, admit_day (days since
    # 1970-01-01, as the impact tables count index days).
    removed_stays: pd.DataFrame

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for name, frame in self.tables.items():
            frame.to_csv(directory / f"{name}.csv", index=False)
        return directory


def _day(offset: int) -> str:
    return (START + dt.timedelta(days=int(offset))).isoformat()


def _money(cents: np.ndarray | int) -> object:
    if isinstance(cents, np.ndarray):
        return [f"{c / 100:.2f}" for c in cents]
    return f"{cents / 100:.2f}"


def _stays(rng: np.random.Generator, risk: float) -> list[tuple[int, int]]:
    """Behavioral stays (admit, discharge day) of one member: a base rate per day and three
    times that in the 30 days after each discharge (thinning of a Poisson process)."""
    stays: list[tuple[int, int]] = []
    peak = 3 * risk
    day = 0.0
    last_discharge = -1_000
    while True:
        day += rng.exponential(1 / peak)
        if day >= DAYS:
            return stays
        if int(day) <= last_discharge:
            continue  # still in hospital
        rate = risk * (3 if int(day) - last_discharge <= 30 else 1)
        if rng.random() < rate / peak:
            admit = int(day)
            length = 1 + int(rng.poisson(4))
            stays.append((admit, admit + length))
            last_discharge = admit + length


def simulate(
    seed: int,
    *,
    members: int = 900,
    effect: float = 0.0,
    placebo: bool = False,
    enroll_base: float = 0.03,
) -> SimWorld:
    rng = np.random.default_rng(seed)
    ids = [f"M{i:05d}" for i in range(members)]
    risk = rng.gamma(0.7, 1.1 / 0.7, size=members) / 365  # behavioral stays a year, mean 1.1
    member_rows = pd.DataFrame(
        {
            "member_id": ids,
            "state_code": STATE,
            "birth_year": rng.integers(1980, 1991, size=members),  # 26-44 all along
            "primary_condition": "mental_health",
        }
    )
    eligibility = pd.DataFrame(
        {"member_id": ids, "start_date": _day(0), "end_date": _day(DAYS - 1)}
    )

    stays = {i: _stays(rng, float(risk[i])) for i in range(members)}

    # Each discharge is a chance to be enrolled for a member enrolled in nothing during the
    # 183 days before (as the comparison candidates must be); the chance grows with the stays
    # of those 183 days, and nothing later matters.
    enrollments: list[tuple[int, str, int]] = []
    pretend: list[tuple[int, str, int]] = []
    for i in range(members):
        busy_until = -1_000  # last day of the member's latest (real or pretend) enrollment
        for position, (_admit, discharge) in enumerate(stays[i]):
            index = discharge + int(rng.integers(0, 4))
            if not FIRST_INDEX <= index <= LAST_INDEX or busy_until >= index - 183:
                continue
            before = sum(1 for a, _ in stays[i][: position + 1] if a >= index - 183)
            if rng.random() < min(0.3, enroll_base * before * before):
                program = PROGRAMS[0][0] if before >= 2 else PROGRAMS[1][0]
                enrollments.append((i, program, index))
                busy_until = index + ENROLLED_DAYS
            elif placebo and rng.random() < min(0.3, enroll_base * before * before):
                pretend.append((i, PLACEBO_PROGRAM[0], discharge + 1))
                busy_until = discharge + 1 + ENROLLED_DAYS

    # The injected effect: each post-window behavioral stay of an enrollee is removed with
    # probability `effect` (never a stay that began before enrolled_on).
    post_windows: dict[int, list[int]] = {}
    for i, _program, index in enrollments:
        post_windows.setdefault(i, []).append(index)
    removed: list[tuple[str, int]] = []
    for i, starts in post_windows.items():
        kept = []
        for admit, discharge in stays[i]:
            if any(s <= admit <= s + 182 for s in starts) and rng.random() < effect:
                removed.append((ids[i], admit))
            else:
                kept.append((admit, discharge))
        stays[i] = kept

    admission_rows = []
    for i in range(members):
        for admit, discharge in stays[i]:
            paid = int(discharge - admit) * 150_000 + int(rng.integers(0, 50_000))
            admission_rows.append(
                (
                    ids[i],
                    "behavioral",
                    _day(admit),
                    _day(discharge) if discharge < DAYS else "",
                    paid,
                )
            )
        for _ in range(int(rng.poisson(0.2 * DAYS / 365))):
            admit = int(rng.integers(0, DAYS - 3))
            admission_rows.append(
                (
                    ids[i],
                    "medical",
                    _day(admit),
                    _day(admit + 2),
                    int(rng.integers(200_000, 600_000)),
                )
            )
    admissions = pd.DataFrame(
        admission_rows,
        columns=["member_id", "setting", "admit_date", "discharge_date", "paid_cents"],
    )
    admissions.insert(0, "admission_id", [f"A{n:06d}" for n in range(len(admissions))])
    admissions["paid_amount"] = _money(admissions.pop("paid_cents").to_numpy())

    claim_rows = []
    months = DAYS // 30
    for i in range(members):
        for month in range(months):
            if rng.random() < 0.5:
                day = month * 30 + int(rng.integers(0, 30))
                claim_rows.append(
                    (ids[i], day, "outpatient", True, 1, int(rng.integers(8_000, 20_000)))
                )
            if rng.random() < 0.3:
                day = month * 30 + int(rng.integers(0, 30))
                claim_rows.append(
                    (ids[i], day, "pharmacy", False, 1, int(rng.integers(2_000, 9_000)))
                )
        for _ in range(int(rng.poisson(risk[i] * 365 * 0.8 * DAYS / 365))):
            day = int(rng.integers(0, DAYS))
            claim_rows.append(
                (
                    ids[i],
                    day,
                    "emergency",
                    bool(rng.random() < 0.7),
                    1 + int(rng.random() < 0.2),
                    int(rng.integers(40_000, 90_000)),
                )
            )
    claim_rows.append((ids[0], DAYS - 1, "other", False, 1, 1_000))  # data through END
    services = pd.DataFrame(
        claim_rows,
        columns=["member_id", "day", "category", "behavioral", "visits", "paid_cents"],
    )
    services.insert(0, "claim_id", [f"C{n:07d}" for n in range(len(services))])
    services.insert(2, "service_date", [_day(d) for d in services.pop("day")])
    services["behavioral"] = services["behavioral"].map({True: "true", False: "false"})
    services["paid_amount"] = _money(services.pop("paid_cents").to_numpy())

    programs = [*PROGRAMS, *([PLACEBO_PROGRAM] if placebo else [])]
    enrollment_frame = pd.DataFrame(
        [
            (f"E{n:05d}", ids[i], program, "peer_coach", _day(index), _day(index + ENROLLED_DAYS))
            for n, (i, program, index) in enumerate(enrollments)
        ]
        + [
            (f"Q{n:05d}", ids[i], program, "peer_coach", _day(index), _day(index + ENROLLED_DAYS))
            for n, (i, program, index) in enumerate(pretend)
        ],
        columns=[
            "enrollment_id",
            "member_id",
            "program_id",
            "coaching_role",
            "enrolled_on",
            "ended_on",
        ],
    )
    tables = {
        "states": pd.DataFrame({"state_code": [STATE], "state_name": ["Texas"]}),
        "programs": pd.DataFrame(
            [(pid, STATE, model, name, "2018-01-01") for pid, model, name in programs],
            columns=["program_id", "state_code", "program_model", "program_name", "launched_on"],
        ),
        "members": member_rows,
        "eligibility": eligibility,
        "enrollments": enrollment_frame,
        "admissions": admissions,
        "services": services,
    }
    removed_stays = pd.DataFrame(removed, columns=["member_id", "admit_day"])
    removed_stays["admit_day"] += (START - dt.date(1970, 1, 1)).days
    return SimWorld(tables=tables, removed_stays=removed_stays)
