"""The attacks through every output channel: the pages (AppTest), the CLI's ``--json``, the
HTML report, and the exports, on a campaign in a real store.

The organisation is the issue's: north 6 (one short-tenured detractor), south 2, east 13,
west 15. South is below k = 5, and north is pooled with it (complementary suppression),
so neither unit, nor any demographic cut of them, may appear in any channel.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from privacy.attacks import (
    ORG,
    north_and_south,
)
from services import exports as safe
from services.insight import collect_insight
from services.selection import select
from services.sources import campaign_dataset
from surveys import audit, campaigns, responses
from surveys.auth import Role
from surveys.loader import load_instrument
from surveys.store import open_store

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = "org-2026"
SECRET = "THE SHORT-TENURED PERSON'S COMMENT"


@pytest.fixture
def store_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'privacy.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    store = open_store(url)
    campaigns.create_campaign(store, load_instrument(ORG), campaign_id=CAMPAIGN, wave="1")
    responses.import_frame(store, CAMPAIGN, north_and_south().drop(columns=["response_id"]))
    store.dispose()
    return url


def overview(*, units=(), tenure=()) -> AppTest:
    at = AppTest.from_file(str(ROOT / "views" / "insight_overview.py"), default_timeout=120).run()
    at.sidebar.radio(key="insight:source").set_value("Campaigns").run()
    at.sidebar.multiselect(key="insight:campaigns").set_value([CAMPAIGN]).run()
    if units:
        at.multiselect(key="insight:units").set_value(list(units))
    if tenure:
        at.multiselect(key="insight:where:employee:tenure").set_value(list(tenure))
    return at.run()


def test_overview_page_never_shows_the_small_units_or_their_cuts(store_url):
    for units, tenure in ((["north"], []), (["north"], ["long"]), (["south"], []), (["north", "south"], ["long"])):
        at = overview(units=units, tenure=tenure)
        assert not at.exception, [e.value for e in at.exception]
        metrics = {m.label: m.value for m in at.metric}
        assert "eNPS" not in metrics and "Responses" not in metrics, (units, tenure, metrics)
        assert any("Nothing is shown for these filters" in w.value for w in at.warning)
    # together north and south are one whole block of 8 (the total minus east and west anyway)
    assert {m.label: m.value for m in overview(units=["north", "south"]).metric}["Responses"] == "8"
    at = overview()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Responses"] == "36"
    (table,) = [d.value for d in at.dataframe if "label" in d.value.columns]
    shown = table.set_index("unit")["responses"]
    assert shown["south"] == "fewer than 5 respondents" and shown["north"] == "hidden (protects a smaller group)"
    assert shown["east"] == "13" and shown["west"] == "15"


def test_overview_with_long_tenure_leaves_the_pooled_units_out(store_url):
    """Company-wide long tenure: north's and south's long-tenured people are in blocks mixed
    with others, so the row describes east and west only, and says so."""
    at = overview(tenure=["long"])
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Responses"] == "15"  # east 7 + west 8
    assert any("are left out" in c.value for c in at.caption)


def test_comments_page_shows_no_comment_of_a_small_group(store_url):
    at = AppTest.from_file(str(ROOT / "views" / "insight_comments.py"), default_timeout=120).run()
    at.sidebar.radio(key="insight:source").set_value("Campaigns").run()
    at.sidebar.multiselect(key="insight:campaigns").set_value([CAMPAIGN]).run()
    assert not at.exception
    table = at.dataframe[0].value
    # north + south (8) are below the comment threshold of 10: pooled with east, their comments
    # appear only as those of "other units" (21 people), never under their unit
    assert set(table.loc[table["comment"] == SECRET, "unit"]) == {"other units"}
    assert set(table["unit"]) == {"other units", "west"}
    at.multiselect(key="insight:units").set_value(["north"]).run()
    assert not at.dataframe and any("No comments can be shown" in w.value for w in at.warning)


def test_cli_json_numbers_are_the_disclosed_ones(store_url):
    from tandem_cli.main import app

    result = CliRunner().invoke(app, ["analyze", "reliability", "--campaign", CAMPAIGN, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    store = open_store(store_url)
    (view,) = select(campaign_dataset(store, [CAMPAIGN])).values()
    store.dispose()
    assert document["n"] == view.n == 36
    aggregate = CliRunner().invoke(app, ["analyze", "aggregate", "--campaign", CAMPAIGN, "--json"])
    assert aggregate.exit_code == 0 and "north" not in aggregate.output and "south" not in aggregate.output


def test_report_hides_the_small_units(store_url):
    from reports.html import render_report

    store = open_store(store_url)
    insight = collect_insight(campaign_dataset(store, [CAMPAIGN]), bootstrap=0)
    store.dispose()
    table = insight.responses["employee"].set_index("unit")
    assert table.loc[["north", "south"], "responses"].isna().all()
    html = render_report(insight)
    assert SECRET not in html
    enps = insight.metrics["employee"]["enps"].units.set_index("unit")
    assert enps.loc[["north", "south"], "value"].isna().all()


def test_safe_export_is_k_anonymous_and_drops_small_comments(store_url):
    store = open_store(store_url)
    data = pd.read_csv(io.BytesIO(safe.safe_export_bytes(store, CAMPAIGN, "csv")), encoding="utf-8-sig")
    store.dispose()
    assert "submitted_at" not in data and len(data) == 36
    assert not set(data["unit"]) & {"north", "south"} and "other units" in set(data["unit"])
    groups = data.fillna({"tenure": "?", "role": "?"}).groupby(["wave", "unit", "tenure", "role", "language"]).size()
    assert groups.min() >= 5, groups
    assert SECRET not in set(data["comment"].dropna())
    pooled = data[data["unit"] == "other units"]
    assert pooled["comment"].isna().all()  # 8 people: below the comment threshold of 10


def test_raw_export_is_for_admins_and_is_audited(store_url):
    from surveys.errors import TandemError

    store = open_store(store_url)
    with pytest.raises(TandemError, match="may not take the raw file"):
        safe.raw_export_bytes(store, CAMPAIGN, "csv", actor="ana@example.org", role=Role.ANALYST)
    raw = pd.read_csv(io.BytesIO(safe.raw_export_bytes(store, CAMPAIGN, "csv", actor="admin@example.org",
                                                       role=Role.ADMIN)), encoding="utf-8-sig")
    assert SECRET in set(raw["comment"]) and "south" in set(raw["unit"])
    log = audit.export_log(store, CAMPAIGN)
    store.dispose()
    assert log[["actor", "role", "campaign", "kind"]].values.tolist() == [
        ["admin@example.org", "admin", CAMPAIGN, "raw-csv"]]


def test_padding_an_open_employee_link_does_not_unlock_a_unit(tmp_path, monkeypatch):
    """An open-link employee campaign (allowed only with an explicit setting) whose unit has one
    real answer and four made-up ones: open-link answers do not count toward k, so nothing of
    the unit is shown while the setting is off."""
    url = f"sqlite:///{tmp_path / 'open.db'}"
    store = open_store(url)
    monkeypatch.setenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS", "1")
    campaigns.create_campaign(store, load_instrument(ORG), campaign_id="open-ee", mode="open")
    monkeypatch.delenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS")
    frame = north_and_south()
    frame = frame[frame["unit"] == "east"].head(5).drop(columns=["response_id"])  # 1 real + 4 padded
    responses.import_frame(store, "open-ee", frame)
    (view,) = select(campaign_dataset(store, ["open-ee"])).values()
    assert view.empty and not view.data.counted.any()
    store.dispose()


def test_open_links_are_refused_for_employee_surveys(tmp_path, monkeypatch):
    monkeypatch.delenv("TANDEM_ALLOW_OPEN_EMPLOYEE_LINKS", raising=False)
    store = open_store(f"sqlite:///{tmp_path / 'refused.db'}")
    with pytest.raises(campaigns.CampaignError, match="open link"):
        campaigns.create_campaign(store, load_instrument(ORG), campaign_id="nope", mode="open")
    store.dispose()


def _signed_in(password: str):
    from app_support import app

    at = app()
    at.text_input(key="staff:password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_roles_on_the_responses_page(store_url, monkeypatch):
    """An admin gets the safe and the raw downloads; an analyst only the safe ones; a viewer has no
    Responses page at all."""
    from app_support import goto

    monkeypatch.setenv("TANDEM_ADMIN_PASSWORD", "admin pass")
    monkeypatch.setenv("TANDEM_ANALYST_PASSWORD", "analyst pass")
    monkeypatch.setenv("TANDEM_VIEWER_PASSWORD", "viewer pass")
    labels = {}
    for role, password in (("admin", "admin pass"), ("analyst", "analyst pass"), ("viewer", "viewer pass")):
        at = goto(_signed_in(password), "responses")
        assert not at.exception, [e.value for e in at.exception]
        labels[role] = [b.proto.label for b in at.get("download_button")] if at.title[0].value == "Responses" else None
    assert labels["admin"] == ["CSV", "Excel", "SPSS .sav", "Data dictionary (CSV)", "Raw CSV", "Raw Excel",
                               "Raw SPSS .sav"]
    assert labels["analyst"] == ["CSV", "Excel", "SPSS .sav", "Data dictionary (CSV)"]
    assert labels["viewer"] is None  # the page is not registered for a viewer
