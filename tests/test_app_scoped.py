"""Scoped access for unit managers: a manager signs in with OIDC, is matched to the
organisation in force, and sees only their own subtree, under the same thresholds.

The organisation: company acme, districts d1 (store_01 12 respondents, store_02 8,
store_03 4 = k - 1, store_04 10) and d2 (store_05 11, store_06 9). sm1 manages store_01,
dm1 manages d1; boss is an admin. Every check runs through ``app.py`` (AppTest with a
fake OIDC account), and the state-tampering checks set the session's kept widget values
to a sibling's store and to the company, as a client could.
"""

from __future__ import annotations

import pytest
from app_support import ROOT, goto, texts
from privacy.attacks import ORG_CAMPAIGN as CAMPAIGN
from privacy.attacks import ORG_CSV as ORG
from privacy.attacks import ORG_SIZES as SIZES
from privacy.attacks import seed_org_campaign
from streamlit.testing.v1 import AppTest

from surveys import auth
from surveys.organisation import parse_organisation

OIDC = {
    "redirect_uri": "https://tandem.example.org/oauth2callback",
    "cookie_secret": "s3cret-cookie",
    "client_id": "tandem",
    "client_secret": "xyz",
    "server_metadata_url": "https://login.example.org/.well-known/openid-configuration",
}


@pytest.fixture
def org_store_url(tmp_path, monkeypatch):
    """A store with the organisation in force and one employee campaign over its stores."""
    url = f"sqlite:///{tmp_path / 'scoped.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.setenv("TANDEM_ADMIN_EMAILS", "boss@acme.example")
    monkeypatch.setenv("TANDEM_ANALYST_EMAILS", "analyst@acme.example")
    seed_org_campaign(url)
    return url


def signed_in(email: str) -> AppTest:
    """app.py with an OIDC account signed in, on the Overview, with the campaign chosen."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": True, "email": email, "name": email}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    goto(at, "overview")
    at.sidebar.radio(key="insight:source").set_value("Campaigns").run()
    at.sidebar.multiselect(key="insight:campaigns").set_value([CAMPAIGN]).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def responses_metric(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Responses")


def unit_table(at: AppTest):
    """The 'Responses by unit' table of the employee survey."""
    return next(d.value for d in at.dataframe if "unit" in d.value.columns and "responses" in d.value.columns)


def test_access_of_leadership_managers_and_others():
    org = parse_organisation(ORG)
    env = {"TANDEM_ADMIN_EMAILS": "boss@acme.example", "TANDEM_ANALYST_EMAILS": "dm1@acme.example",
           "TANDEM_VIEWER_EMAILS": "sm1@acme.example"}
    assert auth.access_for_email("boss@acme.example", org, env) == auth.Access(auth.Role.ADMIN)
    assert auth.access_for_email("DM1@acme.example", org, env) == auth.Access(auth.Role.ANALYST)  # leadership
    manager = auth.access_for_email("sm1@acme.example", org, env)  # on the viewer list, and a manager: scoped
    assert manager.role is auth.Role.VIEWER and manager.managed == ("store_01",)
    assert manager.scope == frozenset({"store_01"})
    ceo = auth.access_for_email("ceo@acme.example", org, env)
    assert ceo.scope == frozenset(org.units)  # the company's manager: the whole tree, still through the policy
    assert auth.access_for_email("stranger@acme.example", org, env) is None
    assert auth.access_for_email("sm1@acme.example", None, {"TANDEM_ADMIN_EMAILS": "boss@acme.example"}) is None
    assert auth.allowed(manager.role, "insight") and not auth.allowed(manager.role, "safe_export")


def test_a_store_manager_sees_their_store_and_no_sibling_nor_the_company(org_store_url):
    """Their own store, and their district only as one overall benchmark (see below)."""
    at = signed_in("sm1@acme.example")
    assert responses_metric(at) == "12"
    node = at.sidebar.selectbox(key="insight:node")
    assert node.options == ["\u00a0" * 4 + "Store 01 (store)"]  # the one unit they manage, nothing above or beside it
    table = unit_table(at)
    assert table["unit"].tolist() == ["store_01"]
    shown = texts(at) + "\n".join(d.value.to_csv() for d in at.dataframe)
    for other in ("store_02", "store_03", "store_04", "store_05", "ACME"):
        assert other not in shown, other
    assert str(sum(SIZES.values())) not in [m.value for m in at.metric]
    assert "the units you manage" in at.info[0].value


def test_a_store_manager_compares_with_their_district_and_never_with_a_lone_sibling(org_store_url):
    """The parent's overall numbers are a manager's benchmark only when the parent without the
    manager's units still holds k respondents from at least two other units: the company
    without district d1 is district d2 alone, and d2 without store_05 is store_06 alone."""
    from services.insight import parent_benchmark
    from services.sources import campaign_dataset
    from surveys.store import open_store

    store = open_store(org_store_url)
    dataset = campaign_dataset(store, [CAMPAIGN])
    store.dispose()
    district = parent_benchmark(dataset, "store_01")
    assert district.parent == "d1" and district.reasons == {"employee": ""}
    assert set(district.metrics["employee"]) == {"enps"}  # overall values only, no breakdown
    assert "one other unit only" in parent_benchmark(dataset, "store_05").reasons["employee"]
    assert "one other unit only" in parent_benchmark(dataset, "d1").reasons["employee"]
    assert parent_benchmark(dataset, "acme") is None

    at = signed_in("sm1@acme.example")
    (line,) = [m.value for m in at.markdown if "Compared with District One (district)" in m.value]
    assert f"eNPS {district.metrics['employee']['enps'].value:.1f}" in line
    at = signed_in("dm1@acme.example")  # the district manager: the company would show district d2
    assert not [m.value for m in at.markdown if "Compared with" in m.value]
    assert any("ACME is not shown: without your units it holds one other unit only" in c.value for c in at.caption)
    at = signed_in("boss@acme.example")  # leadership chooses any node; no benchmark line
    assert not [m.value for m in at.markdown if "Compared with" in m.value]


def test_a_district_manager_sees_the_district_and_its_stores_by_the_policy_not_the_company(org_store_url):
    at = signed_in("dm1@acme.example")
    assert responses_metric(at) == str(12 + 8 + 4 + 10)  # d1 is a union of whole blocks
    options = at.sidebar.selectbox(key="insight:node").options
    assert "District Two (district)" not in " ".join(options) and "ACME (company)" not in " ".join(options)
    table = unit_table(at).set_index("unit")
    assert sorted(table.index) == ["store_01", "store_02", "store_03", "store_04"]
    assert table.loc["store_01", "responses"] == "12" and table.loc["store_04", "responses"] == "10"
    assert table.loc["store_03", "responses"] == "fewer than 5 respondents"
    assert table.loc["store_02", "responses"] == "hidden (protects a smaller group)"
    breakdown = at.selectbox(key="overview:breakdown:employee")
    assert "Units directly below District One (store)" in breakdown.options
    breakdown.set_value("org:store").run()
    assert not at.exception, [e.message for e in at.exception]
    (chart,) = [c.proto.spec for c in at.get("plotly_chart") if "Units directly below District One" in c.proto.spec
                and "eNPS" in c.proto.spec]
    assert "store_01" in chart and "store_04" in chart and "store_05" not in chart
    assert "store_05" not in texts(at) and str(sum(SIZES.values())) not in [m.value for m in at.metric]


def test_tampered_widget_state_never_leaves_the_managers_subtree(org_store_url):
    at = signed_in("sm1@acme.example")
    for node, units in (("store_04", []), ("acme", []), ("d1", []), ("", ["store_04"]), ("", ["store_05"])):
        at.session_state["_kept:insight:node"] = node
        at.session_state["_kept:insight:units"] = units
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert responses_metric(at) == "12", (node, units)
        assert unit_table(at)["unit"].tolist() == ["store_01"], (node, units)


def test_leadership_sees_the_company_and_any_node(org_store_url):
    at = signed_in("boss@acme.example")
    assert responses_metric(at) == str(sum(SIZES.values()))
    at.sidebar.selectbox(key="insight:node").set_value("d2").run()
    assert responses_metric(at) == "20" and sorted(unit_table(at)["unit"]) == ["store_05", "store_06"]


def test_a_selection_built_by_hand_cannot_widen_a_scope(org_store_url):
    """The services refuse what the widgets never offer (the report is built from the same selection)."""
    from services.insight import collect_insight
    from services.selection import ScopeError, Selection
    from services.sources import campaign_dataset
    from surveys.store import open_store

    store = open_store(org_store_url)
    try:
        dataset = campaign_dataset(store, [CAMPAIGN])
    finally:
        store.dispose()
    scope = frozenset({"store_01"})
    for tampered in (Selection.of(node="acme", scope=scope), Selection.of(units=["store_04"], scope=scope)):
        with pytest.raises(ScopeError):
            collect_insight(dataset, tampered, bootstrap=0)
    report = collect_insight(dataset, Selection.of(scope=scope), bootstrap=0)
    assert report.views["employee"].n == 12
    assert report.responses["employee"]["unit"].tolist() == ["store_01"]
