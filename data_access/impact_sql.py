"""The SQL of the impact tables (see impact.py): index dates, their matching variables and
their window sums, written once for SQLite and PostgreSQL.

An *index date* is the day a pre/post pair of windows starts from: an analysable
enrollment's `enrolled_on`, or a comparison candidate's date. Every figure of an index date,
enrolled or not, comes from the same SQL below, so both groups are measured alike. All day
arithmetic is on whole day numbers (days since 1970-01-01), as in summaries.py.

Each measure reads a member's stays and claims once per index date through the indexes on
(member_id, date), with the index dates in member order so that the reads follow the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_access.summaries import _DateSql
from data_access.vocabulary import (
    AGE_BAND_LAST_AGE,
    AGE_BANDS,
    DAYS_AFTER_DISCHARGE,
    EVENT_STUDY_DAYS_PER_TWO_MONTHS,
    ID_LENGTH,
    POST_WINDOW_LAST_DAY,
    PRE_WINDOW_DAYS,
    RECENT_DAYS,
    ROUTINE_INDEX_DAY_OF_MONTH,
    ROUTINE_MEMBERS_MIN,
    ROUTINE_MEMBERS_PER_ENROLLMENT,
)

_SETTINGS = ("behavioral", "medical")
# The claims' behavioral flag that stands for each setting (as in the prepost measures).
_FLAG_TEST = {"behavioral": "s.behavioral", "medical": "NOT s.behavioral"}
# Routine days that can fall within DAYS_AFTER_DISCHARGE days of a discharge (one a month).
_ROUTINE_DAYS_AFTER_DISCHARGE = DAYS_AFTER_DISCHARGE // 28 + 1
WORK_TABLES = ("impact_work_index", "impact_work_cells")


@dataclass(frozen=True)
class ImpactSql:
    dialect: str

    @property
    def d(self) -> _DateSql:
        return _DateSql(self.dialect)

    def date_of(self, day: str) -> str:
        """The DATE of a day number (so that comparisons with DATE columns use indexes)."""
        if self.dialect == "sqlite":
            return f"date({day} + 2440587.5)"
        return f"(DATE '1970-01-01' + {day})"

    @staticmethod
    def age_band(age: str) -> str:
        """The age band of an age in whole years (index year - birth year)."""
        whens = " ".join(
            f"WHEN {age} <= {last} THEN '{band}'"
            for band, last in zip(AGE_BANDS, AGE_BAND_LAST_AGE, strict=False)
        )
        return f"CASE {whens} ELSE '{AGE_BANDS[-1]}' END"

    def _los(self) -> str:
        d = self.d
        return (
            "CASE WHEN a.discharge_date = a.admit_date THEN 1"
            f" ELSE {d.day('a.discharge_date')} - {d.day('a.admit_date')} END"
        )

    def _window(self, column: str) -> str:
        """`column` (a DATE) within the pre or the post window of index date r."""
        return (
            f"{column} BETWEEN {self.date_of(f'r.index_day - {PRE_WINDOW_DAYS}')}"
            f" AND {self.date_of(f'r.index_day + {POST_WINDOW_LAST_DAY}')}"
        )

    # -----------------------------------------------------------------------------------
    # Matching variables of the index dates of a CTE `index_rows` (member_id, index_day,
    # index_date and the `keys`), with the behavioral claims and stays of both windows.

    def _features(self, keys: str) -> str:
        """A CTE `features`: one row per index date that has a stay or a claim in its pre
        window (or a behavioral discharge in it), grouped by `keys`. Nothing from the index
        date on is read: the matching sees only what was known on the index date."""
        d = self.d
        first = self.date_of(f"r.index_day - {PRE_WINDOW_DAYS}")
        pre = f"a.admit_date >= {first} AND a.admit_date < r.index_date"
        prefixed = ", ".join(f"r.{key}" for key in keys.split(", "))
        # The stays admitted in the pre window, and those discharged in it (the latest
        # behavioral discharge may end a stay admitted before it).
        return f"""
contributions AS (
    SELECT {prefixed},
        CASE WHEN {pre} AND a.setting = 'behavioral' THEN 1 ELSE 0 END AS behavioral_stays,
        CASE WHEN {pre} AND a.setting = 'medical' THEN 1 ELSE 0 END AS medical_stays,
        CASE WHEN {pre} AND a.discharge_date IS NOT NULL THEN {self._los()} ELSE 0 END
            AS days,
        CASE WHEN {pre} THEN a.paid_amount_cents ELSE 0 END AS paid_cents,
        CASE WHEN a.admit_date >= {first}
                  AND a.admit_date < {self.date_of(f"r.index_day - {RECENT_DAYS}")}
             THEN 1 ELSE 0 END AS early_stays,
        CASE WHEN a.setting = 'behavioral' AND a.admit_date < r.index_date
                  AND a.discharge_date BETWEEN {first} AND r.index_date
             THEN {d.day("a.discharge_date")} END AS discharge_day
    FROM index_rows r
    JOIN admissions a ON a.member_id = r.member_id AND a.admit_date < r.index_date
        AND (a.admit_date >= {first} OR a.discharge_date >= {first})
    UNION ALL
    SELECT {prefixed}, 0, 0, 0,
        CASE WHEN s.service_date < r.index_date THEN s.paid_amount_cents ELSE 0 END,
        0,
        NULL
    FROM index_rows r
    JOIN services s ON s.member_id = r.member_id
        AND s.service_date >= {first} AND s.service_date < r.index_date
), features AS (
    SELECT {keys},
        SUM(behavioral_stays) AS pre_admissions_behavioral,
        SUM(medical_stays) AS pre_admissions_medical,
        SUM(days) AS pre_inpatient_days,
        SUM(paid_cents) AS pre_paid_cents,
        index_day - MAX(discharge_day) AS days_since_discharge,
        SUM(early_stays) AS early_admissions
    FROM contributions
    GROUP BY {keys}
)"""

    def enrollee_features(self) -> str:
        """The analysable enrollments, their exact-match cell and matching variables.

        Columns: enrollment_id, member_id, program_id, state_code, program_model,
        primary_condition, enrolled_month, age_band, index_day, cell_id (NULL when no
        work cell, i.e. before `create_work_tables`), and the matching variables
        (days_since_discharge NULL when no behavioral discharge in the pre window).
        """
        band = self.age_band("c.month_index / 12 - m.birth_year")
        return f"""
WITH index_rows AS MATERIALIZED (
    SELECT DISTINCT e.member_id, o.enrolled_on AS index_day,
        {self.date_of("o.enrolled_on")} AS index_date
    FROM enrollment_outcomes o
    JOIN enrollments e ON e.enrollment_id = o.enrollment_id
    WHERE o.analysable
    ORDER BY e.member_id, o.enrolled_on
), {self._features("member_id, index_day").strip()}
SELECT o.enrollment_id, e.member_id, o.program_id, o.state_code, o.program_model,
    o.primary_condition, o.enrolled_month, {band} AS age_band, o.enrolled_on AS index_day,
    w.cell_id,
    COALESCE(f.pre_admissions_behavioral, 0) AS pre_admissions_behavioral,
    COALESCE(f.pre_admissions_medical, 0) AS pre_admissions_medical,
    COALESCE(f.pre_inpatient_days, 0) AS pre_inpatient_days,
    COALESCE(f.pre_paid_cents, 0) AS pre_paid_cents,
    f.days_since_discharge,
    COALESCE(f.early_admissions, 0) AS early_admissions
FROM enrollment_outcomes o
JOIN enrollments e ON e.enrollment_id = o.enrollment_id
JOIN members m ON m.member_id = e.member_id
JOIN calendar_months c ON c.month = o.enrolled_month
LEFT JOIN impact_work_cells w ON w.state_code = o.state_code
    AND w.month_index = c.month_index AND w.primary_condition = o.primary_condition
    AND w.age_band = {band}
LEFT JOIN features f ON f.member_id = e.member_id AND f.index_day = o.enrolled_on
WHERE o.analysable
"""

    # -----------------------------------------------------------------------------------
    # Comparison candidates

    def create_work_tables(self) -> list[str]:
        """Statements that create and fill the work tables (temporary: dropped by
        `drop_work_tables`, and on PostgreSQL at the end of the transaction anyway).

        `impact_work_cells`: the exact-match cells (state, month of the index date, primary
        condition, age band) of the analysable enrollments, numbered. `impact_work_index`:
        the candidate index dates in those cells whose joined eligibility covers both
        windows and whose post window ends by the data-through date (`:through_day`); a
        date may appear twice (see `candidate_features`). Three kinds of dates:

        - the day after each behavioral discharge;
        - the routine day (the 15th) of a month 1 to DAYS_AFTER_DISCHARGE days after one;
        - the routine day of each month for a fixed sample of each state's members: the
          members ranked by member_id, a member is sampled in the months whose number
          equals its rank modulo a step chosen per state (so once every `step` months), the
          step giving about ROUTINE_MEMBERS_PER_ENROLLMENT members per analysable enrollment
          of the state's average month, and at least ROUTINE_MEMBERS_MIN.
        """
        d = self.d
        on_commit = "" if self.dialect == "sqlite" else " ON COMMIT DROP"
        band = self.age_band("c.month_index / 12 - m.birth_year")
        day = ROUTINE_INDEX_DAY_OF_MONTH
        ratio, least = ROUTINE_MEMBERS_PER_ENROLLMENT, ROUTINE_MEMBERS_MIN
        text_order = d.text_order
        offsets = ", ".join(f"({k})" for k in range(_ROUTINE_DAYS_AFTER_DISCHARGE))
        # The joined eligibility span must cover both windows of the routine date.
        covered = (
            f"BETWEEN {{span}}.start_day + {PRE_WINDOW_DAYS - (day - 1)}"
            f" AND {{span}}.end_day - {POST_WINDOW_LAST_DAY + day - 1}"
        )
        return [
            *self.drop_work_tables(),
            f"""
CREATE TEMPORARY TABLE impact_work_cells (
    cell_id INTEGER NOT NULL,
    state_code VARCHAR(2) NOT NULL,
    month_index INTEGER NOT NULL,
    primary_condition VARCHAR(16) NOT NULL,
    age_band VARCHAR(8) NOT NULL,
    first_day INTEGER NOT NULL,
    enrollments INTEGER NOT NULL,
    PRIMARY KEY (state_code, month_index, primary_condition, age_band)
){on_commit}""",
            f"""
INSERT INTO impact_work_cells (cell_id, state_code, month_index, primary_condition,
    age_band, first_day, enrollments)
SELECT ROW_NUMBER() OVER (ORDER BY state_code{text_order}, month_index,
        primary_condition{text_order}, age_band{text_order}),
    state_code, month_index, primary_condition, age_band, first_day, enrollments
FROM (
    SELECT o.state_code, c.month_index, o.primary_condition, {band} AS age_band,
        c.first_day, COUNT(*) AS enrollments
    FROM enrollment_outcomes o
    JOIN enrollments e ON e.enrollment_id = o.enrollment_id
    JOIN members m ON m.member_id = e.member_id
    JOIN calendar_months c ON c.month = o.enrolled_month
    WHERE o.analysable
    GROUP BY o.state_code, c.month_index, o.primary_condition, {band}, c.first_day
) cells""",
            # The planner must know the cells' numbers before it joins them (PostgreSQL
            # samples a table only when asked to, inside a transaction).
            *(["ANALYZE impact_work_cells"] if self.dialect == "postgresql" else []),
            f"""
CREATE TEMPORARY TABLE impact_work_index (
    member_id VARCHAR({ID_LENGTH}) NOT NULL,
    index_day INTEGER NOT NULL,
    cell_id INTEGER NOT NULL
){on_commit}""",
            f"""
WITH offsets (k) AS (
    VALUES {offsets}
), state_months AS (
    SELECT state_code, month_index, CAST(SUM(enrollments) AS INTEGER) AS enrollments
    FROM impact_work_cells
    GROUP BY state_code, month_index
), targets AS (
    SELECT state_code,
        CASE WHEN per_month > {least} THEN per_month ELSE {least} END AS per_month
    FROM (
        SELECT state_code,
            CAST((SUM(enrollments) * {ratio} + COUNT(*) - 1) / COUNT(*) AS INTEGER) AS per_month
        FROM state_months
        GROUP BY state_code
    ) wanted
), steps AS (
    SELECT t.state_code,
        CAST(CASE WHEN n.members / t.per_month > 1 THEN n.members / t.per_month ELSE 1 END
             AS INTEGER) AS step
    FROM targets t
    JOIN (SELECT state_code, COUNT(*) AS members FROM members GROUP BY state_code) n
        ON n.state_code = t.state_code
), sampled AS MATERIALIZED (
    SELECT m.member_id, m.state_code, m.primary_condition, m.birth_year,
        (ROW_NUMBER() OVER (PARTITION BY m.state_code ORDER BY m.member_id{text_order}) - 1)
            % s.step AS residue
    FROM members m
    JOIN steps s ON s.state_code = m.state_code
), sampled_months AS MATERIALIZED (
    SELECT st.state_code, st.month_index, st.month_index % s.step AS residue
    FROM state_months st JOIN steps s ON s.state_code = st.state_code
), sampled_spans AS MATERIALIZED (
    SELECT sm.member_id, sm.state_code, sm.primary_condition, sm.birth_year, sm.residue,
        i.start_day, i.end_day
    FROM sampled sm
    JOIN eligibility_islands i ON i.member_id = sm.member_id
    WHERE i.end_day - i.start_day >= {PRE_WINDOW_DAYS + POST_WINDOW_LAST_DAY}
), routine AS (
    SELECT sm.member_id, c.first_day + {day - 1} AS index_day, c.cell_id
    FROM sampled_months r
    JOIN sampled_spans sm ON sm.state_code = r.state_code AND sm.residue = r.residue
    JOIN impact_work_cells c ON c.state_code = r.state_code AND c.month_index = r.month_index
        AND c.primary_condition = sm.primary_condition
        AND c.age_band = {self.age_band("r.month_index / 12 - sm.birth_year")}
    WHERE c.first_day {covered.format(span="sm")}
), discharged AS MATERIALIZED (
    -- Eligible on the discharge day, which every index date built from it has in its pre
    -- window: the joined span that must cover the windows is this one.
    SELECT a.member_id, {d.day("a.discharge_date")} AS discharge_day,
        {d.month_index(d.plus_days("a.discharge_date", 1))} AS next_month,
        {d.month_index(d.plus_days("a.discharge_date", 1 - day))} + 1 AS routine_month,
        i.start_day, i.end_day, m.state_code, m.primary_condition, m.birth_year
    FROM admissions a
    JOIN members m ON m.member_id = a.member_id
    JOIN eligibility_islands i ON i.member_id = a.member_id
        AND i.start_day <= {d.day("a.discharge_date")}
        AND i.end_day >= {d.day("a.discharge_date")}
    WHERE a.setting = 'behavioral' AND a.discharge_date IS NOT NULL
), after_discharge AS (
    SELECT x.member_id, x.discharge_day + 1 AS index_day, c.cell_id
    FROM discharged x
    JOIN impact_work_cells c ON c.state_code = x.state_code AND c.month_index = x.next_month
        AND c.primary_condition = x.primary_condition
        AND c.age_band = {self.age_band("x.next_month / 12 - x.birth_year")}
    WHERE x.start_day <= x.discharge_day + 1 - {PRE_WINDOW_DAYS}
      AND x.end_day >= x.discharge_day + 1 + {POST_WINDOW_LAST_DAY}
), since_discharge AS (
    SELECT x.member_id, c.first_day + {day - 1} AS index_day, c.cell_id
    FROM discharged x
    CROSS JOIN offsets o
    JOIN impact_work_cells c ON c.state_code = x.state_code
        AND c.month_index = x.routine_month + o.k
        AND c.primary_condition = x.primary_condition
        AND c.age_band = {self.age_band("(x.routine_month + o.k) / 12 - x.birth_year")}
    WHERE c.first_day + {day - 1} <= x.discharge_day + {DAYS_AFTER_DISCHARGE}
      AND c.first_day {covered.format(span="x")}
)
INSERT INTO impact_work_index (member_id, index_day, cell_id)
SELECT member_id, index_day, cell_id FROM (
    SELECT member_id, index_day, cell_id FROM routine
    UNION ALL
    SELECT member_id, index_day, cell_id FROM after_discharge
    UNION ALL
    SELECT member_id, index_day, cell_id FROM since_discharge
) dates
WHERE index_day + {POST_WINDOW_LAST_DAY} <= :through_day""",
        ]

    def drop_work_tables(self) -> list[str]:
        schema = "temp." if self.dialect == "sqlite" else ""
        return [f"DROP TABLE IF EXISTS {schema}{table}" for table in WORK_TABLES]

    def candidate_features(self) -> str:
        """Comparison candidates: the dates of `impact_work_index` of members enrolled in
        no program on any day from the pre window's first day through the index date (a
        member enrolled later stays a candidate); each once. Unlike an enrollment, a
        candidate needs no behavioral claim or stay in its windows: an enrollment meets that
        rule through its own peer support claims, so asking it of the candidates would choose
        them by their post window (the outcome), and those with no use before the index date
        would be those with use after it.

        Columns: member_id, index_day, cell_id and the matching variables.
        """
        return f"""
WITH index_rows AS MATERIALIZED (
    SELECT DISTINCT u.member_id, u.index_day, {self.date_of("u.index_day")} AS index_date,
        u.cell_id
    FROM impact_work_index u
    WHERE NOT EXISTS (
        SELECT 1 FROM enrollment_spells sp
        WHERE sp.member_id = u.member_id
          AND sp.start_day <= u.index_day
          AND sp.end_day >= u.index_day - {PRE_WINDOW_DAYS})
    -- In member order, so that each member's stays and claims are read together.
    ORDER BY u.member_id, u.index_day
), {self._features("member_id, index_day, cell_id").strip()}
SELECT r.member_id, r.index_day, r.cell_id,
    COALESCE(f.pre_admissions_behavioral, 0) AS pre_admissions_behavioral,
    COALESCE(f.pre_admissions_medical, 0) AS pre_admissions_medical,
    COALESCE(f.pre_inpatient_days, 0) AS pre_inpatient_days,
    COALESCE(f.pre_paid_cents, 0) AS pre_paid_cents,
    f.days_since_discharge,
    COALESCE(f.early_admissions, 0) AS early_admissions
FROM index_rows r
LEFT JOIN features f ON f.member_id = r.member_id AND f.index_day = r.index_day
    AND f.cell_id = r.cell_id
"""

    # -----------------------------------------------------------------------------------
    # Window sums of the index dates in use: each enrollment's own (match_rank 0) and its
    # matched comparison dates', summed per enrollment into impact_outcomes.

    def outcomes_insert(self, columns: list[str]) -> str:
        """Fill impact_outcomes (`columns` after enrollment_id, as
        models.impact_sum_columns names them) from impact_enrollments and impact_matches."""
        los = self._los()
        parts: dict[str, tuple[str, str]] = {}  # name -> (stay value, claim value)
        for window, test in (("pre", "<"), ("post", ">=")):
            for setting in _SETTINGS:
                stay = f"a.admit_date {test} r.index_date AND a.setting = '{setting}'"
                claim = f"s.service_date {test} r.index_date AND {_FLAG_TEST[setting]}"
                parts[f"{window}_admissions_{setting}"] = (
                    f"CASE WHEN {stay} THEN 1 ELSE 0 END",
                    "0",
                )
                parts[f"{window}_inpatient_days_{setting}"] = (
                    f"CASE WHEN {stay} AND a.discharge_date IS NOT NULL THEN {los} ELSE 0 END",
                    "0",
                )
                parts[f"{window}_ed_visits_{setting}"] = (
                    "0",
                    f"CASE WHEN {claim} AND s.category = 'emergency' THEN s.visits ELSE 0 END",
                )
                parts[f"{window}_paid_cents_{setting}"] = (
                    f"CASE WHEN {stay} THEN a.paid_amount_cents ELSE 0 END",
                    f"CASE WHEN {claim} THEN s.paid_amount_cents ELSE 0 END",
                )
        names = list(parts)
        totals = []
        for column in columns:
            group, name = column.split("_", 1)
            test = "p.match_rank = 0" if group == "enrolled" else "p.match_rank > 0"
            window = name.split("_", 1)[0]
            if name.endswith("with_admission_all"):
                value = (
                    f"CASE WHEN p.{window}_admissions_behavioral"
                    f" + p.{window}_admissions_medical > 0 THEN 1 ELSE 0 END"
                )
            elif "_with_admission_" in name:
                setting = name.rsplit("_", 1)[1]
                value = f"CASE WHEN p.{window}_admissions_{setting} > 0 THEN 1 ELSE 0 END"
            else:
                value = f"p.{name}"
            totals.append(f"COALESCE(SUM(CASE WHEN {test} THEN {value} ELSE 0 END), 0)")
        return f"""
WITH index_rows AS MATERIALIZED (
    SELECT enrollment_id, match_rank, member_id, index_day,
        {self.date_of("index_day")} AS index_date
    FROM (
        SELECT enrollment_id, 0 AS match_rank, member_id, index_day FROM impact_enrollments
        UNION ALL
        SELECT enrollment_id, match_rank, member_id, index_day FROM impact_matches
    ) used
    ORDER BY member_id, index_day
), contributions AS (
    SELECT r.enrollment_id, r.match_rank,
        {", ".join(f"{stay} AS {name}" for name, (stay, _) in parts.items())}
    FROM index_rows r
    JOIN admissions a ON a.member_id = r.member_id AND {self._window("a.admit_date")}
    UNION ALL
    SELECT r.enrollment_id, r.match_rank, {", ".join(claim for _, claim in parts.values())}
    FROM index_rows r
    JOIN services s ON s.member_id = r.member_id AND {self._window("s.service_date")}
), per_date AS (
    SELECT enrollment_id, match_rank, {", ".join(f"SUM({n}) AS {n}" for n in names)}
    FROM contributions
    GROUP BY enrollment_id, match_rank
)
INSERT INTO impact_outcomes (enrollment_id, {", ".join(columns)})
SELECT e.enrollment_id, {", ".join(totals)}
FROM impact_enrollments e
LEFT JOIN per_date p ON p.enrollment_id = e.enrollment_id
GROUP BY e.enrollment_id
"""

    # -----------------------------------------------------------------------------------
    # The event study: the same stays and claims, by month relative to the index date.

    def relative_month(self, day: str) -> str:
        """The relative month of a day number `day` of the index date r's windows: -6..-1
        before it, +1..+6 from it on (EVENT_STUDY_DAYS_PER_TWO_MONTHS days make two months,
        so the months tile both windows; integer division truncates toward zero on both
        engines, hence the two branches)."""
        span = EVENT_STUDY_DAYS_PER_TWO_MONTHS
        offset = f"({day} - r.index_day)"
        return (
            f"CASE WHEN {offset} >= 0 THEN (2 * {offset}) / {span} + 1"
            f" ELSE -((-2 * {offset} - 1) / {span}) - 1 END"
        )

    def months_insert(self) -> str:
        """Fill impact_months from impact_enrollments (the matched ones) and impact_matches:
        per enrollment and relative month, its own admissions by setting (admitted in the
        month) and paid (stays by admit date, claims by service date), and the same summed
        over its matches; only months with a value."""
        d = self.d
        admit, service = d.day("a.admit_date"), d.day("s.service_date")
        sums = ", ".join(
            f"SUM(CASE WHEN match_rank {test} THEN {name} ELSE 0 END) AS {group}_{name}"
            for group, test in (("enrolled", "= 0"), ("comparison", "> 0"))
            for name in ("admissions_behavioral", "admissions_medical", "paid_cents")
        )
        return f"""
WITH index_rows AS MATERIALIZED (
    SELECT enrollment_id, match_rank, member_id, index_day,
        {self.date_of("index_day")} AS index_date
    FROM (
        SELECT enrollment_id, 0 AS match_rank, member_id, index_day
        FROM impact_enrollments WHERE matches > 0
        UNION ALL
        SELECT enrollment_id, match_rank, member_id, index_day FROM impact_matches
    ) used
    ORDER BY member_id, index_day
), contributions AS (
    SELECT r.enrollment_id, r.match_rank, {self.relative_month(admit)} AS relative_month,
        CASE WHEN a.setting = 'behavioral' THEN 1 ELSE 0 END AS admissions_behavioral,
        CASE WHEN a.setting = 'medical' THEN 1 ELSE 0 END AS admissions_medical,
        a.paid_amount_cents AS paid_cents
    FROM index_rows r
    JOIN admissions a ON a.member_id = r.member_id AND {self._window("a.admit_date")}
    UNION ALL
    SELECT r.enrollment_id, r.match_rank, {self.relative_month(service)}, 0, 0,
        s.paid_amount_cents
    FROM index_rows r
    JOIN services s ON s.member_id = r.member_id AND {self._window("s.service_date")}
)
INSERT INTO impact_months (enrollment_id, relative_month, enrolled_admissions_behavioral,
    enrolled_admissions_medical, enrolled_paid_cents, comparison_admissions_behavioral,
    comparison_admissions_medical, comparison_paid_cents)
SELECT enrollment_id, relative_month, {sums}
FROM contributions
GROUP BY enrollment_id, relative_month
"""
