"""The Insight pages in a real browser: Debian's Chromium, driven by Playwright, signs in
to ``streamlit run app.py``, opens every analysis page on the demo data, saves a
screenshot to ``test-artifacts/insight_<page>.png`` and fails on any browser console
error or any Streamlit exception box.

Skips when ``/usr/bin/chromium`` is missing, unless ``TANDEM_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
PASSWORD = "insight-browser-secret"
# navigation title -> text that shows the page finished its analysis
PAGES = {
    "Overview": "Employee responses by unit",
    "Instrument health": "Item analysis",
    "Drivers": "What moves customers",
    "Linkage": "Units: employee construct against customer outcome",
    "Comments": "Only units with at least",
}


def _need_browser() -> None:
    if CHROMIUM.exists() and shutil.which("streamlit", path=str(Path(sys.executable).parent)):
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("TANDEM_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " and TANDEM_REQUIRE_BROWSER=1")
    pytest.skip(reason)


def _free_port() -> int:
    for port in range(8621, 8630):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``streamlit run app.py`` with a staff password and an empty SQLite store; yields its URL."""
    _need_browser()
    folder = tmp_path_factory.mktemp("insight-browser")
    port = _free_port()
    env = {**os.environ, "TANDEM_DATABASE_URL": f"sqlite:///{folder / 'insight.db'}",
           "TANDEM_ADMIN_PASSWORD": PASSWORD, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    log_path = folder / "streamlit.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "streamlit"), "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                        if response.status == 200:
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


@pytest.fixture(scope="module")
def browser_page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []

        def console(message) -> None:
            where = (message.location or {}).get("url", "")
            if message.type == "error":
                errors.append(f"{message.text} ({where})")

        page.on("console", console)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
        page.goto(server)
        page.get_by_label("Staff password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Overview").wait_for(timeout=60_000)
        yield page, errors
        browser.close()


@pytest.mark.parametrize("title", list(PAGES))
def test_insight_page_in_a_real_browser(browser_page, title):
    page, errors = browser_page
    errors.clear()
    page.get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    page.get_by_text(PAGES[title]).first.wait_for(timeout=180_000)
    page.wait_for_timeout(1500)  # let plotly finish drawing
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"insight_{title.lower().replace(' ', '_')}.png"))
    assert page.locator("[data-testid='stException']").count() == 0
    assert not errors, errors


def test_report_download_button_gives_the_self_contained_report(browser_page, tmp_path):
    from reports.html import SECTIONS

    page, errors = browser_page
    errors.clear()
    page.get_by_role("link", name="Overview").click()
    page.get_by_text(PAGES["Overview"]).first.wait_for(timeout=180_000)
    with page.expect_download(timeout=300_000) as download:
        page.get_by_role("button", name="Download the report (HTML)").click()
    path = tmp_path / "report.html"
    download.value.save_as(path)
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    for key in SECTIONS:
        assert f'<section id="{key}">' in html
    assert not errors, errors
