"""About the data: what every figure means, how fresh it is, and how much there is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.sections import page_header


def _utc(moment: dt.datetime) -> str:
    """The load time in UTC, said explicitly (a naive time is taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


page_header(
    "About the data",
    "What the figures mean, how recent they are, and what the database holds.",
)

with data.guarded("the database status"):
    status = data.database_status()
    cols = st.columns(3)
    cols[0].metric(
        "Data through",
        status.data_through.isoformat() if status.data_through else "n/a",
        help="The latest admission or claim date in the database.",
        border=True,
    )
    cols[1].metric(
        "Last loaded",
        _utc(status.last_loaded_at) if status.last_loaded_at else "n/a",
        border=True,
    )
    cols[2].metric(
        "Loaded from",
        Path(status.last_source).name or status.last_source if status.last_source else "n/a",
        help=status.last_source or None,
        border=True,
    )
    if status.table_rows:  # national totals: shown to leadership and admin viewers only
        st.markdown("**Rows per table**")
        st.dataframe(
            pd.DataFrame(
                {"table": list(status.table_rows), "rows": list(status.table_rows.values())}
            ),
            hide_index=True,
            column_config={"rows": st.column_config.NumberColumn("rows", format="localized")},
            key="table_rows",
        )

st.subheader("Definitions")
st.markdown(
    f"""
- **Program models.** *Embedded*: peers work inside the behavioral health network the
  organization runs for a state or county. *Care advocacy*: peers in the Care Advocacy Centers
  coordinate care, mostly by phone. *Whole health*: peers coordinate physical and behavioral
  care face to face. *Hot spotting*: dedicated peer support for members with very high use
  or poor outcomes.
- **Not enrolled.** Members of the same states who were in no peer support program on the
  day that counts (first day of the month, admission date, service date). They are the
  comparison population.
- **Member-month (MM).** One for each calendar month in which a member is eligible for
  Medicaid on at least one day.
- **Group.** A month, an admission or a claim belongs to the program the member was enrolled
  in on the first day of the month, the admission date or the service date. With two
  programs on the same day, the most recent enrollment counts.
- **Admissions per 1,000 MM** = admissions ÷ member-months × 1,000. **Inpatient days per
  1,000 MM** = days in hospital ÷ member-months × 1,000.
- **Length of stay (LOS).** Discharge date minus admission date, at least one day; stays not
  yet discharged count as admissions but not in LOS. **Average LOS** = inpatient days ÷
  discharged stays.
- **Cost per member per month (PMPM)** = paid amounts of admissions and claims ÷
  member-months; *behavioral* counts behavioral stays and behavioral claims, *medical* the rest.
- **Data through.** The latest admission or claim date in the database.
- **Followed discharge.** A discharged stay whose 30 days after discharge are all in the data
  (discharge date + 30 days on or before the data-through date). Later discharges are left
  out of the readmission and follow-up rates until their 30 days have passed.
- **30-day readmission rate.** Share of followed discharges after which the member was
  admitted again 1 to 30 days after discharge: to any hospital setting (*all-cause*) when the
  setting is *all*, to the same setting (behavioral to behavioral, medical to medical) when
  the sidebar limits it. A crude rate, not risk-adjusted like the Core Set's PCR.
- **ED visits per 1,000 MM** = visits of emergency department claims ÷ member-months × 1,000;
  a limited setting counts the claims with the matching behavioral flag.
- **Follow-up after a behavioral stay.** Of the followed discharges of behavioral stays, the
  share with a behavioral outpatient, professional or peer support claim 1 to 7 days (*7-day*)
  or 1 to 30 days (*30-day*) after discharge (a visit on the discharge day does not count),
  and the share with a peer support claim on the discharge day or the day after (*peer
  contact within a day*). Like the CMS Core Set's FUH, but not it: the claims carry no
  diagnosis or provider codes.
- **Provisional months.** Claims keep arriving for months after a service, so the last
  {data.runout_months()} months up to the data-through month are *provisional*: shaded and
  named on the charts, left out of the overview's tiles, and flagged `provisional` in the
  monthly export.
- **Pre/post.** For each enrollment, the 183 days before enrolling against the 183 days from
  enrolling. An enrollment is *analysable* when the member was eligible every day of both
  windows, had a behavioral health claim or stay in either, and the post window has ended by
  the data-through date. Ratios pool the enrollments (sum over sum).
- **Pre/post visits and paid.** Per enrollment and window: ED visits; visits of emergency,
  outpatient and professional claims and their paid amounts; inpatient paid (the paid of
  the window's admissions, open stays included).
- **Setting.** The sidebar's inpatient setting limits the admission measures to behavioral
  or medical stays, and the ED and visit measures to claims with the matching behavioral
  flag; the costs per member always count every admission and claim, and the follow-up
  measures always concern behavioral stays.
- **Undefined values.** A ratio whose denominator is zero (no member-months, no
  discharges, no analysable enrollment) is shown as *n/a* and left empty in downloads.
"""
)
st.caption("Member-level records are never shown or exported: every figure is a sum over members.")

st.subheader("Small numbers and who sees what")
threshold = data.small_cell_threshold()
st.markdown(
    f"""
- **Small cells.** Following the CMS cell-size rule, no count from 1 to {threshold - 1} is
  shown, and neither is any rate, mean or money figure computed over fewer than {threshold}
  members, enrollments or admissions: it reads *fewer than {threshold}* on screen (*< {threshold}*
  in a tile) and is left
  empty in a CSV, whose `suppressed` column names the emptied columns of each row. Where a
  table holds a total and its parts, another part is suppressed too, so that no suppressed
  value can be worked out by subtraction. State partners always see suppressed figures;
  every download is suppressed, unless leadership asks for unsuppressed data on the
  Downloads page, which names the purpose and is recorded.
- **Access.** Leadership sees every state; a state partner sees only the states granted,
  and the nation as one pooled line. Every sign-in, download and refused request is
  recorded in the audit log.
- **A state partner's choices.** In each filter a state partner chooses everything or one
  value (one of their states or all, one program model or all, one program or all, one
  primary condition or all), and whole calendar years. Two views that differ by part of a
  filter, such as two conditions beside one of them, could be subtracted to give back a
  count that suppression hides; a shared link asking for more is widened to all of that
  filter, or to whole years, and says so. A partner's figure is also hidden where a figure
  holding it that they could see elsewhere (every condition, every program model, the
  quarter, year or years around it) is larger by 1 to {threshold - 1}, so that no two of
  their views, set side by side, give a small count away.
"""
)
