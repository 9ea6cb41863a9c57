"""A store manager and leadership sign in with OIDC in a real browser (issue 15).

Debian's Chromium, driven by Playwright, signs in to ``streamlit run app.py`` through
``st.login`` against a mock OpenID provider (``oidc_provider_mock``, in a thread of the test
process, any client id accepted, the ``sub`` typed on its form becomes the ``email`` claim).
The organisation is the action-plan tests' (``tests/test_action_plans.ORG``):
``sm@acme.example`` manages store ``d2_s3`` of district ``d2``. Plans already exist for a
sibling store (``d2_s4``) and a store of another district (``d1_s1``).

1. The store manager signs in, opens *Action plans*, sees none of the other plans, is
   offered only their own store (for a new plan and in the roll-up's node picker), and no
   other unit's name shows anywhere on the page (the district and the company included);
   creates a plan for ``d2_s3``; opens the *Overview* of the survey's two waves and sees their
   store's results with their district's overall numbers as the comparison (and still no
   other store's id); signs out: Streamlit's logout route deletes the identity cookie and
   passes through the provider's end-session form back to the sign-in page.
2. An admin (``TANDEM_ADMIN_EMAILS``) signs in with the same provider and sees the
   manager's plan in the roll-up, next to the others.

Fails on any browser console error on the app's pages or any Streamlit exception box. Skips when
``/usr/bin/chromium`` is missing, unless ``TANDEM_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import re
import time

import pytest
from browser_support import ROOT, launched_chromium, need_browser, running_app
from test_action_plans import ORG, SURVEY, WAVES
from test_app_action_plans import seed

from surveys import action_plans as ap
from surveys.store import open_store

pytestmark = [
    pytest.mark.browser,
    # the mock provider (0.3.4) still calls Authlib's older server APIs; those deprecations are not the app's
    pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning"),
]

ARTIFACTS = ROOT / "test-artifacts"
MANAGER, BOSS = "sm@acme.example", "boss@acme.example"
MANAGED, SIBLING, ELSEWHERE, DISTRICT = "d2_s3", "d2_s4", "d1_s1", "d2"
OTHER_OWNERS = {SIBLING: "sibling-owner@acme.example", ELSEWHERE: "elsewhere-owner@acme.example"}
WAIT = 60_000
#: Whether the page's first data grid (the roll-up by node) shows a cell with exactly this text (in the
#: table the grid keeps inside its canvas for accessibility).
FIRST_GRID_SHOWS = ("text => [...document.querySelectorAll(\"[data-testid='stDataFrame']\")].slice(0, 1)"
                    ".flatMap(f => [...f.querySelectorAll('canvas table[role=grid] td')]).some(td => td.textContent === text)")


@pytest.fixture
def server(tmp_path, monkeypatch):
    """The mock provider and the app (OIDC sign-in) over the seeded store; yields (url, db_url)."""
    need_browser()
    from oidc_provider_mock import run_server_in_thread  # (its two import-time AuthlibDeprecationWarnings show:
    # Authlib sets an "always" filter for its own category, ahead of pytest's)

    assert ORG.units_managed_by(MANAGER) == (MANAGED,) and ORG.parent(SIBLING) == ORG.parent(MANAGED)
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # the provider serves plain http on 127.0.0.1
    db_url = f"sqlite:///{tmp_path / 'manager.db'}"
    seed(db_url)
    store = open_store(db_url)
    try:
        for unit, owner in OTHER_OWNERS.items():
            ap.create_plan(store, unit=unit, instrument_id=SURVEY.id, driver="recognition", offered=["recognition"],
                           driver_unit=unit, owner=owner, actor=BOSS, role="admin")
    finally:
        store.dispose()
    with run_server_in_thread() as provider:
        issuer = f"http://127.0.0.1:{provider.server_port}"
        auth = {"client_id": "tandem", "client_secret": "tandem-secret",
                "server_metadata_url": f"{issuer}/.well-known/openid-configuration"}
        with running_app(db_url, tmp_path / "streamlit.log", password=None, ports=range(8651, 8660), auth=auth,
                         extra_env={"TANDEM_ADMIN_EMAILS": BOSS}) as url:
            yield url, db_url


def sign_in(page, url: str, email: str) -> None:
    """Sign in through the provider's form as ``email`` and wait for the staff area."""
    page.goto(url)
    page.get_by_role("button", name="Sign in with your organisation's account").click()
    page.get_by_placeholder("sub").fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.get_by_role("link", name="Action plans").click()
    page.get_by_role("heading", name="Where plans stand").wait_for(timeout=WAIT)


def options_of(page, label: str) -> list[str]:
    """The options a selectbox offers (opens its list, reads it, closes it)."""
    page.get_by_label(label).first.click()
    listbox = page.get_by_role("listbox")
    listbox.wait_for(timeout=WAIT)
    shown = [o.strip() for o in listbox.get_by_role("option").all_inner_texts()]
    page.keyboard.press("Escape")
    listbox.wait_for(state="hidden", timeout=WAIT)
    return shown


def choose(page, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label``."""
    page.get_by_label(label).first.click()
    page.get_by_role("option", name=option, exact=True).click()


def grids(page) -> list[list[dict[str, str]]]:
    """The rows of every dataframe on the page, from the table each data grid keeps inside its canvas for
    accessibility (the cells in view: the tables read here are small)."""
    frames = page.locator("[data-testid='stDataFrame']")
    tables = []
    for frame in frames.all():
        frame.scroll_into_view_if_needed()
        header, *rows = frame.evaluate(
            "el => [...el.querySelectorAll('canvas table[role=grid] tr')].map(r => [...r.children].map(c => c.textContent))"
        ) or [[]]
        tables.append([dict(zip(header, row)) for row in rows])
    return tables


def grid_with(page, *columns: str) -> list[dict[str, str]]:
    """The rows of the one dataframe on the page with these columns, once a grid shows it (within ``WAIT``)."""
    deadline = time.monotonic() + WAIT / 1000
    while True:
        found = [rows for rows in grids(page) if rows and set(columns) <= set(rows[0])]
        if found or time.monotonic() > deadline:
            break
        page.wait_for_timeout(100)  # the grid fills its accessible table a moment after it is drawn
    (table,) = found
    return table


def no_failures(page, errors: list[str]) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, page.locator("[data-testid='stException']").all_inner_texts()
    assert not errors, errors


def test_a_store_manager_plans_for_their_store_only_and_leadership_sees_it_in_the_rollup(server):
    url, db_url = server
    others = [u for u in ORG.units if u != MANAGED]
    with launched_chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 1400})
        page = context.new_page()
        errors: list[str] = []

        def on_app() -> bool:  # the provider's own pages load a stylesheet from a CDN: not the app's errors
            return page.url.startswith(url)

        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and on_app() else None)
        page.on("pageerror", lambda error: errors.append(str(error)) if on_app() else None)
        page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))

        # the store manager: only their own store, and none of the other plans
        sign_in(page, url, MANAGER)
        page.get_by_text("No action plans yet.").wait_for(timeout=WAIT)
        page.get_by_role("button", name="Create plan").wait_for(timeout=WAIT)
        assert options_of(page, "Unit") == [MANAGED]
        page.get_by_label("Owner (e-mail)").fill(MANAGER)
        page.get_by_role("button", name="Create plan").click()
        page.get_by_text(f"for unit {MANAGED} created").wait_for(timeout=WAIT)
        assert options_of(page, "Organisation unit (with the units below it)") == [MANAGED]
        mine = grid_with(page, "plan", "unit", "owner")
        assert [(row["unit"], row["owner"]) for row in mine] == [(MANAGED, MANAGER)]
        text = page.locator("body").inner_text() + "\n".join(str(rows) for rows in grids(page))
        leaked = [u for u in others if re.search(rf"(?<![\w@.]){re.escape(u)}\b", text)]  # no sibling, district, company
        assert not leaked and not [o for o in OTHER_OWNERS.values() if o in page.content()], leaked
        assert page.get_by_role("heading", name="In the next wave").count() == 0
        no_failures(page, errors)

        # their store's results on the Overview, beside their district's overall numbers (its other
        # stores pooled, never one sibling's): no other store's id anywhere
        page.get_by_role("link", name="Overview").click()
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_test_id("stRadio").get_by_text("Campaigns", exact=True).click()
        for wave in WAVES:
            sidebar.get_by_label(re.compile(r"^Campaigns \(waves")).click()
            page.get_by_role("option", name=f"plan-{wave}", exact=True).click()
            page.keyboard.press("Escape")
        page.get_by_text(f"Compared with District {DISTRICT} (district), your district:").wait_for(timeout=WAIT)
        text = page.locator("body").inner_text() + "\n".join(str(rows) for rows in grids(page))
        leaked = [u for u in others if u != DISTRICT and re.search(rf"(?<![\w@.]){re.escape(u)}\b", text)]
        assert not leaked, leaked
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "manager_overview.png"), full_page=True)
        no_failures(page, errors)

        # sign out, through the provider's end-session form, back to the sign-in page
        page.get_by_role("link", name="Sign out").click()
        page.get_by_role("button", name="End session").click()
        page.get_by_role("button", name="Sign in with your organisation's account").wait_for(timeout=WAIT)

        # leadership: the manager's plan in the roll-up, with the others
        sign_in(page, url, BOSS)
        assert set(options_of(page, "Organisation unit (with the units below it)")) == set(ORG.subtree(ORG.root))
        page.get_by_role("heading", name="In the next wave").wait_for(timeout=WAIT)
        choose(page, "Organisation unit (with the units below it)", "d2")
        page.wait_for_function(FIRST_GRID_SHOWS, arg=MANAGED, timeout=WAIT)
        by_node = {row["node"]: row for row in grid_with(page, "node", "units_with_plans")}
        assert (by_node[MANAGED]["plans"], by_node[SIBLING]["plans"], by_node["d2"]["plans"]) == ("1", "1", "2")
        assert ELSEWHERE not in by_node
        plans = grid_with(page, "plan", "unit", "owner")  # every plan leadership may see, the manager's among them
        assert {(row["unit"], row["owner"]) for row in plans} == {(MANAGED, MANAGER), *OTHER_OWNERS.items()}
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "manager_rollup.png"), full_page=True)
        no_failures(page, errors)
        context.close()
    store = open_store(db_url)
    try:
        (mine,) = [p for p in ap.list_plans(store) if p.created_by == MANAGER]
        assert (mine.unit, mine.owner) == (MANAGED, MANAGER)
    finally:
        store.dispose()
