"""Helpers of the browser tests: start ``streamlit run app.py``, launch Debian's Chromium.

A plain module, not ``tests/browser/conftest.py``: a second ``conftest`` module there would
replace ``tests/conftest.py`` in ``sys.modules`` and break ``from conftest import ...`` in the
tests collected after this folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
STREAMLIT = Path(sys.executable).parent / "streamlit"
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def need_browser() -> None:
    """Skip (fail when ``TANDEM_REQUIRE_BROWSER=1``) unless Chromium and ``streamlit`` are installed."""
    if CHROMIUM.exists() and shutil.which("streamlit", path=str(STREAMLIT.parent)):
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("TANDEM_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " and TANDEM_REQUIRE_BROWSER=1")
    pytest.skip(reason)


def free_port(ports: range) -> int:
    """The first of ``ports`` nobody listens on, else one the system picks."""
    for port in ports:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml_table(name: str, table: Mapping[str, str]) -> str:
    """One TOML table of string values (JSON's string escapes are TOML's basic strings)."""
    return f"[{name}]\n" + "".join(f"{key} = {json.dumps(str(value))}\n" for key, value in table.items())


@contextlib.contextmanager
def running_app(db_url: str, log_path: Path, *, password: str | None, ports: range, extra_env: dict | None = None,
                auth: Mapping[str, str] | None = None):
    """``streamlit run app.py`` on a free port of ``ports`` against ``db_url``; yields its
    base URL, then stops it.

    Parameters
    ----------
    db_url
        The store (``TANDEM_DATABASE_URL``).
    log_path
        Where the server's output goes; the secrets file (with ``auth``) is written beside it.
    password
        The admin password (``TANDEM_ADMIN_PASSWORD``); ``None``: no admin password.
    ports
        The ports to try first (:func:`free_port`).
    extra_env
        More environment variables, e.g. other roles' passwords or ``TANDEM_ADMIN_EMAILS``.
    auth
        Streamlit's ``[auth]`` table for OIDC sign-in (``client_id``, ``client_secret``,
        ``server_metadata_url``, ...). ``redirect_uri`` defaults to this server's
        ``/oauth2callback`` and ``cookie_secret`` to a fixed test value. It goes into a
        secrets file next to ``log_path``, passed with ``--secrets.files``, so neither the
        repository's nor the user's ``.streamlit/secrets.toml`` is read or written.
    """
    port = free_port(ports)
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TANDEM_DATABASE_URL": db_url, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           **({"TANDEM_ADMIN_PASSWORD": password} if password is not None else {}), **(extra_env or {})}
    if password is None:
        env.pop("TANDEM_ADMIN_PASSWORD", None)
    args = [str(STREAMLIT), "run", "app.py", "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    if auth is not None:
        table = {"redirect_uri": f"{url}/oauth2callback", "cookie_secret": "browser-test-cookie-secret", **auth}
        secrets = log_path.with_name(log_path.stem + ".secrets.toml")
        secrets.write_text(_toml_table("auth", table))
        args += ["--secrets.files", str(secrets)]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("streamlit did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def launched_chromium():
    """A headless Debian Chromium under Playwright; yields the browser, then closes it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def settled_and_clean(page, name: str, errors: list[str]) -> None:
    """After the page settles (1 s), save a full-page screenshot to ``test-artifacts/<name>``
    and fail on a Streamlit exception box or a browser console error (``errors``)."""
    page.wait_for_timeout(1000)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / name), full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0
    assert not errors, errors
