"""The three journeys users make, in headless Chromium, each timed end to end from a cold link
(a new browser context: no cache, no session), with the clicks counted.

1. partner: a state partner for TX (signed in through the mock OpenID provider,
   tests/oidc_helpers.py) opens a shared link to Program outcomes for TX and downloads the
   table (target: <= 3 clicks, <= 5 s).
2. leadership: finds the state whose hot-spotting average length of stay rose most in the
   last complete year (target: <= 4 clicks, <= 6 s), by the shortest path the pages offer:
   the ranked table "Change from the year before, by state" on Trends.
3. analyst: loads a newer admissions extract while the dashboard is open; how long until the
   open page shows it, without a restart (target: the load + <= 5 s).

Typing (the provider's e-mail field, a multiselect's filter) is not a click; every
`click()` of the journey is counted, including the provider's Authorize button.
"""

from __future__ import annotations

import gzip
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import WORK

PARTNER = "tx.partner@example.org"
LEADER = "leader@example.org"
WAIT_MS = 120_000

PAINTED = """
(minCharts) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]')) return false;
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
  if (charts.length < minCharts) return false;
  return [...charts].every(c => c.querySelector('.js-plotly-plot .main-svg'));
}
"""


class Clicks:
    """Counts the journey's clicks."""

    def __init__(self) -> None:
        self.count = 0
        self.steps: list[str] = []

    def __call__(self, locator: Any, what: str) -> None:
        locator.click(timeout=WAIT_MS)
        self.count += 1
        self.steps.append(what)


def painted(page: Any, min_charts: int = 0) -> None:
    page.wait_for_function(PAINTED, arg=min_charts, timeout=WAIT_MS, polling=20)


def rerun_done(page: Any, since: int, min_charts: int = 0) -> None:
    page.wait_for_function(
        "(since) => (window.__finishedRuns || 0) > since", arg=since, timeout=WAIT_MS, polling=20
    )
    painted(page, min_charts)


def runs(page: Any) -> int:
    return int(page.evaluate("window.__finishedRuns || 0"))


def nav_link(page: Any, title: str) -> Any:
    return (
        page.get_by_test_id("stSidebarNav")
        .locator("a")
        .filter(has_text=re.compile(rf"{re.escape(title)}$"))
    )


def _context(browser: Any) -> Any:
    from tests.browser_helpers import RUN_COUNTER_SCRIPT, VIEWPORT

    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(RUN_COUNTER_SCRIPT)
    context.route("**/cdn.plot.ly/**", lambda route: route.abort())
    return context


def _sign_in_form(
    page: Any, app_url: str, email: str, click: Clicks, mark: Callable[[str], None]
) -> None:
    """The sign-in page's button, the provider's form, back to the dashboard."""
    click(page.get_by_role("button", name=re.compile("Sign in")), "Sign in")
    page.wait_for_url(re.compile(r"/oauth2/authorize"), timeout=WAIT_MS)
    page.locator("input[name='sub']").wait_for(timeout=WAIT_MS)
    mark("provider's form")
    page.locator("input[name='sub']").fill(email)
    click(page.get_by_role("button", name="Authorize"), "Authorize (provider)")
    page.wait_for_url(re.compile(rf"^{re.escape(app_url)}"), timeout=WAIT_MS)
    mark("back at the dashboard")


def partner_journey(browser: Any, app_url: str, download_dir: Path) -> dict[str, Any]:
    context = _context(browser)
    page = context.new_page()
    click = Clicks()
    link = f"{app_url}/program_outcomes?state=TX"
    # Where the journey's time goes: seconds from the start at the end of each phase.
    phases: dict[str, float] = {}
    try:
        start = time.perf_counter()

        def mark(phase: str) -> None:
            phases[phase] = time.perf_counter() - start

        page.goto(link, wait_until="commit", timeout=WAIT_MS)
        page.get_by_role("button", name=re.compile("Sign in")).wait_for(timeout=WAIT_MS)
        painted(page)
        mark("sign-in page drawn")
        signed_in_at = None
        # Signed out, the app knows only its sign-in page: a link to another page opens a
        # "Page not found" dialog over it, which the partner closes first.
        dialog = page.get_by_role("dialog")
        found_dialog = dialog.count() > 0
        if found_dialog:
            click(dialog.get_by_role("button", name="Close"), "close 'Page not found'")
        _sign_in_form(page, app_url, PARTNER, click, mark)
        page.wait_for_function(
            "() => !!document.querySelector('.st-key-viewer_banner')", timeout=WAIT_MS
        )
        painted(page)
        signed_in_at = time.perf_counter() - start
        mark("signed-in page drawn")
        landed = page.url
        kept_link = "program_outcomes" in landed
        if not kept_link:
            since = runs(page)
            click(nav_link(page, "Program outcomes"), "navigation: Program outcomes")
            rerun_done(page, since)
        button = page.get_by_test_id("stMain").get_by_test_id("stDownloadButton").first
        button.wait_for(timeout=WAIT_MS)
        with page.expect_download(timeout=WAIT_MS) as download:
            click(button.locator("button"), "download the table")
        path = download_dir / "partner_download.csv"
        download.value.save_as(path)
        seconds = time.perf_counter() - start
        mark("file saved")
        return {
            "seconds": seconds,
            "phases": phases,
            "clicks": click.count,
            "steps": click.steps,
            "signed_in_seconds": signed_in_at,
            "landed_on": landed.removeprefix(app_url) or "/",
            "kept_link": kept_link,
            "page_not_found_dialog": found_dialog,
            "file": download.value.suggested_filename,
            "bytes": path.stat().st_size,
        }
    finally:
        context.close()


def sign_in_context(browser: Any, app_url: str, email: str) -> Any:
    """A context whose cookie holds `email`'s sign-in (done once, untimed)."""
    from tests.browser_helpers import sign_in

    context = _context(browser)
    page = context.new_page()
    sign_in(page, app_url, email)
    page.close()
    return context


# The answer is the top row of the "Change from the year before, by state" table (st.table:
# an HTML table whose aria-label names it), read by its header cells, not by position.
READ_TOP_ROWS = """
() => {
  const table = [...document.querySelectorAll('[data-testid="stTable"] table')]
    .find(t => (t.getAttribute('aria-label') || '').includes('by state, ranked by the change'));
  if (!table) return null;
  const header = [...table.querySelectorAll('thead th')].map(th => th.innerText.trim());
  const rows = [...table.querySelectorAll('tbody tr')].slice(0, 3).map(tr => {
    const cells = [...tr.querySelectorAll('th, td')].map(td => td.innerText.trim());
    return Object.fromEntries(header.map((name, i) => [name, cells[i]]));
  });
  return { title: table.getAttribute('aria-label'), header, rows };
}
"""


def pill(scope: Any, name: str) -> Any:
    """The pill reading `name` (exactly) inside `scope` (a pill group with `required` is a
    radio group to assistive technology; its pills are buttons all the same)."""
    return scope.locator("button").filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$"))


def leadership_journey(context: Any, app_url: str, last_year: int) -> dict[str, Any]:
    """From the dashboard root: Trends, then in its "Change from the year before, by state"
    section the measure (average length of stay) and the program model (hot spotting), one
    pill each; the answer is the table's top row."""
    page = context.new_page()
    click = Clicks()
    try:
        start = time.perf_counter()
        phases: dict[str, float] = {}

        def mark(what: str) -> None:
            phases[what] = round(time.perf_counter() - start, 3)

        page.goto(f"{app_url}/", wait_until="commit", timeout=WAIT_MS)
        painted(page, 1)
        mark("Overview drawn")
        since = runs(page)
        click(nav_link(page, "Trends"), "navigation: Trends")
        rerun_done(page, since, 1)
        mark("Trends drawn")
        measures = page.locator(".st-key-trends_change_measure")
        since = runs(page)
        click(pill(measures, "Average LOS"), "pick Average LOS")
        rerun_done(page, since, 1)
        mark("measure picked")
        models = page.locator(".st-key-trends_change_model")
        since = runs(page)
        click(pill(models, "Hot spotting"), "pick Hot spotting")
        rerun_done(page, since, 1)
        mark("model picked")
        answer = page.evaluate(READ_TOP_ROWS)
        seconds = time.perf_counter() - start
        answer = answer or {}
        return {
            "seconds": seconds,
            "clicks": click.count,
            "steps": click.steps,
            "phases": phases,  # seconds from the start at the end of each step
            "last_complete_year": last_year,
            "table": answer.get("title"),
            # [state, change as shown] of the top rows, the largest rise first.
            "top_rises": [[r.get("State"), r.get("Change")] for r in answer.get("rows", [])],
            # The table compares the year the benchmark computed, not another.
            "shown_year": str(last_year) in answer.get("header", []),
        }
    finally:
        page.close()


# -- 3. a newer admissions extract while the dashboard is open --------------------------------


def thinned_dataset(directory: Path) -> tuple[Path, Path]:
    """(`older`, `newer`): the dataset with every 10th admission left out, and a folder holding
    only the full admissions file (the newer extract)."""
    base = WORK / "journey3" / directory.name
    older, newer = base / "older", base / "newer"
    for folder in (older, newer):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for path in directory.iterdir():
        if path.name.startswith("admissions"):
            (newer / path.name).symlink_to(path)
            opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
            with (
                opener(path, "rt", newline="") as src,
                opener(older / path.name, "wt", newline="") as dst,
            ):
                for number, line in enumerate(src):
                    if number == 0 or number % 10:
                        dst.write(line)
        elif not path.name.startswith("_"):
            (older / path.name).symlink_to(path)
    return older, newer


def metrics_text(page: Any) -> str:
    return str(
        page.evaluate(
            "() => [...document.querySelectorAll('[data-testid=\"stMetric\"]')]"
            ".map(m => m.innerText).join(' | ')"
        )
    )


def analyst_journey(browser: Any, app_url: str, load: Callable[[], float]) -> dict[str, Any]:
    """The Overview open; `load()` loads the newer extract and returns its seconds. Then: does
    the open page's tiles show the new figures, clicking its navigation link right after the
    load and once a second after that (left alone, the page reruns by itself within about 5 s:
    its watch for new loads, dashboard/app.py; a click is the quicker way, and the one timed)."""
    context = _context(browser)
    page = context.new_page()
    click = Clicks()
    try:
        page.goto(f"{app_url}/", wait_until="commit", timeout=WAIT_MS)
        painted(page, 1)
        before = metrics_text(page)
        load_seconds = load()
        loaded = time.perf_counter()
        # The analyst (or whoever has the page open) clicks the page's link once the load has
        # finished, and again each second while the old figures are still shown.
        shown_after = None
        while time.perf_counter() - loaded < 60:
            since = runs(page)
            click(nav_link(page, "Overview"), "navigation: Overview")
            rerun_done(page, since, 1)
            if metrics_text(page) != before:
                shown_after = time.perf_counter() - loaded
                break
            time.sleep(1.0)
        return {
            "load_seconds": load_seconds,
            "shown_after_load_seconds": shown_after,
            "clicks": click.count,
            "changed": shown_after is not None,
        }
    finally:
        context.close()
