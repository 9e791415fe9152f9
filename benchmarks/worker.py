"""One size on one engine, in its own process: load, pages, baselines, browser, memory.

Run by benchmarks/run.py as `python -m benchmarks.worker SIZE ENGINE --repeat N --out FILE`;
each worker creates its own fresh database and drops it at the end, and writes one JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (
    FLOOR_SCRIPT,
    SIZES,
    WORK,
    MemorySampler,
    dataset_dir,
    drop_database,
    median,
    new_database,
    tree_hwm_kb,
    write_json,
)

LOG_PREFIX = "  "
# Timed rounds of the page switches: medians of three swung a page's ratio by 0.3x from one
# run to the next.
PAGE_SWITCH_ROUNDS = 5
# States each page adds and removes again (a new filter and its change back), as many as
# the states allow.
FILTER_CHANGES = 5


def log(message: str) -> None:
    print(f"{LOG_PREFIX}[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def quiet_streamlit() -> None:
    """AppTest outside a server logs a line per cached call; keep the run's output readable."""
    import streamlit.logger

    streamlit.logger.set_log_level("error")


def configure(url: str) -> None:
    """Point the settings (and so dashboard/data.py) at the benchmark database."""
    from data_access.settings import get_settings

    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()


def pick_filters(url: str) -> dict[str, Any]:
    """States in order, and the (state, model) with the most programs for the filter variant."""
    from data_access import db, queries
    from data_access.access import LOCAL_VIEWER

    engine = db.get_engine(url)
    states = list(queries.list_states(viewer=LOCAL_VIEWER, engine=engine)["state_code"])
    programs = queries.list_programs(viewer=LOCAL_VIEWER, engine=engine)
    counts = programs.groupby(["state_code", "program_model"]).size().reset_index(name="n")
    counts = counts.sort_values(["n", "state_code", "program_model"], ascending=[False, True, True])
    state, model = (
        (str(counts.iloc[0]["state_code"]), str(counts.iloc[0]["program_model"]))
        if not counts.empty
        else (states[0], "whole_health")
    )
    db.dispose_engines()
    return {"states": states, "state": state, "model": model}


def load_phase(size_name: str, engine_name: str, repeats: int) -> tuple[str, dict[str, Any]]:
    from benchmarks.loading import database_bytes, load_once

    directory = dataset_dir(SIZES[size_name])
    runs = []
    url = ""
    for i in range(repeats):
        if url:
            drop_database(url)
        url = new_database(engine_name, f"{size_name}_{engine_name[:2]}")
        log(f"load {i + 1}/{repeats} into {engine_name} ...")
        result = load_once(url, directory)
        summaries = result["phases"].get("summaries", 0)
        log(f"  loaded in {result['seconds']:.1f} s (summaries {summaries:.1f} s)")
        runs.append(result)
    return url, {"runs": runs, "database_bytes": database_bytes(url)}


def pages_phase(url: str, picks: dict[str, Any], repeats: int) -> dict[str, Any]:
    from benchmarks import pages

    configure(url)
    quiet_streamlit()
    # The defaults and one state's model are stored by the load (impact_store); two states
    # are what the browser's filter change asks for, computed at query time.
    two_states = picks["states"][:2]
    variants = {
        "all": {},
        f"{picks['state']} + {picks['model']}": {
            "state": [picks["state"]],
            "model": [picks["model"]],
        },
        " + ".join(two_states): {"state": two_states},
    }
    out: dict[str, Any] = {"variants": list(variants), "pages": {}, "payload_variants": {}}
    skeleton_query = {"state": two_states}
    skeletons: dict[str, Any] = {}
    for page in pages.present_pages():
        out["pages"][page.name] = {}
        for label, query in variants.items():
            log(f"page {page.name} [{label}] ...")
            out["pages"][page.name][label] = pages.measure_page(page, query, repeats, False)
        # The page as the browser sees it after its first filter change (two states): the
        # floor app draws exactly this.
        at = pages.new_session(skeleton_query)
        at.switch_page(f"../pages/{page.file}")
        at.run()
        skeletons[page.name] = {"url_path": page.url_path, **pages.skeleton(at)}
    for page_file, label, widgets in pages.payload_variants():
        if (pages.ROOT / "pages" / page_file).exists():
            out["payload_variants"][f"{page_file}: {label}"] = pages.measure_payload_variant(
                page_file, {}, widgets
            )
    out["skeletons_file"] = str(WORK / "skeletons" / f"{Path(url).name}.json")
    pages.save_skeletons(Path(out["skeletons_file"]), skeletons)
    return out


def baseline_phase(url: str, picks: dict[str, Any], repeats: int) -> dict[str, Any]:
    from benchmarks import baseline
    from data_access.filters import OutcomeFilter

    variants = {
        "all": OutcomeFilter(),
        f"{picks['state']} + {picks['model']}": OutcomeFilter(
            states=(picks["state"],), program_models=(picks["model"],)
        ),
    }
    out = {}
    for label, filters in variants.items():
        log(f"raw-table baseline [{label}] ...")
        raw_times, summary_times = [], []
        agree = True
        for _ in range(repeats):
            seconds, raw = baseline.run_raw(url, filters)
            raw_times.append(seconds)
            seconds, summary = baseline.run_summary(url, filters)
            summary_times.append(seconds)
            agree = agree and baseline.agree(raw, summary)
        out[label] = {"raw": raw_times, "summary": summary_times, "agree": agree}
    return out


def browser_phase(url: str, picks: dict[str, Any], repeats: int, skeletons: str) -> dict[str, Any]:
    from benchmarks import browser, pages
    from tests.browser_helpers import DASHBOARD_SCRIPT

    states = picks["states"]
    labels = _state_labels(url)
    out: dict[str, Any] = {"pages": {}, "errors": []}
    env = {"DATABASE_URL": url}
    work = WORK / "logs"
    with (
        browser.streamlit_server(DASHBOARD_SCRIPT, env=env, log=work / "app.log") as (
            proc,
            port,
        ),
        browser.streamlit_server(
            FLOOR_SCRIPT, env={}, args=[skeletons], log=work / "floor.log"
        ) as (_floor_proc, floor_port),
        browser.chromium() as chrome,
        MemorySampler(proc.pid) as memory,
    ):
        # Each page starts from its own state and adds states no other page adds to it, so a
        # filter change is never served from the cache another page filled.
        per_page = max(1, min(FILTER_CHANGES, (len(states) - 1) // 2))
        for index, page in enumerate(pages.filtered_pages()):
            base = states[index % len(states)]
            added = [states[(index + k) % len(states)] for k in range(1, per_page + 1)]
            log(f"browser {page.name}: start {base}, add {', '.join(added)} ...")
            real = browser.Session(chrome, f"http://127.0.0.1:{port}", page.url_path, base)
            floor = browser.Session(
                chrome, f"http://127.0.0.1:{floor_port}", page.url_path, base, floor=True
            )
            result: dict[str, list[Any]] = {
                "uncached": [],
                "cached": [],
                "floor": [],
                "floor_remove": [],
            }
            try:
                for state in added:
                    for key, session, action in (
                        ("uncached", real, "add"),
                        ("floor", floor, "add"),
                        ("cached", real, "remove"),
                        ("floor_remove", floor, "remove"),
                    ):
                        try:
                            if action == "add":
                                result[key].append(session.add_state(labels[state]))
                            else:
                                result[key].append(session.remove_last_state())
                        except Exception as exc:  # one lost measurement, not the whole part
                            out["errors"].append(f"{page.name} {key} {state}: {exc}"[:300])
                            log(f"  {page.name} {key} {state} failed: {str(exc)[:200]}")
            finally:
                out["errors"] += [f"{page.name}: {e}" for e in real.errors + floor.errors]
                real.close()
                floor.close()
            out["pages"][page.name] = result
        out["page_switch"] = page_switches(
            chrome, port, floor_port, states[0], out["errors"], rounds=PAGE_SWITCH_ROUNDS
        )
        out["peak_rss_kb"] = memory.peak_kb
        out["hwm_kb"] = tree_hwm_kb(proc.pid)
    return out


def page_switches(
    chrome: Any, port: int, floor_port: int, state: str, errors: list[str], rounds: int = 1
) -> dict[str, Any]:
    """A warm page switch: one tab per app on the Overview; every page visited once through
    the navigation (filling the caches), then the same round `rounds` times more, timed per
    target page. The two tabs take turns, page by page, so that each real switch has a floor
    switch to the same page within the same second or two (timed one app after the other,
    the floor of a run had been up to 1.6x quicker than in the run before it)."""
    from benchmarks import browser, pages

    order = [p.name for p in pages.filtered_pages()]
    round_trip = [*order[1:], order[0]]
    out: dict[str, Any] = {"real": {}, "floor": {}}
    sessions = {
        "real": browser.Session(chrome, f"http://127.0.0.1:{port}", "", state),
        "floor": browser.Session(chrome, f"http://127.0.0.1:{floor_port}", "", state, floor=True),
    }
    try:
        for timed in (False, *[True] * max(1, rounds)):
            for title in round_trip:
                for key, session in sessions.items():
                    try:
                        result = session.switch_to(title)
                    except Exception as exc:
                        errors.append(f"page switch {key} {title}: {exc}"[:300])
                        continue
                    if timed:
                        out[key].setdefault(title, []).append(result)
    finally:
        for key, session in sessions.items():
            errors.extend(f"page switch {key}: {e}" for e in session.errors)
            session.close()
    log(f"page switches: {len(out['real'])} pages timed")
    return out


def cold_starts_phase(
    url: str, picks: dict[str, Any], repeats: int, skeletons: str, min_charts: int
) -> dict[str, Any]:
    """Both servers started afresh each round: the first visit to the Overview after the
    start, then new sessions with a filter no session asked for before, real and floor."""
    from benchmarks import browser
    from tests.browser_helpers import DASHBOARD_SCRIPT

    states = picks["states"]
    out: dict[str, Any] = {
        "first_visit": [],
        "first_visit_floor": [],
        "new_session": [],
        "new_session_floor": [],
        "errors": [],
    }
    work = WORK / "logs"
    rounds = max(1, min(repeats, 3))
    with browser.chromium() as chrome:
        warm_up_chromium(chrome, skeletons)
        for r in range(rounds):
            with (
                browser.streamlit_server(
                    DASHBOARD_SCRIPT,
                    env={"DATABASE_URL": url},
                    log=work / "app-cold.log",
                ) as (_proc, port),
                browser.streamlit_server(
                    FLOOR_SCRIPT,
                    env={},
                    args=[skeletons],
                    log=work / "floor-cold.log",
                ) as (_floor_proc, floor_port),
            ):
                try:
                    out["first_visit"].append(
                        browser.cold_visit(chrome, f"http://127.0.0.1:{port}/", min_charts)
                    )
                    out["first_visit_floor"].append(
                        browser.cold_visit(
                            chrome, f"http://127.0.0.1:{floor_port}/", min_charts, floor=True
                        )
                    )
                    # Three states together, a set no other part of the run asks for.
                    for k in range(2):
                        n = len(states)
                        chosen = sorted({states[(3 * r + k + j * 7) % n] for j in range(3)})
                        query = "?" + "&".join(f"state={c}" for c in chosen)
                        out["new_session"].append(
                            browser.cold_visit(
                                chrome, f"http://127.0.0.1:{port}/{query}", min_charts
                            )
                        )
                        out["new_session_floor"].append(
                            browser.cold_visit(
                                chrome,
                                f"http://127.0.0.1:{floor_port}/{query}",
                                min_charts,
                                floor=True,
                            )
                        )
                except Exception as exc:
                    out["errors"].append(f"round {r}: {exc}"[:300])
                    log(f"  cold start round {r} failed: {str(exc)[:200]}")
            log(
                f"cold start {r + 1}/{rounds}: first visit "
                f"{out['first_visit'][-1:]} floor {out['first_visit_floor'][-1:]}"
            )
    return out


def warm_up_chromium(chrome: Any, skeletons: str) -> None:
    """A freshly launched Chromium is slower on its first page than on the next ones: it draws
    one page, untimed, of a server no measurement uses, so that the first timed page (the
    dashboard's, which comes first) does not pay for it while the floor's does not."""
    from benchmarks import browser

    try:
        with browser.streamlit_server(
            FLOOR_SCRIPT, env={}, args=[skeletons], log=WORK / "logs" / "chromium-warm-up.log"
        ) as (_proc, port):
            browser.cold_visit(chrome, f"http://127.0.0.1:{port}/", 1, floor=True)
    except Exception as exc:  # the measurements still run, on a cold Chromium
        log(f"  Chromium's warm-up page failed: {str(exc)[:200]}")


def journeys_phase(url: str, size_name: str, engine_name: str, skeletons: str) -> dict[str, Any]:
    """The three user journeys (benchmarks/journeys.py), and the partner's and the leader's on
    the floor app (its pages drawn from constants, the same sign-in): what Streamlit alone
    takes for them."""
    from benchmarks import browser, journeys
    from benchmarks.loading import load_once
    from data_access import access, db, queries
    from tests.browser_helpers import DASHBOARD_SCRIPT
    from tests.oidc_helpers import dashboard_with_sign_in, oidc_provider, write_secrets

    out: dict[str, Any] = {"errors": []}
    logs = WORK / "logs" / "journeys"
    logs.mkdir(parents=True, exist_ok=True)
    engine = db.get_engine(url)
    access.grant(
        email=journeys.PARTNER,
        role="state_partner",
        states=["TX"],
        granted_by="benchmark",
        engine=engine,
    )
    access.grant(email=journeys.LEADER, role="leadership", granted_by="benchmark", engine=engine)
    month = queries.last_complete_month(engine=engine) or "2025-12"
    last_year = int(month[:4]) if month[5:7] == "12" else int(month[:4]) - 1
    db.dispose_engines()
    with oidc_provider(logs) as provider:
        secrets_file = write_secrets(logs, provider)
        with (
            dashboard_with_sign_in(url, secrets_file, logs) as server,
            browser.chromium() as chrome,
        ):

            def on_floor() -> dict[str, Any]:
                """The partner's and the leader's journeys on the floor app (one server)."""
                floor_logs = logs / "floor"
                floor_logs.mkdir(exist_ok=True)
                with browser.streamlit_server(
                    FLOOR_SCRIPT,
                    env={},
                    args=[skeletons],
                    options=["--secrets.files", str(secrets_file)],
                    log=floor_logs / "floor.log",
                ) as (_floor_proc, floor_port):
                    floor_url = f"http://127.0.0.1:{floor_port}"
                    return {
                        "partner_floor": journeys.partner_journey(chrome, floor_url, floor_logs),
                        "leadership_floor": journeys.leadership_journey(
                            journeys.sign_in_context(chrome, floor_url, journeys.LEADER),
                            floor_url,
                            last_year,
                        ),
                    }

            warm_up_chromium(chrome, skeletons)
            # Each run gives its journeys by name.
            to_run: tuple[tuple[str, Callable[[], dict[str, Any]]], ...] = (
                (
                    "partner",
                    lambda: {"partner": journeys.partner_journey(chrome, server.url, logs)},
                ),
                (
                    "leadership",
                    lambda: {
                        "leadership": journeys.leadership_journey(
                            journeys.sign_in_context(chrome, server.url, journeys.LEADER),
                            server.url,
                            last_year,
                        )
                    },
                ),
                ("floor", on_floor),
            )
            for name, run in to_run:
                log(f"journey {name} ...")
                try:
                    result = run()
                    out.update(result)
                    log(f"  {name}: {result}")
                except Exception as exc:
                    out["errors"].append(f"{name}: {exc}"[:500])
                    log(f"  {name} failed: {str(exc)[:300]}")

    log("journey analyst: a fresh database with an older admissions extract ...")
    older, newer = journeys.thinned_dataset(dataset_dir(SIZES[size_name]))
    extra = new_database(engine_name, f"{size_name}_{engine_name[:2]}_j3")
    try:
        load_once(extra, older)
        with (
            browser.streamlit_server(
                DASHBOARD_SCRIPT,
                env={"DATABASE_URL": extra},
                log=WORK / "logs" / "app-journey3.log",
            ) as (_proc, port),
            browser.chromium() as chrome,
        ):

            def load_newer() -> float:
                return float(load_once(extra, newer)["seconds"])

            out["analyst"] = journeys.analyst_journey(
                chrome, f"http://127.0.0.1:{port}", load_newer
            )
            log(f"  analyst: {out['analyst']}")
    except Exception as exc:
        out["errors"].append(f"analyst: {exc}"[:500])
        log(f"  analyst failed: {traceback.format_exc()[-600:]}")
    finally:
        drop_database(extra)
    return out


def _state_labels(url: str) -> dict[str, str]:
    """The multiselect's option text of each state (as dashboard/filters.py formats it)."""
    from data_access import db, queries
    from data_access.access import LOCAL_VIEWER

    frame = queries.list_states(viewer=LOCAL_VIEWER, engine=db.get_engine(url))
    db.dispose_engines()
    return {
        code: f"{code} · {name}"
        for code, name in zip(frame["state_code"], frame["state_name"], strict=True)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("size", choices=list(SIZES))
    parser.add_argument("engine", choices=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--load-repeat", type=int, default=None)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--previous",
        type=Path,
        default=None,
        help="result of an earlier run of this part: its loads are counted with this run's, "
        "and its summary plans kept when this run does not explain",
    )
    args = parser.parse_args(argv)

    size = SIZES[args.size]
    result: dict[str, Any] = {"size": args.size, "engine": args.engine, "members": size.members}
    url = ""
    started = time.perf_counter()
    try:
        load_repeats = args.load_repeat or min(args.repeat, size.load_repeats)
        url, result["load"] = load_phase(args.size, args.engine, load_repeats)
        previous = (
            json.loads(args.previous.read_text())
            if args.previous and args.previous.exists()
            else {}
        )
        if previous.get("load"):
            result["load"]["runs"] += previous["load"]["runs"]
        if previous.get("summary_steps") and not args.explain:
            result["summary_steps"] = previous["summary_steps"]
        if args.explain:
            from benchmarks.loading import explain_summaries

            log("explaining the summary statements ...")
            result["summary_steps"] = explain_summaries(url)
        picks = pick_filters(url)
        result["picks"] = picks
        # At 10M claims every step is slower: 3 runs are the median's minimum there.
        repeat = args.repeat if size.members < 1_000_000 else min(args.repeat, 3)
        result["repeat"] = repeat
        result["pages"] = pages_phase(url, picks, repeat)
        # The raw-table aggregate takes minutes at 10M claims: once there.
        raw_repeats = args.repeat if size.members < 1_000_000 else 1
        result["baseline"] = baseline_phase(url, picks, raw_repeats)
        if not args.no_browser:
            skeletons = result["pages"]["skeletons_file"]
            overview = result["pages"]["pages"].get("Overview", {})
            min_charts = min((len(v.get("figures", [])) for v in overview.values()), default=0)
            log("first visits and new sessions (servers started afresh) ...")
            result["cold_starts"] = cold_starts_phase(url, picks, repeat, skeletons, min_charts)
            result["browser"] = browser_phase(url, picks, repeat, skeletons)
            result["journeys"] = journeys_phase(url, args.size, args.engine, skeletons)
    except Exception:
        result["error"] = traceback.format_exc()
        log(result["error"])
    finally:
        result["seconds"] = round(time.perf_counter() - started, 1)
        if url:
            drop_database(url)
        write_json(args.out, result)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main", "median"]
