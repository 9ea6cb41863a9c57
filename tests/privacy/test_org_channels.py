"""Organisation nodes through the command line: ``tandem analyze ... --node`` and
``--by-children``, and ``tandem report --node``, on a store whose campaign's units belong to
the organisation (``privacy.attacks.ORG``: store_03 has k - 1 respondents and is pooled with
its smallest sibling store_02)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from privacy.attacks import ORG_CAMPAIGN as CAMPAIGN
from privacy.attacks import ORG_SIZES as SIZES
from privacy.attacks import seed_org_campaign
from tandem_cli.main import app

runner = CliRunner()
D1 = ("store_01", "store_02", "store_03", "store_04")


@pytest.fixture(scope="module")
def org_store(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('org-cli') / 'org.db'}"
    seed_org_campaign(url)
    return url


def run(url, monkeypatch, *args):
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    return runner.invoke(app, list(args))


def test_a_district_node_is_its_subtree(org_store, monkeypatch):
    result = run(org_store, monkeypatch, "analyze", "reliability", "--campaign", CAMPAIGN, "--node", "d1", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["n"] == sum(SIZES[s] for s in D1)
    assert document["source"] == f"campaign {CAMPAIGN}, unit d1 and the units below it"


def test_a_store_pooled_to_protect_its_small_sibling_shows_nothing(org_store, monkeypatch):
    for store in ("store_02", "store_03"):
        result = run(org_store, monkeypatch, "analyze", "reliability", "--campaign", CAMPAIGN, "--node", store)
        assert result.exit_code == 1 and "Nothing is shown" in result.output, (store, result.output)
    shown = run(org_store, monkeypatch, "analyze", "reliability", "--campaign", CAMPAIGN, "--node", "store_04",
                "--json")
    assert json.loads(shown.stdout)["n"] == SIZES["store_04"]


def test_aggregate_by_children_uses_only_the_children_the_policy_shows(org_store, monkeypatch):
    result = run(org_store, monkeypatch, "analyze", "aggregate", "--campaign", CAMPAIGN, "--node", "d1",
                 "--by-children", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["unit"] == "org:store"
    # store_02 and store_03 share a block: only store_01 and store_04 are units of the aggregation
    assert {row["n_units"] for row in document["constructs"]} == {2}
    assert {row["n"] for row in document["constructs"]} <= {SIZES["store_01"] + SIZES["store_04"]}
    company = json.loads(run(org_store, monkeypatch, "analyze", "aggregate", "--campaign", CAMPAIGN, "--node", "acme",
                             "--by-children", "--json").stdout)
    assert company["unit"] == "org:district" and {row["n_units"] for row in company["constructs"]} == {2}


def test_node_errors_say_what_and_how(org_store, monkeypatch, tmp_path):
    unknown = run(org_store, monkeypatch, "analyze", "reliability", "--campaign", CAMPAIGN, "--node", "store_07")
    assert unknown.exit_code == 1 and "no unit 'store_07'" in unknown.output and "Did you mean" in unknown.output
    leaf = run(org_store, monkeypatch, "analyze", "aggregate", "--campaign", CAMPAIGN, "--node", "store_01",
               "--by-children")
    assert leaf.exit_code == 1 and "no units below this node" in leaf.output
    data = run(org_store, monkeypatch, "analyze", "reliability", "--data", str(tmp_path / "x.csv"),
               "--instrument", "employee_experience", "--node", "d1")
    assert data.exit_code == 1 and "--node goes with --campaign" in data.output


def test_the_report_of_a_node(org_store, monkeypatch, tmp_path):
    """The report of district d2 describes its stores and nothing of d1 (one survey: the campaign
    is given as both options, which reads it once)."""
    out = tmp_path / "d2.html"
    result = run(org_store, monkeypatch, "report", "--campaign-employee", CAMPAIGN, "--campaign-customer", CAMPAIGN,
                 "--node", "d2", "--out", str(out), "--bootstrap", "0")
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "store_05" in html and "store_06" in html
    assert not any(store in html for store in D1)
