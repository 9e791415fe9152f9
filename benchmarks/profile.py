"""Where a page's time goes: `python -m benchmarks.profile DATABASE_URL [PAGE_FILE ...]`.

For each page (default: every page of the app's navigation) one AppTest session runs the
page cold (st.cache_data cleared, engines disposed) under cProfile and prints the functions
with the most cumulative time in the project's code and in the libraries below it; then the
impact estimate (`impact_by_unit`, default filters) is timed by its parts: the two reads and
the bootstrap. Not part of `make bench`: a tool for the findings in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import threading
import time
from typing import Any

from benchmarks.common import median


def profile_page(page_file: str, query: dict[str, list[str]], top: int) -> str:
    from benchmarks import pages
    from data_access import db

    at = pages.new_session(query)
    at.switch_page(f"../pages/{page_file}")
    at.run()
    pages.clear_caches()
    db.dispose_engines()
    profiler = cProfile.Profile()

    def in_script_thread(frame: Any, event: str, arg: Any) -> None:
        # AppTest runs the script in a thread of its own: profile that thread.
        sys.setprofile(None)
        profiler.enable()

    start = time.perf_counter()
    threading.setprofile(in_script_thread)
    try:
        at.run()
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(
        r"(dashboard|data_access|pages|plotly/express|plotly/basedatatypes|sqlalchemy/engine/base"
        r"|pandas/core/frame|numpy|streamlit/elements)",
        top,
    )
    problems = pages.problems(at)
    return (
        f"== {page_file} {query or ''}: cold run {seconds * 1000:.0f} ms {problems}\n"
        + "\n".join(
            line
            for line in out.getvalue().splitlines()
            if line.strip() and "function calls" not in line
        )
    )


def impact_parts(url: str, repeats: int) -> dict[str, float]:
    """impact_by_unit (default filters, leadership, shown unsuppressed as on screen) by its
    parts, each the median of `repeats` cold calls."""
    from data_access import db, impact
    from data_access.access import LOCAL_VIEWER
    from data_access.filters import OutcomeFilter

    filters = OutcomeFilter()
    parts: dict[str, list[float]] = {}
    originals = {
        name: getattr(impact, name)
        for name in (
            "_analysable",
            "_enrollment_rows",
            "_comparison_members",
            "bootstrap_sums",
            "_programs",
        )
    }

    def wrap(name: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                parts.setdefault(name, [0.0])[-1] += time.perf_counter() - t0

        return timed

    for name, fn in originals.items():
        setattr(impact, name, wrap(name, fn))
    totals = []
    try:
        for _ in range(repeats):
            for values in parts.values():
                values.append(0.0)
            db.dispose_engines()
            t0 = time.perf_counter()
            frame = impact.impact_by_unit(
                viewer=LOCAL_VIEWER, filters=filters, small_cells="show", engine=db.get_engine(url)
            )
            totals.append(time.perf_counter() - t0)
    finally:
        for name, fn in originals.items():
            setattr(impact, name, fn)
    result = {name: median(values[1:] or values) for name, values in parts.items()}
    result["impact_by_unit"] = median(totals)
    result["rows"] = float(len(frame))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("url")
    parser.add_argument("pages", nargs="*")
    parser.add_argument("--state", action="append", default=[])
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pages", action="store_true")
    args = parser.parse_args(argv)
    os.environ["DATABASE_URL"] = args.url
    from benchmarks import pages
    from benchmarks.worker import configure, quiet_streamlit

    configure(args.url)
    quiet_streamlit()
    if not args.no_pages:
        query = {"state": args.state} if args.state else {}
        for page_file in args.pages or [p.file for p in pages.present_pages()]:
            print(profile_page(page_file, query, args.top), flush=True)
    parts = impact_parts(args.url, args.repeat)
    from data_access import db, impact
    from data_access.access import LOCAL_VIEWER
    from data_access.filters import OutcomeFilter

    profiler = cProfile.Profile()
    db.dispose_engines()
    profiler.enable()
    impact.impact_by_unit(
        viewer=LOCAL_VIEWER,
        filters=OutcomeFilter(),
        small_cells="show",
        engine=db.get_engine(args.url),
    )
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
    print("== impact_by_unit profile\n" + out.getvalue())
    print(
        "== impact_by_unit, default filters, cold (ms): "
        + ", ".join(
            f"{k} {v * 1000:.0f}" if k != "rows" else f"rows {v:.0f}" for k, v in parts.items()
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
