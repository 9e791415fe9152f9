"""benchmarks/results.md from the workers' JSON results."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from benchmarks.common import SIZES, median
from benchmarks.pages import DATA_REPLAYS

TABLES = ("states", "programs", "members", "eligibility", "enrollments", "admissions", "services")
ENGINE_LABEL = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

DATA_COLD_TARGET_S = 0.150
GROWTH_TARGET = 2.0
FILTER_RATIO_TARGET = 1.3
LOAD_TARGET_S = {"sqlite": 300.0, "postgresql": 180.0}
MEMORY_TARGET_MB = 600.0
# (first visit, new session, page switch): at most this times the floor app's.
FIRST_VISIT_TARGET, NEW_SESSION_TARGET, PAGE_SWITCH_TARGET = 1.5, 1.3, 1.2
# journey: (clicks, seconds); the analyst's seconds are after the load.
JOURNEY_TARGETS = {"partner": (3, 5.0), "leadership": (4, 6.0), "analyst": (None, 5.0)}
# Where a cached rerun's time over the floor's goes (README findings 11 and 15).
FRONTEND_GAP = (
    "the same elements as the floor's; a cached rerun no longer rebuilds its figures or reads "
    "its shell more than once (warm AppTest page runs about halved, README finding 16), and "
    "what is left is spread over the page's cached reads, its tables and the browser's "
    "drawing (README findings 11, 15 and 16)"
)
LARGE_MEMBERS = SIZES["large"].members


def ms(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "–"
    return f"{seconds * 1000:,.0f}" if seconds >= 0.0995 else f"{seconds * 1000:.1f}"


def sec(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "–"
    return f"{seconds:,.1f}"


def rate(rows: int, seconds: float) -> str:
    if not seconds:
        return "–"
    return f"{rows / seconds:,.0f}"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _ok(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if "load" in r]


def _size_order(results: list[dict[str, Any]]) -> list[str]:
    present = {r["size"] for r in results}
    return [name for name in SIZES if name in present]


def _engines(results: list[dict[str, Any]]) -> list[str]:
    present = {r["engine"] for r in results}
    return [e for e in ("sqlite", "postgresql") if e in present]


def _phase_ends(phases: dict[str, float]) -> str:
    return ", ".join(f"{name} {sec(seconds)}" for name, seconds in phases.items())


def _phases(phases: dict[str, float] | None) -> str:
    """ "; s from the link at each phase's end: sign-in page drawn 1.9, ..." (older runs: "")."""
    if not phases:
        return ""
    return "; s from the link at each phase's end: " + _phase_ends(phases)


def _find(results: list[dict[str, Any]], size: str, engine: str) -> dict[str, Any] | None:
    for r in results:
        if r["size"] == size and r["engine"] == engine:
            return r
    return None


def _claims(result: dict[str, Any]) -> int:
    return int(result["load"]["runs"][0]["rows"].get("services", 0))


def _load_median(result: dict[str, Any]) -> float:
    return median([run["seconds"] for run in result["load"]["runs"]])


def _phase_median(result: dict[str, Any], phase: str) -> float:
    return median([run["phases"].get(phase, 0.0) for run in result["load"]["runs"]])


def _page_names(results: list[dict[str, Any]]) -> list[str]:
    for r in results:
        if "pages" in r:
            return list(r["pages"]["pages"])
    return []


def _variants(results: list[dict[str, Any]]) -> list[str]:
    for r in results:
        if "pages" in r:
            return list(r["pages"]["variants"])
    return []


def _page(result: dict[str, Any] | None, page: str, variant_index: int) -> dict[str, Any] | None:
    if not result or "pages" not in result:
        return None
    variants = result["pages"]["variants"]
    if variant_index >= len(variants):
        return None
    return result["pages"]["pages"].get(page, {}).get(variants[variant_index])


# The pages phase's filter variants (benchmarks/worker.py), in order: the first two are
# scopes the load stores, the third is a set of states it cannot (a new filter's reads).
VARIANT_LABELS = ("default filters", "one state, one model", "two states")
TWO_STATES = 2


def render(meta: dict[str, Any], results: list[dict[str, Any]]) -> str:
    ok = _ok(results)
    sizes = _size_order(ok)
    engines = _engines(ok)
    out: list[str] = ["# Scale benchmark results", ""]
    out += [
        f"Written by `{meta['command']}` on {meta['machine']['date']}; "
        f"{meta['repeat']} repeat(s) per measurement, every figure a median unless it says "
        f"otherwise; the whole run took {meta['minutes']:.0f} min. How to read each figure: "
        "benchmarks/README.md.",
        "",
    ]
    failed = [r for r in results if "error" in r]
    if failed:
        out += ["**Failed parts of this run:**", ""]
        for r in failed:
            last = r["error"].strip().splitlines()[-1]
            out.append(f"- {r['size']} / {r['engine']}: `{last}`")
        out.append("")
    for note in meta.get("notes", []):
        out += [f"> {note}", ""]

    # -- machine
    m = meta["machine"]
    out += ["## Machine", ""]
    out += table(
        ["", ""],
        [
            ("CPU", f"{m['cpu']} ({m['cores']} cores)"),
            ("Memory", f"{m['memory_gib']} GiB"),
            ("OS", m["os"]),
            ("Python", m["python"]),
            ("SQLite", m["sqlite"]),
            ("PostgreSQL", m["postgresql"]),
            (
                "Streamlit / Plotly / pandas / SQLAlchemy",
                f"{m['streamlit']} / {m['plotly']} / {m['pandas']} / {m['sqlalchemy']}",
            ),
            ("Chromium", m["chromium"]),
            ("Load average at start", m["load_average"]),
            ("Date", m["date"]),
        ],
    )
    out += [
        "The machine is shared: other work ran beside the benchmark, so single runs vary by 2x "
        "or more; compare medians, and ratios measured within the same run.",
        "",
    ]

    # -- datasets
    out += ["## Datasets", ""]
    rows = []
    for name in sizes:
        info = meta["datasets"].get(name, {})
        counts = info.get("rows", {})
        rows.append(
            [
                SIZES[name].label,
                *[
                    f"{counts.get(t, 0):,}"
                    for t in ("members", "eligibility", "enrollments", "admissions", "services")
                ],
                f"{info.get('bytes', 0) / 1e6:,.0f} MB",
                f"{info.get('generate_seconds', 0):,.0f} s",
            ]
        )
    out += table(
        [
            "size",
            "members",
            "eligibility",
            "enrollments",
            "admissions",
            "services (claims)",
            "gzip files",
            "generated in",
        ],
        rows,
    )

    # -- loads
    out += ["## Load: whole load, summaries included", ""]
    rows = []
    for name in sizes:
        for engine in engines:
            r = _find(ok, name, engine)
            if not r:
                continue
            runs = r["load"]["runs"]
            total = _load_median(r)
            summaries = _phase_median(r, "summaries")
            rows.append(
                [
                    SIZES[name].label,
                    ENGINE_LABEL[engine],
                    len(runs),
                    sec(total),
                    ", ".join(sec(run["seconds"]) for run in runs),
                    sec(summaries),
                    sec(_phase_median(r, "summaries: summaries")),
                    sec(_phase_median(r, "summaries: impact")),
                    f"{100 * summaries / total:.0f} %" if total else "–",
                    f"{r['load']['database_bytes'] / 1e6:,.0f} MB",
                ]
            )
    out += table(
        [
            "size",
            "engine",
            "loads",
            "median s",
            "each load s",
            "summaries s",
            "of which summary tables s",
            "of which impact build s",
            "summaries share",
            "database size",
        ],
        rows,
    )
    out += [
        "Per table: seconds of the table's phase (from the end of the previous phase to the "
        "loader's last progress call for the table: reading, checking, writing, the duplicate "
        "check and, into an empty table, the indexes and foreign keys created after the rows; "
        "into a table holding rows, on PostgreSQL, the INSERT from the COPY staging table) and "
        "rows per second.",
        "",
    ]
    rows = []
    for name in sizes:
        for engine in engines:
            r = _find(ok, name, engine)
            if not r:
                continue
            counts = r["load"]["runs"][0]["rows"]
            cells = []
            for t in TABLES:
                seconds = _phase_median(r, t)
                cells.append(f"{sec(seconds)} s · {rate(counts.get(t, 0), seconds)}/s")
            cells.append(sec(_phase_median(r, "summaries")) + " s")
            rows.append([SIZES[name].name, ENGINE_LABEL[engine], *cells])
    out += table(["size", "engine", *TABLES, "summaries"], rows)

    out += [
        "Slowest SQL statements of the load (seconds, first load; COPY and the SQLite "
        "executemany batches go round SQLAlchemy and are inside the table phases above):",
        "",
    ]
    rows = []
    for name in sizes:
        for engine in engines:
            r = _find(ok, name, engine)
            if not r:
                continue
            top = r["load"]["runs"][0]["statements"]
            shown = "; ".join(
                f"`{label}` {seconds:.1f}" for label, seconds in list(top.items())[:5]
            )
            rows.append([SIZES[name].name, ENGINE_LABEL[engine], shown])
    out += table(["size", "engine", "statements"], rows)

    steps = [(r, r["summary_steps"]) for r in ok if r.get("summary_steps")]
    if steps:
        out += ["### The summary statements, one by one", ""]
        out += [
            "Each statement's time inside the load (SQLAlchemy's cursor events), then "
            "`rebuild_summaries` re-run after the load in a transaction that is rolled back: on "
            "PostgreSQL every statement under EXPLAIN (ANALYZE, BUFFERS) (it runs, so its time "
            "is there too, with some overhead), on SQLite under EXPLAIN QUERY PLAN (not run). "
            "The plan of the slowest statement follows each table; all plans are in "
            "benchmarks/work/results/*.json.",
            "",
        ]
        for r, s in steps:
            load_times = r["load"]["runs"][0]["statements"]
            out += [f"**{SIZES[r['size']].label}, {ENGINE_LABEL[r['engine']]}**", ""]
            shown = []
            for step in s:
                seconds = step.get("seconds")
                in_load = load_times.get(step["label"])
                if (seconds or 0) >= 0.01 or (in_load or 0) >= 0.01:
                    shown.append(
                        (
                            f"`{step['label']}`",
                            sec(in_load) if in_load is not None else "–",
                            f"{seconds:.2f}" if seconds is not None else "not run",
                        )
                    )
            out += table(
                ["statement", "seconds in the load", "seconds re-run under EXPLAIN"], shown
            )
            slowest = max(
                s, key=lambda step: load_times.get(step["label"], step.get("seconds") or 0)
            )
            if slowest.get("plan"):
                out += [
                    f"<details><summary>Plan of `{slowest['label']}`</summary>",
                    "",
                    "```",
                    *slowest["plan"][:200],
                    "```",
                    "</details>",
                    "",
                ]

    # -- page data
    pages = _page_names(ok)
    variants = _variants(ok)
    columns = [(s, e) for s in sizes for e in engines]
    for title, key, note in (
        (
            "Page data, cold",
            "data_cold",
            "All the dashboard data calls of one page run (the app shell's status, states, "
            "programs and month range included) with st.cache_data cleared and the engine "
            "disposed, so the first query opens a new connection. Milliseconds, median of "
            f"{DATA_REPLAYS} replays (or of the repeat count, if more).",
        ),
        (
            "Page data, warm",
            "data_warm",
            "The same calls through the dashboard's st.cache_data wrappers, second call "
            "(a cache hit: unpickling the cached frame). Milliseconds, as many replays.",
        ),
        (
            "Full page run in AppTest, cold",
            "apptest_cold",
            "`AppTest.from_file('dashboard/app.py')`, `switch_page`, then `run()` with "
            "st.cache_data cleared: the whole script (shell, sidebar, page, figures, protobuf) "
            "without a browser. Milliseconds.",
        ),
        (
            "Full page run in AppTest, warm",
            "apptest_warm",
            "The same run again with the caches filled. Milliseconds.",
        ),
    ):
        out += [f"## {title}", "", note, ""]
        rows = []
        for page in pages:
            for vi, _variant in enumerate(variants):
                cells = []
                for size, engine in columns:
                    p = _page(_find(ok, size, engine), page, vi)
                    cells.append(ms(median(p[key])) if p else "–")
                growth = []
                for engine in engines:
                    first = _page(_find(ok, sizes[0], engine), page, vi)
                    last = _page(_find(ok, sizes[-1], engine), page, vi)
                    if first and last and len(sizes) > 1:
                        growth.append(f"{median(last[key]) / median(first[key]):.1f}x")
                    else:
                        growth.append("–")
                rows.append([page, VARIANT_LABELS[vi], *cells, *growth])
        header = [
            "page",
            "filters",
            *[f"{SIZES[s].name} {ENGINE_LABEL[e]}" for s, e in columns],
            *[f"growth {ENGINE_LABEL[e]}" for e in engines],
        ]
        out += table(header, rows)

    # slowest calls at the largest size
    out += ["### Slowest data calls at the largest size (cold, ms)", ""]
    rows = []
    for engine in engines:
        r = _find(ok, sizes[-1], engine) if sizes else None
        if not r or "pages" not in r:
            continue
        seen: dict[str, float] = {}
        for page in pages:
            for vi in range(len(variants)):
                p = _page(r, page, vi)
                if p:
                    for label, seconds in p["data_cold_by_call"].items():
                        seen[label] = max(seen.get(label, 0.0), seconds)
        for label, seconds in sorted(seen.items(), key=lambda kv: -kv[1])[:8]:
            rows.append([ENGINE_LABEL[engine], f"`{label}`", ms(seconds)])
    out += table(["engine", "call", "cold ms"], rows)

    # -- baseline
    out += [
        "## Raw-table baseline",
        "",
        "Monthly admissions and paid by state and program model, computed directly from "
        "admissions and services joined to members, with each row's group found by a "
        "correlated lookup of the contract's enrollment rule; against `outcome_summary(period="
        "'month', by=('state_code', 'program_model'))` over monthly_summary, the read the "
        "pages and the monthly export make. Both cold (new engine). `agree`: both give the "
        "same admissions and paid, group by group.",
        "",
    ]
    rows = []
    for size in sizes:
        for engine in engines:
            r = _find(ok, size, engine)
            if not r or "baseline" not in r:
                continue
            for vi, (_label, b) in enumerate(r["baseline"].items()):
                raw, summary = median(b["raw"]), median(b["summary"])
                rows.append(
                    [
                        SIZES[size].name,
                        ENGINE_LABEL[engine],
                        VARIANT_LABELS[vi],
                        sec(raw) + " s",
                        ms(summary) + " ms",
                        f"{raw / summary:,.0f}x" if summary else "–",
                        "yes" if b["agree"] else "**no**",
                    ]
                )
    out += table(
        ["size", "engine", "filters", "raw tables", "summary", "summary faster by", "agree"], rows
    )

    # -- browser
    out += [
        "## Filter change in the browser",
        "",
        "Headless Chromium against `streamlit run dashboard/serve.py` on the benchmark database: "
        "from the key press that adds a state in the sidebar's States multiselect to the end "
        "of the rerun with every chart drawn again (see README). `new filter`: a state never "
        "selected before on this server (cache miss); `back`: removing it again (cache hit); "
        "`floor` and `floor back`: the same page drawn from constant data by "
        "benchmarks/floor_app.py, the same two interactions, in the same minute; each is "
        "divided by the floor's own. Milliseconds; `script` is the part until the script "
        "finished.",
        "",
    ]
    rows = []
    for size in sizes:
        for engine in engines:
            r = _find(ok, size, engine)
            if not r or "browser" not in r:
                continue
            for page, b in r["browser"]["pages"].items():
                new = median([x["seconds"] for x in b["uncached"]])
                script = median([x["script_seconds"] for x in b["uncached"]])
                back = median([x["seconds"] for x in b["cached"]])
                floor = median([x["seconds"] for x in b["floor"]])
                floor_back = median([x["seconds"] for x in b.get("floor_remove", [])])
                rows.append(
                    [
                        SIZES[size].name,
                        ENGINE_LABEL[engine],
                        page,
                        len(b["uncached"]),
                        ms(new),
                        ms(script),
                        ms(floor),
                        _ratio(new, floor),
                        ms(back),
                        ms(floor_back),
                        _ratio(back, floor_back),
                    ]
                )
    out += table(
        [
            "size",
            "engine",
            "page",
            "changes",
            "new filter",
            "script",
            "floor",
            "new / floor",
            "back",
            "floor back",
            "back / floor back",
        ],
        rows,
    )
    errors = [e for r in ok for e in r.get("browser", {}).get("errors", [])]
    if errors:
        out += ["Browser page errors: " + "; ".join(sorted(set(errors))[:5]), ""]

    out += _cold_and_switch_sections(ok, sizes, engines)
    out += _journey_section(ok, sizes, engines)

    # -- memory
    out += [
        "## App memory",
        "",
        "Resident memory of the `streamlit run` server process tree during the browser run "
        "(every page, every filter change): the peak of a 0.1 s sampling of VmRSS, and the "
        "kernel's VmHWM high-water mark at the end.",
        "",
    ]
    rows = []
    for size in sizes:
        for engine in engines:
            r = _find(ok, size, engine)
            if not r or "browser" not in r:
                continue
            b = r["browser"]
            rows.append(
                [
                    SIZES[size].name,
                    ENGINE_LABEL[engine],
                    f"{b['peak_rss_kb'] / 1024:,.0f} MB",
                    f"{b['hwm_kb'] / 1024:,.0f} MB",
                ]
            )
    out += table(["size", "engine", "peak RSS (sampled)", "VmHWM"], rows)

    # -- payloads
    out += [
        "## Chart payloads",
        "",
        "Every Plotly figure the pages sent in AppTest (`json.loads(el.proto.spec)`), at the "
        "largest size: limits 2,000 points per trace and 500 KB per figure.",
        "",
    ]
    rows = []
    largest = [r for r in ok if r["size"] == sizes[-1] and "pages" in r] if sizes else []
    for r in largest[:1]:
        for page in pages:
            for vi in range(len(variants)):
                p = _page(r, page, vi)
                if not p or not p["figures"]:
                    continue
                figs = p["figures"]
                rows.append(
                    [
                        page,
                        VARIANT_LABELS[vi],
                        len(figs),
                        sum(f["traces"] for f in figs),
                        max(f["max_trace_points"] for f in figs),
                        f"{max(f['bytes'] for f in figs) / 1024:,.0f} KB",
                        "ok" if all(f["ok"] for f in figs) else "**over**",
                    ]
                )
        for label, v in r["pages"].get("payload_variants", {}).items():
            figs = v["figures"]
            if figs:
                rows.append(
                    [
                        label,
                        "default filters",
                        len(figs),
                        sum(f["traces"] for f in figs),
                        max(f["max_trace_points"] for f in figs),
                        f"{max(f['bytes'] for f in figs) / 1024:,.0f} KB",
                        "ok" if all(f["ok"] for f in figs) else "**over**",
                    ]
                )
    out += table(
        [
            "page",
            "filters",
            "figures",
            "traces",
            "most points in a trace",
            "largest figure",
            "limits",
        ],
        rows,
    )
    problems = sorted(
        {
            f"{page}: {text}"
            for r in ok
            for page in pages
            for vi in range(len(variants))
            if (p := _page(r, page, vi))
            for text in p["problems"]
        }
    )
    if problems:
        out += ["**Exceptions or errors shown by pages in AppTest:**", ""]
        out += [f"- {p}" for p in problems[:20]] + [""]

    out += targets(meta, ok, sizes, engines, pages, variants)
    return "\n".join(out) + "\n"


def _growing_calls(
    first: dict[str, Any] | None, last: dict[str, Any], pages: list[str], n_variants: int
) -> str:
    """The data calls whose cold time grew most from the first size to the last."""

    def per_call(result: dict[str, Any] | None) -> dict[str, float]:
        times: dict[str, float] = {}
        for page in pages:
            for vi in range(n_variants):
                p = _page(result, page, vi)
                if p:
                    for label, seconds in p["data_cold_by_call"].items():
                        name = label.split("(")[0]
                        times[name] = max(times.get(name, 0.0), seconds)
        return times

    before, after = per_call(first), per_call(last)
    grown = sorted(((after[n] - before.get(n, 0.0), n) for n in after), reverse=True)[:3]
    return ", ".join(f"`{n}` +{ms(d)} ms" for d, n in grown if d > 0) or "none"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b == b and b and a == a else "–"


def _cold_and_switch_sections(
    ok: list[dict[str, Any]], sizes: list[str], engines: list[str]
) -> list[str]:
    out = [
        "## First visit, new session, page switch",
        "",
        "From opening a link in a new browser context (no cache, no cookie, a new Streamlit "
        "session) to the Overview painted (connected, script done, nothing stale, every chart "
        "drawn), counted by the page from its navigation start. *First visit*: the first "
        "request after `streamlit run` started (both servers started afresh each round, "
        "each importing its modules before it answers: dashboard/serve.py, "
        "benchmarks/floor_serve.py). "
        "*New session*: a further tab on the running server whose link asks for three states "
        "together, a filter no session asked for before. *Page switch*: a click in the "
        "navigation to a page already visited with the same filters (a warm cache), to the "
        "page drawn; the two apps' tabs take turns, page by page. Floor: "
        "benchmarks/floor_app.py, same action, same minutes. Medians, "
        "milliseconds. Targets: first visit ≤ 1.5x, new session ≤ 1.3x, page switch ≤ 1.2x "
        "the floor.",
        "",
    ]
    rows = []
    for size in sizes:
        for engine in engines:
            r = _find(ok, size, engine)
            c = r.get("cold_starts") if r else None
            if not c:
                continue
            for label, key, target in (
                ("first visit", "first_visit", 1.5),
                ("new session, new filter", "new_session", 1.3),
            ):
                real, floor = median(c[key]), median(c[f"{key}_floor"])
                rows.append(
                    [
                        SIZES[size].name,
                        ENGINE_LABEL[engine],
                        label,
                        len(c[key]),
                        ms(real),
                        ms(floor),
                        _ratio(real, floor),
                        f"≤ {target}x",
                    ]
                )
    for size in sizes:
        for engine in engines:
            r = _find(ok, size, engine)
            sw = (r or {}).get("browser", {}).get("page_switch")
            if not sw:
                continue
            for title, runs in sw["real"].items():
                real = median([x["seconds"] for x in runs])
                floor = median([x["seconds"] for x in sw["floor"].get(title, [])])
                rows.append(
                    [
                        SIZES[size].name,
                        ENGINE_LABEL[engine],
                        f"page switch to {title}",
                        len(runs),
                        ms(real),
                        ms(floor),
                        _ratio(real, floor),
                        "≤ 1.2x",
                    ]
                )
    out += table(["size", "engine", "action", "n", "real", "floor", "real / floor", "target"], rows)
    errors = [e for r in ok for e in r.get("cold_starts", {}).get("errors", [])]
    if errors:
        out += ["Errors: " + "; ".join(sorted(set(errors))[:5]), ""]
    return out


def _journey_section(ok: list[dict[str, Any]], sizes: list[str], engines: list[str]) -> list[str]:
    out = [
        "## User journeys",
        "",
        "Headless Chromium, each from a cold link (a new browser context), clicks counted "
        "(typing is not a click; the mock provider's Authorize button is). 1: the TX partner "
        "opens a shared link to Program outcomes for TX, signs in through the mock OpenID "
        "provider and downloads the table (≤ 3 clicks, ≤ 5 s). 2: leadership (signed in "
        "before, in the same browser) finds the state whose hot-spotting average length of "
        "stay rose most in the last complete year, by the shortest path the pages offer "
        "(≤ 4 clicks, ≤ 6 s). 3: with the Overview open, a newer admissions extract is "
        "loaded (the load into a database holding the extract less every 10th admission); "
        "seconds after the load until the open page shows the new figures (≤ 5 s).",
        "",
    ]
    rows = []
    for size in sizes:
        for engine in engines:
            r = _find(ok, size, engine)
            j = (r or {}).get("journeys")
            if not j:
                continue
            name = SIZES[size].name
            for key, journey, target, about in (
                ("partner", "1 partner: shared link → download", "≤ 3 clicks, ≤ 5 s", None),
                (
                    "partner_floor",
                    "1 partner, on the floor app",
                    "",
                    "the same journey, sign-in included, on benchmarks/floor_app.py (the "
                    "pages drawn from constants)",
                ),
            ):
                p = j.get(key)
                if not p:
                    continue
                where = about or (
                    f"landed on {p['landed_on']}; signed in after {sec(p['signed_in_seconds'])} s"
                )
                rows.append(
                    [
                        name,
                        ENGINE_LABEL[engine],
                        journey,
                        p["clicks"],
                        sec(p["seconds"]),
                        target,
                        f"{where}; steps: {', '.join(p['steps'])}" + _phases(p.get("phases")),
                    ]
                )
            if "leadership" in j:
                lead = j["leadership"]
                top = lead.get("top_rises") or []
                answer = ", ".join(f"{n} {v}" for n, v in top) if top else "no answer in the table"
                rows.append(
                    [
                        name,
                        ENGINE_LABEL[engine],
                        "2 leadership: largest ALOS rise",
                        lead["clicks"],
                        sec(lead["seconds"]),
                        "≤ 4 clicks, ≤ 6 s",
                        f"{lead['last_complete_year']} vs the year before: {answer}; "
                        f"steps: {', '.join(lead['steps'])}" + _phases(lead.get("phases")),
                    ]
                )
            floor = j.get("leadership_floor")
            if floor:
                rows.append(
                    [
                        name,
                        ENGINE_LABEL[engine],
                        "2 leadership, on the floor app",
                        floor["clicks"],
                        sec(floor["seconds"]),
                        "",
                        "the same journey on benchmarks/floor_app.py (the pages drawn from "
                        f"constants); steps: {', '.join(floor['steps'])}"
                        + _phases(floor.get("phases")),
                    ]
                )
            if "analyst" in j:
                a = j["analyst"]
                rows.append(
                    [
                        name,
                        ENGINE_LABEL[engine],
                        "3 analyst: newer extract shown",
                        a["clicks"],
                        f"load {sec(a['load_seconds'])} + {sec(a['shown_after_load_seconds'])}",
                        "load + ≤ 5 s",
                        "clicks on the Overview link from the end of the load, one a second, "
                        f"until the tiles changed: {a['clicks']} (left alone, the open page "
                        "reruns by itself within about 5 s)",
                    ]
                )
            for e in j.get("errors", []):
                rows.append([name, ENGINE_LABEL[engine], "error", "–", "–", "", e[:200]])
    out += table(["size", "engine", "journey", "clicks", "seconds", "target", "notes"], rows)
    return out


def _status(measured: float, target: float, unit: str = "x") -> str:
    if measured <= target:
        return "met"
    return f"**missed** by {measured - target:.2f}{unit}"


def browser_target_rows(
    ok: list[dict[str, Any]], largest: str | None, engines: list[str]
) -> list[list[str]]:
    """The Targets rows of the browser's first visit, new session, page switch and journeys,
    at the largest size, each engine."""
    rows: list[list[str]] = []
    for engine in engines:
        r = (_find(ok, largest, engine) if largest else None) or {}
        label = ENGINE_LABEL[engine]
        starts = r.get("cold_starts") or {}
        for name, key, target in (
            ("First visit", "first_visit", FIRST_VISIT_TARGET),
            ("New session, new filter", "new_session", NEW_SESSION_TARGET),
        ):
            if starts.get(key) and starts.get(f"{key}_floor"):
                ratio = median(starts[key]) / median(starts[f"{key}_floor"])
                rows.append(
                    [
                        f"{name} ≤ {target}x floor, {label}",
                        f"{ratio:.2f}x ({ms(median(starts[key]))} ms vs floor "
                        f"{ms(median(starts[f'{key}_floor']))} ms)",
                        _status(ratio, target),
                        "" if ratio <= target else "README finding 11",
                    ]
                )
        switch: dict[str, Any] = (r.get("browser") or {}).get("page_switch") or {}
        floors: dict[str, Any] = switch.get("floor", {})
        ratios = {
            title: median([x["seconds"] for x in runs])
            / median([x["seconds"] for x in floors[title]])
            for title, runs in switch.get("real", {}).items()
            if runs and floors.get(title)
        }
        if ratios:
            title, worst = max(ratios.items(), key=lambda kv: kv[1])
            missed = sum(ratio > PAGE_SWITCH_TARGET for ratio in ratios.values())
            rows.append(
                [
                    f"Page switch, warm, ≤ {PAGE_SWITCH_TARGET}x floor, {label}",
                    f"worst {worst:.2f}x: {title}; over the target on {missed} of {len(ratios)}",
                    _status(worst, PAGE_SWITCH_TARGET),
                    "" if worst <= PAGE_SWITCH_TARGET else FRONTEND_GAP,
                ]
            )
        rows += _journey_rows(r.get("journeys") or {}, label)
    return rows


def _floor_journey(floor: dict[str, Any] | None, target: float) -> str:
    """What the floor app's same journey (no database, the same sign-in) says of the target:
    "" when it was not measured."""
    if not floor:
        return ""
    verdict = (
        "over the target without any of the dashboard's work"
        if floor["seconds"] > target
        else "within the target"
    )
    phases = floor.get("phases")
    return f"; the floor app's same journey: {sec(floor['seconds'])} s, {verdict}" + (
        f" ({_phase_ends(phases)})" if phases else ""
    )


# Where a journey's time goes, and the finding that profiles it.
JOURNEY_TIME = {
    "partner": (
        "two Streamlit page loads (the sign-in page and the signed-in one, each about the "
        "floor's first visit) and the OpenID round trip",
        12,
    ),
    "leadership": (
        "a cold link's Streamlit page load (about the floor's first visit), then a page "
        "switch and two reruns",
        22,
    ),
}


def _journey_rows(journeys: dict[str, Any], label: str) -> list[list[str]]:
    rows: list[list[str]] = []
    for key, name in (("partner", "1, partner"), ("leadership", "2, leadership")):
        j = journeys.get(key)
        if not j:
            continue
        clicks, seconds = JOURNEY_TARGETS[key]
        met = j["clicks"] <= (clicks or 0) and j["seconds"] <= seconds
        why = ""
        if not met:
            where_it_goes, finding = JOURNEY_TIME[key]
            why = (
                where_it_goes
                + _phases(j.get("phases"))
                + _floor_journey(journeys.get(f"{key}_floor"), seconds)
                + f"; README finding {finding}"
            )
        rows.append(
            [
                f"Journey {name}: ≤ {clicks} clicks, ≤ {seconds:.0f} s, {label}",
                f"{j['clicks']} clicks, {sec(j['seconds'])} s",
                "met" if met else f"**missed** by {sec(j['seconds'] - seconds)} s",
                why,
            ]
        )
    analyst = journeys.get("analyst")
    if analyst:
        after = analyst["shown_after_load_seconds"]
        target = JOURNEY_TARGETS["analyst"][1]
        rows.append(
            [
                f"Journey 3, analyst: load + ≤ {target:.0f} s, {label}",
                f"load {sec(analyst['load_seconds'])} s + {sec(after)} s",
                _status(after, target, " s"),
                "",
            ]
        )
    return rows


def targets(
    meta: dict[str, Any],
    ok: list[dict[str, Any]],
    sizes: list[str],
    engines: list[str],
    pages: list[str],
    variants: list[str],
) -> list[str]:
    out = ["## Targets", ""]
    largest = sizes[-1] if sizes else None
    at_10m = largest == "large"
    if not at_10m:
        out += [
            f"> This run's largest size is {largest}: the targets are stated for 10M claims "
            "(the large size), so below they are judged at the largest size measured, and "
            "only a run with `--sizes ...,large` settles them.",
            "",
        ]
    rows = []

    # page data cold
    for engine in engines:
        r = _find(ok, largest, engine) if largest else None
        if not r or "pages" not in r:
            continue
        worst_page, worst, worst_variant = "", 0.0, 0
        worst_call = ("", 0.0)
        for page in pages:
            for vi in range(len(variants)):
                p = _page(r, page, vi)
                if p and median(p["data_cold"]) > worst:
                    worst_page, worst = f"{page} ({VARIANT_LABELS[vi]})", median(p["data_cold"])
                    worst_variant = vi
                    worst_call = max(p["data_cold_by_call"].items(), key=lambda kv: kv[1])
        met = worst <= DATA_COLD_TARGET_S
        rows.append(
            [
                f"Page data cold ≤ 150 ms, {ENGINE_LABEL[engine]}",
                f"worst {ms(worst)} ms: {worst_page}",
                "met" if met else f"**missed** by {ms(worst - DATA_COLD_TARGET_S)} ms",
                ""
                if met
                else f"slowest call `{worst_call[0]}` {ms(worst_call[1])} ms"
                + (
                    " (a set of states no load stores: the matched comparison's effects and "
                    "balance are computed from the member-level rows of those states)"
                    if worst_variant == TWO_STATES
                    else ""
                )
                + "; README findings 2 and 3",
            ]
        )
        if len(sizes) > 1:
            first = _find(ok, sizes[0], engine)
            worst_growth, worst_growth_page = 0.0, ""
            for page in pages:
                for vi in range(len(variants)):
                    a, b = _page(first, page, vi), _page(r, page, vi)
                    if a and b:
                        g = median(b["data_cold"]) / median(a["data_cold"])
                        if g > worst_growth:
                            worst_growth, worst_growth_page = (
                                g,
                                f"{page} ({VARIANT_LABELS[vi]})",
                            )
            met = worst_growth <= GROWTH_TARGET
            grown = _growing_calls(first, r, pages, len(variants))
            rows.append(
                [
                    f"Page data growth ≤ 2x {sizes[0]} → {largest}, {ENGINE_LABEL[engine]}",
                    f"worst {worst_growth:.1f}x: {worst_growth_page}",
                    "met" if met else f"**missed** by {worst_growth - GROWTH_TARGET:.1f}x",
                    "" if met else f"the calls that grew most: {grown}; README finding 2",
                ]
            )

    # filter change
    for engine in engines:
        r = _find(ok, largest, engine) if largest else None
        if not r or "browser" not in r:
            continue
        worst, worst_page, detail = 0.0, "", ""
        for page, b in r["browser"]["pages"].items():
            new = median([x["seconds"] for x in b["uncached"]])
            floor = median([x["seconds"] for x in b["floor"]])
            if floor == floor and floor and new / floor > worst:
                worst, worst_page = new / floor, page
                script = median([x["script_seconds"] for x in b["uncached"]])
                back = median([x["seconds"] for x in b["cached"]])
                detail = (
                    f"{ms(new)} ms vs floor {ms(floor)} ms; script part {ms(script)} ms; "
                    f"{ms(new - back)} ms more than its change back"
                )
                two = _page(r, page, TWO_STATES)
                if two:
                    detail += f", its data for two states {ms(median(two['data_cold']))} ms cold"
        met = worst <= FILTER_RATIO_TARGET
        backs = [
            median([x["seconds"] for x in b["cached"]])
            / median([x["seconds"] for x in b["floor_remove"]])
            for b in r["browser"]["pages"].values()
            if b["cached"] and b.get("floor_remove")
        ]
        rows.append(
            [
                f"Filter change ≤ 1.3x floor, {ENGINE_LABEL[engine]}",
                f"worst {worst:.2f}x: {worst_page} ({detail})",
                "met" if met else f"**missed** by {worst - FILTER_RATIO_TARGET:.2f}x",
                ""
                if met
                else "a new filter pays the page's cold reads (Page data, cold) over the cached "
                f"gap; from the cache still up to {max(backs, default=0):.2f}x the floor's "
                "own change back: " + FRONTEND_GAP,
            ]
        )
    rows += browser_target_rows(ok, largest, engines)

    # load
    for engine in engines:
        r = _find(ok, largest, engine) if largest else None
        if not r:
            continue
        total = _load_median(r)
        target = LOAD_TARGET_S[engine]
        claims = _claims(r)
        scale = 10_000_000 / claims if claims else 1
        phases = {k: _phase_median(r, k) for k in r["load"]["runs"][0]["phases"]}
        top = sorted(phases.items(), key=lambda kv: -kv[1])[:2]
        hint = ", ".join(f"{k} {sec(v)} s" for k, v in top)
        if at_10m:
            met = total <= target
            rows.append(
                [
                    f"Load 10M claims ≤ {target / 60:.0f} min, {ENGINE_LABEL[engine]}",
                    f"{sec(total)} s ({claims:,} claims)",
                    "met" if met else f"**missed** by {sec(total - target)} s",
                    f"largest phases: {hint}; README finding 1",
                ]
            )
        else:
            rows.append(
                [
                    f"Load 10M claims ≤ {target / 60:.0f} min, {ENGINE_LABEL[engine]}",
                    f"{sec(total)} s for {claims:,} claims; "
                    f"linear extrapolation {sec(total * scale)} s",
                    "not measured at 10M",
                    f"largest phases: {hint}",
                ]
            )

    # memory
    peaks = [
        (r["browser"]["peak_rss_kb"] / 1024, r)
        for r in ok
        if r["size"] == largest and "browser" in r
    ]
    if peaks:
        peak, r = max(peaks, key=lambda x: x[0])
        met = peak <= MEMORY_TARGET_MB
        rows.append(
            [
                "App memory ≤ 600 MB",
                f"{peak:,.0f} MB ({ENGINE_LABEL[r['engine']]}, {r['size']})",
                "met" if met else f"**missed** by {peak - MEMORY_TARGET_MB:,.0f} MB",
                "",
            ]
        )

    # payloads
    over = [
        f"{page}"
        for r in ok
        for page in pages
        for vi in range(len(variants))
        if (p := _page(r, page, vi)) and not all(f["ok"] for f in p["figures"])
    ]
    rows.append(
        [
            "Chart payloads: ≤ 2,000 points per trace, ≤ 500 KB per figure",
            "every figure of every page and size" if not over else ", ".join(sorted(set(over))),
            "met" if not over else "**missed**",
            "",
        ]
    )
    out += table(["target", "measured", "status", "what would close it"], rows)
    if meta.get("closing_notes"):
        out += meta["closing_notes"]
    out += [
        "The diagnoses behind the missed targets (statements, plans and proposed fixes) are in "
        "benchmarks/README.md, section *Findings*.",
        "",
    ]
    return out
