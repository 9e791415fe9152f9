"""The scale benchmark: `python -m benchmarks.run [--sizes small,medium,large]
[--engines sqlite,postgresql] [--repeat N] [--quick]`; writes benchmarks/results.md.

Each size's files are generated once into benchmarks/work/data (git-ignored) and reused.
Each (size, engine) pair runs in its own process (benchmarks/worker.py) with its own fresh
database, created and dropped by the run. See benchmarks/README.md for what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    BENCH,
    ENGINES,
    PYTHON,
    ROOT,
    SIZES,
    WORK,
    drop_leftover_databases,
    machine,
    write_json,
)

RESULTS = BENCH / "results.md"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--sizes", default="small,medium,large", help="comma-separated: small, medium, large"
    )
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per measurement (median reported)"
    )
    parser.add_argument(
        "--load-repeat",
        type=int,
        default=None,
        help="whole loads per size and engine (default: --repeat, but 1 at the large size)",
    )
    parser.add_argument("--quick", action="store_true", help="smallest size only, 1 repeat")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium measurements")
    parser.add_argument(
        "--browser-sizes",
        default=None,
        help="sizes measured in Chromium (default: the smallest and the largest "
        "size of the run; each takes minutes per engine)",
    )
    parser.add_argument(
        "--no-explain",
        action="store_true",
        help="skip re-running the summary statements under EXPLAIN at the largest size",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="the Markdown report to write")
    parser.add_argument(
        "--only",
        default=None,
        help="run only these parts (size:engine,...); the other parts of the "
        "report come from the results a previous run left in benchmarks/work",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: write the report from benchmarks/work/results",
    )
    parser.add_argument(
        "--worker-timeout",
        type=float,
        default=75.0,
        help="minutes after which one size/engine part is stopped",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeat = "small", 1
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for s in args.sizes:
        if s not in SIZES:
            parser.error(f"unknown size {s!r}; choose from {', '.join(SIZES)}")
    for e in args.engines:
        if e not in ENGINES:
            parser.error(f"unknown engine {e!r}; choose from {', '.join(ENGINES)}")
    args.sizes = [s for s in SIZES if s in args.sizes]
    if args.only is not None:
        args.only = {tuple(p.strip().split(":", 1)) for p in args.only.split(",")}
    if args.browser_sizes is None:
        args.browser_sizes = sorted({args.sizes[0], args.sizes[-1]}, key=list(SIZES).index)
    else:
        args.browser_sizes = [s.strip() for s in args.browser_sizes.split(",") if s.strip()]
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_worker(size: str, engine: str, args: argparse.Namespace, explain: bool) -> dict[str, Any]:
    out = WORK / "results" / f"{size}-{engine}.json"
    command = [
        PYTHON,
        "-m",
        "benchmarks.worker",
        size,
        engine,
        "--repeat",
        str(args.repeat),
        "--out",
        str(out),
    ]
    if args.load_repeat:
        command += ["--load-repeat", str(args.load_repeat)]
    if explain:
        command.append("--explain")
    if args.only and out.exists():
        kept = out.with_suffix(".previous.json")
        kept.write_text(out.read_text())
        command += ["--previous", str(kept)]
    if args.no_browser or size not in args.browser_sizes:
        command.append("--no-browser")
    env = {**os.environ, "STREAMLIT_LOGGER_LEVEL": "error", "PYTHONPATH": str(ROOT)}
    log(f"{size} / {engine}: {' '.join(command[2:])}")
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        subprocess.run(command, cwd=ROOT, env=env, timeout=args.worker_timeout * 60, check=False)
    except subprocess.TimeoutExpired:
        log(f"{size} / {engine}: stopped after {args.worker_timeout:.0f} min")
        drop_leftover_databases()
    if out.exists():
        result = json.loads(out.read_text())
    else:
        result = {
            "size": size,
            "engine": engine,
            "error": "the worker wrote no result (timeout or crash)",
        }
    log(f"{size} / {engine}: done in {time.perf_counter() - start:.0f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    from benchmarks.loading import ensure_dataset
    from benchmarks.report import render

    args = parse(argv)
    started = time.perf_counter()
    dropped = drop_leftover_databases()
    if dropped:
        log(f"dropped {len(dropped)} database(s) left by an earlier run")
    meta: dict[str, Any] = {
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:])
        if argv is None
        else "python -m benchmarks.run " + " ".join(argv),
        "repeat": args.repeat,
        "machine": machine(),
        "datasets": {},
        "notes": [],
    }
    log(
        f"machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
        f"load average {meta['machine']['load_average']}"
    )
    previous: dict[str, Any] = {}
    if args.only or args.report_only:
        saved = WORK / "results" / "all.json"
        if saved.exists():
            previous = json.loads(saved.read_text())
    results = []
    for size in args.sizes:
        meta["datasets"][size] = ensure_dataset(SIZES[size], log=log)
        for engine in args.engines:
            part = WORK / "results" / f"{size}-{engine}.json"
            if args.report_only or (args.only and (size, engine) not in args.only):
                if part.exists():
                    results.append(json.loads(part.read_text()))
                continue
            explain = not args.no_explain and size == args.sizes[-1]
            results.append(run_worker(size, engine, args, explain))
    # The run's length: its parts (each a worker) plus generating data, so that a report
    # assembled from parts run at different times still says what the whole would take.
    meta["minutes"] = (
        sum(float(r.get("seconds", 0)) for r in results)
        + sum(d.get("generate_seconds", 0) for d in meta["datasets"].values() if not d["reused"])
    ) / 60
    meta["wall_minutes"] = (time.perf_counter() - started) / 60
    if previous and (args.only or args.report_only):
        # The report keeps the first run's command, machine and date; re-runs are noted.
        meta["machine"] = previous["meta"]["machine"]
        meta["command"] = previous["meta"]["command"]
        meta["notes"] = list(previous["meta"].get("notes", []))
        if args.only:
            rerun = ", ".join(f"{s} / {e}" for s, e in sorted(args.only))
            meta["notes"].append(
                f"Re-run separately on {machine()['date']} (load average "
                f"{machine()['load_average']}): {rerun}; those parts' loads are counted with "
                "the earlier ones."
            )
    write_json(WORK / "results" / "all.json", {"meta": meta, "results": results})
    args.out.write_text(render(meta, results))
    log(
        f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
        f"after {meta['minutes']:.1f} min"
    )
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
