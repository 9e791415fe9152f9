"""Summaries rebuilt inside the database by every load, exactly as the contract defines.

The dashboard reads only these tables, so its queries cost the same at ten million claims
as at ten thousand. The SQL is written once; the few date expressions that differ between
SQLite and PostgreSQL come from `_DateSql`, and all day arithmetic is on whole days so
both engines agree to the row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import BigInteger, Connection, Table, text

from data_access.models import (
    CONTRACT_TABLES,
    FOLLOW_UP_MEASURES,
    SUMMARY_TABLES,
    calendar_months,
    enrollment_outcomes,
    monthly_summary,
    prepost_summary,
    summary_info,
)
from data_access.vocabulary import (
    ADMISSION_SETTINGS,
    EMERGENCY,
    FOLLOW_UP_CATEGORIES,
    FOLLOW_UP_LONG_DAYS,
    FOLLOW_UP_SHORT_DAYS,
    FOLLOWED_DAYS,
    ID_LENGTH,
    PEER_CONTACT_DAYS,
    PEER_SUPPORT,
    PERIODS,
    POST_WINDOW_LAST_DAY,
    PRE_WINDOW_DAYS,
    READMISSION_DAYS,
    SETTINGS,
    VISIT_CATEGORIES,
    WINDOWS,
    period_label,
)

EPOCH = dt.date(1970, 1, 1)
# A month index beyond every calendar month (the last level runs to the calendar's end).
_NO_NEXT_CHANGE = 2_147_483_647
# Spells of still-open enrollments end on this day number (far beyond any real date).
OPEN_END_DAY = 99_999_999


@dataclass(frozen=True)
class _DateSql:
    dialect: str

    def day(self, column: str) -> str:
        """Days since 1970-01-01 of a DATE column."""
        if self.dialect == "sqlite":
            return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"
        return f"({column} - DATE '1970-01-01')"

    def plus_days(self, column: str, days: int) -> str:
        """A DATE column moved by whole days, still a DATE (so indexes on it are used)."""
        if self.dialect == "sqlite":
            return f"date({column}, '{days:+d} days')"
        return f"({column} + {days})"

    def month_index(self, column: str) -> str:
        """year * 12 + month - 1 of a DATE column, as calendar_months.month_index.

        Computed for every claim, so the cheapest form: SQLite stores a DATE as its
        YYYY-MM-DD text (substr is about 3x cheaper than strftime); on PostgreSQL
        date_part is a double, where EXTRACT is a numeric.
        """
        if self.dialect == "sqlite":
            return (
                f"(CAST(substr({column}, 1, 4) AS INTEGER) * 12"
                f" + CAST(substr({column}, 6, 2) AS INTEGER) - 1)"
            )
        return (
            f"(CAST(date_part('year', {column}) AS INTEGER) * 12"
            f" + CAST(date_part('month', {column}) AS INTEGER) - 1)"
        )

    def month(self, column: str) -> str:
        if self.dialect == "sqlite":
            return f"strftime('%Y-%m', {column})"
        return f"to_char({column}, 'YYYY-MM')"

    @property
    def text_order(self) -> str:
        """Order identifiers by code point on every engine, as the contract's tie-break needs."""
        return "" if self.dialect == "sqlite" else ' COLLATE "C"'


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def _as_date(value: object) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class _Bounds:
    first: dt.date | None  # the earliest eligibility start, admission or claim
    last: dt.date | None  # the latest eligibility end, admission or claim
    through: dt.date | None  # the contract's data-through date (admissions and claims)

    @property
    def through_sql(self) -> str:
        """The data-through day number as an SQL literal (NULL: no admission nor claim)."""
        return "NULL" if self.through is None else str(day_number(self.through))


def _bounds(conn: Connection) -> _Bounds:
    """One scan of each table gives the calendar's range and the data-through date."""
    lows: list[dt.date] = []
    highs: list[dt.date] = []
    latest_use: list[dt.date] = []
    for table, low, high in (
        ("eligibility", "start_date", "end_date"),
        ("admissions", "admit_date", "admit_date"),
        ("services", "service_date", "service_date"),
    ):
        row = conn.execute(text(f"SELECT MIN({low}), MAX({high}) FROM {table}")).one()
        first, last = _as_date(row[0]), _as_date(row[1])
        if first is None or last is None:
            continue
        lows.append(first)
        highs.append(last)
        if table != "eligibility":
            latest_use.append(last)
    return _Bounds(min(lows, default=None), max(highs, default=None), max(latest_use, default=None))


def _calendar_rows(bounds: _Bounds) -> list[dict[str, object]]:
    first, last = bounds.first, bounds.last
    if first is None or last is None:
        return []
    rows = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
        first_day = dt.date(year, month, 1)
        last_day = dt.date(next_year, next_month, 1) - dt.timedelta(days=1)
        labels: dict[str, object] = {
            period: period_label(year, month, period) for period in PERIODS
        }
        rows.append(
            {
                **labels,
                "month_index": year * 12 + month - 1,
                "first_day": day_number(first_day),
                "last_day": day_number(last_day),
            }
        )
        year, month = next_year, next_month
    return rows


def _islands_sql(d: _DateSql) -> str:
    # Gaps and islands: a span starts a new island when it begins more than one day after
    # every earlier span of the member has ended.
    return f"""
WITH spans AS (
    SELECT member_id, {d.day("start_date")} AS s, {d.day("end_date")} AS e,
        {d.month_index("start_date")} AS sm, {d.month_index("end_date")} AS em
    FROM eligibility
), ordered AS (
    SELECT member_id, s, e, sm, em,
        MAX(e) OVER (PARTITION BY member_id ORDER BY s, e
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM spans
), numbered AS (
    SELECT member_id, s, e, sm, em,
        SUM(CASE WHEN reach IS NULL OR s > reach + 1 THEN 1 ELSE 0 END)
            OVER (PARTITION BY member_id ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS island
    FROM ordered
)
INSERT INTO eligibility_islands (member_id, start_day, end_day, start_month, end_month)
SELECT member_id, MIN(s), MAX(e), MIN(sm), MAX(em) FROM numbered GROUP BY member_id, island
"""


def _spells_sql(d: _DateSql) -> str:
    # Cut each member's timeline at every enrollment start and every day after an end; on
    # each piece the set of open enrollments is constant, and the contract's rule picks one.
    return f"""
WITH enr AS (
    SELECT enrollment_id, member_id, program_id,
        {d.day("enrolled_on")} AS s, {d.day("ended_on")} AS f
    FROM enrollments
), cuts AS (
    SELECT member_id, s AS cut FROM enr
    UNION
    SELECT member_id, f + 1 FROM enr WHERE f IS NOT NULL
), pieces AS (
    SELECT member_id, cut AS start_day,
        LEAD(cut) OVER (PARTITION BY member_id ORDER BY cut) - 1 AS end_day
    FROM cuts
), ranked AS (
    SELECT p.member_id, p.start_day, p.end_day, enr.enrollment_id, enr.program_id,
        ROW_NUMBER() OVER (PARTITION BY p.member_id, p.start_day
                           ORDER BY enr.s DESC, enr.enrollment_id{d.text_order} ASC) AS pick
    FROM pieces p
    JOIN enr ON enr.member_id = p.member_id
        AND enr.s <= p.start_day AND (enr.f IS NULL OR p.start_day <= enr.f)
)
INSERT INTO enrollment_spells (member_id, start_day, end_day, enrollment_id, program_id)
SELECT member_id, start_day, COALESCE(end_day, {OPEN_END_DAY}), enrollment_id, program_id
FROM ranked WHERE pick = 1
"""


def _member_months_sql() -> str:
    """Member-months by month, state, program (NULL: not enrolled) and condition.

    Counted from month ranges rather than by listing every member-month: each member's
    eligible months (islands that share a month merged) add +1 from their first month and
    -1 after their last; the months whose first day falls in an enrollment spell move from
    the not-enrolled count to the program's. A running sum of these changes gives the count
    of every month, so the cost follows the number of spans, not of member-months.
    """
    # Both bounds in the join condition, so it is an index range scan of calendar_months.
    return f"""
eligible_ranges AS (
    SELECT member_id, MIN(start_month) AS first_month, MAX(end_month) AS last_month
    FROM (
        SELECT member_id, start_month, end_month,
            SUM(CASE WHEN reach IS NULL OR start_month > reach THEN 1 ELSE 0 END)
                OVER (PARTITION BY member_id ORDER BY start_day ROWS UNBOUNDED PRECEDING) AS grp
        FROM (
            SELECT member_id, start_day, start_month, end_month,
                MAX(end_month) OVER (PARTITION BY member_id ORDER BY start_day
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
            FROM eligibility_islands
        ) ordered
    ) grouped
    GROUP BY member_id, grp
), calendar_span AS (
    SELECT MIN(month_index) AS first_month, MAX(month_index) AS last_month,
        MIN(first_day) AS first_day, MAX(last_day) AS last_day
    FROM calendar_months
), spell_months AS (
    SELECT sp.member_id, sp.program_id,
        CASE WHEN sp.start_day < cs.first_day THEN cs.first_month
             ELSE cf.month_index + CASE WHEN sp.start_day > cf.first_day THEN 1 ELSE 0 END
        END AS first_month,
        CASE WHEN sp.end_day > cs.last_day THEN cs.last_month ELSE cl.month_index END
            AS last_month
    FROM enrollment_spells sp
    CROSS JOIN calendar_span cs
    LEFT JOIN calendar_months cf ON cf.first_day BETWEEN sp.start_day - 30 AND sp.start_day
        AND cf.last_day >= sp.start_day
    LEFT JOIN calendar_months cl ON cl.first_day BETWEEN sp.end_day - 30 AND sp.end_day
        AND cl.last_day >= sp.end_day
), enrolled_ranges AS (
    SELECT r.member_id, s.program_id,
        CASE WHEN r.first_month > s.first_month THEN r.first_month ELSE s.first_month END
            AS first_month,
        CASE WHEN r.last_month < s.last_month THEN r.last_month ELSE s.last_month END
            AS last_month
    FROM eligible_ranges r
    JOIN spell_months s ON s.member_id = r.member_id
        AND s.first_month <= r.last_month AND s.last_month >= r.first_month
), changes AS (
    SELECT member_id, CAST(NULL AS VARCHAR({ID_LENGTH})) AS program_id,
        first_month AS month_index, 1 AS delta
    FROM eligible_ranges
    UNION ALL SELECT member_id, NULL, last_month + 1, -1 FROM eligible_ranges
    UNION ALL SELECT member_id, program_id, first_month, 1 FROM enrolled_ranges
    UNION ALL SELECT member_id, program_id, last_month + 1, -1 FROM enrolled_ranges
    UNION ALL SELECT member_id, NULL, first_month, -1 FROM enrolled_ranges
    UNION ALL SELECT member_id, NULL, last_month + 1, 1 FROM enrolled_ranges
), net_changes AS (
    SELECT m.state_code, m.primary_condition, ch.program_id, ch.month_index,
        SUM(ch.delta) AS delta
    FROM changes ch
    JOIN members m ON m.member_id = ch.member_id
    GROUP BY m.state_code, m.primary_condition, ch.program_id, ch.month_index
), levels AS (
    SELECT state_code, primary_condition, program_id, month_index,
        SUM(delta) OVER (PARTITION BY state_code, primary_condition, program_id
                         ORDER BY month_index ROWS UNBOUNDED PRECEDING) AS member_months,
        LEAD(month_index) OVER (PARTITION BY state_code, primary_condition, program_id
                                ORDER BY month_index) AS next_change
    FROM net_changes
), member_month_counts AS (
    SELECT c.month_index, l.state_code, l.program_id, l.primary_condition, l.member_months
    FROM levels l
    JOIN calendar_months c ON c.month_index >= l.month_index
        AND c.month_index < COALESCE(l.next_change, {_NO_NEXT_CHANGE})
    WHERE l.member_months > 0
)"""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _flag(setting: str, column: str) -> str:
    """A claim's behavioral flag matches the setting (true for behavioral)."""
    return f"{column} = {'TRUE' if setting == 'behavioral' else 'FALSE'}"


def _checked_columns(table: Table, *branches: dict[str, str]) -> list[str]:
    """The table's measures (its BigInteger columns, in order); the branches that compute
    them must name each exactly, so the SQL and models.py cannot drift apart."""
    columns = [c.name for c in table.columns if isinstance(c.type, BigInteger)]
    computed = {name for branch in branches for name in branch}
    if computed != set(columns):
        raise AssertionError(f"{table.name}: {sorted(computed ^ set(columns))} mismatched")
    return columns


# A followed discharge's readmission, one index probe of the member's admissions:
# NULL none, 1 an admission of the other setting only, 2 one of the same setting.
_OTHER_SETTING, _SAME_SETTING = 1, 2
# A followed behavioral discharge's follow-up, one index probe of the member's claims, as
# the sum of: 4 a 7-day follow-up, 2 a 30-day follow-up (so >= 2 whenever there is a 7-day
# one), 1 a peer contact within a day. NULL for other stays.
_SHORT_FOLLOW_UP, _LONG_FOLLOW_UP, _PEER_CONTACT = 4, 2, 1


def _stays_sql(d: _DateSql, bounds: _Bounds) -> str:
    """Every admission with its LOS and the flags of its followed discharge."""
    after_discharge = (
        "s.service_date > a.discharge_date AND s.behavioral = TRUE"
        f" AND {_in('s.category', FOLLOW_UP_CATEGORIES)}"
    )
    follow_up = " + ".join(
        f"MAX(CASE WHEN {test} THEN {value} ELSE 0 END)"
        for test, value in (
            (
                f"{after_discharge} AND s.service_date <= "
                f"{d.plus_days('a.discharge_date', FOLLOW_UP_SHORT_DAYS)}",
                _SHORT_FOLLOW_UP,
            ),
            (after_discharge, _LONG_FOLLOW_UP),
            (
                f"s.category = '{PEER_SUPPORT}' AND s.service_date <= "
                f"{d.plus_days('a.discharge_date', PEER_CONTACT_DAYS)}",
                _PEER_CONTACT,
            ),
        )
    )
    claims_until = max(FOLLOW_UP_SHORT_DAYS, FOLLOW_UP_LONG_DAYS, PEER_CONTACT_DAYS)
    # MATERIALIZED: used once, the CTE would be inlined and each use of a flag below would
    # run its subquery again (PostgreSQL plans one SubPlan per reference; SQLite likewise).
    return f"""
stays AS MATERIALIZED (
    SELECT a.member_id, a.setting, a.paid_amount_cents, a.month_index, a.admit_day, a.los,
        a.followed,
        CASE WHEN a.followed = 1 THEN (
            SELECT MAX(CASE WHEN b.setting = a.setting THEN {_SAME_SETTING}
                            ELSE {_OTHER_SETTING} END)
            FROM admissions b
            WHERE b.member_id = a.member_id
              AND b.admit_date BETWEEN {d.plus_days("a.discharge_date", 1)}
                                   AND {d.plus_days("a.discharge_date", READMISSION_DAYS)})
        END AS readmission,
        CASE WHEN a.followed = 1 AND a.setting = 'behavioral' THEN COALESCE((
            SELECT {follow_up}
            FROM services s
            WHERE s.member_id = a.member_id
              AND s.service_date BETWEEN a.discharge_date
                                     AND {d.plus_days("a.discharge_date", claims_until)}), 0)
        END AS follow_up
    FROM (
        SELECT member_id, setting, paid_amount_cents, discharge_date,
            {d.month_index("admit_date")} AS month_index, {d.day("admit_date")} AS admit_day,
            CASE WHEN discharge_date IS NULL THEN NULL
                 WHEN discharge_date = admit_date THEN 1
                 ELSE {d.day("discharge_date")} - {d.day("admit_date")} END AS los,
            CASE WHEN discharge_date IS NOT NULL
                  AND {d.day("discharge_date")} + {FOLLOWED_DAYS} <= {bounds.through_sql}
                 THEN 1 ELSE 0 END AS followed
        FROM admissions
    ) a
)"""


def _monthly_sql(d: _DateSql, bounds: _Bounds) -> str:
    def per_setting(name: str, expr: str) -> dict[str, str]:
        return {
            f"{name}_{s}": f"SUM(CASE WHEN st.setting = '{s}' THEN {expr} ELSE 0 END)"
            for s in ADMISSION_SETTINGS
        }

    admission_sums = {
        **per_setting("admissions", "1"),
        **per_setting("discharges", "CASE WHEN st.los IS NULL THEN 0 ELSE 1 END"),
        **per_setting("inpatient_days", "COALESCE(st.los, 0)"),
        **per_setting("followed_discharges", "st.followed"),
        **per_setting(
            "readmissions_30d", f"CASE WHEN st.readmission = {_SAME_SETTING} THEN 1 ELSE 0 END"
        ),
        **per_setting("readmissions_any_30d", "CASE WHEN st.readmission IS NULL THEN 0 ELSE 1 END"),
        **per_setting("admission_paid_cents", "st.paid_amount_cents"),
        **{
            name: f"SUM(CASE WHEN {test} THEN 1 ELSE 0 END)"
            for name, test in zip(
                FOLLOW_UP_MEASURES,
                (
                    "st.follow_up IS NOT NULL",
                    f"st.follow_up >= {_SHORT_FOLLOW_UP}",
                    f"st.follow_up >= {_LONG_FOLLOW_UP}",
                    f"st.follow_up % 2 = {_PEER_CONTACT}",
                ),
                strict=True,
            )
        },
    }
    service_sums = {
        **{
            f"service_paid_cents_{s}": f"SUM(CASE WHEN {_flag(s, 'sv.behavioral')}"
            " THEN sv.paid_amount_cents ELSE 0 END)"
            for s in ADMISSION_SETTINGS
        },
        **{
            f"ed_visits_{s}": f"SUM(CASE WHEN sv.category = '{EMERGENCY}'"
            f" AND {_flag(s, 'sv.behavioral')} THEN sv.visits ELSE 0 END)"
            for s in ADMISSION_SETTINGS
        },
    }
    member_months = {"member_months": "member_months"}
    measure_columns = _checked_columns(monthly_summary, member_months, admission_sums, service_sums)

    def branch(values: dict[str, str]) -> str:
        return ", ".join(f"{values.get(c, '0')} AS {c}" for c in measure_columns)

    totals = ", ".join(f"SUM(u.{c})" for c in measure_columns)
    return f"""
WITH {_member_months_sql().strip()},
{_stays_sql(d, bounds).strip()},
units AS (
    SELECT month_index, state_code, program_id, primary_condition, {branch(member_months)}
    FROM member_month_counts
    UNION ALL
    SELECT st.month_index, m.state_code, sp.program_id, m.primary_condition,
        {branch(admission_sums)}
    FROM stays st
    JOIN members m ON m.member_id = st.member_id
    LEFT JOIN enrollment_spells sp ON sp.member_id = st.member_id
        AND st.admit_day BETWEEN sp.start_day AND sp.end_day
    GROUP BY st.month_index, m.state_code, sp.program_id, m.primary_condition
    UNION ALL
    SELECT sv.month_index, m.state_code, sp.program_id, m.primary_condition,
        {branch(service_sums)}
    FROM (
        SELECT member_id, category, behavioral, visits, paid_amount_cents,
            {d.month_index("service_date")} AS month_index,
            {d.day("service_date")} AS service_day
        FROM services
    ) sv
    JOIN members m ON m.member_id = sv.member_id
    LEFT JOIN enrollment_spells sp ON sp.member_id = sv.member_id
        AND sv.service_day BETWEEN sp.start_day AND sp.end_day
    GROUP BY sv.month_index, m.state_code, sp.program_id, m.primary_condition
)
INSERT INTO monthly_summary (
    month, quarter, year, state_code, program_model, program_id, primary_condition,
    {", ".join(measure_columns)})
SELECT c.month, c.quarter, c.year, u.state_code, COALESCE(p.program_model, 'not_enrolled'),
    u.program_id, u.primary_condition, {totals}
FROM units u
JOIN calendar_months c ON c.month_index = u.month_index
LEFT JOIN programs p ON p.program_id = u.program_id
GROUP BY c.month, c.quarter, c.year, u.state_code, p.program_model, u.program_id,
    u.primary_condition
"""


def _window_tests(column: str) -> dict[str, str]:
    """Whether a date inside the enrollment's two windows is in the pre or the post window."""
    return {"pre": f"{column} < enr.enrolled_on", "post": f"{column} >= enr.enrolled_on"}


def _enrollment_outcomes_sql(d: _DateSql, bounds: _Bounds) -> str:
    stay_sums: dict[str, str] = {}
    for window, test in _window_tests("a.admit_date").items():
        for s in ADMISSION_SETTINGS:
            when = f"{test} AND a.setting = '{s}'"
            stay_sums |= {
                f"{window}_admissions_{s}": f"SUM(CASE WHEN {when} THEN 1 ELSE 0 END)",
                f"{window}_discharges_{s}": f"SUM(CASE WHEN {when}"
                " AND a.discharge_date IS NOT NULL THEN 1 ELSE 0 END)",
                f"{window}_inpatient_days_{s}": f"SUM(CASE WHEN {when}"
                " AND a.discharge_date IS NOT NULL THEN"
                " CASE WHEN a.discharge_date = a.admit_date THEN 1"
                f" ELSE {d.day('a.discharge_date')} - {d.day('a.admit_date')} END ELSE 0 END)",
                f"{window}_admission_paid_cents_{s}": f"SUM(CASE WHEN {when}"
                " THEN a.paid_amount_cents ELSE 0 END)",
            }
    claim_sums: dict[str, str] = {}
    for window, test in _window_tests("s.service_date").items():
        for s in ADMISSION_SETTINGS:
            when = f"{test} AND {_flag(s, 's.behavioral')}"
            visit = f"{when} AND {_in('s.category', VISIT_CATEGORIES)}"
            claim_sums |= {
                f"{window}_service_paid_cents_{s}": f"SUM(CASE WHEN {when}"
                " THEN s.paid_amount_cents ELSE 0 END)",
                f"{window}_ed_visits_{s}": f"SUM(CASE WHEN {when}"
                f" AND s.category = '{EMERGENCY}' THEN s.visits ELSE 0 END)",
                f"{window}_visits_{s}": f"SUM(CASE WHEN {visit} THEN s.visits ELSE 0 END)",
                f"{window}_visit_paid_cents_{s}": f"SUM(CASE WHEN {visit}"
                " THEN s.paid_amount_cents ELSE 0 END)",
            }
    measure_columns = _checked_columns(enrollment_outcomes, stay_sums, claim_sums)
    stay_columns = [c for c in measure_columns if c in stay_sums]
    claim_columns = [c for c in measure_columns if c in claim_sums]

    def sums(values: dict[str, str], columns: list[str]) -> str:
        return ",\n        ".join(f"{values[c]} AS {c}" for c in columns)

    in_windows = (
        f"BETWEEN {d.plus_days('enr.enrolled_on', -PRE_WINDOW_DAYS)}"
        f" AND {d.plus_days('enr.enrolled_on', POST_WINDOW_LAST_DAY)}"
    )
    return f"""
WITH enr AS (
    SELECT e.enrollment_id, e.member_id, e.program_id, e.enrolled_on,
        {d.day("e.enrolled_on")} AS d, {d.month("e.enrolled_on")} AS enrolled_month,
        p.state_code, p.program_model, m.primary_condition
    FROM enrollments e
    JOIN programs p ON p.program_id = e.program_id
    JOIN members m ON m.member_id = e.member_id
), stays AS (
    SELECT enr.enrollment_id,
        {sums(stay_sums, stay_columns)}
    FROM enr
    JOIN admissions a ON a.member_id = enr.member_id AND a.admit_date {in_windows}
    GROUP BY enr.enrollment_id
), claims AS (
    SELECT enr.enrollment_id,
        {sums(claim_sums, claim_columns)},
        SUM(CASE WHEN s.behavioral THEN 1 ELSE 0 END) AS behavioral_claims
    FROM enr
    JOIN services s ON s.member_id = enr.member_id AND s.service_date {in_windows}
    GROUP BY enr.enrollment_id
), judged AS (
    SELECT enr.*,
        EXISTS (SELECT 1 FROM eligibility_islands i
                WHERE i.member_id = enr.member_id
                  AND i.start_day <= enr.d - {PRE_WINDOW_DAYS}
                  AND i.end_day >= enr.d + {POST_WINDOW_LAST_DAY})
            AS eligible_both_windows,
        (COALESCE(st.pre_admissions_behavioral, 0) + COALESCE(st.post_admissions_behavioral, 0)
            + COALESCE(cl.behavioral_claims, 0) > 0) AS has_behavioral_use,
        COALESCE(enr.d + {POST_WINDOW_LAST_DAY} <= {bounds.through_sql}, FALSE)
            AS post_window_complete,
        {", ".join(f"COALESCE(st.{c}, 0) AS {c}" for c in stay_columns)},
        {", ".join(f"COALESCE(cl.{c}, 0) AS {c}" for c in claim_columns)}
    FROM enr
    LEFT JOIN stays st ON st.enrollment_id = enr.enrollment_id
    LEFT JOIN claims cl ON cl.enrollment_id = enr.enrollment_id
)
INSERT INTO enrollment_outcomes (
    enrollment_id, program_id, state_code, program_model, primary_condition, enrolled_on,
    enrolled_month, eligible_both_windows, has_behavioral_use, post_window_complete, analysable,
    {", ".join(measure_columns)})
SELECT enrollment_id, program_id, state_code, program_model, primary_condition, d,
    enrolled_month, eligible_both_windows, has_behavioral_use, post_window_complete,
    (eligible_both_windows AND has_behavioral_use AND post_window_complete),
    {", ".join(measure_columns)}
FROM judged
"""


def _prepost_summary_sql() -> str:
    """The analysable enrollments of enrollment_outcomes summed by program, month of
    enrollment and condition."""
    admissions = {
        setting: " + ".join(f"{{w}}_admissions_{s}" for s in ADMISSION_SETTINGS)
        if setting == "all"
        else f"{{w}}_admissions_{setting}"
        for setting in SETTINGS
    }
    with_admission = {
        f"{window}_with_admission_{setting}": "SUM(CASE WHEN "
        f"{admitted.format(w=window)} > 0 THEN 1 ELSE 0 END)"
        for window in WINDOWS
        for setting, admitted in admissions.items()
    }
    summed = {
        c.name: f"SUM({c.name})"
        for c in enrollment_outcomes.columns
        if isinstance(c.type, BigInteger)
    }
    values = {"enrollments": "COUNT(*)", **with_admission, **summed}
    measures = _checked_columns(prepost_summary, values)
    keys = "program_id, enrolled_month, primary_condition, state_code, program_model"
    return f"""
INSERT INTO prepost_summary ({keys}, {", ".join(measures)})
SELECT {keys}, {", ".join(values[c] for c in measures)}
FROM enrollment_outcomes
WHERE analysable
GROUP BY {keys}
"""


def rebuild_summaries(conn: Connection) -> None:
    """Recompute every summary table from the contract tables, inside the caller's transaction.

    On SQLite the loader runs it with temp_store = FILE (see loader.py, _sqlite_load_settings).
    """
    d = _DateSql(conn.dialect.name)
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # With the default 4 MB every sort and hash of the claims spills to disk, and JIT
        # compiles for seconds because of estimates that are off by orders of magnitude.
        conn.execute(text("SET LOCAL work_mem = '256MB'"))
        conn.execute(text("SET LOCAL jit = off"))
        # A load fills the contract tables in this transaction, before autovacuum can see
        # them: without statistics the planner probes indexes once per claim. ANALYZE inside
        # the transaction samples its own rows.
        conn.execute(text(f"ANALYZE {', '.join(t.__tablename__ for t in CONTRACT_TABLES)}"))
    for table in reversed(SUMMARY_TABLES):
        conn.execute(table.delete())
    bounds = _bounds(conn)
    conn.execute(summary_info.insert(), {"data_through": bounds.through})
    calendar = _calendar_rows(bounds)
    if calendar:
        conn.execute(calendar_months.insert(), calendar)
    conn.execute(text(_islands_sql(d)))
    conn.execute(text(_spells_sql(d)))
    if postgres:
        conn.execute(text("ANALYZE calendar_months, eligibility_islands, enrollment_spells"))
    conn.execute(text(_monthly_sql(d, bounds)))
    conn.execute(text(_enrollment_outcomes_sql(d, bounds)))
    conn.execute(text(_prepost_summary_sql()))
    if postgres:
        conn.execute(text("ANALYZE monthly_summary, enrollment_outcomes, prepost_summary"))
