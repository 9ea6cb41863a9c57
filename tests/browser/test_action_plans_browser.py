"""The Action plans page in a real browser: Debian's Chromium, driven by Playwright, signs in
to ``streamlit run app.py`` as an admin, opens *Action plans* over two simulated waves with
six planned stores, reads the next-wave sentence, creates a plan through the form, and
saves a screenshot to ``test-artifacts/action_plans.png``; it fails on any browser console
error or Streamlit exception box.

Skips when ``/usr/bin/chromium`` is missing, unless ``TANDEM_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import pytest
from browser_support import launched_chromium, need_browser, running_app, settled_and_clean
from test_action_plans import HOSTILE, PLANNED, SURVEY
from test_app_action_plans import BEFORE_WAVE_2, seed

from surveys import action_plans as ap
from surveys.store import open_store

pytestmark = pytest.mark.browser

PASSWORD = "plans-browser-secret"


@pytest.fixture
def server(tmp_path):
    """The app over a store with the organisation, two waves and six plans; yields (url, db_url)."""
    need_browser()
    db_url = f"sqlite:///{tmp_path / 'plans.db'}"
    seed(db_url)
    store = open_store(db_url)
    try:
        for unit in PLANNED:
            ap.create_plan(store, unit=unit, instrument_id=SURVEY.id, driver="recognition", offered=["recognition"],
                           driver_unit=unit, owner="ann@acme.example", actor="admin@acme.example", role="admin",
                           notes=HOSTILE, now=BEFORE_WAVE_2)
    finally:
        store.dispose()
    with running_app(db_url, tmp_path / "streamlit.log", password=PASSWORD, ports=range(8641, 8650)) as url:
        yield url, db_url


def test_an_admin_reads_the_next_wave_and_creates_a_plan_in_a_real_browser(server):
    url, db_url = server
    with launched_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))  # an injected alert() would open one
        page.goto(url)
        page.get_by_label("Staff password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Action plans").click()
        page.get_by_role("heading", name="Where plans stand").wait_for(timeout=120_000)
        page.get_by_text("Recognition: units that planned improved").wait_for(timeout=120_000)
        assert page.get_by_text("this does not show that the plan caused it").count() >= 1
        page.get_by_label("Owner (e-mail)").first.fill("zoe@acme.example")
        page.get_by_role("button", name="Create plan").click()
        page.get_by_text("for unit acme created").wait_for(timeout=60_000)
        settled_and_clean(page, "action_plans.png", errors)
    store = open_store(db_url)
    try:
        assert [p.owner for p in ap.list_plans(store)][-1] == "zoe@acme.example"
    finally:
        store.dispose()
