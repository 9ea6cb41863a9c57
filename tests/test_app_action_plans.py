"""The Action plans page of app.py (AppTest): roll-up, creating and changing plans, the next wave, who may edit."""

from __future__ import annotations

import datetime as dt

import pytest
from app_support import ROOT, texts
from streamlit.testing.v1 import AppTest
from test_action_plans import HOSTILE, ORG, PLANNED, SURVEY, WAVES, simulate

from surveys import action_plans as ap
from surveys import campaigns, org_store, responses
from surveys.store import open_store

#: When the plans of the next-wave checks were made: before the second wave's responses came
#: in (the seeded responses are stored when the test runs; only plans made before it count).
BEFORE_WAVE_2 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)

PASSWORD = "correct horse battery"
VIEWER_PASSWORD = "viewer horse battery"
PAGE = str(ROOT / "views" / "staff_action_plans.py")


def seed(url: str) -> None:
    """The organisation in force and two waves of the simulated survey (planned stores improve)."""
    store = open_store(url)
    try:
        org_store.import_organisation(store, ORG, as_of="2020-01-01")
        frame = simulate(seed=11, per_store=10)
        for wave in WAVES:
            campaigns.create_campaign(store, SURVEY, campaign_id=f"plan-{wave}", wave=wave)
            rows = frame[frame["wave"] == wave].drop(columns="wave")
            responses.import_frame(store, f"plan-{wave}", rows.astype({c: int for c in rows.columns if c != "unit"}))
    finally:
        store.dispose()


@pytest.fixture
def db_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.setenv("TANDEM_ADMIN_PASSWORD", PASSWORD)
    monkeypatch.setenv("TANDEM_VIEWER_PASSWORD", VIEWER_PASSWORD)
    seed(url)
    return url


def on_page(password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.text_input(key="staff:password").input(password)
    at.button[0].click().run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_an_admin_creates_a_plan_from_the_units_ranked_drivers_and_adds_an_action(db_url):
    at = on_page()
    assert [t.value for t in at.title][-1] == "Action plans"
    assert "No action plans yet." in texts(at)
    at.selectbox(key="plans:new_unit").set_value("d1_s1").run()
    assert "Drivers of Job satisfaction within unit d1_s1" in texts(at)
    assert at.selectbox(key="plans:driver").options == ["Recognition", "Communication"]
    at.text_input(key="plans:owner").input("ann@acme.example")
    at.text_area(key="plans:notes").input(HOSTILE)
    button(at, "Create plan").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    store = open_store(db_url)
    try:
        (plan,) = ap.list_plans(store)
        assert (plan.unit, plan.driver, plan.created_by) == ("d1_s1", "recognition", "password:admin")
        assert "<script>alert(1)</script>" in plan.notes and "\u202e" not in plan.notes
    finally:
        store.dispose()
    at.run()
    at.text_input(key="plans:action_title").input("Weekly thank-you round")
    button(at, "Add action").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = [frame.value for frame in at.dataframe]
    assert any("Weekly thank-you round" in set(f.get("title", [])) for f in shown)
    # the hostile notes are a table cell, never markup on the page
    assert all("<script>" not in m.value for m in at.markdown)


def test_a_bad_owner_is_refused_with_its_fix_and_nothing_is_stored(db_url):
    at = on_page()
    at.text_input(key="plans:owner").input("not an address")
    button(at, "Create plan").click().run()
    assert not at.exception
    assert any("owner: 'not an address' is not an e-mail address" in e.value and "Fix:" in e.value for e in at.error)
    store = open_store(db_url)
    try:
        assert ap.list_plans(store) == []
    finally:
        store.dispose()


def test_the_next_wave_compares_planned_units_and_says_it_is_not_causal(db_url):
    store = open_store(db_url)
    try:
        for unit in PLANNED:
            ap.create_plan(store, unit=unit, instrument_id=SURVEY.id, driver="recognition", offered=["recognition"],
                           driver_unit=unit, owner="ann@acme.example", actor="admin@acme.example", role="admin",
                           now=BEFORE_WAVE_2)
    finally:
        store.dispose()
    at = on_page()
    sentences = [i.value for i in at.info if i.value.startswith("Recognition: units that planned")]
    assert len(sentences) == 1 and "does not show that the plan caused it" in sentences[0]
    assert "units without a plan" in sentences[0]
    rollup = at.dataframe[0].value.set_index("node")
    assert rollup.loc["acme", "plans"] == 6 and rollup.loc["d1", "plans"] == 2


def test_a_viewer_sees_the_rollup_but_cannot_edit(db_url):
    store = open_store(db_url)
    try:
        ap.create_plan(store, unit="d1_s1", instrument_id=SURVEY.id, driver="recognition", offered=["recognition"],
                       driver_unit="d1_s1", owner="ann@acme.example", actor="admin@acme.example", role="admin")
    finally:
        store.dispose()
    at = on_page(VIEWER_PASSWORD)
    shown = texts(at)
    assert "Where plans stand" in shown and "New plan" not in shown and "Change a plan" not in shown
    assert not [b for b in at.button if b.label in ("Create plan", "Save plan", "Add action")]


OIDC = {"redirect_uri": "https://tandem.example.org/oauth2callback", "cookie_secret": "s3cret-cookie",
        "client_id": "tandem", "client_secret": "xyz",
        "server_metadata_url": "https://login.example.org/.well-known/openid-configuration"}


def test_a_district_manager_plans_for_their_district_only_and_sees_no_other_plan(db_url, monkeypatch):
    monkeypatch.setenv("TANDEM_ADMIN_EMAILS", "boss@acme.example")
    store = open_store(db_url)
    try:
        ap.create_plan(store, unit="d2_s1", instrument_id=SURVEY.id, driver="recognition", offered=["recognition"],
                       driver_unit="d2_s1", owner="other@acme.example", actor="boss@acme.example", role="admin")
    finally:
        store.dispose()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": True, "email": "dm@acme.example", "name": "dm"}
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    assert "No action plans yet." in texts(at) and "other@acme.example" not in texts(at)  # d2's plan is not theirs
    assert at.selectbox(key="plans:new_unit").options == list(ORG.subtree("d1"))
    at.selectbox(key="plans:new_unit").set_value("d1_s2").run()
    at.text_input(key="plans:owner").input("dm@acme.example")
    button(at, "Create plan").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "In the next wave" not in texts(at)  # leadership compares units; a manager sees their own plans
    store = open_store(db_url)
    try:
        mine = [p for p in ap.list_plans(store) if p.created_by == "dm@acme.example"]
        assert [(p.unit, p.driver_unit) for p in mine] == [("d1_s2", "d1_s2")]
    finally:
        store.dispose()
