"""The Organisation page in a real browser: an admin uploads a file with two broken rows (the
page lists the problems and stores nothing), then the right file (version 1 in force), and
sees its units; a screenshot goes to ``test-artifacts/organisation.png``. Fails on any
browser console error or Streamlit exception box.

Skips when ``/usr/bin/chromium`` is missing, unless ``TANDEM_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import pytest
from browser_support import launched_chromium, need_browser, running_app, settled_and_clean
from test_app_organisation import ORG_CSV

from surveys import org_store
from surveys.store import open_store

pytestmark = pytest.mark.browser

PASSWORD = "organisation-browser-secret"


def _choose(page, path, instead_of=None) -> None:
    """Give the uploader ``path`` and wait until it holds that file (and no longer ``instead_of``):
    a form sent while the upload is still under way would send the file before it."""
    page.locator("input[type=file]").set_input_files(str(path))
    uploader = page.get_by_test_id("stFileUploader")
    uploader.get_by_text(path.name, exact=True).wait_for(timeout=60_000)
    if instead_of is not None:
        uploader.get_by_text(instead_of.name, exact=True).wait_for(state="detached", timeout=60_000)
    page.wait_for_timeout(1500)


def test_an_admin_uploads_the_organisation_in_a_real_browser(tmp_path):
    need_browser()
    db_url = f"sqlite:///{tmp_path / 'org.db'}"
    broken, right = tmp_path / "broken.csv", tmp_path / "hris.csv"
    broken.write_text(ORG_CSV + "s4,Store 4,west,store,\ns1,Again,north,store,\n", encoding="utf-8")
    right.write_text(ORG_CSV, encoding="utf-8")
    with running_app(db_url, tmp_path / "streamlit.log", password=PASSWORD, ports=range(8661, 8670)) as url, \
            launched_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        page.get_by_label("Staff password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Organisation").click()
        page.get_by_text("No organisation yet").wait_for(timeout=60_000)
        _choose(page, broken)
        page.get_by_role("button", name="Check and import").click()
        page.get_by_text("broken.csv was not imported").wait_for(timeout=60_000)
        store = open_store(db_url)
        try:
            assert org_store.list_versions(store) == []  # nothing of a broken file is stored
        finally:
            store.dispose()
        _choose(page, right, instead_of=broken)
        page.get_by_role("button", name="Check and import").click()
        page.get_by_text("Imported version 1").wait_for(timeout=60_000)
        page.get_by_text("6 units; levels company > district > store.").wait_for(timeout=60_000)  # listed at once
        settled_and_clean(page, "organisation.png", errors)
    store = open_store(db_url)
    try:
        (version,) = org_store.list_versions(store)
        assert version.units == 6 and version.source == "hris.csv"
    finally:
        store.dispose()
