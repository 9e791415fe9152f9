"""Filter changes in headless Chromium, on the real app and on the constant-data floor.

A filter change is timed in the page itself: from the pointerdown on a state's option in the
sidebar multiselect (or the Backspace key that removes it) until the script has run again
(`[data-testid="stApp"][data-test-script-state]` went to running and back to notRunning, the
Streamlit e2e convention), no element is stale any more, and every Plotly chart has drawn
again (`plotly_afterplot` after the key, or a new chart with its `.main-svg`).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import CHROMIUM, CHROMIUM_ARGS, PYTHON, ROOT, free_port

TIMEOUT_MS = 180_000

INSTALL_CLOCK = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const s = {t0: null, running: null, done: null, drawn: null, lastDraw: null,
             mainChanged: null, lastMutation: null, quiet: false, timedOut: false,
             failed: false, charts: 0};
  window.__bench = s;
  const hook = (gd) => {
    if (gd.__benchHooked || typeof gd.on !== 'function') return;
    gd.__benchHooked = true;
    gd.on('plotly_afterplot', () => { gd.__benchDrawn = performance.now();
                                      s.lastDraw = gd.__benchDrawn; check(); });
  };
  const before = new Set(document.querySelectorAll('.js-plotly-plot'));
  before.forEach(hook);
  const chartsReady = () => {
    const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
    s.charts = charts.length;
    for (const chart of charts) {
      const gd = chart.querySelector('.js-plotly-plot');
      if (!gd || !gd.querySelector('.main-svg')) return false;
      hook(gd);
      if (before.has(gd) && !(gd.__benchDrawn > s.t0)) return false;
    }
    return true;
  };
  const check = () => {
    if (s.t0 === null || s.drawn !== null || s.failed) return;
    const state = app.getAttribute('data-test-script-state');
    const now = performance.now();
    if (state === 'running' && s.running === null) s.running = now;
    // The run is over when the app went running -> notRunning after the action; a run so
    // short that the attribute never showed "running" still changed the page body.
    if (state === 'notRunning' && s.done === null &&
        (s.running !== null ||
         (!window.__benchRequireRun && s.mainChanged !== null && chartsReady()))) s.done = now;
    if (s.done === null) return;
    if (document.querySelector('[data-stale="true"]')) return;
    if (!chartsReady()) return;
    s.drawn = now;
  };
  s.check = check;
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true,
    attributes: true, attributeFilter: ['data-test-script-state', 'data-stale']});
  new MutationObserver(() => {
    if (s.t0 === null) return;
    s.lastMutation = performance.now();
    if (s.mainChanged === null) s.mainChanged = s.lastMutation;
  }).observe(main, {subtree: true, childList: true, characterData: true});
  const start = () => { if (s.t0 === null) s.t0 = performance.now(); };
  document.addEventListener('pointerdown', start, true);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === 'Backspace') start();
  }, true);
  // A chart that the rerun leaves identical is not drawn again: give up waiting for it
  // 5 s after the run and take the last DOM change as the end. Nothing at all within
  // 120 s is a failed measurement.
  const poll = () => {
    check();
    if (s.drawn !== null) return;
    const now = performance.now();
    if (s.done !== null && now - s.done > 5000 &&
        !document.querySelector('[data-stale="true"]')) {
      s.timedOut = true; s.drawn = Math.max(s.done, s.lastDraw || 0); return;
    }
    // A page switch whose run is so short that the attribute never showed "running" (the
    // floor's Downloads: no chart, a few texts) ends at its last change of the page body,
    // once the new page is there, not stale, and has not changed for a second.
    if (window.__benchRequireRun && s.done === null && s.running === null &&
        s.lastMutation !== null && now - s.lastMutation > 1000 &&
        app.getAttribute('data-test-script-state') === 'notRunning' &&
        main.querySelector('[data-testid="stElementContainer"]') &&
        !document.querySelector('[data-stale="true"]') && chartsReady()) {
      s.quiet = true; s.done = s.lastMutation; s.drawn = s.lastMutation; return;
    }
    if (s.t0 !== null && now - s.t0 > 120000) { s.failed = true; return; }
    setTimeout(poll, 20);
  };
  poll();
}
"""


def health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.read().decode() == "ok"
    except OSError:
        return False


@contextmanager
def streamlit_server(
    script: Path,
    *,
    env: dict[str, str],
    args: list[str] | None = None,
    options: list[str] | None = None,
    log: Path,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`streamlit run script` on a free port of 127.0.0.1, stopped (by its pid) on exit;
    `options` are Streamlit's (`--secrets.files`, ...), `args` the script's."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        PYTHON,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        *(options or []),
    ]
    if args:
        command += ["--", *args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while not health(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start; see {log}")
                time.sleep(0.2)
            yield proc, port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _idle(page: Any) -> None:
    """The script has finished and every chart is drawn (after a navigation)."""
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=TIMEOUT_MS
    )
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=TIMEOUT_MS
    )
    page.wait_for_function(
        """() => !document.querySelector('[data-stale="true"]') &&
                 [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                   .every(c => c.querySelector('.main-svg'))""",
        timeout=TIMEOUT_MS,
    )
    page.wait_for_timeout(300)


def _static_file(route: Any) -> None:
    name = route.request.url.split("/app/static/", 1)[1].split("?")[0]
    path = ROOT / "dashboard" / "static" / name
    if path.is_file():
        route.fulfill(path=str(path), content_type="application/json")
    else:
        route.fulfill(status=404)


class MeasurementFailed(RuntimeError):
    """The action led to no rerun within the time allowed."""


class Session:
    """One browser tab on one app and page."""

    def __init__(
        self, browser: Any, base_url: str, url_path: str, first_state: str, *, floor: bool = False
    ) -> None:
        self.context = browser.new_context(viewport={"width": 1500, "height": 1100})
        # No internet here: anything asked of Plotly's CDN fails at once. The dashboard serves
        # the map's TopoJSON itself (app/static/); the floor app has no static folder, so its
        # requests for it get the same file from disk.
        self.context.route("**/cdn.plot.ly/**", lambda route: route.abort())
        if floor:
            self.context.route("**/app/static/**", _static_file)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(f"{base_url}/{url_path}?state={first_state}", timeout=TIMEOUT_MS)
        _idle(self.page)

    def close(self) -> None:
        self.context.close()

    def _states_input(self) -> Any:
        box = (
            self.page.get_by_test_id("stSidebar")
            .get_by_test_id("stMultiSelect")
            .filter(has_text="States")
            .first
        )
        return box.locator("input").first

    def _timed(self, action: Any, *, require_run: bool = False) -> dict[str, Any]:
        self.page.evaluate(INSTALL_CLOCK)
        # A page switch empties the main area before the new page's run starts: only the
        # run going to "running" and back ends it, not the first change of the page body.
        self.page.evaluate(f"window.__benchRequireRun = {'true' if require_run else 'false'}")
        action()
        self.page.wait_for_function(
            "() => window.__bench.drawn !== null || window.__bench.failed",
            timeout=TIMEOUT_MS,
            polling=50,
        )
        s = self.page.evaluate(
            "() => { const s = window.__bench; return {t0: s.t0, running: s.running, "
            "done: s.done, drawn: s.drawn, timedOut: s.timedOut, charts: s.charts, "
            "lastDraw: s.lastDraw, failed: s.failed, quiet: s.quiet}; }"
        )
        self.page.wait_for_timeout(200)
        if s["failed"] or s["t0"] is None:
            raise MeasurementFailed(f"no rerun seen after the action: {s}")

        def since_t0(value: float | None) -> float | None:
            return None if value is None else (value - s["t0"]) / 1000

        return {
            "seconds": since_t0(s["drawn"]),
            "script_seconds": since_t0(s["done"]),
            "start_seconds": since_t0(s["running"]),
            "charts": s["charts"],
            "timed_out": s["timedOut"],
            "quiet": s["quiet"],
        }

    def add_state(self, label: str) -> dict[str, Any]:
        box = self._states_input()
        box.click()
        box.fill(label)
        option = self.page.get_by_role("option", name=label).first
        option.wait_for(timeout=TIMEOUT_MS)
        result = self._timed(option.click)
        self.page.keyboard.press("Escape")
        return result

    def switch_to(self, title: str) -> dict[str, Any]:
        """Move to another page with the sidebar navigation (same session, same filters)."""
        link = (
            self.page.get_by_test_id("stSidebarNav")
            .locator("a")
            .filter(has_text=re.compile(rf"{re.escape(title)}$"))
        )
        link.wait_for(timeout=TIMEOUT_MS)
        return self._timed(link.click, require_run=True)

    def remove_last_state(self) -> dict[str, Any]:
        box = self._states_input()
        box.click()
        result = self._timed(lambda: self.page.keyboard.press("Backspace"))
        self.page.keyboard.press("Escape")
        return result


# From the navigation's start (performance.now() counts from it) to the first moment the app
# is connected, its script not running, nothing stale or a skeleton, and at least
# `minCharts` Plotly charts drawn: a cold link, painted.
PAINT_CLOCK = """
(() => {
  const minCharts = __MIN_CHARTS__;
  const s = {painted: null, sawRunning: false};
  window.__paint = s;
  const check = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-connection-state') !== 'CONNECTED') return;
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running') s.sawRunning = true;
    if (state !== 'notRunning' || (!s.sawRunning && minCharts === 0)) return;
    if (document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]')) return;
    const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
    if (charts.length < minCharts) return;
    for (const c of charts) if (!c.querySelector('.js-plotly-plot .main-svg')) return;
    s.painted = performance.now();
  };
  const poll = () => { check(); if (s.painted === null) setTimeout(poll, 10); };
  poll();
})();
"""


def cold_visit(browser: Any, url: str, min_charts: int, *, floor: bool = False) -> float:
    """Seconds from opening `url` in a new browser context (no cache, no cookies, a new
    Streamlit session) to the page painted with at least `min_charts` charts drawn."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    try:
        context.route("**/cdn.plot.ly/**", lambda route: route.abort())
        if floor:
            context.route("**/app/static/**", _static_file)
        context.add_init_script(PAINT_CLOCK.replace("__MIN_CHARTS__", str(int(min_charts))))
        page = context.new_page()
        page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
        page.wait_for_function(
            "() => window.__paint && window.__paint.painted !== null",
            timeout=TIMEOUT_MS,
            polling=50,
        )
        return float(page.evaluate("window.__paint.painted")) / 1000
    finally:
        context.close()
