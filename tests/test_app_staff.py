"""The staff area of app.py: sign-in, campaigns, invitations, responses, downloads (AppTest)."""

from __future__ import annotations

import pytest
from app_support import ALL_TYPES, app, goto, seed_campaign, texts

from surveys.instrument import InstrumentError
from surveys.loader import parse_instrument

PASSWORD = "correct horse battery"


@pytest.fixture
def db_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'staff.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.setenv("TANDEM_ADMIN_PASSWORD", PASSWORD)
    return url


def signed_in(**query):
    at = app(**query)
    at.text_input(key="staff:password").input(PASSWORD)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_no_sign_in_configured_keeps_the_staff_area_closed(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("TANDEM_ADMIN_PASSWORD", raising=False)
    at = app()
    shown = texts(at)
    assert "no sign-in is configured" in shown and "TANDEM_ADMIN_PASSWORD" in shown
    assert not at.text_input and "Campaigns" not in [t.value for t in at.title]


def test_wrong_password_is_refused(db_url):
    at = app()
    assert at.text_input(key="staff:password").label == "Staff password"
    at.text_input(key="staff:password").input("correct horse")
    at.button[0].click().run()
    assert "That password is not right." in texts(at)
    assert [t.value for t in at.title] == ["Tandem staff area"]
    goto(at, "campaigns")  # the page is not registered for this session: sign-in again
    assert [t.value for t in at.title] == ["Tandem staff area"]


def test_right_password_opens_the_staff_area(db_url):
    at = signed_in()
    assert [t.value for t in at.title] == ["Campaigns"]
    assert "No campaigns yet" in texts(at)


def test_a_respondent_link_never_shows_staff_content_even_after_sign_in(db_url):
    seed_campaign(db_url, ALL_TYPES, campaign_id="allt")
    at = signed_in()
    at.query_params["c"] = "allt"
    at.run()
    shown = texts(at)
    assert "Campaigns" not in shown and "Responses" not in shown and "Sign out" not in shown
    assert "This survey is by invitation only" in shown
    goto(at, "responses")  # not registered in a respondent session: falls back to the survey
    assert "Response rates" not in texts(at)


def test_create_open_invite_and_see_rates_and_downloads(db_url):
    at = signed_in()
    at.selectbox(key="staff:shipped").set_value(next(o for o in at.selectbox(key="staff:shipped").options
                                                      if "employee" in o))
    at.run()
    at.text_input[0].input("ee-test")  # campaign id of the new-campaign form
    next(b for b in at.button if b.label == "Create campaign").click().run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["campaign"]) == ["ee-test"] and table["state"].iloc[0] == "draft"
    at.button(key="staff:open").click().run()
    assert at.dataframe[0].value["state"].iloc[0] == "open"
    assert at.dataframe[0].value["responses"].iloc[0] == "fewer than 5"  # no total below k either
    next(b for b in at.button if b.label == "Generate links").click().run()
    assert "10 invitation links" in texts(at)
    assert at.get("download_button")[0].proto.label == "Download links (CSV for mail merge)"

    goto(at, "responses")
    assert not at.exception, [e.message for e in at.exception]
    rates = at.dataframe[0].value
    assert set(rates["responses"]) == {"fewer than 5 respondents"}  # no unit shows a count below k
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[:4] == ["CSV", "Excel", "SPSS .sav", "Data dictionary (CSV)"]  # the safe export
    assert labels[4:] == ["Raw CSV", "Raw Excel", "Raw SPSS .sav"]  # an admin also has the raw file
    assert "Raw file (admins only, recorded)" in texts(at)


def test_campaign_pages_reject_broken_instruments_with_line_numbers():
    from views.staff_campaigns import problems_frame

    broken = ALL_TYPES.read_text().replace("type: likert", "type: likret", 1)
    with pytest.raises(InstrumentError) as caught:
        parse_instrument(broken, source="upload.yaml")
    frame = problems_frame(caught.value)
    assert list(frame.columns[:2]) == ["line", "column"]
    assert (frame["line"] > 0).all() and frame["problem"].str.len().gt(0).all()
    assert "likret" in " ".join(frame["problem"]) + " ".join(frame["fix"])


def test_sign_out_closes_the_area(db_url):
    at = signed_in()
    goto(at, "sign-out")
    assert [t.value for t in at.title] == ["Tandem staff area"]
    assert at.text_input(key="staff:password")


def test_oidc_in_secrets_offers_single_sign_on_instead_of_the_password(db_url):
    from app_support import ROOT
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "tandem", "client_secret": "s", "server_metadata_url": "https://id.example.org/.well-known/openid-configuration",
    }
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert [b.label for b in at.button] == ["Sign in with your organisation's account"]
    assert not at.text_input  # no password field although TANDEM_ADMIN_PASSWORD is set: OIDC wins


def test_repeated_wrong_passwords_are_slowed_down(db_url):
    """Three wrong passwords pass (the documented number); the fourth attempt waits, even with the right one."""
    at = app()
    for _ in range(3):
        at.text_input(key="staff:password").input("guess")
        at.button[0].click().run()
        assert "That password is not right." in texts(at)
    at.text_input(key="staff:password").input(PASSWORD)
    at.button[0].click().run()
    assert "Too many wrong passwords" in texts(at)
    assert [t.value for t in at.title] == ["Tandem staff area"]
    fresh = app()  # a new session (or a cleared cache, or another process) finds the same count in the database
    fresh.text_input(key="staff:password").input(PASSWORD)
    fresh.button[0].click().run()
    assert "Too many wrong passwords" in texts(fresh)
