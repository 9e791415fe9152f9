"""The matched-comparison functions, timed and snapshotted:
`python -m benchmarks.impact_timing DATABASE_URL [--snapshot DIR] [--compare DIR] [--repeat N]`.

Times `impact_by_unit`, `event_study` and `balance_by_unit` uncached (engines disposed
before each call; the median of N) with the default filters and one narrower filter (the
state and program model with the most programs), shown as on leadership's screen. With
`--snapshot DIR` it writes every function's output for a set of filter variants (settings,
months, conditions, a partner, small cells suppressed and shown) as pickles; with
`--compare DIR` it checks the outputs against such a snapshot, value for value and dtype
for dtype, and their CSV text byte for byte. Not part of `make bench`: a tool for issue #12.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd


def variants(url: str) -> dict[str, tuple[Any, Any]]:
    from benchmarks.worker import pick_filters
    from data_access.access import LOCAL_VIEWER, Viewer
    from data_access.filters import OutcomeFilter

    picks = pick_filters(url)
    state, model = picks["state"], picks["model"]
    partner = Viewer(email="p@example.org", role="state_partner", states=(state,))
    narrow = OutcomeFilter(states=(state,), program_models=(model,))
    return {
        "default": (LOCAL_VIEWER, OutcomeFilter()),
        "narrow": (LOCAL_VIEWER, narrow),
        "behavioral": (LOCAL_VIEWER, OutcomeFilter(setting="behavioral")),
        "medical-narrow": (LOCAL_VIEWER, narrow.model_copy(update={"setting": "medical"})),
        "months": (LOCAL_VIEWER, OutcomeFilter(month_from="2022-01", month_to="2023-06")),
        "condition": (LOCAL_VIEWER, OutcomeFilter(conditions=("substance_use",))),
        "partner": (partner, OutcomeFilter()),
        "late": (LOCAL_VIEWER, OutcomeFilter(month_from="2025-06")),
        "no-months": (LOCAL_VIEWER, OutcomeFilter(month_from="2031-01")),
    }


def functions() -> dict[str, Any]:
    from data_access.event_study import balance_by_unit, event_study
    from data_access.impact import impact_by_unit

    return {
        "impact_by_unit": impact_by_unit,
        "event_study": event_study,
        "balance_by_unit": balance_by_unit,
    }


def outputs(url: str) -> dict[str, pd.DataFrame]:
    from data_access import db

    engine = db.get_engine(url)
    out = {}
    for label, (viewer, filters) in variants(url).items():
        for name, fn in functions().items():
            for small_cells in ("show", "suppress"):
                out[f"{name}.{label}.{small_cells}"] = fn(
                    viewer=viewer, filters=filters, small_cells=small_cells, engine=engine
                )
    return out


def compare(current: dict[str, pd.DataFrame], directory: Path) -> list[str]:
    from data_access.exports import to_csv_text

    problems = []
    for key, frame in current.items():
        if not (directory / f"{key}.pickle").exists():
            problems.append(f"{key}: not in the snapshot")
            continue
        with open(directory / f"{key}.pickle", "rb") as f:
            expected = pickle.load(f)
        try:
            pd.testing.assert_frame_equal(frame, expected, check_exact=True)
        except AssertionError as error:
            problems.append(f"{key}: {str(error)[:400]}")
            continue
        if to_csv_text(frame) != to_csv_text(expected):
            problems.append(f"{key}: CSV text differs")
    return problems


def timings(url: str, repeat: int) -> dict[str, float]:
    from benchmarks.common import median
    from data_access import db

    chosen = variants(url)
    result = {}
    for label in ("default", "narrow"):
        viewer, filters = chosen[label]
        for name, fn in functions().items():
            seconds = []
            for _ in range(repeat):
                db.dispose_engines()
                engine = db.get_engine(url)
                start = time.perf_counter()
                fn(viewer=viewer, filters=filters, small_cells="show", engine=engine)
                seconds.append(time.perf_counter() - start)
            result[f"{name} {label}"] = median(seconds)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.impact_timing")
    parser.add_argument("url")
    parser.add_argument("--snapshot", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    from benchmarks.worker import configure, quiet_streamlit

    configure(args.url)
    quiet_streamlit()
    if args.snapshot or args.compare:
        current = outputs(args.url)
        if args.snapshot:
            args.snapshot.mkdir(parents=True, exist_ok=True)
            for key, frame in current.items():
                with open(args.snapshot / f"{key}.pickle", "wb") as f:
                    pickle.dump(frame, f)
            print(f"{len(current)} outputs written to {args.snapshot}")
        if args.compare:
            problems = compare(current, args.compare)
            print("\n".join(problems) or f"{len(current)} outputs identical")
            if problems:
                return 1
    if args.repeat:
        for key, seconds in timings(args.url, args.repeat).items():
            print(f"{key}: {seconds * 1000:.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
