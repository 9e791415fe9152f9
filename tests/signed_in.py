"""Helpers for AppTests of the dashboard as a signed-in person: the sign-in settings, a
session for an e-mail address, and everything a page shows, gathered for checks.

`AppTest.user` stands in for the identity the sign-in provider vouched for, and
`AppTest.secrets["auth"]` turns sign-in on (as tests/test_sign_in.py does). AppTest keeps the
bytes of a download button only inside the run's own media storage, which `KeptMedia` (put in
its place with `keep_downloads`) also copies here, so a button's CSV can be read back by its
URL.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from tests.app_helpers import APP, PAGES, TIMEOUT

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-long-random-secret-for-the-tests-only",
    "client_id": "outcomes-dashboard",
    "client_secret": "not-a-secret",
    # Never fetched: AppTest stands in for the provider.
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


def signed_in_user(email: str) -> dict[str, Any]:
    """What the provider vouches for: a signed-in person with a verified address."""
    return {"is_logged_in": True, "email": email, "email_verified": True}


def signed_in_app(email: str, query: dict[str, Any] | None = None) -> AppTest:
    """A new session of the app with sign-in configured, signed in as `email`, opened on a
    link with `query` (not run yet)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["auth"] = dict(AUTH)
    at.user = signed_in_user(email)
    if query:
        at.query_params.update(query)
    return at


def open_as(
    email: str,
    page: str = "overview",
    query: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> tuple[AppTest, Shown | None]:
    """Run a new session as `email` on a link, then switch to `page`.

    `state` seeds widget values (by key) before the runs, as a user who set them would.
    Returns the session and, when `page` is not the overview, what the landing page showed
    (the overview, where the link's notice is drawn).
    """
    at = signed_in_app(email, query)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run(timeout=TIMEOUT)
    if page == "overview" or at.exception:
        return at, None
    landing = collect(at)
    at.switch_page(PAGES[page]).run(timeout=TIMEOUT)
    return at, landing


# -- downloads -------------------------------------------------------------------------------


class KeptMedia(MemoryMediaFileStorage):
    """The run's in-memory media storage, also keeping every file by URL for the test."""

    files: ClassVar[dict[str, bytes]] = {}

    def load_and_get_id(
        self,
        path_or_data: str | bytes,
        mimetype: str,
        kind: Any,
        filename: str | None = None,
    ) -> str:
        file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
        KeptMedia.files[self.get_url(file_id)] = self.get_file(file_id).content
        return file_id


class KeptManager(MediaFileManager):
    """The run's media file manager, remembered (AppTest makes one per run and forgets it), so
    a deferred download (a callable Streamlit runs when the file is asked for) can be
    executed after the run, as the browser's click has the server do."""

    last: ClassVar[MediaFileManager | None] = None

    def __init__(self, storage: Any) -> None:
        super().__init__(storage)
        KeptManager.last = self


def keep_downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """From now on in this test, keep download buttons' bytes by URL, and the run's media file
    manager for deferred downloads (a fixture calls it)."""
    monkeypatch.setattr("streamlit.testing.v1.app_test.MemoryMediaFileStorage", KeptMedia)
    monkeypatch.setattr("streamlit.testing.v1.app_test.MediaFileManager", KeptManager)
    KeptMedia.files.clear()
    KeptManager.last = None
    return KeptMedia.files


def download_key(button: Any) -> str:
    """The key given to st.download_button (e.g. download_monthly)."""
    return str(button.proto.id).rsplit("-", 1)[-1]


def download_text(button: Any) -> str:
    """The file behind a download button (needs keep_downloads). A deferred download is
    produced now, in this thread (no script context, as in the server), by the last run's
    media file manager: each call produces (and audits) the file once, like one click."""
    file_id = button.proto.deferred_file_id
    if file_id:
        assert KeptManager.last is not None, "keep_downloads before the run"
        url = KeptManager.last.execute_deferred(file_id)
    else:
        url = button.proto.url
    return KeptMedia.files[url].decode("utf-8")


# -- what a page shows -----------------------------------------------------------------------


def decoded(node: Any) -> Any:
    """A figure's JSON with Plotly's base64 `bdata` arrays decoded to lists of numbers."""
    if isinstance(node, dict):
        if "bdata" in node and "dtype" in node:
            array = np.frombuffer(base64.b64decode(node["bdata"]), dtype=np.dtype(node["dtype"]))
            if "shape" in node:
                shape = [int(n) for n in str(node["shape"]).split(",")]
                array = array.reshape(shape)
            return array.tolist()
        return {key: decoded(value) for key, value in node.items()}
    if isinstance(node, list):
        return [decoded(item) for item in node]
    return node


def strings(node: Any) -> Iterator[str]:
    """Every string in a JSON-like tree (keys excluded)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from strings(item)


@dataclass
class Shown:
    """Everything one run of a page shows, as text and data."""

    texts: list[str] = field(default_factory=list)  # titles, markdown, captions, alerts
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    metrics: list[tuple[str, str, str]] = field(default_factory=list)  # label, value, delta
    tables: list[pd.DataFrame] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)  # widget label -> options
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> decoded JSON
    downloads: dict[str, str] = field(default_factory=dict)  # key -> CSV text
    download_labels: dict[str, str] = field(default_factory=dict)

    def everything(self) -> str:
        """All of it as one text, to search for identifiers."""
        parts = [
            *self.texts,
            *self.warnings,
            *self.errors,
            *self.exceptions,
            *(" ".join(metric) for metric in self.metrics),
            *(table.to_csv(index=False) for table in self.tables),
            *(" ".join(options) for options in self.options.values()),
            *(json.dumps(figure) for figure in self.figures.values()),
            *self.downloads.values(),
            *self.download_labels.values(),
        ]
        return "\n".join(parts)


TEXT_ELEMENTS = (
    "title",
    "header",
    "subheader",
    "markdown",
    "caption",
    "text",
    "info",
    "success",
    "code",
)


def collect(at: AppTest) -> Shown:
    """What the last run of `at` shows (downloads need keep_downloads; a deferred one is
    produced, and so audited, here)."""
    shown = Shown()
    for kind in TEXT_ELEMENTS:
        shown.texts += [str(element.value) for element in at.get(kind)]
    shown.warnings = [str(element.value) for element in at.warning]
    shown.errors = [str(element.value) for element in at.error]
    shown.exceptions = [str(element.value) for element in at.exception]
    shown.metrics = [
        (str(metric.proto.label), str(metric.value), str(metric.proto.delta))
        for metric in at.metric
    ]
    shown.tables = [element.value for element in at.dataframe]
    for kind in ("selectbox", "multiselect", "radio"):
        for widget in at.get(kind):
            shown.options[f"{kind}:{widget.label}"] = [str(option) for option in widget.options]
    shown.figures = {
        element.proto.id.rsplit("-", 1)[-1]: decoded(json.loads(element.proto.spec))
        for element in at.get("plotly_chart")
    }
    for button in at.get("download_button"):
        key = download_key(button)
        shown.download_labels[key] = str(button.proto.label)
        if button.proto.url in KeptMedia.files or (
            button.proto.deferred_file_id and KeptManager.last is not None
        ):
            shown.downloads[key] = download_text(button)
    return shown


def read_csv(text: str) -> pd.DataFrame:
    """A download's CSV, every cell as text ("" when empty)."""
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


# -- member-level identifiers ----------------------------------------------------------------

# The sample's member, admission, claim and enrollment ids: M0000001, A0000001, C00000001,
# E000001 (sample_data/*.csv.gz).
MEMBER_LEVEL_ID = re.compile(r"(?<![A-Za-z0-9])(?:M\d{7}|A\d{7}|C\d{8}|E\d{6})(?![A-Za-z0-9])")


def member_level_ids(text: str) -> list[str]:
    return sorted(set(MEMBER_LEVEL_ID.findall(text)))
