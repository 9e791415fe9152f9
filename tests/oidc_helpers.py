"""Helpers of the browser sign-in test: a local OpenID Connect provider, and the dashboard
served with sign-in configured.

The provider is oidc-provider-mock (`python -m oidc_provider_mock`): any client id and secret
are accepted, and its authorization form signs in whoever's subject is typed in, with that
subject as the `email` claim. Both servers run in subprocesses on free loopback ports, with
their own process groups, stopped when the block ends.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.browser_helpers import (
    SERVER_START_SECONDS,
    Server,
    _stop,
    dashboard_server,
    free_port,
)

CLIENT_ID = "outcomes-dashboard"
CLIENT_SECRET = "test-client-secret"


@dataclass
class Provider:
    url: str  # the issuer, e.g. http://127.0.0.1:9400
    log: Path

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _wait(process: subprocess.Popen[bytes], ready: str, check) -> bool:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        if check(ready):
            return True
        time.sleep(0.3)
    return process.poll() is None and bool(check(ready))


@contextlib.contextmanager
def oidc_provider(log_dir: Path) -> Iterator[Provider]:
    """oidc-provider-mock on a free loopback port, until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = log_dir / "oidc-provider.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oidc_provider_mock",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    provider = Provider(url, log)
    try:
        if not _wait(process, provider.metadata_url, _answers):
            raise RuntimeError(
                f"the OpenID provider did not answer {provider.metadata_url} within "
                f"{SERVER_START_SECONDS} s (exit code {process.poll()}); its log:\n"
                + provider.log_tail()
            )
        yield provider
    finally:
        _stop(process)


def write_secrets(folder: Path, provider: Provider) -> Path:
    """A secrets.toml configuring sign-in through `provider`, as an operator would write it.

    `{port}` in redirect_uri is filled in by Streamlit with the port it serves on.
    """
    path = folder / "secrets.toml"
    path.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{provider.metadata_url}"\n'
    )
    return path


@contextlib.contextmanager
def dashboard_with_sign_in(
    database_url: str, secrets_file: Path, log_dir: Path
) -> Iterator[Server]:
    """The dashboard with sign-in configured by `secrets_file`, given with --secrets.files so
    the repository's .streamlit/ is left alone."""
    with dashboard_server(
        database_url, log_dir, extra_args=("--secrets.files", str(secrets_file))
    ) as server:
        yield server
