"""The partners' pre/post sums kept between calls (queries._PREPOST_ATOMS): a partner is
served their own, and rows changed without a load are read again, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, update

from data_access import queries
from data_access.access import Viewer
from data_access.filters import OutcomeFilter
from data_access.loader import load_directory
from data_access.models import prepost_summary

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
TX = Viewer(email="tx.partner@example.org", role="state_partner", states=("TX",))
NY = Viewer(email="ny.partner@example.org", role="state_partner", states=("NY",))
ONE_CONDITION = OutcomeFilter(
    month_from="2022-01", month_to="2024-12", conditions=("substance_use",)
)


def test_kept_prepost_sums_follow_the_viewer_and_the_rows(engine: Engine) -> None:
    load_directory(SAMPLE, engine=engine)

    def prepost(viewer: Viewer) -> pd.DataFrame:
        return queries.prepost_by_program(viewer=viewer, filters=ONE_CONDITION, engine=engine)

    def cold(viewer: Viewer) -> pd.DataFrame:
        queries._PREPOST_ATOMS.clear()
        return prepost(viewer)

    tx, ny = cold(TX), cold(NY)
    # Kept for both partners, in either order: each is served their own.
    pd.testing.assert_frame_equal(prepost(TX), tx, check_exact=True)
    pd.testing.assert_frame_equal(prepost(NY), ny, check_exact=True)
    assert set(tx["state_code"]) == {"TX"} and set(ny["state_code"]) == {"NY"}

    before = queries._prepost_key(TX, engine)
    kept = queries._PREPOST_ATOMS[before]
    outcomes = prepost_summary.c
    with engine.begin() as conn:
        conn.execute(
            update(prepost_summary)
            .where(outcomes.state_code == "TX")
            .values(pre_admissions_behavioral=outcomes.pre_admissions_behavioral + 3)
        )
    after = queries._prepost_key(TX, engine)
    assert after != before
    changed = prepost(TX)
    assert not queries._PREPOST_ATOMS[after].equals(kept)  # read again, not the kept sums
    pd.testing.assert_frame_equal(changed, cold(TX), check_exact=True)
