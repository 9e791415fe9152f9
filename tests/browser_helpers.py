"""Helpers of the browser tests: the dashboard server in a subprocess, and waits and reads in
Chromium through Playwright's sync API.

Waiting follows Streamlit's own end-to-end tests: the `stApp` element carries
`data-test-connection-state` (CONNECTED once the websocket is up) and `data-test-script-state`
(`initial`, `running`, `rerunRequested`, ..., `notRunning` once a run has finished). Right
after a click the attribute may still say `notRunning` from the previous run, so an init
script counts finished runs, and `wait_for_new_run` waits for the count to move.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1400, "height": 900}
# The machine is small and shared: every wait is generous, in milliseconds.
WAIT_MS = 60_000
SERVER_START_SECONDS = 90
# What `make run` serves: dashboard/app.py, with its modules imported at server start.
DASHBOARD_SCRIPT = ROOT / "dashboard" / "serve.py"

APP_SELECTOR = "[data-testid='stApp']"
PLOT_SELECTOR = ".js-plotly-plot"

# Installed in every page before Streamlit's scripts: counts the runs that finished
# (data-test-script-state becoming notRunning), so a wait after a click cannot mistake the
# previous run's state for the new one.
RUN_COUNTER_SCRIPT = """
(() => {
  window.__finishedRuns = 0;
  const observer = new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.target.getAttribute('data-test-script-state') === 'notRunning'
          && m.oldValue !== 'notRunning') {
        window.__finishedRuns += 1;
      }
    }
  });
  observer.observe(document, {
    subtree: true, attributes: true, attributeOldValue: true,
    attributeFilter: ['data-test-script-state'],
  });
})();
"""


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements.txt)"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium is not installed at {CHROMIUM} (make chromium)"
    return None


# -- the dashboard server --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
            return bool(response.status == 200 and response.read().strip() == b"ok")
    except (OSError, urllib.error.URLError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and anything it started (it leads its own process group)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextlib.contextmanager
def dashboard_server(
    database_url: str, log_dir: Path, extra_args: Sequence[str] = ()
) -> Iterator[Server]:
    """`streamlit run dashboard/serve.py` on a free loopback port, until the block ends.

    Runs from the repository root, so .streamlit/config.toml applies (static serving of the
    map's TopoJSON). A port taken between choosing and binding it gets another try.
    """
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    env.pop("STREAMLIT_SECRETS_FILES", None)  # secrets come only through extra_args
    last_problem = ""
    for attempt in range(3):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = log_dir / f"streamlit-{attempt}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    str(DASHBOARD_SCRIPT),
                    "--server.address",
                    "127.0.0.1",
                    "--server.port",
                    str(port),
                    "--server.headless",
                    "true",
                    "--browser.gatherUsageStats",
                    "false",
                    # Nothing edits the sources during the tests: no watcher polling them.
                    "--server.fileWatcherType",
                    "none",
                    *extra_args,
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as a whole
            )
        server = Server(url, process, log)
        try:
            deadline = time.monotonic() + SERVER_START_SECONDS
            while time.monotonic() < deadline and process.poll() is None:
                if _healthy(url):
                    break
                time.sleep(0.5)
            if process.poll() is None and _healthy(url):
                yield server
                return
            last_problem = (
                f"the dashboard did not answer {url}/_stcore/health within "
                f"{SERVER_START_SECONDS} s (exit code {process.poll()}); its log:\n"
                + server.log_tail()
            )
            if "is not available" not in server.log_tail():  # only a taken port is retried
                break
        finally:
            _stop(process)
    raise RuntimeError(last_problem)


def new_context(browser: Any) -> Any:
    """A browser context (its own cookies, so its own sign-in) that accepts downloads and
    counts finished Streamlit runs."""
    browser_context = browser.new_context(
        viewport=VIEWPORT, accept_downloads=True, reduced_motion="reduce"
    )
    browser_context.set_default_timeout(WAIT_MS)
    browser_context.add_init_script(RUN_COUNTER_SCRIPT)
    return browser_context


@contextlib.contextmanager
def chromium_context() -> Iterator[Any]:
    """Debian's Chromium, headless, and one context that accepts downloads and counts
    finished Streamlit runs (`context.browser` makes more with `new_context`); a Chromium
    that does not start skips (fails under CI)."""
    from playwright.sync_api import Error, sync_playwright

    from tests.conftest import skip_or_fail

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        except Error as exc:
            skip_or_fail(f"Chromium at {CHROMIUM} does not start: {exc}")
            raise  # unreachable: skip_or_fail raises
        browser_context = new_context(browser)
        try:
            yield browser_context
        finally:
            browser_context.close()
            browser.close()


# -- waiting for Streamlit -------------------------------------------------------------------


def finished_runs(page: Page) -> int:
    return int(page.evaluate("window.__finishedRuns || 0"))


def wait_for_app(page: Page, timeout: float = WAIT_MS) -> None:
    """Connected, no script running, no element still a loading skeleton."""
    page.locator(f"{APP_SELECTOR}[data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=timeout
    )
    page.locator(f"{APP_SELECTOR}[data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout
    )
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
        timeout=timeout,
    )


def wait_for_new_run(page: Page, since: int, timeout: float = WAIT_MS) -> None:
    """Wait until a run started after `since` finished runs has finished too."""
    page.wait_for_function(
        """(since) => window.__finishedRuns > since && document.querySelector(
            "[data-testid='stApp'][data-test-script-state='notRunning']") !== null""",
        arg=since,
        timeout=timeout,
    )
    wait_for_app(page, timeout)


def wait_for_charts(page: Page, expected: int, timeout: float = WAIT_MS) -> None:
    """Every st.plotly_chart of the page drawn by Plotly (its SVG in place)."""
    charts = page.get_by_test_id("stPlotlyChart")
    if expected:
        charts.nth(expected - 1).wait_for(state="attached", timeout=timeout)
    assert charts.count() == expected, f"expected {expected} charts, found {charts.count()}"
    for index in range(expected):
        charts.nth(index).locator(f"{PLOT_SELECTOR} .main-svg").first.wait_for(
            state="attached", timeout=timeout
        )


# True once every table (st.dataframe, a canvas of glide-data-grid) in view has drawn its cells:
# its canvas holds at least three colours (background, borders, text), not a blank fill.
TABLES_PAINTED_SCRIPT = """
() => [...document.querySelectorAll('canvas[data-testid="data-grid-canvas"]')]
  .filter((canvas) => {
    const box = canvas.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < window.innerHeight;
  })
  .every((canvas) => {
    const context = canvas.getContext('2d');
    if (context === null || canvas.width === 0 || canvas.height === 0) return false;
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set();
    for (let i = 0; i < pixels.length && colours.size < 3; i += 4 * 7) {
      colours.add(pixels.slice(i, i + 4).join(','));
    }
    return colours.size >= 3;
  })
"""


def settle_for_screenshot(page: Page, timeout: float = WAIT_MS) -> None:
    """Fonts loaded, the tables in view painted, and two more frames so the last paint is on
    screen: conditions, not a fixed pause."""
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_function(TABLES_PAINTED_SCRIPT, timeout=timeout)
    page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def open_app(page: Page, base_url: str, path: str = "", charts: int | None = None) -> None:
    """Open a page of the app (a new session) and wait for its first run to finish."""
    page.goto(f"{base_url}/{path.lstrip('/')}", wait_until="domcontentloaded", timeout=WAIT_MS)
    wait_for_app(page)
    if charts is not None:
        wait_for_charts(page, charts)


def go_to(page: Page, title: str, charts: int | None = None) -> None:
    """Move to another page with the sidebar navigation (the session, and so the filters,
    stay)."""
    since = finished_runs(page)
    # The link's text starts with its Material icon's name (a font ligature): match the end.
    link = page.get_by_test_id("stSidebarNav").locator("a")
    link.filter(has_text=re.compile(rf"{re.escape(title)}$")).click()
    wait_for_new_run(page, since)
    if charts is not None:
        wait_for_charts(page, charts)


def sign_in(page: Page, app_url: str, email: str) -> None:
    """From the sign-in page, through the provider's form (tests/oidc_helpers.py), back to
    the dashboard."""
    open_app(page, app_url)
    page.get_by_role("button", name=re.compile("Sign in")).click()
    # The provider's authorization form: type the subject (its e-mail claim), authorize.
    page.wait_for_url(re.compile(r"/oauth2/authorize"), timeout=WAIT_MS)
    page.locator("input[name='sub']").fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(rf"^{re.escape(app_url)}/?($|\?)"), timeout=WAIT_MS)
    wait_for_app(page)


def wait_for_drawn_charts(page: Page, timeout: float = WAIT_MS) -> int:
    """Every chart on the page drawn by Plotly; returns how many there are."""
    charts = page.get_by_test_id("stPlotlyChart")
    for index in range(charts.count()):
        charts.nth(index).locator(f"{PLOT_SELECTOR} .main-svg").first.wait_for(
            state="attached", timeout=timeout
        )
    return charts.count()


# -- reading the page ------------------------------------------------------------------------


def query(page: Page) -> dict[str, list[str]]:
    """The URL's query string, every value of every parameter."""
    return parse_qs(urlsplit(page.url).query, keep_blank_values=True)


PLOT_TRACES_SCRIPT = """
(selector) => {
    const plot = document.querySelector(selector);
    if (!plot || !plot.data) return null;
    // Plotly 6 sends numeric arrays as {dtype, bdata} (base64), and leaves them so in
    // `data`: decode them as plotly.js does.
    const TYPES = {
        f8: Float64Array, f4: Float32Array, i1: Int8Array, u1: Uint8Array,
        i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array,
    };
    const list = (v) => {
        if (v == null) return [];
        if (v.bdata !== undefined && TYPES[v.dtype]) {
            const bytes = Uint8Array.from(atob(v.bdata), (c) => c.charCodeAt(0));
            return Array.from(new TYPES[v.dtype](bytes.buffer));
        }
        return Array.from(v);
    };
    return plot.data.map((t) => ({
        name: t.name ?? null,
        type: t.type ?? null,
        x: list(t.x),
        y: list(t.y),
        z: list(t.z),
        locations: list(t.locations),
    }));
}
"""


def plot_traces(page: Page, chart_key: str) -> list[dict[str, Any]]:
    """Name, type and points of each trace Plotly drew for `st.plotly_chart(key=chart_key)`
    (NaN, an undefined ratio, comes back as None)."""
    found = page.evaluate(PLOT_TRACES_SCRIPT, f".st-key-{chart_key} {PLOT_SELECTOR}")
    return list(found or [])


def sidebar_multiselect(page: Page, label: str) -> Locator:
    # `has` is matched inside each multiselect, so it starts from the page, not the sidebar.
    combobox = page.get_by_role("combobox", name=label, exact=True)
    return page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").filter(has=combobox)


def selected_values(page: Page, label: str) -> list[str]:
    """The chips (selected options, as displayed) of a sidebar multiselect."""
    return (
        sidebar_multiselect(page, label)
        .locator("[aria-label='Selected values'] [data-tag]")
        .evaluate_all("tags => tags.map(t => t.getAttribute('aria-label'))")
    )


def choose_only(page: Page, label: str, option: str) -> None:
    """Leave exactly `option` selected in a sidebar multiselect, as a user would: clear it,
    type to filter the options, pick the match, close the list. Waits for each rerun."""
    widget = sidebar_multiselect(page, label)
    since = finished_runs(page)
    widget.get_by_role("button", name="Clear all").click()
    wait_for_new_run(page, since)
    combobox = widget.get_by_role("combobox", name=label, exact=True)
    combobox.click()
    combobox.fill(option.split(" ")[0])
    since = finished_runs(page)
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    wait_for_new_run(page, since)


def checked_radio(page: Page, label: str) -> str:
    group = page.get_by_test_id("stSidebar").get_by_role("radiogroup", name=label)
    return group.locator("[data-testid='stRadioOption'][data-selected='true']").inner_text()


def problems_shown(page: Page) -> list[str]:
    """Exceptions and error boxes on the page (a chart that failed shows st.error)."""
    boxes = page.locator("[data-testid='stException'], [data-testid='stAlertContentError']")
    return [text.strip() for text in boxes.all_inner_texts()]


def save_screenshot(page: Page, name: str, out_dirs: Sequence[Path]) -> Path:
    """A viewport screenshot into each directory; returns the first."""
    settle_for_screenshot(page)
    first = out_dirs[0] / f"{name}.png"
    first.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=first, animations="disabled", caret="hide")
    for directory in out_dirs[1:]:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(first, directory / first.name)
    return first


# -- the command-line export -----------------------------------------------------------------

CLI_FLAGS = {
    "state": "--state",
    "model": "--model",
    "program": "--program",
    "condition": "--condition",
    "from": "--from",
    "to": "--to",
    "setting": "--setting",
}


def cli_arguments(params: dict[str, list[str]]) -> list[str]:
    """The `python -m data_access export` flags of a dashboard URL's filters."""
    unknown = set(params) - set(CLI_FLAGS)
    assert not unknown, f"the URL has parameters the export has no flag for: {unknown}"
    arguments: list[str] = []
    for name, flag in CLI_FLAGS.items():
        for value in params.get(name, []):
            assert value, f"blank {name}= (nothing selected) has no export flag"
            arguments += [flag, value]
    return arguments


def start_cli_export(
    dataset: str, arguments: Sequence[str], database_url: str, out: Path
) -> subprocess.Popen[bytes]:
    """Start `python -m data_access export DATASET ... --out OUT` (it runs meanwhile)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "data_access",
            "export",
            dataset,
            *arguments,
            "--database-url",
            database_url,
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish_cli_export(process: subprocess.Popen[bytes], out: Path) -> bytes:
    _, stderr = process.communicate(timeout=WAIT_MS / 1000 * 2)
    assert process.returncode == 0, (
        f"{' '.join(map(str, process.args))} failed ({process.returncode}): "  # type: ignore[arg-type]
        f"{stderr.decode(errors='replace')}"
    )
    return out.read_bytes()


# -- accessibility: axe-core and the keyboard ------------------------------------------------

# WCAG 2.0 and 2.1, levels A and AA: the rules axe-core tags with these.
WCAG_AA_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
SERIOUS = frozenset({"serious", "critical"})


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A and AA violations of the page as drawn now, one row per element:
    rule, impact, CSS selector, the element's opening HTML, and what is wrong."""
    from axe_playwright_python.sync_playwright import Axe

    options = {
        "runOnly": {"type": "tag", "values": list(WCAG_AA_TAGS)},
        "resultTypes": ["violations"],
    }
    results = Axe().run(page, options=options).response
    return [
        {
            "rule": violation["id"],
            "impact": node.get("impact") or violation["impact"],
            "target": " ".join(map(str, node["target"])),
            "html": node["html"][:200],
            "why": node.get("failureSummary", "").replace("\n", " ")[:300],
        }
        for violation in results["violations"]
        for node in violation["nodes"]
    ]


# What the focused element is, in words: "combobox:States", "radio:Period", "tab:Table",
# "button:Download ...", "a:Overview" (an icon's ligature, on the first lines, is dropped).
FOCUSED_SCRIPT = """
() => {
    const e = document.activeElement;
    if (!e || e === document.body) return "";
    const group = e.closest("[role=radiogroup]");
    if (group) return "radio:" + group.getAttribute("aria-label");
    const role = e.getAttribute("role");
    const text = (e.innerText || "").trim().split("\\n").filter(Boolean).pop() || "";
    if (role === "tab") return "tab:" + text;
    const label = e.getAttribute("aria-label");
    return (role || e.tagName.toLowerCase()) + ":" + (label || text);
}
"""


def focused(page: Page) -> str:
    return str(page.evaluate(FOCUSED_SCRIPT))


def tab_to(page: Page, wanted: str | re.Pattern[str], limit: int = 150) -> str:
    """Press Tab until the focused element is `wanted` (its `focused` description, or a
    pattern it matches); fails after `limit` presses."""
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if wanted.search(now) if isinstance(wanted, re.Pattern) else now == wanted:
            return now
        seen.append(now)
    raise AssertionError(f"Tab never reached {wanted!r}; it went through {seen}")


def shows_focus(page: Page) -> bool:
    """Whether focus is visible: the focused element's surroundings look different once it
    is blurred (its outline, ring, border or background is the focus indicator)."""
    box = page.evaluate(
        """() => { const r = document.activeElement.getBoundingClientRect();
                   return {x: r.x, y: r.y, width: r.width, height: r.height}; }"""
    )
    clip = {
        "x": max(0.0, box["x"] - 6),
        "y": max(0.0, box["y"] - 6),
        "width": box["width"] + 12,
        "height": box["height"] + 12,
    }
    with_focus = page.screenshot(clip=clip, animations="disabled", caret="hide")
    page.evaluate("() => { window.__refocus = document.activeElement; window.__refocus.blur(); }")
    without = page.screenshot(clip=clip, animations="disabled", caret="hide")
    page.evaluate("() => window.__refocus.focus({focusVisible: true})")
    return with_focus != without
