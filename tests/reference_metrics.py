"""A plain-pandas reference implementation of the data contract's definitions (version 1).

It is a test oracle: it reads the seven contract tables as DataFrames (as read from the CSV
files) and computes the monthly and pre/post exports, unfiltered and unformatted, the
simple way, one definition at a time, so that it can be read side by side with
/work/shared/data-contract.md. It is meant for small data: it favours clarity over speed.

    frames = read_frames(Path("sample_data"))
    monthly(frames)                      # the monthly export's columns
    prepost(frames, setting="behavioral")  # the prepost export's columns

Counts are ints, money is float dollars (summed exactly as integer cents), ratios are floats,
NaN where the contract leaves them empty (a zero denominator, or a change that needs one).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

TABLES = ("states", "programs", "members", "eligibility", "enrollments", "admissions", "services")
NOT_ENROLLED = "not_enrolled"
PRE_DAYS = 183  # pre window: enrolled_on - 183 .. enrolled_on - 1
POST_DAYS = 183  # post window: enrolled_on .. enrolled_on + 182

MONTHLY_COLUMNS = [
    "month",
    "state_code",
    "program_model",
    "member_months",
    "admissions",
    "discharges",
    "inpatient_days",
    "readmissions_30d",
    "paid",
    "behavioral_paid",
    "medical_paid",
    "admissions_per_1000_mm",
    "inpatient_days_per_1000_mm",
    "average_los",
    "readmission_rate_30d",
    "cost_pmpm",
]
PREPOST_MEASURES = [
    "share_with_admission",
    "admissions_per_enrollment",
    "inpatient_days_per_enrollment",
    "average_los",
    "behavioral_paid_per_enrollment",
    "medical_paid_per_enrollment",
    "total_paid_per_enrollment",
    "paid_per_admission",
]
PREPOST_COLUMNS = [
    "program_id",
    "program_name",
    "state_code",
    "program_model",
    "setting",
    "enrollments",
    *[
        f"{kind}{m}"
        for m in PREPOST_MEASURES
        for kind in ("pre_", "post_", "change_", "pct_change_")
    ],
]
SETTINGS = ("all", "behavioral", "medical")
ONE_DAY = pd.Timedelta(days=1)


# ---------------------------------------------------------------------------------------
# reading and normalising the tables


def read_frames(directory: Path | str) -> dict[str, pd.DataFrame]:
    """The seven tables of a folder of contract files (.csv or .csv.gz), every column as text."""
    directory = Path(directory)
    frames = {}
    for table in TABLES:
        path = directory / f"{table}.csv.gz"
        if not path.exists():
            path = directory / f"{table}.csv"
        frames[table] = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frames


def _dates(column: pd.Series) -> pd.Series:
    """ISO dates (empty = missing) as datetime64."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.astype("datetime64[ns]")
    text = column.astype("string").str.strip()
    return pd.to_datetime(text.mask(text.isna() | (text == "")), format="%Y-%m-%d").astype(
        "datetime64[ns]"
    )


def _cents(column: pd.Series) -> pd.Series:
    """Money as exact integer cents ("12", "12.5" and "12.50" are all read exactly)."""
    if pd.api.types.is_numeric_dtype(column):
        return (column.astype(float) * 100).round().astype("int64")
    parts = column.astype(str).str.strip().str.partition(".")
    whole = parts[0].astype("int64")
    fraction = (parts[2] + "00").str[:2].astype("int64")
    if (parts[2].str.len() > 2).any():
        raise ValueError("money has at most 2 decimals")
    return whole * 100 + fraction


def _bools(column: pd.Series) -> pd.Series:
    """`true` / `false` as booleans."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype(bool)
    values = column.astype(str).str.strip().map({"true": True, "false": False})
    if values.isna().any():
        raise ValueError("behavioral is `true` or `false`")
    return values.astype(bool)


def _prepare(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Copies of the tables with typed columns (ids stay text)."""
    f = {name: frames[name].copy() for name in TABLES}
    for name in TABLES:
        for column in f[name].columns:
            if column.endswith("_id") or column in ("state_code",):
                f[name][column] = f[name][column].astype(str)
    f["eligibility"]["start_date"] = _dates(f["eligibility"]["start_date"])
    f["eligibility"]["end_date"] = _dates(f["eligibility"]["end_date"])
    f["enrollments"]["enrolled_on"] = _dates(f["enrollments"]["enrolled_on"])
    f["enrollments"]["ended_on"] = _dates(f["enrollments"]["ended_on"])
    f["admissions"]["admit_date"] = _dates(f["admissions"]["admit_date"])
    f["admissions"]["discharge_date"] = _dates(f["admissions"]["discharge_date"])
    f["admissions"]["paid_cents"] = _cents(f["admissions"]["paid_amount"])
    f["services"]["service_date"] = _dates(f["services"]["service_date"])
    f["services"]["paid_cents"] = _cents(f["services"]["paid_amount"])
    f["services"]["behavioral"] = _bools(f["services"]["behavioral"])
    return f


# ---------------------------------------------------------------------------------------
# shared definitions


def length_of_stay(admissions: pd.DataFrame) -> pd.Series:
    """LOS = discharge_date - admit_date in days, at least 1; NaN for stays not discharged."""
    days = (admissions["discharge_date"] - admissions["admit_date"]).dt.days
    return days.clip(lower=1).where(admissions["discharge_date"].notna())


def readmission_flags(admissions: pd.DataFrame) -> pd.Series:
    """True for a discharged admission followed by another admission of the same member and
    setting whose admit_date is 1 to 30 days after its discharge_date."""
    stays = admissions[["admission_id", "member_id", "setting", "admit_date", "discharge_date"]]
    pairs = stays.merge(
        stays[["admission_id", "member_id", "setting", "admit_date"]],
        on=["member_id", "setting"],
        suffixes=("", "_next"),
    )
    gap = (pairs["admit_date_next"] - pairs["discharge_date"]).dt.days
    followed = pairs[
        (pairs["admission_id_next"] != pairs["admission_id"]) & (gap >= 1) & (gap <= 30)
    ]["admission_id"]
    return admissions["admission_id"].isin(set(followed))


def group_enrollment(
    enrollments: pd.DataFrame, events: pd.DataFrame, date_column: str
) -> pd.Series:
    """For each event (a row with member_id and a date), the enrollment_id of the member's
    group on that date: among the enrollments with enrolled_on <= date and (ended_on empty or
    date <= ended_on), the one with the latest enrolled_on, ties to the smaller enrollment_id.
    None when the member is enrolled in none (the not-enrolled comparison population)."""
    keyed = pd.DataFrame(
        {
            "member_id": events["member_id"].to_numpy(),
            date_column: events[date_column].to_numpy(),
            "_event": np.arange(len(events)),
        }
    )
    candidates = keyed.merge(
        enrollments[["enrollment_id", "member_id", "enrolled_on", "ended_on"]], on="member_id"
    )
    on = candidates[date_column]
    active = (candidates["enrolled_on"] <= on) & (
        candidates["ended_on"].isna() | (on <= candidates["ended_on"])
    )
    candidates = candidates[active].sort_values(
        ["_event", "enrolled_on", "enrollment_id"], ascending=[True, False, True]
    )
    chosen = candidates.drop_duplicates("_event").set_index("_event")["enrollment_id"]
    return pd.Series(
        chosen.reindex(range(len(events))).to_numpy(), index=events.index, dtype=object
    )


def data_through(f: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """The latest admit_date or service_date."""
    return max(f["admissions"]["admit_date"].max(), f["services"]["service_date"].max())


def joined_spans(eligibility: pd.DataFrame) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """Each member's eligibility spans joined: spans that overlap or touch (one ending the day
    before the next starts) make one."""
    joined: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    ordered = eligibility.sort_values(["member_id", "start_date", "end_date"])
    for member_id, start, end in ordered[["member_id", "start_date", "end_date"]].itertuples(
        index=False
    ):
        islands = joined.setdefault(member_id, [])
        if islands and start <= islands[-1][1] + ONE_DAY:
            islands[-1] = (islands[-1][0], max(islands[-1][1], end))
        else:
            islands.append((start, end))
    return joined


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


# ---------------------------------------------------------------------------------------
# monthly


def monthly(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The monthly export, unfiltered: one row per month, state and program model (including
    not_enrolled) with at least one member-month, admission or claim."""
    f = _prepare(frames)
    members = f["members"].set_index("member_id")
    enrollments = f["enrollments"].merge(
        f["programs"][["program_id", "state_code", "program_model"]], on="program_id"
    )
    model_of_enrollment = enrollments.set_index("enrollment_id")["program_model"]
    state_of_enrollment = enrollments.set_index("enrollment_id")["state_code"]

    def label(frame: pd.DataFrame, date_column: str) -> pd.DataFrame:
        """Add month, state_code and program_model (the group) to events dated by date_column."""
        frame = frame.copy()
        enrollment = group_enrollment(enrollments, frame, date_column)
        frame["month"] = frame[date_column].dt.strftime("%Y-%m")
        frame["program_model"] = enrollment.map(model_of_enrollment).fillna(NOT_ENROLLED)
        frame["state_code"] = enrollment.map(state_of_enrollment).fillna(
            frame["member_id"].map(members["state_code"])
        )
        return frame

    # member-months: one per member and calendar month with at least one eligible day
    spans = f["eligibility"]
    first = spans["start_date"].dt.year * 12 + spans["start_date"].dt.month - 1  # month numbers
    last = spans["end_date"].dt.year * 12 + spans["end_date"].dt.month - 1
    months_of_span = (last - first + 1).to_numpy()
    mm = pd.DataFrame(
        {
            "member_id": np.repeat(spans["member_id"].to_numpy(), months_of_span),
            "month_number": np.concatenate(
                [np.arange(a, b + 1) for a, b in zip(first, last, strict=True)]
            ).astype("int64")
            if len(spans)
            else np.zeros(0, dtype="int64"),
        }
    ).drop_duplicates()
    mm["first_day"] = pd.to_datetime(
        {"year": mm["month_number"] // 12, "month": mm["month_number"] % 12 + 1, "day": 1}
    )
    mm = label(mm, "first_day")
    mm_counts = mm.groupby(["month", "state_code", "program_model"]).size().rename("member_months")

    # admissions, in the month and group of their admit_date
    adm = f["admissions"].copy()
    adm["los"] = length_of_stay(adm)
    adm["discharged"] = adm["discharge_date"].notna()
    adm["readmission"] = readmission_flags(adm)
    adm["behavioral_cents"] = adm["paid_cents"].where(adm["setting"] == "behavioral", 0)
    adm["medical_cents"] = adm["paid_cents"].where(adm["setting"] != "behavioral", 0)
    adm = label(adm, "admit_date")
    adm_sums = adm.groupby(["month", "state_code", "program_model"]).agg(
        admissions=("admission_id", "size"),
        discharges=("discharged", "sum"),
        inpatient_days=("los", "sum"),
        readmissions_30d=("readmission", "sum"),
        adm_cents=("paid_cents", "sum"),
        adm_behavioral_cents=("behavioral_cents", "sum"),
        adm_medical_cents=("medical_cents", "sum"),
    )

    # claims, in the month and group of their service_date
    svc = f["services"].copy()
    svc["behavioral_cents"] = svc["paid_cents"].where(svc["behavioral"], 0)
    svc["medical_cents"] = svc["paid_cents"].where(~svc["behavioral"], 0)
    svc = label(svc, "service_date")
    svc_sums = svc.groupby(["month", "state_code", "program_model"]).agg(
        svc_cents=("paid_cents", "sum"),
        svc_behavioral_cents=("behavioral_cents", "sum"),
        svc_medical_cents=("medical_cents", "sum"),
    )

    out = pd.concat([mm_counts, adm_sums, svc_sums], axis=1).fillna(0).reset_index()
    out = out.rename(
        columns={"level_0": "month", "level_1": "state_code", "level_2": "program_model"}
    )
    counts = ["member_months", "admissions", "discharges", "inpatient_days", "readmissions_30d"]
    for column in counts:
        out[column] = out[column].round().astype("int64")
    out["paid"] = (out["adm_cents"] + out["svc_cents"]).round().astype("int64") / 100
    out["behavioral_paid"] = (
        out["adm_behavioral_cents"] + out["svc_behavioral_cents"]
    ).round().astype("int64") / 100
    out["medical_paid"] = (out["adm_medical_cents"] + out["svc_medical_cents"]).round().astype(
        "int64"
    ) / 100
    rows = out.to_dict("records")
    for row in rows:
        row["admissions_per_1000_mm"] = _ratio(row["admissions"] * 1000, row["member_months"])
        row["inpatient_days_per_1000_mm"] = _ratio(
            row["inpatient_days"] * 1000, row["member_months"]
        )
        row["average_los"] = _ratio(row["inpatient_days"], row["discharges"])
        row["readmission_rate_30d"] = _ratio(row["readmissions_30d"], row["discharges"])
        row["cost_pmpm"] = _ratio(row["paid"], row["member_months"])
    result = pd.DataFrame(rows, columns=MONTHLY_COLUMNS)
    result = result.sort_values(["month", "state_code", "program_model"], ignore_index=True)
    for column in counts:
        result[column] = result[column].astype("int64")
    for column in MONTHLY_COLUMNS[8:]:
        result[column] = result[column].astype(float)
    return result


# ---------------------------------------------------------------------------------------
# pre/post


def _in_window(
    enrollments: pd.DataFrame, events: pd.DataFrame, date_column: str, first: str, last: str
) -> pd.DataFrame:
    """Pairs (enrollment, event of its member) with the event dated from `first` to `last`
    (columns of the enrollment rows), both days included."""
    pairs = enrollments.merge(events, on="member_id")
    return pairs[(pairs[date_column] >= pairs[first]) & (pairs[date_column] <= pairs[last])]


def joined_islands(eligibility: pd.DataFrame) -> pd.DataFrame:
    """joined_spans as a frame: member_id, start_date, end_date."""
    return pd.DataFrame(
        [(m, s, e) for m, spans in joined_spans(eligibility).items() for s, e in spans],
        columns=["member_id", "start_date", "end_date"],
    )


def analysable_enrollments(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every enrollment with its windows and the three conditions of the analysable rule."""
    return _analysable(_prepare(frames))


def _analysable(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    enr = f["enrollments"][["enrollment_id", "member_id", "program_id", "enrolled_on"]].copy()
    enr["pre_first"] = enr["enrolled_on"] - PRE_DAYS * ONE_DAY
    enr["pre_last"] = enr["enrolled_on"] - ONE_DAY
    enr["post_first"] = enr["enrolled_on"]
    enr["post_last"] = enr["enrolled_on"] + (POST_DAYS - 1) * ONE_DAY

    # 1. one joined eligibility span covers every day of both windows (they are contiguous)
    islands = enr[["enrollment_id", "member_id", "pre_first", "post_last"]].merge(
        joined_islands(f["eligibility"]), on="member_id"
    )
    covering = islands[
        (islands["start_date"] <= islands["pre_first"])
        & (islands["post_last"] <= islands["end_date"])
    ]
    enr["eligible_both_windows"] = enr["enrollment_id"].isin(set(covering["enrollment_id"]))

    # 2. a behavioral claim or a behavioral admission dated in either window
    claims = f["services"][f["services"]["behavioral"]]
    stays = f["admissions"][f["admissions"]["setting"] == "behavioral"]
    with_claim = _in_window(
        enr, claims[["member_id", "service_date"]], "service_date", "pre_first", "post_last"
    )
    with_stay = _in_window(
        enr, stays[["member_id", "admit_date"]], "admit_date", "pre_first", "post_last"
    )
    enr["has_behavioral_use"] = enr["enrollment_id"].isin(
        set(with_claim["enrollment_id"]) | set(with_stay["enrollment_id"])
    )

    # 3. the post window ends on or before the data-through date
    enr["post_window_complete"] = enr["post_last"] <= data_through(f)

    enr["analysable"] = (
        enr["eligible_both_windows"] & enr["has_behavioral_use"] & enr["post_window_complete"]
    )
    return enr


def _window_totals(
    f: dict[str, pd.DataFrame], enr: pd.DataFrame, window: str, setting: str
) -> pd.DataFrame:
    """Per analysable enrollment, its totals in one window ("pre" or "post"): all the member's
    admissions (by admit_date, whatever their group) and claims (by service_date) in it."""
    first, last = f"{window}_first", f"{window}_last"
    keys = enr[["enrollment_id", "member_id", first, last]]
    adm = f["admissions"].copy()
    adm["los"] = length_of_stay(adm)
    adm_in = _in_window(keys, adm, "admit_date", first, last)
    svc_in = _in_window(keys, f["services"], "service_date", first, last)

    # paid per enrollment: every admission and claim, whatever the setting asked for
    behavioral_adm = adm_in["setting"] == "behavioral"
    paid = pd.DataFrame(
        {
            "behavioral_cents": pd.concat(
                [
                    adm_in.loc[behavioral_adm].groupby("enrollment_id")["paid_cents"].sum(),
                    svc_in.loc[svc_in["behavioral"]].groupby("enrollment_id")["paid_cents"].sum(),
                ],
                axis=1,
            ).sum(axis=1),
            "medical_cents": pd.concat(
                [
                    adm_in.loc[~behavioral_adm].groupby("enrollment_id")["paid_cents"].sum(),
                    svc_in.loc[~svc_in["behavioral"]].groupby("enrollment_id")["paid_cents"].sum(),
                ],
                axis=1,
            ).sum(axis=1),
        }
    )

    # admission measures: only the admissions of the setting
    counted = adm_in if setting == "all" else adm_in[adm_in["setting"] == setting]
    admissions = counted.groupby("enrollment_id").agg(
        admissions=("admission_id", "size"),
        discharges=("discharge_date", "count"),  # count() skips stays without a discharge
        days=("los", "sum"),
        admission_cents=("paid_cents", "sum"),
    )
    totals = pd.concat([admissions, paid], axis=1).reindex(enr["enrollment_id"]).fillna(0)
    totals["with_admission"] = (totals["admissions"] > 0).astype(int)
    return totals


def prepost(frames: dict[str, pd.DataFrame], setting: str = "all") -> pd.DataFrame:
    """The prepost export, unfiltered: one row per program (ordered by state_code, program_id),
    over its analysable enrollments; the setting limits the admission measures only."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, not {setting!r}")
    f = _prepare(frames)
    status = _analysable(f)
    analysable = status[status["analysable"]]
    totals: dict[str, dict[str, dict[str, float]]] = {}
    for window in ("pre", "post"):
        per_enrollment = _window_totals(f, analysable, window, setting)
        per_enrollment["program_id"] = analysable.set_index("enrollment_id")["program_id"]
        sums = per_enrollment.groupby("program_id").sum(numeric_only=True)
        for program_id, values in sums.iterrows():
            program = totals.setdefault(str(program_id), {"n": {"n": 0}, "pre": {}, "post": {}})
            program[window] = {k: float(v) for k, v in values.items()}
    for program_id, n in analysable.groupby("program_id").size().items():
        totals[str(program_id)]["n"]["n"] = int(n)

    rows = []
    programs = f["programs"].sort_values(["state_code", "program_id"])
    for program in programs.itertuples(index=False):
        t = totals.get(program.program_id, {"n": {"n": 0}, "pre": {}, "post": {}})
        n = t["n"]["n"]
        row: dict[str, object] = {
            "program_id": program.program_id,
            "program_name": program.program_name,
            "state_code": program.state_code,
            "program_model": program.program_model,
            "setting": setting,
            "enrollments": n,
        }
        for window in ("pre", "post"):
            w = t[window]
            get = w.get
            row[f"{window}_share_with_admission"] = _ratio(get("with_admission", 0), n)
            row[f"{window}_admissions_per_enrollment"] = _ratio(get("admissions", 0), n)
            row[f"{window}_inpatient_days_per_enrollment"] = _ratio(get("days", 0), n)
            row[f"{window}_average_los"] = _ratio(get("days", 0), get("discharges", 0))
            row[f"{window}_behavioral_paid_per_enrollment"] = _ratio(
                get("behavioral_cents", 0) / 100, n
            )
            row[f"{window}_medical_paid_per_enrollment"] = _ratio(get("medical_cents", 0) / 100, n)
            row[f"{window}_total_paid_per_enrollment"] = _ratio(
                (get("behavioral_cents", 0) + get("medical_cents", 0)) / 100, n
            )
            row[f"{window}_paid_per_admission"] = _ratio(
                get("admission_cents", 0) / 100, get("admissions", 0)
            )
        for measure in PREPOST_MEASURES:
            pre, post = row[f"pre_{measure}"], row[f"post_{measure}"]
            assert isinstance(pre, float) and isinstance(post, float)
            row[f"change_{measure}"] = post - pre  # NaN when either is NaN
            row[f"pct_change_{measure}"] = (
                (post - pre) / pre * 100 if not math.isnan(pre) and pre != 0 else math.nan
            )
        rows.append(row)
    result = pd.DataFrame(rows, columns=PREPOST_COLUMNS)
    result["enrollments"] = result["enrollments"].astype("int64")
    for column in PREPOST_COLUMNS[6:]:
        result[column] = result[column].astype(float)
    return result.reset_index(drop=True)
