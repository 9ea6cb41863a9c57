"""The Insight pages in a real browser: Debian's Chromium, driven by Playwright, signs in
to ``streamlit run app.py``, opens every analysis page on the demo data, saves a
screenshot to ``test-artifacts/insight_<page>.png`` and fails on any browser console
error or any Streamlit exception box.

Skips when ``/usr/bin/chromium`` is missing, unless ``TANDEM_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import pytest
from browser_support import ROOT, launched_chromium, need_browser, running_app

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "insight-browser-secret"
# navigation title -> text that shows the page finished its analysis
PAGES = {
    "Overview": "Employee responses by unit",
    "Instrument health": "Item analysis",
    "Drivers": "What moves customers",
    "Compare groups": "Do the groups differ at all?",
    "Linkage": "Units: employee construct against customer outcome",
    "Comments": "Only groups of at least",
}


VIEWER_PASSWORD = "insight-viewer-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``streamlit run app.py`` with an admin and a viewer password and an empty SQLite store;
    yields its URL."""
    need_browser()
    folder = tmp_path_factory.mktemp("insight-browser")
    with running_app(f"sqlite:///{folder / 'insight.db'}", folder / "streamlit.log", password=PASSWORD,
                     ports=range(8621, 8630), extra_env={"TANDEM_VIEWER_PASSWORD": VIEWER_PASSWORD}) as url:
        yield url


def test_a_viewer_reaches_no_admin_page(server):
    """Signed in as a viewer in a real browser: the navigation offers the insight pages only (the
    admin pages are not registered in a viewer's session), and typing an admin page's address
    shows no admin content (a new page load starts a new session at the sign-in)."""
    with launched_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server)
        page.get_by_label("Staff password").fill(VIEWER_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Overview").wait_for(timeout=60_000)
        links = [link.inner_text() for link in page.locator("[data-testid='stSidebarNav'] a").all()]
        assert "Overview" in " ".join(links)
        assert not any(name in " ".join(links) for name in ("Campaigns", "Responses")), links
        for path in ("campaigns", "responses"):
            page.goto(f"{server}/{path}")
            page.get_by_role("heading").first.wait_for(timeout=60_000)
            assert page.get_by_text("Generate links").count() == 0 and page.get_by_text("Raw CSV").count() == 0
            assert page.get_by_role("heading", name="Campaigns").count() == 0


@pytest.fixture(scope="module")
def browser_page(server):
    with launched_chromium() as browser:
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
